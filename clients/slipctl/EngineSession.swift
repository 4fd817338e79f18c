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
    private var nextID = 1
    private var logHandler: ((BuildLogLine) -> Void)?
    /// Receives the `build/log` lines the engine sends.
    var onLog: ((BuildLogLine) -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return logHandler }
        set { lock.lock(); logHandler = newValue; lock.unlock() }
    }

    init(stateDirectory: String?) throws {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("slipway").path
        let path = FileManager.default.isExecutableFile(atPath: beside) ? beside : (Self.which("slipway") ?? "slipway")
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = stateDirectory.map { ["--state-dir", $0] } ?? []
        process.standardInput = input
        process.standardOutput = output
        try process.run()
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
        lock.lock(); let all = pending; pending = [:]; lock.unlock()
        for (_, reply) in all { reply(["error": ["code": -32099, "message": "slipway exited before it answered"]]) }
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
        pending[id] = { answer = $0; done.signal() }
        lock.unlock()
        let request: JSONValue = ["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method), "params": params]
        input.fileHandleForWriting.write(Data((JSONWriter.string(request) + "\n").utf8))
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

    /// The protocol's NotFound error code.
    static let notFoundCode = ErrorKind.NotFound.code
    /// JSON-RPC's internal error code: an answer slipctl cannot read.
    static let internalErrorCode = -32603

    func close() {
        try? input.fileHandleForWriting.close()  // slipway exits when its input ends; nothing is lost if it already did
        process.waitUntilExit()
    }
}
