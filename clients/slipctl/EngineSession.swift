import Foundation
import JSONRPC
import SlipwayProtocol

/// A session with the engine: a `slipway` process (beside slipctl, else on PATH) spawned with
/// the state directory, spoken to in newline-delimited JSON-RPC. Calls are synchronous and typed
/// by the protocol's method types; log lines of followed builds go to `onLog` as they arrive.
///
/// `@unchecked Sendable`: `pending` and `onLog` are touched under `lock` only; the
/// pipes are written by the calling thread and read by the one reader thread.
final class EngineSession: @unchecked Sendable {
    struct Failure: Error { let message: String; let code: Int }

    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private let lock = NSLock()
    private var pending: [Int: (JSONValue) -> Void] = [:]
    /// Set once slipway's output ended: a request after that is answered at once, not waited for.
    private var ended = false
    private var nextID = 1
    private var logHandler: ((BuildLogLine) -> Void)?
    /// Receives the `build/log` lines the engine sends.
    var onLog: ((BuildLogLine) -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return logHandler }
        set { lock.lock(); logHandler = newValue; lock.unlock() }
    }

    /// `quiet`: slipway's own messages (an engine starting, a failure) are not shown; completion
    /// asks the engine for names without writing on the user's terminal.
    init(stateDirectory: String?, quiet: Bool = false) throws {
        let path = try Self.locateSlipway()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = stateDirectory.map { ["--state-dir", $0] } ?? []
        process.standardInput = input
        process.standardOutput = output
        if quiet { process.standardError = FileHandle.nullDevice }
        do {
            try process.run()
        } catch {
            throw Failure(message: "cannot start slipway at \(path): \(error.localizedDescription); reinstall it with make install PREFIX=<dir>",
                          code: Self.unavailableCode)
        }
        let handle = output.fileHandleForReading
        Thread { [weak self] in
            var buffer = [UInt8]()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer += data
                while let nl = buffer.firstIndex(of: 10) {
                    let line = Array(buffer[..<nl])
                    buffer.removeSubrange(...nl)
                    guard let message = try? JSONParser.parse(line) else { continue }  // a line that is not JSON is not ours to answer
                    self?.dispatch(message)
                }
            }
            self?.closeAll()
        }.start()
    }

    /// slipctl's own file with every symlink resolved (`kp` linked to it, or slipctl found on
    /// PATH, is still the installed file), from /proc/self/exe; without /proc, argv[0] resolved.
    static func executablePath() -> String {
        if let resolved = realpath("/proc/self/exe", nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        let invoked = CommandLine.arguments[0]
        let found = invoked.contains("/") ? invoked : (which(invoked) ?? invoked)
        return URL(fileURLWithPath: found).resolvingSymlinksInPath().path
    }

    /// `slipway` beside slipctl's resolved path (where `make install` puts both), else on PATH.
    static func locateSlipway() throws -> String {
        let own = executablePath()
        let beside = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent("slipway").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        if let onPath = which("slipway") { return onPath }
        throw Failure(message: "slipway not found beside \(own) or on PATH; install it with make install PREFIX=<dir> (in the Slipway checkout) and put <dir>/bin on PATH",
                      code: unavailableCode)
    }

    /// The first executable `name` in a directory of PATH.
    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    private func dispatch(_ message: JSONValue) {
        if let method = message["method"]?.stringValue {
            // Only log lines are shown; a line that does not decode is not the protocol's and is skipped.
            guard method == BuildLogNotification.method, let handler = onLog,
                  let line = try? JSONValueDecoder().decode(BuildLogNotification.Params.self, from: message["params"] ?? .null) else { return }
            handler(line)
            return
        }
        guard case .int(let id)? = message["id"] else { return }
        lock.lock(); let reply = pending.removeValue(forKey: Int(id)); lock.unlock()
        reply?(message)
    }

    private func closeAll() {
        lock.lock(); let all = pending; pending = [:]; ended = true; lock.unlock()
        for (_, reply) in all { reply(Self.exited) }
    }

    /// Sends a request of method `M` and waits for its result.
    func call<M: RPCMethod>(_: M.Type, _ params: M.Params) throws -> M.Result {
        let raw = try call(M.method, try JSONValueEncoder().encode(params))
        do {
            return try JSONValueDecoder().decode(M.Result.self, from: raw)
        } catch {
            throw Failure(message: "the engine's answer to \(M.method) is not the protocol's \(M.Result.self): \(error)", code: Self.internalErrorCode)
        }
    }

    /// Sends a request and waits for its raw result.
    private func call(_ method: String, _ params: JSONValue) throws -> JSONValue {
        let done = DispatchSemaphore(value: 0)
        var answer: JSONValue = .null
        lock.lock()
        let id = nextID
        nextID += 1
        if ended {
            answer = Self.exited
            done.signal()
        } else {
            pending[id] = { answer = $0; done.signal() }
        }
        lock.unlock()
        let request: JSONValue = ["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method), "params": params]
        do {
            try input.fileHandleForWriting.write(contentsOf: Data((JSONWriter.string(request) + "\n").utf8))
        } catch {
            // slipway is gone (EPIPE; SIGPIPE is ignored): the reader's end of output answers the
            // request, unless it came first; then it was answered above.
        }
        done.wait()
        if let error = answer["error"] {
            throw Failure(message: error["message"]?.stringValue ?? "error", code: Int(error["code"]?.int64Value ?? 0))
        }
        return answer["result"] ?? .null
    }

    /// Whether the named object exists: a `get` that answers NotFound says no; any other error
    /// is thrown (a save must not create what it could not look up).
    func exists<M: RPCMethod>(_ get: M.Type, _ params: M.Params) throws -> Bool {
        do {
            _ = try call(M.self, params)
            return true
        } catch let f as Failure where f.code == Self.notFoundCode {
            return false
        }
    }

    /// The answer to a request slipway can no longer answer.
    static let exited: JSONValue = ["error": ["code": -32099, "message": "slipway exited before it answered"]]

    /// The protocol's NotFound error code.
    static let notFoundCode = ErrorKind.NotFound.code
    /// The protocol's Unavailable error code: slipway is missing or cannot start.
    static let unavailableCode = ErrorKind.Unavailable.code
    /// JSON-RPC's internal error code: an answer slipctl cannot read.
    static let internalErrorCode = -32603

    func close() {
        try? input.fileHandleForWriting.close()  // slipway exits when its input ends; nothing is lost if it already did
        process.waitUntilExit()
    }
}
