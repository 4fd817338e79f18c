/// Turns a build request into an image. The CNB lifecycle and the rebaser are executors, and
/// so will the Dockerfile builder be; the engine is given its executors and hands each build to
/// the first that accepts it, so scheduling can be tested with an executor of the test's own.
public protocol BuildExecutor: Sendable {
    /// Whether this executor builds `request` (the rebaser takes only rebases, say).
    func accepts(_ request: BuildRequest) -> Bool
    /// Builds `request`, logging through `log`. Cancellation of the calling task stops it.
    func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult
}

/// What a rebase starts from: the image of the image's last successful build, and the
/// buildpacks that made it.
public struct RebaseBase: Sendable, Equatable {
    public var previous: Digest
    public var buildpacks: [BuildpackDescriptor]

    public init(previous: Digest, buildpacks: [BuildpackDescriptor]) {
        self.previous = previous
        self.buildpacks = buildpacks
    }
}

extension Lifecycle: BuildExecutor {
    /// Every buildpacks build, a rebase included (it is then built in full).
    public func accepts(_ request: BuildRequest) -> Bool { request.dockerfile == nil }

    public func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        try await run(request, log: log)
    }
}

extension Rebaser: BuildExecutor {
    /// A rebase: the run image swapped under the layers of the last successful build.
    public func accepts(_ request: BuildRequest) -> Bool { request.rebase != nil }

    public func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        guard let base = request.rebase, let runImage = request.runImage else { throw RuntimeError.invalid("a rebase needs the image it starts from and a run image") }
        return try await BlockingWork.run {
            try rebase(previous: base.previous, buildpacks: base.buildpacks, runImage: runImage, runImageName: request.runImageName,
                       outputLayout: request.outputLayout, outputTag: request.outputTag, log: log)
        }
    }
}
