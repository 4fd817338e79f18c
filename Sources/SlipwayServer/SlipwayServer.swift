import SlipwayProtocol
import BuildRuntime
import Engine
import Foundation
import JSONRPC

/// The `slipway-engine` executable: the engine in this process serving stdin/stdout
/// (`--embedded`), the shared engine serving its socket (`engine`), or a client of the running
/// engine (`engine status|stop`). Returns the process exit code.
public enum SlipwayServer {
    public static func main(arguments: [String], environment: [String: String]) async -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // Run by a Dockerfile build inside its step namespace (never by a client).
        if arguments.first == CopySnapshot.workerFlag { return CopySnapshot.worker(Array(arguments.dropFirst())) }
        switch ServerOptions.parse(arguments, environment: environment) {
        case .print(let text):
            print(text)
            return 0
        case .error(let message):
            FileHandle.standardError.write(Data("slipway: \(message)\n".utf8))
            return 2
        case .run(.control(let command), let o):
            return EngineControl.run(command, options: o)
        case .run(.embedded, let o):
            // Every child and every orphan of a build step is reaped here (no zombies, even as PID 1).
            ChildReaper.adoptOrphans()
            guard let engine = makeEngine(o, environment) else { return 1 }
            return await serveStdio(engine, o)
        case .run(.engine, let o):
            ChildReaper.adoptOrphans()
            guard let engine = makeEngine(o, environment) else { return 1 }
            let real = engine.stateDirectory.path
            var options = o
            options.stateDirectory = real
            let server = EngineServer(engine: engine, options: options)
            do {
                try await engine.resume()
            } catch {
                EngineLog.write("cannot start: \(error)")
                return 1
            }
            return await server.run()
        }
    }

    /// The engine of the state directory, holding its lock; nil (the reason on stderr) when
    /// another process has it, it cannot be opened, or it is not a folder of this user's own.
    static func makeEngine(_ options: ServerOptions, _ environment: [String: String]) -> Engine? {
        let state: CheckedFolder?
        do {
            // The engine writes in its state directory by name: only in a folder of its user's own.
            state = try StateDirectoryGuard.stateDirectory(options.stateDirectory, create: true)
        } catch {
            FileHandle.standardError.write(Data("slipway: \(error)\n".utf8))
            return nil
        }
        var engineOptions = EngineOptions(launcherPath: launcherPath(environment), maxConcurrentBuilds: options.maxConcurrentBuilds,
                                          allowedSourceRoots: options.allowedSourceRoots,
                                          gitPollInterval: options.gitPollInterval > 0 ? options.gitPollInterval : nil)
        engineOptions.insecureRegistries = options.insecureRegistries
        engineOptions.addHostAllowList = options.addHostAllowList
        engineOptions.maxSourceBytes = options.maxSourceBytes
        engineOptions.maxLayerBytes = options.maxLayerBytes
        engineOptions.maxLogBytes = options.maxLogBytes
        engineOptions.eventTTL = options.eventTTL
        engineOptions.quota = options.quota
        engineOptions.layerCompression = options.layerCompression
        engineOptions.layerCompressionLevel = options.layerCompressionLevel
        engineOptions.registryCAFile = options.registryCAFile
        engineOptions.buildNetwork = options.buildNetwork
        engineOptions.workspace = options.workspace
        engineOptions.stepLimits = options.stepLimits
        engineOptions.launcherVersion = SlipwayVersion.current
        engineOptions.buildRunTTLSucceeded = options.buildRunTTLSucceeded
        engineOptions.buildRunTTLFailed = options.buildRunTTLFailed
        do {
            let engine = try Engine(stateDirectory: URL(fileURLWithPath: options.stateDirectory), options: engineOptions)
            if let state { takeOverLeftovers(state) }
            return engine
        } catch {
            FileHandle.standardError.write(Data("slipway: \(error)\n".utf8))
            return nil
        }
    }

    /// Kills what an engine of this state directory that was killed left running, and records
    /// this engine's children for the next one (`LeftoverProcesses`, in `run/processes`). Called
    /// holding the state directory's lock. Without that folder, nothing is recorded (the next
    /// engine then has only the cgroups and the helpers' own death signal to rely on).
    static func takeOverLeftovers(_ state: CheckedFolder) {
        do {
            guard let run = try StateDirectoryGuard.socketFolder(in: state, create: true) else { return }
            if mkdirat(run.fd, "processes", 0o700) != 0 && errno != EEXIST {
                throw FolderRefused(description: "cannot create \(run.path)/processes: \(String(cString: strerror(errno)))")
            }
            guard let folder = try StateDirectoryGuard.ownFolder("processes", in: run.fd, path: run.path + "/processes", isStateDirectory: false) else { return }
            // Held for the life of the process: every child is recorded there.
            let fd = fcntl(folder.fd, F_DUPFD_CLOEXEC, 0)
            guard fd >= 0 else { throw FolderRefused(description: "cannot hold \(folder.path) open: \(String(cString: strerror(errno)))") }
            for line in LeftoverProcesses.takeOver(directoryFD: fd) { EngineLog.write(line) }
        } catch {
            EngineLog.write("children of a killed engine are not looked for: \(error)")
        }
    }

    /// `--embedded`: one client on stdin/stdout, the engine in this process.
    static func serveStdio(_ engine: Engine, _ options: ServerOptions) async -> Int32 {
        let context = ServerContext(engine: engine, maxMessageSize: options.maxMessageSize)
        let registry = MethodTable.makeRegistry(context)
        let connection = Connection(outputFD: STDOUT_FILENO, registry: registry, maxMessageSize: options.maxMessageSize,
                                    errorMapper: ErrorMapping.map,
                                    traceRedactor: { _, params in TraceRedaction.redact(params, engine: engine) })
        let session = context.session(for: connection)
        let forwarder = Task { await context.forwardNotifications(of: session, to: connection) }
        for notice in interruptedNotices(engine) {
            connection.logMessage(notice, type: 2)
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
            // The process is about to end: every build runs to the end first, or it would be abandoned.
            await engine.waitForIdle()
            await session.flush()
            await context.closeSession(for: connection)
            _ = await forwarder.value
            connection.flushOutput()
            return cutShort ? 1 : 0
        }
    }

    /// What the first client of an engine is told about builds its start found interrupted.
    static func interruptedNotices(_ engine: Engine) -> [String] {
        engine.interruptedBuilds.map { "build \($0.number) of image \($0.namespace)/\($0.image) was interrupted when Slipway last stopped; it is marked FAILURE" }
    }

    /// The launcher put into images: $SLIPWAY_LAUNCHER, else `slipway-launcher` beside this binary.
    static func launcherPath(_ env: [String: String]) -> String {
        if let p = env["SLIPWAY_LAUNCHER"], !p.isEmpty { return p }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]  // no /proc: the path it was started by
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("slipway-launcher").path
    }
}
