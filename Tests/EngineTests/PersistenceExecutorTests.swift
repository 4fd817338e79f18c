import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Engine

/// The engine's executor: one thread of its own, off the cooperative pool, running jobs one at a
/// time in order; the engine (and with it every SQLite call it makes) runs there.
@Suite struct PersistenceExecutorTests {
    actor Recorder {
        private let executor = PersistenceExecutor(name: "test-executor")
        nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
        var seen: [Int] = []
        var threads: Set<UInt> = []
        var onExecutor = true

        func note(_ i: Int) {
            seen.append(i)
            threads.insert(UInt(pthread_self()))
            onExecutor = onExecutor && executor.runsCurrentThread
        }
    }

    @Test func jobsRunOneAtATimeOnTheExecutorsOwnThread() async {
        let r = Recorder()
        for i in 0..<200 { await r.note(i) }
        await withTaskGroup(of: Void.self) { group in
            for i in 200..<400 { group.addTask { await r.note(i) } }
        }
        let seen = await r.seen
        #expect(Array(seen.prefix(200)) == Array(0..<200))
        #expect(Set(seen) == Set(0..<400))
        let (threads, onExecutor) = (await r.threads, await r.onExecutor)
        #expect(threads.count == 1 && onExecutor)
    }

    static func onItsThread(_ engine: isolated Engine) -> Bool { engine.executor.runsCurrentThread }

    @Test func theEngineRunsOnItsOwnThread() async throws {
        let f = try await SchedulingFixture(limit: 1)
        #expect(await Self.onItsThread(f.engine))
        _ = try await f.createImage("a")
        #expect(await Self.onItsThread(f.engine))
    }
}
