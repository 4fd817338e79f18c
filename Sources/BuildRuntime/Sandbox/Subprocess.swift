import CLinuxSyscalls
import Foundation
import Synchronization

/// Which output stream a line came from.
public enum OutputStream: String, Sendable, Codable {
    case stdout, stderr
}

/// A child process started with `posix_spawn`, its output read line by line on dedicated
/// threads (never on Swift's cooperative pool), and its exit awaited asynchronously. Every
/// child is reaped by `ChildReaper`.
public final class Subprocess: Sendable {
    public let pid: pid_t
    private let exitState = ExitState()

    /// The exit status once known, and who is waiting for it.
    private final class ExitState: Sendable {
        let value = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))
    }
    /// Names this process to its children (see `init`).
    static let parentVariable = "SLIPWAY_PARENT_PID"

    /// Longest line passed on in one piece; longer output is split, never buffered without bound.
    public static let maxLineLength = 64 << 10

    /// Spawns `argv[0]` (an absolute path) with exactly `environment`, and `SLIPWAY_PARENT_PID`
    /// (this process's pid: `slipway-userns` tells by it whether it was adopted before it could
    /// ask to die with its parent, and takes it out of what it runs). Each complete output
    /// line is passed to `onLine` (without its newline), in order per stream. The child reads
    /// `input` on stdin (else /dev/null), and gets `passing` as descriptors 3, 4, … (nothing
    /// else beyond stdin, stdout and stderr).
    public init(
        _ argv: [String], environment: [String: String], input: [UInt8]? = nil, passing: [Int32] = [],
        onLine: @escaping @Sendable (OutputStream, String) -> Void
    ) throws {
        // Pipes are created close-on-exec (pipe2), so a child started concurrently never
        // inherits another child's pipe (which would hold it open).
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        var inPipe: [Int32] = [-1, -1]
        guard slipway_pipe_cloexec(&outPipe) == 0, slipway_pipe_cloexec(&errPipe) == 0, input == nil || slipway_pipe_cloexec(&inPipe) == 0 else {
            throw RuntimeError.io("cannot create pipes: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // Copies above the targets first, so that no dup2 overwrites a descriptor still to be
        // passed; dup2 onto the target clears close-on-exec on that copy only.
        let high = passing.map { fcntl($0, F_DUPFD_CLOEXEC, 64) }
        defer { for fd in high where fd >= 0 { close(fd) } }
        for (i, fd) in high.enumerated() {
            guard fd >= 0 else { throw RuntimeError.io("cannot pass a descriptor to \(argv[0]): \(String(cString: strerror(errno)))") }
            posix_spawn_file_actions_adddup2(&actions, fd, 3 + Int32(i))
        }
        // Nothing else: a descriptor the process holds without close-on-exec (a library's, a
        // client's) never reaches a child, and through bwrap a build step.
        slipway_spawn_close_from(&actions, 3 + Int32(high.count))

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Own process group, so cancellation can signal everything the child started.
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attr, &defaults)

        let cArgs = argv.map { strdup($0) } + [nil]
        var environment = environment
        environment[Self.parentVariable] = String(getpid())
        let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        let exited = DispatchSemaphore(value: 0)
        let exitCode = Mutex<Int32>(0)
        // Spawned from one thread that lives as long as the process: bwrap's --die-with-parent
        // (PR_SET_PDEATHSIG) fires when the spawning *thread* exits, and pool threads come and go.
        let (rc, child) = ChildReaper.shared.spawn({
            var child: pid_t = 0
            let rc = SpawnThread.shared.perform { posix_spawn(&child, argv[0], &actions, &attr, cArgs, cEnv) }
            return (rc, child)
        }, onExit: { code in
            exitCode.withLock { $0 = code }
            exited.signal()
        })
        close(outPipe[1])
        close(errPipe[1])
        if input != nil { close(inPipe[0]) }
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            if input != nil { close(inPipe[1]) }
            throw RuntimeError.unavailable("cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        pid = child

        if let input {
            let fd = inPipe[1]
            Thread {
                var offset = 0
                while offset < input.count {
                    let n = input.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }  // the child stopped reading: it gets EOF, which is all it can get
                    offset += n
                }
                close(fd)
            }.start()
        }
        let readers = DispatchGroup()
        for (fd, stream) in [(outPipe[0], OutputStream.stdout), (errPipe[0], .stderr)] {
            readers.enter()
            let t = Thread {
                Subprocess.readLines(fd: fd) { onLine(stream, $0) }
                close(fd)
                readers.leave()
            }
            t.start()
        }
        let exitState = self.exitState
        Thread {
            exited.wait()
            readers.wait()  // all output delivered before the exit is reported
            let code = exitCode.withLock { $0 }
            let waiters = exitState.value.withLock { s -> [CheckedContinuation<Int32, Never>] in
                s.status = code
                defer { s.waiters.removeAll() }
                return s.waiters
            }
            for w in waiters { w.resume(returning: code) }
        }.start()
    }


    /// The exit code (128 + signal for a signalled process), once every output line was delivered.
    public func wait() async -> Int32 {
        await withCheckedContinuation { c in
            let done = exitState.value.withLock { s -> Int32? in
                if let st = s.status { return st }
                s.waiters.append(c)
                return nil
            }
            if let done { c.resume(returning: done) }
        }
    }

    /// Whether it has exited (and been reaped).
    public var hasExited: Bool { exitState.value.withLock { $0.status != nil } }

    /// Sends a signal to the child's whole process group.
    public func signal(_ sig: Int32) {
        if exitState.value.withLock({ $0.status }) == nil { kill(-pid, sig) }
    }

    private static func readLines(fd: Int32, _ emit: (String) -> Void) {
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var start = 0
            for i in 0..<n where buf[i] == 0x0A {
                pending.append(contentsOf: buf[start..<i])
                emit(line(pending))
                pending.removeAll(keepingCapacity: true)
                start = i + 1
            }
            pending.append(contentsOf: buf[start..<n])
            while pending.count > maxLineLength {
                emit(line(Array(pending.prefix(maxLineLength))))
                pending.removeFirst(maxLineLength)
            }
        }
        if !pending.isEmpty { emit(line(pending)) }
    }

    private static func line(_ bytes: [UInt8]) -> String {
        var b = bytes[...]
        if b.last == 0x0D { b = b.dropLast() }
        return String(decoding: b, as: UTF8.self)
    }
}

/// Finds an executable on the host's PATH.
public func findExecutable(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}

/// A thread that lives as long as the process and runs the spawns handed to it, one at a time.
final class SpawnThread: @unchecked Sendable {
    static let shared = SpawnThread()
    private let condition = NSCondition()
    private var work: [() -> Void] = []

    private init() {
        let t = Thread { [unowned self] in
            while true {
                condition.lock()
                while work.isEmpty { condition.wait() }
                let job = work.removeFirst()
                condition.unlock()
                job()
            }
        }
        t.stackSize = 1 << 20
        t.start()
    }

    /// Runs `body` on the spawn thread and returns its result. The caller waits until `body` has
    /// run, so what it captures stays valid.
    func perform(_ body: @escaping () -> Int32) -> Int32 {
        let slot = ResultSlot()
        let done = DispatchSemaphore(value: 0)
        condition.lock()
        work.append {
            slot.value = body()
            done.signal()
        }
        condition.signal()
        condition.unlock()
        done.wait()
        return slot.value
    }

    /// Where the spawn thread leaves a result for the waiting caller.
    private final class ResultSlot: @unchecked Sendable { var value: Int32 = 0 }
}

/// Reaps the children `Subprocess` starts and reports their exit. In a process that called
/// `adoptOrphans()` (the server) it reaps every child: Slipway is then a child subreaper, so a
/// step's processes that outlive their bwrap come back to it (as they would if it were PID 1 in
/// a container) and are reaped instead of staying zombies; it is then the only caller of
/// `waitpid` in the process. Elsewhere (tests that run an engine in process, beside Foundation's
/// `Process`) each child is waited for by pid, so no other child's status is taken.
///
/// `@unchecked Sendable`: `watchers` and `reapsAll` are read and written only under `lock`; a
/// spawn and its registration happen under `lock` together, so the reaper, which looks a pid
/// up under `lock` after `waitpid` returns it, always finds the watcher of a child it reaps.
public final class ChildReaper: @unchecked Sendable {
    static let shared = ChildReaper()
    private let lock = NSCondition()
    private var watchers: [pid_t: @Sendable (Int32) -> Void] = [:]
    private var reapsAll = false

    private init() {}

    /// Makes this process a child subreaper that reaps every child (call once, at start,
    /// before any child is spawned). Failure to become a subreaper only means orphans go to
    /// init, as they would otherwise.
    public static func adoptOrphans() {
        let r = shared
        r.lock.lock()
        defer { r.lock.unlock() }
        guard !r.reapsAll else { return }
        r.reapsAll = true
        _ = slipway_become_child_subreaper()
        let t = Thread { r.reapForever() }
        t.stackSize = 1 << 18
        t.start()
    }

    /// Runs `spawn` (which returns posix_spawn's result and the pid) and arranges for
    /// `onExit` to get the child's exit code, atomically with respect to reaping.
    func spawn(_ spawn: () -> (Int32, pid_t), onExit: @escaping @Sendable (Int32) -> Void) -> (Int32, pid_t) {
        lock.lock()
        defer { lock.unlock() }
        let (rc, pid) = spawn()
        guard rc == 0 else { return (rc, pid) }
        // Recorded before it can be reaped (under `lock`), forgotten once it has been: a killed
        // engine's successor kills the group of a child that outlived it (LeftoverProcesses).
        LeftoverProcesses.record(pid)
        let exited: @Sendable (Int32) -> Void = { code in
            LeftoverProcesses.forget(pid)
            onExit(code)
        }
        if reapsAll {
            watchers[pid] = exited
            lock.signal()
        } else {
            Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                exited(Self.exitCode(status))
            }.start()
        }
        return (rc, pid)
    }

    static func exitCode(_ status: Int32) -> Int32 {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    private func reapForever() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid < 0 {
                if errno == EINTR { continue }
                // No children now: wait for the next spawn (or a second, for late orphans).
                lock.lock()
                if watchers.isEmpty { _ = lock.wait(until: Date().addingTimeInterval(1)) }
                lock.unlock()
                continue
            }
            lock.lock()
            let watcher = watchers.removeValue(forKey: pid)
            lock.unlock()
            watcher?(Self.exitCode(status))
        }
    }
}
