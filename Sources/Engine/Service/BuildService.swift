import SlipwayProtocol
import BuildRuntime
import Foundation

/// Reading builds and waiting for them: queries, logs, `build/wait`, and cancel.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum BuildService {
    static func builds(_ engine: isolated Engine, namespace: String, image: String?) throws -> [Build] {
        if let image { _ = try engine.existingImage(namespace, image) }
        return try engine.store.builds(namespace: namespace, image: image)
    }

    /// One page of builds (see `StateStore.builds(namespace:image:after:limit:)`).
    static func builds(_ engine: isolated Engine, namespace: String, image: String?, after: (image: String, number: Int)?, limit: Int) throws -> (builds: [Build], more: Bool) {
        if let image { _ = try engine.existingImage(namespace, image) }
        return try engine.store.builds(namespace: namespace, image: image, after: after, limit: limit)
    }

    /// A build by number, or the latest build of the image.
    static func build(_ engine: isolated Engine, namespace: String, image: String, number: Int?) throws -> Build {
        try buildAndKey(engine, namespace: namespace, image: image, number: number).build
    }

    /// The key of a build of the image now of that name, by number, or of its latest build
    /// (what `build/logs` follows and `build/wait` waits for).
    static func buildKey(_ engine: isolated Engine, namespace: String, image: String, number: Int?) throws -> BuildKey {
        try buildAndKey(engine, namespace: namespace, image: image, number: number).key
    }

    private static func buildAndKey(_ engine: isolated Engine, namespace: String, image name: String, number: Int?) throws -> (build: Build, key: BuildKey) {
        let image = try engine.existingImage(namespace, name)
        let b: Build?
        if let number {
            b = try storedBuild(engine, image.buildKey(number))
        } else {
            b = try engine.store.latestBuild(namespace: namespace, image: name).map { engine.scheduler.unrecorded[image.buildKey($0.number)] ?? $0 }
        }
        guard let b else {
            throw EngineError.notFound("build", number.map(String.init) ?? "latest", namespace: namespace,
                                       hint: "list the builds of image '\(name)' with build/list")
        }
        return (b, image.buildKey(b.number))
    }

    /// The log lines of a build from `since` (1-based), read from its log file.
    static func logs(_ engine: isolated Engine, namespace: String, image: String, number: Int?, since: Int) async throws -> [BuildLogLine] {
        let key = try buildKey(engine, namespace: namespace, image: image, number: number)
        let path = engine.logPath(key)
        let run = engine.runName(of: key)
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
    static func followLogs(_ engine: isolated Engine, session: EngineSession, key: BuildKey, since: Int) async throws -> Build {
        guard let b = try storedBuild(engine, key) else {
            throw EngineError.notFound("build", String(key.number), namespace: key.namespace, hint: "it was deleted with its image")
        }
        // A queued build has no log file yet; the session reads it from the first line once it does.
        session.follow(key, path: engine.logPath(key), since: since)
        if b.status.isFinished { return b }
        return try await wait(engine, for: key, timeout: nil)
    }

    /// A build as stored, or as it ended when its end could not be stored; nil when its image
    /// was deleted (even if an image of the name exists again: its builds are others).
    static func storedBuild(_ engine: isolated Engine, _ key: BuildKey) throws -> Build? {
        if let b = engine.scheduler.unrecorded[key] { return b }
        guard try engine.imageIfExists(key.namespace, key.image)?.buildKey(key.number) == key else { return nil }
        return try engine.store.build(namespace: key.namespace, image: key.image, number: key.number)
    }

    /// Waits until the build has finished (or `timeout` seconds pass: Unavailable-free, it
    /// answers with the build as it is then).
    static func wait(_ engine: isolated Engine, for key: BuildKey, timeout: Double?) async throws -> Build {
        let stored = try storedBuild(engine, key)
        if let b = stored, b.status.isFinished { return b }
        // A build deleted with its image still ends (and says so) once its task stops.
        guard stored != nil || engine.scheduler.running[key] != nil else {
            throw EngineError.notFound("build", String(key.number), namespace: key.namespace, hint: "list builds with build/list")
        }
        let waiterID = UUID()
        return try await withTaskCancellationHandler {
            let result: Build? = try await withCheckedThrowingContinuation { c in
                engine.scheduler.addWaiter(key, id: waiterID, c)
                if let timeout {
                    Task {
                        try? await Task.sleep(for: .seconds(timeout))  // never canceled: the sleep always ends
                        releaseWaiter(engine, key, waiterID)
                    }
                }
            }
            try Task.checkCancellation()
            guard let result else {
                throw EngineError.notFound("build", String(key.number), namespace: key.namespace, hint: "it was deleted with its image")
            }
            return result
        } onCancel: {
            Task { await releaseWaiter(engine, key, waiterID) }
        }
    }

    /// Resumes one waiter early (timeout or cancellation) with the build as it is now.
    static func releaseWaiter(_ engine: isolated Engine, _ key: BuildKey, _ id: UUID) {
        guard let c = engine.scheduler.removeWaiter(key, id: id) else { return }
        // A build that cannot be read now is an error for the waiter, not "deleted".
        c.resume(with: Result { try storedBuild(engine, key) })
    }

    static func wait(_ engine: isolated Engine, namespace: String, image: String, number: Int?, timeout: Double?) async throws -> Build {
        try await wait(engine, for: buildKey(engine, namespace: namespace, image: image, number: number), timeout: timeout)
    }

    /// Cancels a queued or running build: it ends as FAILURE with the message "canceled".
    static func cancel(_ engine: isolated Engine, namespace: String, image: String, number: Int?) throws -> Build {
        let (b, key) = try buildAndKey(engine, namespace: namespace, image: image, number: number)
        guard !b.status.isFinished else {
            throw EngineError(.failedPrecondition, "build \(b.number) of image '\(image)' has already finished (\(b.status.rawValue)); nothing to cancel")
        }
        if engine.scheduler.cancelRunning(key, message: "canceled") { return b }
        engine.scheduler.unqueue(key)
        var life = BuildLife(queued: b)
        BuildRunner.advance(engine, &life, .refused(message: "canceled", at: Timestamp.now()), key, log: nil)
        return life.build
    }

    static func lastFinishedBuild(_ engine: isolated Engine, _ ns: String, _ name: String) throws -> Build? {
        try engine.store.builds(namespace: ns, image: name).last { $0.status.isFinished }
    }
}
