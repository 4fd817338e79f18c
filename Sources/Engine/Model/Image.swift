import BuildRuntime

/// Where an image's source comes from. Exactly one of `git`, `blob`, `local` is set.
public struct SourceSpec: Codable, Sendable, Equatable {
    /// A git repository and the revision to build.
    public struct Git: Codable, Sendable, Equatable {
        public var url: String
        /// A branch, a tag or a full commit SHA; default the remote's default branch.
        public var revision: String?
        /// Whether a branch or tag is polled for new commits (default true; commits never are).
        public var poll: Bool?
        public init(url: String, revision: String? = nil, poll: Bool? = nil) {
            self.url = url
            self.revision = revision
            self.poll = poll
        }
    }
    /// An archive at a URL.
    public struct Blob: Codable, Sendable, Equatable {
        public var url: String
        public var stripComponents: Int?
        public init(url: String, stripComponents: Int? = nil) { self.url = url; self.stripComponents = stripComponents }
    }
    /// A folder or archive on this machine.
    public struct Local: Codable, Sendable, Equatable {
        public var path: String
        public init(path: String) { self.path = path }
    }
    public var git: Git?
    public var blob: Blob?
    public var local: Local?
    public var subPath: String?
    /// What the source resolved to at create, patch or poll; set by the engine (ignored in params).
    public var resolved: ResolvedSource?

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

/// A source as the engine fixed it: the snapshot builds unpack, and for git the ref followed
/// and the commit it pointed at.
public struct ResolvedSource: Codable, Sendable, Equatable {
    public var snapshot: SourceSnapshot
    public var ref: String?
    public var commit: String?
    /// A commit SHA was asked for; it is never polled.
    public var pinned: Bool?
    /// Blob sources: the digest of the archive's bytes.
    public var archiveDigest: String?
    public var time: String

    public init(snapshot: SourceSnapshot, ref: String? = nil, commit: String? = nil, pinned: Bool? = nil, archiveDigest: String? = nil) {
        self.snapshot = snapshot
        self.ref = ref
        self.commit = commit
        self.pinned = pinned
        self.archiveDigest = archiveDigest
        time = Timestamp.now()
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

/// Whether the image's latest build is usable (`kp image status`).
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

    /// A build number and its reason summary.
    public struct BuildSummary: Codable, Sendable, Equatable {
        public var number: Int
        public var reason: String
    }
}
