import Foundation
import SlipwayProtocol
import Testing
import TestSupport
@testable import Engine

/// The session a change comes from is a parameter of the change: the builds it queues are that
/// session's (what its end of input waits for), and no other session's.
@Suite struct SessionAttributionTests {
    @Test func theBuildsAChangeQueuesAreItsSessions() async throws {
        let f = try await SchedulingFixture(limit: 1)
        let mine = f.engine.openSession(), other = f.engine.openSession()
        let a = try await f.engine.createImage(ImageSpec(name: "a", source: SourceSpec(local: .init(path: f.source))), session: mine)
        #expect(a.build == 1)
        try await f.waitUntilStarted("a#1")
        // Queued behind the running build: a patch and a trigger join build 2, a run is build 2 too.
        let patched = try await f.engine.patchImage(ImageSpec(name: "a", env: ["X": "1"]), session: other)
        let triggered = try await f.engine.triggerImage(namespace: "default", name: "a", session: mine)
        let run = try await f.engine.submitBuildRun(try JSONDecoder().decode(BuildRunSpec.self, from: Data(#"{"image": "a"}"#.utf8)), session: mine)
        #expect(patched.build == 2 && triggered == 2 && run.build.number == 2)
        let keys = Set([try await f.engine.buildKey(namespace: "default", image: "a", number: 1),
                        try await f.engine.buildKey(namespace: "default", image: "a", number: 2)])
        #expect(mine.startedBuilds == keys)
        #expect(other.startedBuilds == [try await f.engine.buildKey(namespace: "default", image: "a", number: 2)])
        // Work no client asked for (nil) is no session's.
        _ = try await f.engine.createImage(ImageSpec(name: "b", source: SourceSpec(local: .init(path: f.source))))
        #expect(mine.startedBuilds == keys)
        f.executor.release("a#1")
        try await f.waitUntilStarted("a#2")
        f.executor.release("a#2")
        try await f.waitUntilStarted("b#1")
        f.executor.release("b#1")
        #expect(try await f.ended("b", 1).status == .SUCCESS)
    }
}
