import Synchronization

/// Output lines of a step, gathered from its reader threads.
public final class LineCollector: Sendable {
    public init() {}
    private let lines = Mutex<[String]>([])
    public func add(_ l: String) { lines.withLock { $0.append(l) } }
    public func clear() { lines.withLock { $0.removeAll() } }
    public var all: [String] { lines.withLock { $0 } }
}
