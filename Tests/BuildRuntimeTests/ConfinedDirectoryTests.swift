import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// The descriptor-based file operations every host-side reader of a step's tree uses: no
/// symlink is followed on any component, nothing leaves the folder, files the host writes are
/// created fresh, and reads are typed and capped. Both resolution mechanisms are tested.
@Suite struct ConfinedDirectoryTests {
    /// A tree a hostile step could have left: symlinks to host files and folders, a FIFO, a
    /// large file, and a real nested file.
    func hostileTree() throws -> (tree: String, host: String) {
        let host = tempDir()
        try write(host + "/secret", "host secret")
        let tree = tempDir()
        try write(tree + "/real/nested/file", "inside")
        symlink(host + "/secret", tree + "/link-to-file")
        symlink(host, tree + "/link-to-folder")
        symlink("real", tree + "/relative-link")
        mkfifo(tree + "/fifo", 0o644)
        try write(tree + "/big", String(repeating: "x", count: 300_000))
        return (tree, host)
    }

    @Test(arguments: [true, false])
    func noSymlinkIsFollowedOnAnyComponent(openat2: Bool) throws {
        if openat2 && !BeneathPath.kernelHasOpenat2 { return }
        let (tree, _) = try hostileTree()
        let dir = try ConfinedDirectory(path: tree)
        func open(_ rel: String) throws -> Int32 {
            try BeneathPath.openBeneath(dir.fd, rel, flags: O_RDONLY, useOpenat2: openat2)
        }
        let ok = try open("real/nested/file")
        close(ok)
        for (path, kind) in [("link-to-file", ConfinedPathError.Kind.symlink), ("link-to-folder/secret", .symlink),
                             ("relative-link/nested/file", .symlink), ("../x", .escapes), ("/etc/passwd", .escapes),
                             ("real/../../x", .escapes), ("missing/file", .missing)]
        {
            #expect(throws: ConfinedPathError(kind, path), "\(path)") { _ = try open(path) }
        }
    }

    /// overlayfs leaves a work folder of mode 000; as a user who is not root it must still go,
    /// and a symlink where such a folder was is removed, never followed.
    @Test func aFolderOfOursWithoutPermissionsIsRemovedAndASymlinkNeverFollowed() throws {
        let root = tempDir(), outside = tempDir()
        try write(root + "/w/work/inner/file", "x")
        try write(outside + "/kept", "x")
        chmod(root + "/w/work/inner", 0)
        chmod(root + "/w/work", 0)
        chmod(outside, 0o750)
        symlink(outside, root + "/w/link")
        try ConfinedDirectory.removeTree(atPath: root + "/w")
        #expect(!FileManager.default.fileExists(atPath: root + "/w"))
        #expect(FileManager.default.fileExists(atPath: outside + "/kept"))
        var st = stat()
        #expect(stat(outside, &st) == 0 && st.st_mode & 0o777 == 0o750, "the folder a symlink pointed to kept its mode")
    }

    @Test func readsAreTypedAndCapped() throws {
        let (tree, _) = try hostileTree()
        let dir = try ConfinedDirectory(path: tree, displayPath: "/layers")
        #expect(try dir.readText("real/nested/file", maxBytes: 100) == "inside")
        // A FIFO is refused without blocking; a folder and a symlink are refused too.
        #expect(throws: ConfinedPathError(.wrongType("a FIFO"), "/layers/fifo")) { _ = try dir.readFile("fifo", maxBytes: 100) }
        #expect(throws: ConfinedPathError(.wrongType("a folder"), "/layers/real")) { _ = try dir.readFile("real", maxBytes: 100) }
        #expect(throws: ConfinedPathError(.symlink, "/layers/link-to-file")) { _ = try dir.readFile("link-to-file", maxBytes: 100) }
        #expect(throws: ConfinedPathError(.tooLarge(limit: 1000), "/layers/big")) { _ = try dir.readFile("big", maxBytes: 1000) }
    }

    @Test func writesCreateFreshFilesAndNeverWriteThroughALink() throws {
        let (tree, host) = try hostileTree()
        let dir = try ConfinedDirectory(path: tree)
        #expect(throws: ConfinedPathError.self) { try dir.createFile("link-to-file", contents: Array("pwned".utf8)) }
        #expect(throws: ConfinedPathError.self) { try dir.createFile("link-to-folder/new", contents: Array("pwned".utf8)) }
        #expect(throws: ConfinedPathError.self) { _ = try dir.makeDirectories("link-to-folder/sub") }
        #expect(try String(contentsOfFile: host + "/secret", encoding: .utf8) == "host secret")
        #expect(!FileManager.default.fileExists(atPath: host + "/new"))
        #expect(!FileManager.default.fileExists(atPath: host + "/sub"))
        try dir.createFile("real/fresh", contents: Array("ok".utf8))
        #expect(throws: ConfinedPathError(.alreadyExists, tree + "/real/fresh")) { try dir.createFile("real/fresh", contents: []) }
    }

    @Test func removeAndCopyTreatSymlinksAsEntries() throws {
        let (tree, host) = try hostileTree()
        let dir = try ConfinedDirectory(path: tree)
        let copy = try ConfinedDirectory(path: tempDir())
        for name in try dir.entries() { try dir.copy(name, to: copy, as: name) }
        #expect(try copy.readLink("link-to-folder") == host)
        #expect(try copy.status("fifo") == nil)  // special files are left out
        #expect(try copy.readText("real/nested/file", maxBytes: 10) == "inside")
        try dir.removeContents()
        #expect(try dir.entries().isEmpty)
        #expect(try String(contentsOfFile: host + "/secret", encoding: .utf8) == "host secret")
        try ConfinedDirectory.removeTree(atPath: tree)
        #expect(!FileManager.default.fileExists(atPath: tree))
    }

    @Test func pathSyntaxNeverTouchesTheFileSystem() {
        #expect(PathSyntax.normalizedAbsolute("/a/./b/../../../c//d") == "/c/d")
        #expect(PathSyntax.lastComponent("a") == "a")
        #expect(PathSyntax.lastComponent("/") == "")
        #expect(PathSyntax.shortened(String(repeating: "é", count: 300), limit: 256).utf8.count <= 256 + 3)
    }
}
