import Foundation
import Testing
@testable import BuildRuntime

func tempDir() -> String {
    let p = NSTemporaryDirectory() + "slipway-rt-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

func write(_ path: String, _ text: String, mode: Int = 0o644) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, mode_t(mode))
}

@Suite struct TarWriterTests {
    func tarDigest(_ dir: String, store: ContentStore) throws -> Digest {
        let w = try store.writer()
        let t = TarWriter(out: w)
        try t.addTree(dir, prefix: "app/", owner: .init(uid: 1000, gid: 1000))
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
        try tar.addTree(src, prefix: "")
        try tar.finish()
        let (digest, _) = try w.commit()
        let listing = try Process.run("/usr/bin/tar", ["-tvf", store.path(digest)])
        #expect(listing.contains(long150))
        #expect(listing.contains(long300))
        #expect(listing.contains("link -> " + String(repeating: "t", count: 150)))
        #expect(listing.contains("1980-01-01"))
    }
}

@Suite struct ExtractorTests {
    @Test func sourcePolicyRefusesWritingThroughASymlink() throws {
        let root = tempDir()
        symlink("/tmp", root + "/out")
        let x = ArchiveExtractor(policy: .source)
        #expect(throws: RuntimeError.self) { try x.resolveInside(root: root, relative: "out/file", createMissing: true) }
    }

    @Test func imageLayerPolicyResolvesSymlinksInsideTheRoot() throws {
        let root = tempDir()
        try FileManager.default.createDirectory(atPath: root + "/usr/lib", withIntermediateDirectories: true)
        symlink("usr/lib", root + "/lib")
        symlink("/../../../..", root + "/evil")
        let x = ArchiveExtractor(policy: .imageLayer)
        #expect(try x.resolveInside(root: root, relative: "lib/libc.so", createMissing: true) == root + "/usr/lib/libc.so")
        #expect(try x.resolveInside(root: root, relative: "evil/etc", createMissing: true) == root + "/etc")
    }

    @Test func aLayerMissingOnlyItsFinalPaddingIsReadButCutDataIsNot() throws {
        let dir = tempDir()
        // A tar whose last file has 190 bytes of data: cut after the data (no padding, no
        // end blocks), and cut inside the data.
        let script = """
            import io, tarfile
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
                info = tarfile.TarInfo("dir/file"); data = b"x" * 190; info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            raw = buf.getvalue()
            open("\(dir)/no-padding.tar", "wb").write(raw[:512 + 190])
            open("\(dir)/cut-data.tar", "wb").write(raw[:512 + 100])
            """
        _ = try Process.run("/usr/bin/env", ["python3", "-c", script])
        let ok = try ArchiveExtractor(policy: .imageLayer).extract(archiveAt: dir + "/no-padding.tar", into: dir + "/a")
        #expect(ok.entries == 1)
        #expect(try String(contentsOfFile: dir + "/a/dir/file", encoding: .utf8).count == 190)
        #expect(throws: RuntimeError.self) { try ArchiveExtractor(policy: .imageLayer).extract(archiveAt: dir + "/cut-data.tar", into: dir + "/b") }
    }

    @Test func symlinkTargetsAreCheckedLexically() throws {
        let x = ArchiveExtractor(policy: .source)
        try x.checkSymlinkStaysInside(relative: "a/b/link", target: "../c", entryName: "l")
        #expect(throws: RuntimeError.self) { try x.checkSymlinkStaysInside(relative: "a/link", target: "../../x", entryName: "l") }
        #expect(throws: RuntimeError.self) { try x.checkSymlinkStaysInside(relative: "link", target: "/etc/passwd", entryName: "l") }
    }
}

@Suite struct IgnoreRulesTests {
    @Test func gitignoreSyntax() {
        let r = IgnoreRules("""
            # comment
            *.log
            /build/
            docs/**/*.md
            !keep.log
            tmp
            """)
        #expect(r.ignores("a.log", isDirectory: false))
        #expect(r.ignores("deep/x/a.log", isDirectory: false))
        #expect(!r.ignores("keep.log", isDirectory: false))
        #expect(r.ignores("build", isDirectory: true))
        #expect(!r.ignores("build", isDirectory: false))
        #expect(!r.ignores("src/build", isDirectory: true))
        #expect(r.ignores("docs/a/b/c.md", isDirectory: false))
        #expect(r.ignores("docs/c.md", isDirectory: false))
        #expect(r.ignores("x/tmp", isDirectory: true))
        #expect(!r.ignores("main.swift", isDirectory: false))
    }

    @Test func folderWithASymlinkOutOfItIsRefusedUnlessIgnored() throws {
        let src = tempDir(), s = tempDir()
        let store = try ContentStore(root: URL(fileURLWithPath: s))
        try write(src + "/app.sh", "echo")
        symlink("app.sh", src + "/inside")
        symlink("/etc/passwd", src + "/outside")
        #expect(throws: RuntimeError.self) { try SourceSnapshotter(store: store).snapshot(localPath: src, subPath: nil) }
        try write(src + "/.slipwayignore", "outside\n")
        _ = try SourceSnapshotter(store: store).snapshot(localPath: src, subPath: nil)
    }

    @Test func snapshotSkipsGitAndIgnoredFiles() throws {
        let src = tempDir(), s = tempDir()
        let store = try ContentStore(root: URL(fileURLWithPath: s))
        try write(src + "/app.sh", "echo")
        try write(src + "/.git/HEAD", "ref")
        try write(src + "/debug.log", "noise")
        try write(src + "/.slipwayignore", "*.log\n")
        let snap = try SourceSnapshotter(store: store).snapshot(localPath: src, subPath: nil)
        let listing = try Process.run("/usr/bin/tar", ["-tf", store.path(snap.digest)])
        #expect(listing.contains("app.sh"))
        #expect(!listing.contains(".git"))
        #expect(!listing.contains("debug.log"))
        // The same content elsewhere is the same snapshot.
        let copy = tempDir()
        try write(copy + "/app.sh", "echo")
        try write(copy + "/.slipwayignore", "*.log\n")
        #expect(try SourceSnapshotter(store: store).snapshot(localPath: copy, subPath: nil).digest == snap.digest)
    }
}

extension Process {
    static func run(_ exe: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: d, as: UTF8.self)
    }
}
