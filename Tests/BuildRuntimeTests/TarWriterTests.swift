import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

@Suite struct TarWriterTests {
    func tarDigest(_ dir: String, store: ContentStore) throws -> Digest {
        let w = try store.writer()
        let t = TarWriter(out: w)
        try t.addTree(try ConfinedDirectory(path: dir), prefix: "app/", owner: .init(uid: 1000, gid: 1000))
        try t.finish()
        return try w.commit().digest
    }

    @Test func sameFilesGiveTheSameDigestWhateverTheirTimesAndCreationOrder() throws {
        let a = tempDir(), b = tempDir(), s = tempDir()
        let store = try ContentStore(root: URL(fileURLWithPath: s))
        try write(a + "/z.txt", "z")
        try write(a + "/dir/x.sh", "#!/bin/sh\n", mode: 0o755)
        try write(b + "/dir/x.sh", "#!/bin/sh\n", mode: 0o755)
        try write(b + "/z.txt", "z")
        var t = timespec(tv_sec: 1_000_000, tv_nsec: 0)
        var times = [t, t]
        utimensat(AT_FDCWD, b + "/z.txt", &times, 0)
        t.tv_sec = 5
        #expect(try tarDigest(a, store: store) == tarDigest(b, store: store))
        try write(b + "/z.txt", "changed")
        #expect(try tarDigest(a, store: store) != tarDigest(b, store: store))
    }

    @Test func longNamesAndSymlinksAreReadBackByGNUTar() throws {
        let src = tempDir(), s = tempDir()
        let store = try ContentStore(root: URL(fileURLWithPath: s))
        let long150 = String(repeating: "d", count: 60) + "/" + String(repeating: "e", count: 60) + "/" + String(repeating: "f", count: 28) + ".txt"
        let long300 = (0..<6).map { _ in String(repeating: "g", count: 49) }.joined(separator: "/") + "/h.txt"
        try write(src + "/" + long150, "one")
        try write(src + "/" + long300, "two")
        symlink(String(repeating: "t", count: 150), src + "/link")
        let w = try store.writer()
        let tar = TarWriter(out: w)
        try tar.addTree(try ConfinedDirectory(path: src), prefix: "")
        try tar.finish()
        let (digest, _) = try w.commit()
        let listing = try Process.run("/usr/bin/tar", ["-tvf", store.path(digest)])
        #expect(listing.contains(long150))
        #expect(listing.contains(long300))
        #expect(listing.contains("link -> " + String(repeating: "t", count: 150)))
        #expect(listing.contains("1980-01-01"))
    }
}
