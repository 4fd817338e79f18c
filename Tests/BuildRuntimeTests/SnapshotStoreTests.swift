import Foundation
import Synchronization
import Testing
@testable import BuildRuntime
import TestSupport

/// Incremental snapshots: the stat index, manifest digests, delta trees and compaction.
@Suite struct SnapshotStoreTests {
    /// A folder of `count` files in ten subfolders, and a snapshotter with a store of its own.
    func fixture(count: Int = 200) throws -> (src: String, snapshotter: SourceSnapshotter) {
        let src = tempDir(), state = tempDir()
        for i in 0..<count { try write(src + "/dir\(i % 10)/file\(i).txt", "content \(i)\n") }
        try write(src + "/run.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
        symlink("dir0/file0.txt", src + "/first")
        return (src, SourceSnapshotter(store: try ContentStore(root: URL(fileURLWithPath: state))))
    }

    /// Snapshots until a walk finds nothing to read: files written within the clock tick of a
    /// walk are read once more by the next one (racily clean, as in git).
    func settle(_ s: SourceSnapshotter, _ src: String) throws -> SourceSnapshot {
        for _ in 0..<5 {
            let snap = try s.snapshot(localPath: src, subPath: nil)
            if snap.hashedFiles == 0 { return snap }
        }
        Issue.record("a folder nobody touched still had files to read after five snapshots")
        return try s.snapshot(localPath: src, subPath: nil)
    }

    /// The snapshot's files as `diff -r` sees them against `folder`.
    func expectSame(_ s: SourceSnapshotter, _ digest: Digest, as folder: String) throws {
        let out = tempDir()
        try s.restore(digest, into: try ConfinedDirectory(path: out))
        #expect(try Process.run("/usr/bin/diff", ["-r", "--no-dereference", folder, out]) == "")
    }

    @Test func aReSnapshotReadsOnlyTheFilesWhoseStatChanged() throws {
        let (src, s) = try fixture()
        let first = try s.snapshot(localPath: src, subPath: nil)
        #expect(first.hashedFiles == 201)
        #expect(first.files == 201)
        let settled = try settle(s, src)
        #expect(settled.digest == first.digest)

        try write(src + "/dir3/file13.txt", "changed\n")
        try write(src + "/dir4/new.txt", "new\n")
        try FileManager.default.removeItem(atPath: src + "/dir5/file15.txt")
        let changed = try s.snapshot(localPath: src, subPath: nil)
        #expect(changed.hashedFiles == 2)
        #expect(changed.files == 201)
        #expect(changed.digest != first.digest)
        // The digest is the manifest's: a fresh snapshot without an index gives the same.
        let copy = tempDir()
        _ = try Process.run("/bin/cp", ["-a", src + "/.", copy])
        #expect(try s.snapshot(localPath: copy, subPath: nil, indexed: false).digest == changed.digest)
        // The new snapshot is a delta on the first: its tree holds the two files and a whiteout.
        let chain = try #require(s.snapshots.chain(changed.digest))
        #expect(chain.count == 2)
        let delta = s.snapshots.treesPath + "/" + chain[1]
        let listed = try Process.run("/usr/bin/find", [delta, "-mindepth", "1", "-printf", "%P %y\n"]).split(separator: "\n").sorted()
        #expect(listed == ["dir3 d", "dir3/file13.txt f", "dir4 d", "dir4/new.txt f", "dir5 d", "dir5/file15.txt c"])
        try expectSame(s, changed.digest, as: src)
    }

    @Test func deltasFollowFoldersThatComeGoAndChangeKind() throws {
        let (src, s) = try fixture(count: 20)
        _ = try settle(s, src)
        try FileManager.default.removeItem(atPath: src + "/dir1")  // a folder goes
        try FileManager.default.removeItem(atPath: src + "/run.sh")
        try write(src + "/run.sh/inside.txt", "a folder where a file was\n")  // a file becomes a folder
        try FileManager.default.removeItem(atPath: src + "/dir2")
        try write(src + "/dir2", "a file where a folder was\n")  // a folder becomes a file
        chmod(src + "/dir3", 0o750)  // a folder's mode changes
        try FileManager.default.removeItem(atPath: src + "/first")
        symlink("dir3", src + "/first")  // a symlink points elsewhere
        let snap = try s.snapshot(localPath: src, subPath: nil)
        try expectSame(s, snap.digest, as: src)
        // overlayfs merges the chain into the same tree as the manifest says.
        let lowers = try #require(s.snapshots.lowerFolders(snap.digest))
        #expect(lowers.count == 2)
        let mnt = tempDir()
        let merged = try Process.run("/usr/bin/unshare", ["-Urm", "/bin/sh", "-c",
            "mount -t overlay overlay -o lowerdir=\(lowers.joined(separator: ":")),userxattr \(mnt) && diff -r --no-dereference \(src) \(mnt) && echo same"])
        #expect(merged.hasSuffix("same\n"))
    }

    @Test func aLongChainIsCompactedIntoABaseOfLinkedFiles() throws {
        let (src, s) = try fixture(count: 20)
        _ = try settle(s, src)
        var last = Digest.of("")
        for i in 1..<SnapshotStore.maxDepth {
            try write(src + "/dir0/edit.txt", "edit \(i)\n")
            last = try s.snapshot(localPath: src, subPath: nil).digest
        }
        #expect(s.snapshots.chain(last)?.count == SnapshotStore.maxDepth)
        try write(src + "/dir0/edit.txt", "one more\n")
        let compacted = try s.snapshot(localPath: src, subPath: nil)
        #expect(s.snapshots.chain(compacted.digest)?.count == 1)
        #expect(compacted.hashedFiles == 1)
        try expectSame(s, compacted.digest, as: src)
        // Unchanged files were linked from the trees below, not copied.
        var st = stat()
        let base = s.snapshots.treesPath + "/" + (s.snapshots.chain(compacted.digest)?[0] ?? "")
        #expect(lstat(base + "/dir1/file1.txt", &st) == 0 && st.st_nlink >= 2)
    }

    @Test func aSymlinkReplacingAFolderIsKeptAsASymlinkAndNeverFollowed() throws {
        let (src, s) = try fixture(count: 10)
        _ = try settle(s, src)
        try FileManager.default.removeItem(atPath: src + "/dir1")
        symlink("dir2", src + "/dir1")  // inside the source: allowed, and stored as a link
        let snap = try s.snapshot(localPath: src, subPath: nil)
        let out = tempDir()
        try s.restore(snap.digest, into: try ConfinedDirectory(path: out))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/dir1") == "dir2")
        // One pointing out of the source is refused, and changes nothing.
        try FileManager.default.removeItem(atPath: src + "/dir1")
        symlink("/etc", src + "/dir1")
        #expect(throws: RuntimeError.self) { try s.snapshot(localPath: src, subPath: nil) }
        #expect(try s.snapshot(localPath: src + "/dir2", subPath: nil).files == 1)
    }

    @Test func manifestsRoundTripAndRefuseDamage() throws {
        let m = SnapshotManifest(entries: [
            .init(path: "a", kind: .directory, mode: 0o40755),
            .init(path: "a/b c", kind: .file, mode: 0o104755, size: 3, digest: Digest.of("abc")),
            .init(path: "a-b", kind: .symlink, mode: 0o120777, target: "a/b c"),
        ])
        #expect(try SnapshotManifest(decoding: m.encoded()) == m)
        #expect(m.entries[1].mode == 0o755)  // no setuid in a source
        var damaged = m.encoded()
        damaged.removeLast(3)
        #expect(throws: RuntimeError.self) { try SnapshotManifest(decoding: damaged) }
        #expect(SnapshotManifest.precedes("a/b", "a-b") && SnapshotManifest.precedes("a", "a/b") && !SnapshotManifest.precedes("b", "a/z"))
    }

    @Test func theManifestsBytesAreUnchanged() throws {
        // A snapshot's digest is these bytes': an encoder that wrote others would rebuild every
        // image whose source did not change.
        let d = Digest.of("abc")
        let m = SnapshotManifest(entries: [
            .init(path: "a", kind: .directory, mode: 0o40755),
            .init(path: "a/b", kind: .file, mode: 0o100640, size: 1_234_567_890_123, digest: d),
            .init(path: "l", kind: .symlink, mode: 0o120777, target: "a/b"),
        ])
        let expected = "slipway-snapshot-manifest 1\nd 755 0 -\0a\0\0f 640 1234567890123 \(d.hex)\0a/b\0\0l 777 0 -\0l\0a/b\0"
        #expect(m.encoded() == Array(expected.utf8))
    }

    @Test func numbersAreWrittenAsStringWritesThem() {
        for v: Int64 in [0, 1, 7, 8, 9, 10, 511, -1, -1_000_000_007, Int64.max, Int64.min + 1] {
            var out: [UInt8] = []
            out.appendNumber(v)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
            #expect(parseDecimal(out[...]) == v)
            var octal: [UInt8] = []
            octal.appendNumber(v.magnitude, radix: 8)
            #expect(String(decoding: octal, as: UTF8.self) == String(v.magnitude, radix: 8))
        }
        var big: [UInt8] = []
        big.appendNumber(UInt64.max)
        #expect(String(decoding: big, as: UTF8.self) == String(UInt64.max))
        for bad in ["", "-", "1a", " 1", "99999999999999999999", "+1"] { #expect(parseDecimal(Array(bad.utf8)[...]) == nil) }
    }

    @Test func statIndexesRoundTripAndRefuseDamage() throws {
        var st = stat()
        st.st_mode = mode_t(S_IFREG | 0o644)
        st.st_size = 42
        st.st_ino = ino_t(UInt64.max - 5)
        st.st_mtim = timespec(tv_sec: 1_700_000_000, tv_nsec: 123)
        st.st_ctim = timespec(tv_sec: 1_800_000_000, tv_nsec: 0)
        let racy = SourceStatIndex.Entry(st, digest: Digest.of("x"), target: "", walkStarted: 0)  // ctime after the walk began: -1
        let clean = SourceStatIndex.Entry(st, digest: nil, target: "t a r", walkStarted: Int64.max)
        #expect(racy.ctime == -1)
        let index = SourceStatIndex(snapshot: Digest.of("s"), entries: ["a/b": racy, "c d": clean])
        let back = try #require(SourceStatIndex(decoding: index.encoded()))
        #expect(back.snapshot == index.snapshot)
        #expect(Set(back.entries.keys) == ["a/b", "c d"])
        for (k, e) in index.entries {
            let b = try #require(back.entries[k])
            #expect((b.mode, b.size, b.mtime, b.ctime, b.inode) == (e.mode, e.size, e.mtime, e.ctime, e.inode))
            #expect(b.digest == e.digest && b.target == e.target)
        }
        var damaged = index.encoded()
        damaged.removeLast(2)
        #expect(SourceStatIndex(decoding: damaged) == nil)
        let text = String(decoding: index.encoded(), as: UTF8.self).replacingOccurrences(of: " 42 ", with: " 4x2 ")
        #expect(SourceStatIndex(decoding: Array(text.utf8)) == nil)
    }

    @Test func theDecodedIndexAndManifestAreKeptOnlyWhileTheirFilesAreTheSame() throws {
        let (src, s) = try fixture(count: 20)
        let first = try s.snapshot(localPath: src, subPath: nil)
        let indexFile = s.snapshots.root + "/index/" + Digest.of((SourceSnapshotter.realPath(src) ?? src) + "\u{0}").hex
        // Right after a snapshot, its index and manifest are in memory: the next edit reads
        // neither file.
        #expect(SnapshotMemo.index(at: indexFile)?.snapshot == first.digest)
        #expect(SnapshotMemo.manifest(first.digest) != nil)
        #expect(try s.snapshots.manifest(first.digest) == SnapshotManifest(decoding: Array(try s.store.read(first.digest, maxBytes: 1 << 20))))
        // An index file replaced behind the engine's back is read again, not taken from memory:
        // here a damaged one, so every file is read again.
        try write(indexFile, "slipway-stat-index 1 damaged\n")
        #expect(SnapshotMemo.index(at: indexFile) == nil)
        let again = try s.snapshot(localPath: src, subPath: nil)
        #expect(again.hashedFiles == first.files)
        #expect(again.digest == first.digest)
        #expect(SnapshotMemo.index(at: indexFile)?.snapshot == again.digest)
    }
}
