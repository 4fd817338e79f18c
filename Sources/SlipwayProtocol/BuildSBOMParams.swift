import Foundation

/// `build/sbom` params: the build, and optionally one SBOM format.
public struct BuildSBOMParams: Codable, Sendable {
    public var image: String
    public var namespace: String?
    public var build: Int?
    /// Only documents of this format; default every format.
    public var format: SBOMFormatName?
    public var resolvedNamespace: String { namespace ?? "default" }

    public init(image: String, namespace: String? = nil, build: Int? = nil, format: SBOMFormatName? = nil) {
        self.image = image
        self.namespace = namespace
        self.build = build
        self.format = format
    }
}

/// An SBOM format as the wire names it: CycloneDX, SPDX or Syft JSON.
public enum SBOMFormatName: String, Codable, Sendable, CaseIterable {
    case cdx, spdx, syft

    /// Decodes a format name; another value is refused saying which ones there are.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let name = try c.decode(String.self)
        guard let format = Self(rawValue: name) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(name)' is not an SBOM format; use cdx (CycloneDX), spdx (SPDX) or syft (Syft JSON), or leave it out for all")
        }
        self = format
    }
}

extension BuildSBOMParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("image", ##"{"$ref": "#/components/schemas/Name"}"##, required: true),
        .namespace,
        ParamDescriptor("build", ##"{"type": "integer"}"##, "Build number; default the latest build."),
        ParamDescriptor("format", ##"{"enum": ["cdx", "spdx", "syft"]}"##, "Only documents of this format (CycloneDX, SPDX, Syft JSON); default all.")
    ]
}
