import SlipwayProtocol
import BuildRuntime
import Foundation



/// What create/patch/save did.
public struct ImageChange: Sendable {
    public var image: Image
    public var changed: Bool
    /// The build that will carry the change (new, or a queued build it joined).
    public var build: Int?
}

extension Engine {
    // MARK: Create, patch, save

    public func createImage(_ spec: ImageSpec, session: EngineSession? = nil) async throws -> ImageChange {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        try Validation.name(spec.name, field: "name", kind: "image")
        if try imageIfExists(ns, spec.name) != nil { throw EngineError.alreadyExists("image", spec.name, namespace: ns) }
        let image = try await newImage(spec, namespace: ns, name: spec.name) {
            try await self.checkQuota(namespace: ns, adding: .images)
        }
        // The snapshot took time off the actor; the name (or the last image of the quota) may
        // have been taken meanwhile.
        if try imageIfExists(ns, spec.name) != nil { throw EngineError.alreadyExists("image", spec.name, namespace: ns) }
        try await checkQuota(namespace: ns, adding: .images)
        if spec.dryRun == true { return ImageChange(image: image, changed: true, build: nil) }
        let change = try commit(image, reasons: [BuildReason(.CONFIG)], created: true, session: session)
        try syncWatch(namespace: ns, name: spec.name)
        return change
    }

    /// An image as `spec` describes it, checked, with its source resolved (snapshotted, or the
    /// commit or archive fixed); `beforeSource` runs once everything cheap is checked.
    func newImage(_ spec: ImageSpec, namespace ns: String, name: String, buildRun: String? = nil,
                  beforeSource: () async throws -> Void = {}) async throws -> Image {
        let tag = try resolveTag(spec.tag, namespace: ns, name: name)
        for (i, t) in (spec.additionalTags ?? []).enumerated() { _ = try parseTag(t, field: "additionalTags[\(i)]") }
        try Validation.env(spec.env ?? [:])
        try Self.validateLimits(spec)
        try checkNetwork(spec.network)
        guard var source = spec.source else {
            throw EngineError.invalid("Missing required param 'source'; give source.local.path (a folder or archive) or source.git.url", field: "source")
        }
        try checkSourceSyntax(source)
        let builder = spec.builder ?? .default
        if (spec.strategy ?? .buildpacks) == .buildpacks { try requireBuilder(builder, namespace: ns) }
        try await beforeSource()
        source = try await resolveSource(source, namespace: ns)
        return Image(
            namespace: ns, name: name, tag: tag, additionalTags: spec.additionalTags ?? [], builder: builder, source: source,
            env: spec.env ?? [:], strategy: spec.strategy ?? .buildpacks, dockerfile: spec.dockerfile, buildArgs: spec.buildArgs, target: spec.target,
            contextDir: spec.contextDir, buildTimeout: spec.buildTimeout, network: spec.network,
            successBuildHistoryLimit: spec.successBuildHistoryLimit ?? 10, failedBuildHistoryLimit: spec.failedBuildHistoryLimit ?? 10,
            created: Timestamp.now(), status: ImageStatus(ready: .Unknown, nextBuildNumber: 1), buildRun: buildRun,
            incarnation: UUID().uuidString)
    }

    public func patchImage(_ spec: ImageSpec, session: EngineSession? = nil) async throws -> ImageChange {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        var image = try image(ns, spec.name)
        try await checkQuota(namespace: ns, adding: .storage)
        if let t = spec.tag {
            let resolved = try resolveTag(t, namespace: ns, name: spec.name)
            guard resolved == image.tag else {
                throw EngineError(.failedPrecondition,
                                  "the tag of image '\(spec.name)' cannot change (it is \(image.tag)); create a new image to build to another tag",
                                  field: "tag")
            }
        }
        for (i, t) in (spec.additionalTags ?? []).enumerated() { _ = try parseTag(t, field: "additionalTags[\(i)]") }
        try Validation.env(spec.env ?? [:])
        try Self.validateLimits(spec)
        try checkNetwork(spec.network)
        if let s = spec.source { try checkSourceSyntax(s) }
        if let b = spec.builder { try requireBuilder(b, namespace: ns) }
        var newSource = image.source
        if let s = spec.source { newSource = try await resolveSource(s, namespace: ns) }
        image = try self.image(ns, spec.name)  // re-read after the suspension
        image.source = newSource
        if let b = spec.builder { image.builder = b }
        if let e = spec.env { image.env.merge(e) { $1 } }
        for k in spec.deleteEnv ?? [] { image.env.removeValue(forKey: k) }
        if let t = spec.additionalTags { image.additionalTags = t }
        if let s = spec.strategy { image.strategy = s }
        if let d = spec.dockerfile { image.dockerfile = d }
        if let a = spec.buildArgs { image.buildArgs = a }
        if let t = spec.target { image.target = t.isEmpty ? nil : t }
        if let c = spec.contextDir { image.contextDir = c.isEmpty ? nil : c }
        if let t = spec.buildTimeout { image.buildTimeout = t }
        if let n = spec.network { image.network = n }
        if let l = spec.successBuildHistoryLimit { image.successBuildHistoryLimit = l }
        if let l = spec.failedBuildHistoryLimit { image.failedBuildHistoryLimit = l }
        let last = try store.latestBuild(namespace: ns, image: spec.name)
        let lastFinished = try lastFinishedBuild(ns, spec.name)
        let reasons = BuildReasonCalculator.reasons(last: last?.inputs, lastSucceeded: lastFinished?.status == .SUCCESS, current: try inputs(for: image))
        if spec.dryRun == true { return ImageChange(image: image, changed: !reasons.isEmpty, build: nil) }
        var events: [EventBatch.Pending] = []
        if spec.clearCache == true {
            let cache = path("cache", ns, spec.name)
            try await BlockingWork.run { try ConfinedDirectory.removeTree(atPath: cache) }
            events.append(.init(type: .Normal, reason: "CacheCleared", message: "The build cache of image \(spec.name) was cleared",
                                object: .init(kind: "Image", namespace: ns, name: spec.name)))
        }
        if reasons.isEmpty {
            try change { tx, batch in
                try store.put(image, kind: .image, namespace: ns, name: spec.name, in: tx)
                for e in events { batch.add(e.type, e.reason, e.message, object: e.object) }
            }
            imageCache?[ImageKey(namespace: ns, name: spec.name)] = image
            try syncWatch(namespace: ns, name: spec.name)
            return ImageChange(image: image, changed: false, build: nil)
        }
        let change = try commit(image, reasons: reasons, created: false, events: events, session: session)
        try syncWatch(namespace: ns, name: spec.name)
        return change
    }

    /// Creates the image if it does not exist, else patches it.
    public func saveImage(_ spec: ImageSpec, session: EngineSession? = nil) async throws -> ImageChange {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        try Validation.name(spec.name, field: "name", kind: "image")
        if try imageIfExists(ns, spec.name) == nil { return try await createImage(spec, session: session) }
        return try await patchImage(spec, session: session)
    }

    /// A build of the image as it is configured. A local source is snapshotted again first, so a
    /// trigger builds what is on disk now (an editor's "rebuild"); the snapshot's change is a
    /// CONFIG reason beside TRIGGER, and nothing changes when the folder did not.
    public func triggerImage(namespace: String, name: String, session: EngineSession? = nil) async throws -> Int {
        var image = try image(namespace, name)
        try await checkQuota(namespace: namespace, adding: .storage)
        guard try store.latestBuild(namespace: namespace, image: name) != nil else {
            throw EngineError(.failedPrecondition, "image '\(name)' has no build to repeat; patch it or wait for its first build")
        }
        var reasons = [BuildReason(.TRIGGER)]
        if image.source.local != nil {
            let fresh = try await resolveSource(image.source, namespace: namespace)
            image = try self.image(namespace, name)  // re-read after the suspension
            let (old, new) = (image.source.resolved?.snapshot.digest, fresh.resolved?.snapshot.digest)
            if image.source.local == fresh.local, old != new {
                image.source = fresh
                reasons.append(BuildReason(.CONFIG, field: "source", old: old, new: new))
            }
        }
        let triggered = EventBatch.Pending(type: .Normal, reason: "RebuildTriggered", message: "Build triggered by image/trigger",
                                           object: .init(kind: "Image", namespace: namespace, name: name))
        return try commit(image, reasons: reasons, created: false, events: [triggered], session: session).build ?? 0
    }

    /// A network an image or build run may ask for: at most the engine's `--build-network`.
    func checkNetwork(_ network: BuildNetwork?) throws {
        guard let network, network > options.buildNetwork else { return }
        throw EngineError.invalid(
            "network \"\(network.rawValue)\" is more than this engine allows (--build-network \(options.buildNetwork.rawValue)); ask for \"\(options.buildNetwork.rawValue)\", or start the engine with --build-network \(network.rawValue)",
            field: "network")
    }

    static func validateLimits(_ spec: ImageSpec) throws {
        if let t = spec.buildTimeout, t <= 0 { throw EngineError.invalid("buildTimeout must be a positive number of seconds", field: "buildTimeout") }
        if let l = spec.successBuildHistoryLimit, l < 1 {
            throw EngineError.invalid("successBuildHistoryLimit must be at least 1", field: "successBuildHistoryLimit")
        }
        if let l = spec.failedBuildHistoryLimit, l < 1 {
            throw EngineError.invalid("failedBuildHistoryLimit must be at least 1", field: "failedBuildHistoryLimit")
        }
        try validateDockerfileSettings(dockerfile: spec.dockerfile, buildArgs: spec.buildArgs, target: spec.target, contextDir: spec.contextDir)
    }

    /// The Dockerfile strategy's settings: paths inside the source, ARG names, a stage name.
    static func validateDockerfileSettings(dockerfile: String?, buildArgs: [String: String]?, target: String?, contextDir: String?) throws {
        for (field, value) in [("dockerfile", dockerfile), ("contextDir", contextDir)] {
            guard let value, !value.isEmpty else { continue }
            guard !value.hasPrefix("/"), PathSyntax.components(value).allSatisfy(ArchiveExtractor.isNormalComponent), value.utf8.count <= 1024 else {
                throw EngineError.invalid("\(field) '\(PathSyntax.shortened(value))' must be a relative path inside the source, without '..'", field: field)
            }
        }
        for (k, v) in buildArgs ?? [:] {
            guard LayerEnvironment.isValidName(k) else {
                throw EngineError.invalid("buildArgs name '\(PathSyntax.shortened(k))' is not an ARG name: letters, digits and '_', not starting with a digit", field: "buildArgs")
            }
            guard v.utf8.count <= 32 << 10 else { throw EngineError.invalid("buildArgs value of \(k) is longer than 32 KiB", field: "buildArgs") }
        }
        if (buildArgs?.count ?? 0) > 1000 { throw EngineError.invalid("at most 1,000 buildArgs", field: "buildArgs") }
        if let t = target, !t.isEmpty, t.range(of: #"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"#, options: .regularExpression) == nil {
            throw EngineError.invalid("target '\(PathSyntax.shortened(t))' is not a stage name or index", field: "target")
        }
    }

    /// Stores the image and queues a build for `reasons`: a build already queued for the image
    /// takes the change (changes collapse into one build); otherwise a new one is queued. The
    /// change, its events and `events` are written in one transaction. The build is noted as
    /// `session`'s (what its end of input waits for); nil for work no client asked for.
    func commit(_ image: Image, reasons: [BuildReason], created: Bool, events extra: [EventBatch.Pending] = [], session: EngineSession?) throws -> ImageChange {
        var image = image
        let ns = image.namespace, name = image.name
        let inputs = try inputs(for: image)
        var number: Int = 0
        var queuedBuild: Build?
        var isNew = false
        let previousReady = created ? nil : imageCache?[ImageKey(namespace: ns, name: name)]?.status.ready
        let object = eventObject(namespace: ns, image: name)
        try change { tx, events in
            if let latest = try store.latestBuild(namespace: ns, image: name, in: tx), latest.status == .QUEUED {
                // The queued build takes the change; its reasons are worked out again against the
                // build before it, keeping a manual trigger.
                var b = latest
                let prior = try store.builds(namespace: ns, image: name, in: tx).last { $0.number < b.number }
                var merged = BuildReasonCalculator.reasons(last: prior?.inputs, lastSucceeded: prior?.status == .SUCCESS, current: inputs)
                if (b.reasons + reasons).contains(where: { $0.reason == .TRIGGER }) { merged.append(BuildReason(.TRIGGER)) }
                b.reasons = merged.isEmpty ? b.reasons : merged
                b.inputs = inputs
                try store.putBuild(b, in: tx)
                number = b.number
                queuedBuild = b
            } else {
                number = image.status.nextBuildNumber
                let b = Build(namespace: ns, image: name, number: number, status: .QUEUED, reasons: reasons, created: Timestamp.now(), inputs: inputs,
                              buildpacks: [])
                try store.putBuild(b, in: tx)
                queuedBuild = b
                isNew = true
            }
            image.status = ImageStatusCalculator.status(previous: image.status, latest: queuedBuild)
            if created {
                guard try store.insert(image, kind: .image, namespace: ns, name: name, in: tx) else { throw EngineError.alreadyExists("image", name, namespace: ns) }
            } else {
                try store.put(image, kind: .image, namespace: ns, name: name, in: tx)
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
        imageCache?[ImageKey(namespace: ns, name: name)] = image
        let key = image.buildKey(number)
        scheduler.enqueue(key)
        session?.noteStarted(key)
        if isNew {
            broadcastBuildStatus(key, status: .QUEUED, previous: nil, phase: nil, message: "queued: " + BuildReasonCalculator.summary(queuedBuild!.reasonKinds))
        }
        if previousReady != .Building && image.isConfiguration {
            sessions.broadcast(.imageStatusChanged(.init(namespace: ns, image: name, ready: .Building, previous: previousReady,
                                                         latestImage: image.status.latestImage, time: Timestamp.now())))
        }
        schedule()
        return ImageChange(image: image, changed: true, build: number)
    }

    static func describe(_ source: SourceSpec, _ r: ResolvedSource) -> String {
        if let g = source.git { return "\(g.url) \(r.ref ?? "") is at \(r.commit ?? "")" }
        if let b = source.blob { return "\(b.url) is \(r.archiveDigest ?? "") (snapshot \(Digest(r.snapshot.digest)?.short ?? r.snapshot.digest))" }
        return "\(source.local?.path ?? "") snapshot \(r.snapshot.digest) (\(r.snapshot.files) files)"
    }

    // MARK: Reading

    func loadImages() throws -> [ImageKey: Image] {
        if let c = imageCache { return c }
        var c: [ImageKey: Image] = [:]
        for i in try store.objects(Image.self, kind: .image) { c[ImageKey(namespace: i.namespace, name: i.name)] = i }
        imageCache = c
        return c
    }

    func imageIfExists(_ ns: String, _ name: String) throws -> Image? { try loadImages()[ImageKey(namespace: ns, name: name)] }

    public func image(_ ns: String, _ name: String) throws -> Image {
        guard let i = try imageIfExists(ns, name) else {
            throw EngineError.notFound("image", name, namespace: ns, hint: "list images with image/list, or create it with image/create")
        }
        return i
    }

    /// A page of image rows in namespace and name order: those after the key `after`
    /// (`namespace/name`), at most `limit`, and the key of the last when more follow. Rows are
    /// made for the page only.
    public func listImages(namespace: String?, filter: ImageFilter?, after: String?, limit: Int) throws -> (rows: [ImageRow], next: String?) {
        // "/" sorts before every character a name may have, so keys sort as (namespace, name).
        var keyed: [(key: String, image: Image)] = []
        for i in try loadImages().values {
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

    // MARK: Delete

    /// Deletes the image, its builds, logs and cache. Images already written stay where they are.
    public func deleteImage(namespace: String, name: String) async throws {
        _ = try image(namespace, name)
        try await removeImage(namespace: namespace, name: name) { tx, events in
            events.add(.Normal, "Deleted", "Image \(name) deleted with its builds and logs", object: .init(kind: "Image", namespace: namespace, name: name))
        }
        try syncWatch(namespace: namespace, name: name)
    }

    /// Removes an image (a configuration, or a run's carrier) with its builds, their runs, logs
    /// and cache; `also` adds to the same transaction. Its queued and running builds end.
    func removeImage(namespace: String, name: String, endMessage: String = Engine.imageDeleted,
                     also: (SQLiteDatabase.Transaction, EventBatch) throws -> Void) async throws {
        let (queued, running) = try imageIfExists(namespace, name).map(scheduler.builds(ofImage:)) ?? ([], [])
        let queuedBuilds = try queued.compactMap { key in try store.build(namespace: namespace, image: name, number: key.number).map { (key, $0) } }
        try change { tx, events in
            try store.deleteBuilds(namespace: namespace, image: name, in: tx)
            try store.deleteBuildRuns(namespace: namespace, image: name, in: tx)
            try store.delete(kind: .image, namespace: namespace, name: name, in: tx)
            try also(tx, events)
        }
        imageCache?[ImageKey(namespace: namespace, name: name)] = nil
        // Its builds end: running ones when their task stops (see `completed`), queued ones now.
        // A running one's log ends here: an image created again under the name reuses its
        // file's name, and its builds of the same numbers are others.
        for key in running {
            scheduler.running[key]?.log.abandon()
            scheduler.cancelRunning(key, message: endMessage)
        }
        for (key, b) in queuedBuilds {
            scheduler.unqueue(key)
            var life = BuildLife(queued: b)
            advance(&life, .imageGone(message: endMessage, at: Timestamp.now()), key, log: nil)
        }
        let folders = [path("logs", namespace, name), path("cache", namespace, name)]
        try await BlockingWork.run { for f in folders { try ConfinedDirectory.removeTree(atPath: f) } }
        // What only this image used (its default layout, layers, source snapshot) goes next.
        scheduleCollection()
    }

    // MARK: Inputs

    /// What a build of `image` would be made from. A builder that does not exist gives no
    /// buildpacks (the build fails on it, saying so); one that cannot be read is an error, so
    /// BUILDER and STACK reasons are never worked out from inputs that only look empty.
    func inputs(for image: Image) throws -> BuildInputs {
        var buildpacks: [String: String] = [:]
        var runDigest: String?
        if let b = try builderIfExists(image.builder, namespace: image.namespace) {
            let r = try resolveStatus(of: b)
            for bp in r.status.buildpacks { buildpacks[bp.id] = bp.version }
            runDigest = r.stack?.status.runImageDigest.string
        }
        let s = image.source
        let dockerfile = image.strategy == .dockerfile
            ? DockerfileSettings(path: image.dockerfile ?? "Dockerfile", buildArgs: image.buildArgs ?? [:], target: image.target, contextDir: image.contextDir,
                                 bases: image.status.dockerfileBases)
            : nil
        return BuildInputs(
            builder: image.builder, sourceType: s.kind, sourceURL: s.git?.url ?? s.blob?.url ?? "",
            sourceRevision: s.resolved?.commit ?? s.resolved?.archiveDigest ?? s.resolved?.snapshot.digest ?? "", sourceRef: s.resolved?.ref,
            subPath: s.subPath,
            env: image.env, buildpacks: image.strategy == .dockerfile ? [:] : buildpacks, runImageDigest: image.strategy == .dockerfile ? nil : runDigest,
            dockerfile: dockerfile, network: image.network)
    }

    func builderRecord(_ ref: BuilderReference, namespace: String) throws -> Builder {
        try builder(name: ref.name, namespace: ref.kind == .Builder ? namespace : nil)
    }

    /// The image's builder, or nil when there is none of that name (other errors are thrown).
    func builderIfExists(_ ref: BuilderReference, namespace: String) throws -> Builder? {
        do {
            return try builderRecord(ref, namespace: namespace)
        } catch let e as EngineError where e.reason == .notFound {
            return nil
        }
    }

    func requireBuilder(_ ref: BuilderReference, namespace: String) throws {
        do {
            _ = try builderRecord(ref, namespace: namespace)
        } catch let e as EngineError where e.reason == .notFound {
            throw EngineError(.notFound, e.message, field: "builder", details: e.details)
        }
    }

    func lastFinishedBuild(_ ns: String, _ name: String) throws -> Build? {
        try store.builds(namespace: ns, image: name).last { $0.status.isFinished }
    }

    // MARK: Tags and sources

    func parseTag(_ tag: String, field: String) throws -> ImageReference {
        let ref = try mapped { try ImageReference.parse(tag, field: field) }
        switch ref {
        case .layout: return ref
        case .rootfs:
            throw EngineError.invalid("'\(field)' must be oci:DIR[:TAG]; a root filesystem folder is only for stack images", field: field)
        case .registry(_, _, _, let digest):
            guard digest == nil else { throw EngineError.invalid("'\(field)' must be a tag, not a digest", field: field) }
            return ref
        }
    }

    /// The image's tag, defaulting to an OCI layout under the state directory.
    func resolveTag(_ tag: String?, namespace: String, name: String) throws -> String {
        guard let tag else { return ImageReference.layout(path: path("layouts", namespace, name), tag: "latest").description }
        return try parseTag(tag, field: "tag").description
    }

    /// Checks what can be checked of a source without touching it: exactly one kind, URLs and
    /// revisions that git or the HTTP client may see, absolute paths, a subPath inside.
    nonisolated func checkSourceSyntax(_ source: SourceSpec) throws {
        let given = [source.git != nil, source.blob != nil, source.local != nil].filter { $0 }.count
        guard given == 1 else {
            throw EngineError.invalid("source must have exactly one of git, blob or local (it has \(given))", field: "source")
        }
        try mapped {
            _ = try SourceSnapshotter.normalizeSubPath(source.subPath)
            if let g = source.git {
                try GitClient.validate(url: g.url, field: "source.git.url")
                if let r = g.revision { try GitClient.validate(revision: r, field: "source.git.revision") }
            }
            if let b = source.blob { _ = try BlobFetcher.validate(url: b.url, field: "source.blob.url") }
            if let l = source.local {
                guard l.path.hasPrefix("/"), l.path.utf8.count <= Int(PATH_MAX) else {
                    throw RuntimeError.invalid("source.local.path '\(PathSyntax.shortened(l.path))' must be an absolute path of at most \(PATH_MAX) bytes",
                                               field: "source.local.path")
                }
            }
        }
        if let d = source.local?.watchDebounceMs, d < 10 || d > 60000 {
            throw EngineError.invalid("source.local.watchDebounceMs must be between 10 and 60000", field: "source.local.watchDebounceMs")
        }
        if let n = source.blob?.stripComponents, n < 0 || n > 32 {
            throw EngineError.invalid("source.blob.stripComponents must be between 0 and 32", field: "source.blob.stripComponents")
        }
    }

    /// Checks the source and fixes what it is now: local source is snapshotted, a git revision
    /// resolved to a commit whose tree is snapshotted. Runs off the actor.
    nonisolated func resolveSource(_ source: SourceSpec, namespace: String) async throws -> SourceSpec {
        try checkSourceSyntax(source)
        var out = source
        let snapshotter = self.snapshotter
        let sub = source.subPath
        if let local = source.local {
            // The policy applies to the folder the build will read: after subPath, symlinks resolved.
            let sub = try mapped { try SourceSnapshotter.normalizeSubPath(source.subPath) }
            try checkAllowed(local.path + (sub.map { "/" + $0 } ?? ""), field: "source.local.path")
            let path = local.path
            let snap = try await BlockingWork.run {
                do { return try snapshotter.snapshot(localPath: path, subPath: sub) } catch let e as RuntimeError { throw EngineError(e) }
            }
            out.resolved = ResolvedSource(snapshot: SnapshotSummary(snap))
            return out
        }
        if let g = source.git {
            try mapped {
                try GitClient.validate(url: g.url, field: "source.git.url")
                if let r = g.revision { try GitClient.validate(revision: r, field: "source.git.revision") }
                _ = try SourceSnapshotter.normalizeSubPath(sub)
            }
            // A file:// remote is a folder on this machine: the same policy as a local path.
            if g.url.lowercased().hasPrefix("file:"), let u = URL(string: g.url) { try checkAllowed(u.path, field: "source.git.url") }
            out.resolved = try await fetchGit(url: g.url, revision: g.revision, namespace: namespace, subPath: sub)
            return out
        }
        if let blob = source.blob {
            let url = try mapped { try BlobFetcher.validate(url: blob.url, field: "source.blob.url") }
            if url.isFileURL { try checkAllowed(url.path, field: "source.blob.url") }
            if let n = blob.stripComponents, n < 0 || n > 32 {
                throw EngineError.invalid("source.blob.stripComponents must be between 0 and 32", field: "source.blob.stripComponents")
            }
            let file = images.content.tempDirectory.path + "/blob-" + UUID().uuidString
            defer { unlink(file) }  // the archive is read once; its snapshot is what builds use
            let fetched: FetchedBlob
            do {
                fetched = try await BlobFetcher(maxBytes: options.maxSourceBytes).fetch(url, to: file, through: images.content)
            } catch let e as RuntimeError {
                throw EngineError(e.kind == .unavailable ? .unavailable : .invalidParams, e.message, field: "source.blob.url")
            }
            let strip = blob.stripComponents ?? 0
            let snap = try await BlockingWork.run {
                do { return try snapshotter.snapshot(archive: fetched.path, name: PathSyntax.shortened(blob.url), stripComponents: strip, subPath: sub) } catch let e as RuntimeError { throw EngineError(e) }
            }
            out.resolved = ResolvedSource(snapshot: SnapshotSummary(snap), archiveDigest: fetched.digest.string)
            return out
        }
        throw EngineError.invalid("source must have one of git, blob or local", field: "source")
    }

    /// Refuses host paths outside `--allow-source` folders, when those are set: every host path
    /// a client names (sources, buildpacks, stack folders and layouts, docker config files).
    /// Both sides are compared fully resolved (symlinks followed, `..` gone), by whole path
    /// components.
    nonisolated func checkAllowed(_ path: String, field: String) throws {
        guard let roots = options.allowedSourceRoots, path.hasPrefix("/") else { return }  // relative paths are refused later
        let shown = PathSyntax.shortened(path)
        let denied = EngineError(.permissionDenied, "'\(shown)' is outside the folders this server may read (\(roots.joined(separator: ", "))); use a path inside them",
                                 field: field)
        func isInside(_ p: String) -> Bool {
            let parts = PathSyntax.components(p)
            return roots.contains { root in
                let r = PathSyntax.components(SourceSnapshotter.realPath(root) ?? PathSyntax.normalizedAbsolute(root))
                return parts.count >= r.count && Array(parts.prefix(r.count)) == r
            }
        }
        guard let real = SourceSnapshotter.realPath(path) else {
            // Whether a path outside exists is not told: only one inside gets "does not exist".
            guard isInside(PathSyntax.normalizedAbsolute(path)) else { throw denied }
            throw EngineError.invalid("'\(shown)' does not exist or cannot be read", field: field)
        }
        guard isInside(real) else { throw denied }
    }

    /// Resolves a git revision and snapshots the tree of its commit.
    nonisolated func fetchGit(url: String, revision: String?, namespace: String, subPath: String?, known: ResolvedSource? = nil) async throws -> ResolvedSource {
        guard let git else {
            throw EngineError(.unavailable, "git is not installed; install it with 'apt-get install git' (or run scripts/setup.sh)")
        }
        let credentials = try await gitCredentials(for: url, namespace: namespace)
        let redactor = self.redactor
        func engineError(_ e: RuntimeError) -> EngineError {
            var e = EngineError(e)
            e = EngineError(e.reason, redactor.redact(e.message), field: e.field ?? "source.git.url")
            return e
        }
        let resolution: GitResolution
        do { resolution = try await git.resolve(url: url, revision: revision, credentials: credentials) } catch let e as RuntimeError { throw engineError(e) }
        if let known, known.commit == resolution.commit { return known }
        let dir = path("work", "git-" + UUID().uuidString)
        defer { try? ConfinedDirectory.removeTree(atPath: dir) }  // only space is at stake: work/ is emptied at every start
        do {
            try await git.checkout(url: url, commit: resolution.commit, credentials: credentials, into: dir)
        } catch let e as RuntimeError { throw engineError(e) }
        let snapshotter = self.snapshotter
        let snap = try await BlockingWork.run {
            do { return try snapshotter.snapshot(localPath: dir, subPath: subPath, indexed: false) } catch let e as RuntimeError { throw EngineError(e) }
        }
        return ResolvedSource(snapshot: SnapshotSummary(snap), ref: resolution.ref, commit: resolution.commit, pinned: resolution.pinned)
    }

    func saveImage(_ image: Image) throws {
        try store.put(image, kind: .image, namespace: image.namespace, name: image.name)
        imageCache?[ImageKey(namespace: image.namespace, name: image.name)] = image
    }
}

extension Engine {
    /// Rebuilds the images whose builder `matches`, when the builder's buildpacks or stack
    /// changed since their last successful build (reasons BUILDER and STACK). Builds queue under
    /// the concurrency limit like any other.
    ///
    /// The change that called it is already saved; an image or builder that cannot be read is
    /// thrown (saying so), not taken as "nothing to rebuild".
    func reconcileImages(session: EngineSession?, where matches: (Builder) -> Bool) throws {
        do {
            try queueRebuilds(session: session, where: matches)
        } catch let e as EngineError {
            throw EngineError(e.reason, "the change is saved, but the images it affects cannot be checked for a rebuild: \(e.message)", details: e.details)
        }
    }

    private func queueRebuilds(session: EngineSession?, where matches: (Builder) -> Bool) throws {
        for image in try loadImages().values.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) where image.isConfiguration {
            guard let builder = try builderIfExists(image.builder, namespace: image.namespace), matches(builder), builder.status.ready,
                let last = try store.latestBuild(namespace: image.namespace, image: image.name)
            else { continue }
            let reasons = BuildReasonCalculator.reasons(last: last.inputs, lastSucceeded: last.status == .SUCCESS, current: try inputs(for: image))
                .filter { $0.reason == .BUILDER || $0.reason == .STACK }
            guard !reasons.isEmpty else { continue }
            do {
                _ = try commit(image, reasons: reasons, created: false, session: session)
            } catch {
                report("the \(reasons.map(\.reason.rawValue).joined(separator: "+")) rebuild of \(image.namespace)/\(image.name) cannot be queued: \(error)")
            }
        }
    }
}

extension Engine {
    /// Bytes in an image's build cache (the `cache = true` layers kept between builds), counted
    /// off the actor and the cooperative pool, without following a symlink a build step left.
    public nonisolated func cacheSize(namespace: String, image: String) async throws -> Int64 {
        let root = path("cache", namespace, image)
        return try await BlockingWork.run { Self.bytes(under: root) }
    }
}
