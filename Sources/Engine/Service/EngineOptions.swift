import SlipwayProtocol
import BuildRuntime
import Foundation

/// Settings of an engine.
public struct EngineOptions: Sendable {
    /// The launcher binary copied into every image.
    public var launcherPath: String
    /// Its version, named in every image's `io.buildpacks.build.metadata`.
    public var launcherVersion = "unknown"
    /// Seconds between polls of git branches and tags; nil turns polling off.
    public var gitPollInterval: Double?
    /// Registries (`host[:port]`) that may be reached over plain HTTP besides loopback ones.
    public var insecureRegistries: [String] = []
    /// Hosts (`HOST[:PORT]`) a build's ADD may fetch from though `OutboundAddressPolicy`
    /// refuses them otherwise (`--allow-add-host`).
    public var addHostAllowList: [String] = []
    /// How many builds run at once, across all images.
    public var maxConcurrentBuilds: Int
    /// Folders the host paths a client names (sources, buildpacks, stack folders and layouts,
    /// docker config files) must be in; nil allows any path the server can read.
    public var allowedSourceRoots: [String]?
    /// Cap on a source: bytes downloaded for a blob, and bytes a snapshot or an archive
    /// expands to (`--max-source-bytes`).
    public var maxSourceBytes: Int64 = 8 << 30
    /// The most bytes one layer a build step makes may hold (`--max-layer-bytes`).
    public var maxLayerBytes: Int64 = 10 << 30
    /// Cap on one build's log (`--max-log-bytes`); past it, lines are dropped and the log says so.
    public var maxLogBytes: Int64 = 1 << 30
    /// Seconds a system event is kept after it last happened (`--event-ttl`; the code engine
    /// keeps them 60 minutes).
    public var eventTTL: Double = 3600
    /// Seconds a stand-alone build run is kept after it succeeded, and after it failed (the
    /// code engine's 1 hour and 24 hours).
    public var buildRunTTLSucceeded: Double = 3600
    public var buildRunTTLFailed: Double = 86400
    /// What each namespace may hold (`--quota`).
    public var quota = Quota()
    /// How layers are compressed on push (`--layer-compression`), and at what level (nil:
    /// the algorithm's default).
    public var layerCompression = LayerCompression.gzip
    public var layerCompressionLevel: Int?
    /// PEM certificates trusted for every registry besides the system's (`--registry-ca`).
    public var registryCAFile: String?
    /// The most network an image or build run may ask for, and what they get by default
    /// (`--build-network`).
    public var buildNetwork = BuildNetwork.public
    /// How a buildpacks build gets its /workspace (`--workspace`): an overlay of the source
    /// snapshot's trees where overlayfs can be mounted, or always unpacked.
    public var workspace = WorkspaceMode.overlay
    /// What each build's steps may use, and how that is enforced (`--step-pids-limit`,
    /// `--step-memory`, `--step-limits`).
    public var stepLimits = StepLimits()
    /// `slipway-userns`, under which Dockerfile RUN steps run: beside the launcher.
    public var userNamespaceHelper: String {
        URL(fileURLWithPath: launcherPath).deletingLastPathComponent().appendingPathComponent("slipway-userns").path
    }

    public init(launcherPath: String, maxConcurrentBuilds: Int = 2, allowedSourceRoots: [String]? = nil, gitPollInterval: Double? = 60) {
        self.launcherPath = launcherPath
        self.gitPollInterval = gitPollInterval
        self.maxConcurrentBuilds = maxConcurrentBuilds
        self.allowedSourceRoots = allowedSourceRoots
    }
}
