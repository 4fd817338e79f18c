import Foundation
import Synchronization

/// The snapshot store's files the engine read or wrote last, kept decoded in memory, so the edit
/// loop (snapshot, then build) does not parse the same bytes again: a 5,000-file source's stat
/// index took 17 ms to decode and its manifest 10 ms, on every edit.
///
/// - Manifests by digest: content-addressed, so a hit is always the manifest those bytes are.
/// - Stat indexes by file path: a hit only while the file is still the one read or written
///   (same device, inode, size, mtime and ctime), so a file replaced or edited is decoded again.
///
/// Each kind holds at most `maxEntries` manifest or index entries in all, the newest first kept,
/// so memory stays bounded whatever the sources' sizes.
enum SnapshotMemo {
    static let maxEntries = 200_000

    /// What identifies the bytes of a file without reading them.
    struct FileIdentity: Equatable, Sendable {
        let device: UInt64, inode: UInt64, size: Int64, mtime: Int64, ctime: Int64

        init?(path: String) {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            mtime = SourceStatIndex.Entry.nanoseconds(st.st_mtim)
            ctime = SourceStatIndex.Entry.nanoseconds(st.st_ctim)
        }
    }

    /// Newest last; `count` is the number of entries they hold.
    private struct Recent<Key: Equatable & Sendable, Value: Sendable>: Sendable {
        var items: [(key: Key, value: Value, count: Int)] = []

        func find(_ key: Key) -> Value? { items.last { $0.key == key }?.value }

        mutating func keep(_ key: Key, _ value: Value, count: Int) {
            items.removeAll { $0.key == key }
            guard count <= SnapshotMemo.maxEntries else { return }
            items.append((key, value, count))
            var total = items.reduce(0) { $0 + $1.count }
            while total > SnapshotMemo.maxEntries {
                total -= items.removeFirst().count
            }
        }
    }

    private static let manifests = Mutex(Recent<Digest, SnapshotManifest>())
    private static let indexes = Mutex(Recent<String, (FileIdentity, SourceStatIndex)>())

    static func manifest(_ digest: Digest) -> SnapshotManifest? {
        manifests.withLock { $0.find(digest) }
    }

    static func keep(_ manifest: SnapshotManifest, as digest: Digest) {
        manifests.withLock { $0.keep(digest, manifest, count: manifest.entries.count) }
    }

    /// The index decoded from the file at `path`, or nil when the file is not the one kept.
    static func index(at path: String) -> SourceStatIndex? {
        guard let identity = FileIdentity(path: path) else { return nil }
        return indexes.withLock { recent in recent.find(path).flatMap { $0.0 == identity ? $0.1 : nil } }
    }

    /// Keeps `index` as what the file at `path` now holds (call right after writing it).
    static func keep(_ index: SourceStatIndex, writtenAt path: String) {
        guard let identity = FileIdentity(path: path) else { return }
        indexes.withLock { $0.keep(path, (identity, index), count: index.entries.count) }
    }
}
