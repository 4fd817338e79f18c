import Foundation

/// Threads for the blocking loops of connections (reading input, writing output, an engine
/// client's handshake), kept for the next loop once theirs ends. A shared engine serves many
/// short-lived clients, each with such loops; making and ending a thread for each costs more
/// than serving a client's requests. A loop may run as long as its connection: a thread is
/// taken from those kept, or made, never waited for.
public final class LoopThreads: Sendable {
    public static let shared = LoopThreads()

    private let condition = NSCondition()
    /// Loops handed over and not yet taken by a kept thread; guarded by `condition`.
    private nonisolated(unsafe) var queued: [@Sendable () -> Void] = []
    /// Kept threads waiting for a loop; guarded by `condition`.
    private nonisolated(unsafe) var idle = 0
    /// At most this many threads are kept...
    private let maxIdle: Int
    /// ...each for at most this long (seconds) without a loop to run.
    private let idleLifetime: TimeInterval

    init(maxIdle: Int = 64, idleLifetime: TimeInterval = 30) {
        self.maxIdle = maxIdle
        self.idleLifetime = idleLifetime
    }

    /// Threads kept and waiting for a loop.
    var idleThreads: Int {
        condition.lock()
        defer { condition.unlock() }
        return idle
    }

    /// Runs `loop` on a thread of its own.
    public func run(_ loop: @escaping @Sendable () -> Void) {
        condition.lock()
        if idle > queued.count {
            queued.append(loop)
            condition.signal()
            condition.unlock()
            return
        }
        condition.unlock()
        let thread = Thread { [self] in
            var next: (@Sendable () -> Void)? = loop
            while let current = next {
                current()
                next = nextLoop()
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The next loop for a thread whose loop ended; nil when it is not to be kept.
    private func nextLoop() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        guard idle < maxIdle else { return nil }
        idle += 1
        defer { idle -= 1 }
        let deadline = Date(timeIntervalSinceNow: idleLifetime)
        while queued.isEmpty {
            if !condition.wait(until: deadline) && queued.isEmpty { return nil }
        }
        return queued.removeFirst()
    }
}
