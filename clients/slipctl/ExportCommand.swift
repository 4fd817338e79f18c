import Foundation
import JSONRPC

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

func kpackOrder(_ order: JSONValue?) -> JSONValue {
    .array((order?.arrayValue ?? []).map { entry in
        ["group": .array((entry["group"]?.arrayValue ?? []).map { ref in
            var o = JSONObject([("id", ref["id"] ?? "")])
            if let v = ref["version"]?.stringValue { o["version"] = .string(v) }
            if ref["optional"] == true { o["optional"] = true }
            return .object(o)
        })]
    })
}

func exportKpack(_ e: EngineSession, namespace: String) throws -> [ExportedItem] {
    var items: [ExportedItem] = []
    for stack in try e.call("clusterstack/list", ["limit": 500])["stacks"]?.arrayValue ?? [] {
        let name = stack["name"]?.stringValue ?? ""
        let build = stack["buildImage"]?.stringValue ?? "", run = stack["runImage"]?.stringValue ?? ""
        if isLocalReference(build) || isLocalReference(run) {
            items.append(.comment("ClusterStack \"\(name)\" (id \(stack["id"]?.stringValue ?? "")) is made from images only this machine has (\(build), \(run)): push them to a registry, then add a ClusterStack with spec.buildImage.image and spec.runImage.image naming them."))
            continue
        }
        var spec = JSONObject([("buildImage", ["image": .string(build)]), ("runImage", ["image": .string(run)])])
        if let id = stack["id"]?.stringValue { spec["id"] = .string(id) }
        items.append(.resource(kpackResource("ClusterStack", name: name, namespace: nil, spec: spec)))
    }
    for store in try e.call("clusterstore/list", ["limit": 500])["stores"]?.arrayValue ?? [] {
        let name = store["name"]?.stringValue ?? ""
        var sources: [JSONValue] = []
        for bp in store["buildpacks"]?.arrayValue ?? [] {
            let source = bp["source"]?.stringValue ?? ""
            if isLocalReference(source) || source.isEmpty {
                items.append(.comment("ClusterStore \"\(name)\": buildpack \(bp["id"]?.stringValue ?? "")@\(bp["version"]?.stringValue ?? "") was added from \(source.isEmpty ? "a folder" : source) on this machine: publish it as a buildpackage in a registry and add it to spec.sources."))
            } else if !sources.contains(["image": .string(source)]) {
                sources.append(["image": .string(source)])
            }
        }
        items.append(.resource(kpackResource("ClusterStore", name: name, namespace: nil, spec: JSONObject([("sources", .array(sources))]))))
    }
    func builderSpec(_ b: JSONValue) -> JSONObject {
        JSONObject([("tag", .string("REGISTRY/builders/\(b["name"]?.stringValue ?? "")")),
                    ("stack", ["kind": "ClusterStack", "name": b["stack"] ?? ""]),
                    ("store", ["kind": "ClusterStore", "name": b["store"] ?? ""]),
                    ("order", kpackOrder(b["order"]))])
    }
    for b in try e.call("clusterbuilder/list", ["limit": 500])["builders"]?.arrayValue ?? [] {
        var spec = builderSpec(b)
        spec["serviceAccountRef"] = ["name": "default", "namespace": .string(namespace)]
        items.append(.comment("ClusterBuilder \"\(b["name"]?.stringValue ?? "")\": set spec.tag to where the cluster may push the builder image."))
        items.append(.resource(kpackResource("ClusterBuilder", name: b["name"]?.stringValue ?? "", namespace: nil, spec: spec)))
    }
    for b in try e.call("builder/list", ["namespace": .string(namespace), "limit": 500])["builders"]?.arrayValue ?? [] {
        var spec = builderSpec(b)
        spec["serviceAccountName"] = "default"
        items.append(.resource(kpackResource("Builder", name: b["name"]?.stringValue ?? "", namespace: namespace, spec: spec)))
    }
    for s in try e.call("secret/list", ["namespace": .string(namespace), "limit": 500])["secrets"]?.arrayValue ?? [] {
        let name = s["name"]?.stringValue ?? ""
        let target = s["server"]?.stringValue ?? s["url"]?.stringValue ?? ""
        let how = s["url"] != nil
            ? "kubectl create secret generic \(name) --type=kubernetes.io/basic-auth --from-literal=username=… --from-literal=password=… -n \(namespace), annotated kpack.io/git=\(target)"
            : "kubectl create secret docker-registry \(name) --docker-server=\(target) --docker-username=… --docker-password=… -n \(namespace)"
        items.append(.comment("Secret \"\(name)\" (\(target)): its values are not exported; create it with: \(how), and add it to the service account default."))
    }
    for row in try e.call("image/list", ["namespace": .string(namespace), "limit": 500])["images"]?.arrayValue ?? [] {
        let name = row["name"]?.stringValue ?? ""
        let image = try e.call("image/get", ["name": .string(name), "namespace": .string(namespace)])
        if image["strategy"]?.stringValue == "dockerfile" {
            items.append(.comment("Image \"\(name)\" is built from a Dockerfile, and kpack has no Dockerfile strategy: build it with another tool (kaniko, buildah) in the cluster, or move it to buildpacks."))
            continue
        }
        let source = image["source"]
        var kpackSource = JSONObject()
        if let git = source?["git"] {
            kpackSource["git"] = ["url": git["url"] ?? "", "revision": git["revision"] ?? "main"]
        } else if let blob = source?["blob"] {
            kpackSource["blob"] = ["url": blob["url"] ?? ""]
        } else {
            items.append(.comment("Image \"\(name)\" is built from a local folder (\(source?["local"]?["path"]?.stringValue ?? "")), which a cluster cannot read: push it to a git repository (spec.source.git) or upload an archive (spec.source.blob), then add the Image."))
            continue
        }
        if let sub = source?["subPath"]?.stringValue { kpackSource["subPath"] = .string(sub) }
        var spec = JSONObject([("tag", image["tag"] ?? ""), ("builder", ["kind": image["builder"]?["kind"] ?? "ClusterBuilder", "name": image["builder"]?["name"] ?? "default"]),
                               ("source", .object(kpackSource))])
        if let env = image["env"]?.objectValue, !env.isEmpty {
            spec["build"] = ["env": .array(env.members.map { ["name": .string($0.key), "value": $0.value] })]
        }
        for key in ["successBuildHistoryLimit", "failedBuildHistoryLimit"] { if let v = image[key] { spec[key] = v } }
        if image["tag"]?.stringValue.map(isLocalReference) == true {
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
