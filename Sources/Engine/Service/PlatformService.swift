import SlipwayProtocol
import BuildRuntime
import Foundation

/// Stacks and stores: importing stack images, loading buildpacks into stores, the FROM images of
/// Dockerfile builds. A platform change that affects images queues their rebuilds
/// (`ImageService.reconcileImages`).
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum PlatformService {
    static func createClusterStack(_ engine: isolated Engine, _ spec: StackSpec) async throws -> ClusterStack {
        try Validation.name(spec.name, field: "name", kind: "ClusterStack")
        guard let build = spec.buildImage else { throw EngineError.invalid("Missing required param 'buildImage'", field: "buildImage") }
        guard let run = spec.runImage else { throw EngineError.invalid("Missing required param 'runImage'", field: "runImage") }
        if try engine.store.object(ClusterStack.self, kind: .clusterStack, name: spec.name) != nil {
            throw EngineError.alreadyExists("ClusterStack", spec.name)
        }
        let stack = try await resolveStack(engine, name: spec.name, buildImage: build, runImage: run, id: spec.id)
        try engine.change { tx, events in
            guard try engine.store.insert(stack, kind: .clusterStack, name: stack.name, in: tx) else { throw EngineError.alreadyExists("ClusterStack", spec.name) }
            events.add(.Normal, "Created", "ClusterStack \(stack.name) created with stack id \(stack.id)", object: .init(kind: "ClusterStack", namespace: nil, name: stack.name))
        }
        return stack
    }

    static func patchClusterStack(_ engine: isolated Engine, _ spec: StackSpec, session: EngineSession?) async throws -> ClusterStack {
        let old = try clusterStack(engine, spec.name)
        let stack = try await resolveStack(engine, name: spec.name, buildImage: spec.buildImage ?? old.buildImage, runImage: spec.runImage ?? old.runImage,
                                           id: spec.id ?? old.id)
        try engine.store.put(stack, kind: .clusterStack, name: stack.name)
        await BuilderService.republish(engine) { $0.stack == stack.name }
        try ImageService.reconcileImages(engine, session: session) { $0.stack == stack.name }
        return stack
    }

    /// Resolves the stack's image references again (a tag may point at a new digest) and
    /// rebuilds or rebases the images on it if anything changed.
    static func refreshClusterStack(_ engine: isolated Engine, _ name: String, session: EngineSession?) async throws -> ClusterStack {
        try await patchClusterStack(engine, StackSpec(name: name), session: session)
    }

    static func clusterStack(_ engine: isolated Engine, _ name: String) throws -> ClusterStack {
        guard let s = try engine.store.object(ClusterStack.self, kind: .clusterStack, name: name) else {
            throw EngineError.notFound("ClusterStack", name, hint: "list stacks with clusterstack/list, or create it with clusterstack/create")
        }
        return s
    }

    static func clusterStacks(_ engine: isolated Engine) throws -> [ClusterStack] { try engine.store.objects(ClusterStack.self, kind: .clusterStack) }

    static func deleteClusterStack(_ engine: isolated Engine, _ name: String) throws {
        _ = try clusterStack(engine, name)
        try engine.store.delete(kind: .clusterStack, name: name)
    }

    /// Imports both images (off the actor) and describes the stack.
    static func resolveStack(_ engine: Engine, name: String, buildImage: String, runImage: String, id: String?) async throws -> ClusterStack {
        let buildRef = try stackImageReference(engine, buildImage, field: "buildImage")
        let runRef = try stackImageReference(engine, runImage, field: "runImage")
        let stackID = id ?? "io.slipway.stacks.\(name)"
        let b = try await importStackImage(engine, buildRef, field: "buildImage", stackID: stackID, credentialsOf: "default")
        let r = try await importStackImage(engine, runRef, field: "runImage", stackID: stackID, credentialsOf: "default")
        guard let stackID = id ?? b.config.config.Labels?["io.buildpacks.stack.id"] else {
            throw EngineError.invalid("the build image has no io.buildpacks.stack.id label; give the stack 'id'", field: "id")
        }
        let runStackID = r.config.config.Labels?["io.buildpacks.stack.id"]
        if let runStackID, runStackID != stackID, id == nil {
            throw EngineError.invalid("the build image's stack id '\(stackID)' differs from the run image's '\(runStackID)'", field: "runImage")
        }
        return describeStack(name: name, id: stackID, buildImage: (buildImage, buildRef, b), runImage: (runImage, runRef, r))
    }

    /// A stack of two imported images: `given` is how the user named each.
    static func describeStack(name: String, id: String, buildImage: (given: String, ref: ImageReference, image: OCIImage),
                              runImage: (given: String, ref: ImageReference, image: OCIImage)) -> ClusterStack {
        let (b, r) = (buildImage.image, runImage.image)
        return ClusterStack(
            name: name, id: id, buildImage: buildImage.given, runImage: runImage.given,
            status: .init(ready: true, buildImageDigest: b.manifestDigest, runImageDigest: r.manifestDigest,
                          resolvedBuildImage: buildImage.ref.repositoryName + "@" + b.manifestDigest.string,
                          resolvedRunImage: runImage.ref.repositoryName + "@" + r.manifestDigest.string, message: nil,
                          os: b.config.os, architecture: b.config.architecture))
    }

    /// The reference of a stack's (or builder's) image; a layout or folder on this machine only
    /// where the engine may read.
    static func stackImageReference(_ engine: Engine, _ text: String, field: String) throws -> ImageReference {
        let ref = try engine.mapped { try ImageReference.parse(text, field: field) }
        switch ref {
        case .rootfs(let p), .layout(let p, _): try SourceService.checkAllowed(engine, p, field: field)
        case .registry: break
        }
        return ref
    }

    /// Imports a stack's (or builder's) image off the actor: from a registry with the
    /// credentials of `credentialsOf` (a namespaced Builder's own namespace; "default" for what
    /// is cluster-wide, stacks and ClusterBuilders), or from a layout or folder; a folder gets
    /// `stackID` as its label.
    static func importStackImage(_ engine: Engine, _ ref: ImageReference, field: String, stackID: String, credentialsOf namespace: String) async throws -> OCIImage {
        let images = engine.images
        let settings = ImageStore.FolderImageSettings(stackID: stackID)
        do {
            if case .registry(let host, _, _, _) = ref {
                let client = try await RegistryService.registryClient(engine, host: host, namespace: namespace)
                return try await images.importImage(ref, folderSettings: settings) { _ in client }
            }
            return try await BlockingWork.run {
                do { return try images.importLocalImage(ref, folderSettings: settings) } catch let e as RuntimeError { throw EngineError(e) }
            }
        } catch let e as RuntimeError {
            let mapped = EngineError(e)
            throw EngineError(mapped.reason, mapped.message, field: field)
        }
    }

    /// Resolves a Dockerfile's image name under the rules of `DockerfileBase`; a refusal is a
    /// build failure that says what the Dockerfile may name instead.
    static func dockerfileBase(_ engine: isolated Engine, _ name: String, namespace: String) throws -> DockerfileBase {
        let what = "FROM \(PathSyntax.shortened(name))"
        // An image of the namespace, by name, wins over Docker Hub's image of the same name, as
        // a local image does in Docker.
        if (try? Validation.name(name, field: "FROM", kind: "image")) != nil,  // not a valid image name: not one of the namespace's images
            let image = try engine.imageIfExists(namespace, name), image.isConfiguration {
            guard let latest = image.status.latestImage, let at = latest.lastIndex(of: "@"), let digest = Digest(String(latest[latest.index(after: at)...])) else {
                throw RuntimeError.buildFailed("\(what): image \(name) of namespace \(namespace) has no successful build yet; build it first (build/wait)")
            }
            let ref = String(latest[..<at])
            if ref.hasPrefix("oci:") { return .namespaceImage(.layout(path: String(ref.dropFirst(4)), digest: digest)) }
            return .namespaceImage(.pushed(try ImageReference.parse(ref + "@" + digest.string, field: "FROM")))
        }
        let ref: ImageReference
        do {
            ref = try ImageReference.parse(name, field: "FROM")
        } catch let e as RuntimeError {
            throw RuntimeError.buildFailed("\(what): \(e.message); name a registry image (host/repository:tag), an earlier stage, or an image of this namespace")
        }
        switch ref {
        case .registry: return .reference(ref)
        case .rootfs(let p), .layout(let p, _):
            guard engine.options.allowedSourceRoots != nil else {
                throw RuntimeError.buildFailed(
                    "\(what): a Dockerfile names no host path unless the engine is started with --allow-source DIR (and the path is inside DIR); "
                        + "name a registry image, an earlier stage, or an image of this namespace instead")
            }
            do { try SourceService.checkAllowed(engine, p, field: "FROM") } catch let e as EngineError { throw RuntimeError.buildFailed("\(what): \(e.message)") }
            // Slipway's own folders: only the namespace's layouts, never another namespace's
            // images, caches or sources.
            let real = SourceSnapshotter.realPath(p) ?? PathSyntax.normalizedAbsolute(p)
            let state = SourceSnapshotter.realPath(engine.stateDirectory.path) ?? engine.stateDirectory.path
            func inside(_ path: String, _ root: String) -> Bool {
                let a = PathSyntax.components(path), r = PathSyntax.components(root)
                return a.count >= r.count && Array(a.prefix(r.count)) == r
            }
            if inside(real, state), !inside(real, state + "/layouts/" + namespace), !inside(real, state + "/layouts/.registry/" + namespace) {
                throw RuntimeError.buildFailed("\(what) is inside Slipway's state directory, outside namespace \(namespace)'s own image layouts; name the image by its name instead")
            }
            return .reference(ref)
        }
    }

    /// A Dockerfile FROM image, in the content store, as `dockerfileBase` resolves its name:
    /// a registry reference is pulled with the namespace's credentials (blobs already here
    /// are not fetched again).
    static func importBaseImage(_ engine: Engine, _ name: String, namespace: String) async throws -> OCIImage {
        let images = engine.images
        let settings = ImageStore.FolderImageSettings(stackID: "io.slipway.dockerfile")
        switch try await dockerfileBase(engine, name, namespace: namespace) {
        case .namespaceImage(.layout(let path, let digest)):
            return try await BlockingWork.run { try images.importLayoutImage(at: path, digest: digest) }
        case .namespaceImage(.pushed(let ref)), .reference(let ref):
            if case .registry(let host, _, _, _) = ref {
                let client = try await RegistryService.registryClient(engine, host: host, namespace: namespace)
                return try await images.importImage(ref, folderSettings: settings) { _ in client }
            }
            return try await BlockingWork.run { try images.importLocalImage(ref, folderSettings: settings) }
        }
    }

    static func createClusterStore(_ engine: isolated Engine, name: String, buildpacks: [String]) async throws -> ClusterStore {
        try Validation.name(name, field: "name", kind: "ClusterStore")
        if try engine.store.object(ClusterStore.self, kind: .clusterStore, name: name) != nil { throw EngineError.alreadyExists("ClusterStore", name) }
        let loaded = try await loadBuildpacks(engine, buildpacks)
        let s = ClusterStore(name: name, buildpacks: Self.merge([], loaded))
        try engine.change { tx, events in
            guard try engine.store.insert(s, kind: .clusterStore, name: name, in: tx) else { throw EngineError.alreadyExists("ClusterStore", name) }
            events.add(.Normal, "Created", "ClusterStore \(name) created with \(s.buildpacks.count) buildpack(s)", object: .init(kind: "ClusterStore", namespace: nil, name: name))
        }
        return s
    }

    static func addToClusterStore(_ engine: isolated Engine, name: String, buildpacks: [String], session: EngineSession?) async throws -> ClusterStore {
        _ = try clusterStore(engine, name)
        let loaded = try await loadBuildpacks(engine, buildpacks)
        var s = try clusterStore(engine, name)
        s.buildpacks = Self.merge(s.buildpacks, loaded)
        try engine.store.put(s, kind: .clusterStore, name: name)
        await BuilderService.republish(engine) { $0.store == name }
        try ImageService.reconcileImages(engine, session: session) { $0.store == name }
        return s
    }

    /// Removes buildpacks named `id` or `id@version`.
    static func removeFromClusterStore(_ engine: isolated Engine, name: String, buildpacks: [String], session: EngineSession?) async throws -> ClusterStore {
        var s = try clusterStore(engine, name)
        for (i, ref) in buildpacks.enumerated() {
            let parts = ref.split(separator: "@", maxSplits: 1).map(String.init)
            let before = s.buildpacks.count
            s.buildpacks.removeAll { $0.id == parts[0] && (parts.count == 1 || $0.version == parts[1]) }
            if s.buildpacks.count == before {
                throw EngineError(.notFound, "buildpack '\(ref)' is not in ClusterStore \(name); see clusterstore/status for its buildpacks", field: "buildpacks[\(i)]")
            }
        }
        try engine.store.put(s, kind: .clusterStore, name: name)
        await BuilderService.republish(engine) { $0.store == name }
        try ImageService.reconcileImages(engine, session: session) { $0.store == name }
        return s
    }

    static func clusterStore(_ engine: isolated Engine, _ name: String) throws -> ClusterStore {
        guard let s = try engine.store.object(ClusterStore.self, kind: .clusterStore, name: name) else {
            throw EngineError.notFound("ClusterStore", name, hint: "list stores with clusterstore/list, or create it with clusterstore/create")
        }
        return s
    }

    /// For each `id@version` in the store, the builders (`Kind/namespace/name`) that use it.
    static func buildersUsing(_ engine: isolated Engine, store name: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let all = try BuilderService.allBuilders(engine)
        for b in all where b.store == name {
            let label = [b.kind.rawValue, b.namespace, b.name].compactMap { $0 }.joined(separator: "/")
            for bp in try BuilderService.resolveStatus(engine, of: b).status.buildpacks { out["\(bp.id)@\(bp.version)", default: []].append(label) }
        }
        return out
    }

    static func clusterStores(_ engine: isolated Engine) throws -> [ClusterStore] { try engine.store.objects(ClusterStore.self, kind: .clusterStore) }

    static func deleteClusterStore(_ engine: isolated Engine, _ name: String) throws {
        _ = try clusterStore(engine, name)
        try engine.store.delete(kind: .clusterStore, name: name)
    }

    static func merge(_ existing: [StoredBuildpack], _ added: [StoredBuildpack]) -> [StoredBuildpack] {
        var out = existing
        for b in added {
            out.removeAll { $0.id == b.id && $0.version == b.version }
            out.append(b)
        }
        return out.sorted { ($0.id, $0.version) < ($1.id, $1.version) }
    }

    /// Loads buildpack folders and archives, and the buildpacks inside buildpackages (OCI images
    /// given as `oci:DIR[:TAG]`, a `.cnb` file or a registry reference), by content digest.
    static func loadBuildpacks(_ engine: Engine, _ paths: [String]) async throws -> [StoredBuildpack] {
        guard !paths.isEmpty else { throw EngineError.invalid("'buildpacks' is empty; give at least one buildpack folder or .tgz", field: "buildpacks") }
        let loader = BuildpackLoader(content: engine.images.content, root: engine.stateDirectory.appendingPathComponent("buildpacks").path)
        var out: [StoredBuildpack] = []
        for (i, path) in paths.enumerated() {
            let field = "buildpacks[\(i)]"
            // A folder, an archive, a .cnb file or an oci: layout is a host path the client names.
            if path.hasPrefix("/") { try SourceService.checkAllowed(engine, path, field: field) }
            if path.hasPrefix("oci:"), case .layout(let p, _) = try engine.mapped({ try ImageReference.parse(path, field: field) }) { try SourceService.checkAllowed(engine, p, field: field) }
            do {
                let loaded: [LoadedBuildpack]
                if let package = try await buildpackageImage(engine, path, field: field) {
                    loaded = try await BlockingWork.run { try loader.loadPackage(package, source: path, field: field) }
                } else {
                    loaded = [try await BlockingWork.run { try loader.load(path, field: field) }]
                }
                out += loaded.map { StoredBuildpack($0, source: path) }
            } catch let e as RuntimeError {
                let reason: EngineError.Reason = e.kind == .invalidInput ? .invalidParams : e.kind == .notFound ? .notFound : e.kind == .unavailable ? .unavailable : .internal
                throw EngineError(reason, e.message, field: field)
            } catch let e as ConfinedPathError {
                throw EngineError(.invalidParams, "\(PathSyntax.shortened(path)) cannot be used: \(e)", field: field)
            }
        }
        return out
    }

    /// The buildpackage image `path` names, imported into the content store, or nil when `path`
    /// is a buildpack folder or archive.
    static func buildpackageImage(_ engine: Engine, _ path: String, field: String) async throws -> OCIImage? {
        let settings = ImageStore.FolderImageSettings(stackID: "")
        let images = engine.images
        if path.hasSuffix(".cnb") {
            // A .cnb file is an OCI image layout in a tar.
            let dir = engine.path("work", "cnb-" + UUID().uuidString)
            defer { try? ConfinedDirectory.removeTree(atPath: dir) }  // best effort: work/ is emptied at start-up
            return try await BlockingWork.run {
                try ArchiveExtractor(policy: .source).extract(archiveAt: path, into: dir, name: PathSyntax.lastComponent(path))
                return try images.importLocalImage(.layout(path: dir, tag: ""), folderSettings: settings, onlyImage: true)
            }
        }
        // Registry references must name their registry (host with '.' or ':', or localhost).
        let first = path.split(separator: "/").first.map(String.init) ?? ""
        let isRegistry = !path.hasPrefix("/") && path.contains("/") && (first.contains(".") || first.contains(":") || first == "localhost")
        guard path.hasPrefix("oci:") || isRegistry else { return nil }
        let ref = try ImageReference.parse(path, field: field)
        if case .registry(let host, _, _, _) = ref {
            let client = try await RegistryService.registryClient(engine, host: host, namespace: "default")
            return try await images.importImage(ref, folderSettings: settings) { _ in client }
        }
        return try await BlockingWork.run { try images.importLocalImage(ref, folderSettings: settings) }
    }
}

/// Where a name a Dockerfile gives (FROM, COPY --from, RUN --mount from=) leads, in the
/// namespace of the build: an image of that namespace by its name (its latest built image),
/// a registry reference, or — only inside an `--allow-source` folder, and never in the state
/// directory but for the namespace's own layouts — a host layout or folder.
enum DockerfileBase: Sendable, Equatable {
    /// An image of the namespace, by name: its latest build, in the layout Slipway wrote
    /// it to, or as it was pushed (a reference with its digest).
    case namespaceImage(NamespaceBuild)
    case reference(ImageReference)
}

/// Where an image's latest build is: a layout and the manifest's digest, or a pushed
/// reference with its digest.
enum NamespaceBuild: Sendable, Equatable {
    case layout(path: String, digest: Digest)
    case pushed(ImageReference)
}
