import Foundation

/// `build/sbom` params: the build, and optionally one SBOM format.
public struct BuildSBOMParams: Codable, Sendable {
    public var image: String
    public var namespace: String?
    public var build: Int?
    /// `cdx`, `spdx` or `syft`; default every format.
    public var format: String?
    public var resolvedNamespace: String { namespace ?? "default" }

    public init(image: String, namespace: String? = nil, build: Int? = nil, format: String? = nil) {
        self.image = image
        self.namespace = namespace
        self.build = build
        self.format = format
    }

    /// The SBOM formats `format` may name.
    public static let formats = ["cdx", "spdx", "syft"]
}

extension BuildSBOMParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("image", ##"{"$ref": "#/components/schemas/Name"}"##, required: true),
        .namespace,
        ParamDescriptor("build", ##"{"type": "integer"}"##, "Build number; default the latest build."),
        ParamDescriptor("format", ##"{"enum": ["cdx", "spdx", "syft"]}"##, "Only documents of this format (CycloneDX, SPDX, Syft JSON); default all.")
    ]
}
