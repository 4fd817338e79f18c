import BuildRuntime
import Foundation
import JSONRPC
import Testing
import TestSupport

/// The edit loop (issue 21): `image/trigger` on a local source builds what is on disk now (the
/// folder is snapshotted again; a change is a CONFIG reason beside TRIGGER, old → new snapshot
/// digest, and an unchanged folder keeps its snapshot); a tar snapshot from before manifests is
/// converted once and rebuilds nothing; the overlay workspace exports what an unpacked one does
/// and follows nothing a step made; app slices are layers of their own; what a buildpack writes
/// into /workspace is in the image and a deleted source file leaves it; a failed build leaves
/// the previous image as it was; a watched folder rebuilds after a save (not after a change to
/// an ignored file), also for a save made while no engine ran. Snapshot internals (what a
/// re-snapshot hashes, deltas, compaction) are in BuildRuntimeTests' SnapshotStoreTests.
@Suite struct EditLoopTests {
    /// An engine with the default builder, and image `name` on a copy of hello-app (where
    /// `files` are written first; `local` adds to its `source.local`), built once.
    static func builtCopy(_ name: String, files: [String: String] = [:], local: [(String, JSONValue)] = []) async throws
        -> (state: TempDir, c: SlipwayClient, app: TempDir)
    {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let app = TempDir("editapp")
        #expect(try await sh("cp -r '\(HelloApp.path)/.' '\(app.path)/'").status == 0)
        for (file, text) in files { try text.write(toFile: app.path + "/" + file, atomically: true, encoding: .utf8) }
        let source = JSONValue.object(JSONObject([("path", .string(app.path))] + local))
        _ = try await c.call("image/create", ["name": .string(name), "source": ["local": source]])
        #expect(try await c.call("build/wait", ["image": .string(name), "build": 1])["status"] == "SUCCESS")
        return (state, c, app)
    }

    @Test func aTriggerBuildsWhatIsOnDiskNow() async throws {
        let (state, c, app) = try await Self.builtCopy("edit")
        let before = try await c.call("image/get", ["name": "edit"])["source"]?["resolved"]?["snapshot"]?["digest"]?.stringValue

        // An edit, then a trigger: the new build has the edit, and says why.
        try "edited while the image existed\n".write(toFile: app.path + "/EDITED", atomically: true, encoding: .utf8)
        #expect(try await c.call("image/trigger", ["name": "edit"])["build"] == 2)
        let second = try await c.call("build/wait", ["image": "edit", "build": 2])
        #expect(second["status"] == "SUCCESS", "\(JSONWriter.string(second))")
        let reasons = second["reasons"]?.arrayValue ?? []
        #expect(reasons.first?["reason"] == "TRIGGER" && reasons.contains { $0["reason"] == "CONFIG" && $0["field"] == "source" }, "\(reasons)")
        let after = try await c.call("image/get", ["name": "edit"])["source"]?["resolved"]?["snapshot"]?["digest"]?.stringValue
        #expect(after != nil && after != before)
        #expect(reasons.contains { $0["old"]?.stringValue == before && $0["new"]?.stringValue == after }, "\(reasons)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/edit")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/workspace/EDITED"))

        // Nothing changed: a plain TRIGGER on the same snapshot.
        #expect(try await c.call("image/trigger", ["name": "edit"])["build"] == 3)
        let third = try await c.call("build/wait", ["image": "edit", "build": 3])
        #expect(third["reasons"]?.arrayValue?.map { $0["reason"]?.stringValue ?? "" } == ["TRIGGER"], "\(JSONWriter.string(third))")
        #expect(try await c.call("image/get", ["name": "edit"])["source"]?["resolved"]?["snapshot"]?["digest"]?.stringValue == after)
    }

    @Test func aTarSnapshotFromBeforeManifestsIsConvertedOnceAndRebuildsNothing() async throws {
        let (state, c, app) = try await Self.builtCopy("legacy")
        let digest = try #require(try await c.call("image/get", ["name": "legacy"])["source"]?["resolved"]?["snapshot"]?["digest"]?.stringValue)
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)

        // The state as an engine from before manifests left it: the folder's tar is the image's
        // snapshot and build 1's source revision, and no chain of trees exists.
        let tar = try SourceSnapshotter(store: try ContentStore(root: URL(fileURLWithPath: state.path)))
            .snapshot(folder: try ConfinedDirectory(path: app.path), form: .tar)
        let rewrite = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for table in ("objects", "builds"):
                db.execute(f"UPDATE {table} SET document = replace(document, ?, ?)", (sys.argv[2], sys.argv[3]))
            db.execute("DELETE FROM meta WHERE key = ?", ("snapshots",))
            db.commit()
            """
        #expect(try await sh("python3 -c '\(rewrite)' '\(state.path)/state.db' '\(digest)' '\(tar.digest)'").status == 0)
        try FileManager.default.removeItem(atPath: state.path + "/snapshots/chains/" + (Digest(digest)?.hex ?? ""))

        // The next engine converts it to the digest a snapshot of the folder gives now: a
        // trigger finds nothing changed.
        let again = try SlipwayClient(stateDir: state.path)
        #expect(try await again.call("image/get", ["name": "legacy"])["source"]?["resolved"]?["snapshot"]?["digest"]?.stringValue == digest)
        #expect(try await again.call("image/trigger", ["name": "legacy"])["build"] == 2)
        let second = try await again.call("build/wait", ["image": "legacy", "build": 2])
        #expect(second["status"] == "SUCCESS" && second["reasons"]?.arrayValue?.map { $0["reason"]?.stringValue ?? "" } == ["TRIGGER"], "\(JSONWriter.string(second))")
    }

    /// A build.sh that changes /workspace in every way overlayfs records: a new file, an edit
    /// and a chmod of source files (copied up), deletions (whiteouts), a folder replaced by a
    /// new one (opaque), a hard link; and plants what the host must never follow: a symlink
    /// to a host file, a FIFO.
    static let workspaceChanges = """
        #!/usr/bin/env bash
        set -euo pipefail
        echo new > made.txt
        echo edited >> keep/edited.txt
        chmod 0700 keep/run.sh
        rm gone.txt
        rm -r gone-folder
        rm -r replaced && mkdir replaced && echo fresh > replaced/fresh.txt
        ln made.txt made-link.txt
        ln -s "$(cat HOSTFILE)" host-link
        mkfifo pipe
        """

    /// An app for `workspaceChanges`, with `hostFile` named in HOSTFILE.
    static func changingApp(hostFile: String) throws -> TempDir {
        let app = TempDir("wsapp")
        let files = ["build.sh": workspaceChanges, "Procfile": "web: cat made.txt\n", "HOSTFILE": hostFile, "gone.txt": "x\n",
                     "gone-folder/a.txt": "a\n", "keep/edited.txt": "original\n", "keep/run.sh": "#!/bin/sh\n",
                     "replaced/old.txt": "old\n", "replaced/sub/deep.txt": "deep\n"]
        for (path, text) in files {
            try FileManager.default.createDirectory(atPath: (app.path + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: app.path + "/" + path, atomically: false, encoding: .utf8)
        }
        chmod(app.path + "/build.sh", 0o755)
        return app
    }

    @Test func anOverlayWorkspaceExportsWhatAnUnpackedOneDoesAndFollowsNothingAStepMade() async throws {
        let host = TempDir("host")
        let marker = "HOST-MARKER-" + UUID().uuidString
        try marker.write(toFile: host.path + "/secret", atomically: false, encoding: .utf8)
        let app = try Self.changingApp(hostFile: host.path + "/secret")
        var appLayers: [String] = []
        for mode in ["overlay", "unpack"] {
            let state = TempDir("state-" + mode)
            let c = try SlipwayClient(stateDir: state.path, arguments: ["--workspace", mode])
            try await c.setUpDefaultBuilder()
            _ = try await c.call("image/create", ["name": "ws", "source": ["local": ["path": .string(app.path)]]])
            let built = try await c.call("build/wait", ["image": "ws", "build": 1])
            #expect(built["status"] == "SUCCESS", "\(JSONWriter.string(built))")
            let lines = try await c.call("build/logs", ["image": "ws", "build": 1])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
            #expect(lines.contains { $0.contains(mode == "overlay" ? "mounted at \"/workspace\"" : "unpacked in \"/workspace\"") }, "\(lines)")
            let layout = state.path + "/layouts/default/ws"
            let image = try await UnpackedImage(layout: layout)
            let ws = image.rootfs + "/workspace"
            let fm = FileManager.default
            #expect(try String(contentsOfFile: ws + "/made.txt", encoding: .utf8) == "new\n")
            #expect(try String(contentsOfFile: ws + "/keep/edited.txt", encoding: .utf8) == "original\nedited\n")
            #expect((try fm.attributesOfItem(atPath: ws + "/keep/run.sh")[.posixPermissions] as? Int) == 0o700)
            #expect(!fm.fileExists(atPath: ws + "/gone.txt") && !fm.fileExists(atPath: ws + "/gone-folder"))
            #expect(try fm.contentsOfDirectory(atPath: ws + "/replaced") == ["fresh.txt"])
            #expect(try fm.destinationOfSymbolicLink(atPath: ws + "/host-link") == host.path + "/secret")
            #expect(!fm.fileExists(atPath: ws + "/pipe"))
            #expect(try String(contentsOfFile: ws + "/made-link.txt", encoding: .utf8) == "new\n")
            // No host content in the image: the symlink was archived as a symlink.
            #expect(try await sh("grep -rl '\(marker)' '\(layout)/blobs'").out.isEmpty)
            let config = try await sh("skopeo inspect --config oci:'\(layout)':latest").out
            let decoded = try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any]
            let metadata = (decoded?["config"] as? [String: Any])?["Labels"] as? [String: String]
            let lifecycle = try JSONSerialization.jsonObject(with: Data((metadata?["io.buildpacks.lifecycle.metadata"] ?? "{}").utf8)) as? [String: Any]
            appLayers.append(((lifecycle?["app"] as? [[String: Any]])?.first?["sha"] as? String) ?? "none")
        }
        // Both ways give the same app layer, byte for byte.
        #expect(appLayers.count == 2 && appLayers[0] == appLayers[1] && appLayers[0] != "none", "\(appLayers)")
    }

    /// The app layer's slices (launch.toml `[[slices]]`, Fixtures/buildpacks/slicer): a layer
    /// per slice and one for the rest; an edit to the app's own code leaves the slices' digests
    /// as they were, so they are reused (and never pushed again).
    @Test func appSlicesAreLayersOfTheirOwnAndKeepTheirDigests() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/slicer").path],
                                        order: [["group": [["id": "test/slicer"]]]])
        let app = TempDir("sliced")
        for (path, text) in ["static/site.css": "body{}\n", "static/app.js": "go()\n", "static/img/logo.txt": "logo\n",
                             "vendor/dep/a.txt": "dep\n", "lib/util.txt": "util\n", "main.txt": "v1\n"] {
            try FileManager.default.createDirectory(atPath: (app.path + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: app.path + "/" + path, atomically: false, encoding: .utf8)
        }
        _ = try await c.call("image/create", ["name": "sliced", "source": ["local": ["path": .string(app.path)]]])
        #expect(try await c.call("build/wait", ["image": "sliced", "build": 1])["status"] == "SUCCESS")
        let layout = state.path + "/layouts/default/sliced"

        /// The app layers the lifecycle metadata names, and the paths in each.
        func appLayers() async throws -> [(digest: String, paths: [String])] {
            let config = try await sh("skopeo inspect --config oci:'\(layout)':latest").out
            let labels = ((try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])?["config"] as? [String: Any])?["Labels"] as? [String: String]
            let metadata = try JSONSerialization.jsonObject(with: Data((labels?["io.buildpacks.lifecycle.metadata"] ?? "{}").utf8)) as? [String: Any]
            var out: [(String, [String])] = []
            for sha in ((metadata?["app"] as? [[String: Any]]) ?? []).compactMap({ $0["sha"] as? String }) {
                let listing = try await sh("tar -tf '\(layout)/blobs/sha256/\(sha.dropFirst(7))'").out
                out.append((sha, listing.split(separator: "\n").map { String($0) }.sorted()))
            }
            return out
        }
        let first = try await appLayers()
        #expect(first.map(\.paths) == [
            ["workspace/", "workspace/static/", "workspace/static/site.css", "workspace/vendor/", "workspace/vendor/dep/", "workspace/vendor/dep/a.txt"],
            ["workspace/", "workspace/lib/", "workspace/lib/util.txt", "workspace/static/", "workspace/static/app.js", "workspace/static/img/",
             "workspace/static/img/logo.txt"],
            ["workspace/", "workspace/main.txt"],
        ], "\(first)")
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/workspace/static/site.css", encoding: .utf8) == "body{}\n")

        // The app's own code changes: only the last app layer is new.
        try "v2\n".write(toFile: app.path + "/main.txt", atomically: false, encoding: .utf8)
        _ = try await c.call("image/trigger", ["name": "sliced"])
        #expect(try await c.call("build/wait", ["image": "sliced", "build": 2])["status"] == "SUCCESS")
        let second = try await appLayers()
        #expect(second.count == 3 && second[0].digest == first[0].digest && second[1].digest == first[1].digest && second[2].digest != first[2].digest)
        let lines = try await c.call("build/logs", ["image": "sliced", "build": 2])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains("Reusing layer 'app slice 1'") && lines.contains("Reusing layer 'app slice 2'") && lines.contains("Adding 1/3 app layer(s)"), "\(lines)")
    }

    @Test func workspaceWritesDeletionsAndAFailedBuild() async throws {
        let (state, c, app) = try await Self.builtCopy("ws", files: ["OLD": "gone-soon\n"])
        let first = try await UnpackedImage(layout: state.path + "/layouts/default/ws")
        #expect(FileManager.default.fileExists(atPath: first.rootfs + "/workspace/bin/hello"), "what build.sh wrote into /workspace")
        #expect(FileManager.default.fileExists(atPath: first.rootfs + "/workspace/OLD"))

        // A deleted source file leaves the next image.
        try FileManager.default.removeItem(atPath: app.path + "/OLD")
        _ = try await c.call("image/trigger", ["name": "ws"])
        #expect(try await c.call("build/wait", ["image": "ws", "build": 2])["status"] == "SUCCESS")
        let second = try await UnpackedImage(layout: state.path + "/layouts/default/ws")
        #expect(!FileManager.default.fileExists(atPath: second.rootfs + "/workspace/OLD") && FileManager.default.fileExists(atPath: second.rootfs + "/workspace/bin/hello"))
        let good = try await c.call("image/status", ["name": "ws"])["latestImage"]?.stringValue

        // A build that fails leaves the image (and the layout's tag) as they were.
        try "#!/usr/bin/env bash\necho 'broken on purpose' >&2\nexit 1\n".write(toFile: app.path + "/build.sh", atomically: true, encoding: .utf8)
        chmod(app.path + "/build.sh", 0o755)
        _ = try await c.call("image/trigger", ["name": "ws"])
        let failed = try await c.call("build/wait", ["image": "ws", "build": 3])
        #expect(failed["status"] == "FAILURE", "\(JSONWriter.string(failed))")
        #expect(try await c.call("image/status", ["name": "ws"])["latestImage"]?.stringValue == good)
        let still = try await UnpackedImage(layout: state.path + "/layouts/default/ws")
        #expect(FileManager.default.fileExists(atPath: still.rootfs + "/workspace/bin/hello"), "the last good image is still the layout's")
    }

    /// Waits (with a deadline) until the image has `count` builds; returns them.
    static func builds(_ c: SlipwayClient, _ image: String, count: Int) async throws -> [JSONValue] {
        let deadline = Date().addingTimeInterval(60)
        while true {
            let builds = try await c.call("build/list", ["image": .string(image)])["builds"]?.arrayValue ?? []
            if builds.count >= count || Date() > deadline { return builds }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func aWatchedFolderRebuildsAfterASave() async throws {
        var (state, c, app) = try await Self.builtCopy("w", files: [".slipwayignore": "ignored.log\n"], local: [("watch", true), ("watchDebounceMs", 100)])
        let status = try await sh("'\(Repo.slipway)' engine status --state-dir '\(state.path)'").out
        #expect(status.contains("watches folders: 1") && status.contains("polls git sources: no"), "\(status)")

        // A change to an ignored file, then, once its quiet time is long over, a save.
        try "noise\n".write(toFile: app.path + "/ignored.log", atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(600))  // apart from the save, so that the two are never one change
        try "saved\n".write(toFile: app.path + "/SAVED", atomically: true, encoding: .utf8)
        let builds = try await Self.builds(c, "w", count: 2)
        #expect(builds.count == 2, "\(builds)")
        let second = try await c.call("build/wait", ["image": "w", "build": 2])
        #expect(second["status"] == "SUCCESS" && second["reasons"]?.arrayValue?.first?["field"] == "source", "\(JSONWriter.string(second))")
        // The ignored change made no build of its own: the save's build is the second.
        #expect(try await c.call("build/list", ["image": "w"])["builds"]?.arrayValue?.count == 2)
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/w")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/workspace/SAVED"))

        // A save while no engine runs: the next engine builds it when it starts.
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)
        try "while down\n".write(toFile: app.path + "/DOWN", atomically: true, encoding: .utf8)
        c = try SlipwayClient(stateDir: state.path)
        let after = try await Self.builds(c, "w", count: 3)
        #expect(after.count == 3, "\(after)")
        #expect(try await c.call("build/wait", ["image": "w", "build": 3])["status"] == "SUCCESS")

        // No more watching once it is turned off: a patch that turns it off builds nothing.
        _ = try await c.call("image/patch", ["name": "w", "source": ["local": ["path": .string(app.path), "watch": false]]])
        _ = try await c.call("image/delete", ["name": "w"])
    }
}
