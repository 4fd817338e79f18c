import Foundation

/// Params of `image/create`, `image/patch` and `image/save`. On patch every field is optional.
public struct ImageSpec: Codable, Sendable {
    public var name: String
    public var namespace: String?
    public var tag: String?
    public var additionalTags: [String]?
    public var builder: BuilderReference?
    public var source: SourceSpec?
    public var env: [String: String]?
    /// Patch only: env names to remove.
    public var deleteEnv: [String]?
    public var strategy: BuildStrategy?
    /// Dockerfile strategy: the Dockerfile's path in the context (default `Dockerfile`).
    public var dockerfile: String?
    /// Dockerfile strategy: build args (ARG values).
    public var buildArgs: [String: String]?
    /// Dockerfile strategy: the stage to build (default the last).
    public var target: String?
    /// Dockerfile strategy: the context's folder in the source (default its root).
    public var contextDir: String?
    public var buildTimeout: Int?
    /// The network build steps get (default, and at most: the engine's `--build-network`).
    public var network: BuildNetwork?
    public var successBuildHistoryLimit: Int?
    public var failedBuildHistoryLimit: Int?
    public var dryRun: Bool?
    /// Patch only: empty the image's build cache (the next build starts cold).
    public var clearCache: Bool?

    public init(name: String, namespace: String? = nil, tag: String? = nil, additionalTags: [String]? = nil, builder: BuilderReference? = nil, source: SourceSpec? = nil, env: [String: String]? = nil, deleteEnv: [String]? = nil, strategy: BuildStrategy? = nil, dockerfile: String? = nil, buildArgs: [String: String]? = nil, target: String? = nil, contextDir: String? = nil, buildTimeout: Int? = nil, network: BuildNetwork? = nil, successBuildHistoryLimit: Int? = nil, failedBuildHistoryLimit: Int? = nil, dryRun: Bool? = nil) {
        self.network = network
        self.buildArgs = buildArgs
        self.target = target
        self.contextDir = contextDir
        self.name = name
        self.namespace = namespace
        self.tag = tag
        self.additionalTags = additionalTags
        self.builder = builder
        self.source = source
        self.env = env
        self.deleteEnv = deleteEnv
        self.strategy = strategy
        self.dockerfile = dockerfile
        self.buildTimeout = buildTimeout
        self.successBuildHistoryLimit = successBuildHistoryLimit
        self.failedBuildHistoryLimit = failedBuildHistoryLimit
        self.dryRun = dryRun
    }
}

public struct ImageFilter: Codable, Sendable {
    public var ready: ReadyState?
    public var builder: String?
    public var latestReason: String?

    public init(ready: ReadyState? = nil, builder: String? = nil, latestReason: String? = nil) {
        self.ready = ready
        self.builder = builder
        self.latestReason = latestReason
    }
}

/// `image/list` params.
public struct ImageListParams: Codable, Sendable, PagedParams {
    public var namespace: String?
    public var allNamespaces: Bool?
    public var filter: ImageFilter?
    /// At most this many items (default 500).
    public var limit: Int?
    /// Where the previous page ended (its `continue`).
    public var `continue`: String?

    public init(namespace: String? = nil, allNamespaces: Bool? = nil, filter: ImageFilter? = nil, limit: Int? = nil, continue token: String? = nil) {
        self.namespace = namespace
        self.allNamespaces = allNamespaces
        self.filter = filter
        self.limit = limit
        self.continue = token
    }
}

/// A row of `image/list`.
public struct ImageRow: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var ready: ReadyState
    public var latestReason: String?
    public var latestImage: String?
    public var builder: String

    public init(name: String, namespace: String, ready: ReadyState, latestReason: String? = nil, latestImage: String? = nil, builder: String) {
        self.name = name
        self.namespace = namespace
        self.ready = ready
        self.latestReason = latestReason
        self.latestImage = latestImage
        self.builder = builder
    }
}
