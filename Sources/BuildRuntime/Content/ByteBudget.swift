import Synchronization

/// Bytes a build may still bring in or write, shared by everything of the build that does:
/// its downloads (ADD of URLs count together against the source size cap) or its layers
/// (against what is left of its namespace's storage quota), however many run at once.
public final class ByteBudget: Sendable {
    /// The cap on all of them together.
    public let limit: Int64
    private let left: Mutex<Int64>

    public init(limit: Int64) {
        self.limit = limit
        left = Mutex(limit)
    }

    /// What may still be brought in or written.
    public var remaining: Int64 { left.withLock { $0 } }

    /// Takes `bytes` off the budget; false (and nothing taken) when fewer are left, as when
    /// several running at once together went over.
    public func take(_ bytes: Int64) -> Bool {
        left.withLock { left in
            guard bytes <= left else { return false }
            left -= bytes
            return true
        }
    }

    /// Gives back what was taken for a while (what a step wrote before its layer is written).
    public func give(_ bytes: Int64) {
        left.withLock { $0 += bytes }
    }
}

/// What a build may write at once: at most `bytes` in one piece (a layer, what one step puts
/// on disk), and, with a `budget`, no more than is left of it (the namespace's storage quota,
/// shared by everything the build writes at the same time); each with what its refusal says
/// (the cap, and what to do).
public struct WriteLimit: Sendable {
    public var bytes: Int64
    public var refusal: String
    public var budget: ByteBudget?
    public var budgetRefusal: String

    public init(bytes: Int64, refusal: String, budget: ByteBudget? = nil, budgetRefusal: String = "") {
        self.bytes = bytes
        self.refusal = refusal
        self.budget = budget
        self.budgetRefusal = budgetRefusal
    }
}
