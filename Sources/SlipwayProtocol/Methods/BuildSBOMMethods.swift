import Foundation

/// `build/sbom`: the SBOMs of a build, as `pack sbom download` reads them from an image.
public enum BuildSbom: RPCMethod {
    public typealias Params = BuildSBOMParams
    public typealias Result = BuildSBOMResult
    public static let method = "build/sbom"
    public static let access = MethodAccess.read
    public static func orderingKeys(_ p: Params) -> [String]? { [ObjectKey.image(p.namespace ?? "default", p.image)] }
    public static let summary = "The SBOM documents of a successful build: the launch SBOMs (in the image's SBOM layer) and the build SBOMs (kept with the build) that buildpacks wrote, or a Dockerfile image's SPDX SBOM of the files its layers added; each with its path under layers/sbom/ as `pack sbom download` writes it. Optionally of one format."
    public static let errors: [ErrorKind] = [.InvalidParams, .NotFound, .FailedPrecondition]
}
