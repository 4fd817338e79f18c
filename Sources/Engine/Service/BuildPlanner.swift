import SlipwayProtocol
import BuildRuntime
import Foundation

/// What a build needs, worked out on the actor from the database alone (`BuildPlan`): its stack,
/// network, output and whether it is a rebase.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum BuildPlanner {
    /// A build whose only reason is STACK, after a successful build on the same stack id, is a
    /// rebase of that build's image; anything else is a full build.
    static func rebaseBase(_ engine: isolated Engine, for b: Build, stack: ClusterStack?) -> RebaseBase? {
        guard b.reasonKinds == [.STACK], let stack else { return nil }
        let earlier: [Build]
        do {
            earlier = try engine.store.builds(namespace: b.namespace, image: b.image)
        } catch {
            // A full build is never wrong.
            engine.report("build \(b.number) of \(b.namespace)/\(b.image): the builds before it cannot be read (\(error)); it is built in full, not rebased")
            return nil
        }
        guard let last = earlier.last(where: { $0.status == .SUCCESS && $0.number < b.number }), last.stackID == stack.id,
            let digest = last.imageDigest.flatMap(Digest.init)
        else { return nil }
        return RebaseBase(previous: digest, buildpacks: last.buildpacks.map { BuildpackDescriptor(api: "", id: $0.id, version: $0.version, homepage: $0.homepage) })
    }

    /// The network a build of `image` gets, and what its log should say about it: what the
    /// image asks for (default: the engine's `--build-network`), at most what the engine allows.
    /// The default falls back to `none` where this machine cannot give the network; an
    /// image that asks for `public` itself then fails, saying why.
    static func buildNetwork(_ engine: isolated Engine, for image: Image) -> (network: BuildNetwork, note: String?) {
        if let asked = image.network, asked > engine.options.buildNetwork {
            return (engine.options.buildNetwork,
                    "The image asks for network \"\(asked.rawValue)\"; this engine allows \"\(engine.options.buildNetwork.rawValue)\" (--build-network), which the build gets")
        }
        let network = image.network ?? engine.options.buildNetwork
        if network == .public, image.network == nil, let why = StepNetwork.unavailableReason() {
            return (.none, "The public network is not available here (\(why)): this build gets network \"none\" (set network on the image to make this an error)")
        }
        return (network, nil)
    }

    /// What a platform says of an image's source (`project-metadata.toml`): git with the commit,
    /// repository and revision; blob with the archive's digest and URL; local with the
    /// snapshot's digest and path.
    static func projectMetadata(_ source: SourceSpec) -> ProjectMetadata {
        let r = source.resolved
        if let g = source.git {
            return ProjectMetadata(source: .init(type: "git", version: ["commit": .string(r?.commit ?? "")],
                                                 metadata: ["repository": .string(g.url), "revision": .string(r?.ref ?? g.revision ?? "")]))
        }
        if let b = source.blob {
            return ProjectMetadata(source: .init(type: "blob", version: ["digest": .string(r?.archiveDigest ?? "")], metadata: ["url": .string(b.url)]))
        }
        return ProjectMetadata(source: .init(type: "local", version: ["digest": .string(r?.snapshot.digest ?? "")],
                                             metadata: ["path": .string(source.local?.path ?? "")]))
    }

    static func makeRequest(_ engine: isolated Engine, _ b: Build, _ key: BuildKey, image: Image, resolved: ResolvedBuilder?) -> Result<BuildPlan, Error> {
        Result {
            // The stack (a buildpacks build's): a Dockerfile build has none and needs no builder.
            var stack: ClusterStack?
            var order: [[BuildpackRef]] = []
            if image.strategy == .buildpacks {
                guard let resolved else { throw EngineError(.notFound, "builder \(b.builderImage ?? "") not found") }
                guard resolved.status.ready, let s = resolved.stack else {
                    throw EngineError(.failedPrecondition, "builder \(b.builderImage ?? "") is not ready: \(resolved.status.message ?? "")")
                }
                stack = s
                order = resolved.order
            }
            guard let digest = image.source.resolved.flatMap({ Digest($0.snapshot.digest) }) else { throw EngineError(.failedPrecondition, "the image has no source snapshot") }
            var layoutPath = engine.path("layouts", ".registry", b.namespace, b.image)
            var tag = "latest"
            if case .layout(let p, let t) = try SourceService.parseTag(engine, image.tag, field: "tag") {
                layoutPath = p
                tag = t
            }
            let network = buildNetwork(engine, for: image)
            let namespace = b.namespace
            return BuildPlan(
                workDirectory: engine.workPath(key), cacheDirectory: engine.path("cache", b.namespace, b.image),
                source: digest, env: image.env, buildImage: stack?.status.buildImageDigest, runImage: stack?.status.runImageDigest,
                runImageName: stack?.runImage ?? "", stackID: stack?.id ?? "", dockerfile: image.strategy == .dockerfile ? b.inputs.dockerfile : nil,
                publicNetwork: network.network == .public, networkNote: network.note, userNamespaceHelper: engine.options.userNamespaceHelper, namespace: b.namespace, order: order, outputLayout: layoutPath, outputTag: tag,
                outputName: image.tag, launcherPath: engine.options.launcherPath, launcherVersion: engine.options.launcherVersion,
                project: Self.projectMetadata(image.source), addHostAllowList: engine.options.addHostAllowList,
                maxLayerBytes: engine.options.maxLayerBytes,
                stepLimits: engine.options.stepLimits,
                fetchBuildpackage: { reference in try await projectBuildpackage(engine, reference, namespace: namespace) })
        }
    }

    /// A buildpackage image an app's project.toml names (`docker://REF` or a bare reference),
    /// pulled as the engine pulls any buildpackage: a registry reference only (never a host
    /// path or layout, which an app may not name), with the namespace's registry credentials.
    static func projectBuildpackage(_ engine: Engine, _ reference: String, namespace: String) async throws -> OCIImage {
        let ref: ImageReference
        do {
            ref = try ImageReference.parse(reference, field: "project.toml")
        } catch {
            throw RuntimeError.buildFailed("project.toml names buildpackage \(PathSyntax.shortened(reference)), which is not an image reference: \(error)")
        }
        guard case .registry(let host, _, _, _) = ref else {
            throw RuntimeError.buildFailed("project.toml names buildpackage \(PathSyntax.shortened(reference)), which is not a registry reference; an app may name only images in a registry")
        }
        let client = try await RegistryService.registryClient(engine, host: host, namespace: namespace)
        return try await engine.images.importImage(ref, folderSettings: ImageStore.FolderImageSettings(stackID: "")) { _ in client }
    }
}

/// What a build needs, worked out on the actor from the database alone; `request` then
/// loads the stack images' manifests off the actor.
struct BuildPlan: Sendable {
    var workDirectory, cacheDirectory: String
    var source: Digest
    var env: [String: String]
    /// The stack's images; nil for a Dockerfile build.
    var buildImage, runImage: Digest?
    var runImageName, stackID: String
    var dockerfile: DockerfileSettings?
    var publicNetwork: Bool
    /// What the build's log says about its network, when it differs from what was asked.
    var networkNote: String?
    var userNamespaceHelper: String
    var namespace: String
    var order: [[BuildpackRef]]
    var outputLayout, outputTag, outputName, launcherPath: String
    var launcherVersion: String
    var project: ProjectMetadata
    var addHostAllowList: [String]
    var maxLayerBytes: Int64
    var stepLimits: StepLimits
    /// Pulls a buildpackage the app's project.toml names (`projectBuildpackage`).
    var fetchBuildpackage: @Sendable (String) async throws -> OCIImage

    func request(images: ImageStore) throws -> BuildRequest {
        var r = BuildRequest(
            workDirectory: workDirectory, cacheDirectory: cacheDirectory, source: source, env: env,
            buildImage: try buildImage.map { try OCIImage.load($0, from: images.content) },
            runImage: try runImage.map { try OCIImage.load($0, from: images.content) },
            runImageName: runImageName, stackID: stackID, order: order, outputLayout: outputLayout, outputTag: outputTag,
            outputName: outputName, launcherPath: launcherPath, launcherVersion: launcherVersion, projectMetadata: project)
        r.publicNetwork = publicNetwork
        r.userNamespaceHelper = userNamespaceHelper
        r.addHostAllowList = addHostAllowList
        r.maxLayerBytes = maxLayerBytes
        r.stepLimits = stepLimits
        r.fetchBuildpackage = fetchBuildpackage
        return r
    }
}
