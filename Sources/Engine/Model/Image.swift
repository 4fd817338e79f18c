import SlipwayProtocol
import BuildRuntime




/// An image: a build configuration (kpack's Image resource), and its status.
public struct Image: Codable, Sendable, Equatable {
    public var namespace: String
    public var name: String
    /// Where builds go (`oci:DIR:TAG`); immutable after create.
    public var tag: String
    public var additionalTags: [String]
    public var builder: BuilderReference
    public var source: SourceSpec
    public var env: [String: String]
    public var strategy: BuildStrategy
    public var dockerfile: String?
    /// Dockerfile strategy: build args, the target stage, the context's folder in the source.
    public var buildArgs: [String: String]?
    public var target: String?
    public var contextDir: String?
    /// Seconds; nil for no limit.
    public var buildTimeout: Int?
    /// The network build steps get; nil for the engine's `--build-network`.
    public var network: BuildNetwork? = nil
    public var successBuildHistoryLimit: Int
    public var failedBuildHistoryLimit: Int
    public var created: String
    public var status: ImageStatus
    /// Set on the image that carries a stand-alone build run: the run's name. Such an image is
    /// no build configuration: it is not listed, polled, rebuilt or counted as an image, and it
    /// goes away with its run. Its name (`run.<name>`) cannot collide with an image's.
    public var buildRun: String?
    /// A random id made when the image is created, as a Kubernetes object's `metadata.uid`: it
    /// tells this image from an earlier one of the same name that was deleted, whose build may
    /// still be ending while this one's build of the same number runs (`BuildKey.incarnation`).
    /// Images stored before it existed get one at the engine's start; nil only until then.
    public var incarnation: String? = nil

    /// The key of this image's build `number`.
    public func buildKey(_ number: Int) -> BuildKey {
        BuildKey(namespace: namespace, image: name, number: number, incarnation: incarnation ?? "")
    }

    /// The name of the image that carries the stand-alone run `name` (see `BuildKey.standaloneRun`).
    public static func carrier(ofRun name: String) -> String { "run." + name }

    /// A build configuration (not the carrier of a stand-alone run).
    public var isConfiguration: Bool { buildRun == nil }
}


/// What `image/status` shows, as `kp image status` does.
public struct ImageStatus: Codable, Sendable, Equatable {
    public var ready: ReadyState
    public var message: String?
    public var latestImage: String?
    public var latestBuild: Int?
    public var latestReason: String?
    public var lastSuccessfulBuild: BuildSummary?
    public var lastFailedBuild: BuildSummary?
    /// Dockerfile strategy: what the FROM images of the last successful build resolve to now,
    /// as polling last found them.
    public var dockerfileBases: [String: String]?
    /// The next build number to hand out: numbers are never reused by an image, and an image
    /// created again under a deleted one's name starts at 1 (as kpack's do).
    public var nextBuildNumber: Int

    /// A build number and its reason summary.
    public struct BuildSummary: Codable, Sendable, Equatable {
        public var number: Int
        public var reason: String
    }
}

extension SnapshotSummary {
    /// How the protocol shows a snapshot the runtime made.
    init(_ s: SourceSnapshot) { self.init(digest: s.digest.string, files: s.files, bytes: s.bytes) }
}
