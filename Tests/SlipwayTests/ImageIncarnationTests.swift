import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// An image deleted while its build runs, and created again under the same name: the new
/// image starts at build 1 (as kpack's), which runs and succeeds while the deleted image's build
/// 1 is still ending; that build's end goes to its own waiters as "image deleted" and is never
/// recorded on the new build, and its log lines never land in the new build's log.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct ImageIncarnationTests {
    @Test func aRecreatedImageBuildsWhileTheDeletedOnesBuildEnds() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state"), contexts = TempDir("contexts")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        let from = "FROM oci:\(base.path)/oci:build\n"
        func context(_ name: String, _ dockerfile: String) throws -> String {
            let dir = contexts.path + "/" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try dockerfile.write(toFile: dir + "/Dockerfile", atomically: true, encoding: .utf8)
            return dir
        }

        // The first image's step prints a marker over and over until it is killed: lines of the
        // old build are written up to (and while) it is deleted.
        let handshake = "incarnation-" + UUID().uuidString
        let marker = "old-marker-" + UUID().uuidString
        let mount = state.path + "/dockerfile/mounts/default/" + Digest.of(Data(handshake.utf8)).hex
        let slow = try context("slow", from + "RUN --mount=type=cache,target=/sync,id=\(handshake) echo old step; touch /sync/started; "
                                   + "n=0; while [ $n -lt 3000 ]; do echo \(marker); sleep 0.02; n=$((n+1)); done; echo old > /old")
        let first = try await c.call("image/create", ["name": "app", "strategy": "dockerfile", "source": ["local": ["path": .string(slow)]]])
        #expect(first["build"] == 1)
        #expect(try await poll { FileManager.default.fileExists(atPath: mount + "/started") ? true : nil } == true,
                "the first build's step did not start")
        // The wait reports its begin just before it waits on the old build: the delete comes
        // after (a read is not ordered before a later write, so its reply is the event to wait on).
        c.send(#"{"jsonrpc":"2.0","id":"old-wait","method":"build/wait","params":{"image":"app","build":1,"workDoneToken":"old-wait"}}"#)
        _ = try await c.waitFor(timeout: 120) { $0["method"] == "$/progress" && $0["params"]?["token"] == "old-wait" }

        // Deleted while the step prints, and created again at once with a quick Dockerfile.
        _ = try await c.call("image/delete", ["name": "app"])
        let quick = try context("quick", from + "RUN echo new > /new\n")
        let second = try await c.call("image/create", ["name": "app", "strategy": "dockerfile", "source": ["local": ["path": .string(quick)]]])
        #expect(second["build"] == 1, "a recreated image starts at build 1: \(second)")

        // The old build's waiter hears it ended as deleted; the new build runs and succeeds.
        let old = try await c.waitFor(timeout: 300) { $0["id"] == "old-wait" }
        #expect(old["result"]?["status"] == "FAILURE" && old["result"]?["message"] == "image deleted", "\(old)")
        let done = try await c.call("build/wait", ["image": "app", "build": 1], timeout: 300)
        done.expectStatus("SUCCESS")
        #expect(done["message"] == nil || done["message"] == .null, "\(done)")

        // What build/list, build/status, build/logs and image/status say is the new build alone.
        let listed = try await c.call("build/list", ["image": "app"])["builds"]?.arrayValue ?? []
        #expect(listed.count == 1 && listed.first?["number"] == 1 && listed.first?["status"] == "SUCCESS", "\(listed)")
        let status1 = try await c.call("build/status", ["image": "app", "build": 1])
        #expect(status1["status"] == "SUCCESS", "\(status1)")
        #expect(try await c.request("build/status", ["image": "app", "build": 2])["error"]?["code"] == 1001)
        let lines = try await c.call("build/logs", ["image": "app", "build": 1])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains { $0.contains("echo new") }, "\(lines)")
        #expect(!lines.contains { $0.contains(marker) || $0.contains("old step") || $0.contains("image deleted") }, "\(lines)")
        let status = try await c.call("image/status", ["name": "app"])
        #expect(status["ready"] == "Ready" && status["lastSuccessfulBuild"]?["number"] == 1, "\(status)")
        #expect(status["lastFailedBuild"] == nil || status["lastFailedBuild"] == .null, "\(status)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/app")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/new"))
        #expect(!FileManager.default.fileExists(atPath: image.rootfs + "/old"))
    }

    /// A state directory from before incarnations (images without one, and the `build_numbers`
    /// table an engine of that time made) opens: each image gets an incarnation once, the table
    /// goes, and the image builds on from its own numbers.
    @Test func aStateDirectoryFromBeforeIncarnationsIsUpgradedOnce() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "legacy", "source": ["local": ["path": .string(HelloApp.path)]]])
        try await c.call("build/wait", ["image": "legacy", "build": 1]).expectStatus("SUCCESS")
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)

        let script = state.path + "/../rewrite-\(UUID().uuidString).py"
        try """
            import json, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            if sys.argv[2] == "strip":
                for rowid, doc in db.execute("SELECT rowid, document FROM objects WHERE document LIKE ?", ("%incarnation%",)).fetchall():
                    d = json.loads(doc)
                    d.pop("incarnation", None)
                    db.execute("UPDATE objects SET document = ? WHERE rowid = ?", (json.dumps(d), rowid))
                db.execute("CREATE TABLE build_numbers(namespace TEXT NOT NULL, image TEXT NOT NULL, next INTEGER NOT NULL, PRIMARY KEY(namespace, image))")
                db.execute("DELETE FROM meta WHERE key = ?", ("incarnations",))
                db.commit()
                print(db.execute("SELECT count(*) FROM objects WHERE document LIKE ?", ("%incarnation%",)).fetchone()[0])
            else:
                print(db.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", ("build_numbers",)).fetchone()[0])
            """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }  // a temporary script; nothing depends on its removal
        let r = try await sh("python3 '\(script)' '\(state.path)/state.db' strip")
        #expect(r.status == 0 && r.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(r)")

        let again = try SlipwayClient(stateDir: state.path)
        let incarnation = try #require(try await again.call("image/get", ["name": "legacy"])["incarnation"]?.stringValue)
        #expect(UUID(uuidString: incarnation) != nil)
        #expect(try await again.call("image/trigger", ["name": "legacy"])["build"] == 2)
        try await again.call("build/wait", ["image": "legacy", "build": 2]).expectStatus("SUCCESS")
        #expect(try await again.call("image/get", ["name": "legacy"])["incarnation"]?.stringValue == incarnation, "given once")
        // The engine holds the database exclusively while it runs.
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)
        let tables = try await sh("python3 '\(script)' '\(state.path)/state.db' count")
        #expect(tables.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(tables)")
    }
}
