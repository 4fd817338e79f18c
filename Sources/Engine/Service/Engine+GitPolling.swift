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
                try? await Task.sleep(for: .seconds(interval))  // cancellation ends the loop above
            }
        }
    }

    /// Looks for new commits on every followed branch or tag; a new commit starts a build with
    /// reason COMMIT. A pinned commit is never polled, nor an image with `poll: false`.
    public func pollGitSources() async {
        let candidates = ((try? loadImages()) ?? [:]).values.filter { i in
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
                let reasons = BuildReasonCalculator.reasons(last: last?.inputs, lastSucceeded: lastFinished?.status == .SUCCESS, current: inputs(for: current))
                if reasons.isEmpty {
                    try saveImage(current)
                } else {
                    _ = try commit(current, reasons: reasons, created: false)
                }
            } catch {
                let message = (error as? EngineError)?.message ?? "\(error)"
                // The failure is told as an event; if even that cannot be stored, the next poll tries again.
                try? recordEvents { $0.add(.Warning, "SourceResolutionFailed", "polling \(g.url): \(message)", object: object) }
            }
        }
    }
}
