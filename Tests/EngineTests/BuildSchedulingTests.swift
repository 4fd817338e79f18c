import SlipwayProtocol
import BuildRuntime
import Foundation
import Synchronization
import Testing
@testable import Engine
import TestSupport

/// The queue, slots and waiters, with builds that end when the test says (BuildScheduler and
/// the engine's use of it). End-to-end tests run the same rules with real builds.
@Suite struct BuildSchedulingTests {
    @Test func atMostTheLimitRunAndOneBuildPerImage() async throws {
        let f = try await SchedulingFixture(limit: 2)
        for name in ["a", "b", "c"] { _ = try await f.createImage(name) }
        try await f.waitUntilStarted("a#1", "b#1")
        #expect(try await f.status("c", 1).status == .QUEUED)
        // A trigger of a running image queues behind it, even with a slot free.
        f.executor.release("a#1")
        #expect(try await f.ended("a", 1).status == .SUCCESS)
        try await f.waitUntilStarted("c#1")
        _ = try await f.engine.triggerImage(namespace: "default", name: "c")
        f.executor.release("b#1")
        #expect(try await f.ended("b", 1).status == .SUCCESS)
        #expect(try await f.status("c", 2).status == .QUEUED)
        f.executor.release("c#1")
        try await f.waitUntilStarted("c#2")
        f.executor.release("c#2")
        #expect(try await f.ended("c", 2).status == .SUCCESS)
        #expect(f.executor.mostAtOnce == 2)
    }

    /// Changes to an image while its next build waits collapse into that one build.
    @Test func queuedChangesCollapseIntoOneBuild() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a")
        try await f.waitUntilStarted("a#1")
        let first = try await f.engine.patchImage(ImageSpec(name: "a", env: ["X": "1"]))
        let second = try await f.engine.patchImage(ImageSpec(name: "a", env: ["X": "2"]))
        let trigger = try await f.engine.triggerImage(namespace: "default", name: "a")
        #expect(first.build == 2 && second.build == 2 && trigger == 2)
        f.executor.release("a#1")
        try await f.waitUntilStarted("a#2")
        f.executor.release("a#2")
        let b = try await f.ended("a", 2)
        #expect(b.status == .SUCCESS)
        #expect(Set(b.reasonKinds) == [.CONFIG, .TRIGGER])
        #expect(try await f.engine.builds(namespace: "default", image: "a").map(\.number) == [1, 2])
        #expect(!f.executor.started.contains("a#3"))
    }

    @Test func cancelEndsQueuedAndRunningBuildsAndAnswersWaiters() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a")
        _ = try await f.createImage("b")
        try await f.waitUntilStarted("a#1")
        async let waitingForB = f.ended("b", 1)
        async let waitingForA = f.ended("a", 1)
        _ = try await f.engine.cancel(namespace: "default", image: "b", number: 1)
        _ = try await f.engine.cancel(namespace: "default", image: "a", number: 1)
        let (a, b) = try await (waitingForA, waitingForB)
        #expect(a.status == .FAILURE && a.message == "canceled")
        #expect(b.status == .FAILURE && b.message == "canceled")
        #expect(!f.executor.started.contains("b#1"))
        // The slot is free again.
        _ = try await f.createImage("c")
        try await f.waitUntilStarted("c#1")
        f.executor.release("c#1")
        #expect(try await f.ended("c", 1).status == .SUCCESS)
    }

    /// Deleting an image with a running and a queued build answers everyone waiting on either,
    /// tells every session how both ended, and frees the slot for other images.
    @Test func deletingAnImageEndsItsBuildsForEveryoneWaiting() async throws {
        let f = try await SchedulingFixture(limit: 1)
        let session = f.engine.openSession()
        _ = try await f.createImage("doomed")
        try await f.waitUntilStarted("doomed#1")
        _ = try await f.engine.triggerImage(namespace: "default", name: "doomed")
        _ = try await f.createImage("other")
        async let running = f.ended("doomed", 1)
        async let queued = f.ended("doomed", 2)
        let doomed1 = try await f.engine.buildKey(namespace: "default", image: "doomed", number: 1)
        async let followed = f.engine.followLogs(session: session, key: doomed1, since: 1)
        try await Task.sleep(for: .milliseconds(50))  // the three calls above are waiting (an early answer still passes)
        try await f.engine.deleteImage(namespace: "default", name: "doomed")
        let (r, q, fl) = try await (running, queued, followed)
        #expect(r.status == .FAILURE && r.message == Engine.imageDeleted)
        #expect(q.status == .FAILURE && q.message == Engine.imageDeleted)
        #expect(fl.status == .FAILURE)
        try await f.waitUntilStarted("other#1")
        #expect(!f.executor.started.contains("doomed#2"))
        f.executor.release("other#1")
        #expect(try await f.ended("other", 1).status == .SUCCESS)
        // Every session heard a final status for both builds.
        var finals: Set<Int> = []
        for await message in session.messages {
            if case .notification(.buildStatusChanged(let s)) = message, s.image == "doomed", s.status == .FAILURE, let n = s.build { finals.insert(n) }
            if finals == [1, 2] { break }
        }
        #expect(finals == [1, 2])
        await #expect(throws: EngineError.self) { try await f.engine.wait(namespace: "default", image: "doomed", number: 1, timeout: 1) }
    }

    /// A database error while a build's end is recorded still frees the slot and answers the
    /// waiters: the queue does not stall.
    @Test func anUnrecordableEndStillFreesTheSlotAndAnswersWaiters() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a")
        _ = try await f.createImage("b")
        try await f.waitUntilStarted("a#1")
        try await f.engine.store.db.execute("""
            CREATE TRIGGER no_finish BEFORE INSERT ON builds WHEN NEW.status = 'SUCCESS'
            BEGIN SELECT RAISE(ABORT, 'injected: the disk failed'); END;
            """)
        async let waiting = f.ended("a", 1)
        f.executor.release("a#1")
        #expect(try await waiting.status == .SUCCESS)  // as it ended, though not recorded
        #expect(try await f.ended("a", 1).status == .SUCCESS)  // and so when asked afterwards
        try await f.waitUntilStarted("b#1")
        f.executor.release("b#1")
        #expect(try await f.ended("b", 1).status == .SUCCESS)
    }

    /// Retention keeps the newest successful builds, as many as the image says.
    @Test func retentionDeletesTheOldestBuilds() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a", keepSucceeded: 2)
        for n in 1...4 {
            if n > 1 { _ = try await f.engine.triggerImage(namespace: "default", name: "a") }
            try await f.waitUntilStarted("a#\(n)")
            f.executor.release("a#\(n)")
            #expect(try await f.ended("a", n).status == .SUCCESS)
        }
        #expect(try await f.engine.builds(namespace: "default", image: "a").map(\.number) == [3, 4])
    }

    /// What a crash leaves (a running and a queued build in the files) starts again as: the
    /// running build FAILURE (interrupted), the queued one run.
    @Test func aRestartFailsInterruptedBuildsAndRunsQueuedOnes() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a")
        _ = try await f.createImage("b")
        try await f.waitUntilStarted("a#1")
        #expect(try await f.status("b", 1).status == .QUEUED)
        // The files as a crash would leave them, copied while the engine runs.
        let copy = f.root.appendingPathComponent("copy")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let cp = Process()
        cp.executableURL = URL(fileURLWithPath: "/bin/cp")
        cp.arguments = ["-a", f.root.appendingPathComponent("state").path, copy.path + "/state"]
        try cp.run()
        cp.waitUntilExit()
        try FileManager.default.removeItem(atPath: copy.path + "/state/engine.lock")
        let restarted = try await SchedulingFixture(limit: 1, stateDirectory: copy.appendingPathComponent("state"))
        #expect(restarted.engine.interruptedBuilds.map(\.image) == ["a"])
        let a = try await restarted.status("a", 1)
        #expect(a.status == .FAILURE && a.message?.hasPrefix("interrupted") == true)
        try await restarted.waitUntilStarted("b#1")
        restarted.executor.release("b#1")
        #expect(try await restarted.ended("b", 1).status == .SUCCESS)
        f.executor.release("a#1")
    }

    /// The scheduler alone: order, one per image, the limit, stop.
    @Test func theSchedulerPicksInQueueOrder() {
        let s = BuildScheduler(limit: 2)
        let a1 = BuildKey(namespace: "n", image: "a", number: 1, incarnation: ""), a2 = BuildKey(namespace: "n", image: "a", number: 2, incarnation: "")
        let b1 = BuildKey(namespace: "n", image: "b", number: 1, incarnation: ""), c1 = BuildKey(namespace: "n", image: "c", number: 1, incarnation: "")
        for k in [a1, a2, b1, c1, a1] { s.enqueue(k) }
        #expect(s.queue == [a1, a2, b1, c1])
        let log = try! BuildLogWriter(key: a1, path: NSTemporaryDirectory() + "sched-\(UUID().uuidString).log", maxBytes: 1024,
                                      sessions: SessionRegistry(), redactor: SecretRedactor())
        defer { log.close() }
        let build = Build(namespace: "n", image: "a", number: 1, status: .BUILDING, reasons: [], created: "", inputs: BuildInputs.sample,
                          buildpacks: [])
        #expect(s.nextToStart() == a1)
        s.occupy(a1, .init(task: nil, log: log, build: build))
        #expect(s.nextToStart() == b1)  // a2 waits for a1
        s.occupy(b1, .init(task: nil, log: log, build: build))
        #expect(s.nextToStart() == nil)  // the limit
        _ = s.vacate(a1)
        s.stop(cancelMessage: nil)
        #expect(s.nextToStart() == nil)  // stopped
        #expect(s.queue == [a2, c1])
    }

    /// A deleted image's build 1, still ending, holds back no build of an image created again
    /// under its name, and their slots and waiters are apart.
    @Test func anotherIncarnationsBuildIsAnotherBuild() async throws {
        let s = BuildScheduler(limit: 2)
        let old = BuildKey(namespace: "n", image: "a", number: 1, incarnation: "old"), new = BuildKey(namespace: "n", image: "a", number: 1, incarnation: "new")
        let log = try! BuildLogWriter(key: old, path: NSTemporaryDirectory() + "sched-\(UUID().uuidString).log", maxBytes: 1024,
                                      sessions: SessionRegistry(), redactor: SecretRedactor())
        defer { log.close() }
        let build = Build(namespace: "n", image: "a", number: 1, status: .BUILDING, reasons: [], created: "", inputs: BuildInputs.sample,
                          buildpacks: [])
        s.occupy(old, .init(task: nil, log: log, build: build))
        s.enqueue(new)
        #expect(s.nextToStart() == new)
        s.occupy(new, .init(task: nil, log: log, build: build))
        #expect(s.running.count == 2)
        let answered = try await withCheckedThrowingContinuation { (done: CheckedContinuation<Build?, any Error>) in
            let id = UUID()
            s.addWaiter(new, id: id, done)
            #expect(s.removeWaiter(old, id: id) == nil)
            s.answer(new, with: build)
        }
        #expect(answered == build)
        #expect(s.vacate(old) != nil && s.running.keys.first == new)
    }
}
