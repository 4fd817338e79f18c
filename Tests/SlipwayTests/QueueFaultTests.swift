import Foundation
import JSONRPC
import Testing
import TestSupport

/// Queue faults found by reading the code and by fuzzing, end to end (BuildSchedulingTests
/// has them in process): a build whose image is deleted, and a build whose end cannot be
/// recorded, still answer everyone waiting and free their slot.
@Suite struct QueueFaultTests {
    static let helloApp = HelloApp.path

    /// `image/trigger` then `image/delete` in one pipeline: every reply comes and the pipeline
    /// ends (it used to hang at end of input 7 runs in 10).
    @Test func triggerThenDeleteInOnePipelineEnds() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        c.closeInput()
        #expect(try await c.waitForExit() == 0)
        for round in 1...5 {
            let name = "gone\(round)"
            let input = [SlipwayPipe.request(1, "image/create", "{\"name\":\"\(name)\",\"source\":{\"local\":{\"path\":\"\(Self.helloApp)\"}}}"),
                         SlipwayPipe.request(2, "image/trigger", "{\"name\":\"\(name)\"}"),
                         SlipwayPipe.request(3, "image/delete", "{\"name\":\"\(name)\"}")].joined(separator: "\n") + "\n"
            let r = try await SlipwayPipe.run(Array(input.utf8), state: state.path)
            #expect(r.code == 0, "round \(round): \(r.err)")
            let replies = r.lines.compactMap { try? JSONParser.parse(Array($0.utf8)) }
            for id in 1...3 { #expect(replies.contains { $0["id"] == .int(Int64(id)) && $0["result"] != nil }, "round \(round): no reply to \(id): \(r.lines)") }
            // Each build the pipeline started got a final status.
            let finals = replies.filter { $0["method"] == "build/statusChanged" && $0["params"]?["image"] == .string(name)
                && ["SUCCESS", "FAILURE"].contains($0["params"]?["status"]?.stringValue ?? "") }
            #expect(Set(finals.compactMap { $0["params"]?["build"]?.int }) == [1, 2], "round \(round): \(r.lines)")
        }
    }

    /// In a longer session: a followed `build/logs` and a `build/wait` on a build whose image
    /// is deleted are answered (the build ends FAILURE, "image deleted"), and so is `shutdown`.
    @Test func waitersOfADeletedImageAreAnswered() async throws {
        let state = TempDir("state")
        let c = try await SharedEngine.clientWithSlowBuilder(state.path, arguments: ["--max-concurrent-builds", "1"])
        let other = try SlipwayClient(stateDir: state.path)
        try await SharedEngine.createSlowImage(c, "doomed", seconds: 60)
        _ = try await c.call("image/trigger", ["name": "doomed"])  // build 2, queued behind build 1
        _ = try await c.call("image/create", ["name": "after", "source": ["local": ["path": .string(Self.helloApp)]]])
        async let follow = c.request("build/logs", ["image": "doomed", "build": 1, "follow": true])
        async let waitRunning = other.request("build/wait", ["image": "doomed", "build": 1])
        async let waitQueued = other.request("build/wait", ["image": "doomed", "build": 2])
        _ = try await c.waitFor { $0["method"] == "build/log" && $0["params"]?["image"] == "doomed" }
        _ = try await c.call("image/delete", ["name": "doomed"])
        let (f, r, q) = try await (follow, waitRunning, waitQueued)
        #expect(f["result"]?["status"] == "FAILURE", "\(f)")
        // Answered: the build ended FAILURE "image deleted" (the wait was in first) or NotFound
        // (the delete was).
        for w in [r, q] {
            let ended = w["result"]?["status"] == "FAILURE" && w["result"]?["message"] == "image deleted"
            #expect(ended || w["error"]?["code"] == 1001, "\(w)")
        }
        for n in [1, 2] {
            _ = try await other.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["image"] == "doomed" && $0["params"]?["build"] == .int(Int64(n))
                && $0["params"]?["status"] == "FAILURE" }
        }
        // The slot is free: the next image's build runs.
        #expect(try await other.call("build/wait", ["image": "after", "build": 1])["status"] == "SUCCESS")
        #expect(try await c.request("shutdown")["result"] == .null)
    }

    /// A build whose end the database refuses still answers its waiters and frees its slot.
    @Test func anUnrecordableEndDoesNotStallTheQueue() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        c.closeInput()
        #expect(try await c.waitForExit() == 0)
        try await StateDatabase.sqlite(state.path + "/state.db", """
            CREATE TRIGGER no_finish BEFORE INSERT ON builds WHEN NEW.status = 'SUCCESS' BEGIN SELECT RAISE(ABORT, 'injected: the disk failed'); END;
            """)
        let d = try SlipwayClient(stateDir: state.path, arguments: ["--max-concurrent-builds", "1"])
        for name in ["first", "second"] {
            _ = try await d.call("image/create", ["name": .string(name), "source": ["local": ["path": .string(Self.helloApp)]]])
        }
        for name in ["first", "second"] {
            let b = try await d.call("build/wait", ["image": .string(name), "build": 1], timeout: 60)
            #expect(b["status"] == "SUCCESS", "\(name): \(b)")
        }
        #expect(try await SharedEngine.waitForEngineLog(state.path, "ended SUCCESS, but that cannot be recorded"))
        // Asked after it ended, the engine answers it as it ended (not BUILDING forever).
        #expect(try await d.call("build/wait", ["image": "first", "build": 1], timeout: 20)["status"] == "SUCCESS")
        #expect(try await d.call("build/status", ["image": "first", "build": 1])["status"] == "SUCCESS")
    }
}
