import Foundation

/// What a Dockerfile build adds to a build request: where the Dockerfile and the context are
/// in the source, build args, the target stage, and how FROM names are found.
public struct DockerfileInputs: Sendable {
    /// The Dockerfile's path, relative to the context.
    public var dockerfile: String
    /// The context's folder in the source ("" for its root).
    public var contextDir: String
    public var buildArgs: [String: String]
    public var target: String?
    /// Finds a FROM image (a registry reference or an `oci:` layout) in the content store.
    public var resolveBase: @Sendable (String) async throws -> OCIImage

    public init(dockerfile: String, contextDir: String, buildArgs: [String: String], target: String?,
                resolveBase: @escaping @Sendable (String) async throws -> OCIImage) {
        self.dockerfile = dockerfile
        self.contextDir = contextDir
        self.buildArgs = buildArgs
        self.target = target
        self.resolveBase = resolveBase
    }
}

/// The Dockerfile strategy as a `BuildExecutor`: unpacks the source snapshot as the build
/// context and builds it with `DockerfileBuilder`, under the same scheduler, logs, timeouts,
/// cancellation, export and push as a buildpacks build.
public struct DockerfileExecutor: BuildExecutor {
    public let images: ImageStore
    public let sources: SourceSnapshotter
    /// `slipway-userns`, which RUN steps run under.
    public let helper: String

    /// Layer folders and step cache records live under `<state>/dockerfile`.
    public init(images: ImageStore, sources: SourceSnapshotter, helper: String) {
        self.images = images
        self.sources = sources
        self.helper = helper
    }

    /// The builder, made per build: a missing bwrap or id range fails that build, saying what
    /// to install or add, not the engine's start. Where overlayfs cannot be mounted, steps copy
    /// their layers instead, and the log says so.
    func builder(log: @escaping BuildLogger) async throws -> DockerfileBuilder {
        let root = images.content.root.path + "/dockerfile"
        let namespace = UserNamespaceRunner(helper: helper, mapping: try IDMapping.forCurrentUser())
        var runner = OverlayStepRunner(sandbox: try SandboxRunner(), namespace: namespace, layersRoot: root + "/layers")
        if let why = await runner.overlayUnavailableReason(scratch: root + "/layers") {
            log(BuildPhase.build.rawValue, .system,
                "overlayfs cannot be mounted here (\(why)): each RUN step works on a copy of its layers, compared afterwards, which is slower")
            runner = OverlayStepRunner(sandbox: runner.sandbox, namespace: namespace, layersRoot: runner.layersRoot, snapshots: .copy)
        }
        return DockerfileBuilder(images: images, layersRoot: runner.layersRoot, cacheDirectory: root + "/cache", runner: runner)
    }

    public func accepts(_ request: BuildRequest) -> Bool { request.dockerfile != nil }

    public func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        guard let inputs = request.dockerfile else { throw RuntimeError.invalid("a Dockerfile build needs its Dockerfile inputs") }
        log(BuildPhase.prepare.rawValue, .system, "===> PREPARE")
        // The context is unpacked once per source snapshot and only read (no step sees it), so
        // a rebuild of the same source reuses it.
        let contexts = images.content.root.path + "/dockerfile/contexts"
        let contextRoot = contexts + "/" + request.source.hex
        let reused = try await BlockingWork.run { () throws -> Bool in
            if access(contextRoot, F_OK) == 0 {
                _ = utimensat(AT_FDCWD, contextRoot, nil, AT_SYMLINK_NOFOLLOW)  // in use: a failed touch only shortens its life
                return true
            }
            try FileManager.default.createDirectory(atPath: contexts, withIntermediateDirectories: true)
            let temp = contexts + "/.tmp-" + UUID().uuidString
            let root = try ConfinedDirectory(path: temp, displayPath: "the build context", create: true)
            try sources.restore(request.source, into: root)
            if rename(temp, contextRoot) != 0 {
                try? ConfinedDirectory.removeTree(atPath: temp)  // another build placed the same context first: use that one
                guard access(contextRoot, F_OK) == 0 else { throw RuntimeError.io("cannot place the build context: \(String(cString: strerror(errno)))") }
            }
            return false
        }
        log(BuildPhase.prepare.rawValue, .system, "Source snapshot \(request.source) \(reused ? "already unpacked" : "unpacked") as the build context")
        var context = contextRoot
        if !inputs.contextDir.isEmpty {
            let parts = PathSyntax.components(inputs.contextDir)
            guard parts.allSatisfy(ArchiveExtractor.isNormalComponent),
                (try? ConfinedDirectory(path: contextRoot).isDirectory(parts.joined(separator: "/"))) == true
            else {
                throw RuntimeError.buildFailed("contextDir \(inputs.contextDir) is not a folder of the source")
            }
            context += "/" + parts.joined(separator: "/")
        }
        log(BuildPhase.build.rawValue, .system, "===> BUILD")
        var buildRequest = DockerfileBuilder.Request(context: context, dockerfile: inputs.dockerfile, buildArgs: inputs.buildArgs, target: inputs.target,
                                                     outputLayout: request.outputLayout, outputTag: request.outputTag,
                                                     mountCacheDirectory: request.cacheDirectory + "/dockerfile-mounts", resolveBase: inputs.resolveBase)
        // The context is within the source size cap already; what ADD brings in is held to it too.
        buildRequest.maxAddBytes = sources.limits.maxTotalBytes
        buildRequest.publicNetwork = request.publicNetwork
        let result = try await builder(log: log).build(buildRequest, log: log)
        log(BuildPhase.completion.rawValue, .system, "===> COMPLETION")
        var built = BuildResult(imageDigest: result.imageDigest, buildpacks: [], runImageDigest: result.finalBase ?? result.imageDigest,
                                processes: [], layersAdded: result.layersAdded, layersReused: result.layersReused)
        built.bases = result.bases.mapValues(\.string)
        return built
    }
}
