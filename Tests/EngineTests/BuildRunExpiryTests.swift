import SlipwayProtocol
import BuildRuntime
import Foundation
import Testing
@testable import Engine
import TestSupport

/// What is said of an expired build run: for a day that it expired and when, then nothing.
@Suite struct BuildRunExpiryTests {
    @Test func anExpiredRunIsNamedForADayOnly() async throws {
        let f = try await SchedulingFixture(limit: 1)
        let hourAgo = Timestamp.format(Date().addingTimeInterval(-3600)), overADayAgo = Timestamp.format(Date().addingTimeInterval(-86400 - 60))
        let recent = BuildRun(namespace: "default", name: "recent", image: "run.recent", build: 1, standalone: true, spec: nil, created: hourAgo)
        let old = BuildRun(namespace: "default", name: "old", image: "run.old", build: 1, standalone: true, spec: nil, created: overADayAgo)
        try await f.engine.store.noteExpired(recent, at: hourAgo, ended: hourAgo, status: "SUCCESS")
        try await f.engine.store.noteExpired(old, at: overADayAgo, ended: overADayAgo, status: "FAILURE")
        await f.engine.expireBuildRuns()
        do {
            _ = try await f.engine.buildRun(namespace: "default", name: "recent")
            Issue.record("an expired run was found")
        } catch let e as EngineError {
            #expect(e.reason == .notFound && e.message.contains("expired at \(hourAgo)") && e.message.contains("--buildrun-ttl-succeeded"))
        }
        do {
            _ = try await f.engine.buildRun(namespace: "default", name: "old")
            Issue.record("a run expired more than a day ago was found")
        } catch let e as EngineError {
            #expect(e.reason == .notFound && !e.message.contains("expired"))
        }
    }
}
