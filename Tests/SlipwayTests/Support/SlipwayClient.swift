import CLinuxSyscalls
import Foundation
import JSONRPC
import Synchronization
import Testing

/// Paths of the repository and the binaries `swift build` made.
enum Repo {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static var binDir: URL { root.appendingPathComponent(".build/debug") }
    static var slipway: String { binDir.appendingPathComponent("slipway").path }
    static var buildpacks: URL { root.appendingPathComponent("buildpacks") }
    static var examples: URL { root.appendingPathComponent("examples") }
    static var fixtures: URL { root.appendingPathComponent("Tests/SlipwayTests/Fixtures") }
    /// Engine flags that let a Dockerfile name host paths (`FROM oci:…`) in the test's temporary
    /// folders and the repository, and sources there: without `--allow-source`, a Dockerfile
    /// names no host path at all.
    static var hostPathArguments: [String] { ["--allow-source", NSTemporaryDirectory(), "--allow-source", root.path] }
}

/// A fresh temporary folder, removed when the value is released.
final class TempDir: Sendable {
    let url: URL
    var path: String { url.path }
    init(_ label: String = "t") {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("slipway-\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit {
        // An engine still writing in a state directory can make one removal fail (a file
        // appears in a folder being removed); once the folder is gone the engine stops.
        for _ in 0..<5 where FileManager.default.fileExists(atPath: url.path) {
            try? FileManager.default.removeItem(at: url)
        }
    }
}

/// Runs a command and returns its exit status and output.
@discardableResult
///
/// Spawned with `posix_spawn`, its output read through close-on-exec pipes, and waited for with
/// `waitpid` on the calling thread. With Foundation's `Process` and `Pipe`, a test now and then
/// hung with its child a zombie: another test's child, spawned meanwhile, had inherited the
/// pipe's write end, so reading to the end waited for that child (a shared engine) to exit.
func sh(_ command: String, cwd: String? = nil) throws -> (status: Int32, out: String, err: String) {
    var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
    // Close-on-exec from the start: a child another test spawns meanwhile (a shared engine that
    // lives on) must not inherit the write ends, or the reads below wait for it to exit.
    guard slipway_pipe_cloexec(&outPipe) == 0, slipway_pipe_cloexec(&errPipe) == 0 else { throw TestFailure("pipe: \(String(cString: strerror(errno)))") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
    slipway_spawn_close_from(&actions, 3)  // nor may it hold another test's pipes
    let script = (cwd.map { "cd '\($0.replacingOccurrences(of: "'", with: "'\\''"))' || exit 127\n" } ?? "") + command
    let words: [String] = ["/bin/bash", "-c", script]
    let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let env: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { env.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, env)
    close(outPipe[1])
    close(errPipe[1])
    defer { close(outPipe[0]); close(errPipe[0]) }
    guard rc == 0 else { throw TestFailure("posix_spawn: \(String(cString: strerror(rc)))") }
    @Sendable func drain(_ fd: Int32) -> [UInt8] {
        var data: [UInt8] = [], buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return data }
            data += buf[..<n]
        }
    }
    let errText = Mutex<[UInt8]>([])
    let errDone = DispatchSemaphore(value: 0)
    let errFD = errPipe[0]
    Thread { errText.withLock { $0 = drain(errFD) }; errDone.signal() }.start()
    let o = drain(outPipe[0])
    errDone.wait()
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (code, String(decoding: o, as: UTF8.self), String(decoding: errText.withLock { $0 }, as: UTF8.self))
}

/// Runs a command on a thread of its own, so an async test waiting for it does not hold one of
/// the few threads of Swift's cooperative pool, which every other test in this process (and
/// the in-process JSON-RPC connections of JSONRPCTests) needs.
@discardableResult
func sh(_ command: String, cwd: String? = nil) async throws -> (status: Int32, out: String, err: String) {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try sh(command, cwd: cwd) }) }.start()
    }
}

/// The host stack: the one `make test` assembled (SLIPWAY_TEST_STACK), or one assembled once
/// per test run by scripts/make-stack.sh.
enum HostStack {
    static let directory: String = {
        if let given = ProcessInfo.processInfo.environment["SLIPWAY_TEST_STACK"], FileManager.default.fileExists(atPath: given + "/build/usr/bin/bash") {
            return given
        }
        let dir = NSTemporaryDirectory() + "slipway-test-stack-\(getpid())"
        let r = try! sh("'\(Repo.root.path)/scripts/make-stack.sh' '\(dir)'")
        precondition(r.status == 0, "make-stack.sh failed: \(r.err)")
        return dir
    }()
    static var build: String { directory + "/build" }
    static var run: String { directory + "/run" }
}

extension HostStack {
    /// Makes an OCI layout at `layout` holding the host stack's build and run images (tags
    /// `build` and `run`) with umoci, labelled with `stackID`.
    static func ociLayout(at layout: String, stackID: String) async throws {
        for (tag, dir) in [("build", build), ("run", run)] {
            let r = try await sh("""
                set -e
                [ -d '\(layout)' ] || umoci init --layout '\(layout)'
                umoci new --image '\(layout):\(tag)'
                # umoci --rootless changes folder modes while it reads them: give it a copy, so
                # that tests reading the shared stack at the same time never see that.
                copy="$(mktemp -d)"
                cp -a '\(dir)/.' "$copy/"
                umoci insert --rootless --image '\(layout):\(tag)' "$copy" /
                rm -rf "$copy"
                umoci config --image '\(layout):\(tag)' --config.label io.buildpacks.stack.id=\(stackID) \\
                  --config.env CNB_USER_ID=1000 --config.env CNB_GROUP_ID=1000 --config.env PATH=/usr/bin:/bin
                """)
            guard r.status == 0 else { throw TestFailure("umoci: \(r.err)") }
        }
    }
}

/// A helper server from Tests/SlipwayTests/Fixtures (a Python script that prints the port it
/// listens on, on 127.0.0.1), killed when released.
final class FixtureServer: Sendable {
    let process: Process
    /// The first port the script printed; `ports` has all of them.
    let port: String
    let ports: [String]

    init(_ script: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Repo.fixtures.appendingPathComponent(script).path] + arguments
        let out = Pipe()
        p.standardOutput = out
        // No inherited descriptors: `swift test` waits for every holder of its pipes to exit.
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        ports = line.split(separator: " ").map(String.init)
        port = ports.first ?? ""
        guard !port.isEmpty else { throw TestFailure("\(script) did not start") }
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A `slipway` process driven over its stdin/stdout, newline-delimited JSON: a forwarder to the
/// shared engine of `stateDir` (started by the first client, stopped 60 s after the last one
/// leaves, or at once when the state directory is removed), or with `--embedded` the engine
/// itself.
final class SlipwayClient: Sendable {
    let process: Process
    let stdin: FileHandle
    let stateDir: String
    let framing: Framing
    private let inbox = Inbox()
    private let nextID = Atomic<Int>(1)

    /// How messages are framed: one JSON text a line, or LSP's Content-Length headers (as an
    /// editor frames them).
    enum Framing: Sendable { case ndjson, lsp }

    final class Inbox: Sendable {
        let state = Mutex<(buffer: [UInt8], messages: [JSONValue], stderr: String, stderrEnded: Bool)>(([], [], "", false))
    }

    /// `wrapper` runs slipway through another command (`unshare …`), which then execs or forks it.
    init(stateDir: String, arguments: [String] = [], environment: [String: String] = [:], wrapper: [String] = [], framing: Framing = .ndjson) throws {
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
    static func takeMessage(_ buffer: inout [UInt8], _ framing: Framing) -> [UInt8]? {
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

    func send(_ text: String) {
        switch framing {
        case .ndjson: stdin.write(Data((text + "\n").utf8))
        case .lsp: stdin.write(Data("Content-Length: \(text.utf8.count)\r\n\r\n\(text)".utf8))
        }
    }

    func send(_ value: JSONValue) { send(JSONWriter.string(value)) }

    func closeInput() { try? stdin.close() }

    /// The process of the engine serving this client: the shared engine (its pid is in
    /// engine.lock), or with `--embedded` this client's own.
    var enginePID: pid_t {
        let recorded = (try? String(contentsOfFile: stateDir + "/engine.lock", encoding: .utf8)) ?? ""
        return pid_t(recorded.trimmingCharacters(in: .whitespacesAndNewlines)) ?? process.processIdentifier
    }

    /// The peak resident set size of the engine so far, in bytes (VmHWM).
    var peakRSS: Int {
        let status = (try? String(contentsOfFile: "/proc/\(enginePID)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Every message received so far.
    var messages: [JSONValue] { inbox.state.withLock { $0.messages } }
    var stderr: String { inbox.state.withLock { $0.stderr } }

    func notifications(_ method: String) -> [JSONValue] {
        messages.filter { $0["method"] == .string(method) && $0["id"] == nil }.compactMap { $0["params"] }
    }

    /// Waits for a message matching `predicate`.
    func waitFor(timeout: Double = 60, _ predicate: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let m = messages.first(where: predicate) { return m }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("timed out waiting for a message; stderr: \(stderr)")
    }

    /// Sends a request and returns its whole response (with `result` or `error`).
    func request(_ method: String, _ params: JSONValue? = nil, timeout: Double = 120) async throws -> JSONValue {
        let id = Int64(nextID.add(1, ordering: .relaxed).oldValue)
        var o = JSONObject([("jsonrpc", "2.0"), ("id", .int(id)), ("method", .string(method))])
        if let params { o["params"] = params }
        send(.object(o))
        return try await waitFor(timeout: timeout) { $0["id"] == .int(id) && $0["method"] == nil }
    }

    /// Sends a request and returns its result, failing the test on an error response.
    func call(_ method: String, _ params: JSONValue? = nil, timeout: Double = 120) async throws -> JSONValue {
        let r = try await request(method, params, timeout: timeout)
        if let e = r["error"] { throw TestFailure("\(method) failed: \(JSONWriter.string(e))") }
        return r["result"] ?? .null
    }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: Double = 120) async throws -> Int32 {
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

    // MARK: Fixtures

    /// Creates the host stack, a store with the project's buildpacks (plus `extra`), and the
    /// default ClusterBuilder with the given groups (default: build-script optional + procfile).
    func setUpDefaultBuilder(extraBuildpacks: [String] = [], order: JSONValue? = nil) async throws {
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

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension JSONValue {
    var int: Int? { int64Value.map(Int.init) }
}

extension JSONValue {
    /// Expects this build (a `build/wait` or `build/status` result) to have ended with
    /// `status`; when it did not, the issue shows the whole build, its message included.
    func expectStatus(_ status: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self["status"] == .string(status), "\(JSONWriter.string(self))", sourceLocation: sourceLocation)
    }
}
