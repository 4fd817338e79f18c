import SlipwayProtocol
import BuildRuntime
import Foundation

/// System events: listing them, and deleting those past `--event-ttl` (events are recorded with the
/// change they describe, by `Engine.change`).
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum EventService {
    /// A page of events; those past `--event-ttl` are never listed, whether or not they have
    /// been deleted yet.
    static func events(_ engine: isolated Engine, _ query: StateStore.EventQuery) throws -> (events: [SystemEvent], more: Bool) {
        var q = query
        let oldest = Date().addingTimeInterval(-engine.options.eventTTL)
        q.since = max(q.since ?? oldest, oldest)
        return try engine.store.events(q)
    }

    /// Deletes expired events now (catching up at start, before any client is served), then
    /// as they expire.
    static func startEventExpiry(_ engine: isolated Engine) {
        let ttl = engine.options.eventTTL
        let store = engine.store
        // A failed delete (a full disk) is tried again by the loop; listing hides expired events anyway.
        _ = try? store.deleteEvents(lastSeenBefore: Date().addingTimeInterval(-ttl))  // see above
        engine.expiryTask = Task.detached(priority: .background) {
            // Often enough that an event is gone soon after its time; at most once a minute.
            let every = min(max(ttl / 4, 0.1), 60)
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(every))  // cancellation ends the loop
                let cutoff = Date().addingTimeInterval(-ttl)
                // A failed delete (a full disk) is tried again next time; listing hides expired events anyway.
                _ = try? await BlockingWork.run { try store.deleteEvents(lastSeenBefore: cutoff) }  // see above
            }
        }
    }
}
