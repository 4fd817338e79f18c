import SlipwayProtocol
import BuildRuntime
import Foundation

/// Running builds: starting what the scheduler hands out, running the executor off the actor, and
/// driving each build's `BuildLife` to its end (recording, notifications, waiters).
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum BuildRunner {
    /// Starts queued builds while the scheduler has slots for them.
    static func schedule(_ engine: isolated Engine) {
        while let key = engine.scheduler.nextToStart() { start(engine, key) }
    }

    static func start(_ engine: isolated Engine, _ key: BuildKey) {
        let image: Image
        var life: BuildLife
        do {
            guard let i = try engine.imageIfExists(key.namespace, key.image), i.buildKey(key.number) == key,
                let found = try engine.store.build(namespace: key.namespace, image: key.image, number: key.number), found.status == .QUEUED
            else { return }  // canceled or deleted meanwhile
            life = BuildLife(queued: found)
            image = i
        } catch {
            engine.report("build \(key.number) of \(key.namespace)/\(key.image) cannot start: \(error); it stays queued until the next start")
            return
        }
        let log: BuildLogWriter
        do {
            log = try BuildLogWriter(key: key, path: engine.logPath(key), maxBytes: engine.options.maxLogBytes, sessions: engine.sessions, redactor: engine.redactor)
        } catch {
            advance(engine, &life, .refused(message: "cannot open the build log: \(error)", at: Timestamp.now()), key, log: nil)
            return
        }
        var b = BuildLife.starting(life.build, at: Timestamp.now())
        // A builder that does not exist is reported by makeRequest as the build's failure; one
        // (or its stack or store) that cannot be read fails the build here, saying so.
        let resolved: ResolvedBuilder?
        do {
            b.inputs = try BuilderService.inputs(engine, for: image)
            resolved = try BuilderService.builderIfExists(engine, image.builder, namespace: image.namespace).map { try BuilderService.resolveStatus(engine, of: $0) }
        } catch {
            log.close()
            advance(engine, &life, .refused(message: "cannot read what the build is made from: \((error as? EngineError)?.message ?? "\(error)")", at: Timestamp.now()),
                    key, log: nil)
            return
        }
        if image.strategy == .buildpacks {
            // A builder made from an image is named by it, as kp names a builder (`REF@sha256:…`).
            b.builderImage = resolved?.status.latestImage ?? "\(image.builder.kind.rawValue)/\(image.builder.name)"
            b.runImage = resolved?.stack?.status.resolvedRunImage
            b.stackID = resolved?.stack?.id
        }
        do {
            try engine.store.putBuild(b)
        } catch {
            log.close()
            advance(engine, &life, .refused(message: "cannot record the start of the build: \(error)", at: Timestamp.now()), key, log: nil)
            return
        }
        advance(engine, &life, .started(b), key, log: log)
        let plan = BuildPlanner.makeRequest(engine, b, key, image: image, resolved: resolved)
        let rebase = BuildPlanner.rebaseBase(engine, for: b, stack: resolved?.stack)
        let leases = ((try? plan.get()).map { [$0.source, $0.buildImage, $0.runImage].compactMap { $0 } } ?? []) + (rebase.map { [$0.previous] } ?? [])  // a failed plan fails the build below: nothing to lease
        engine.scheduler.occupy(key, .init(task: nil, log: log, build: b, leases: leases))
        let executors = engine.executors
        let images = engine.images
        let timeout = image.buildTimeout ?? Self.defaultBuildTimeout
        let push = Result { try RegistryService.registryPush(engine, for: image, build: key.number) }
        let sbomPath = SBOMService.path(engine, key)
        // A rebase makes no SBOM: it keeps those of the image it rebases (none if they cannot be found).
        let rebasedSBOMs = rebase.flatMap { try? SBOMService.path(engine, of: image, digest: $0.previous) }
        // A STACK-only change on the same stack id is a rebase (`rebase`): the run image
        // swapped, no buildpack run.
        let task = Task.detached { [weak runner = engine] in
            let outcome: Result<BuildResult, Error>
            do {
                let plan = try plan.get()
                let logger: BuildLogger = { phase, stream, line in log.append(phase: phase, stream: stream, line: line) }
                if let note = plan.networkNote { log.append(phase: .prepare, stream: .system, line: note) }
                // What the namespace may still store: the build's layers take from it.
                let storageLeft = try await QuotaService.storageBytesLeft(engine, namespace: plan.namespace)
                let req = try await BlockingWork.run {
                    var r = try plan.request(images: images)
                    r.storageBytesLeft = storageLeft
                    r.rebase = rebase
                    if let d = plan.dockerfile {
                        let namespace = plan.namespace
                        r.dockerfile = DockerfileInputs(settings: d, namespace: namespace, image: key.image) { name in
                            try await PlatformService.importBaseImage(engine, name, namespace: namespace)
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
                if !result.sboms.isEmpty {
                    let sboms = result.sboms
                    try await BlockingWork.run { try SBOMService.write(sboms, to: sbomPath) }
                    result.sboms = []  // kept on disk now; the build's outcome need not hold them
                } else if req.rebase != nil, let rebasedSBOMs {
                    try await BlockingWork.run { try SBOMService.copy(from: rebasedSBOMs, to: sbomPath) }
                }
                if let push = try push.get() {
                    result.pushedReference = try await push.run(engine: engine, layout: req.outputLayout, digest: result.imageDigest) {
                        log.append(phase: BuildPhase.export, stream: .system, line: $0)
                    }
                }
                // Said once the image is where the build puts it, pushed too: a push that fails
                // never follows a "successful".
                log.append(phase: .completion, stream: .system, line: "===> COMPLETION")
                if let done = Self.successLine(req.kind) { log.append(phase: .completion, stream: .system, line: done) }
                outcome = .success(result)
            } catch {
                outcome = .failure(error)
            }
            if let runner { await completed(runner, key, outcome) }
        }
        engine.scheduler.attach(task, to: key)
    }

    /// The completion line of a build of `kind` that succeeded, as lifecycle and pack print it.
    static func successLine(_ kind: BuildKind) -> String? {
        switch kind {
        case .buildpacks: return "Build successful"
        case .rebase: return "Rebase successful"
        case .dockerfile: return nil
        }
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

    /// Seconds a build may run when its image sets no `buildTimeout` (as kpack: 10 minutes).
    static let defaultBuildTimeout = 600

    /// Hands a running build's outcome to its life: how it ended is recorded, and the queue
    /// moves on.
    static func completed(_ engine: isolated Engine, _ key: BuildKey, _ outcome: Result<BuildResult, Error>) {
        guard let r = engine.scheduler.vacate(key) else { return }
        let phase = r.log.currentPhase
        let log = r.log
        let found: Build?
        do {
            found = try BuildService.storedBuild(engine, key)
        } catch {
            // Unreadable: it ends as it started, and recording reports whether that can be stored.
            engine.report("the end of build \(key.number) of \(key.namespace)/\(key.image) cannot be read back: \(error)")
            found = r.build
        }
        guard let b = found else {
            // Deleted with its image meanwhile: it ends here, and whoever waits is told so.
            var life = BuildLife(running: r.build)
            advance(engine, &life, .imageGone(message: r.cancelMessage ?? Engine.imageDeleted, at: Timestamp.now()), key, log: log)
            return
        }
        let ending: BuildLife.Outcome
        switch outcome {
        case .success(let result):
            ending = .succeeded(result, latestImage: result.pushedReference ?? writtenReference(engine, key, digest: result.imageDigest))
        case .failure(let error):
            ending = .failed(message: Self.oneLine(engine.redactor.redact(failureMessage(engine, error, canceledWith: r.cancelMessage))))
        }
        var life = BuildLife(running: b)
        advance(engine, &life, .executed(ending, phase: phase, at: Timestamp.now()), key, log: log)
    }

    /// The `oci:` reference of what a build wrote to its image's layout; nil for a registry
    /// tag, or when the image was deleted (or cannot be read) as the build ended: the build
    /// keeps its digest, without a reference.
    private static func writtenReference(_ engine: isolated Engine, _ key: BuildKey, digest: Digest) -> String? {
        let image: Image?
        do {
            image = try engine.imageIfExists(key.namespace, key.image)
        } catch {
            engine.report("the image of build \(key.number) of \(key.namespace)/\(key.image) cannot be read: \(error); the build is recorded with its digest only")
            return nil
        }
        guard let image, case .layout(let p, _)? = try? ImageReference.parse(image.tag, field: "tag") else { return nil }  // a stored tag parsed when it was saved; a registry tag is no layout
        return "oci:\(p)@\(digest)"
    }

    /// What a failed build's message says.
    private static func failureMessage(_ engine: isolated Engine, _ error: Error, canceledWith cancelMessage: String?) -> String {
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
    static func advance(_ engine: isolated Engine, _ life: inout BuildLife, _ event: BuildLife.Event, _ key: BuildKey, log: BuildLogWriter?) {
        let effects: [BuildLife.Effect]
        do {
            effects = try life.handle(event)
        } catch {
            engine.report("build \(key.number) of \(key.namespace)/\(key.image): \(error)")
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
                let work = engine.workPath(key)
                Task.detached { _ = try? await BlockingWork.run { try ConfinedDirectory.removeTree(atPath: work) } }  // only space is at stake: work/ is emptied at every start
            case .record:
                let recording: BuildLife.Recording
                do {
                    recording = try record(engine, b, key)
                } catch {
                    engine.report("build \(b.number) of \(b.namespace)/\(b.image) ended \(b.status.rawValue), but that cannot be recorded: \(error)")
                    // Followers still hear how it ended, and this engine answers for it as it
                    // ended; the next start marks it interrupted.
                    recording = .refused
                }
                advance(engine, &life, .recorded(recording, at: Timestamp.now()), key, log: log)
            case .keepUnrecorded:
                engine.scheduler.noteUnrecorded(key, b)
            case .announce(let status, let previous):
                engine.broadcastBuildStatus(key, status: status, previous: previous, phase: b.currentPhase, message: b.message)
            case .announceReadiness(let change):
                engine.sessions.broadcast(.imageStatusChanged(.init(namespace: key.namespace, image: key.image, ready: change.now, previous: change.previous,
                                                             latestImage: change.latestImage, time: Timestamp.now())))
            case .answerWaiters:
                engine.scheduler.answer(key, with: b)
            case .startNext:
                schedule(engine)
            }
        }
    }

    /// Records a build's end on its image, with retention and events, in one transaction;
    /// `.imageGone` when the image it is a build of is gone (an image of the name may exist
    /// again: the check is made in the transaction that records).
    private static func record(_ engine: isolated Engine, _ b: Build, _ key: BuildKey) throws -> BuildLife.Recording {
        let ns = b.namespace, name = b.image
        let object = engine.eventObject(namespace: ns, image: name)
        guard var image = try engine.imageIfExists(ns, name), image.buildKey(b.number) == key else { return .imageGone(message: Engine.imageDeleted) }
        let previousReady = image.status.ready
        var deleted: [Int] = []
        var recorded = false
        try engine.change { tx, events in
            guard try engine.store.object(Image.self, kind: .image, namespace: ns, name: name, in: tx)?.incarnation == image.incarnation else { return }
            recorded = true
            try engine.store.putBuild(b, in: tx)
            image.status = ImageStatusCalculator.status(previous: image.status, latest: try engine.store.latestBuild(namespace: ns, image: name, in: tx), ended: b)
            deleted = RetentionPolicy.buildsToDelete(try engine.store.buildStates(namespace: ns, image: name, in: tx),
                                                     keepSucceeded: image.successBuildHistoryLimit, keepFailed: image.failedBuildHistoryLimit)
            try engine.store.deleteBuilds(namespace: ns, image: name, numbers: deleted, in: tx)
            // Runs of an image follow its history limits.
            try engine.store.deleteBuildRuns(namespace: ns, image: name, numbers: deleted, in: tx)
            try engine.store.put(image, kind: .image, namespace: ns, name: name, in: tx)
            for e in Self.endEvents(of: b) { events.add(e.type, e.reason, e.message, object: object) }
        }
        guard recorded else { return .imageGone(message: Engine.imageDeleted) }
        engine.imageCatalog.put(image, at: Engine.ImageKey(namespace: ns, name: name))
        let oldLogs = deleted.flatMap { [engine.logPath(image.buildKey($0)), SBOMService.path(engine, image.buildKey($0))] }
        if !oldLogs.isEmpty {
            Task.detached { _ = try? await BlockingWork.run { for l in oldLogs { unlink(l) } } }  // retention removed these builds: a log left is only space
            CollectionService.scheduleCollection(engine)
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
}

struct BuildTimedOut: Error { let seconds: Int }
