import Foundation
import JSONRPC
import Testing

/// A change and the events that describe it are written in one transaction: when the event
/// cannot be stored, the change is not stored either (and the client is told), so a crash
/// between the two can never keep one without the other.
@Suite struct EngineConsistencyTests {
    static func sqlite(_ db: String, _ sql: String) throws {
        let r = try sh("python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' '\(db)' \"\(sql)\"")
        guard r.status == 0 else { throw TestFailure("sqlite: \(r.err)") }
    }

    @Test func aChangeIsKeptOnlyWithItsEvents() async throws {
        let state = TempDir("state")
        let first = try SlipwayClient(stateDir: state.path)
        try await first.setUpDefaultBuilder()
        first.closeInput()
        #expect(try await first.waitForExit() == 0)
        // Every event write now fails, as a crash right after the change would lose it.
        try Self.sqlite(state.path + "/state.db",
                        "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'injected: events cannot be written'); END;")
        let c = try SlipwayClient(stateDir: state.path)
        let app = Repo.examples.appendingPathComponent("hello-app").path
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
        try Self.sqlite(state.path + "/state.db", "DROP TRIGGER no_events;")
        let again = try SlipwayClient(stateDir: state.path)
        for (method, params) in attempts { _ = try await again.call(method, params) }
        let events = try await again.call("event/list")["events"]?.arrayValue ?? []
        for kind in ["Image", "Secret", "ClusterStore", "ClusterBuilder"] {
            #expect(events.contains { $0["object"]?["kind"] == .string(kind) && $0["object"]?["name"] == "lost" && $0["reason"] == "Created" }, "\(kind)")
        }
    }
}
