import Foundation

/// One SBOM document of a build (schema `SBOMEntry`).
public struct SBOMEntry: Codable, Sendable, Equatable {
    /// `launch` (what the image runs with) or `build` (what built it; not in the image).
    public var scope: String
    /// The buildpack that wrote it; absent for a Dockerfile image's SBOM.
    public var buildpack: String?
    /// The layer it describes; absent for a buildpack's `launch.sbom.*`/`build.sbom.*`.
    public var layer: String?
    public var format: String
    public var mediaType: String
    /// `layers/sbom/<scope>/<buildpack>[/<layer>]/sbom.<ext>`: where `pack sbom download` writes it.
    public var path: String
    public var document: AnyJSON

    public init(scope: String, buildpack: String?, layer: String?, format: String, mediaType: String, path: String, document: AnyJSON) {
        self.scope = scope
        self.buildpack = buildpack
        self.layer = layer
        self.format = format
        self.mediaType = mediaType
        self.path = path
        self.document = document
    }
}

/// `build/sbom` result.
public struct BuildSBOMResult: Codable, Sendable {
    public var build: Int
    public var sboms: [SBOMEntry]

    public init(build: Int, sboms: [SBOMEntry]) {
        self.build = build
        self.sboms = sboms
    }
}

extension SBOMEntry: NamedSchema {
    public static let schemaName = "SBOMEntry"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "required": ["scope", "format", "mediaType", "path", "document"],
          "properties": {
            "scope": {"enum": ["launch", "build"]},
            "buildpack": {"type": "string"},
            "layer": {"type": "string"},
            "format": {"enum": ["cdx", "spdx", "syft"]},
            "mediaType": {"enum": ["application/vnd.cyclonedx+json", "application/spdx+json", "application/vnd.syft+json"]},
            "path": {"type": "string", "description": "Where `pack sbom download` writes it: layers/sbom/<scope>/<buildpack>[/<layer>]/sbom.<ext>."},
            "document": {"type": "object", "description": "The SBOM document, as the buildpack wrote it."}
          },
          "additionalProperties": false
        }
        """#
}

extension BuildSBOMResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "build": {"type": "integer"},
            "sboms": {"type": "array", "items": {"$ref": "#/components/schemas/SBOMEntry"}}
          },
          "additionalProperties": false
        }
        """#
}
