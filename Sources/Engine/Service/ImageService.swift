import SlipwayProtocol
import BuildRuntime
import Foundation

/// Images: create, patch, save, trigger, list and delete, and `commit`, which stores an image with
/// the build its change queues (changes collapse into a queued build).
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum ImageService {
    /// Creates the image if it does not exist, else patches it.
    static func saveImage(_ engine: isolated Engine, _ spec: ImageSpec, session: EngineSession?) async throws -> ImageChange {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        try Validation.name(spec.name, field: "name", kind: "image")
        if try engine.imageIfExists(ns, spec.name) == nil { return try await createImage(engine, spec, session: session) }
        return try await patchImage(engine, spec, session: session)
    }

    static func createImage(_ engine: isolated Engine, _ spec: ImageSpec, session: EngineSession?) async throws -> ImageChange {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        try Validation.name(spec.name, field: "name", kind: "image")
        if try engine.imageIfExists(ns, spec.name) != nil { throw EngineError.alreadyExists("image", spec.name, namespace: ns) }
        let image = try await newImage(engine, spec, namespace: ns, name: spec.name) {
            try await QuotaService.checkQuota(engine, namespace: ns, adding: .images)
        }
        // The snapshot took time off the actor; the name (or the last image of the quota) may
        // have been taken meanwhile.
        if try engine.imageIfExists(ns, spec.name) != nil { throw EngineError.alreadyExists("image", spec.name, namespace: ns) }
        try await QuotaService.checkQuota(engine, namespace: ns, adding: .images)
        if spec.dryRun == true { return ImageChange(image: image, changed: true, build: nil) }
        let change = try commit(engine, image, reasons: [BuildReason(.CONFIG)], created: true, session: session)
        try SourceWatchService.syncWatch(engine, namespace: ns, name: spec.name)
        return change
    }

    /// An image as `spec` describes it, checked, with its source resolved (snapshotted, or the
    /// commit or archive fixed); `beforeSource` runs once everything cheap is checked.
    static func newImage(_ engine: isolated Engine, _ spec: ImageSpec, namespace ns: String, name: String, buildRun: String? = nil,
                  beforeSource: () async throws -> Void = {}) async throws -> Image {
        let tag = try SourceService.resolveTag(engine, spec.tag, namespace: ns, name: name)
        for (i, t) in (spec.additionalTags ?? []).enumerated() { _ = try SourceService.parseTag(engine, t, field: "additionalTags[\(i)]") }
        try Validation.env(spec.env ?? [:])
        try ImageValidation.validateLimits(spec)
        try ImageValidation.checkNetwork(engine, spec.network)
        guard var source = spec.source else {
            throw EngineError.invalid("Missing required param 'source'; give source.local.path (a folder or archive) or source.git.url", field: "source")
        }
        try SourceService.checkSourceSyntax(engine, source)
        let builder = spec.builder ?? .default
        if (spec.strategy ?? .buildpacks) == .buildpacks { try BuilderService.requireBuilder(engine, builder, namespace: ns) }
        try await beforeSource()
        source = try await SourceService.resolveSource(engine, source, namespace: ns)
        return Image(
            namespace: ns, name: name, tag: tag, additionalTags: spec.additionalTags ?? [], builder: builder, source: source,
            env: spec.env ?? [:], strategy: spec.strategy ?? .buildpacks, dockerfile: DockerfileSettings(spec: spec),
            buildTimeout: spec.buildTimeout, network: spec.network,
            successBuildHistoryLimit: spec.successBuildHistoryLimit ?? 10, failedBuildHistoryLimit: spec.failedBuildHistoryLimit ?? 10,
            created: Timestamp.now(), status: ImageStatus(ready: .Unknown, nextBuildNumber: 1), buildRun: buildRun,
            incarnation: UUID().uuidString)
    }

    static func patchImage(_ engine: isolated Engine, _ spec: ImageSpec, session: EngineSession?) async throws -> ImageChange {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        var image = try engine.existingImage(ns, spec.name)
        try await QuotaService.checkQuota(engine, namespace: ns, adding: .storage)
        if let t = spec.tag {
            let resolved = try SourceService.resolveTag(engine, t, namespace: ns, name: spec.name)
            guard resolved == image.tag else {
                throw EngineError(.failedPrecondition,
                                  "the tag of image '\(spec.name)' cannot change (it is \(image.tag)); create a new image to build to another tag",
                                  field: "tag")
            }
        }
        for (i, t) in (spec.additionalTags ?? []).enumerated() { _ = try SourceService.parseTag(engine, t, field: "additionalTags[\(i)]") }
        try Validation.env(spec.env ?? [:])
        try ImageValidation.validateLimits(spec)
        try ImageValidation.checkNetwork(engine, spec.network)
        if let s = spec.source { try SourceService.checkSourceSyntax(engine, s) }
        if let b = spec.builder { try BuilderService.requireBuilder(engine, b, namespace: ns) }
        var newSource = image.source
        if let s = spec.source { newSource = try await SourceService.resolveSource(engine, s, namespace: ns) }
        image = try engine.existingImage(ns, spec.name)  // re-read after the suspension
        image.source = newSource
        if let b = spec.builder { image.builder = b }
        if let e = spec.env { image.env.merge(e) { $1 } }
        for k in spec.deleteEnv ?? [] { image.env.removeValue(forKey: k) }
        if let t = spec.additionalTags { image.additionalTags = t }
        if let s = spec.strategy { image.strategy = s }
        image.dockerfile = (image.dockerfile ?? DockerfileSettings()).patched(with: DockerfileSettings(spec: spec))
        if let t = spec.buildTimeout { image.buildTimeout = t }
        if let n = spec.network { image.network = n }
        if let l = spec.successBuildHistoryLimit { image.successBuildHistoryLimit = l }
        if let l = spec.failedBuildHistoryLimit { image.failedBuildHistoryLimit = l }
        let last = try engine.store.latestBuild(namespace: ns, image: spec.name)
        let lastFinished = try BuildService.lastFinishedBuild(engine, ns, spec.name)
        let reasons = BuildReasonCalculator.reasons(last: last?.inputs, lastSucceeded: lastFinished?.status == .SUCCESS, lastUsed: lastFinished?.buildpacks ?? [], current: try BuilderService.inputs(engine, for: image))
        if spec.dryRun == true { return ImageChange(image: image, changed: !reasons.isEmpty, build: nil) }
        var events: [Engine.EventBatch.Pending] = []
        if spec.clearCache == true {
            let cache = engine.path("cache", ns, spec.name)
            try await BlockingWork.run { try ConfinedDirectory.removeTree(atPath: cache) }
            events.append(.init(type: .Normal, reason: "CacheCleared", message: "The build cache of image \(spec.name) was cleared",
                                object: .init(kind: "Image", namespace: ns, name: spec.name)))
        }
        if reasons.isEmpty {
            try engine.change { tx, batch in
                try engine.store.put(image, kind: .image, namespace: ns, name: spec.name, in: tx)
                for e in events { batch.add(e.type, e.reason, e.message, object: e.object) }
            }
            engine.imageCatalog.put(image, at: Engine.ImageKey(namespace: ns, name: spec.name))
            try SourceWatchService.syncWatch(engine, namespace: ns, name: spec.name)
            return ImageChange(image: image, changed: false, build: nil)
        }
        let change = try commit(engine, image, reasons: reasons, created: false, events: events, session: session)
        try SourceWatchService.syncWatch(engine, namespace: ns, name: spec.name)
        return change
    }

    /// A build of the image as it is configured. A local source is snapshotted again first, so a
    /// trigger builds what is on disk now (an editor's "rebuild"); the snapshot's change is a
    /// CONFIG reason beside TRIGGER, and nothing changes when the folder did not.
    static func triggerImage(_ engine: isolated Engine, namespace: String, name: String, session: EngineSession?) async throws -> Int {
        var image = try engine.existingImage(namespace, name)
        try await QuotaService.checkQuota(engine, namespace: namespace, adding: .storage)
        guard try engine.store.latestBuild(namespace: namespace, image: name) != nil else {
            throw EngineError(.failedPrecondition, "image '\(name)' has no build to repeat; patch it or wait for its first build")
        }
        var reasons = [BuildReason(.TRIGGER)]
        if image.source.local != nil {
            let fresh = try await SourceService.resolveSource(engine, image.source, namespace: namespace)
            image = try engine.existingImage(namespace, name)  // re-read after the suspension
            let (old, new) = (image.source.resolved?.snapshot.digest, fresh.resolved?.snapshot.digest)
            if image.source.local == fresh.local, old != new {
                image.source = fresh
                reasons.append(BuildReason(.CONFIG, field: "source", old: old, new: new))
            }
        }
        let triggered = Engine.EventBatch.Pending(type: .Normal, reason: "RebuildTriggered", message: "Build triggered by image/trigger",
                                           object: .init(kind: "Image", namespace: namespace, name: name))
        return try commit(engine, image, reasons: reasons, created: false, events: [triggered], session: session).build ?? 0
    }

    /// Stores the image and queues a build for `reasons`: a build already queued for the image
    /// takes the change (changes collapse into one build); otherwise a new one is queued. The
    /// change, its events and `events` are written in one transaction. The build is noted as
    /// `session`'s (what its end of input waits for); nil for work no client asked for.
    static func commit(_ engine: isolated Engine, _ image: Image, reasons: [BuildReason], created: Bool, events extra: [Engine.EventBatch.Pending] = [], session: EngineSession?) throws -> ImageChange {
        var image = image
        let ns = image.namespace, name = image.name
        let inputs = try BuilderService.inputs(engine, for: image)
        var number: Int = 0
        var queuedBuild: Build?
        var isNew = false
        let previousReady = created ? nil : engine.imageCatalog.image(Engine.ImageKey(namespace: ns, name: name))??.status.ready
        let object = engine.eventObject(namespace: ns, image: name)
        try engine.change { tx, events in
            if let latest = try engine.store.latestBuild(namespace: ns, image: name, in: tx), latest.status == .QUEUED {
                // The queued build takes the change; its reasons are worked out again against the
                // build before it, keeping a manual trigger.
                var b = latest
                let prior = try engine.store.builds(namespace: ns, image: name, in: tx).last { $0.number < b.number }
                var merged = BuildReasonCalculator.reasons(last: prior?.inputs, lastSucceeded: prior?.status == .SUCCESS, lastUsed: prior?.buildpacks ?? [], current: inputs)
                if (b.reasons + reasons).contains(where: { $0.reason == .TRIGGER }) { merged.append(BuildReason(.TRIGGER)) }
                b.reasons = merged.isEmpty ? b.reasons : merged
                b.inputs = inputs
                try engine.store.putBuild(b, in: tx)
                number = b.number
                queuedBuild = b
            } else {
                number = image.status.nextBuildNumber
                let b = Build(namespace: ns, image: name, number: number, status: .QUEUED, reasons: reasons, created: Timestamp.now(), inputs: inputs,
                              buildpacks: [])
                try engine.store.putBuild(b, in: tx)
                queuedBuild = b
                isNew = true
            }
            image.status = ImageStatusCalculator.status(previous: image.status, latest: queuedBuild)
            if created {
                guard try engine.store.insert(image, kind: .image, namespace: ns, name: name, in: tx) else { throw EngineError.alreadyExists("image", name, namespace: ns) }
            } else {
                try engine.store.put(image, kind: .image, namespace: ns, name: name, in: tx)
            }
            for e in extra { events.add(e.type, e.reason, e.message, object: e.object) }
            if created {
                if let run = image.buildRun {
                    events.add(.Normal, "Submitted", "Build run \(run) submitted; its image goes to \(image.tag)", object: object)
                } else {
                    events.add(.Normal, "Created", "Image \(name) created; builds go to \(image.tag)", object: object)
                }
            }
            if let resolved = image.source.resolved, reasons.contains(where: { $0.reason == .CONFIG || $0.reason == .COMMIT }) {
                events.add(.Normal, "SourceResolved", Self.describe(image.source, resolved), object: object)
            }
            if isNew {
                events.add(.Normal, "Scheduled", "Build \(number) queued (\(queuedBuild!.reasonKinds.map(\.rawValue).joined(separator: ", ")))", object: object)
            }
        }
        engine.imageCatalog.put(image, at: Engine.ImageKey(namespace: ns, name: name))
        let key = image.buildKey(number)
        engine.scheduler.enqueue(key)
        session?.noteStarted(key)
        if isNew {
            engine.broadcastBuildStatus(key, status: .QUEUED, previous: nil, phase: nil, message: "queued: " + BuildReasonCalculator.summary(queuedBuild!.reasonKinds))
        }
        if previousReady != .Building && image.isConfiguration {
            engine.sessions.broadcast(.imageStatusChanged(.init(namespace: ns, image: name, ready: .Building, previous: previousReady,
                                                         latestImage: image.status.latestImage, time: Timestamp.now())))
        }
        BuildRunner.schedule(engine)
        return ImageChange(image: image, changed: true, build: number)
    }

    static func describe(_ source: SourceSpec, _ r: ResolvedSource) -> String {
        if let g = source.git { return "\(g.url) \(r.ref ?? "") is at \(r.commit ?? "")" }
        if let b = source.blob { return "\(b.url) is \(r.archiveDigest ?? "") (snapshot \(Digest(r.snapshot.digest)?.short ?? r.snapshot.digest))" }
        return "\(source.local?.path ?? "") snapshot \(r.snapshot.digest) (\(r.snapshot.files) files)"
    }

    /// A page of image rows in namespace and name order: those after the key `after`
    /// (`namespace/name`), at most `limit`, and the key of the last when more follow. Rows are
    /// made for the page only.
    static func listImages(_ engine: isolated Engine, namespace: String?, filter: ImageFilter?, after: String?, limit: Int) throws -> (rows: [ImageRow], next: String?) {
        // "/" sorts before every character a name may have, so keys sort as (namespace, name).
        var keyed: [(key: String, image: Image)] = []
        for i in try engine.loadImages().values {
            guard i.isConfiguration else { continue }
            if let ns = namespace, i.namespace != ns { continue }
            if let r = filter?.ready, i.status.ready != r { continue }
            if let b = filter?.builder, i.builder.name != b { continue }
            if let lr = filter?.latestReason, !(i.status.latestReason ?? "").hasPrefix(lr) { continue }
            let key = i.namespace + "/" + i.name
            if let after, key <= after { continue }
            keyed.append((key, i))
        }
        keyed.sort { $0.key < $1.key }
        let page = keyed.prefix(limit).map { k in
            ImageRow(name: k.image.name, namespace: k.image.namespace, ready: k.image.status.ready, latestReason: k.image.status.latestReason,
                     latestImage: k.image.status.latestImage, builder: "\(k.image.builder.kind.rawValue)/\(k.image.builder.name)")
        }
        return (page, keyed.count > limit ? keyed[limit - 1].key : nil)
    }

    /// Deletes the image, its builds, logs and cache. Images already written stay where they are.
    static func deleteImage(_ engine: isolated Engine, namespace: String, name: String) async throws {
        _ = try engine.existingImage(namespace, name)
        try await removeImage(engine, namespace: namespace, name: name) { tx, events in
            events.add(.Normal, "Deleted", "Image \(name) deleted with its builds and logs", object: .init(kind: "Image", namespace: namespace, name: name))
        }
        try SourceWatchService.syncWatch(engine, namespace: namespace, name: name)
    }

    /// Removes an image (a configuration, or a run's carrier) with its builds, their runs, logs
    /// and cache; `also` adds to the same transaction. Its queued and running builds end.
    static func removeImage(_ engine: isolated Engine, namespace: String, name: String, endMessage: String = Engine.imageDeleted,
                     also: (SQLiteDatabase.Transaction, Engine.EventBatch) throws -> Void) async throws {
        let (queued, running) = try engine.imageIfExists(namespace, name).map(engine.scheduler.builds(ofImage:)) ?? ([], [])
        let queuedBuilds = try queued.compactMap { key in try engine.store.build(namespace: namespace, image: name, number: key.number).map { (key, $0) } }
        try engine.change { tx, events in
            try engine.store.deleteBuilds(namespace: namespace, image: name, in: tx)
            try engine.store.deleteBuildRuns(namespace: namespace, image: name, in: tx)
            try engine.store.delete(kind: .image, namespace: namespace, name: name, in: tx)
            try also(tx, events)
        }
        engine.imageCatalog.remove(Engine.ImageKey(namespace: namespace, name: name))
        // Its builds end: running ones when their task stops (see `BuildRunner.completed`), queued ones now.
        // A running one's log ends here: an image created again under the name reuses its
        // file's name, and its builds of the same numbers are others.
        for key in running {
            engine.scheduler.running[key]?.log.abandon()
            engine.scheduler.cancelRunning(key, message: endMessage)
        }
        for (key, b) in queuedBuilds {
            engine.scheduler.unqueue(key)
            var life = BuildLife(queued: b)
            BuildRunner.advance(engine, &life, .imageGone(message: endMessage, at: Timestamp.now()), key, log: nil)
        }
        let folders = [engine.path("logs", namespace, name), engine.path("cache", namespace, name)]
        try await BlockingWork.run { for f in folders { try ConfinedDirectory.removeTree(atPath: f) } }
        // What only this image used (its default layout, layers, source snapshot) goes next.
        CollectionService.scheduleCollection(engine)
    }

    /// Rebuilds the images whose builder `matches`, when the builder's buildpacks or stack
    /// changed since their last successful build (reasons BUILDER and STACK). Builds queue under
    /// the concurrency limit like any other.
    ///
    /// The change that called it is already saved; an image or builder that cannot be read is
    /// thrown (saying so), not taken as "nothing to rebuild".
    static func reconcileImages(_ engine: isolated Engine, session: EngineSession?, where matches: (Builder) -> Bool) throws {
        do {
            try queueRebuilds(engine, session: session, where: matches)
        } catch let e as EngineError {
            throw EngineError(e.reason, "the change is saved, but the images it affects cannot be checked for a rebuild: \(e.message)", details: e.details)
        }
    }

    private static func queueRebuilds(_ engine: isolated Engine, session: EngineSession?, where matches: (Builder) -> Bool) throws {
        for image in try engine.loadImages().values.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) where image.isConfiguration {
            guard let builder = try BuilderService.builderIfExists(engine, image.builder, namespace: image.namespace), matches(builder), builder.status.ready,
                let last = try engine.store.latestBuild(namespace: image.namespace, image: image.name)
            else { continue }
            let reasons = BuildReasonCalculator.reasons(last: last.inputs, lastSucceeded: last.status == .SUCCESS, lastUsed: last.buildpacks, current: try BuilderService.inputs(engine, for: image))
                .filter { $0.reason == .BUILDER || $0.reason == .STACK }
            guard !reasons.isEmpty else { continue }
            do {
                _ = try commit(engine, image, reasons: reasons, created: false, session: session)
            } catch {
                engine.report("the \(reasons.map(\.reason.rawValue).joined(separator: "+")) rebuild of \(image.namespace)/\(image.name) cannot be queued: \(error)")
            }
        }
    }

    /// Bytes in an image's build cache (the `cache = true` layers kept between builds), counted
    /// off the actor and the cooperative pool, without following a symlink a build step left.
    static func cacheSize(_ engine: Engine, namespace: String, image: String) async throws -> Int64 {
        let root = engine.path("cache", namespace, image)
        return try await BlockingWork.run { QuotaService.bytes(under: root) }
    }
}

/// What create/patch/save did.
public struct ImageChange: Sendable {
    public var image: Image
    public var changed: Bool
    /// The build that will carry the change (new, or a queued build it joined).
    public var build: Int?
}
