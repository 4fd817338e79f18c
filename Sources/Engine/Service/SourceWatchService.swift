import SlipwayProtocol
import BuildRuntime
import Foundation

/// Changes of sources no client asks for: git branches and tags, the FROM images of Dockerfile
/// builds and the tags of builder images (polled), and watched local folders.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum SourceWatchService {
    /// Polls the branches and tags images follow, every `gitPollInterval` seconds, while the
    /// engine runs.
    static func startGitPolling(_ engine: isolated Engine) {
        guard let interval = engine.options.gitPollInterval, interval > 0, engine.pollTask == nil else { return }
        engine.pollTask = Task { [weak engine] in
            // At start, catch up on what came due while no engine ran; then every interval.
            while !Task.isCancelled {
                await engine?.pollGitSources()
                await engine?.pollDockerfileBases()
                await engine?.pollBuilderImages()
                try? await Task.sleep(for: .seconds(interval))  // cancellation ends the loop above
            }
        }
    }

    /// Looks at what the FROM images of every Dockerfile image's last successful build resolve
    /// to now: a tag that moved to another image starts a build with reason STACK (the
    /// Dockerfile meaning of "the base changed"; a full build, as there is no rebase here).
    static func pollDockerfileBases(_ engine: isolated Engine) async {
        let all: [Engine.ImageKey: Image]
        do { all = try engine.loadImages() } catch {
            engine.report("polling the FROM images of Dockerfile images: the images cannot be read: \(error); the next poll tries again")
            return
        }
        let candidates = all.values.filter { $0.isConfiguration && $0.strategy == .dockerfile && $0.status.dockerfileBases != nil }
        for image in candidates {
            guard let known = image.status.dockerfileBases else { continue }
            var now = known
            for (name, _) in known {
                if let d = try? await currentBaseDigest(engine, name, namespace: image.namespace) { now[name] = d.string }  // unreachable now: keeps what it was; the next poll tries again
            }
            guard now != known else { continue }
            do {
                guard var current = try engine.imageIfExists(image.namespace, image.name), current.status.dockerfileBases == known else { continue }
                current.status = ImageStatusCalculator.status(previous: current.status, latest: nil, polledBases: now)
                let last = try engine.store.latestBuild(namespace: image.namespace, image: image.name)
                let lastFinished = try BuildService.lastFinishedBuild(engine, image.namespace, image.name)
                let reasons = BuildReasonCalculator.reasons(last: last?.inputs, lastSucceeded: lastFinished?.status == .SUCCESS, lastUsed: lastFinished?.buildpacks ?? [], current: try BuilderService.inputs(engine, for: current))
                if reasons.isEmpty { try engine.saveImage(current) } else { _ = try ImageService.commit(engine, current, reasons: reasons, created: false, session: nil) }
            } catch {
                engine.report("polling the FROM images of \(image.namespace)/\(image.name) failed: \(error); the next poll tries again")
            }
        }
    }

    /// What a FROM name resolves to now, under the rules of `dockerfileBase`: a registry tag's
    /// manifest digest, or an `oci:` layout tag's. A folder has no tag to move, and an image of
    /// the namespace is not followed (two images built on each other would rebuild each other
    /// for ever): nil.
    static func currentBaseDigest(_ engine: Engine, _ name: String, namespace: String) async throws -> Digest? {
        switch try await PlatformService.dockerfileBase(engine, name, namespace: namespace) {
        case .namespaceImage:
            return nil
        case .reference(let ref):
            return try await currentDigest(engine, of: ref, namespace: namespace)
        }
    }

    /// The manifest digest a reference names now: a registry tag's (with the namespace's
    /// credentials) or a layout tag's; nil for a folder, which has no tag to move.
    static func currentDigest(_ engine: Engine, of ref: ImageReference, namespace: String) async throws -> Digest? {
        switch ref {
        case .registry(let host, let repository, let tag, let digest):
            if let digest { return digest }
            return try await RegistryService.registryClient(engine, host: host, namespace: namespace).manifestDigest(repository: repository, reference: tag ?? ImageReference.defaultTag)
        case .layout(let path, let tag):
            return try await BlockingWork.run { try OCILayout(path: path, create: false).image(tag: tag).manifestDigest }
        case .rootfs:
            return nil
        }
    }

    /// Looks at what the tag of every builder made from an image names now: another image is
    /// imported with its buildpacks and order (`*builder/patch` with the same image), and the
    /// images on the builder rebuild with reason BUILDER (old → new).
    static func pollBuilderImages(_ engine: isolated Engine) async {
        let builders: [Builder]
        do {
            builders = try BuilderService.allBuilders(engine)
        } catch {
            engine.report("polling builder images: the builders cannot be read: \(error); the next poll tries again")
            return
        }
        for b in builders {
            guard let image = b.image, let imported = b.imported else { continue }
            do {
                let ref = try engine.mapped { try ImageReference.parse(image, field: "image") }
                // A Builder pulls with its namespace's secrets; a ClusterBuilder with those of
                // `default`, as stacks do.
                guard let now = try await currentDigest(engine, of: ref, namespace: b.namespace ?? "default"), now != imported.stack.status.buildImageDigest else { continue }
                _ = try await BuilderService.patchBuilder(engine, BuilderSpec(name: b.name, namespace: b.namespace, image: image), session: nil)
            } catch {
                engine.report("polling the builder image of \(b.kind.rawValue) \(b.name) failed: \(error); the next poll tries again")
            }
        }
    }

    /// Looks for new commits on every followed branch or tag; a new commit starts a build with
    /// reason COMMIT. A pinned commit is never polled, nor an image with `poll: false`.
    static func pollGitSources(_ engine: isolated Engine) async {
        let all: [Engine.ImageKey: Image]
        do { all = try engine.loadImages() } catch {
            engine.report("polling git sources: the images cannot be read: \(error); the next poll tries again")
            return
        }
        let candidates = all.values.filter { i in
            guard i.isConfiguration, let g = i.source.git, g.poll != false, i.source.resolved?.pinned != true else { return false }
            return true
        }
        for image in candidates {
            guard let g = image.source.git else { continue }
            let object = EventObject(kind: "Image", namespace: image.namespace, name: image.name)
            do {
                let resolved = try await SourceService.fetchGit(engine, url: g.url, revision: g.revision, namespace: image.namespace, subPath: image.source.subPath,
                                                  known: image.source.resolved)
                guard resolved.commit != image.source.resolved?.commit, var current = try engine.imageIfExists(image.namespace, image.name),
                    current.source.git == g
                else { continue }
                current.source.resolved = resolved
                let last = try engine.store.latestBuild(namespace: image.namespace, image: image.name)
                let lastFinished = try BuildService.lastFinishedBuild(engine, image.namespace, image.name)
                let reasons = BuildReasonCalculator.reasons(last: last?.inputs, lastSucceeded: lastFinished?.status == .SUCCESS, lastUsed: lastFinished?.buildpacks ?? [], current: try BuilderService.inputs(engine, for: current))
                if reasons.isEmpty {
                    try engine.saveImage(current)
                } else {
                    _ = try ImageService.commit(engine, current, reasons: reasons, created: false, session: nil)
                }
            } catch {
                let message = (error as? EngineError)?.message ?? "\(error)"
                do {
                    try engine.recordEvents { $0.add(.Warning, "SourceResolutionFailed", "polling \(g.url): \(message)", object: object) }
                } catch {
                    engine.report("polling \(g.url) for \(image.namespace)/\(image.name) failed (\(message)), and its event cannot be stored: \(error); the next poll tries again")
                }
            }
        }
    }

    /// The default quiet time after the last change before a rebuild.
    static let defaultWatchDebounceMs = 200

    /// Starts, restarts or stops the watch of an image's folder to match its configuration (a
    /// deleted image, or one not watched, has none). An image that cannot be read is an error,
    /// and its watch is left as it was.
    static func syncWatch(_ engine: isolated Engine, namespace: String, name: String) throws {
        let key = Engine.ImageKey(namespace: namespace, name: name)
        let image = try engine.imageIfExists(namespace, name)
        guard let image, image.isConfiguration, let local = image.source.local, local.watch == true else {
            engine.watchers[key]?.watcher.stop()
            engine.watchers[key] = nil
            return
        }
        let root = local.path + (image.source.subPath.map { "/" + $0 } ?? "")
        let debounceMs = local.watchDebounceMs ?? Self.defaultWatchDebounceMs
        if let w = engine.watchers[key], w.root == root, w.debounceMs == debounceMs { return }
        engine.watchers[key]?.watcher.stop()
        engine.watchers[key] = nil
        do {
            let watcher = try FolderWatcher(root: root, debounce: Double(debounceMs) / 1000) { [weak engine] in
                Task { if let engine { await folderChanged(engine, namespace: namespace, name: name) } }
            }
            engine.watchers[key] = FolderWatch(root: root, debounceMs: debounceMs, watcher: watcher)
        } catch {
            engine.report("cannot watch the folder of image \(namespace)/\(name): \(error)")
        }
    }

    /// The watched folder of an image changed: snapshot it again, and build if it differs.
    static func folderChanged(_ engine: isolated Engine, namespace: String, name: String) async {
        let image: Image?
        do { image = try engine.imageIfExists(namespace, name) } catch {
            engine.report("image \(namespace)/\(name): its watched folder changed, but the image cannot be read: \(error)")
            return
        }
        guard let image, image.source.local?.watch == true else { return }  // gone or unwatched: nothing to do
        let fresh: SourceSpec
        do {
            fresh = try await SourceService.resolveSource(engine, image.source, namespace: namespace)
        } catch {
            engine.report("image \(namespace)/\(name): its watched folder cannot be snapshotted: \(error)")
            return
        }
        do {
            guard var current = try engine.imageIfExists(namespace, name), current.source.local == fresh.local else { return }  // gone or changed meanwhile
            let (old, new) = (current.source.resolved?.snapshot.digest, fresh.resolved?.snapshot.digest)
            guard old != new else { return }
            current.source = fresh
            _ = try ImageService.commit(engine, current, reasons: [BuildReason(.CONFIG, field: "source", old: old, new: new)], created: false, session: nil)
        } catch {
            engine.report("image \(namespace)/\(name): the build for its changed folder cannot be queued: \(error)")
        }
    }

    /// At engine start: the watches again, and a build for every folder that changed while no
    /// engine ran.
    static func resumeWatches(_ engine: isolated Engine) async {
        let images: [Engine.ImageKey: Image]
        do { images = try engine.loadImages() } catch {
            engine.report("watched folders are not watched: the images cannot be read: \(error)")
            return
        }
        for image in images.values where image.isConfiguration && image.source.local?.watch == true {
            do { try syncWatch(engine, namespace: image.namespace, name: image.name) } catch {
                engine.report("the folder of image \(image.namespace)/\(image.name) is not watched: \(error)")
            }
            await folderChanged(engine, namespace: image.namespace, name: image.name)
        }
    }
}

/// A running watch, and what it was started for.
struct FolderWatch {
    var root: String
    var debounceMs: Int
    var watcher: FolderWatcher
}
