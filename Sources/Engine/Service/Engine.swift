import SlipwayProtocol
import BuildRuntime
import Foundation

/// Settings of an engine.
public struct EngineOptions: Sendable {
    /// The launcher binary copied into every image.
    public var launcherPath: String
    /// Its version, named in every image's `io.buildpacks.build.metadata`.
    public var launcherVersion = "unknown"
    /// Seconds between polls of git branches and tags; nil turns polling off.
    public var gitPollInterval: Double?
    /// Registries (`host[:port]`) that may be reached over plain HTTP besides loopback ones.
    public var insecureRegistries: [String] = []
    /// Hosts (`HOST[:PORT]`) a build's ADD may fetch from though `OutboundAddressPolicy`
    /// refuses them otherwise (`--allow-add-host`).
    public var addHostAllowList: [String] = []
    /// How many builds run at once, across all images.
    public var maxConcurrentBuilds: Int
    /// Folders the host paths a client names (sources, buildpacks, stack folders and layouts,
    /// docker config files) must be in; nil allows any path the server can read.
    public var allowedSourceRoots: [String]?
    /// Cap on a source: bytes downloaded for a blob, and bytes a snapshot or an archive
    /// expands to (`--max-source-bytes`).
    public var maxSourceBytes: Int64 = 8 << 30
    /// The most bytes one layer a build step makes may hold (`--max-layer-bytes`).
    public var maxLayerBytes: Int64 = 10 << 30
    /// Cap on one build's log (`--max-log-bytes`); past it, lines are dropped and the log says so.
    public var maxLogBytes: Int64 = 1 << 30
    /// Seconds a system event is kept after it last happened (`--event-ttl`; the code engine
    /// keeps them 60 minutes).
    public var eventTTL: Double = 3600
    /// Seconds a stand-alone build run is kept after it succeeded, and after it failed (the
    /// code engine's 1 hour and 24 hours).
    public var buildRunTTLSucceeded: Double = 3600
    public var buildRunTTLFailed: Double = 86400
    /// What each namespace may hold (`--quota`).
    public var quota = Quota()
    /// How layers are compressed on push (`--layer-compression`), and at what level (nil:
    /// the algorithm's default).
    public var layerCompression = LayerCompression.gzip
    public var layerCompressionLevel: Int?
    /// PEM certificates trusted for every registry besides the system's (`--registry-ca`).
    public var registryCAFile: String?
    /// The most network an image or build run may ask for, and what they get by default
    /// (`--build-network`).
    public var buildNetwork = BuildNetwork.public
    /// How a buildpacks build gets its /workspace (`--workspace`): an overlay of the source
    /// snapshot's trees where overlayfs can be mounted, or always unpacked.
    public var workspace = WorkspaceMode.overlay
    /// What each build's steps may use, and how that is enforced (`--step-pids-limit`,
    /// `--step-memory`, `--step-limits`).
    public var stepLimits = StepLimits()
    /// `slipway-userns`, under which Dockerfile RUN steps run: beside the launcher.
    public var userNamespaceHelper: String {
        URL(fileURLWithPath: launcherPath).deletingLastPathComponent().appendingPathComponent("slipway-userns").path
    }

    public init(launcherPath: String, maxConcurrentBuilds: Int = 2, allowedSourceRoots: [String]? = nil, gitPollInterval: Double? = 60) {
        self.launcherPath = launcherPath
        self.gitPollInterval = gitPollInterval
        self.maxConcurrentBuilds = maxConcurrentBuilds
        self.allowedSourceRoots = allowedSourceRoots
    }
}

/// The domain: stacks, stores, builders, images, builds and events, their rules, the build
/// scheduler and persistence. One engine serves any number of sessions; it knows nothing
/// about JSON-RPC. Heavy work (importing images, snapshotting sources, running builds) runs
/// off the actor, so it never delays a query.
public actor Engine {
    public nonisolated let stateDirectory: URL
    let options: EngineOptions
    let store: StateStore
    let images: ImageStore
    let snapshotter: SourceSnapshotter
    let sessions = SessionRegistry()
    let redactor = SecretRedactor()
    let git: GitClient?

    /// Images by namespace/name, loaded from the database on first use.
    var imageCache: [ImageKey: Image]?
    /// The queue, the build slots and who waits for which build.
    let scheduler: BuildScheduler
    /// What runs builds: the executor of each build's kind.
    let executors: BuildExecutors
    /// The git poller, while it runs.
    var pollTask: Task<Void, Never>?
    /// The folders of watched images (`Engine+Watching`).
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
        startEventExpiry()
        BuildRunService.startBuildRunExpiry(self)
        Task { await SourceWatchService.resumeWatches(self) }
    }

    // MARK: Sessions

    /// Opens a session: its own notification subscriptions and stream.
    public nonisolated func openSession() -> EngineSession { sessions.open() }

    public func closeSession(_ session: EngineSession) {
        sessions.close(session)
    }

    /// Waits until no build is running or queued (the embedded engine's end of input: the
    /// process is about to go, and builds would be abandoned).
    public func waitForIdle() async {
        while let key = scheduler.running.keys.first ?? scheduler.queue.first {
            _ = try? await wait(for: key, timeout: nil)  // a build deleted meanwhile is done too
            if scheduler.running[key] == nil { scheduler.unqueue(key) }  // still queued: scheduling stopped
        }
    }

    /// Waits until every build in `keys` has finished (or is gone with its image).
    public func waitForBuilds(_ keys: Set<BuildKey>) async {
        for key in keys.sorted(by: { ($0.namespace, $0.image, $0.number) < ($1.namespace, $1.image, $1.number) }) {
            _ = try? await wait(for: key, timeout: nil)  // NotFound: deleted with its image, which ends it too
        }
    }

    /// What the engine is doing: for `engine status`, and to know when it may stop.
    public struct Activity: Sendable {
        public var running: [(key: BuildKey, phase: Build.Phase)]
        public var queued: Int
        /// Whether it polls git sources (branches and tags).
        public var pollsGit: Bool
        /// Local folders it watches.
        public var watchedFolders: Int
        /// Work that needs the engine to stay up with no client: git sources it polls, folders
        /// it watches.
        public var standingWork: Bool { pollsGit || watchedFolders > 0 }
        public var busy: Bool { !running.isEmpty || queued > 0 || standingWork }
    }

    public func activity() -> Activity {
        let polled = options.gitPollInterval != nil && ((try? loadImages()) ?? [:]).values.contains {  // a hint for idle exit: unreadable images are not polled either
            $0.isConfiguration && $0.source.git != nil && $0.source.git?.poll != false && $0.source.resolved?.pinned != true
        }
        return Activity(running: scheduler.running.map { ($0.key, $0.value.log.currentPhase) }.sorted { $0.key.number < $1.key.number },
                        queued: scheduler.queue.count, pollsGit: polled, watchedFolders: watchers.count)
    }

    /// Starts no more queued builds (they run at the next start); cancels the running ones too
    /// when `cancelRunning`. Used when the engine is told to stop.
    public func stopScheduling(cancelRunning: Bool) {
        scheduler.stop(cancelMessage: cancelRunning ? "canceled: the engine was stopped with --now; trigger the image to build again" : nil)
    }

    /// Returns once no build is running.
    public func waitForRunningBuilds() async {
        while let key = scheduler.running.keys.first {
            _ = try? await wait(for: key, timeout: nil)  // deleted meanwhile: finished too
        }
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

    /// A page of events; those past `--event-ttl` are never listed, whether or not they have
    /// been deleted yet.
    public func events(_ query: StateStore.EventQuery) throws -> (events: [SystemEvent], more: Bool) {
        var q = query
        let oldest = Date().addingTimeInterval(-options.eventTTL)
        q.since = max(q.since ?? oldest, oldest)
        return try store.events(q)
    }

    /// Deletes expired events now (catching up at start, before any client is served), then
    /// as they expire.
    func startEventExpiry() {
        let ttl = options.eventTTL
        let store = self.store
        // A failed delete (a full disk) is tried again by the loop; listing hides expired events anyway.
        _ = try? store.deleteEvents(lastSeenBefore: Date().addingTimeInterval(-ttl))  // see above
        expiryTask = Task.detached(priority: .background) {
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
