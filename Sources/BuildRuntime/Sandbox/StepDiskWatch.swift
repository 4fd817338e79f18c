import CLinuxSyscalls
import Foundation
import Synchronization

/// Holds what a running step writes to disk to its `WriteLimit` while it runs, not only once it
/// is done: what it writes (its step folder — its layer, or its copied root, and the upper
/// folders of its writable bind mounts — and its writable cache mounts, by the blocks their
/// files take; and, where the engine may look, the files its processes hold open after they
/// were deleted) is measured now and then. The step is killed once that grew by more than the
/// limit's bytes since it started, or by more than the limit's budget (the namespace's storage
/// quota, shared with the build's other stages) can give; what it took from the budget is given
/// back when the step ends, and its layer takes what it really holds. A step that fills the
/// disk with real bytes is stopped within a fraction of a second of passing the cap; sparse files take
/// no blocks and are held by the layer's own cap as it is written (`BlobWriter.limit`).
///
/// Measuring walks the folders (`TreeWalker.forEachFile`: no recursion, never fails) and the
/// step's processes' descriptors (`/proc/PID/fd`, from the helper down through
/// `/proc/PID/task/TID/children`) on a thread of its own; the pause between two rounds grows
/// with what one costs (from a fifth of a second to a second). What the engine cannot read
/// (a step's folder of mode 0700 under another id, another id's descriptors, when Slipway is
/// not root) counts as empty.
final class StepDiskWatch: Sendable {
    /// Why the step was killed.
    enum Passed: Sendable { case cap, budget }

    let folders: [String]
    let limit: WriteLimit
    private let baseline: Int64
    private let state = Mutex<(taken: Int64, passed: Passed?)>((0, nil))

    /// Measures `folders` as they are before the step.
    init(folders: [String], limit: WriteLimit) async throws {
        self.folders = folders
        self.limit = limit
        baseline = try await BlockingWork.run { Self.blocks(in: folders) }
    }

    /// Why the step was killed; nil when it was not.
    var passed: Passed? { state.withLock { $0.passed } }

    static func blocks(in folders: [String]) -> Int64 {
        var total: Int64 = 0
        for folder in folders { TreeWalker.forEachFile(underPath: folder) { total += Int64($0.st_blocks) * 512 } }
        return total
    }

    /// The magic number of tmpfs (`statfs`): a deleted file there is held by the step's memory
    /// limit, not this one.
    static let tmpfsMagic = 0x0102_1994

    /// Blocks of the files the processes from `pid` down hold open after they were deleted, on
    /// disk (not on a tmpfs); each file once.
    static func deletedOpenBlocks(from pid: pid_t) -> Int64 {
        var seen = Set<[UInt64]>(), total: Int64 = 0
        var pending = [pid], visited = Set<pid_t>()
        // A process tree cannot be deeper or wider than the pids limit: the list stays bounded.
        while let p = pending.popLast(), visited.count < 1 << 16 {
            guard visited.insert(p).inserted else { continue }
            let fds = "/proc/\(p)/fd"
            // A process gone meanwhile, or another id's (not readable), has nothing to count.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? [] {  // see above
                var buf = [CChar](repeating: 0, count: 4097)
                let n = readlink(fds + "/" + name, &buf, 4096)
                guard n > 0, String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasSuffix(" (deleted)") else { continue }
                var st = stat()
                guard stat(fds + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                    slipway_file_system_type(fds + "/" + name) != Self.tmpfsMagic, seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted
                else { continue }
                total += Int64(st.st_blocks) * 512
            }
            for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p)/task")) ?? [] {  // see above
                guard let children = try? String(contentsOfFile: "/proc/\(p)/task/\(task)/children", encoding: .utf8) else { continue }  // a task gone meanwhile has no children
                pending += children.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
        }
        return total
    }

    /// Watches on a thread of its own (at normal priority: a busy machine must not let a step
    /// write on unseen, as the cooperative pool or a lowered priority would) until `stop`,
    /// killing `process` past the limit.
    func watch(_ process: Subprocess) -> Watching {
        let watching = Watching()
        let t = Thread { [self] in
            while !watching.stopped {
                let started = ContinuousClock.now
                if judge(Self.blocks(in: folders) + Self.deletedOpenBlocks(from: process.pid)) != nil {
                    process.signal(SIGKILL)
                    return
                }
                // The pause grows with what a round costs, to a second at most.
                let pause = min(max(.milliseconds(200), (ContinuousClock.now - started) * 4), .seconds(1))
                watching.sleep(pause)
            }
        }
        t.stackSize = 1 << 20
        t.start()
        return watching
    }

    /// A watch that runs: `stop` ends it (at once, even in a pause).
    final class Watching: Sendable {
        private let done = Mutex(false)
        private let wake = DispatchSemaphore(value: 0)
        var stopped: Bool { done.withLock { $0 } }
        func stop() {
            done.withLock { $0 = true }
            wake.signal()
        }
        func sleep(_ d: Duration) {
            let (s, a) = d.components
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(s) * 1_000_000_000 + Int(a / 1_000_000_000)))
        }
    }

    /// Measures once more after the step ended (one that wrote fast and left before a round
    /// saw it); what it wrote is still in its folders.
    func finalCheck() async throws {
        let used = try await BlockingWork.run { Self.blocks(in: self.folders) }
        _ = judge(used)
    }

    /// Records whether `used` bytes passed the limit, taking what grew from the budget.
    private func judge(_ used: Int64) -> Passed? {
        let grew = used - baseline
        return state.withLock { s in
            if let passed = s.passed { return passed }
            if grew > limit.bytes {
                s.passed = .cap
            } else if let budget = limit.budget, grew > s.taken {
                if budget.take(grew - s.taken) { s.taken = grew } else { s.passed = .budget }
            }
            return s.passed
        }
    }

    /// Gives back to the budget what the step took while it ran: its layer takes what it holds.
    func release() {
        let taken = state.withLock { s in
            defer { s.taken = 0 }
            return s.taken
        }
        if taken > 0 { limit.budget?.give(taken) }
    }

    /// What the refusal says, for why the step was killed.
    func refusal(_ passed: Passed) -> String { passed == .cap ? limit.refusal : limit.budgetRefusal }
}
