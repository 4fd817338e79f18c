import Foundation

/// A buildpack available to a build: its descriptor, the folder it lives in, and whether its
/// group may do without it.
public struct BuildpackRef: Sendable, Equatable {
    public var descriptor: BuildpackDescriptor
    public var directory: String
    public var optional: Bool
    public init(descriptor: BuildpackDescriptor, directory: String, optional: Bool) {
        self.descriptor = descriptor
        self.directory = directory
        self.optional = optional
    }
}

/// Everything one buildpacks build needs.
public struct BuildRequest: Sendable {
    public var workDirectory: String
    public var cacheDirectory: String
    public var source: Digest
    public var env: [String: String]
    /// The stack's images: a buildpacks build has both; a Dockerfile build has none.
    public var buildImage: OCIImage?
    public var runImage: OCIImage?
    public var runImageName: String
    public var stackID: String
    public var order: [[BuildpackRef]]
    public var outputLayout: String
    public var outputTag: String
    /// How logs name where the image goes: the image's tag as the user gave it.
    public var outputName: String
    public var launcherPath: String
    /// The launcher's version, for the `io.buildpacks.build.metadata` label.
    public var launcherVersion: String = "unknown"
    /// Where the source came from: `<layers>/project-metadata.toml` and its label.
    public var projectMetadata = ProjectMetadata(source: nil)
    /// Set for a rebase: the image it starts from (then no buildpack runs).
    public var rebase: RebaseBase?
    /// Set for a Dockerfile build (then there is no stack and no buildpack).
    public var dockerfile: DockerfileInputs?
    /// Whether buildpacks (detect, build) and RUN steps get outbound network access
    /// (`StepNetwork`); else a network namespace with only its own loopback.
    public var publicNetwork = false
    /// `slipway-userns` (beside the launcher), which configures a step's public network.
    public var userNamespaceHelper = ""
    /// The most bytes one layer a step makes may hold (`--max-layer-bytes`).
    public var maxLayerBytes: Int64 = 10 << 30
    /// What was left of the namespace's storage quota when the build started (nil: no quota):
    /// the layers the build writes take from it as they are written.
    public var storageBytesLeft: Int64?
    /// `--allow-add-host` entries: what a Dockerfile build's ADD may fetch from though
    /// `OutboundAddressPolicy` refuses it otherwise.
    public var addHostAllowList: [String] = []
    /// What the build's steps may use (`StepEnforcement` holds them to it).
    public var stepLimits = StepLimits()
    /// Imports a buildpackage image the app's project.toml names by registry reference, with
    /// the engine's credentials rules for the build's namespace; nil: such an entry fails.
    public var fetchBuildpackage: (@Sendable (String) async throws -> OCIImage)?

    public init(workDirectory: String, cacheDirectory: String, source: Digest, env: [String: String], buildImage: OCIImage?,
                runImage: OCIImage?, runImageName: String, stackID: String, order: [[BuildpackRef]], outputLayout: String,
                outputTag: String, outputName: String, launcherPath: String, launcherVersion: String = "unknown",
                projectMetadata: ProjectMetadata = ProjectMetadata(source: nil), rebase: RebaseBase? = nil)
    {
        self.launcherVersion = launcherVersion
        self.projectMetadata = projectMetadata
        self.rebase = rebase
        self.workDirectory = workDirectory
        self.cacheDirectory = cacheDirectory
        self.source = source
        self.env = env
        self.buildImage = buildImage
        self.runImage = runImage
        self.runImageName = runImageName
        self.stackID = stackID
        self.order = order
        self.outputLayout = outputLayout
        self.outputTag = outputTag
        self.outputName = outputName
        self.launcherPath = launcherPath
    }
}

/// What a successful build produced.
public struct BuildResult: Sendable, Equatable {
    public var imageDigest: Digest
    public var buildpacks: [BuildpackDescriptor]
    public var runImageDigest: Digest
    public var processes: [LaunchProcess]
    public var layersAdded: Int
    public var layersReused: Int
    /// `host/repo@sha256:…` when the image was pushed to a registry after export.
    public var pushedReference: String?
    /// A Dockerfile build's FROM images: each name and the manifest digest it resolved to.
    public var bases: [String: String] = [:]
    /// The build's SBOM documents (launch and build), which the engine keeps with the build.
    public var sboms: [SBOMDocument] = []

    public init(imageDigest: Digest, buildpacks: [BuildpackDescriptor], runImageDigest: Digest, processes: [LaunchProcess], layersAdded: Int,
                layersReused: Int, pushedReference: String? = nil) {
        self.imageDigest = imageDigest
        self.buildpacks = buildpacks
        self.runImageDigest = runImageDigest
        self.processes = processes
        self.layersAdded = layersAdded
        self.layersReused = layersReused
        self.pushedReference = pushedReference
    }
}
