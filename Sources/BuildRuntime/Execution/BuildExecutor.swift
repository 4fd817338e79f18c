/// Turns a build request into an image. The CNB lifecycle, the rebaser and the Dockerfile
/// builder are executors; the engine is given one for each kind of build (`BuildExecutors`)
/// and hands each build to its kind's, so scheduling can be tested with an executor of the
/// test's own.
public protocol BuildExecutor: Sendable {
    /// Builds `request`, logging through `log`. Cancellation of the calling task stops it.
    func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult
}

/// What a rebase starts from: the image of the image's last successful build, and the
/// buildpacks that made it.
/// What kind of build a request is: it says which executor runs the build.
public enum BuildKind: Sendable, Equatable {
    /// The run image swapped under the layers of the last successful build.
    case rebase
    /// A Dockerfile image, built by the Dockerfile builder.
    case dockerfile
    /// A buildpacks image, built in full by the CNB lifecycle.
    case buildpacks
}

extension BuildRequest {
    /// A rebase when it names the build it starts from; else a Dockerfile build when it names
    /// a Dockerfile; else a buildpacks build.
    public var kind: BuildKind {
        if rebase != nil { return .rebase }
        return dockerfile != nil ? .dockerfile : .buildpacks
    }
}

/// The executors of an engine, one for each kind of build.
public struct BuildExecutors: Sendable {
    public var rebase: any BuildExecutor
    public var dockerfile: any BuildExecutor
    public var buildpacks: any BuildExecutor

    public init(rebase: any BuildExecutor, dockerfile: any BuildExecutor, buildpacks: any BuildExecutor) {
        self.rebase = rebase
        self.dockerfile = dockerfile
        self.buildpacks = buildpacks
    }

    /// One executor for every kind of build (a test's own, say).
    public init(all executor: any BuildExecutor) {
        self.init(rebase: executor, dockerfile: executor, buildpacks: executor)
    }

    /// The executor that runs a build of `kind`.
    public func executor(for kind: BuildKind) -> any BuildExecutor {
        switch kind {
        case .rebase: rebase
        case .dockerfile: dockerfile
        case .buildpacks: buildpacks
        }
    }
}

public struct RebaseBase: Sendable, Equatable {
    public var previous: Digest
    public var buildpacks: [BuildpackDescriptor]

    public init(previous: Digest, buildpacks: [BuildpackDescriptor]) {
        self.previous = previous
        self.buildpacks = buildpacks
    }
}

extension Lifecycle: BuildExecutor {
    public func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        try await run(request, log: log)
    }
}

extension Rebaser: BuildExecutor {
    public func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        guard let base = request.rebase, let runImage = request.runImage else { throw RuntimeError.invalid("a rebase needs the image it starts from and a run image") }
        return try await BlockingWork.run {
            try rebase(previous: base.previous, buildpacks: base.buildpacks, runImage: runImage, runImageName: request.runImageName,
                       outputLayout: request.outputLayout, outputTag: request.outputTag, log: log)
        }
    }
}
