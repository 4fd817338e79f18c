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

extension ImageSpec: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace,
        ParamDescriptor("tag", ##"{"type": "string"}"##, "Where builds go: a registry reference host[:port]/repo[:tag] (pushed with the OCI distribution API, also as the BuildNumber tag <tag>-b<N>.<YYYYMMDD>.<HHMMSS>), or oci:/absolute/dir[:tag] (an OCI image layout). Default: an OCI layout under the state directory (STATE/layouts/NAMESPACE/NAME:latest). Immutable after create."),
        ParamDescriptor("additionalTags", ##"{"type": "array", "items": {"type": "string"}}"##, "More registry references in the same repository to tag each build with."),
        ParamDescriptor("builder", ##"{"$ref": "#/components/schemas/BuilderReference"}"##, "Default {\"kind\": \"ClusterBuilder\", \"name\": \"default\"}."),
        ParamDescriptor("source", ##"{"$ref": "#/components/schemas/SourceSpec"}"##),
        ParamDescriptor("env", ##"{"type": "object", "additionalProperties": {"type": "string"}}"##, "Build-time environment; on patch, merged into the image's env."),
        ParamDescriptor("deleteEnv", ##"{"type": "array", "items": {"type": "string"}}"##, "Patch only: env names to remove."),
        ParamDescriptor("strategy", ##"{"enum": ["buildpacks", "dockerfile"]}"##, "buildpacks (the default) or dockerfile: the image is built from the Dockerfile in its source (no builder needed)."),
        ParamDescriptor("dockerfile", ##"{"type": "string"}"##, "Dockerfile strategy: the Dockerfile's path in the build context (default Dockerfile). A change is a CONFIG reason."),
        ParamDescriptor("buildArgs", ##"{"type": "object", "additionalProperties": {"type": "string"}}"##, "Dockerfile strategy: ARG values (at most 1,000; names as ARG names). On patch the whole map is replaced. A change is a CONFIG reason."),
        ParamDescriptor("target", ##"{"type": "string"}"##, "Dockerfile strategy: the stage to build, by name or index (default: the last). A change is a CONFIG reason."),
        ParamDescriptor("contextDir", ##"{"type": "string"}"##, "Dockerfile strategy: the build context's folder in the source, relative (default: its root). A change is a CONFIG reason."),
        ParamDescriptor("buildTimeout", ##"{"type": "integer"}"##, "Seconds (default 600); a build taking longer ends as FAILURE."),
        ParamDescriptor("network", ##"{"type": "string", "enum": ["none", "public"]}"##, "The network build steps get (buildpacks and RUN steps): none (only the step's own loopback) or public (outbound through slirp4netns; the host's loopback unreachable). Default, and the most allowed: the engine's --build-network (public unless set). A change is a CONFIG reason."),
        ParamDescriptor("successBuildHistoryLimit", ##"{"type": "integer"}"##, "Successful builds kept (default 10)."),
        ParamDescriptor("failedBuildHistoryLimit", ##"{"type": "integer"}"##, "Failed builds kept (default 10)."),
        ParamDescriptor("dryRun", ##"{"type": "boolean"}"##, "Validate and report without storing or building."),
        ParamDescriptor("clearCache", ##"{"type": "boolean"}"##, "Patch only: empty the image's build cache; the next build starts cold.")
    ]
}

extension ImageListParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .namespace,
        ParamDescriptor("allNamespaces", ##"{"type": "boolean"}"##),
        ParamDescriptor("filter", #"""
            {
              "type": "object",
              "properties": {
                "ready": {"$ref": "#/components/schemas/ReadyState"},
                "builder": {"type": "string"},
                "latestReason": {"type": "string"}
              },
              "additionalProperties": false
            }
            """#),
        .limit,
        .pageContinue
    ]
}

extension ImageRow: NamedSchema {
    public static let schemaName = "ImageRow"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "ready": {"$ref": "#/components/schemas/ReadyState"},
            "latestReason": {"type": "string"},
            "latestImage": {"type": "string"},
            "builder": {"type": "string"}
          },
          "additionalProperties": false
        }
        """#
}
