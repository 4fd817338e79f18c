import SlipwayProtocol
import BuildRuntime
import Foundation

/// The build queue and its slots. Builds wait in the order they were queued; at most `limit`
/// run at once, one per image (a deleted image's build that is still ending does not hold back
/// the builds of an image created again under its name: keys carry the incarnation); and whoever waits for a build's end (`build/wait`, a followed
/// `build/logs`, a pipeline's end of input) is answered exactly once, however the build ends:
/// finished, canceled, deleted with its image, or finished but not recordable.
///
/// It decides nothing about images or builds: the engine queues what its rules say to build,
/// starts what `nextToStart` hands it, and reports each end with `vacate` and `answer`. It is
/// owned by the `Engine` actor and used only on it, so it needs no lock; it is not `Sendable`.
final class BuildScheduler {
    /// A build that holds a slot: the task running it, where its log goes, and how it was
    /// started (what is recorded if its end cannot be read back).
    struct Slot {
        var task: Task<Void, Never>?
        var log: BuildLogWriter
        var build: Build
        /// Why it was canceled, when it was: the message it ends with.
        var cancelMessage: String?
        /// Blobs the build reads (its source, stack images, the image a rebase starts from):
        /// kept by garbage collection while it runs, whatever else changes.
        var leases: [Digest] = []
        /// When the slot was taken, before the build touched any blob. Every blob it writes,
        /// links (`ContentStore.copy`) or reuses is marked changed after this, and a collection
        /// keeps whatever changed since the oldest running build's start: what a build made or
        /// linked into its layout stays until the layout names it and the build is recorded.
        var leasedSince = Date()
    }

    /// How many builds run at once, across all images.
    let limit: Int
    /// Queued builds, first queued first.
    private(set) var queue: [BuildKey] = []
    private(set) var running: [BuildKey: Slot] = [:]
    /// Set when the engine stops: queued builds wait for the next start.
    private(set) var stopped = false
    private var waiters: [BuildKey: [(id: UUID, continuation: CheckedContinuation<Build?, any Error>)]] = [:]
    /// Builds that ended while the database refused to record it, as they ended: what this
    /// engine answers for them until the next start marks them interrupted.
    private(set) var unrecorded: [BuildKey: Build] = [:]

    init(limit: Int, queued: [BuildKey] = []) {
        self.limit = limit
        queue = queued
    }

    // MARK: Queue

    /// Queues a build unless it is queued already (changes to an image collapse into the build
    /// that waits for it).
    func enqueue(_ key: BuildKey) {
        if !queue.contains(key) { queue.append(key) }
    }

    /// Takes a build out of the queue; false when it was not queued.
    @discardableResult
    func unqueue(_ key: BuildKey) -> Bool {
        guard let i = queue.firstIndex(of: key) else { return false }
        queue.remove(at: i)
        return true
    }

    /// The next queued build that may start now, taken out of the queue: none while stopped,
    /// while every slot is taken, or while each queued build's image already has one running.
    func nextToStart() -> BuildKey? {
        guard !stopped, running.count < limit else { return nil }
        guard let i = queue.firstIndex(where: { key in !running.keys.contains { Self.sameImage($0, key) } }) else {
            return nil
        }
        return queue.remove(at: i)
    }

    /// The queued and running builds of one image (of this incarnation: a deleted one's build
    /// still ending is not the image's).
    func builds(ofImage image: Image) -> (queued: [BuildKey], running: [BuildKey]) {
        let own = image.buildKey(0)
        return (queue.filter { Self.sameImage($0, own) }, running.keys.filter { Self.sameImage($0, own) }.sorted { $0.number < $1.number })
    }

    /// Whether two builds are of the same image: name and incarnation.
    static func sameImage(_ a: BuildKey, _ b: BuildKey) -> Bool {
        a.namespace == b.namespace && a.image == b.image && a.incarnation == b.incarnation
    }

    // MARK: Slots

    func occupy(_ key: BuildKey, _ slot: Slot) { running[key] = slot }

    func attach(_ task: Task<Void, Never>, to key: BuildKey) { running[key]?.task = task }

    /// Frees the build's slot; nil when it held none (it ended another way already).
    func vacate(_ key: BuildKey) -> Slot? { running.removeValue(forKey: key) }

    /// Cancels a running build, which then ends with `message`; false when it is not running.
    @discardableResult
    func cancelRunning(_ key: BuildKey, message: String) -> Bool {
        guard running[key] != nil else { return false }
        running[key]?.cancelMessage = message
        running[key]?.task?.cancel()
        return true
    }

    /// Starts nothing more; with `cancelMessage`, cancels what runs.
    func stop(cancelMessage: String?) {
        stopped = true
        guard let cancelMessage else { return }
        for key in running.keys { cancelRunning(key, message: cancelMessage) }
    }

    // MARK: Waiters

    func addWaiter(_ key: BuildKey, id: UUID, _ continuation: CheckedContinuation<Build?, any Error>) {
        waiters[key, default: []].append((id, continuation))
    }

    /// Takes one waiter out (its deadline passed, or its request was canceled), to be
    /// answered by the caller.
    func removeWaiter(_ key: BuildKey, id: UUID) -> CheckedContinuation<Build?, any Error>? {
        guard let i = waiters[key]?.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters[key]?.remove(at: i).continuation
    }

    /// Answers everyone waiting for `key`: with the build as it ended, or nil when it is gone.
    func answer(_ key: BuildKey, with build: Build?) {
        for w in waiters.removeValue(forKey: key) ?? [] { w.continuation.resume(returning: build) }
    }

    func noteUnrecorded(_ key: BuildKey, _ build: Build) { unrecorded[key] = build }
}
