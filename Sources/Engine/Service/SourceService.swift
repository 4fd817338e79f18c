import SlipwayProtocol
import BuildRuntime
import Foundation

/// Sources and tags: what can be checked of a source without touching it, resolving it (snapshot,
/// git commit, blob archive), and the `--allow-source` policy on host paths.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum SourceService {
    static func parseTag(_ engine: isolated Engine, _ tag: String, field: String) throws -> ImageReference {
        let ref = try engine.mapped { try ImageReference.parse(tag, field: field) }
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
    static func resolveTag(_ engine: isolated Engine, _ tag: String?, namespace: String, name: String) throws -> String {
        guard let tag else { return ImageReference.layout(path: engine.path("layouts", namespace, name), tag: "latest").description }
        return try parseTag(engine, tag, field: "tag").description
    }

    /// Checks what can be checked of a source without touching it: exactly one kind, URLs and
    /// revisions that git or the HTTP client may see, absolute paths, a subPath inside.
    static func checkSourceSyntax(_ engine: Engine, _ source: SourceSpec) throws {
        let given = [source.git != nil, source.blob != nil, source.local != nil].filter { $0 }.count
        guard given == 1 else {
            throw EngineError.invalid("source must have exactly one of git, blob or local (it has \(given))", field: "source")
        }
        try engine.mapped {
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
    static func resolveSource(_ engine: Engine, _ source: SourceSpec, namespace: String) async throws -> SourceSpec {
        try checkSourceSyntax(engine, source)
        var out = source
        let snapshotter = engine.snapshotter
        let sub = source.subPath
        if let local = source.local {
            // The policy applies to the folder the build will read: after subPath, symlinks resolved.
            let sub = try engine.mapped { try SourceSnapshotter.normalizeSubPath(source.subPath) }
            try checkAllowed(engine, local.path + (sub.map { "/" + $0 } ?? ""), field: "source.local.path")
            try checkApartFromState(engine, local.path + (sub.map { "/" + $0 } ?? ""), field: "source.local.path")
            let path = local.path
            let snap = try await BlockingWork.run {
                do { return try snapshotter.snapshot(localPath: path, subPath: sub) } catch let e as RuntimeError { throw EngineError(e) }
            }
            out.resolved = ResolvedSource(snapshot: SnapshotSummary(snap))
            return out
        }
        if let g = source.git {
            try engine.mapped {
                try GitClient.validate(url: g.url, field: "source.git.url")
                if let r = g.revision { try GitClient.validate(revision: r, field: "source.git.revision") }
                _ = try SourceSnapshotter.normalizeSubPath(sub)
            }
            // A file:// remote is a folder on this machine: the same policy as a local path.
            if g.url.lowercased().hasPrefix("file:"), let u = URL(string: g.url) { try checkAllowed(engine, u.path, field: "source.git.url") }
            out.resolved = try await fetchGit(engine, url: g.url, revision: g.revision, namespace: namespace, subPath: sub)
            return out
        }
        if let blob = source.blob {
            let url = try engine.mapped { try BlobFetcher.validate(url: blob.url, field: "source.blob.url") }
            if url.isFileURL { try checkAllowed(engine, url.path, field: "source.blob.url") }
            if let n = blob.stripComponents, n < 0 || n > 32 {
                throw EngineError.invalid("source.blob.stripComponents must be between 0 and 32", field: "source.blob.stripComponents")
            }
            let file = engine.images.content.tempDirectory.path + "/blob-" + UUID().uuidString
            defer { unlink(file) }  // the archive is read once; its snapshot is what builds use
            let fetched: FetchedBlob
            do {
                fetched = try await BlobFetcher(maxBytes: engine.options.maxSourceBytes).fetch(url, to: file, through: engine.images.content)
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
    static func checkAllowed(_ engine: Engine, _ path: String, field: String) throws {
        guard let roots = engine.options.allowedSourceRoots, path.hasPrefix("/") else { return }  // relative paths are refused later
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

    /// Refuses a local source that holds the state directory or lies inside it: its snapshot
    /// would take in Slipway's own files, which every build adds to (a snapshot of a folder
    /// holding the state grew until paths were too long, gigabytes written on the way).
    static func checkApartFromState(_ engine: Engine, _ path: String, field: String) throws {
        guard let real = SourceSnapshotter.realPath(path) else { return }  // a path that does not exist is said by the snapshot
        let source = PathSyntax.components(real), state = PathSyntax.components(engine.stateDirectory.path)
        let shown = PathSyntax.shortened(path)
        if source.count <= state.count, Array(state.prefix(source.count)) == source {
            throw EngineError.invalid(
                "'\(shown)' holds Slipway's state directory (\(engine.stateDirectory.path)), which every build writes to; give a folder that does not contain it, or keep the state elsewhere (--state-dir or SLIPWAY_HOME)",
                field: field)
        }
        if source.count > state.count, Array(source.prefix(state.count)) == state {
            throw EngineError.invalid("'\(shown)' is inside Slipway's state directory (\(engine.stateDirectory.path)); give a folder of your own", field: field)
        }
    }

    /// Resolves a git revision and snapshots the tree of its commit.
    static func fetchGit(_ engine: Engine, url: String, revision: String?, namespace: String, subPath: String?, known: ResolvedSource? = nil) async throws -> ResolvedSource {
        guard let git = engine.git else {
            throw EngineError(.unavailable, "git is not installed; install it with 'apt-get install git' (or run scripts/setup.sh)")
        }
        let credentials = try await SecretService.gitCredentials(engine, for: url, namespace: namespace)
        let redactor = engine.redactor
        func engineError(_ e: RuntimeError) -> EngineError {
            var e = EngineError(e)
            e = EngineError(e.reason, redactor.redact(e.message), field: e.field ?? "source.git.url")
            return e
        }
        let resolution: GitResolution
        do { resolution = try await git.resolve(url: url, revision: revision, credentials: credentials) } catch let e as RuntimeError { throw engineError(e) }
        if let known, known.commit == resolution.commit { return known }
        let dir = engine.path("work", "git-" + UUID().uuidString)
        defer { try? ConfinedDirectory.removeTree(atPath: dir) }  // only space is at stake: work/ is emptied at every start
        do {
            try await git.checkout(url: url, commit: resolution.commit, credentials: credentials, into: dir)
        } catch let e as RuntimeError { throw engineError(e) }
        let snapshotter = engine.snapshotter
        let snap = try await BlockingWork.run {
            do { return try snapshotter.snapshot(localPath: dir, subPath: subPath, indexed: false) } catch let e as RuntimeError { throw EngineError(e) }
        }
        return ResolvedSource(snapshot: SnapshotSummary(snap), ref: resolution.ref, commit: resolution.commit, pinned: resolution.pinned)
    }
}
