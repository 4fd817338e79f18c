import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// The sweep of a content store: what is old and unreachable goes, what changed since the
/// collection began stays, and what a collection killed half way left moved aside comes back.
@Suite struct GarbageCollectorTests {
    /// A store with one blob of `text`, its file dated `age` seconds ago.
    static func blob(_ text: String, in store: ContentStore, age: TimeInterval) throws -> Digest {
        let data = Data(text.utf8)
        let digest = Digest.of(data)
        try FileManager.default.createDirectory(at: store.blobsDirectory, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: store.path(digest)))
        let when = Date().addingTimeInterval(-age).timeIntervalSince1970
        var times = [timespec(tv_sec: Int(when), tv_nsec: 0), timespec(tv_sec: Int(when), tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, store.path(digest), &times, 0) == 0)
        return digest
    }

    @Test func oldUnreachableBlobsGoAndNothingIsLeftAside() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // a scratch folder; nothing depends on its removal
        let store = try ContentStore(root: URL(fileURLWithPath: dir))
        let kept = try Self.blob("kept", in: store, age: 3600)
        let garbage = try Self.blob("garbage", in: store, age: 3600)
        let fresh = try Self.blob("fresh", in: store, age: 0)
        let freed = GarbageCollector(started: Date().addingTimeInterval(-60), dryRun: false).sweepBlobs(of: store, keep: [kept])
        #expect(freed.count == 1)
        #expect(store.contains(kept) && store.contains(fresh) && !store.contains(garbage))
        let left = try FileManager.default.contentsOfDirectory(atPath: store.blobsDirectory.path).filter { $0.hasPrefix(".gc-") }
        #expect(left.isEmpty, "\(left)")
    }

    /// A collection killed between moving a blob aside and looking at it again leaves it aside:
    /// the next sweep gives it its name back (it may have been reused and named meanwhile), and
    /// drops the aside copy where a fresh blob took the name.
    @Test func whatAKilledCollectionLeftAsideIsPutBack() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // a scratch folder; nothing depends on its removal
        let store = try ContentStore(root: URL(fileURLWithPath: dir))
        let named = try Self.blob("named by an index", in: store, age: 0)
        let rewritten = try Self.blob("written anew", in: store, age: 0)
        let blobs = store.blobsDirectory.path
        #expect(rename(store.path(named), blobs + "/.gc-" + named.hex) == 0)
        #expect(link(store.path(rewritten), blobs + "/.gc-" + rewritten.hex) == 0)
        _ = GarbageCollector(started: Date().addingTimeInterval(-60), dryRun: false).sweepBlobs(of: store, keep: [named, rewritten])
        #expect(store.contains(named) && store.contains(rewritten))
        #expect(try store.read(named) == Data("named by an index".utf8))
        let left = try FileManager.default.contentsOfDirectory(atPath: blobs).filter { $0.hasPrefix(".gc-") }
        #expect(left.isEmpty, "\(left)")
    }

    /// A blob a killed collection left aside that is still old and unreachable goes in the same
    /// sweep that puts it back (it was left behind, unreferenced, until the sweep after).
    @Test func whatAKilledCollectionLeftAsideGoesWhenStillGarbage() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // a scratch folder; nothing depends on its removal
        let store = try ContentStore(root: URL(fileURLWithPath: dir))
        let garbage = try Self.blob("garbage left aside", in: store, age: 3600)
        let blobs = store.blobsDirectory.path
        #expect(rename(store.path(garbage), blobs + "/.gc-" + garbage.hex) == 0)
        let freed = GarbageCollector(started: Date().addingTimeInterval(-60), dryRun: false).sweepBlobs(of: store, keep: [])
        #expect(freed.count == 1 && !store.contains(garbage))
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs).isEmpty)
    }

    /// A folder swept (an image layout of a deleted image) goes by being renamed aside first, so
    /// no half of it is left under its name; what a killed sweep left aside goes at the next.
    @Test func foldersGoWholeAndWhatAKilledSweepLeftAsideGoesNext() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // a scratch folder; nothing depends on its removal
        for name in ["gone", "kept", ".gc-half"] {
            try write(dir + "/" + name + "/index.json", "{}")
            try write(dir + "/" + name + "/blobs/sha256/aa", "x")
        }
        let old = Date().addingTimeInterval(-3600).timeIntervalSince1970
        var times = [timespec(tv_sec: Int(old), tv_nsec: 0), timespec(tv_sec: Int(old), tv_nsec: 0)]
        for name in ["gone", "kept"] { #expect(utimensat(AT_FDCWD, dir + "/" + name, &times, 0) == 0) }
        let freed = GarbageCollector(started: Date().addingTimeInterval(-60), dryRun: false).sweepFolders(in: dir, keep: ["kept"])
        #expect(freed.count == 1 && freed.bytes == 3, "the folder, with its index.json and its blob: \(freed)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["kept"])
    }
}
