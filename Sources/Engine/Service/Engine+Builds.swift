import SlipwayProtocol
import BuildRuntime
import Foundation

extension Engine {
    // MARK: Queries

    public func builds(namespace: String, image: String?) throws -> [Build] {
        if let image { _ = try self.image(namespace, image) }
        return try store.builds(namespace: namespace, image: image)
    }

    /// One page of builds (see `StateStore.builds(namespace:image:after:limit:)`).
    public func builds(namespace: String, image: String?, after: (image: String, number: Int)?, limit: Int) throws -> (builds: [Build], more: Bool) {
        if let image { _ = try self.image(namespace, image) }
        return try store.builds(namespace: namespace, image: image, after: after, limit: limit)
    }

    /// A build by number, or the latest build of the image.
    public func build(namespace: String, image: String, number: Int?) throws -> Build {
        try buildAndKey(namespace: namespace, image: image, number: number).build
    }

    /// The key of a build of the image now of that name, by number, or of its latest build
    /// (what `build/logs` follows and `build/wait` waits for).
    public func buildKey(namespace: String, image: String, number: Int?) throws -> BuildKey {
        try buildAndKey(namespace: namespace, image: image, number: number).key
    }

    private func buildAndKey(namespace: String, image name: String, number: Int?) throws -> (build: Build, key: BuildKey) {
        let image = try self.image(namespace, name)
        let b: Build?
        if let number {
            b = try storedBuild(image.buildKey(number))
        } else {
            b = try store.latestBuild(namespace: namespace, image: name).map { scheduler.unrecorded[image.buildKey($0.number)] ?? $0 }
        }
        guard let b else {
            throw EngineError.notFound("build", number.map(String.init) ?? "latest", namespace: namespace,
                                       hint: "list the builds of image '\(name)' with build/list")
        }
        return (b, image.buildKey(b.number))
    }

    /// The log lines of a build from `since` (1-based), read from its log file.
    public func logs(namespace: String, image: String, number: Int?, since: Int) async throws -> [BuildLogLine] {
        let key = try buildKey(namespace: namespace, image: image, number: number)
        let path = logPath(key)
        let run = runName(of: key)
        return try await BlockingWork.run {
            BuildLogFile.read(path: path, key: key, since: since).map { line in
                var l = line
                if let run { l.buildrun = run }
                return l
            }
        }
    }

    /// Sends the build's log lines from `since` to `session` as they are written, until the
    /// build ends; returns the finished build. The session reads the log file from its own
    /// cursor (see `EngineSession`); the caller flushes the session and then calls `unfollow`.
    public func followLogs(session: EngineSession, key: BuildKey, since: Int) async throws -> Build {
        guard let b = try storedBuild(key) else {
            throw EngineError.notFound("build", String(key.number), namespace: key.namespace, hint: "it was deleted with its image")
        }
        // A queued build has no log file yet; the session reads it from the first line once it does.
        session.follow(key, path: logPath(key), since: since)
        if b.status.isFinished { return b }
        return try await wait(for: key, timeout: nil)
    }

    /// A build as stored, or as it ended when its end could not be stored; nil when its image
    /// was deleted (even if an image of the name exists again: its builds are others).
    func storedBuild(_ key: BuildKey) throws -> Build? {
        if let b = scheduler.unrecorded[key] { return b }
        guard try imageIfExists(key.namespace, key.image)?.buildKey(key.number) == key else { return nil }
        return try store.build(namespace: key.namespace, image: key.image, number: key.number)
    }

    /// Waits until the build has finished (or `timeout` seconds pass: Unavailable-free, it
    /// answers with the build as it is then).
    public func wait(for key: BuildKey, timeout: Double?) async throws -> Build {
        let stored = try storedBuild(key)
        if let b = stored, b.status.isFinished { return b }
        // A build deleted with its image still ends (and says so) once its task stops.
        guard stored != nil || scheduler.running[key] != nil else {
            throw EngineError.notFound("build", String(key.number), namespace: key.namespace, hint: "list builds with build/list")
        }
        let waiterID = UUID()
        return try await withTaskCancellationHandler {
            let result: Build? = try await withCheckedThrowingContinuation { c in
                scheduler.addWaiter(key, id: waiterID, c)
                if let timeout {
                    Task {
                        try? await Task.sleep(for: .seconds(timeout))  // never canceled: the sleep always ends
                        self.releaseWaiter(key, waiterID)
                    }
                }
            }
            try Task.checkCancellation()
            guard let result else {
                throw EngineError.notFound("build", String(key.number), namespace: key.namespace, hint: "it was deleted with its image")
            }
            return result
        } onCancel: {
            Task { await self.releaseWaiter(key, waiterID) }
        }
    }

    /// Resumes one waiter early (timeout or cancellation) with the build as it is now.
    func releaseWaiter(_ key: BuildKey, _ id: UUID) {
        guard let c = scheduler.removeWaiter(key, id: id) else { return }
        // A build that cannot be read now is an error for the waiter, not "deleted".
        c.resume(with: Result { try storedBuild(key) })
    }

    public func wait(namespace: String, image: String, number: Int?, timeout: Double?) async throws -> Build {
        try await wait(for: buildKey(namespace: namespace, image: image, number: number), timeout: timeout)
    }

    /// Cancels a queued or running build: it ends as FAILURE with the message "canceled".
    public func cancel(namespace: String, image: String, number: Int?) throws -> Build {
        let (b, key) = try buildAndKey(namespace: namespace, image: image, number: number)
        guard !b.status.isFinished else {
            throw EngineError(.failedPrecondition, "build \(b.number) of image '\(image)' has already finished (\(b.status.rawValue)); nothing to cancel")
        }
        if scheduler.cancelRunning(key, message: "canceled") { return b }
        scheduler.unqueue(key)
        var life = BuildLife(queued: b)
        advance(&life, .refused(message: "canceled", at: Timestamp.now()), key, log: nil)
        return life.build
    }

    // MARK: Scheduling

    /// Starts queued builds while the scheduler has slots for them.
    func schedule() {
        while let key = scheduler.nextToStart() { start(key) }
    }

    /// Where a build's log is. A deleted image's build that is still ending writes to the file
    /// it opened, whose name is gone (`BuildLogWriter.abandon`).
    func logPath(_ key: BuildKey) -> String { path("logs", key.namespace, key.image, "\(key.number).log") }

    /// A build's scratch folder: by incarnation too, as a deleted image's build may still be
    /// ending (and removing its folder) while the build of the same number of an image created
    /// again under its name runs.
    func workPath(_ key: BuildKey) -> String { path("work", key.namespace, key.image, "\(key.number)-\(key.incarnation)") }

    func start(_ key: BuildKey) {
        let image: Image
        var life: BuildLife
        do {
            guard let i = try imageIfExists(key.namespace, key.image), i.buildKey(key.number) == key,
                let found = try store.build(namespace: key.namespace, image: key.image, number: key.number), found.status == .QUEUED
            else { return }  // canceled or deleted meanwhile
            life = BuildLife(queued: found)
            image = i
        } catch {
            report("build \(key.number) of \(key.namespace)/\(key.image) cannot start: \(error); it stays queued until the next start")
            return
        }
        let log: BuildLogWriter
        do {
            log = try BuildLogWriter(key: key, path: logPath(key), maxBytes: options.maxLogBytes, sessions: sessions, redactor: redactor)
        } catch {
            advance(&life, .refused(message: "cannot open the build log: \(error)", at: Timestamp.now()), key, log: nil)
            return
        }
        var b = BuildLife.starting(life.build, at: Timestamp.now())
        // A builder that does not exist is reported by makeRequest as the build's failure; one
        // (or its stack or store) that cannot be read fails the build here, saying so.
        let resolved: ResolvedBuilder?
        do {
            b.inputs = try inputs(for: image)
            resolved = try builderIfExists(image.builder, namespace: image.namespace).map { try resolveStatus(of: $0) }
        } catch {
            log.close()
            advance(&life, .refused(message: "cannot read what the build is made from: \((error as? EngineError)?.message ?? "\(error)")", at: Timestamp.now()),
                    key, log: nil)
            return
        }
        if image.strategy == .buildpacks {
            b.builderImage = "\(image.builder.kind.rawValue)/\(image.builder.name)"
            b.runImage = resolved?.stack?.status.resolvedRunImage
            b.stackID = resolved?.stack?.id
        }
        do {
            try store.putBuild(b)
        } catch {
            log.close()
            advance(&life, .refused(message: "cannot record the start of the build: \(error)", at: Timestamp.now()), key, log: nil)
            return
        }
        advance(&life, .started(b), key, log: log)
        let plan = makeRequest(b, key, image: image, resolved: resolved)
        let rebase = rebaseBase(for: b, stack: resolved?.stack)
        let leases = ((try? plan.get()).map { [$0.source, $0.buildImage, $0.runImage].compactMap { $0 } } ?? []) + (rebase.map { [$0.previous] } ?? [])  // a failed plan fails the build below: nothing to lease
        scheduler.occupy(key, .init(task: nil, log: log, build: b, leases: leases))
        let executors = self.executors
        let images = self.images
        let timeout = image.buildTimeout ?? Self.defaultBuildTimeout
        let push = Result { try registryPush(for: image, build: key.number) }
        // A STACK-only change on the same stack id is a rebase (`rebase`): the run image
        // swapped, no buildpack run.
        let engine = self
        let task = Task.detached { [weak self] in
            let outcome: Result<BuildResult, Error>
            do {
                let plan = try plan.get()
                let logger: BuildLogger = { phase, stream, line in log.append(phase: phase, stream: stream, line: line) }
                if let note = plan.networkNote { log.append(phase: .prepare, stream: .system, line: note) }
                // What the namespace may still store: the build's layers take from it.
                let storageLeft = try await engine.storageBytesLeft(namespace: plan.namespace)
                let req = try await BlockingWork.run {
                    var r = try plan.request(images: images)
                    r.storageBytesLeft = storageLeft
                    r.rebase = rebase
                    if let d = plan.dockerfile {
                        let namespace = plan.namespace
                        r.dockerfile = DockerfileInputs(dockerfile: d.path, contextDir: d.contextDir ?? "", buildArgs: d.buildArgs, target: d.target,
                                                        namespace: namespace, image: key.image) { name in
                            try await engine.importBaseImage(name, namespace: namespace)
                        }
                    }
                    // An image that is not rebasable is built in full, and the log says why.
                    if let why = Rebaser(images: images).whyNotRebasable(r) {
                        log.append(phase: .prepare, stream: .system, line: "Not rebasing: " + why)
                        r.rebase = nil
                    }
                    return r
                }
                let executor = executors.executor(for: req.kind)
                var result = try await Self.withTimeout(timeout) { try await executor.execute(req, log: logger) }
                if let push = try push.get() {
                    result.pushedReference = try await push.run(engine: engine, layout: req.outputLayout, digest: result.imageDigest) {
                        log.append(phase: Build.Phase.export, stream: .system, line: $0)
                    }
                }
                outcome = .success(result)
            } catch {
                outcome = .failure(error)
            }
            await self?.completed(key, outcome)
        }
        scheduler.attach(task, to: key)
    }

    /// Writes a problem that no client is waiting to hear about (a build that cannot be
    /// recorded) to stderr; it is also why the affected build ends as it does.
    nonisolated func report(_ message: String) {
        FileHandle.standardError.write(Data("slipway: \(redactor.redact(message))\n".utf8))
    }

    /// Runs `body`, cancelling it after `seconds`.
    static func withTimeout<T: Sendable>(_ seconds: Int?, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let seconds else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw BuildTimedOut(seconds: seconds)
            }
            return value
        }
    }

    struct BuildTimedOut: Error { let seconds: Int }

    /// Seconds a build may run when its image sets no `buildTimeout` (as kpack: 10 minutes).
    static let defaultBuildTimeout = 600

    /// A build whose only reason is STACK, after a successful build on the same stack id, is a
    /// rebase of that build's image; anything else is a full build.
    func rebaseBase(for b: Build, stack: ClusterStack?) -> RebaseBase? {
        guard b.reasonKinds == [.STACK], let stack,
            let last = try? store.builds(namespace: b.namespace, image: b.image).last(where: { $0.status == .SUCCESS && $0.number < b.number }),  // unreadable: a full build, never wrong
            last.stackID == stack.id, let digest = last.imageDigest.flatMap(Digest.init)
        else { return nil }
        return RebaseBase(previous: digest, buildpacks: last.buildpacks.map { BuildpackDescriptor(api: "", id: $0.id, version: $0.version, homepage: $0.homepage) })
    }

    /// The network a build of `image` gets, and what its log should say about it: what the
    /// image asks for (default: the engine's `--build-network`), at most what the engine allows.
    /// The default falls back to `none` where this machine cannot give the public network; an
    /// image that asks for `public` itself then fails, saying why.
    func buildNetwork(for image: Image) -> (network: BuildNetwork, note: String?) {
        if let asked = image.network, asked > options.buildNetwork {
            return (options.buildNetwork,
                    "The image asks for network \"\(asked.rawValue)\"; this engine allows \"\(options.buildNetwork.rawValue)\" (--build-network), which the build gets")
        }
        let network = image.network ?? options.buildNetwork
        if network == .public, image.network == nil, let why = StepNetwork.unavailableReason() {
            return (.none, "The public network is not available here (\(why)): this build gets network \"none\" (set network on the image to make this an error)")
        }
        return (network, nil)
    }

    /// What a build needs, worked out on the actor from the database alone; `request` then
    /// loads the stack images' manifests off the actor.
    struct BuildPlan: Sendable {
        var workDirectory, cacheDirectory: String
        var source: Digest
        var env: [String: String]
        /// The stack's images; nil for a Dockerfile build.
        var buildImage, runImage: Digest?
        var runImageName, stackID: String
        var dockerfile: DockerfileSettings?
        var publicNetwork: Bool
        /// What the build's log says about its network, when it differs from what was asked.
        var networkNote: String?
        var userNamespaceHelper: String
        var namespace: String
        var order: [[BuildpackRef]]
        var outputLayout, outputTag, outputName, launcherPath: String
        var launcherVersion: String
        var project: ProjectMetadata
        var addHostAllowList: [String]
        var maxLayerBytes: Int64
        var stepLimits: StepLimits

        func request(images: ImageStore) throws -> BuildRequest {
            var r = BuildRequest(
                workDirectory: workDirectory, cacheDirectory: cacheDirectory, source: source, env: env,
                buildImage: try buildImage.map { try OCIImage.load($0, from: images.content) },
                runImage: try runImage.map { try OCIImage.load($0, from: images.content) },
                runImageName: runImageName, stackID: stackID, order: order, outputLayout: outputLayout, outputTag: outputTag,
                outputName: outputName, launcherPath: launcherPath, launcherVersion: launcherVersion, projectMetadata: project)
            r.publicNetwork = publicNetwork
            r.userNamespaceHelper = userNamespaceHelper
            r.addHostAllowList = addHostAllowList
            r.maxLayerBytes = maxLayerBytes
            r.stepLimits = stepLimits
            return r
        }
    }

    /// What a platform says of an image's source (`project-metadata.toml`): git with the commit,
    /// repository and revision; blob with the archive's digest and URL; local with the
    /// snapshot's digest and path.
    static func projectMetadata(_ source: SourceSpec) -> ProjectMetadata {
        let r = source.resolved
        if let g = source.git {
            return ProjectMetadata(source: .init(type: "git", version: ["commit": .string(r?.commit ?? "")],
                                                 metadata: ["repository": .string(g.url), "revision": .string(r?.ref ?? g.revision ?? "")]))
        }
        if let b = source.blob {
            return ProjectMetadata(source: .init(type: "blob", version: ["digest": .string(r?.archiveDigest ?? "")], metadata: ["url": .string(b.url)]))
        }
        return ProjectMetadata(source: .init(type: "local", version: ["digest": .string(r?.snapshot.digest ?? "")],
                                             metadata: ["path": .string(source.local?.path ?? "")]))
    }

    func makeRequest(_ b: Build, _ key: BuildKey, image: Image, resolved: ResolvedBuilder?) -> Result<BuildPlan, Error> {
        Result {
            // The stack (a buildpacks build's): a Dockerfile build has none and needs no builder.
            var stack: ClusterStack?
            var order: [[BuildpackRef]] = []
            if image.strategy == .buildpacks {
                guard let resolved else { throw EngineError(.notFound, "builder \(b.builderImage ?? "") not found") }
                guard resolved.status.ready, let s = resolved.stack else {
                    throw EngineError(.failedPrecondition, "builder \(b.builderImage ?? "") is not ready: \(resolved.status.message ?? "")")
                }
                stack = s
                order = resolved.order
            }
            guard let digest = image.source.resolved.flatMap({ Digest($0.snapshot.digest) }) else { throw EngineError(.failedPrecondition, "the image has no source snapshot") }
            var layoutPath = path("layouts", ".registry", b.namespace, b.image)
            var tag = "latest"
            if case .layout(let p, let t) = try parseTag(image.tag, field: "tag") {
                layoutPath = p
                tag = t
            }
            let network = buildNetwork(for: image)
            return BuildPlan(
                workDirectory: workPath(key), cacheDirectory: path("cache", b.namespace, b.image),
                source: digest, env: image.env, buildImage: stack?.status.buildImageDigest, runImage: stack?.status.runImageDigest,
                runImageName: stack?.runImage ?? "", stackID: stack?.id ?? "", dockerfile: image.strategy == .dockerfile ? b.inputs.dockerfile : nil,
                publicNetwork: network.network == .public, networkNote: network.note, userNamespaceHelper: options.userNamespaceHelper, namespace: b.namespace, order: order, outputLayout: layoutPath, outputTag: tag,
                outputName: image.tag, launcherPath: options.launcherPath, launcherVersion: options.launcherVersion,
                project: Self.projectMetadata(image.source), addHostAllowList: options.addHostAllowList,
                maxLayerBytes: options.maxLayerBytes,
                stepLimits: options.stepLimits)
        }
    }

    /// Hands a running build's outcome to its life: how it ended is recorded, and the queue
    /// moves on.
    func completed(_ key: BuildKey, _ outcome: Result<BuildResult, Error>) {
        guard let r = scheduler.vacate(key) else { return }
        let phase = r.log.currentPhase
        let log = r.log
        let found: Build?
        do {
            found = try storedBuild(key)
        } catch {
            // Unreadable: it ends as it started, and recording reports whether that can be stored.
            report("the end of build \(key.number) of \(key.namespace)/\(key.image) cannot be read back: \(error)")
            found = r.build
        }
        guard let b = found else {
            // Deleted with its image meanwhile: it ends here, and whoever waits is told so.
            var life = BuildLife(running: r.build)
            advance(&life, .imageGone(message: r.cancelMessage ?? Self.imageDeleted, at: Timestamp.now()), key, log: log)
            return
        }
        let ending: BuildLife.Outcome
        switch outcome {
        case .success(let result):
            ending = .succeeded(result, latestImage: result.pushedReference ?? writtenReference(key, digest: result.imageDigest))
        case .failure(let error):
            ending = .failed(message: Self.oneLine(redactor.redact(failureMessage(error, canceledWith: r.cancelMessage))))
        }
        var life = BuildLife(running: b)
        advance(&life, .executed(ending, phase: phase, at: Timestamp.now()), key, log: log)
    }

    /// The `oci:` reference of what a build wrote to its image's layout; nil for a registry
    /// tag, or when the image was deleted (or cannot be read) as the build ended: the build
    /// keeps its digest, without a reference.
    private func writtenReference(_ key: BuildKey, digest: Digest) -> String? {
        let image: Image?
        do {
            image = try imageIfExists(key.namespace, key.image)
        } catch {
            report("the image of build \(key.number) of \(key.namespace)/\(key.image) cannot be read: \(error); the build is recorded with its digest only")
            return nil
        }
        guard let image, case .layout(let p, _)? = try? ImageReference.parse(image.tag, field: "tag") else { return nil }  // a stored tag parsed when it was saved; a registry tag is no layout
        return "oci:\(p)@\(digest)"
    }

    /// What a failed build's message says.
    private func failureMessage(_ error: Error, canceledWith cancelMessage: String?) -> String {
        if let cancelMessage { return cancelMessage }
        switch error {
        case let t as BuildTimedOut: return "timed out after \(t.seconds) seconds (buildTimeout)"
        case is CancellationError: return "canceled"
        case let e as RuntimeError: return e.message
        case let e as EngineError: return e.message
        default: return "\(error)"
        }
    }

    /// Feeds `event` to a build's life and does what it says, in order: log lines, recording
    /// (whose outcome is fed back), notifications, waiters, the queue. Waiters are answered and
    /// the queue moves on even when the database refuses the write (the failure is reported).
    func advance(_ life: inout BuildLife, _ event: BuildLife.Event, _ key: BuildKey, log: BuildLogWriter?) {
        let effects: [BuildLife.Effect]
        do {
            effects = try life.handle(event)
        } catch {
            report("build \(key.number) of \(key.namespace)/\(key.image): \(error)")
            return
        }
        let b = life.build
        for effect in effects {
            switch effect {
            case .log(let phase, let line):
                log?.append(phase: phase, stream: .system, line: line)
            case .closeLog(let removeWork):
                log?.close()
                guard removeWork else { break }
                let work = workPath(key)
                Task.detached { _ = try? await BlockingWork.run { try ConfinedDirectory.removeTree(atPath: work) } }  // only space is at stake: work/ is emptied at every start
            case .record:
                let recording: BuildLife.Recording
                do {
                    recording = try record(b, key)
                } catch {
                    report("build \(b.number) of \(b.namespace)/\(b.image) ended \(b.status.rawValue), but that cannot be recorded: \(error)")
                    // Followers still hear how it ended, and this engine answers for it as it
                    // ended; the next start marks it interrupted.
                    recording = .refused
                }
                advance(&life, .recorded(recording, at: Timestamp.now()), key, log: log)
            case .keepUnrecorded:
                scheduler.noteUnrecorded(key, b)
            case .announce(let status, let previous):
                broadcastBuildStatus(key, status: status, previous: previous, phase: b.currentPhase, message: b.message)
            case .announceReadiness(let change):
                sessions.broadcast(.imageStatusChanged(.init(namespace: key.namespace, image: key.image, ready: change.now, previous: change.previous,
                                                             latestImage: change.latestImage, time: Timestamp.now())))
            case .answerWaiters:
                scheduler.answer(key, with: b)
            case .startNext:
                schedule()
            }
        }
    }

    /// Records a build's end on its image, with retention and events, in one transaction;
    /// `.imageGone` when the image it is a build of is gone (an image of the name may exist
    /// again: the check is made in the transaction that records).
    private func record(_ b: Build, _ key: BuildKey) throws -> BuildLife.Recording {
        let ns = b.namespace, name = b.image
        let object = eventObject(namespace: ns, image: name)
        guard var image = try imageIfExists(ns, name), image.buildKey(b.number) == key else { return .imageGone(message: Self.imageDeleted) }
        let previousReady = image.status.ready
        var deleted: [Int] = []
        var recorded = false
        try change { tx, events in
            guard try store.object(Image.self, kind: .image, namespace: ns, name: name, in: tx)?.incarnation == image.incarnation else { return }
            recorded = true
            try store.putBuild(b, in: tx)
            image.status = ImageStatusCalculator.status(previous: image.status, latest: try store.latestBuild(namespace: ns, image: name, in: tx), ended: b)
            deleted = RetentionPolicy.buildsToDelete(try store.buildStates(namespace: ns, image: name, in: tx),
                                                     keepSucceeded: image.successBuildHistoryLimit, keepFailed: image.failedBuildHistoryLimit)
            try store.deleteBuilds(namespace: ns, image: name, numbers: deleted, in: tx)
            // Runs of an image follow its history limits.
            try store.deleteBuildRuns(namespace: ns, image: name, numbers: deleted, in: tx)
            try store.put(image, kind: .image, namespace: ns, name: name, in: tx)
            for e in Self.endEvents(of: b) { events.add(e.type, e.reason, e.message, object: object) }
        }
        guard recorded else { return .imageGone(message: Self.imageDeleted) }
        imageCache?[ImageKey(namespace: ns, name: name)] = image
        let oldLogs = deleted.map { logPath(image.buildKey($0)) }
        if !oldLogs.isEmpty {
            Task.detached { _ = try? await BlockingWork.run { for l in oldLogs { unlink(l) } } }  // retention removed these builds: a log left is only space
            scheduleCollection()
        }
        let changed = image.status.ready != previousReady && image.isConfiguration
        return .recorded(readiness: changed ? .init(now: image.status.ready, previous: previousReady, latestImage: image.status.latestImage) : nil)
    }

    /// The events a build's end records on its image.
    static func endEvents(of b: Build) -> [(type: SystemEvent.EventType, reason: String, message: String)] {
        guard b.status == .SUCCESS else { return [(.Warning, "Failed", "Build \(b.number) failed: \(b.message ?? "")")] }
        var out: [(type: SystemEvent.EventType, reason: String, message: String)] = []
        if !b.buildpacks.isEmpty {
            out.append((.Normal, "Detected", "Build \(b.number): \(b.buildpacks.map { "\($0.id) \($0.version)" }.joined(separator: ", "))"))
        }
        out.append((.Normal, "Exported", "Build \(b.number) exported \(b.latestImage ?? "")"))
        if b.latestImage?.hasPrefix("oci:") == false {
            out.append((.Normal, "Pushed", "Build \(b.number) pushed \(b.latestImage ?? "")"))
        }
        out.append((.Normal, "Succeeded", "Build \(b.number) succeeded"))
        return out
    }

    /// A failure message as one line: the lines of a multi-line error joined with " | ", so
    /// that it fits a status column and a log line.
    static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " | ")
    }

    /// The message of a build whose image was deleted before it finished.
    static let imageDeleted = "image deleted"
}
