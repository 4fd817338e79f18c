import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// `LayerChainView.resolve`: a path resolved inside a stage's layers as a container resolves it
/// in its root, which is where Dockerfile mount sources and targets are looked up: symlinks
/// followed inside the view (an absolute one from its root, `..` never above it), what is
/// missing taken as written, loops and files in the way refused.
@Suite struct LayerChainViewTests {
    /// Two layers: the lower with links of every kind, the upper hiding one of them.
    func view() throws -> LayerChainView {
        let lower = tempDir(), upper = tempDir()
        try write(lower + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        try write(lower + "/file.txt", "a file")
        try FileManager.default.createDirectory(atPath: lower + "/deep/er", withIntermediateDirectories: true)
        symlink("/etc", lower + "/abs")
        symlink("../../..", lower + "/deep/er/up")
        symlink("/", lower + "/root")
        symlink("loop2", lower + "/loop1")
        symlink("/loop1", lower + "/loop2")
        symlink("/nowhere/at/all", lower + "/dangling")
        symlink("/etc", lower + "/hidden")
        try write(upper + "/.wh.hidden", "")  // a whiteout: the upper layer deleted it
        return LayerChainView(folders: [try ConfinedDirectory(path: upper), try ConfinedDirectory(path: lower)])
    }

    @Test func symlinksResolveInsideTheView() throws {
        let v = try view()
        let viaAbsolute = try v.resolve("abs/passwd")
        #expect(viaAbsolute.components == ["etc", "passwd"] && viaAbsolute.existing == 2)
        if case .file? = viaAbsolute.node {} else { Issue.record("\(String(describing: viaAbsolute.node))") }
        // `..` past the root stays at the root, as in a container: never the host's.
        #expect(try v.resolve("deep/er/up/etc").components == ["etc"])
        #expect(try v.resolve("/deep/er/up/../../../root/root/abs").absolute == "/etc")
        let root = try v.resolve("root")
        #expect(root.components.isEmpty && root.absolute == "/")
        if case .directory? = root.node {} else { Issue.record("the root is a folder") }
        #expect(try v.resolve("abs", followLast: false).components == ["abs"])
    }

    @Test func whatIsMissingIsTakenAsWritten() throws {
        let v = try view()
        let missing = try v.resolve("abs/new/dir")
        #expect(missing.components == ["etc", "new", "dir"] && missing.existing == 1 && missing.node == nil)
        let dangling = try v.resolve("dangling/x")
        #expect(dangling.absolute == "/nowhere/at/all/x" && dangling.existing == 0)
        // A component back from a missing one exists again.
        let back = try v.resolve("nothing/../etc")
        #expect(back.components == ["etc"] && back.existing == 1)
        // A whiteout hides what is below it.
        #expect(try v.resolve("hidden").node == nil)
    }

    @Test func loopsAndFilesInTheWayAreRefused() throws {
        let v = try view()
        #expect(throws: LayerChainView.ResolutionError.self) { try v.resolve("loop1") }
        #expect(throws: LayerChainView.ResolutionError.self) { try v.resolve("file.txt/x") }
        #expect(throws: LayerChainView.ResolutionError.self) { try v.resolve("abs/passwd/x") }
    }
}
