import Foundation
import JSONRPC
import Testing
import TestSupport

/// `slipway engine stop` loses nothing: every client gets the answers to what it asked before
/// the engine closes it; a client that comes while a stop waits for builds is served by the
/// next engine; and an engine whose state directory was removed and made again at once leaves
/// the new one's engine alone.
@Suite struct EngineStopTests {
    /// Whether `pid` runs (a zombie, waiting for its reaper, runs nothing).
    static func runs(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z ")
    }

    static func request(_ id: Int, _ method: String, _ params: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method), "params": params]
    }

    /// Three clients in `build/wait` and one following `build/logs` of a running build, then a
    /// normal `engine stop`: each gets its answer (the build ended SUCCESS) before the close.
    @Test func aStopAnswersEveryClientBeforeClosingIt() async throws {
        let state = TempDir("state")
        let c = try await SharedEngine.clientWithSlowBuilder(state.path)
        try await SharedEngine.createSlowImage(c, "slow", seconds: 3)
        let waiters = try (0..<3).map { _ in try SlipwayClient(stateDir: state.path) }
        let follower = try SlipwayClient(stateDir: state.path)
        for w in waiters { w.send(Self.request(101, "build/wait", ["image": "slow", "build": 1])) }
        follower.send(Self.request(101, "build/logs", ["image": "slow", "build": 1, "follow": true]))
        // Requests are dispatched in the order they are read: once the next one is answered,
        // the first is in the engine.
        for client in waiters + [follower] { _ = try await client.call("image/list") }

        let stop = try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'")
        #expect(stop.status == 0 && stop.out.contains("stopped"), "\(stop)")
        for (i, client) in (waiters + [follower]).enumerated() {
            #expect(try await client.waitForExit(timeout: 30) == 1)
            #expect(client.stderr.contains("was stopped"), "\(client.stderr)")
            let reply = client.messages.first { $0["id"] == 101 && $0["method"] == nil }
            #expect(reply?["result"]?["status"] == "SUCCESS", "client \(i) got \(reply.map { JSONWriter.string($0) } ?? "no reply")")
        }
        #expect(follower.notifications("build/log").contains { $0["line"] == "done sleeping" })
    }

    /// A client started while `engine stop` waits for a build says that it waits, and is
    /// served by a new engine once the old one has exited.
    @Test func aClientThatComesDuringAStopIsServedByTheNextEngine() async throws {
        let state = TempDir("state")
        let c = try await SharedEngine.clientWithSlowBuilder(state.path)
        // A build that runs until it is canceled, however slow the machine.
        try await SharedEngine.createSlowImage(c, "slow", seconds: 600)
        let old = try #require(SharedEngine.enginePID(state.path))
        let stop = Task { try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'") }
        #expect(try await SharedEngine.waitForEngineLog(state.path, "stopping: 1 running builds to wait for"), "\(SharedEngine.engineLog(state.path))")

        let late = try SlipwayClient(stateDir: state.path)
        let list = Task { try await late.call("image/list", timeout: 120) }
        try await waitUntil("the late client says it waits") {
            late.stderr.contains("is stopping") && late.stderr.contains("waiting for it to exit, then starting a new engine")
        }
        #expect(SharedEngine.engineRuns(state.path) && SharedEngine.enginePID(state.path) == old)
        // The client still connected to the stopping engine ends the build the stop waits for.
        _ = try await c.call("build/cancel", ["image": "slow", "build": 1])
        let images = try await list.value["images"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(images == ["slow"], "\(late.stderr)")
        #expect(SharedEngine.enginePID(state.path) != old)
        #expect(!Self.runs(old))
        try await late.call("build/status", ["image": "slow", "build": 1]).expectStatus("FAILURE")
        let stopped = try await stop.value
        #expect(stopped.status == 0 && stopped.out.contains("stopped"), "\(stopped)")
        #expect(try await c.waitForExit(timeout: 30) == 1)
    }

    /// The state directory removed and made again at the same path at once (ext4 may give the
    /// new folder the old one's inode number): the old engine stops, and leaves the new engine's
    /// socket in place, so its clients, `engine status` and `engine stop` all find it.
    @Test func aStateDirectoryRemovedAndMadeAgainAtOnceKeepsItsNewEngine() async throws {
        // The old engine may write while its folder is removed: remove again what it made.
        try await Self.expectTheNextEngineKept(after: { state in
            "for i in 1 2 3 4 5; do rm -rf '\(state)' && break; done; mkdir -m 700 '\(state)'"
        })
    }

    /// The state directory emptied under a running engine but for its `run/` folder (a removal
    /// that raced the engine's writes, `rm -rf DIR/*` with the socket folder busy) and used at
    /// once: the next engine starts there and binds its socket in that same folder. The old
    /// engine, whose lock file is gone, stops, and removes no socket but its own: clients,
    /// `engine status` and `engine stop` find the new engine.
    @Test func anEngineWhoseStateDirectoryWasEmptiedStopsAndLeavesTheNewSocket() async throws {
        try await Self.expectTheNextEngineKept(after: { state in
            """
            cd '\(state)' && for i in 1 2 3 4 5; do find . -mindepth 1 -maxdepth 1 ! -name run -exec rm -rf {} + && break; done
            rm -f run/engine.sock
            """
        })
    }

    /// Starts an engine, runs `removal` (a shell command, given the state directory) once its
    /// client left, then starts the next: the old engine stops, and clients, `engine status`
    /// and `engine stop` find the new one, which then stops.
    static func expectTheNextEngineKept(after removal: (String) -> String) async throws {
        let state = TempDir("state")
        let first = try SlipwayClient(stateDir: state.path)
        _ = try await first.call("image/list")
        let old = try #require(SharedEngine.enginePID(state.path))
        first.closeInput()
        #expect(try await first.waitForExit() == 0)
        let removed = try await sh(removal(state.path))
        try #require(removed.status == 0, "\(removed)")

        let second = try SlipwayClient(stateDir: state.path)
        _ = try await second.call("image/list")
        let new = try #require(SharedEngine.enginePID(state.path))
        #expect(new != old)
        try await waitUntil(timeout: 15, "the old engine stops") { !Self.runs(old) }

        let third = try SlipwayClient(stateDir: state.path)
        #expect(try await third.call("image/list")["images"] == [], "\(third.stderr)")
        let status = try await sh("'\(Repo.slipway)' engine status --state-dir '\(state.path)'")
        #expect(status.status == 0 && status.out.contains("pid: \(new)"), "\(status)")
        second.closeInput()
        third.closeInput()
        let stop = try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'")
        #expect(stop.status == 0 && stop.out.contains("(pid \(new)) stopped"), "\(stop)")
        try await waitUntil(timeout: 15, "the new engine stops") { !Self.runs(new) }
    }
}
