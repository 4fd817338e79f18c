import CLinuxSyscalls
import Foundation
import Synchronization
import Testing
@testable import BuildRuntime
import TestSupport

/// A build step, buildpack, source or archive can make a folder tree deep enough to run any
/// recursive walk out of stack (25,000 levels crashed the engine in the layer diff, at export,
/// and at every garbage collection after). Every walk of such a tree is iterative: a walk that
/// reads a tree (a layer, a copy, a snapshot) fails past `TreeLimits` with `TreeLimitExceeded`;
/// removal and measuring never fail because of depth. Ordinary trees give the bytes they gave
/// before the walks were rewritten.
@Suite(.serialized) struct DeepTreeTests {
    /// Deeper than the ~15,000 frames a recursive walk overflowed at on a 4 MB stack.
    static let deep = 25_000

    /// Makes `levels` nested folders `d` in `path`, with the file `bottom` (one byte) in the
    /// last, going down by descriptor so that no path is ever longer than one name.
    static func makeDeepTree(in path: String, levels: Int) throws {
        var fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        for _ in 0..<levels {
            guard mkdirat(fd, "d", 0o755) == 0 else { throw TestFailure("mkdirat: \(String(cString: strerror(errno)))") }
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            close(fd)
            fd = next
        }
        let file = openat(fd, "bottom", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        _ = write(file, "x", 1)
        close(file)
        close(fd)
    }

    /// A new folder for deep trees: in memory (`/dev/shm`) where there is one, since making
    /// and removing 25,000 folders on a disk file system takes tens of seconds on a busy machine.
    static func scratch() -> String {
        guard access("/dev/shm", W_OK) == 0 else { return tempDir() }
        let p = "/dev/shm/slipway-rt-" + UUID().uuidString
        mkdir(p, 0o755)
        return p
    }

    /// A folder holding a tree `levels` deep.
    static func deepFolder(_ levels: Int = deep) throws -> String {
        let dir = scratch()
        try makeDeepTree(in: dir, levels: levels)
        return dir
    }

    /// Expects `body` to stop at the depth limit, in the tree called `tree`.
    static func expectDepthLimit(_ tree: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("a tree \(deep) levels deep was walked to the end", sourceLocation: sourceLocation)
        } catch let e as TreeLimitExceeded {
            #expect(e.limit == .depth(TreeLimits.default.maxDepth), sourceLocation: sourceLocation)
            #expect(e.tree == tree, sourceLocation: sourceLocation)
            #expect(e.path.hasPrefix("d/d/d/") && e.path.utf8.count < 200, "\(e.path)", sourceLocation: sourceLocation)
            #expect(e.description.hasPrefix("\(tree) holds folders nested more than 1024 levels deep (at d/d/d/"), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected TreeLimitExceeded, got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func theLayerOfAStepThatMadeADeepTreeFailsWithTheLimitAndAShallowerOneIsWritten() throws {
        let store = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let upper = try Self.deepFolder()
        defer { try? ConfinedDirectory.removeTree(atPath: upper) }  // a test's scratch
        Self.expectDepthLimit("the step's changes") {
            try OverlayDiff.write(upper: try ConfinedDirectory(path: upper), mapping: .root, into: TarWriter(out: try store.writer()))
        }

        let shallow = try Self.deepFolder(1000)
        defer { try? ConfinedDirectory.removeTree(atPath: shallow) }  // a test's scratch
        let tar = TarWriter(out: try store.writer())
        let summary = try OverlayDiff.write(upper: try ConfinedDirectory(path: shallow), mapping: .root, into: tar)
        #expect(summary.entries == 1001)
    }

    @Test func everyWalkOfADeepTreeStopsAtTheLimit() throws {
        let state = tempDir()
        let store = try ContentStore(root: URL(fileURLWithPath: state))
        let tree = try Self.deepFolder()
        defer { try? ConfinedDirectory.removeTree(atPath: tree) }  // a test's scratch
        let top = try ConfinedDirectory(path: tree, displayPath: "/layers/bp/deep")

        Self.expectDepthLimit("/layers/bp/deep") { try TarWriter(out: try store.writer()).addTree(top, prefix: "x/") }
        Self.expectDepthLimit("/workspace") {
            try AppLayerWriter.write(manifest: SnapshotManifest(entries: []), trees: nil, upper: top, prefix: "workspace/",
                                     owner: .root, into: TarWriter(out: try store.writer()))
        }
        let copies = tempDir()
        Self.expectDepthLimit("/layers/bp/deep/d") { try top.copy("d", to: try ConfinedDirectory(path: copies), as: "copy") }
        Self.expectDepthLimit("the layers the step runs on") {
            _ = try CopySnapshot.copy(LayerChainView(folders: [top]), into: try ConfinedDirectory(path: copies + "/root", create: true))
        }
        Self.expectDepthLimit("/workspace") {
            _ = try ProjectDescriptor.parse("[_]\nschema-version = \"0.2\"\n[io.buildpacks]\ninclude = [\"bottom\"]\n").filter(top)
        }
        Self.expectDepthLimit("the source") {
            _ = try SourceSnapshotter(store: store).snapshots.snapshot(folder: top, indexKey: nil, maxBytes: 1 << 30, include: { _, _ in true }) { _, _, _ in }
        }
        // A source that deep is the caller's mistake: a clear error about their input.
        do {
            _ = try SourceSnapshotter(store: store).snapshot(localPath: tree, subPath: nil)
            Issue.record("a source \(Self.deep) levels deep was snapshotted")
        } catch let e as RuntimeError {
            #expect(e.kind == .invalidInput)
            #expect(e.message.hasPrefix("the source holds folders nested more than 1024 levels deep (at d/d/d/"), "\(e)")
            #expect(e.message.hasSuffix("leave the rest out with .slipwayignore"), "\(e)")
        }
        // What the walks left behind goes, however deep.
        try ConfinedDirectory.removeTree(atPath: copies)
        #expect(access(copies, F_OK) != 0)
    }

    @Test func removalTakesATreeOfAnyDepth() throws {
        let tree = try Self.deepFolder()
        try ConfinedDirectory.removeTree(atPath: tree)
        #expect(access(tree, F_OK) != 0)

        // And one in a folder that is kept: only what is in it goes.
        let kept = Self.scratch()
        defer { try? ConfinedDirectory.removeTree(atPath: kept) }  // a test's scratch
        try Self.makeDeepTree(in: kept, levels: Self.deep)
        try ConfinedDirectory(path: kept).removeContents()
        #expect(try FileManager.default.contentsOfDirectory(atPath: kept) == [])
    }

    /// A step folder a dead build left (`DockerfileStateCollector` sweeps `.steps/*`) went at
    /// every collection through `GarbageCollector.remove`, which measured it and then removed
    /// it recursively: out of stack, so every `system/gc` crashed the engine.
    @Test func aGarbageCollectionRemovesADeepLeftoverStepFolder() throws {
        let root = Self.scratch()
        defer { try? ConfinedDirectory.removeTree(atPath: root) }  // a test's scratch
        let step = root + "/layers/\(OverlayStepRunner.steps)/step-1"
        try FileManager.default.createDirectory(atPath: step, withIntermediateDirectories: true)
        try Self.makeDeepTree(in: step, levels: Self.deep)
        let gc = GarbageCollector(started: Date().addingTimeInterval(5), dryRun: false)

        let measured = GarbageCollector.measure(step)
        #expect(measured.count == 1 && measured.bytes == 0, "what lies below the depth limit is not counted")
        let shallow = try Self.deepFolder(100)
        #expect(GarbageCollector.measure(shallow).bytes == 1)
        #expect(gc.remove(shallow).count == 1)
        #expect(access(shallow, F_OK) != 0)

        let (_, freed) = DockerfileStateCollector(root: root, images: [:]).collect(keeping: [], with: gc)
        #expect(freed.count == 1)
        #expect(access(step, F_OK) != 0)
    }

    /// A watched source folder with a deep tree in it: the watcher starts (its descent ends
    /// where paths get longer than the system takes) and sees a change.
    @Test func aDeepSourceFolderIsWatched() async throws {
        let source = try Self.deepFolder()
        defer { try? ConfinedDirectory.removeTree(atPath: source) }  // a test's scratch
        let changed = Atomic(false)
        let watcher = try FolderWatcher(root: source, debounce: 0.05) { changed.store(true, ordering: .relaxed) }
        defer { watcher.stop() }
        try write(source + "/d/new.txt", "x")
        let deadline = Date().addingTimeInterval(20)
        while !changed.load(ordering: .relaxed) && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let seen = changed.load(ordering: .relaxed)
        #expect(seen, "a change in a watched folder with a tree \(Self.deep) levels deep")
    }

    @Test func theEntryLimitHolds() throws {
        let dir = tempDir()
        for i in 0..<20 { try write(dir + "/f\(i)", "x") }
        let store = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        #expect(throws: TreeLimitExceeded(tree: "the step's changes", limit: .entries(10), path: "")) {
            try OverlayDiff.write(upper: try ConfinedDirectory(path: dir), mapping: .root, into: TarWriter(out: try store.writer()),
                                  limits: TreeLimits(maxDepth: 10, maxEntries: 10))
        }
    }

    /// The depth limit allows a tree exactly `maxDepth` levels deep, and counts levels the same
    /// in every walk.
    @Test func aTreeAtTheDepthLimitIsWalked() throws {
        let tree = try Self.deepFolder(4)  // d/d/d/d/bottom: five levels
        defer { try? ConfinedDirectory.removeTree(atPath: tree) }  // a test's scratch
        let limits = TreeLimits(maxDepth: 5, maxEntries: 100)
        var visited: [String] = []
        try TreeWalker("t", limits: limits).walk(try ConfinedDirectory(path: tree)) { e in
            visited.append(e.path)
            return e.type == S_IFDIR ? try e.folder.openDirectory(e.name) : nil
        }
        #expect(visited == ["d", "d/d", "d/d/d", "d/d/d/d", "d/d/d/d/bottom"])
        #expect(throws: TreeLimitExceeded(tree: "t", limit: .depth(4), path: "d/d/d/d/bottom")) {
            try TreeWalker("t", limits: TreeLimits(maxDepth: 4, maxEntries: 100)).walk(try ConfinedDirectory(path: tree)) { e in
                e.type == S_IFDIR ? try e.folder.openDirectory(e.name) : nil
            }
        }
    }

    /// CopySnapshot's comparison, after a copy, refuses a tree deeper than the limit.
    @Test(.enabled(if: getuid() == 0, "the copy keeps owners, which needs root")) func aCopiedTreeDeeperThanTheLimitIsRefused() throws {
        let tree = try Self.deepFolder(4)  // d/d/d/d/bottom: five levels
        defer { try? ConfinedDirectory.removeTree(atPath: tree) }  // a test's scratch
        let root = tempDir() + "/root"
        let snapshot = try CopySnapshot.copy(LayerChainView(folders: [try ConfinedDirectory(path: tree)]), into: try ConfinedDirectory(path: root, create: true))
        #expect(throws: TreeLimitExceeded(tree: "the step's files", limit: .depth(3), path: "d/d/d/d")) {
            try snapshot.moveChanges(from: try ConfinedDirectory(path: root), into: try ConfinedDirectory(path: tempDir()), limits: TreeLimits(maxDepth: 3, maxEntries: 100))
        }
    }

    // MARK: Ordinary trees keep their bytes

    /// Files, folders, symlinks, a long name, odd modes and owners, a FIFO (left out), a deleted
    /// path (0:0 device, as root) and an opaque folder, as a step leaves them.
    static func ordinaryTree() throws -> String {
        let dir = tempDir()
        try write(dir + "/b/file.txt", "hello\n")
        try write(dir + "/b/run.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
        try write(dir + "/c/d/e/deep.txt", "deep\n", mode: 0o600)
        try write(dir + "/" + String(repeating: "long-name-", count: 12) + "/inside", "long\n")
        try write(dir + "/A", "upper case sorts first\n")
        symlink("b/file.txt", dir + "/a-link")
        mkfifo(dir + "/fifo", 0o644)
        chmod(dir + "/c/d", 0o750)
        chown(dir + "/b/run.sh", 1000, 1000)
        if getuid() == 0 { mknod(dir + "/c/gone", S_IFCHR | 0o600, 0) }
        let opaque = open(dir + "/c/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        _ = slipway_fsetxattr(opaque, "user.overlay.opaque", "y", 1)
        close(opaque)
        for path in ["", "/b", "/c", "/c/d", "/c/d/e", "/" + String(repeating: "long-name-", count: 12)] { chmod(dir + path, path == "/c/d" ? 0o750 : 0o755) }
        return dir
    }

    /// The digests these walks gave before they were made iterative (computed with the
    /// recursive code, as root: the tree has a 0:0 device only then).
    @Test(.enabled(if: getuid() == 0, "the tree has a 0:0 device only as root")) func ordinaryTreesGiveTheDigestsTheyGaveBefore() throws {
        let store = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let tree = try Self.ordinaryTree()
        func tar(_ fill: (TarWriter) throws -> Void) throws -> String {
            let w = try store.writer()
            let t = TarWriter(out: w)
            try fill(t)
            try t.finish()
            return try w.commit().digest.string
        }
        let top = try ConfinedDirectory(path: tree)
        var digests: [String: String] = [:]
        digests["diff"] = try tar { try OverlayDiff.write(upper: top, mapping: .root, into: $0) }
        digests["tree"] = try tar { try $0.addTree(top, prefix: "app/") }
        digests["filtered"] = try tar { try $0.addTree(top, prefix: "", owner: .root) { rel, _ in !rel.hasPrefix("c/d") } }

        // The app layer: a snapshot of the tree as the lower folders, a few changes above it.
        let snapshotter = SourceSnapshotter(store: store)
        let source = try Self.ordinaryTree()
        unlink(source + "/c/gone")
        unlink(source + "/fifo")
        let snap = try snapshotter.snapshot(localPath: source, subPath: nil, indexed: false)
        digests["snapshot"] = snap.digest.string
        let upper = tempDir()
        try write(upper + "/b/new.txt", "new\n")
        try write(upper + "/zz/top.txt", "top\n")
        mknod(upper + "/A", S_IFCHR | 0o600, 0)
        let manifest = try snapshotter.snapshots.manifest(snap.digest)
        let trees = try SnapshotStore.ChainReader(store: snapshotter.snapshots, layers: try #require(snapshotter.snapshots.chain(snap.digest)))
        digests["app"] = try tar {
            try AppLayerWriter.write(manifest: manifest, trees: trees, upper: try ConfinedDirectory(path: upper), prefix: "workspace/", owner: .init(uid: 1000, gid: 1000), into: $0)
        }

        // A copy of the tree, and a copied step root, read back as tars.
        let copies = tempDir()
        try top.copy("c", to: try ConfinedDirectory(path: copies), as: "c")
        digests["copy"] = try tar { try $0.addTree(try ConfinedDirectory(path: copies), prefix: "") }
        let root = tempDir() + "/root"
        let copied = try CopySnapshot.copy(LayerChainView(folders: [top]), into: try ConfinedDirectory(path: root, create: true))
        try write(root + "/b/file.txt", "changed\n")
        try FileManager.default.removeItem(atPath: root + "/c/d/e")
        let changes = tempDir()
        try copied.moveChanges(from: try ConfinedDirectory(path: root), into: try ConfinedDirectory(path: changes))
        digests["copied root"] = try tar { try $0.addTree(try ConfinedDirectory(path: root), prefix: "") }
        digests["copied changes"] = try tar { try OverlayDiff.write(upper: try ConfinedDirectory(path: changes), mapping: .root, into: $0) }

        #expect(digests == Self.pinned, "\(digests)")
    }

    static let pinned = [
        "diff": "sha256:87164c85c8efd755a66ee41e0152d1cb2ef0a4db3b6993fa479d7f9cdccad9ac",
        "tree": "sha256:816f87291cf3ceab6cfd13a5c918a968cdd62178ffad80df6b9291256e17e96c",
        "filtered": "sha256:9a78cb1c2fc94b1d80ab2423382842676849e1a65ca5b1d0b54a68b21dd9f876",
        "snapshot": "sha256:85e0b2738f5e0a01117386701a9be5a711af75497e542713167c06fbf3c770c1",
        "app": "sha256:98ded424bfaae170f7c63f02121b55620cb71869c63ebca2101fb8d84d117512",
        "copy": "sha256:cd2a4d9d8b6e92e69941883470163c375bd6f40546a110cb60c3c540261a68bd",
        "copied root": "sha256:f62b686827f2679cd076e8768fc7f1330ab91ce4021385ca359aca654338fc97",
        "copied changes": "sha256:7600a8fdd31d9e5cd179d3e69cea1b9eb4b3468589530a029cdfca638dcca857",
    ]
}
