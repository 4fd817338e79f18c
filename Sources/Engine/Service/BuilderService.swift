import SlipwayProtocol
import BuildRuntime
import Foundation

/// Builders: their order, their status worked out from their stack and store (`resolveStatus`), and
/// what a build of an image would be made from (`inputs`).
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum BuilderService {
    /// Compares versions numerically part by part (`1.10.0` > `1.9.2`).
    static func versionLess(_ a: String, _ b: String) -> Bool {
        let pa = a.split(whereSeparator: { $0 == "." || $0 == "-" }), pb = b.split(whereSeparator: { $0 == "." || $0 == "-" })
        for (x, y) in zip(pa, pb) where x != y {
            if let ix = Int(x), let iy = Int(y) { return ix < iy }
            return x < y
        }
        return pa.count < pb.count
    }

    /// What a build of `image` would be made from. A builder that does not exist gives no
    /// buildpacks (the build fails on it, saying so); one that cannot be read is an error, so
    /// BUILDER and STACK reasons are never worked out from inputs that only look empty.
    static func inputs(_ engine: isolated Engine, for image: Image) throws -> BuildInputs {
        var buildpacks: [String: String] = [:]
        var runDigest: String?
        var builderImage: String?
        if let b = try builderIfExists(engine, image.builder, namespace: image.namespace) {
            builderImage = b.imported?.stack.status.resolvedBuildImage
            let r = try resolveStatus(engine, of: b)
            for bp in r.status.buildpacks { buildpacks[bp.id] = bp.version }
            runDigest = r.stack?.status.runImageDigest.string
        }
        let s = image.source
        var dockerfile = image.strategy == .dockerfile ? image.dockerfile?.withDefaults : nil
        dockerfile?.bases = image.status.dockerfileBases
        return BuildInputs(
            builder: image.builder, sourceType: s.kind, sourceURL: s.git?.url ?? s.blob?.url ?? "",
            sourceRevision: s.resolved?.commit ?? s.resolved?.archiveDigest ?? s.resolved?.snapshot.digest ?? "", sourceRef: s.resolved?.ref,
            subPath: s.subPath,
            env: image.env, buildpacks: image.strategy == .dockerfile ? [:] : buildpacks, runImageDigest: image.strategy == .dockerfile ? nil : runDigest,
            dockerfile: dockerfile, network: image.network, builderImage: image.strategy == .dockerfile ? nil : builderImage)
    }

    static func builderRecord(_ engine: isolated Engine, _ ref: BuilderReference, namespace: String) throws -> Builder {
        try builder(engine, name: ref.name, namespace: ref.kind == .Builder ? namespace : nil)
    }

    /// The image's builder, or nil when there is none of that name (other errors are thrown).
    static func builderIfExists(_ engine: isolated Engine, _ ref: BuilderReference, namespace: String) throws -> Builder? {
        do {
            return try builderRecord(engine, ref, namespace: namespace)
        } catch let e as EngineError where e.reason == .notFound {
            return nil
        }
    }

    static func requireBuilder(_ engine: isolated Engine, _ ref: BuilderReference, namespace: String) throws {
        do {
            _ = try builderRecord(engine, ref, namespace: namespace)
        } catch let e as EngineError where e.reason == .notFound {
            throw EngineError(.notFound, e.message, field: "builder", details: e.details)
        }
    }

    static func builderKind(_ engine: isolated Engine, _ namespace: String?) -> (StateStore.Kind, String, String) {
        namespace == nil ? (.clusterBuilder, "", "ClusterBuilder") : (.builder, namespace!, "Builder")
    }

    static func createBuilder(_ engine: isolated Engine, _ spec: BuilderSpec) async throws -> Builder {
        let (kind, ns, kindName) = builderKind(engine, spec.namespace)
        if let n = spec.namespace { try Validation.namespace(n) }
        try Validation.name(spec.name, field: "name", kind: kindName)
        var b = Builder(kind: spec.namespace == nil ? .ClusterBuilder : .Builder, namespace: spec.namespace, name: spec.name, stack: spec.stack,
                        store: spec.store, order: spec.order ?? [], image: spec.image, tag: spec.tag, status: .init(ready: false, buildpacks: [], order: []))
        if let tag = spec.tag { _ = try BuilderPublication.destination(engine, tag) }  // a bad tag is refused before any import
        if let image = spec.image {
            guard spec.stack == nil, spec.store == nil, spec.order == nil else {
                throw EngineError.invalid("give either 'image' (a builder image brings its stack, buildpacks and order) or 'stack', 'store' and 'order', not both", field: "image")
            }
            // Before the import, which may take long: a taken name is refused at once.
            if try engine.store.object(Builder.self, kind: kind, namespace: ns, name: spec.name) != nil {
                throw EngineError.alreadyExists(kindName, spec.name, namespace: spec.namespace)
            }
            let r = try await BuilderImageImport.importBuilder(engine, image: image, name: spec.name, namespace: spec.namespace)
            (b.imported, b.order) = (r.imported, r.order)
        } else {
            guard spec.stack != nil else { throw EngineError.invalid("Missing required param 'stack' (or give 'image', a builder image)", field: "stack") }
            guard spec.store != nil else { throw EngineError.invalid("Missing required param 'store'", field: "store") }
            guard let order = spec.order else { throw EngineError.invalid("Missing required param 'order'", field: "order") }
            try Self.validate(order: order)
        }
        try await resolveAndPublish(engine, &b)
        try engine.change { tx, events in
            guard try engine.store.insert(b, kind: kind, namespace: ns, name: spec.name, in: tx) else { throw EngineError.alreadyExists(kindName, spec.name, namespace: spec.namespace) }
            events.add(b.status.ready ? .Normal : .Warning, "Created", "\(kindName) \(spec.name) created; " + (b.status.ready ? "ready" : "not ready: \(b.status.message ?? "")"),
                       object: .init(kind: kindName, namespace: spec.namespace, name: spec.name))
        }
        return b
    }

    static func patchBuilder(_ engine: isolated Engine, _ spec: BuilderSpec, session: EngineSession?) async throws -> Builder {
        let (kind, ns, _) = builderKind(engine, spec.namespace)
        var b = try builder(engine, name: spec.name, namespace: spec.namespace)
        if b.image != nil || spec.image != nil {
            // A builder of an image takes all from it: a patch names the image again (to import
            // what its tag names now) or another one.
            guard spec.stack == nil, spec.store == nil, spec.order == nil else {
                throw EngineError.invalid("\(spec.name) is made from a builder image: patch its 'image' (its stack, buildpacks and order come from it), or recreate it with a stack, a store and an order", field: "image")
            }
            let image = spec.image ?? b.image!
            let r = try await BuilderImageImport.importBuilder(engine, image: image, name: spec.name, namespace: spec.namespace)
            b = try builder(engine, name: spec.name, namespace: spec.namespace)  // read again after the import's suspension
            (b.image, b.imported, b.order) = (image, r.imported, r.order)
        }
        if let s = spec.stack { b.stack = s }
        if let s = spec.store { b.store = s }
        if let o = spec.order {
            try Self.validate(order: o)
            b.order = o
        }
        if let t = spec.tag {
            _ = try BuilderPublication.destination(engine, t)
            b.tag = t
        }
        try await resolveAndPublish(engine, &b)
        try engine.store.put(b, kind: kind, namespace: ns, name: spec.name)
        try ImageService.reconcileImages(engine, session: session) { $0.kind == b.kind && $0.namespace == b.namespace && $0.name == b.name }
        return b
    }

    /// Works out the builder's status and, when it has a tag and is ready, publishes it there
    /// (the status's `latestImage` is then `TAG@sha256:…`).
    static func resolveAndPublish(_ engine: isolated Engine, _ b: inout Builder) async throws {
        let resolved = try resolveStatus(engine, of: b)
        b.status = resolved.status
        if b.tag != nil, resolved.status.ready {
            b.status.latestImage = try await BuilderPublication.publish(engine, b, resolved: resolved)
        }
    }

    /// Every ClusterBuilder and every namespace's Builders, as stored.
    static func allBuilders(_ engine: isolated Engine) throws -> [Builder] {
        try engine.store.objects(Builder.self, kind: .clusterBuilder) + engine.store.objects(Builder.self, kind: .builder)
    }

    /// Publishes again every builder with a tag that `matches` (those whose stack or store just
    /// changed), as kpack makes a builder's image again when its stack or store changes. The
    /// change is saved already: a builder that cannot be published keeps its last image, and
    /// why is said on stderr.
    static func republish(_ engine: isolated Engine, where matches: (Builder) -> Bool) async {
        let builders: [Builder]
        do {
            builders = try BuilderService.allBuilders(engine)
        } catch {
            engine.report("the builders to publish again cannot be read: \(error); patch them to publish them")
            return
        }
        for var b in builders where b.tag != nil && matches(b) {
            do {
                try await resolveAndPublish(engine, &b)
                let (kind, ns, _) = builderKind(engine, b.namespace)
                try engine.store.put(b, kind: kind, namespace: ns, name: b.name)
            } catch {
                engine.report("\(b.kind.rawValue) \(b.name) cannot be published again to \(b.tag ?? ""): \(error); it keeps its last image")
            }
        }
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
    static func builder(_ engine: isolated Engine, name: String, namespace: String?) throws -> Builder {
        let (kind, ns, kindName) = builderKind(engine, namespace)
        guard var b = try engine.store.object(Builder.self, kind: kind, namespace: ns, name: name) else {
            throw EngineError.notFound(kindName, name, namespace: namespace,
                                       hint: "list builders with \(kindName.lowercased())/list, or create it with \(kindName.lowercased())/create")
        }
        b.status = try resolveStatus(engine, of: b).status
        return b
    }

    static func builders(_ engine: isolated Engine, namespace: String?) throws -> [Builder] {
        let (kind, ns, _) = builderKind(engine, namespace)
        return try engine.store.objects(Builder.self, kind: kind, namespace: ns).map { b in
            var b = b
            b.status = try resolveStatus(engine, of: b).status
            return b
        }
    }

    static func deleteBuilder(_ engine: isolated Engine, name: String, namespace: String?) throws {
        let (kind, ns, _) = builderKind(engine, namespace)
        _ = try builder(engine, name: name, namespace: namespace)
        try engine.store.delete(kind: kind, namespace: ns, name: name)
    }

    /// A missing stack or store makes the builder not ready (its message says which); a stored
    /// one that cannot be read is an error.
    static func resolveStatus(_ engine: isolated Engine, of b: Builder) throws -> ResolvedBuilder {
        var status = Builder.Status(ready: false, buildpacks: [], order: [])
        let stack: ClusterStack
        let available: [StoredBuildpack]
        /// Where a missing buildpack should have been, for the message.
        let storeHint: String
        if let imported = b.imported {
            (stack, available) = (imported.stack, imported.buildpacks)
            storeHint = "the builder image \(b.image ?? "")"
        } else {
            guard let name = b.stack, let found = try engine.store.object(ClusterStack.self, kind: .clusterStack, name: name) else {
                status.message = "ClusterStack '\(b.stack ?? "")' not found"
                return ResolvedBuilder(status: status, stack: nil, order: [])
            }
            stack = found
            guard let name = b.store, let st = try engine.store.object(ClusterStore.self, kind: .clusterStore, name: name) else {
                status.stackID = stack.id
                status.runImage = stack.status.resolvedRunImage
                status.buildImage = stack.status.resolvedBuildImage
                status.message = "ClusterStore '\(b.store ?? "")' not found"
                return ResolvedBuilder(status: status, stack: stack, order: [])
            }
            available = st.buildpacks
            storeHint = "ClusterStore '\(name)'; add them with clusterstore/add"
        }
        status.stackID = stack.id
        status.runImage = stack.status.resolvedRunImage
        status.buildImage = stack.status.resolvedBuildImage
        // Builds name a builder by its image: the one it was made from, or where it was last published.
        status.latestImage = b.imported.map { "\(b.image ?? "")@\($0.stack.status.buildImageDigest)" } ?? b.status.latestImage
        var order: [[BuildpackRef]] = []
        var missing: [String] = []
        // Composite buildpacks expand into one group per group of theirs.
        func expand(_ entries: [(id: String, version: String?, optional: Bool)], depth: Int) -> [[(StoredBuildpack, Bool)]] {
            var groups: [[(StoredBuildpack, Bool)]] = [[]]
            for e in entries {
                let candidates = available.filter { $0.id == e.id && (e.version == nil || $0.version == e.version) }
                guard let bp = candidates.max(by: { versionLess($0.version, $1.version) }) else {
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
                    BuildpackRef(descriptor: bp.descriptor, directory: engine.path("buildpacks", bp.digest.hex), optional: optional)
                })
                status.order.append(OrderGroup(group: expanded.map { OrderEntry(id: $0.0.id, version: $0.0.version, optional: $0.1 ? true : nil) }))
                for (bp, _) in expanded {
                    let info = BuildpackInfo(id: bp.id, version: bp.version, homepage: bp.homepage)
                    if !status.buildpacks.contains(info) { status.buildpacks.append(info) }
                }
            }
        }
        if !missing.isEmpty {
            status.message = "buildpack(s) \(missing.joined(separator: ", ")) not found in \(storeHint)"
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
}

/// What a build needs from a builder, or why it cannot be used.
struct ResolvedBuilder {
    var status: Builder.Status
    var stack: ClusterStack?
    var order: [[BuildpackRef]]
}
