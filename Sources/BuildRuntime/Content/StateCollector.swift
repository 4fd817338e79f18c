import Foundation

/// One part of the state directory that a garbage collection sweeps once the roots are marked:
/// given the blobs kept so far, it removes what it holds that nothing reaches, and names the
/// blobs it keeps in turn, which the collectors after it and the final blob sweep then spare.
/// The engine runs its collectors in one list, in order (`CollectionService`): the Dockerfile
/// builder's records and layers, layers compressed for pushes, snapshot trees.
public protocol StateCollector: Sendable {
    /// The row of the collection report its freed files count under.
    var reportedAs: String { get }
    /// Removes (or, on a dry run, counts) what it holds that `keep` does not reach; returns the
    /// blobs it keeps and what it freed.
    func collect(keeping keep: Set<Digest>, with gc: GarbageCollector) -> (keep: Set<Digest>, freed: GarbageCollector.Freed)
}

/// Compressed copies of layers (made for pushes) stay as long as the layers they were made from.
public struct CompressedLayerCollector: StateCollector {
    public let store: ContentStore
    public var reportedAs: String { "blobs" }
    public init(store: ContentStore) { self.store = store }

    public func collect(keeping keep: Set<Digest>, with gc: GarbageCollector) -> (keep: Set<Digest>, freed: GarbageCollector.Freed) {
        LayerCompressor.collect(in: store, keepingLayers: keep, with: gc)
    }
}

/// Snapshot chains not kept, and the trees no kept chain uses.
public struct SnapshotTreeCollector: StateCollector {
    public let snapshots: SnapshotStore
    public var reportedAs: String { "blobs" }
    public init(snapshots: SnapshotStore) { self.snapshots = snapshots }

    public func collect(keeping keep: Set<Digest>, with gc: GarbageCollector) -> (keep: Set<Digest>, freed: GarbageCollector.Freed) {
        ([], snapshots.collect(keep: keep, with: gc))
    }
}
