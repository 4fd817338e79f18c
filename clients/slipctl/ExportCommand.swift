import Foundation
import JSONRPC
import SlipwayProtocol

// `slipctl export --kpack [-n NS]`: the namespace's configuration as kpack `kpack.io/v1alpha2`
// resources (field names and shapes of kpack's Go types), for a team that outgrows one machine:
// `kubectl apply -f` keeps the same stacks, stores, builders and images. What a cluster cannot
// take is a YAML comment where the resource would be, saying how to replace it; secrets are
// references only, never their values.

/// One YAML document (a resource), or a comment standing where one would be.
enum ExportedItem {
    case resource(JSONValue)
    case comment(String)
}

/// Whether a stack image or buildpack source is something only this machine has.
func isLocalReference(_ ref: String) -> Bool {
    ref.hasPrefix("/") || ref.hasPrefix("oci:") || ref.hasPrefix("rootfs:") || ref.hasPrefix("file:")
}

func kpackResource(_ kind: String, name: String, namespace: String?, spec: JSONObject) -> JSONValue {
    var metadata = JSONObject([("name", .string(name))])
    if let namespace { metadata["namespace"] = .string(namespace) }
    return .object(JSONObject([("apiVersion", "kpack.io/v1alpha2"), ("kind", .string(kind)), ("metadata", .object(metadata)), ("spec", .object(spec))]))
}

func kpackOrder(_ order: [OrderGroup]) -> JSONValue {
    .array(order.map { entry in
        ["group": .array(entry.group.map { ref in
            var o = JSONObject([("id", .string(ref.id))])
            if let v = ref.version { o["version"] = .string(v) }
            if ref.optional == true { o["optional"] = true }
            return .object(o)
        })]
    })
}

func exportKpack(_ e: EngineSession, namespace: String) throws -> [ExportedItem] {
    var items: [ExportedItem] = []
    for stack in try e.call(ClusterStackList.self, PageParams(limit: 500)).stacks {
        let name = stack.name, build = stack.buildImage, run = stack.runImage
        if isLocalReference(build) || isLocalReference(run) {
            items.append(.comment("ClusterStack \"\(name)\" (id \(stack.id)) is made from images only this machine has (\(build), \(run)): push them to a registry, then add a ClusterStack with spec.buildImage.image and spec.runImage.image naming them."))
            continue
        }
        let spec = JSONObject([("buildImage", ["image": .string(build)]), ("runImage", ["image": .string(run)]), ("id", .string(stack.id))])
        items.append(.resource(kpackResource("ClusterStack", name: name, namespace: nil, spec: spec)))
    }
    for store in try e.call(ClusterStoreList.self, PageParams(limit: 500)).stores {
        var sources: [JSONValue] = []
        for bp in store.buildpacks {
            let source = bp.source
            if isLocalReference(source) || source.isEmpty {
                items.append(.comment("ClusterStore \"\(store.name)\": buildpack \(bp.id)@\(bp.version) was added from \(source.isEmpty ? "a folder" : source) on this machine: publish it as a buildpackage in a registry and add it to spec.sources."))
            } else if !sources.contains(["image": .string(source)]) {
                sources.append(["image": .string(source)])
            }
        }
        items.append(.resource(kpackResource("ClusterStore", name: store.name, namespace: nil, spec: JSONObject([("sources", .array(sources))]))))
    }
    /// kpack makes builders from a stack and a store only: one made from a builder image is
    /// left out, with a comment saying so.
    func builderSpec(_ b: BuilderResource) -> JSONObject? {
        guard let stack = b.stack, let store = b.store else {
            items.append(.comment("\(b.kind.rawValue) \"\(b.name)\" is made from the builder image \(b.image ?? "?"); kpack makes builders from a ClusterStack and a ClusterStore: import its stack and buildpacks into those to move it."))
            return nil
        }
        return JSONObject([("tag", .string("REGISTRY/builders/\(b.name)")),
                           ("stack", ["kind": "ClusterStack", "name": .string(stack)]),
                           ("store", ["kind": "ClusterStore", "name": .string(store)]),
                           ("order", kpackOrder(b.order))])
    }
    for b in try e.call(ClusterBuilderList.self, PageParams(limit: 500)).builders {
        guard var spec = builderSpec(b) else { continue }
        spec["serviceAccountRef"] = ["name": "default", "namespace": .string(namespace)]
        items.append(.comment("ClusterBuilder \"\(b.name)\": set spec.tag to where the cluster may push the builder image."))
        items.append(.resource(kpackResource("ClusterBuilder", name: b.name, namespace: nil, spec: spec)))
    }
    for b in try e.call(BuilderList.self, NamespaceParams(namespace: namespace, limit: 500)).builders {
        guard var spec = builderSpec(b) else { continue }
        spec["serviceAccountName"] = "default"
        items.append(.resource(kpackResource("Builder", name: b.name, namespace: namespace, spec: spec)))
    }
    for s in try e.call(SecretList.self, NamespaceParams(namespace: namespace, limit: 500)).secrets {
        let target = s.server ?? s.url ?? ""
        let how = s.url != nil
            ? "kubectl create secret generic \(s.name) --type=kubernetes.io/basic-auth --from-literal=username=… --from-literal=password=… -n \(namespace), annotated kpack.io/git=\(target)"
            : "kubectl create secret docker-registry \(s.name) --docker-server=\(target) --docker-username=… --docker-password=… -n \(namespace)"
        items.append(.comment("Secret \"\(s.name)\" (\(target)): its values are not exported; create it with: \(how), and add it to the service account default."))
    }
    for row in try e.call(ImageList.self, ImageListParams(namespace: namespace, limit: 500)).images {
        let name = row.name
        let image = try e.call(ImageGet.self, NamespacedNameParams(name: name, namespace: namespace))
        if image.strategy == .dockerfile {
            items.append(.comment("Image \"\(name)\" is built from a Dockerfile, and kpack has no Dockerfile strategy: build it with another tool (kaniko, buildah) in the cluster, or move it to buildpacks."))
            continue
        }
        let source = image.source
        var kpackSource = JSONObject()
        if let git = source.git {
            kpackSource["git"] = ["url": .string(git.url), "revision": .string(git.revision ?? "main")]
        } else if let blob = source.blob {
            kpackSource["blob"] = ["url": .string(blob.url)]
        } else {
            items.append(.comment("Image \"\(name)\" is built from a local folder (\(source.local?.path ?? "")), which a cluster cannot read: push it to a git repository (spec.source.git) or upload an archive (spec.source.blob), then add the Image."))
            continue
        }
        if let sub = source.subPath { kpackSource["subPath"] = .string(sub) }
        var spec = JSONObject([("tag", .string(image.tag)), ("builder", ["kind": .string(image.builder.kind.rawValue), "name": .string(image.builder.name)]),
                               ("source", .object(kpackSource))])
        if !image.env.isEmpty {
            spec["build"] = ["env": .array(image.env.sorted { $0.key < $1.key }.map { ["name": .string($0.key), "value": .string($0.value)] })]
        }
        spec["successBuildHistoryLimit"] = .int(Int64(image.successBuildHistoryLimit))
        spec["failedBuildHistoryLimit"] = .int(Int64(image.failedBuildHistoryLimit))
        if isLocalReference(image.tag) {
            items.append(.comment("Image \"\(name)\": its tag is an OCI layout on this machine; set spec.tag to a registry repository."))
        }
        items.append(.resource(kpackResource("Image", name: name, namespace: namespace, spec: spec)))
    }
    return items
}

/// The YAML stream: documents separated by `---`, comments as `# …` lines.
func exportYAML(_ items: [ExportedItem]) -> String {
    var out = ""
    for item in items {
        switch item {
        case .comment(let text): out += "# " + text + "\n"
        case .resource(let r): out += "---\n" + KpFormat.yaml(r)
        }
    }
    return out
}
