import CLinuxSyscalls
import Foundation
import Synchronization

/// Runs a command and returns its exit status and output.
///
/// Spawned with `posix_spawn`, its output read through close-on-exec pipes, and waited for with
/// `waitpid` on the calling thread. With Foundation's `Process` and `Pipe`, a test now and then
/// hung with its child a zombie: another test's child, spawned meanwhile, had inherited the
/// pipe's write end, so reading to the end waited for that child (a shared engine) to exit.
@discardableResult
public func sh(_ command: String, cwd: String? = nil) throws -> (status: Int32, out: String, err: String) {
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
public func sh(_ command: String, cwd: String? = nil) async throws -> (status: Int32, out: String, err: String) {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try sh(command, cwd: cwd) }) }.start()
    }
}
