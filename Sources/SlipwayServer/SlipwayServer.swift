import BuildRuntime
import Engine
import Foundation
import JSONRPC

/// Runs `slipway` in embedded mode: one engine on the state directory, one client on
/// stdin/stdout. Returns the process exit code.
public enum SlipwayServer {
    public static func main(arguments: [String], environment: [String: String]) async -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // Every child and every orphan of a build step is reaped here (no zombies, even as PID 1).
        ChildReaper.adoptOrphans()
        let options: ServerOptions
        switch ServerOptions.parse(arguments, environment: environment) {
        case .print(let text):
            print(text)
            return 0
        case .error(let message):
            FileHandle.standardError.write(Data("slipway: \(message)\n".utf8))
            return 2
        case .serve(let o):
            options = o
        }
        let engine: Engine
        do {
            var engineOptions = EngineOptions(launcherPath: launcherPath(environment), maxConcurrentBuilds: options.maxConcurrentBuilds,
                                              allowedSourceRoots: options.allowedSourceRoots,
                                              gitPollInterval: options.gitPollInterval > 0 ? options.gitPollInterval : nil)
            engineOptions.insecureRegistries = options.insecureRegistries
            engineOptions.maxSourceBytes = options.maxSourceBytes
            engineOptions.maxLogBytes = options.maxLogBytes
            engine = try Engine(stateDirectory: URL(fileURLWithPath: options.stateDirectory), options: engineOptions)
        } catch {
            FileHandle.standardError.write(Data("slipway: \(error)\n".utf8))
            return 1
        }
        let context = ServerContext(engine: engine, maxMessageSize: options.maxMessageSize)
        let registry = MethodTable.makeRegistry(context)
        let connection = Connection(outputFD: STDOUT_FILENO, registry: registry, maxMessageSize: options.maxMessageSize,
                                    errorMapper: ErrorMapping.map,
                                    traceRedactor: { _, params in TraceRedaction.redact(params, engine: engine) })
        let session = context.session(for: connection)
        let forwarder = Task { await context.forwardNotifications(of: session, to: connection) }
        for b in engine.interruptedBuilds {
            connection.logMessage("build \(b.number) of image \(b.namespace)/\(b.image) was interrupted when Slipway last stopped; it is marked FAILURE", type: 2)
        }
        do {
            try await engine.resume()
        } catch {
            FileHandle.standardError.write(Data("slipway: cannot start: \(error)\n".utf8))
            return 1
        }
        let end = await connection.run(inputFD: STDIN_FILENO)
        switch end {
        case .exit(let code):
            connection.flushOutput()
            return code
        case .endOfInput(let cutShort):
            if cutShort { FileHandle.standardError.write(Data("slipway: the last message was cut short (answered with a parse error, or with window/logMessage when it could not be read); exiting 1\n".utf8)) }
            // A shell pipeline gets complete results: builds it started run to the end.
            await engine.waitForIdle()
            await session.flush()
            await context.closeSession(for: connection)
            _ = await forwarder.value
            connection.flushOutput()
            return cutShort ? 1 : 0
        }
    }

    /// The launcher put into images: $SLIPWAY_LAUNCHER, else `slipway-launcher` beside this binary.
    static func launcherPath(_ env: [String: String]) -> String {
        if let p = env["SLIPWAY_LAUNCHER"], !p.isEmpty { return p }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("slipway-launcher").path
    }
}
