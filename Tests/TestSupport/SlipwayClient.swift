import Foundation
import JSONRPC
import Synchronization

/// A `slipway` process driven over its stdin/stdout, newline-delimited JSON: a forwarder to the
/// shared engine of `stateDir` (started by the first client, stopped 60 s after the last one
/// leaves, or at once when the state directory is removed), or with `--embedded` the engine
/// itself.
public final class SlipwayClient: Sendable {
    public let process: Process
    public let stdin: FileHandle
    public let stateDir: String
    public let framing: Framing
    private let inbox = Inbox()
    private let nextID = Atomic<Int>(1)

    /// How messages are framed: one JSON text a line, or LSP's Content-Length headers (as an
    /// editor frames them).
    public enum Framing: Sendable { case ndjson, lsp }

    final class Inbox: Sendable {
        let state = Mutex<(buffer: [UInt8], messages: [JSONValue], stderr: String, stderrEnded: Bool)>(([], [], "", false))
    }

    /// `wrapper` runs slipway through another command (`unshare …`), which then execs or forks it.
    public init(stateDir: String, arguments: [String] = [], environment: [String: String] = [:], wrapper: [String] = [], framing: Framing = .ndjson) throws {
        self.stateDir = stateDir
        self.framing = framing
        let p = Process()
        // No test sends traffic off the machine: builds get no network unless a test asks.
        let network = arguments.contains("--build-network") ? [] : ["--build-network", "none"]
        let argv = wrapper + [Repo.slipway, "--state-dir", stateDir, "--idle-timeout", "60s"] + network + arguments
        p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
        p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        process = p
        stdin = inPipe.fileHandleForWriting
        let inbox = self.inbox
        let out = outPipe.fileHandleForReading
        Thread {
            while true {
                let d = out.availableData
                if d.isEmpty { break }
                inbox.state.withLock { s in
                    s.buffer.append(contentsOf: d)
                    while let message = Self.takeMessage(&s.buffer, framing) {
                        if let v = try? JSONParser.parse(message) { s.messages.append(v) }
                    }
                }
            }
        }.start()
        let err = errPipe.fileHandleForReading
        Thread {
            while true {
                let d = err.availableData
                if d.isEmpty {
                    inbox.state.withLock { $0.stderrEnded = true }
                    break
                }
                inbox.state.withLock { $0.stderr += String(decoding: d, as: UTF8.self) }
            }
        }.start()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// The next whole message at the front of `buffer`, removed from it.
    public static func takeMessage(_ buffer: inout [UInt8], _ framing: Framing) -> [UInt8]? {
        switch framing {
        case .ndjson:
            guard let nl = buffer.firstIndex(of: 0x0A) else { return nil }
            defer { buffer.removeSubrange(...nl) }
            return Array(buffer[..<nl])
        case .lsp:
            let separator: [UInt8] = [13, 10, 13, 10]
            guard let end = (0...max(0, buffer.count - 4)).first(where: { buffer.count >= 4 && Array(buffer[$0..<($0 + 4)]) == separator }) else { return nil }
            let header = String(decoding: buffer[..<end], as: UTF8.self)
            guard let lengthLine = header.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
                  let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)),
                  buffer.count >= end + 4 + length else { return nil }
            defer { buffer.removeSubrange(..<(end + 4 + length)) }
            return Array(buffer[(end + 4)..<(end + 4 + length)])
        }
    }

    public func send(_ text: String) {
        switch framing {
        case .ndjson: stdin.write(Data((text + "\n").utf8))
        case .lsp: stdin.write(Data("Content-Length: \(text.utf8.count)\r\n\r\n\(text)".utf8))
        }
    }

    public func send(_ value: JSONValue) { send(JSONWriter.string(value)) }

    public func closeInput() { try? stdin.close() }

    /// The process of the engine serving this client: the shared engine (its pid is in
    /// engine.lock), or with `--embedded` this client's own.
    public var enginePID: pid_t { SharedEngine.enginePID(stateDir) ?? process.processIdentifier }

    /// The peak resident set size of the engine so far, in bytes (VmHWM).
    public var peakRSS: Int {
        let status = (try? String(contentsOfFile: "/proc/\(enginePID)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Every message received so far.
    public var messages: [JSONValue] { inbox.state.withLock { $0.messages } }
    public var stderr: String { inbox.state.withLock { $0.stderr } }

    public func notifications(_ method: String) -> [JSONValue] {
        messages.filter { $0["method"] == .string(method) && $0["id"] == nil }.compactMap { $0["params"] }
    }

    /// Waits for a message matching `predicate`.
    public func waitFor(timeout: Double = 60, _ predicate: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let m = messages.first(where: predicate) { return m }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("timed out waiting for a message; stderr: \(stderr)")
    }

    /// Sends a request and returns its whole response (with `result` or `error`).
    public func request(_ method: String, _ params: JSONValue? = nil, timeout: Double = 120) async throws -> JSONValue {
        let id = Int64(nextID.add(1, ordering: .relaxed).oldValue)
        var o = JSONObject([("jsonrpc", "2.0"), ("id", .int(id)), ("method", .string(method))])
        if let params { o["params"] = params }
        send(.object(o))
        return try await waitFor(timeout: timeout) { $0["id"] == .int(id) && $0["method"] == nil }
    }

    /// Sends a request and returns its result, failing the test on an error response.
    public func call(_ method: String, _ params: JSONValue? = nil, timeout: Double = 120) async throws -> JSONValue {
        let r = try await request(method, params, timeout: timeout)
        if let e = r["error"] { throw TestFailure("\(method) failed: \(JSONWriter.string(e))") }
        return r["result"] ?? .null
    }

    /// Waits for the process to exit and returns its status.
    public func waitForExit(timeout: Double = 120) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { throw TestFailure("slipway did not exit") }
            try await Task.sleep(for: .milliseconds(10))
        }
        // What it wrote last may still be on its way from the pipe: wait for its end (bounded,
        // in case a child it left holds the pipe open).
        let readDeadline = Date().addingTimeInterval(5)
        while !inbox.state.withLock({ $0.stderrEnded }) && Date() < readDeadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    /// Waits for the notification that build `number` of `image` was queued.
    public func waitForQueued(_ image: String, _ number: Int, timeout: Double = 60) async throws {
        _ = try await waitFor(timeout: timeout) {
            $0["method"] == "build/statusChanged" && $0["params"]?["image"] == .string(image) && $0["params"]?["build"]?.int == number
                && $0["params"]?["status"] == "QUEUED"
        }
    }

    /// The lines of the log of build `build` of `image` (its latest build when nil).
    public func logLines(_ image: String, build: Int? = nil) async throws -> [String] {
        var params = JSONObject([("image", .string(image))])
        if let build { params["build"] = .int(Int64(build)) }
        return try await call("build/logs", .object(params))["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
    }

    // MARK: Fixtures

    /// Creates the host stack, a store with the project's buildpacks (plus `extra`), and the
    /// default ClusterBuilder with the given groups (default: build-script optional + procfile).
    public func setUpDefaultBuilder(extraBuildpacks: [String] = [], order: JSONValue? = nil) async throws {
        _ = try await call("clusterstack/create", ["name": "base", "buildImage": .string(HostStack.build), "runImage": .string(HostStack.run),
                                                   "id": "io.slipway.test"])
        var bps: [JSONValue] = [.string(Repo.buildpacks.appendingPathComponent("build-script").path),
                                .string(Repo.buildpacks.appendingPathComponent("procfile").path)]
        bps += extraBuildpacks.map { .string($0) }
        _ = try await call("clusterstore/create", ["name": "default", "buildpacks": .array(bps)])
        let defaultOrder: JSONValue = [["group": [["id": "slipway/build-script", "optional": true], ["id": "slipway/procfile"]]]]
        _ = try await call("clusterbuilder/create", ["name": "default", "stack": "base", "store": "default", "order": order ?? defaultOrder])
    }
}
