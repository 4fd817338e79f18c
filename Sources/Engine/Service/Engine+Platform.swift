import SlipwayProtocol
import BuildRuntime
import Foundation



// MARK: - Stacks

extension Engine {
    public func createClusterStack(_ spec: StackSpec) async throws -> ClusterStack {
        try Validation.name(spec.name, field: "name", kind: "ClusterStack")
        guard let build = spec.buildImage else { throw EngineError.invalid("Missing required param 'buildImage'", field: "buildImage") }
        guard let run = spec.runImage else { throw EngineError.invalid("Missing required param 'runImage'", field: "runImage") }
        if try store.object(ClusterStack.self, kind: .clusterStack, name: spec.name) != nil {
            throw EngineError.alreadyExists("ClusterStack", spec.name)
        }
        let stack = try await resolveStack(name: spec.name, buildImage: build, runImage: run, id: spec.id)
        try change { tx, events in
            guard try store.insert(stack, kind: .clusterStack, name: stack.name, in: tx) else { throw EngineError.alreadyExists("ClusterStack", spec.name) }
            events.add(.Normal, "Created", "ClusterStack \(stack.name) created with stack id \(stack.id)", object: .init(kind: "ClusterStack", namespace: nil, name: stack.name))
        }
        return stack
    }

    public func patchClusterStack(_ spec: StackSpec, session: EngineSession? = nil) async throws -> ClusterStack {
        let old = try clusterStack(spec.name)
        let stack = try await resolveStack(name: spec.name, buildImage: spec.buildImage ?? old.buildImage, runImage: spec.runImage ?? old.runImage,
                                           id: spec.id ?? old.id)
        try store.put(stack, kind: .clusterStack, name: stack.name)
        try reconcileImages(session: session) { $0.stack == stack.name }
        return stack
    }

    /// Resolves the stack's image references again (a tag may point at a new digest) and
    /// rebuilds or rebases the images on it if anything changed.
    public func refreshClusterStack(_ name: String, session: EngineSession? = nil) async throws -> ClusterStack {
        try await patchClusterStack(StackSpec(name: name), session: session)
    }

    public func clusterStack(_ name: String) throws -> ClusterStack {
        guard let s = try store.object(ClusterStack.self, kind: .clusterStack, name: name) else {
            throw EngineError.notFound("ClusterStack", name, hint: "list stacks with clusterstack/list, or create it with clusterstack/create")
        }
        return s
    }

    public func clusterStacks() throws -> [ClusterStack] { try store.objects(ClusterStack.self, kind: .clusterStack) }

    public func deleteClusterStack(_ name: String) throws {
        _ = try clusterStack(name)
        try store.delete(kind: .clusterStack, name: name)
    }

    /// Imports both images (off the actor) and describes the stack.
    nonisolated func resolveStack(name: String, buildImage: String, runImage: String, id: String?) async throws -> ClusterStack {
        let buildRef = try mapped { try ImageReference.parse(buildImage, field: "buildImage") }
        let runRef = try mapped { try ImageReference.parse(runImage, field: "runImage") }
        for (field, ref) in [("buildImage", buildRef), ("runImage", runRef)] {
            switch ref {
            case .rootfs(let p), .layout(let p, _): try checkAllowed(p, field: field)
            case .registry: break
            }
        }
        let images = self.images
        let settings = ImageStore.FolderImageSettings(stackID: id ?? "io.slipway.stacks.\(name)")
        // Cluster-scoped stacks use the registry credentials of the "default" namespace.
        var clients: [String: RegistryClient] = [:]
        for (field, ref) in [("buildImage", buildRef), ("runImage", runRef)] {
            if case .registry(let host, _, _, _) = ref { clients[field] = try await registryClient(host: host, namespace: "default") }
        }
        func importing(_ ref: ImageReference, _ field: String) async throws -> OCIImage {
            do {
                if case .registry = ref { return try await images.importImage(ref, folderSettings: settings) { _ in clients[field]! } }
                return try await BlockingWork.run {
                    do { return try images.importLocalImage(ref, folderSettings: settings) } catch let e as RuntimeError { throw EngineError(e) }
                }
            } catch let e as RuntimeError {
                let mapped = EngineError(e)
                throw EngineError(mapped.reason, mapped.message, field: field)
            }
        }
        let b = try await importing(buildRef, "buildImage")
        let r = try await importing(runRef, "runImage")
        guard let stackID = id ?? b.config.config.Labels?["io.buildpacks.stack.id"] else {
            throw EngineError.invalid("the build image has no io.buildpacks.stack.id label; give the stack 'id'", field: "id")
        }
        let runStackID = r.config.config.Labels?["io.buildpacks.stack.id"]
        if let runStackID, runStackID != stackID, id == nil {
            throw EngineError.invalid("the build image's stack id '\(stackID)' differs from the run image's '\(runStackID)'", field: "runImage")
        }
        return ClusterStack(
            name: name, id: stackID, buildImage: buildImage, runImage: runImage,
            status: .init(ready: true, buildImageDigest: b.manifestDigest, runImageDigest: r.manifestDigest,
                          resolvedBuildImage: buildRef.repositoryName + "@" + b.manifestDigest.string,
                          resolvedRunImage: runRef.repositoryName + "@" + r.manifestDigest.string, message: nil,
                          os: b.config.os, architecture: b.config.architecture))
    }
}

// MARK: - Dockerfile base images

extension Engine {
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

    /// Resolves a Dockerfile's image name under the rules of `DockerfileBase`; a refusal is a
    /// build failure that says what the Dockerfile may name instead.
    func dockerfileBase(_ name: String, namespace: String) throws -> DockerfileBase {
        let what = "FROM \(PathSyntax.shortened(name))"
        // An image of the namespace, by name, wins over Docker Hub's image of the same name, as
        // a local image does in Docker.
        if (try? Validation.name(name, field: "FROM", kind: "image")) != nil,  // not a valid image name: not one of the namespace's images
            let image = try imageIfExists(namespace, name), image.isConfiguration {
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
            guard options.allowedSourceRoots != nil else {
                throw RuntimeError.buildFailed(
                    "\(what): a Dockerfile names no host path unless the engine is started with --allow-source DIR (and the path is inside DIR); "
                        + "name a registry image, an earlier stage, or an image of this namespace instead")
            }
            do { try checkAllowed(p, field: "FROM") } catch let e as EngineError { throw RuntimeError.buildFailed("\(what): \(e.message)") }
            // Slipway's own folders: only the namespace's layouts, never another namespace's
            // images, caches or sources.
            let real = SourceSnapshotter.realPath(p) ?? PathSyntax.normalizedAbsolute(p)
            let state = SourceSnapshotter.realPath(stateDirectory.path) ?? stateDirectory.path
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
    nonisolated func importBaseImage(_ name: String, namespace: String) async throws -> OCIImage {
        let images = self.images
        let settings = ImageStore.FolderImageSettings(stackID: "io.slipway.dockerfile")
        switch try await dockerfileBase(name, namespace: namespace) {
        case .namespaceImage(.layout(let path, let digest)):
            return try await BlockingWork.run { try images.importLayoutImage(at: path, digest: digest) }
        case .namespaceImage(.pushed(let ref)), .reference(let ref):
            if case .registry(let host, _, _, _) = ref {
                let client = try await registryClient(host: host, namespace: namespace)
                return try await images.importImage(ref, folderSettings: settings) { _ in client }
            }
            return try await BlockingWork.run { try images.importLocalImage(ref, folderSettings: settings) }
        }
    }
}

// MARK: - Stores

extension Engine {
    public func createClusterStore(name: String, buildpacks: [String]) async throws -> ClusterStore {
        try Validation.name(name, field: "name", kind: "ClusterStore")
        if try store.object(ClusterStore.self, kind: .clusterStore, name: name) != nil { throw EngineError.alreadyExists("ClusterStore", name) }
        let loaded = try await loadBuildpacks(buildpacks)
        let s = ClusterStore(name: name, buildpacks: Self.merge([], loaded))
        try change { tx, events in
            guard try store.insert(s, kind: .clusterStore, name: name, in: tx) else { throw EngineError.alreadyExists("ClusterStore", name) }
            events.add(.Normal, "Created", "ClusterStore \(name) created with \(s.buildpacks.count) buildpack(s)", object: .init(kind: "ClusterStore", namespace: nil, name: name))
        }
        return s
    }

    public func addToClusterStore(name: String, buildpacks: [String], session: EngineSession? = nil) async throws -> ClusterStore {
        _ = try clusterStore(name)
        let loaded = try await loadBuildpacks(buildpacks)
        var s = try clusterStore(name)
        s.buildpacks = Self.merge(s.buildpacks, loaded)
        try store.put(s, kind: .clusterStore, name: name)
        try reconcileImages(session: session) { $0.store == name }
        return s
    }

    /// Removes buildpacks named `id` or `id@version`.
    public func removeFromClusterStore(name: String, buildpacks: [String], session: EngineSession? = nil) throws -> ClusterStore {
        var s = try clusterStore(name)
        for (i, ref) in buildpacks.enumerated() {
            let parts = ref.split(separator: "@", maxSplits: 1).map(String.init)
            let before = s.buildpacks.count
            s.buildpacks.removeAll { $0.id == parts[0] && (parts.count == 1 || $0.version == parts[1]) }
            if s.buildpacks.count == before {
                throw EngineError(.notFound, "buildpack '\(ref)' is not in ClusterStore \(name); see clusterstore/status for its buildpacks", field: "buildpacks[\(i)]")
            }
        }
        try store.put(s, kind: .clusterStore, name: name)
        try reconcileImages(session: session) { $0.store == name }
        return s
    }

    public func clusterStore(_ name: String) throws -> ClusterStore {
        guard let s = try store.object(ClusterStore.self, kind: .clusterStore, name: name) else {
            throw EngineError.notFound("ClusterStore", name, hint: "list stores with clusterstore/list, or create it with clusterstore/create")
        }
        return s
    }

    /// For each `id@version` in the store, the builders (`Kind/namespace/name`) that use it.
    public func buildersUsing(store name: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        let all = try store.objects(Builder.self, kind: .clusterBuilder) + store.objects(Builder.self, kind: .builder)
        for b in all where b.store == name {
            let label = [b.kind.rawValue, b.namespace, b.name].compactMap { $0 }.joined(separator: "/")
            for bp in try resolveStatus(of: b).status.buildpacks { out["\(bp.id)@\(bp.version)", default: []].append(label) }
        }
        return out
    }

    public func clusterStores() throws -> [ClusterStore] { try store.objects(ClusterStore.self, kind: .clusterStore) }

    public func deleteClusterStore(_ name: String) throws {
        _ = try clusterStore(name)
        try store.delete(kind: .clusterStore, name: name)
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
    nonisolated func loadBuildpacks(_ paths: [String]) async throws -> [StoredBuildpack] {
        guard !paths.isEmpty else { throw EngineError.invalid("'buildpacks' is empty; give at least one buildpack folder or .tgz", field: "buildpacks") }
        let loader = BuildpackLoader(content: images.content, root: stateDirectory.appendingPathComponent("buildpacks").path)
        var out: [StoredBuildpack] = []
        for (i, path) in paths.enumerated() {
            let field = "buildpacks[\(i)]"
            // A folder, an archive, a .cnb file or an oci: layout is a host path the client names.
            if path.hasPrefix("/") { try checkAllowed(path, field: field) }
            if path.hasPrefix("oci:"), case .layout(let p, _) = try mapped({ try ImageReference.parse(path, field: field) }) { try checkAllowed(p, field: field) }
            do {
                let loaded: [LoadedBuildpack]
                if let package = try await buildpackageImage(path, field: field) {
                    loaded = try await BlockingWork.run { try loader.loadPackage(package, source: path, field: field) }
                } else {
                    loaded = [try await BlockingWork.run { try loader.load(path, field: field) }]
                }
                out += loaded.map { l in
                    let d = l.descriptor
                    return StoredBuildpack(id: d.id, version: d.version, api: d.api, homepage: d.homepage, name: d.name, digest: l.digest,
                                           source: path, descriptor: d)
                }
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
    nonisolated func buildpackageImage(_ path: String, field: String) async throws -> OCIImage? {
        let settings = ImageStore.FolderImageSettings(stackID: "")
        let images = self.images
        if path.hasSuffix(".cnb") {
            // A .cnb file is an OCI image layout in a tar.
            let dir = self.path("work", "cnb-" + UUID().uuidString)
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
            let client = try await registryClient(host: host, namespace: "default")
            return try await images.importImage(ref, folderSettings: settings) { _ in client }
        }
        return try await BlockingWork.run { try images.importLocalImage(ref, folderSettings: settings) }
    }
}

// MARK: - Builders

extension Engine {
    func builderKind(_ namespace: String?) -> (StateStore.Kind, String, String) {
        namespace == nil ? (.clusterBuilder, "", "ClusterBuilder") : (.builder, namespace!, "Builder")
    }

    public func createBuilder(_ spec: BuilderSpec) throws -> Builder {
        let (kind, ns, kindName) = builderKind(spec.namespace)
        if let n = spec.namespace { try Validation.namespace(n) }
        try Validation.name(spec.name, field: "name", kind: kindName)
        guard let stack = spec.stack else { throw EngineError.invalid("Missing required param 'stack'", field: "stack") }
        guard let storeName = spec.store else { throw EngineError.invalid("Missing required param 'store'", field: "store") }
        guard let order = spec.order else { throw EngineError.invalid("Missing required param 'order'", field: "order") }
        try Self.validate(order: order)
        var b = Builder(kind: spec.namespace == nil ? .ClusterBuilder : .Builder, namespace: spec.namespace, name: spec.name, stack: stack,
                        store: storeName, order: order, status: .init(ready: false, buildpacks: [], order: []))
        b.status = try resolveStatus(of: b).status
        try change { tx, events in
            guard try store.insert(b, kind: kind, namespace: ns, name: spec.name, in: tx) else { throw EngineError.alreadyExists(kindName, spec.name, namespace: spec.namespace) }
            events.add(b.status.ready ? .Normal : .Warning, "Created", "\(kindName) \(spec.name) created; " + (b.status.ready ? "ready" : "not ready: \(b.status.message ?? "")"),
                       object: .init(kind: kindName, namespace: spec.namespace, name: spec.name))
        }
        return b
    }

    public func patchBuilder(_ spec: BuilderSpec, session: EngineSession? = nil) throws -> Builder {
        let (kind, ns, _) = builderKind(spec.namespace)
        var b = try builder(name: spec.name, namespace: spec.namespace)
        if let s = spec.stack { b.stack = s }
        if let s = spec.store { b.store = s }
        if let o = spec.order {
            try Self.validate(order: o)
            b.order = o
        }
        b.status = try resolveStatus(of: b).status
        try store.put(b, kind: kind, namespace: ns, name: spec.name)
        try reconcileImages(session: session) { $0.kind == b.kind && $0.namespace == b.namespace && $0.name == b.name }
        return b
    }

    static func validate(order: [OrderGroup]) throws {
        guard !order.isEmpty else { throw EngineError.invalid("'order' is empty; give at least one group of buildpacks", field: "order") }
        for (g, group) in order.enumerated() {
            guard !group.group.isEmpty else { throw EngineError.invalid("order group \(g) is empty", field: "order[\(g)].group") }
            for (i, e) in group.group.enumerated() where e.id.isEmpty {
                throw EngineError.invalid("order group \(g) entry \(i) has an empty id", field: "order[\(g)].group[\(i)].id")
            }
        }
    }

    /// A builder with its status worked out from its stack and store as they are now.
    public func builder(name: String, namespace: String?) throws -> Builder {
        let (kind, ns, kindName) = builderKind(namespace)
        guard var b = try store.object(Builder.self, kind: kind, namespace: ns, name: name) else {
            throw EngineError.notFound(kindName, name, namespace: namespace,
                                       hint: "list builders with \(kindName.lowercased())/list, or create it with \(kindName.lowercased())/create")
        }
        b.status = try resolveStatus(of: b).status
        return b
    }

    public func builders(namespace: String?) throws -> [Builder] {
        let (kind, ns, _) = builderKind(namespace)
        return try store.objects(Builder.self, kind: kind, namespace: ns).map { b in
            var b = b
            b.status = try resolveStatus(of: b).status
            return b
        }
    }

    public func deleteBuilder(name: String, namespace: String?) throws {
        let (kind, ns, _) = builderKind(namespace)
        _ = try builder(name: name, namespace: namespace)
        try store.delete(kind: kind, namespace: ns, name: name)
    }

    /// What a build needs from a builder, or why it cannot be used.
    struct ResolvedBuilder {
        var status: Builder.Status
        var stack: ClusterStack?
        var order: [[BuildpackRef]]
    }

    /// A missing stack or store makes the builder not ready (its message says which); a stored
    /// one that cannot be read is an error.
    func resolveStatus(of b: Builder) throws -> ResolvedBuilder {
        var status = Builder.Status(ready: false, buildpacks: [], order: [])
        guard let stack = try store.object(ClusterStack.self, kind: .clusterStack, name: b.stack) else {
            status.message = "ClusterStack '\(b.stack)' not found"
            return ResolvedBuilder(status: status, stack: nil, order: [])
        }
        status.stackID = stack.id
        status.runImage = stack.status.resolvedRunImage
        status.buildImage = stack.status.resolvedBuildImage
        guard let st = try store.object(ClusterStore.self, kind: .clusterStore, name: b.store) else {
            status.message = "ClusterStore '\(b.store)' not found"
            return ResolvedBuilder(status: status, stack: stack, order: [])
        }
        var order: [[BuildpackRef]] = []
        var missing: [String] = []
        // Composite buildpacks expand into one group per group of theirs.
        func expand(_ entries: [(id: String, version: String?, optional: Bool)], depth: Int) -> [[(StoredBuildpack, Bool)]] {
            var groups: [[(StoredBuildpack, Bool)]] = [[]]
            for e in entries {
                let candidates = st.buildpacks.filter { $0.id == e.id && (e.version == nil || $0.version == e.version) }
                guard let bp = candidates.max(by: { Self.versionLess($0.version, $1.version) }) else {
                    missing.append(e.id + (e.version.map { "@" + $0 } ?? ""))
                    continue
                }
                var alternatives: [[(StoredBuildpack, Bool)]] = [[(bp, e.optional)]]
                if let composite = bp.descriptor.order, depth < 8 {
                    alternatives = composite.flatMap { g in
                        expand(g.map { ($0.id, $0.version, $0.optional || e.optional) }, depth: depth + 1)
                    }
                }
                groups = groups.flatMap { prefix in alternatives.map { prefix + $0 } }
            }
            return groups
        }
        for group in b.order {
            for expanded in expand(group.group.map { ($0.id, $0.version, $0.optional ?? false) }, depth: 0) {
                order.append(expanded.map { bp, optional in
                    BuildpackRef(descriptor: bp.descriptor, directory: path("buildpacks", bp.digest.hex), optional: optional)
                })
                status.order.append(OrderGroup(group: expanded.map { OrderEntry(id: $0.0.id, version: $0.0.version, optional: $0.1 ? true : nil) }))
                for (bp, _) in expanded {
                    let info = BuildpackInfo(id: bp.id, version: bp.version, homepage: bp.homepage)
                    if !status.buildpacks.contains(info) { status.buildpacks.append(info) }
                }
            }
        }
        if !missing.isEmpty {
            status.message = "buildpack(s) \(missing.joined(separator: ", ")) not found in ClusterStore '\(b.store)'; add them with clusterstore/add"
            return ResolvedBuilder(status: status, stack: stack, order: [])
        }
        // A buildpack that lists stacks must list this one (or "*").
        let os = stack.status.os ?? "linux", arch = stack.status.architecture ?? OCIImageConfig.hostArchitecture
        let incompatible = order.joined().filter {
            (!$0.descriptor.stacks.isEmpty && !$0.descriptor.stacks.contains(stack.id) && !$0.descriptor.stacks.contains("*"))
                || !$0.descriptor.supports(os: os, arch: arch)
        }
        if !incompatible.isEmpty {
            status.message = "buildpack(s) \(incompatible.map { "\($0.descriptor.id)@\($0.descriptor.version)" }.joined(separator: ", ")) do not support stack '\(stack.id)' (\(os)/\(arch))"
            return ResolvedBuilder(status: status, stack: stack, order: [])
        }
        status.ready = true
        return ResolvedBuilder(status: status, stack: stack, order: order)
    }

    /// Compares versions numerically part by part (`1.10.0` > `1.9.2`).
    static func versionLess(_ a: String, _ b: String) -> Bool {
        let pa = a.split(whereSeparator: { $0 == "." || $0 == "-" }), pb = b.split(whereSeparator: { $0 == "." || $0 == "-" })
        for (x, y) in zip(pa, pb) where x != y {
            if let ix = Int(x), let iy = Int(y) { return ix < iy }
            return x < y
        }
        return pa.count < pb.count
    }
}
