import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

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
        let listing = try SnapshotStore(content: store).manifest(snap.digest).entries.map(\.path)
        #expect(listing == [".slipwayignore", "app.sh"])
        // The same content elsewhere is the same snapshot.
        let copy = tempDir()
        try write(copy + "/app.sh", "echo")
        try write(copy + "/.slipwayignore", "*.log\n")
        #expect(try SourceSnapshotter(store: store).snapshot(localPath: copy, subPath: nil).digest == snap.digest)
    }
}
