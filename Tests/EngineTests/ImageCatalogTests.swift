import BuildRuntime
import Foundation
import SlipwayProtocol
import Synchronization
import Testing
import TestSupport
@testable import Engine

/// The image catalog: what the engine publishes after each commit, read by queries on their own
/// threads. A query sees every committed change, never waits for the engine's thread, and the
/// catalog holds nothing until the table has been read whole.
@Suite struct ImageCatalogTests {
    @Test func nothingIsPublishedBeforeTheTableIsLoaded() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a")
        let image = try await f.engine.image("default", "a")
        let catalog = ImageCatalog()
        let key = Engine.ImageKey(namespace: "default", name: "a")
        catalog.put(image, at: key)
        #expect(catalog.image(key) == nil && catalog.all == nil)
        catalog.load([:])
        #expect(catalog.image(key) == .some(nil))
        catalog.put(image, at: key)
        #expect(catalog.image(key)??.name == "a" && catalog.all?.count == 1)
        catalog.remove(key)
        #expect(catalog.image(key) == .some(nil) && catalog.all?.isEmpty == true)
    }

    /// Holds the engine's thread until `release` is signalled, saying when it holds it.
    static func hold(_ engine: isolated Engine, holding: DispatchSemaphore, release: DispatchSemaphore) {
        holding.signal()
        release.wait()
    }

    @Test func anImageQueryIsAnsweredWhileTheEnginesThreadIsBusy() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a")
        _ = try await f.engine.image("default", "a")  // the table is loaded
        let (holding, release) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let held = Task.detached { await Self.hold(f.engine, holding: holding, release: release) }
        // Blocks a pool thread only until the engine's thread has taken the job.
        await Task.detached { holding.wait() }.value
        let answered = Mutex<String?>(nil)
        let query = Task.detached {
            let name: String
            do { name = try await f.engine.image("default", "a").name } catch { name = "error: \(error)" }
            answered.withLock { $0 = name }
        }
        // Had the query needed the engine's thread, it would wait for `release`, which comes
        // only after this deadline.
        let deadline = Date().addingTimeInterval(30)
        while answered.withLock({ $0 }) == nil && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let name = answered.withLock { $0 }
        release.signal()
        await held.value
        await query.value
        #expect(name == "a")
    }

    @Test func aQuerySeesEachCommittedChangeAndDeletion() async throws {
        let f = try await SchedulingFixture(limit: 1)
        _ = try await f.createImage("a")
        var spec = ImageSpec(name: "a")
        spec.env = ["MODE": "two"]
        _ = try await f.engine.patchImage(spec)
        #expect(try await f.engine.image("default", "a").env == ["MODE": "two"])
        try await f.engine.deleteImage(namespace: "default", name: "a")
        await #expect(throws: EngineError.self) { try await f.engine.image("default", "a") }
        _ = try await f.engine.createImage(ImageSpec(name: "a", source: SourceSpec(local: .init(path: f.source)), env: ["MODE": "three"]))
        #expect(try await f.engine.image("default", "a").env == ["MODE": "three"])
    }
}
