import SlipwayProtocol
import Engine

/// `image/create` result.
public struct CreateImageResult: Codable, Sendable {
    public var image: Image
    /// The number of the build it started (absent on dryRun).
    public var build: Int?

    public init(image: Image, build: Int? = nil) {
        self.image = image
        self.build = build
    }
}

/// `image/patch` and `image/save` result.
public struct PatchImageResult: Codable, Sendable {
    public var image: Image
    /// False when no build input changed; then no build was started.
    public var changed: Bool
    public var build: Int?

    public init(image: Image, changed: Bool, build: Int? = nil) {
        self.image = image
        self.changed = changed
        self.build = build
    }
}

/// `image/status`: what `kp image status` shows.
public struct ImageStatusResult: Codable, Sendable {
    public var name: String
    public var namespace: String
    public var tag: String
    public var ready: ReadyState
    public var message: String?
    public var latestImage: String?
    public var latestBuild: Int?
    public var latestReason: String?
    public var lastSuccessfulBuild: ImageStatus.BuildSummary?
    public var lastFailedBuild: ImageStatus.BuildSummary?
    public var source: SourceInfo
    public var builder: BuilderReference
    /// Bytes in the image's build cache.
    public var cacheBytes: Int64?

    public init(_ i: Image, cacheBytes: Int64? = nil) {
        self.cacheBytes = cacheBytes
        name = i.name
        namespace = i.namespace
        tag = i.tag
        ready = i.status.ready
        message = i.status.message
        latestImage = i.status.latestImage
        latestBuild = i.status.latestBuild
        latestReason = i.status.latestReason
        lastSuccessfulBuild = i.status.lastSuccessfulBuild
        lastFailedBuild = i.status.lastFailedBuild
        source = SourceInfo(type: i.source.kind, url: i.source.git?.url ?? i.source.blob?.url, revision: i.source.resolved?.commit,
                            ref: i.source.resolved?.ref, path: i.source.local?.path, digest: i.source.resolved?.snapshot.digest, subPath: i.source.subPath)
        builder = i.builder
    }
}

/// Where a build's or image's source came from.
public struct SourceInfo: Codable, Sendable {
    public var type: SourceKind
    public var url: String?
    /// Git: the commit SHA built.
    public var revision: String?
    /// Git: the branch or tag followed (or the pinned commit).
    public var ref: String?
    public var path: String?
    public var digest: String?
    public var subPath: String?

    public init(type: SourceKind, url: String? = nil, revision: String? = nil, ref: String? = nil, path: String? = nil, digest: String? = nil, subPath: String? = nil) {
        self.type = type
        self.url = url
        self.revision = revision
        self.ref = ref
        self.path = path
        self.digest = digest
        self.subPath = subPath
    }
}


/// `image/list` result.
public struct ImageListResult: Codable, Sendable {
    public var images: [ImageRow]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?

    public init(images: [ImageRow], continue next: String? = nil) {
        self.images = images
        self.continue = next
    }
}

/// `image/trigger` result.
public struct TriggerResult: Codable, Sendable {
    public var build: Int

    public init(build: Int) {
        self.build = build
    }
}
