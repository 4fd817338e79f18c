import SlipwayProtocol
import BuildRuntime
import Foundation

/// The domain: stacks, stores, builders, images, builds and events, their rules, the build
/// scheduler and persistence. One engine serves any number of sessions; it knows nothing
/// about JSON-RPC. Heavy work (importing images, snapshotting sources, running builds) runs
/// off the actor, so it never delays a query.
///
/// The engine is a facade: it holds the state its services share (the store, the image cache,
/// the scheduler, watches and collection state) and routes each public call (`Engine+Routes`)
/// to the service with that one job (`PlatformService`, `ImageService`, `BuildRunner`, …),
/// whose functions run isolated to it. It runs on an executor of its own
/// (`PersistenceExecutor`), so its synchronous SQLite writes never hold a pool thread.
public actor Engine {
    /// The thread the engine runs on, with its SQLite calls, off the cooperative pool.
    nonisolated let executor = PersistenceExecutor(name: "slipway-engine")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    public nonisolated let stateDirectory: URL
    let options: EngineOptions
    let store: StateStore
    let images: ImageStore
    let snapshotter: SourceSnapshotter
    let sessions = SessionRegistry()
    let redactor = SecretRedactor()
    let git: GitClient?

    /// Images by namespace/name as last committed, loaded from the database on first use;
    /// queries read it from any thread.
    let imageCatalog = ImageCatalog()
    /// The queue, the build slots and who waits for which build.
    let scheduler: BuildScheduler
    /// What runs builds: the executor of each build's kind.
    let executors: BuildExecutors
    /// The git poller, while it runs.
    var pollTask: Task<Void, Never>?
    /// The folders of watched images (`SourceWatchService`).
    var watchers: [ImageKey: FolderWatch] = [:]
    /// Deletes expired events, while the engine runs.
    var expiryTask: Task<Void, Never>?
    /// Deletes stand-alone build runs whose time has come, while the engine runs.
    var runExpiryTask: Task<Void, Never>?
    /// A garbage collection runs; those asked for meanwhile wait in `collectionQueue`.
    var collecting = false
    var collectionQueue: [CheckedContinuation<Void, Never>] = []
    /// The collection that deletions asked for, until it has run.
    var pendingCollection: Task<Void, Never>?
    /// Builds marked FAILURE at start-up because the process running them died.
    public nonisolated let interruptedBuilds: [Build]

    struct ImageKey: Hashable { var namespace: String; var name: String }

    /// Makes the executors of an engine from its image store, source snapshotter and options.
    public typealias ExecutorFactory = @Sendable (ImageStore, SourceSnapshotter, EngineOptions) -> BuildExecutors

    /// The rebaser for rebases, the Dockerfile builder for Dockerfile images, the CNB lifecycle
    /// for everything else.
    public static let defaultExecutors: ExecutorFactory = { images, sources, options in
        BuildExecutors(rebase: Rebaser(images: images), dockerfile: DockerfileExecutor(images: images, sources: sources, helper: options.userNamespaceHelper),
                       buildpacks: Lifecycle(images: images, sources: sources, workspace: options.workspace))
    }

    public init(stateDirectory given: URL, options: EngineOptions, executors: ExecutorFactory = Engine.defaultExecutors) throws {
        self.options = options
        let fm = FileManager.default
        // The canonical path (symlinks resolved): paths under it are stored relative to it.
        do {
            try fm.createDirectory(at: given, withIntermediateDirectories: true)
        } catch {
            throw EngineError.internal("cannot use state directory \(given.path): \(error.localizedDescription)")
        }
        let stateDirectory = URL(fileURLWithPath: SourceSnapshotter.realPath(given.path) ?? given.path)
        self.stateDirectory = stateDirectory
        do {
            for sub in ["logs", "work", "cache", "buildpacks", "layouts"] {
                try fm.createDirectory(at: stateDirectory.appendingPathComponent(sub), withIntermediateDirectories: true)
            }
            images = try ImageStore(stateDirectory: stateDirectory)
        } catch let e as RuntimeError {
            throw EngineError(e)
        } catch {
            throw EngineError.internal("cannot use state directory \(stateDirectory.path): \(error.localizedDescription)")
        }
        try EngineStartup.lockStateDirectory(stateDirectory)
        images.content.removeAbandonedTemporaries()
        store = try StateStore(path: stateDirectory.appendingPathComponent("state.db").path, stateDirectory: stateDirectory.path)
        do {
            try store.relativizeStoredPaths()
            try store.upgradeEvents()
            try store.upgradeBuildRuns()
            try store.upgradeImageIncarnations()
        } catch let e as EngineError where e.reason == .unavailable {
            // A full disk: stored paths stay absolute, and the events table as it was, until the
            // next start; reads still work.
        }
        snapshotter = SourceSnapshotter(store: images.content, limits: .init(maxTotalBytes: options.maxSourceBytes))
        snapshotter.snapshots.removeAbandonedScratch()
        do {
            _ = try EngineStartup.upgradeSourceSnapshots(store, snapshotter)
        } catch let e as EngineError where e.reason == .unavailable {
            // A full disk: tar snapshots are converted at the next start; reads still work.
        }
        self.executors = executors(images, snapshotter, options)
        git = try? GitClient()  // nil when git is missing; a git source then gets an Unavailable error saying so
        interruptedBuilds = try EngineStartup.recoverInterruptedBuilds(store)
        do {
            // Scratch space of builds that were running; nothing in it outlives a process.
            try ConfinedDirectory.removeTree(atPath: stateDirectory.appendingPathComponent("work").path)
            try fm.createDirectory(at: stateDirectory.appendingPathComponent("work"), withIntermediateDirectories: true)
        } catch {
            // The engine still answers reads (a full disk, say); builds fail until work/ can be made.
            FileHandle.standardError.write(Data("slipway: cannot reset \(stateDirectory.path)/work: \(error)\n".utf8))
        }
        // Queued builds are of the images stored now (a stray build of no image is not queued).
        let storedImages = Dictionary(try store.objects(Image.self, kind: .image).map { (ImageKey(namespace: $0.namespace, name: $0.name), $0) }) { a, _ in a }
        scheduler = BuildScheduler(limit: options.maxConcurrentBuilds,
                                   queued: try store.builds(withStatus: .QUEUED).compactMap { storedImages[ImageKey(namespace: $0.namespace, name: $0.image)]?.buildKey($0.number) })
    }



    /// Starts the builds that were queued when the engine last stopped.
    public func resume() throws {
        // Secret values are known before anything can be logged.
        try SecretService.loadRedactions(self)
        BuildRunner.schedule(self)
        SourceWatchService.startGitPolling(self)
        EventService.startEventExpiry(self)
        BuildRunService.startBuildRunExpiry(self)
        Task { await SourceWatchService.resumeWatches(self) }
    }

    // MARK: Sessions

    /// Opens a session: its own notification subscriptions and stream.
    public nonisolated func openSession() -> EngineSession { sessions.open() }

    public func closeSession(_ session: EngineSession) {
        sessions.close(session)
    }







    // MARK: Events

    /// Events a change records; written in the change's transaction, told to sessions after it commits.
    final class EventBatch {
        struct Pending {
            var type: SystemEvent.EventType
            var reason: String
            var message: String
            var object: EventObject
        }
        private(set) var pending: [Pending] = []
        func add(_ type: SystemEvent.EventType, _ reason: String, _ message: String, object: EventObject) {
            pending.append(Pending(type: type, reason: reason, message: message, object: object))
        }
    }

    /// Runs `body` in one transaction together with the events it records, so a change and its
    /// events survive a crash together or not at all; the events are broadcast after the commit.
    func change<T>(_ body: (SQLiteDatabase.Transaction, EventBatch) throws -> T) throws -> T {
        let batch = EventBatch()
        let (result, recorded) = try store.db.transaction { tx -> (T, [SystemEvent]) in
            let r = try body(tx, batch)
            let time = Timestamp.now()
            let events = try batch.pending.map { e in
                try store.addEvent(type: e.type, reason: e.reason, message: redactor.redact(e.message), object: e.object, time: time, in: tx)
            }
            return (r, events)
        }
        for e in recorded { sessions.broadcast(.event(e)) }
        return result
    }

    /// Records events that describe no stored change (a failed poll).
    func recordEvents(_ body: (EventBatch) -> Void) throws {
        try change { _, batch in body(batch) }
    }



    // MARK: Helpers

    /// The error of a write refused for want of space, naming where space is missing.
    nonisolated func noSpace() -> EngineError {
        EngineError(.unavailable, "no space left on device in \(stateDirectory.path); free some space there and try again")
    }

    /// Runtime errors become engine errors.
    nonisolated func mapped<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as RuntimeError { throw EngineError(e) }
    }

    nonisolated func path(_ components: String...) -> String {
        components.reduce(stateDirectory.path) { $0 + "/" + $1 }
    }
}
