import Foundation

/// Builds a Dockerfile into an OCI image, with no daemon and no buildah. `DockerfileFrontend`
/// (pure) works out the stages the target needs and what each instruction does to a stage's
/// config; `DockerfileSolver` builds the stages, each as soon as the stages it reads are
/// (independent ones together): RUN steps run in `OverlayStepRunner`'s sandbox over the
/// stage's layers, COPY and ADD write layers straight from the context (or another stage) with
/// `TarWriter`, and the target is exported.
///
/// Each step that makes a layer has a cache key (`StepCacheKey`): the key before it, the
/// instruction's text, the ARG and ENV values it sees, and, for COPY and ADD, the digest of
/// the layer its files make. A key found in the cache reuses that layer: an unchanged rebuild
/// runs no RUN and writes no layer, and the log says for every step whether it was cached and,
/// if not, why.
///
/// Not yet (each refused with a message): `RUN --mount=type=secret|ssh`, `RUN --network`.
public struct DockerfileBuilder: Sendable {
    /// What one Dockerfile build needs.
    public struct Request: Sendable {
        /// The build context: a host folder (the source snapshot, restored).
        public var context: String
        /// The Dockerfile, build args and target stage; its `contextDir` is already applied to
        /// `context`.
        public var settings: DockerfileSettings
        public var outputLayout: String
        public var outputTag: String
        /// Where RUN --mount=type=cache folders are kept between builds (the image's own);
        /// nil refuses cache mounts.
        public var mountCacheDirectory: String?
        /// The most bytes ADD may bring in: all of a build's downloads together, and what one
        /// archive expands to (the source size cap).
        public var maxAddBytes: Int64 = 8 << 30
        /// Whether RUN steps get outbound network access (`StepNetwork`).
        public var publicNetwork = false
        /// Hosts an `ADD` of a URL may fetch from although the `OutboundAddressPolicy` refuses
        /// their addresses (loopback, link-local, the engine host's own): `--allow-add-host`.
        public var addHostAllowList: [String] = []
        /// The most bytes one layer may hold (`--max-layer-bytes`).
        public var maxLayerBytes: Int64 = 10 << 30
        /// What is left of the namespace's storage quota, which the build's layers take from as
        /// they are written; nil when the namespace has no storage quota.
        public var storage: ByteBudget?
        /// The most a `RUN --mount=type=tmpfs` may hold (its default size).
        public var maxTmpfsBytes: Int64 = 1 << 30
        /// Finds a FROM image by its name (a registry reference or an `oci:` layout), in a store.
        public var resolveBase: @Sendable (String) async throws -> OCIImage

        public init(context: String, settings: DockerfileSettings, outputLayout: String, outputTag: String, mountCacheDirectory: String? = nil,
                    resolveBase: @escaping @Sendable (String) async throws -> OCIImage) {
            self.mountCacheDirectory = mountCacheDirectory
            self.context = context
            self.settings = settings
            self.outputLayout = outputLayout
            self.outputTag = outputTag
            self.resolveBase = resolveBase
        }

        /// A request for the Dockerfile at `dockerfile` in `context` (as tests make them).
        public init(context: String, dockerfile: String = DockerfileSettings.defaultPath, buildArgs: [String: String] = [:], target: String? = nil,
                    outputLayout: String, outputTag: String, mountCacheDirectory: String? = nil,
                    resolveBase: @escaping @Sendable (String) async throws -> OCIImage) {
            self.init(context: context, settings: DockerfileSettings(path: dockerfile, buildArgs: buildArgs, target: target), outputLayout: outputLayout,
                      outputTag: outputTag, mountCacheDirectory: mountCacheDirectory, resolveBase: resolveBase)
        }
    }

    /// What a build made.
    public struct Result: Sendable, Equatable {
        public var imageDigest: Digest
        public var layersAdded: Int
        public var layersReused: Int
        /// Every FROM image: its name and resolved manifest digest.
        public var bases: [String: Digest]
        /// The image the built stage starts from (nil for scratch).
        public var finalBase: Digest?
    }

    public let images: ImageStore
    /// Where layer folders (the stages' overlay lowers) live: `<state>/dockerfile/layers`.
    public let layersRoot: String
    /// Step cache records: `<state>/dockerfile/cache/<key>.json`.
    public let cacheDirectory: String
    public let runner: OverlayStepRunner

    public init(images: ImageStore, layersRoot: String, cacheDirectory: String, runner: OverlayStepRunner) {
        self.images = images
        self.layersRoot = layersRoot
        self.cacheDirectory = cacheDirectory
        self.runner = runner
    }

    /// Builds `request`'s target: the frontend works out the stages it needs, the solver builds
    /// them and exports the target as an image.
    public func build(_ request: Request, log: @escaping BuildLogger) async throws -> Result {
        let phase = BuildPhase.build
        let context = try ConfinedDirectory(path: request.context, displayPath: "the build context")
        let file = request.settings.resolvedPath
        let text: String
        do {
            text = try context.readText(file, maxBytes: DockerfileParser.maxBytes)
        } catch let e as ConfinedPathError {
            throw RuntimeError.buildFailed("\(file) cannot be read from the build context: \(e)")
        }
        let frontend = try DockerfileFrontend(parsing: text, file: file, buildArgs: request.settings.resolvedBuildArgs)
        // One fetcher for the build: its downloads share the size cap, and every address it
        // connects to is checked (with the public network; with none, ADD of a URL is refused).
        let fetcher = request.publicNetwork
            ? BlobFetcher(budget: ByteBudget(limit: request.maxAddBytes), addressPolicy: try OutboundAddressPolicy(allowing: request.addHostAllowList)) : nil
        let graph = try frontend.graph(target: request.settings.target)
        let stages = frontend.dockerfile.stages
        log(phase, .system, "Building stage \(stages[graph.target].name ?? String(graph.target)) of \(file) (\(graph.stages.count) of \(stages.count) stage(s) needed)")
        let store = DockerfileLayerStore(images: images, layersRoot: layersRoot, cacheDirectory: cacheDirectory, runner: runner)
        let solver = DockerfileSolver(store: store, frontend: frontend, graph: graph, request: request, context: context, fetcher: fetcher)
        let (final, bases) = try await solver.solve(log: log)
        log(BuildPhase.export, .system, "===> EXPORT")
        let digest = try await BlockingWork.run { try solver.export(final) }
        log(BuildPhase.export, .system, "*** Image \(digest) written as \(request.outputTag)")
        return Result(imageDigest: digest, layersAdded: final.added, layersReused: final.reused, bases: bases, finalBase: final.base)
    }
}

extension RuntimeError {
    /// A build failure at a line of the Dockerfile: `file:line: message`.
    static func dockerfile(_ file: String, _ line: Int, _ message: String) -> RuntimeError {
        .buildFailed(DockerfileError(file: file, line: line, message: message).description)
    }
}
