import Foundation

/// What a CNB builder image says of itself, as pack and kpack write it in its config's labels:
/// the stack id (`io.buildpacks.stack.id`), the run image with its mirrors
/// (`io.buildpacks.builder.metadata`: `images`, or the older `stack.runImage`), the detection
/// order (`io.buildpacks.buildpack.order`) and which layers hold buildpacks
/// (`io.buildpacks.buildpack.layers`). The labels come from a registry: every field is checked,
/// and a message names the label that is wrong.
public struct BuilderImageMetadata: Sendable, Equatable {
    /// One entry of a group of the order.
    public struct OrderEntry: Codable, Sendable, Equatable {
        public var id: String
        public var version: String?
        public var optional: Bool?
        public init(id: String, version: String?, optional: Bool?) {
            self.id = id
            self.version = version
            self.optional = optional
        }
    }

    public var stackID: String
    public var runImage: String
    public var runImageMirrors: [String]
    public var order: [[OrderEntry]]
    /// The diff ids of the layers that hold buildpacks (`/cnb/buildpacks/<id>/<version>`).
    public var buildpackLayers: Set<Digest>

    static let metadataLabel = "io.buildpacks.builder.metadata"
    static let orderLabel = "io.buildpacks.buildpack.order"
    static let layersLabel = "io.buildpacks.buildpack.layers"
    static let stackLabel = "io.buildpacks.stack.id"

    /// The label of a builder image that names its run image (pack's `BuilderMetadata`).
    struct Metadata: Codable {
        struct RunImage: Codable {
            var image: String
            var mirrors: [String]?
        }
        struct Stack: Codable { var runImage: RunImage? }
        struct Buildpack: Codable {
            var id: String
            var version: String
            var homepage: String?
        }
        struct CreatedBy: Codable {
            var name: String
            var version: String
        }
        var description: String?
        var images: [RunImage]?
        var stack: Stack?
        var buildpacks: [Buildpack]?
        var createdBy: CreatedBy?
    }

    struct GroupOfOrder: Codable { var group: [OrderEntry] }

    /// A buildpack's entry in `io.buildpacks.buildpack.layers`.
    struct LayerInfo: Codable {
        struct Stack: Codable { var id: String }
        var api: String?
        var stacks: [Stack]?
        var layerDiffID: Digest
        var homepage: String?
    }

    /// A buildpack a builder image holds in a layer of its own.
    public struct LayerEntry: Sendable {
        public var descriptor: BuildpackDescriptor
        public var diffID: Digest
        public init(descriptor: BuildpackDescriptor, diffID: Digest) {
            self.descriptor = descriptor
            self.diffID = diffID
        }
    }

    /// The labels pack writes on a builder image, for `buildpacks` in their layers (what `read`
    /// reads back). Keys are sorted, so the same builder gives the same config.
    public func labels(buildpacks: [LayerEntry], createdBy version: String) throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        let run = Metadata.RunImage(image: runImage, mirrors: runImageMirrors)
        let metadata = Metadata(description: "A builder Slipway published", images: [run], stack: .init(runImage: run),
                                buildpacks: buildpacks.map { .init(id: $0.descriptor.id, version: $0.descriptor.version, homepage: $0.descriptor.homepage) },
                                createdBy: .init(name: "Slipway", version: version))
        var layers: [String: [String: LayerInfo]] = [:]
        for b in buildpacks {
            layers[b.descriptor.id, default: [:]][b.descriptor.version] = LayerInfo(
                api: b.descriptor.api, stacks: b.descriptor.stacks.map(LayerInfo.Stack.init), layerDiffID: b.diffID, homepage: b.descriptor.homepage)
        }
        return [
            Self.metadataLabel: try json(metadata),
            Self.orderLabel: try json(order.map(GroupOfOrder.init)),
            Self.layersLabel: try json(layers),
            Self.stackLabel: stackID,
        ]
    }

    public init(stackID: String, runImage: String, runImageMirrors: [String], order: [[OrderEntry]], buildpackLayers: Set<Digest>) {
        self.stackID = stackID
        self.runImage = runImage
        self.runImageMirrors = runImageMirrors
        self.order = order
        self.buildpackLayers = buildpackLayers
    }

    /// Reads the labels of the image `source` names; `field` is the param that named it.
    public static func read(labels: [String: String], source: String, field: String) throws -> BuilderImageMetadata {
        let shown = PathSyntax.shortened(source)
        func label<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
            guard let text = labels[name] else {
                throw RuntimeError.invalid("\(shown) is not a CNB builder image: it has no \(name) label (make one with `pack builder create`, or give the builder stack, store and order)", field: field)
            }
            do {
                return try JSONDecoder().decode(T.self, from: Data(text.utf8))
            } catch {
                throw RuntimeError.invalid("\(shown) has a \(name) label that is not what a builder image holds: \(error.localizedDescription)", field: field)
            }
        }
        let metadata = try label(metadataLabel, as: Metadata.self)
        guard let run = metadata.images?.first ?? metadata.stack?.runImage, !run.image.isEmpty else {
            throw RuntimeError.invalid("\(shown) names no run image in its \(metadataLabel) label (images, or stack.runImage)", field: field)
        }
        let order = try label(orderLabel, as: [GroupOfOrder].self).map(\.group)
        guard !order.isEmpty, order.allSatisfy({ !$0.isEmpty && $0.allSatisfy { BuildpackDescriptor.isValidID($0.id) } }) else {
            throw RuntimeError.invalid("\(shown) has an empty order, an empty group or a buildpack id that is not valid in its \(orderLabel) label", field: field)
        }
        let layers = try label(layersLabel, as: [String: [String: LayerInfo]].self)
        guard let stackID = labels[stackLabel], !stackID.isEmpty else {
            throw RuntimeError.invalid("\(shown) has no \(stackLabel) label; a builder image names its stack", field: field)
        }
        return BuilderImageMetadata(stackID: stackID, runImage: run.image, runImageMirrors: run.mirrors ?? [], order: order,
                                    buildpackLayers: Set(layers.values.flatMap { $0.values.map(\.layerDiffID) }))
    }
}
