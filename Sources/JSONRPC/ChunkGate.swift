import Foundation

/// Lets the input thread read ahead by at most `limit` chunks. (A counting gate on NSCondition:
/// a DispatchSemaphore may not be released while its count is below its initial value, which is
/// how a connection that ends early would leave it.)
final class ChunkGate: Sendable {
    private let condition = NSCondition()
    /// Chunks read and not yet handled; guarded by `condition`.
    private nonisolated(unsafe) var outstanding = 0
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Blocks until fewer than `limit` chunks are outstanding, then counts one more.
    func wait() {
        condition.lock()
        while outstanding >= limit { condition.wait() }
        outstanding += 1
        condition.unlock()
    }

    /// One chunk was handled.
    func signal() {
        condition.lock()
        outstanding -= 1
        condition.signal()
        condition.unlock()
    }
}
