import Foundation

/// The SBOM formats of the buildpack spec (Buildpack API 0.7+): the file extension a buildpack
/// writes (`<layer>.sbom.<ext>`), the media type it declares in `buildpack.toml`
/// (`[buildpack] sbom-formats`), and the shape a document of the format has.
public enum SBOMFormat: String, Sendable, CaseIterable {
    case cdx, spdx, syft

    /// `cdx.json`, `spdx.json`, `syft.json`.
    public var fileExtension: String { rawValue + ".json" }

    public var mediaType: String {
        switch self {
        case .cdx: return "application/vnd.cyclonedx+json"
        case .spdx: return "application/spdx+json"
        case .syft: return "application/vnd.syft+json"
        }
    }

    /// The format of a file extension (`cdx.json`); nil for any other.
    public init?(fileExtension: String) {
        guard let f = Self.allCases.first(where: { $0.fileExtension == fileExtension }) else { return nil }
        self = f
    }

    /// Checks that `bytes` is a JSON object of this format's shape (CycloneDX: `bomFormat` is
    /// `CycloneDX`; SPDX: a `spdxVersion`; Syft: an `artifacts` list); the reason it is not.
    public func whyNotADocument(_ bytes: [UInt8]) -> String? {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(bytes)) } catch { return "it is not valid JSON" }
        guard let object = parsed as? [String: Any] else { return "it is not a JSON object" }
        switch self {
        case .cdx: return object["bomFormat"] as? String == "CycloneDX" ? nil : #"it has no "bomFormat": "CycloneDX""#
        case .spdx: return object["spdxVersion"] is String ? nil : #"it has no "spdxVersion""#
        case .syft: return object["artifacts"] is [Any] ? nil : #"it has no "artifacts" list"#
        }
    }
}

/// One SBOM document of a build, as the platform spec lays it out under `/layers/sbom`:
/// `launch/<buildpack>/<layer>/sbom.<ext>` for a launch layer (in the image's SBOM layer),
/// `build/<buildpack>/<layer>/sbom.<ext>` for a build layer (kept with the build, outside the
/// image), `…/<buildpack>/sbom.<ext>` for a buildpack's `launch.sbom.*`/`build.sbom.*`. A
/// Dockerfile build has one `launch` document of its own, with no buildpack.
public struct SBOMDocument: Sendable, Equatable {
    /// Whether the document describes what the image runs with, or what built it.
    public enum Scope: String, Sendable { case launch, build }

    public var scope: Scope
    /// The buildpack that wrote it (nil for a Dockerfile build's SBOM).
    public var buildpack: String?
    /// The layer it describes; nil for a buildpack's own `launch.sbom.*`/`build.sbom.*`.
    public var layer: String?
    public var format: SBOMFormat
    /// The document as written (checked to be JSON of `format`'s shape).
    public var contents: [UInt8]

    public init(scope: Scope, buildpack: String?, layer: String?, format: SBOMFormat, contents: [UInt8]) {
        self.scope = scope
        self.buildpack = buildpack
        self.layer = layer
        self.format = format
        self.contents = contents
    }

    /// Where the document is in the image (launch) or in `pack sbom download`'s output:
    /// `layers/sbom/<scope>/<escaped buildpack id>[/<layer>]/sbom.<ext>`; a Dockerfile build's
    /// `layers/sbom/launch/dockerfile/sbom.<ext>`.
    public var path: String {
        var parts = ["layers", "sbom", scope.rawValue, buildpack.map(BuildpackDescriptor.escape) ?? "dockerfile"]
        if let layer { parts.append(layer) }
        return (parts + ["sbom." + format.fileExtension]).joined(separator: "/")
    }

    /// Largest SBOM file a buildpack may write; a larger one fails the build (it is read into
    /// memory and kept with the build).
    public static let maxFileBytes = 16 << 20
    /// Largest total of a build's SBOM files.
    public static let maxTotalBytes = 64 << 20
}

/// Reads and checks the SBOM files one buildpack left in its layers folder, as lifecycle's
/// `buildpack/build.go` does: each `<layer>.sbom.<ext>`, `launch.sbom.<ext>` and
/// `build.sbom.<ext>` must be of a format the buildpack declared and parse as a document of
/// that format. Files are read through the confined folder (no symlink followed, sizes capped).
struct SBOMCollector {
    let buildpack: BuildpackDescriptor
    let folder: ConfinedDirectory

    /// The buildpack's SBOM documents, given its layers' types (`launch`/`build` per layer name);
    /// an SBOM of a layer that is neither (or has no `.toml`) is dropped, as lifecycle does.
    /// `budget` is what the build's SBOMs may still take.
    func collect(names: [String], layerTypes: [String: (launch: Bool, build: Bool)], budget: inout Int) throws -> [SBOMDocument] {
        var out: [SBOMDocument] = []
        for name in names.sorted() {
            // Layer metadata (`<layer>.toml`) is no SBOM, whatever the layer is called.
            guard !name.hasSuffix(".toml"), let range = name.range(of: ".sbom.") else { continue }
            let owner = String(name[..<range.lowerBound])
            let ext = String(name[range.upperBound...])
            guard let format = SBOMFormat(fileExtension: ext) else {
                throw RuntimeError.buildFailed(
                    "buildpack \(buildpack.id)@\(buildpack.version) wrote '\(name)', an SBOM of an unknown format '\(ext)'; SBOM files end in .sbom.cdx.json, .sbom.spdx.json or .sbom.syft.json")
            }
            guard (buildpack.sbomFormats ?? []).contains(format.mediaType) else {
                let declared = (buildpack.sbomFormats ?? []).isEmpty ? "none" : (buildpack.sbomFormats ?? []).joined(separator: ", ")
                throw RuntimeError.buildFailed(
                    "buildpack \(buildpack.id)@\(buildpack.version) wrote the SBOM '\(name)' of media type \(format.mediaType), which its buildpack.toml does not declare (sbom-formats: \(declared)); add it to [buildpack] sbom-formats or stop writing the file")
            }
            let scopes: [SBOMDocument.Scope]
            let layer: String?
            switch owner {
            case "launch": scopes = [.launch]; layer = nil
            case "build": scopes = [.build]; layer = nil
            default:
                let types = layerTypes[owner] ?? (false, false)
                scopes = (types.launch ? [.launch] : []) + (types.build ? [.build] : [])
                layer = owner
            }
            guard !scopes.isEmpty else { continue }
            let bytes: [UInt8]
            do {
                bytes = try folder.readFile(name, maxBytes: min(SBOMDocument.maxFileBytes, max(budget, 0)))
            } catch let e as ConfinedPathError {
                if case .tooLarge = e.kind {
                    throw RuntimeError.buildFailed(
                        "buildpack \(buildpack.id)@\(buildpack.version) wrote the SBOM '\(name)', larger than Slipway keeps (\(SBOMDocument.maxFileBytes) bytes a file, \(SBOMDocument.maxTotalBytes) a build); write a smaller SBOM")
                }
                throw RuntimeError.buildFailed(
                    "buildpack \(buildpack.id)@\(buildpack.version) left an SBOM Slipway will not read: \(e). SBOM files must be regular files; Slipway never follows a symlink a build step made")
            }
            if let why = format.whyNotADocument(bytes) {
                throw RuntimeError.buildFailed(
                    "buildpack \(buildpack.id)@\(buildpack.version) wrote the SBOM '\(name)', which is not a \(format.mediaType) document: \(why)")
            }
            budget -= bytes.count
            out += scopes.map { SBOMDocument(scope: $0, buildpack: buildpack.id, layer: layer, format: format, contents: bytes) }
        }
        return out
    }
}
