import Foundation
import JSONRPC
import Testing
import TestSupport

/// A change and the events that describe it are written in one transaction: when the event
/// cannot be stored, the change is not stored either (and the client is told), so a crash
/// between the two can never keep one without the other.
@Suite struct EngineConsistencyTests {
    /// Runs `sql` on the state database, with the state directory's engine stopped first.
    @Test func aChangeIsKeptOnlyWithItsEvents() async throws {
        let state = TempDir("state")
        let first = try SlipwayClient(stateDir: state.path)
        try await first.setUpDefaultBuilder()
        first.closeInput()
        #expect(try await first.waitForExit() == 0)
        // Every event write now fails, as a crash right after the change would lose it.
        try await StateDatabase.sqlite(state.path + "/state.db",
                        "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'injected: events cannot be written'); END;")
        let c = try SlipwayClient(stateDir: state.path)
        let app = HelloApp.path
        let attempts: [(String, JSONValue)] = [
            ("image/create", ["name": "lost", "source": ["local": ["path": .string(app)]]]),
            ("secret/create", ["name": "lost", "registry": ["server": "r.example", "username": "u", "password": "p-lost"]]),
            ("clusterstore/create", ["name": "lost", "buildpacks": [.string(Repo.buildpacks.appendingPathComponent("procfile").path)]]),
            ("clusterbuilder/create", ["name": "lost", "stack": "base", "store": "default", "order": [["group": [["id": "slipway/procfile"]]]]]),
        ]
        for (method, params) in attempts {
            let r = try await c.request(method, params)
            #expect(r["error"] != nil, "\(method) was acknowledged without its event: \(JSONWriter.string(r))")
        }
        #expect(try await c.call("image/list")["images"] == [])
        #expect(try await c.call("secret/list")["secrets"] == [])
        #expect(!FileManager.default.fileExists(atPath: state.path + "/secrets/default/lost.json"))
        #expect(try await c.call("clusterstore/list")["stores"]?.arrayValue?.count == 1)
        #expect(try await c.call("clusterbuilder/list")["builders"]?.arrayValue?.count == 1)
        c.closeInput()
        _ = try await c.waitForExit()

        // With events writable again, each change comes with its event.
        try await StateDatabase.sqlite(state.path + "/state.db", "DROP TRIGGER no_events;")
        let again = try SlipwayClient(stateDir: state.path)
        for (method, params) in attempts { _ = try await again.call(method, params) }
        let events = try await again.call("event/list")["events"]?.arrayValue ?? []
        for kind in ["Image", "Secret", "ClusterStore", "ClusterBuilder"] {
            #expect(events.contains { $0["object"]?["kind"] == .string(kind) && $0["object"]?["name"] == "lost" && $0["reason"] == "Created" }, "\(kind)")
        }
    }

    /// A state directory copied elsewhere (`cp -a`) works there: default tags and the images
    /// builds made are stored relative to it, so builds export to the new place.
    @Test func aStateDirectoryCanBeMoved() async throws {
        let parent = TempDir("move")
        let old = parent.path + "/old", new = parent.path + "/new"
        let first = try SlipwayClient(stateDir: old)
        try await first.setUpDefaultBuilder()
        _ = try await first.call("image/create", ["name": "moved", "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(try await first.call("build/wait", ["image": "moved", "build": 1])["status"] == "SUCCESS")
        first.closeInput()
        _ = try await first.waitForExit()
        // The engine is stopped first, as a user moving the folder would.
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(old)' && cp -a '\(old)' '\(new)' && rm -rf '\(old)'").status == 0)

        let c = try SlipwayClient(stateDir: new)
        let image = try await c.call("image/get", ["name": "moved"])
        #expect(image["tag"] == .string("oci:\(new)/layouts/default/moved:latest"), "\(JSONWriter.string(image))")
        #expect(image["status"]?["latestImage"]?.stringValue?.hasPrefix("oci:\(new)/layouts/default/moved@sha256:") == true)
        _ = try await c.call("image/trigger", ["name": "moved"])
        let b = try await c.call("build/wait", ["image": "moved", "build": 2])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        #expect(b["image"]?.stringValue?.hasPrefix("oci:\(new)/") == true)
        #expect(!FileManager.default.fileExists(atPath: old), "a build wrote to the old state directory")
        let inspect = try await sh("skopeo inspect oci:\(new)/layouts/default/moved:latest")
        #expect(inspect.status == 0, "\(inspect.err)")
        c.closeInput()
        _ = try await c.waitForExit()
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(new)'").status == 0)
        // Stored relative: no image or build document names a path inside the state directory.
        let scripts = TempDir("q")
        let script = scripts.path + "/count.py"
        try #"""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            print(sum(c.execute(f"SELECT count(*) FROM {t} WHERE document LIKE ?", ("%oci:" + sys.argv[2] + "%",)).fetchone()[0] for t in ("objects", "builds")))
            """#.write(toFile: script, atomically: false, encoding: .utf8)
        let db = try await sh("python3 '\(script)' '\(new)/state.db' '\(new)'")
        #expect(db.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(db.err)")
    }
}
