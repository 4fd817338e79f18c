import CLinuxSyscalls
import Foundation

/// The sandbox of one buildpacks phase, as lifecycle runs its detector or builder in one
/// container: bwrap starts once, with every buildpack of the phase mounted, and a small driver
/// in it (`slipway-userns --step-driver`) runs each step the engine sends, one at a time, with
/// that step's command and environment; between steps it kills and reaps whatever the last one
/// left, so what the engine then reads of a step's output was written by that step alone. Its
/// lines go to the build's log; each step's last lines come back with its exit status.
///
/// `@unchecked Sendable`: the descriptors are set once in `start` and closed once in `finish`;
/// one phase's task calls `run` (one at a time) and then `finish`; the line handler, on the
/// output threads, shares only `output` (which locks).
final class PhaseSandbox: @unchecked Sendable {
    private let phase: BuildPhase
    private let process: Subprocess
    private let network: PreparedStepNetwork?
    /// The write end of the driver's commands, and the read end of its results.
    private var commands: Int32
    private var results: Int32
    private let output: StepOutput
    private let nonce = UUID().uuidString
    private var steps = 0

    /// The lines of the step that runs, and its end marker on each stream.
    final class StepOutput: @unchecked Sendable {
        // `tail` and `marker` are set by `begin` and read by the output threads, under `lock`;
        // `markers` is signalled once per stream when the marker arrives.
        private let lock = NSLock()
        private var tail = OutputTail()
        private var marker = ""
        let markers = DispatchSemaphore(value: 0)
        /// The last lines of the sandbox's stderr, whichever step wrote them: why it ended early.
        let stderrTail = OutputTail(keep: 5)

        func begin(marker: String) -> OutputTail {
            lock.withLock {
                tail = OutputTail()
                self.marker = marker
                return tail
            }
        }

        /// The line to log, if any: a line ending in the marker is the marker (and what a
        /// step printed before it without a newline).
        func take(_ stream: OutputStream, _ line: String) -> String? {
            lock.withLock {
                var line = line
                if !marker.isEmpty && line.hasSuffix(marker) {
                    markers.signal()
                    line.removeLast(marker.count)
                    if line.isEmpty { return nil }
                }
                tail.append(line)
                if stream == .stderr { stderrTail.append(line) }
                return line
            }
        }
    }

    private init(phase: BuildPhase, process: Subprocess, network: PreparedStepNetwork?, commands: Int32, results: Int32, output: StepOutput) {
        self.phase = phase
        self.process = process
        self.network = network
        self.commands = commands
        self.results = results
        self.output = output
    }

    static func start(phase: BuildPhase, sandbox: SandboxRunner, rootfs: String, mounts: [SandboxRunner.Mount], scratch: [String],
                      network: (PreparedStepNetwork, resolvConf: String)?, overlay: WorkspaceOverlay?, limits: StepEnforcement?, helper: String,
                      log: @escaping BuildLogger) async throws -> PhaseSandbox {
        var commandPipe: [Int32] = [-1, -1]
        var resultPipe: [Int32] = [-1, -1]
        guard slipway_pipe_cloexec(&commandPipe) == 0 else { throw RuntimeError.io("cannot create the driver's pipes: \(String(cString: strerror(errno)))") }
        guard slipway_pipe_cloexec(&resultPipe) == 0 else {
            close(commandPipe[0]); close(commandPipe[1])
            throw RuntimeError.io("cannot create the driver's pipes: \(String(cString: strerror(errno)))")
        }
        // The driver's descriptors follow the seccomp filter (3) and the network's (4, 5).
        let first: Int32 = network == nil ? 4 : 6
        let driver = "/dev/.slipway-step-driver"
        let output = StepOutput()
        let joined = network != nil
        let process: Subprocess
        do {
            process = try await sandbox.start(rootfs: rootfs, mounts: mounts, scratch: scratch, environment: [:], workingDirectory: "/workspace",
                                              prepared: network, enclosing: overlay.map { o in { o.enclosing($0, inNetworkNamespace: joined) } },
                                              limits: limits, driver: (helper, at: driver), passing: [commandPipe[0], resultPipe[1]],
                                              command: [driver, "--step-driver", String(first), String(first + 1)]) { stream, line in
                if let line = output.take(stream, line) { log(phase, stream == .stdout ? .stdout : .stderr, line) }
            }
        } catch {
            for fd in commandPipe + resultPipe { close(fd) }
            throw error
        }
        close(commandPipe[0])
        close(resultPipe[1])
        return PhaseSandbox(phase: phase, process: process, network: network?.0, commands: commandPipe[1], results: resultPipe[0], output: output)
    }

    /// Runs one step: `command` in /workspace with exactly `env`; returns its exit status and
    /// its last lines of output. A sandbox that ended meanwhile fails the build, saying why.
    func run(_ bp: BuildpackDescriptor, command: [String], env: [String: String]) async throws -> (Int32, [String]) {
        steps += 1
        let marker = "\u{1}slipway-step-end \(nonce) \(steps)"
        let tail = output.begin(marker: marker)
        var record: [UInt8] = []
        for field in [marker, "/workspace", String(command.count)] + command + env.sorted(by: { $0.key < $1.key }).map({ $0.key + "=" + $0.value }) {
            guard !field.utf8.contains(0) else { throw RuntimeError.buildFailed("a step's command or environment holds a NUL byte") }
            record += Array(field.utf8) + [0]
        }
        let framed = Array("\(record.count)\n".utf8) + record
        let (commands, results, output, process) = (self.commands, self.results, self.output, self.process)
        let code: Int32? = try await withTaskCancellationHandler {
            try await BlockingWork.run { () -> Int32? in
                guard Self.writeAll(commands, framed) else { return nil }
                guard let code = Self.readLine(results).flatMap({ Int32($0) }) else { return nil }
                // The marker was written before the status: once both streams delivered it,
                // every line of the step is in the log and the tail.
                for _ in 0..<2 { _ = output.markers.wait(timeout: .now() + 30) }
                return code
            }
        } onCancel: {
            process.signal(SIGKILL)
        }
        try Task.checkCancellation()
        guard let code else {
            let status = await process.wait()
            let why = output.stderrTail.lines.joined(separator: " | ")
            throw RuntimeError.buildFailed("buildpack \(bp.id)@\(bp.version) failed in the \(phase.rawValue) phase: its sandbox ended (status \(status))"
                + (why.isEmpty ? "" : "; its last output: " + why))
        }
        return (code, tail.lines)
    }

    /// Ends the driver (and the sandbox with it), and the phase's network.
    func finish() async {
        if commands >= 0 { close(commands); commands = -1 }
        _ = await process.wait()
        if results >= 0 { close(results); results = -1 }
        if let network { Task { await network.end() } }
    }

    deinit {
        if commands >= 0 { close(commands) }
        if results >= 0 { close(results) }
        process.signal(SIGKILL)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var at = 0
        while at < bytes.count {
            let n = bytes[at...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            at += n
        }
        return true
    }

    /// One line (without its newline), or nil at the end.
    private static func readLine(_ fd: Int32) -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 64 {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }
}
