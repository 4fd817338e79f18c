import CLinuxSyscalls
import Foundation

/// Runs blocking work — tar, hashing, copying, extraction, export, waiting on a child process —
/// on a thread of its own at lower priority, never on Swift's cooperative pool. On a 2-core
/// machine that pool has two threads, and every request is served on it; one export there
/// would stall every client.
public enum BlockingWork {
    /// Runs `body` on a new thread and returns (or throws) what it did.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            let t = Thread {
                // Nice 5: builds yield the CPU to request handling. Failure only means normal priority.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(slipway_gettid()), 5)
                c.resume(with: Result { try body() })
            }
            t.stackSize = 4 << 20
            t.start()
        }
    }
}
