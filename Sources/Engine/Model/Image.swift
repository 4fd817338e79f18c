import BuildRuntime

/// Where an image's source comes from. Exactly one of `git`, `blob`, `local` is set.
public struct SourceSpec: Codable, Sendable, Equatable {
    public struct Git: Codable, Sendable, Equatable {
        public var url: String
        public var revision: String?
        public init(url: String, revision: String? = nil) { self.url = url; self.revision = revision }
    }
    public struct Blob: Codable, Sendable, Equatable {
        public var url: String
        public var stripComponents: Int?
        public init(url: String, stripComponents: Int? = nil) { self.url = url; self.stripComponents = stripComponents }
    }
    public struct Local: Codable, Sendable, Equatable {
        public var path: String
        /// The snapshot taken at create/patch; set by the engine.
        public var snapshot: SourceSnapshot?
        public init(path: String) { self.path = path }
    }
    public var git: Git?
    public var blob: Blob?
    public var local: Local?
    public var subPath: String?

    public init(git: Git? = nil, blob: Blob? = nil, local: Local? = nil, subPath: String? = nil) {
        self.git = git
        self.blob = blob
        self.local = local
        self.subPath = subPath
    }

    public var type: String {
        if git != nil { return "Git" }
        if blob != nil { return "Blob" }
        return "Local Source"
    }
}

/// The build strategy of an image.
public enum BuildStrategy: String, Codable, Sendable { case buildpacks, dockerfile }

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
    /// Seconds; nil for no limit.
    public var buildTimeout: Int?
    public var successBuildHistoryLimit: Int
    public var failedBuildHistoryLimit: Int
    public var created: String
    public var status: ImageStatus
}

public enum ReadyState: String, Codable, Sendable { case Ready, NotReady, Building, Unknown }

/// What `image/status` shows, as `kp image status` does.
public struct ImageStatus: Codable, Sendable, Equatable {
    public var ready: ReadyState
    public var message: String?
    public var latestImage: String?
    public var latestBuild: Int?
    public var latestReason: String?
    public var lastSuccessfulBuild: BuildSummary?
    public var lastFailedBuild: BuildSummary?
    /// The next build number to hand out; build numbers are never reused.
    public var nextBuildNumber: Int

    public struct BuildSummary: Codable, Sendable, Equatable {
        public var number: Int
        public var reason: String
    }
}
