import Foundation
import JSONRPC
import Testing
import TestSupport

/// A new source snapshot's build context links the files the last context had the same
/// (path, content, mode), and writes the rest: the image holds exactly the new source. A
/// context links the snapshot's own files where they are already the step namespace root's.
@Suite struct DockerfileContextReuseTests {
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aChangedSourceLinksWhatDidNotChange() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let app = TempDir("reuseapp")
        try "FROM scratch\nCOPY . /ctx/\n".write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        for i in 0..<20 { try "file \(i)\n".write(toFile: app.path + "/f\(i).txt", atomically: true, encoding: .utf8) }
        try FileManager.default.createDirectory(atPath: app.path + "/sub", withIntermediateDirectories: true)
        try "deep\n".write(toFile: app.path + "/sub/deep.txt", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "r", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        #expect(try await c.call("build/wait", ["image": "r", "build": 1])["status"] == "SUCCESS")
        // One file changed, one removed, one added, one made executable (same content).
        try "file 3, changed\n".write(toFile: app.path + "/f3.txt", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: app.path + "/f4.txt")
        try "new\n".write(toFile: app.path + "/added.txt", atomically: true, encoding: .utf8)
        chmod(app.path + "/f5.txt", 0o755)
        _ = try await c.call("image/patch", ["name": "r", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "r", "build": 2])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "r", "build": 2])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        // 17 of the 20 (not f3, f4 or f5), the Dockerfile and sub/deep.txt are the same.
        #expect(lines.contains { $0.contains("unpacked (19 unchanged file(s) linked from the last context)") }, "\(lines)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/r")
        let ctx = image.rootfs + "/ctx"
        #expect(try String(contentsOfFile: ctx + "/f3.txt", encoding: .utf8) == "file 3, changed\n")
        #expect(!FileManager.default.fileExists(atPath: ctx + "/f4.txt"))
        #expect(try String(contentsOfFile: ctx + "/added.txt", encoding: .utf8) == "new\n")
        #expect(try String(contentsOfFile: ctx + "/f7.txt", encoding: .utf8) == "file 7\n")
        #expect(try String(contentsOfFile: ctx + "/sub/deep.txt", encoding: .utf8) == "deep\n")
        var st = stat()
        #expect(lstat(ctx + "/f5.txt", &st) == 0 && st.st_mode & 0o777 == 0o755, "mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(lstat(ctx + "/f6.txt", &st) == 0 && st.st_mode & 0o777 == 0o644)
    }

    /// The context links the snapshot trees' files and a COPY links them on into its layer
    /// folder: its bytes are written once, as the layer's tar. Run by a user who is not root,
    /// that user is the step namespace's root; run as root, the layer folder keeps the
    /// namespace's own ids (`<diffID>.inner`), which steps see through an id-mapped mount.
    /// Either way no tree file changes owner or mode.
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func theContextAndACopyLinkTheSnapshotFiles() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let app = TempDir("linkapp")
        try "FROM scratch\nCOPY data /data/\n".write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: app.path + "/data", withIntermediateDirectories: true)
        let bytes = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try bytes.write(to: URL(fileURLWithPath: app.path + "/data/big.bin"))
        chmod(app.path + "/data/big.bin", 0o644)
        _ = try await c.call("image/create", ["name": "l", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "l", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        // The file in the snapshot's tree, the build context and the COPY's layer folder.
        func found(under folder: String) throws -> [stat] {
            try FileManager.default.contentsOfDirectory(atPath: folder).compactMap { name in
                var st = stat()
                return lstat(folder + "/" + name + "/data/big.bin", &st) == 0 ? st : nil
            }
        }
        let trees = try found(under: state.path + "/snapshots/trees")
        let contexts = try found(under: state.path + "/dockerfile/contexts/default")
        let layers = try found(under: state.path + "/dockerfile/layers")
        try #require(trees.count == 1 && contexts.count == 1 && layers.count == 1, "\(trees.count) \(contexts.count) \(layers.count)")
        #expect(trees[0].st_uid == getuid() && trees[0].st_gid == getgid() && trees[0].st_mode & 0o7777 == 0o644)
        #expect(contexts[0].st_ino == trees[0].st_ino, "the context copied the snapshot's file")
        #expect(layers[0].st_ino == trees[0].st_ino, "the COPY's layer folder copied the file")
        #expect(trees[0].st_nlink == 3)
        if getuid() == 0 {
            let names = try FileManager.default.contentsOfDirectory(atPath: state.path + "/dockerfile/layers").filter { $0.hasSuffix(".inner") }
            #expect(names.count == 1, "\(names)")
        }
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/l")
        #expect(FileManager.default.contents(atPath: image.rootfs + "/data/big.bin") == bytes)
    }

    /// A RUN after such a COPY sees the copied files as root's with their modes, reads one only
    /// root may read, and changes, chmods and deletes them: each change lands in the step's own
    /// layer, and the snapshot's files, the same inodes as the COPY's layer, stay as they were.
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aStepChangesCopiedFilesOnlyInItsOwnLayer() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        let app = TempDir("stepapp")
        try FileManager.default.createDirectory(atPath: app.path + "/data", withIntermediateDirectories: true)
        let files: [(String, String, mode_t)] = [("open.txt", "shared\n", 0o644), ("secret.txt", "secret\n", 0o600), ("gone.txt", "doomed\n", 0o640)]
        for (name, text, mode) in files {
            try text.write(toFile: app.path + "/data/" + name, atomically: true, encoding: .utf8)
            chmod(app.path + "/data/" + name, mode)
        }
        try ("FROM oci:\(base.path)/oci:run\nCOPY data /data/\n"
            + "RUN ls -ln /data/open.txt /data/secret.txt | tr -s ' ' | cut -d' ' -f1,3,4 > /owners && cat /data/secret.txt > /read"
            + " && echo changed >> /data/open.txt && chmod 0640 /data/secret.txt && rm /data/gone.txt\n"
            + "RUN ls -ln /data/secret.txt | tr -s ' ' | cut -d' ' -f1,3,4 > /after\n").write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "s", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "s", "build": 1])
        let log = try await c.logLines("s")
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b)) \(log)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/s")
        func read(_ path: String) -> String? { try? String(contentsOfFile: image.rootfs + path, encoding: .utf8) }
        #expect(read("/owners") == "-rw-r--r-- 0 0\n-rw------- 0 0\n")
        #expect(read("/read") == "secret\n")
        #expect(read("/data/open.txt") == "shared\nchanged\n")
        #expect(read("/after") == "-rw-r----- 0 0\n")
        #expect(!FileManager.default.fileExists(atPath: image.rootfs + "/data/gone.txt"))
        // The snapshot's files: as they were, and still shared with the COPY's layer folder.
        let trees = state.path + "/snapshots/trees"
        for tree in try FileManager.default.contentsOfDirectory(atPath: trees) {
            for (name, text, mode) in files {
                var st = stat()
                try #require(lstat(trees + "/" + tree + "/data/" + name, &st) == 0)
                #expect(try String(contentsOfFile: trees + "/" + tree + "/data/" + name, encoding: .utf8) == text)
                #expect(st.st_uid == getuid() && st.st_gid == getgid() && st.st_mode & 0o7777 == mode && st.st_nlink == 3, "\(name): \(st)")
            }
        }
    }
}
