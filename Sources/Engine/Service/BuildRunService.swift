import SlipwayProtocol
import BuildRuntime
import Foundation

/// Build runs (`buildrun/*`): runs of an image, stand-alone runs with their carrier images, and
/// their expiry.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum BuildRunService {
    /// Submits a build run: one more build of an image (`spec.image`; build N+1, reason
    /// TRIGGER, as `image/trigger`), or a stand-alone build with no configuration behind it.
    static func submitBuildRun(_ engine: isolated Engine, _ spec: BuildRunSpec, session: EngineSession?) async throws -> BuildRunView {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        if let name = spec.name { try Validation.name(name, field: "name", kind: "build run") }
        if let image = spec.image { return try await submitRun(engine, of: image, spec, namespace: ns, session: session) }
        return try await submitStandaloneRun(engine, spec, namespace: ns, session: session)
    }

    private static func submitRun(_ engine: isolated Engine, of imageName: String, _ spec: BuildRunSpec, namespace ns: String, session: EngineSession?) async throws -> BuildRunView {
        try Validation.name(imageName, field: "image", kind: "image")
        for (field, given) in [("source", spec.source != nil), ("strategy", spec.strategy != nil), ("builder", spec.builder != nil),
                               ("tag", spec.tag != nil), ("env", spec.env != nil), ("timeout", spec.timeout != nil),
                               ("dockerfile", spec.dockerfile != nil), ("buildArgs", spec.buildArgs != nil), ("target", spec.target != nil),
                               ("contextDir", spec.contextDir != nil), ("network", spec.network != nil)] where given {
            throw EngineError.invalid("\(field) belongs to a stand-alone run; a run of image '\(imageName)' builds the image's configuration (patch the image to change it)",
                                      field: field)
        }
        let image = try engine.existingImage(ns, imageName)
        let name = try spec.name ?? uniqueRunName(engine, base: image.name, namespace: ns)
        if try engine.store.buildRun(namespace: ns, name: name) != nil { throw EngineError.alreadyExists("build run", name, namespace: ns) }
        let number = try await ImageService.triggerImage(engine, namespace: ns, name: imageName, session: session)
        let run = BuildRun(namespace: ns, name: name, image: imageName, build: number, standalone: false, spec: nil, created: Timestamp.now())
        try engine.change { tx, events in
            guard try engine.store.insertBuildRun(run, in: tx) else { throw EngineError.alreadyExists("build run", name, namespace: ns) }
            events.add(.Normal, "Submitted", "Build run \(name) is build \(number) of image \(imageName)", object: .init(kind: "BuildRun", namespace: ns, name: name))
        }
        return try view(engine, run)
    }

    private static func submitStandaloneRun(_ engine: isolated Engine, _ spec: BuildRunSpec, namespace ns: String, session: EngineSession?) async throws -> BuildRunView {
        guard spec.source != nil else {
            throw EngineError.invalid("Missing required param 'source' (or 'image', for a run of an image's configuration)", field: "source")
        }
        if let t = spec.timeout, t <= 0 { throw EngineError.invalid("timeout must be a positive number of seconds", field: "timeout") }
        let name = try spec.name ?? uniqueRunName(engine, base: "buildrun", namespace: ns)
        if try engine.store.buildRun(namespace: ns, name: name) != nil { throw EngineError.alreadyExists("build run", name, namespace: ns) }
        let carrier = Image.carrier(ofRun: name)
        let imageSpec = ImageSpec(name: carrier, namespace: ns, tag: spec.tag, builder: spec.builder, source: spec.source, env: spec.env,
                                  strategy: spec.strategy, dockerfile: spec.dockerfile, buildArgs: spec.buildArgs, target: spec.target,
                                  contextDir: spec.contextDir, buildTimeout: spec.timeout, network: spec.network, successBuildHistoryLimit: 1, failedBuildHistoryLimit: 1)
        try ImageValidation.validateDockerfileSettings(DockerfileSettings(spec: imageSpec))
        // A run adds data as a trigger does: refused as one is once the storage quota is reached.
        try await QuotaService.checkQuota(engine, namespace: ns, adding: .storage)
        let image = try await ImageService.newImage(engine, imageSpec, namespace: ns, name: carrier, buildRun: name) {
            try await QuotaService.checkQuota(engine, namespace: ns, adding: .buildruns)
        }
        // The source took time off the actor: the name, or the last run of the quota, may be gone.
        if try engine.store.buildRun(namespace: ns, name: name) != nil || engine.imageIfExists(ns, carrier) != nil {
            throw EngineError.alreadyExists("build run", name, namespace: ns)
        }
        try await QuotaService.checkQuota(engine, namespace: ns, adding: .buildruns)
        var recorded = spec
        recorded.name = name
        recorded.namespace = ns
        let run = BuildRun(namespace: ns, name: name, image: carrier, build: 1, standalone: true, spec: recorded, created: Timestamp.now())
        guard try engine.store.insertBuildRun(run) else { throw EngineError.alreadyExists("build run", name, namespace: ns) }
        do {
            _ = try ImageService.commit(engine, image, reasons: [BuildReason(.CONFIG)], created: true, session: session)
        } catch {
            // Nothing of the run is kept when its build cannot be recorded.
            try? engine.store.deleteBuildRun(namespace: ns, name: name)  // the caller gets the first error; a run left behind has no build and is never listed
            throw error
        }
        return try view(engine, run)
    }

    /// `<base>-run-<6 random characters>`, at most 63 characters, not taken in the namespace.
    private static func uniqueRunName(_ engine: isolated Engine, base: String, namespace: String) throws -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var stem = String(base.prefix(52))
        while stem.hasSuffix("-") { stem.removeLast() }
        while true {
            let name = stem + "-run-" + String((0..<6).map { _ in letters.randomElement()! })
            if try engine.store.buildRun(namespace: namespace, name: name) == nil { return name }
        }
    }

    static func view(_ engine: isolated Engine, _ run: BuildRun) throws -> BuildRunView {
        guard let v = try viewIfBuildExists(engine, run) else {
            throw EngineError.notFound("build run", run.name, namespace: run.namespace, hint: "its build is gone")
        }
        return v
    }

    /// The run with its build, or nil when the build is gone (the run is being deleted).
    static func viewIfBuildExists(_ engine: isolated Engine, _ run: BuildRun) throws -> BuildRunView? {
        guard let key = try engine.imageIfExists(run.namespace, run.image)?.buildKey(run.build), let build = try BuildService.storedBuild(engine, key) else { return nil }
        return BuildRunView(run: run, build: build)
    }

    /// A build run; for a day after a stand-alone run expired, NotFound says so and when.
    static func buildRun(_ engine: isolated Engine, namespace: String, name: String) throws -> BuildRunView {
        if let run = try engine.store.buildRun(namespace: namespace, name: name) { return try view(engine, run) }
        if let gone = try engine.store.expiredBuildRun(namespace: namespace, name: name) {
            throw EngineError(.notFound, "build run '\(name)' in namespace '\(namespace)' expired at \(gone.expired): it ended \(gone.status) at \(gone.ended), "
                              + "and stand-alone runs are deleted \(gone.status == "SUCCESS" ? "--buildrun-ttl-succeeded" : "--buildrun-ttl-failed") after they end",
                              details: ["kind": "build run", "name": name, "namespace": namespace, "expired": gone.expired])
        }
        throw EngineError.notFound("build run", name, namespace: namespace, hint: "list build runs with buildrun/list")
    }

    static func buildRuns(_ engine: isolated Engine, namespace: String, after: String?, limit: Int) throws -> (runs: [BuildRunView], more: Bool) {
        let page = try engine.store.buildRuns(namespace: namespace, after: after, limit: limit)
        // A run whose build is gone is being deleted; it is not listed.
        return (try page.runs.compactMap { try viewIfBuildExists(engine, $0) }, page.more)
    }

    /// The build a run is, for its logs and waiting.
    static func buildRunKey(_ engine: isolated Engine, namespace: String, name: String) throws -> BuildKey {
        let v = try buildRun(engine, namespace: namespace, name: name)
        return try engine.existingImage(namespace, v.run.image).buildKey(v.run.build)
    }

    static func cancelBuildRun(_ engine: isolated Engine, namespace: String, name: String) throws -> BuildRunView {
        let key = try buildRunKey(engine, namespace: namespace, name: name)
        _ = try BuildService.cancel(engine, namespace: namespace, image: key.image, number: key.number)
        return try buildRun(engine, namespace: namespace, name: name)
    }

    /// Deletes a run. A stand-alone run goes with its build, log, cache and (when it named no
    /// tag) its image; the run of an image only stops being a run: its build stays in the
    /// image's history, as every build of the image does.
    static func deleteBuildRun(_ engine: isolated Engine, namespace: String, name: String) async throws {
        let v = try buildRun(engine, namespace: namespace, name: name)
        guard v.run.standalone else {
            try engine.change { tx, events in
                try engine.store.deleteBuildRun(namespace: namespace, name: name, in: tx)
                events.add(.Normal, "Deleted", "Build run \(name) deleted; build \(v.run.build) stays in the history of image \(v.run.image)",
                           object: .init(kind: "BuildRun", namespace: namespace, name: name))
            }
            return
        }
        try await removeStandaloneRun(engine, v, reason: "Deleted", message: "Build run \(name) deleted with its build, log and image", expired: nil)
    }

    /// Removes a stand-alone run, its carrier image and (when it had no tag of its own) its
    /// image layout; `expired` records when, for the day NotFound says so.
    private static func removeStandaloneRun(_ engine: isolated Engine, _ v: BuildRunView, reason: String, message: String, expired: String?) async throws {
        let run = v.run
        let carrier = try engine.imageIfExists(run.namespace, run.image)
        try await ImageService.removeImage(engine, namespace: run.namespace, name: run.image, endMessage: "build run deleted") { tx, events in
            try engine.store.deleteBuildRun(namespace: run.namespace, name: run.name, in: tx)
            if let expired { try engine.store.noteExpired(run, at: expired, ended: v.build.finished ?? expired, status: v.build.status.rawValue, in: tx) }
            events.add(.Normal, reason, message, object: .init(kind: "BuildRun", namespace: run.namespace, name: run.name))
        }
        if run.spec?.tag == nil, carrier != nil {
            let layout = engine.path("layouts", run.namespace, run.image)
            try await BlockingWork.run { try ConfinedDirectory.removeTree(atPath: layout) }
        }
    }

    /// Gives ended stand-alone runs their deletion time, deletes the runs whose time has come
    /// (saying so for a day), and forgets what expired more than a day ago.
    static func expireBuildRuns(_ engine: isolated Engine) async {
        let now = Date()
        do {
            for var run in try engine.store.standaloneRunsWithoutDeadline() {
                guard let key = try engine.imageIfExists(run.namespace, run.image)?.buildKey(run.build), let b = try BuildService.storedBuild(engine, key), b.status.isFinished,
                      let ended = b.finished.flatMap(Timestamp.parse) else { continue }
                let ttl = b.status == .SUCCESS ? engine.options.buildRunTTLSucceeded : engine.options.buildRunTTLFailed
                run.deleteAt = Timestamp.format(ended.addingTimeInterval(ttl))
                try engine.store.putBuildRun(run)
            }
            for run in try engine.store.buildRunsDue(at: now) {
                guard let v = try viewIfBuildExists(engine, run) else {
                    try engine.store.deleteBuildRun(namespace: run.namespace, name: run.name)
                    continue
                }
                try await removeStandaloneRun(engine, v, reason: "Expired", message: "Build run \(run.name) expired and was deleted (it ended \(v.build.status.rawValue))",
                                              expired: Timestamp.format(now))
            }
            try engine.store.forgetExpiredBuildRuns(before: now.addingTimeInterval(-86400))
        } catch {
            engine.report("build runs could not be expired: \(error); trying again later")
        }
    }

    /// Expires runs now (catching up at start), then as their times come.
    static func startBuildRunExpiry(_ engine: isolated Engine) {
        let every = min(max(min(engine.options.buildRunTTLSucceeded, engine.options.buildRunTTLFailed) / 4, 0.1), 60)
        engine.runExpiryTask = Task { [weak engine] in
            while !Task.isCancelled {
                if let engine { await expireBuildRuns(engine) }
                try? await Task.sleep(for: .seconds(every))  // cancellation ends the loop
            }
        }
    }
}

/// A build run with its build, for clients.
public struct BuildRunView: Sendable {
    public var run: BuildRun
    public var build: Build
}
