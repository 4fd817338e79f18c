import Foundation
import JSONRPC
import Testing
import TestSupport

/// System events: kept for --event-ttl, aggregated as kubectl does, filtered, and listed a
/// page at a time.
@Suite struct EventTests {
    static func secret(_ name: String) -> JSONValue {
        ["name": .string(name), "registry": ["server": "r.example", "username": "u", "password": .string("pw-" + name)]]
    }

    /// The same object, reason and message again bumps count and lastTime, keeps firstTime, and
    /// moves the event after the others; `since` a time finds it again.
    @Test func repeatedEventsAreAggregated() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("secret/create", Self.secret("reg"))
        _ = try await c.call("secret/delete", ["name": "reg"])
        let first = try await c.call("event/list")["events"]?.arrayValue ?? []
        let created = try #require(first.first { $0["reason"] == "Created" })
        try await Task.sleep(for: .milliseconds(20))  // a later millisecond for lastTime
        _ = try await c.call("secret/create", Self.secret("reg"))
        let events = try await c.call("event/list")["events"]?.arrayValue ?? []
        #expect(events.compactMap { $0["reason"]?.stringValue } == ["Deleted", "Created"])
        let bumped = try #require(events.last)
        #expect(bumped["count"] == 2)
        #expect(bumped["firstTime"] == created["firstTime"])
        #expect(bumped["lastTime"] != created["lastTime"])
        #expect(bumped["time"] == bumped["lastTime"])
        #expect(bumped["id"]?.int ?? 0 > created["id"]?.int ?? 0)
        // Since the bump: only the bumped event.
        let since = try await c.call("event/list", ["since": bumped["lastTime"]!])["events"]?.arrayValue ?? []
        #expect(since.compactMap { $0["reason"]?.stringValue } == ["Created"])
        // Filters: type, reason, object.
        #expect(try await c.call("event/list", ["reason": "Deleted"])["events"]?.arrayValue?.count == 1)
        #expect(try await c.call("event/list", ["type": "Warning"])["events"] == [])
        #expect(try await c.call("event/list", ["object": ["kind": "Secret", "name": "other"]])["events"] == [])
        let bad = try await c.request("event/list", ["since": "yesterday"])
        #expect(bad["error"]?["data"]?["field"] == "since")
    }

    /// Every event once, in order, a page at a time; a bad token or limit is refused.
    @Test func eventsAreListedAPageAtATime() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        for i in 0..<260 { _ = try await c.call("secret/create", Self.secret("s\(i)")) }
        let all = try await c.call("event/list")["events"]?.arrayValue ?? []
        #expect(all.count == 260)
        var walked: [JSONValue] = []
        var token: JSONValue?
        var pages = 0
        repeat {
            var params = JSONObject([("limit", 100)])
            if let token { params["continue"] = token }
            let page = try await c.call("event/list", .object(params))
            walked += page["events"]?.arrayValue ?? []
            token = page["continue"]
            pages += 1
            if pages == 1 { _ = try await c.call("secret/create", Self.secret("late")) }  // the token survives additions
        } while token != nil && pages < 10
        #expect(pages == 3)
        #expect(walked.compactMap { $0["id"]?.int } == (all.compactMap { $0["id"]?.int } + [all.last!["id"]!.int! + 1]))
        #expect(try await c.call("event/list", ["limit": 1000])["continue"] == nil)
        for (params, field) in [(["limit": 0] as JSONValue, "limit"), (["continue": "bm90LWEtdG9rZW4"], "continue"), (["continue": "%%%"], "continue")] {
            let r = try await c.request("event/list", params)
            #expect(r["error"]?["code"] == -32602 && r["error"]?["data"]?["field"] == .string(field), "\(params): \(r)")
        }
    }

    /// Events expire --event-ttl after they last happened: they are no longer listed, and they
    /// are deleted, also when the engine starts after they expired.
    @Test func eventsExpire() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--event-ttl", "1s"])
        _ = try await c.call("secret/create", Self.secret("short"))
        let deadline = Date().addingTimeInterval(30)
        while try await c.call("event/list")["events"]?.arrayValue?.isEmpty == false {
            guard Date() < deadline else { throw TestFailure("the event did not expire") }
            try await Task.sleep(for: .milliseconds(100))
        }
        c.closeInput()
        _ = try await c.waitForExit()
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)
        // Stored with a long TTL, then an engine with a short one starts: they go at once.
        let d = try SlipwayClient(stateDir: state.path, arguments: ["--event-ttl", "1h"])
        _ = try await d.call("secret/create", Self.secret("kept"))
        d.closeInput()
        _ = try await d.waitForExit()
        #expect(try await Self.storedEvents(state.path) >= 1)
        try await Task.sleep(for: .milliseconds(1100))  // the stored events are now older than 1 s
        let e = try SlipwayClient(stateDir: state.path, arguments: ["--event-ttl", "1s"])
        _ = try await e.call("image/list")
        e.closeInput()
        _ = try await e.waitForExit()
        #expect(try await Self.storedEvents(state.path) == 0)
    }

    /// Rows in the events table, with the engine stopped (it holds the database).
    static func storedEvents(_ state: String) async throws -> Int {
        let r = try await sh("""
            '\(Repo.slipway)' engine stop --state-dir '\(state)' >/dev/null && \
            python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' '\(state)/state.db'
            """)
        guard r.status == 0, let n = Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestFailure("counting events: \(r.err)") }
        return n
    }
}
