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
    /// Stored flat under the keys `dockerfile`, `buildArgs`, `target` and `contextDir`, as
    /// images always were (see `dockerfile`).
    private var dockerfilePath: String?
    private var buildArgs: [String: String]?
    private var target: String?
    private var contextDir: String?
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

    /// The image's JSON in the store; the Dockerfile settings keep their flat keys.
    private enum CodingKeys: String, CodingKey {
        case namespace, name, tag, additionalTags, builder, source, env, strategy, buildArgs, target, contextDir, buildTimeout, network,
             successBuildHistoryLimit, failedBuildHistoryLimit, created, status, buildRun, incarnation
        case dockerfilePath = "dockerfile"
    }

    public init(namespace: String, name: String, tag: String, additionalTags: [String], builder: BuilderReference, source: SourceSpec,
                env: [String: String], strategy: BuildStrategy, dockerfile: DockerfileSettings?, buildTimeout: Int?, network: BuildNetwork? = nil,
                successBuildHistoryLimit: Int, failedBuildHistoryLimit: Int, created: String, status: ImageStatus, buildRun: String? = nil,
                incarnation: String? = nil) {
        self.namespace = namespace
        self.name = name
        self.tag = tag
        self.additionalTags = additionalTags
        self.builder = builder
        self.source = source
        self.env = env
        self.strategy = strategy
        self.buildTimeout = buildTimeout
        self.network = network
        self.successBuildHistoryLimit = successBuildHistoryLimit
        self.failedBuildHistoryLimit = failedBuildHistoryLimit
        self.created = created
        self.status = status
        self.buildRun = buildRun
        self.incarnation = incarnation
        self.dockerfile = dockerfile
    }

    /// The Dockerfile settings as the image was given them (a field nil where none was: its
    /// default applies). Nil for a buildpacks image, unless it was given some anyway (they are
    /// kept, shown, and used if the strategy becomes `dockerfile`).
    public var dockerfile: DockerfileSettings? {
        get {
            let given = DockerfileSettings(path: dockerfilePath, buildArgs: buildArgs, target: target, contextDir: contextDir)
            return strategy == .dockerfile || !given.isEmpty ? given : nil
        }
        set {
            (dockerfilePath, buildArgs, target, contextDir) = (newValue?.path, newValue?.buildArgs, newValue?.target, newValue?.contextDir)
        }
    }

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
