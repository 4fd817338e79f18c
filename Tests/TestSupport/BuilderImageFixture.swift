import Foundation
import JSONRPC

/// Makes CNB builder images as pack writes them, with umoci: the host stack's build image, one
/// layer per buildpack under `/cnb/buildpacks/<id with / as _>/<version>`, a layer with
/// `/cnb/order.toml` and `/cnb/stack.toml`, and the labels pack sets
/// (`io.buildpacks.builder.metadata`, `io.buildpacks.buildpack.order`,
/// `io.buildpacks.buildpack.layers`, `io.buildpacks.stack.id`).
public enum BuilderImageFixture {
    public struct Buildpack: Sendable {
        public var id: String
        public var version: String
        public var folder: String
        public init(id: String, version: String, folder: String) {
            self.id = id
            self.version = version
            self.folder = folder
        }
    }

    /// The repository's build-script and procfile buildpacks.
    public static let sampleBuildpacks = [
        Buildpack(id: "slipway/build-script", version: "0.1.0", folder: Repo.buildpacks.appendingPathComponent("build-script").path),
        Buildpack(id: "slipway/procfile", version: "0.1.0", folder: Repo.buildpacks.appendingPathComponent("procfile").path),
    ]

    /// Writes the host stack's images to `layout` (tags `build` and `run`) and a builder image
    /// (tag `builder`) whose metadata names `runImage` as its run image.
    public static func make(layout: String, runImage: String, stackID: String = "io.slipway.test",
                            buildpacks: [Buildpack] = sampleBuildpacks) async throws {
        try await HostStack.ociLayout(at: layout, stackID: stackID)
        let image = "'\(layout):builder'"
        var script = "set -e\numoci tag --image '\(layout):build' builder\n"
        for bp in buildpacks {
            script += """
                copy="$(mktemp -d)"; mkdir -p "$copy/cnb/buildpacks/\(bp.id.replacingOccurrences(of: "/", with: "_"))"
                cp -a '\(bp.folder)' "$copy/cnb/buildpacks/\(bp.id.replacingOccurrences(of: "/", with: "_"))/\(bp.version)"
                umoci insert --rootless --image \(image) "$copy/cnb" /cnb; rm -rf "$copy"

                """
        }
        let order = "[[order]]\n" + buildpacks.map { "[[order.group]]\nid = \"\($0.id)\"\nversion = \"\($0.version)\"\n" }.joined()
        script += """
            copy="$(mktemp -d)"; mkdir -p "$copy/cnb"
            printf '%s' '\(order)' > "$copy/cnb/order.toml"
            printf '[run-image]\\n  image = "%s"\\n' '\(runImage)' > "$copy/cnb/stack.toml"
            umoci insert --rootless --image \(image) "$copy/cnb" /cnb; rm -rf "$copy"
            """
        let r = try await sh(script)
        guard r.status == 0 else { throw TestFailure("making the builder image: \(r.err)") }
        // The buildpack layers are the ones after the build image's, in order.
        let config = try JSONParser.parse(Array(try await sh("skopeo inspect --config oci:\(image)").out.utf8))
        let diffIDs = config["rootfs"]?["diff_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard diffIDs.count >= buildpacks.count + 1 else { throw TestFailure("the builder image has \(diffIDs.count) layers") }
        let bpLayers = Array(diffIDs.dropLast().suffix(buildpacks.count))
        var layers: [String: [String: JSONValue]] = [:]
        for (bp, diffID) in zip(buildpacks, bpLayers) {
            layers[bp.id, default: [:]][bp.version] = ["api": "0.10", "layerDiffID": .string(diffID), "stacks": [["id": .string(stackID)]]]
        }
        let labels: [(String, String)] = [
            ("io.buildpacks.builder.metadata", JSONWriter.string([
                "description": "a test builder", "stack": ["runImage": ["image": .string(runImage), "mirrors": []]],
                "buildpacks": .array(buildpacks.map { ["id": .string($0.id), "version": .string($0.version)] }),
                "lifecycle": ["version": "0.20.0"], "createdBy": ["name": "Pack CLI", "version": "0.36.0"],
            ])),
            ("io.buildpacks.buildpack.order", JSONWriter.string(.array([["group": .array(buildpacks.map { ["id": .string($0.id), "version": .string($0.version)] })]]))),
            ("io.buildpacks.buildpack.layers", JSONWriter.string(.object(JSONObject(layers.map { ($0.key, .object(JSONObject($0.value.map { ($0.key, $0.value) }))) })))),
        ]
        let set = labels.map { "--config.label \($0.0)='\($0.1)'" }.joined(separator: " ")
        let c = try await sh("umoci config --image \(image) \(set)")
        guard c.status == 0 else { throw TestFailure("umoci config: \(c.err)") }
    }
}
