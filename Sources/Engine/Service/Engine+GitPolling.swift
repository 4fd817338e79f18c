import SlipwayProtocol
import BuildRuntime
import Foundation

extension Engine {
    /// Polls the branches and tags images follow, every `gitPollInterval` seconds, while the
    /// engine runs.
    func startGitPolling() {
        guard let interval = options.gitPollInterval, interval > 0, pollTask == nil else { return }
        pollTask = Task { [weak self] in
            // At start, catch up on what came due while no engine ran; then every interval.
            while !Task.isCancelled {
                await self?.pollGitSources()
                await self?.pollDockerfileBases()
                try? await Task.sleep(for: .seconds(interval))  // cancellation ends the loop above
            }
        }
    }

    /// Looks at what the FROM images of every Dockerfile image's last successful build resolve
    /// to now: a tag that moved to another image starts a build with reason STACK (the
    /// Dockerfile meaning of "the base changed"; a full build, as there is no rebase here).
    public func pollDockerfileBases() async {
        let all: [ImageKey: Image]
        do { all = try loadImages() } catch {
            report("polling the FROM images of Dockerfile images: the images cannot be read: \(error); the next poll tries again")
            return
        }
        let candidates = all.values.filter { $0.isConfiguration && $0.strategy == .dockerfile && $0.status.dockerfileBases != nil }
        for image in candidates {
            guard let known = image.status.dockerfileBases else { continue }
            var now = known
            for (name, _) in known {
                if let d = try? await currentBaseDigest(name, namespace: image.namespace) { now[name] = d.string }  // unreachable now: keeps what it was; the next poll tries again
            }
            guard now != known else { continue }
            do {
                guard var current = try imageIfExists(image.namespace, image.name), current.status.dockerfileBases == known else { continue }
                current.status = ImageStatusCalculator.status(previous: current.status, latest: nil, polledBases: now)
                let last = try store.latestBuild(namespace: image.namespace, image: image.name)
                let lastFinished = try lastFinishedBuild(image.namespace, image.name)
                let reasons = BuildReasonCalculator.reasons(last: last?.inputs, lastSucceeded: lastFinished?.status == .SUCCESS, current: try inputs(for: current))
                if reasons.isEmpty { try saveImage(current) } else { _ = try commit(current, reasons: reasons, created: false, session: nil) }
            } catch {
                report("polling the FROM images of \(image.namespace)/\(image.name) failed: \(error); the next poll tries again")
            }
        }
    }

    /// What a FROM name resolves to now, under the rules of `dockerfileBase`: a registry tag's
    /// manifest digest, or an `oci:` layout tag's. A folder has no tag to move, and an image of
    /// the namespace is not followed (two images built on each other would rebuild each other
    /// for ever): nil.
    nonisolated func currentBaseDigest(_ name: String, namespace: String) async throws -> Digest? {
        switch try await dockerfileBase(name, namespace: namespace) {
        case .namespaceImage:
            return nil
        case .reference(.registry(let host, let repository, let tag, let digest)):
            if let digest { return digest }
            return try await registryClient(host: host, namespace: namespace).manifestDigest(repository: repository, reference: tag ?? ImageReference.defaultTag)
        case .reference(.layout(let path, let tag)):
            return try await BlockingWork.run { try OCILayout(path: path, create: false).image(tag: tag).manifestDigest }
        case .reference(.rootfs):
            return nil
        }
    }

    /// Looks for new commits on every followed branch or tag; a new commit starts a build with
    /// reason COMMIT. A pinned commit is never polled, nor an image with `poll: false`.
    public func pollGitSources() async {
        let all: [ImageKey: Image]
        do { all = try loadImages() } catch {
            report("polling git sources: the images cannot be read: \(error); the next poll tries again")
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
                let resolved = try await fetchGit(url: g.url, revision: g.revision, namespace: image.namespace, subPath: image.source.subPath,
                                                  known: image.source.resolved)
                guard resolved.commit != image.source.resolved?.commit, var current = try imageIfExists(image.namespace, image.name),
                    current.source.git == g
                else { continue }
                current.source.resolved = resolved
                let last = try store.latestBuild(namespace: image.namespace, image: image.name)
                let lastFinished = try lastFinishedBuild(image.namespace, image.name)
                let reasons = BuildReasonCalculator.reasons(last: last?.inputs, lastSucceeded: lastFinished?.status == .SUCCESS, current: try inputs(for: current))
                if reasons.isEmpty {
                    try saveImage(current)
                } else {
                    _ = try commit(current, reasons: reasons, created: false, session: nil)
                }
            } catch {
                let message = (error as? EngineError)?.message ?? "\(error)"
                do {
                    try recordEvents { $0.add(.Warning, "SourceResolutionFailed", "polling \(g.url): \(message)", object: object) }
                } catch {
                    report("polling \(g.url) for \(image.namespace)/\(image.name) failed (\(message)), and its event cannot be stored: \(error); the next poll tries again")
                }
            }
        }
    }
}
