import Foundation

/// Names one build: the image, and the build number (default: the latest).
public struct BuildParams: Codable, Sendable {
    public var image: String
    public var namespace: String?
    public var build: Int?
    public var resolvedNamespace: String { namespace ?? "default" }

    public init(image: String, namespace: String? = nil, build: Int? = nil) {
        self.image = image
        self.namespace = namespace
        self.build = build
    }
}

/// `build/list` params.
public struct BuildListParams: Codable, Sendable, PagedParams {
    public var image: String?
    public var namespace: String?
    /// At most this many items (default 500).
    public var limit: Int?
    /// Where the previous page ended (its `continue`).
    public var `continue`: String?

    public init(image: String? = nil, namespace: String? = nil, limit: Int? = nil, continue token: String? = nil) {
        self.image = image
        self.namespace = namespace
        self.limit = limit
        self.continue = token
    }
}

/// `build/logs` params.
public struct BuildLogsParams: Codable, Sendable {
    public var image: String
    public var namespace: String?
    public var build: Int?
    /// Stream lines as `build/log` notifications until the build ends.
    public var follow: Bool?
    /// First line to send (line numbers start at 1).
    public var since: Int?

    public init(image: String, namespace: String? = nil, build: Int? = nil, follow: Bool? = nil, since: Int? = nil) {
        self.image = image
        self.namespace = namespace
        self.build = build
        self.follow = follow
        self.since = since
    }
}

/// `build/wait` params.
public struct BuildWaitParams: Codable, Sendable {
    public var image: String
    public var namespace: String?
    public var build: Int?
    /// Seconds; on timeout the build is returned as it is then.
    public var timeout: Double?

    public init(image: String, namespace: String? = nil, build: Int? = nil, timeout: Double? = nil) {
        self.image = image
        self.namespace = namespace
        self.build = build
        self.timeout = timeout
    }
}

/// `event/list` params.
public struct EventListParams: Codable, Sendable, PagedParams {
    public var namespace: String?
    /// Only the events of this object (kind and name; namespace defaults to `namespace`).
    public var object: EventObject?
    public var type: SystemEvent.EventType?
    public var reason: String?
    /// Only events whose `lastTime` is at or after this time (RFC 3339), so a bumped event shows
    /// up again.
    public var since: String?
    /// At most this many events (default 500).
    public var limit: Int?
    /// Where the previous page ended (its `continue`).
    public var `continue`: String?

    public init(namespace: String? = nil, object: EventObject? = nil, type: SystemEvent.EventType? = nil, reason: String? = nil,
                since: String? = nil, limit: Int? = nil, continue token: String? = nil) {
        self.namespace = namespace
        self.object = object
        self.type = type
        self.reason = reason
        self.since = since
        self.limit = limit
        self.continue = token
    }
}

/// `buildrun/submit` params: one more build of an image (`image`), or a stand-alone build
/// with no build configuration behind it (`source` and the rest), as a code engine submits
/// build runs.
public struct BuildRunSpec: Codable, Sendable, Equatable {
    /// The run's name; generated when absent (a DNS label of at most 63 characters).
    public var name: String?
    public var namespace: String?
    /// A run of this image's configuration: build N+1 of it, reason TRIGGER.
    public var image: String?
    /// Stand-alone: where the source comes from (with `subPath`).
    public var source: SourceSpec?
    /// Stand-alone: `buildpacks` (the default) or `dockerfile`.
    public var strategy: BuildStrategy?
    /// Stand-alone, dockerfile: as on an image.
    public var dockerfile: String?
    public var buildArgs: [String: String]?
    public var target: String?
    public var contextDir: String?
    /// Stand-alone, buildpacks: the builder (default the ClusterBuilder `default`).
    public var builder: BuilderReference?
    /// Stand-alone: where the image goes; without it, an OCI layout that goes away with the run.
    public var tag: String?
    public var env: [String: String]?
    /// Stand-alone: seconds the build may take (default 10 minutes).
    public var timeout: Int?
    /// Stand-alone: the network build steps get (as on an image).
    public var network: BuildNetwork?

    public init(name: String? = nil, namespace: String? = nil, image: String? = nil, source: SourceSpec? = nil, strategy: BuildStrategy? = nil,
                builder: BuilderReference? = nil, tag: String? = nil, env: [String: String]? = nil, timeout: Int? = nil) {
        self.name = name
        self.namespace = namespace
        self.image = image
        self.source = source
        self.strategy = strategy
        self.builder = builder
        self.tag = tag
        self.env = env
        self.timeout = timeout
    }
}

/// Names one build run: `buildrun/get`, `cancel`, `delete`.
public struct BuildRunRef: Codable, Sendable {
    public var name: String
    public var namespace: String?

    public init(name: String, namespace: String? = nil) {
        self.name = name
        self.namespace = namespace
    }
}

/// `buildrun/logs` params.
public struct BuildRunLogsParams: Codable, Sendable {
    public var name: String
    public var namespace: String?
    /// Stream lines as `build/log` notifications until the run ends.
    public var follow: Bool?
    /// The first line to send (from 1).
    public var since: Int?

    public init(name: String, namespace: String? = nil, follow: Bool? = nil, since: Int? = nil) {
        self.name = name
        self.namespace = namespace
        self.follow = follow
        self.since = since
    }
}

/// `buildrun/wait` params.
public struct BuildRunWaitParams: Codable, Sendable {
    public var name: String
    public var namespace: String?
    /// Seconds to wait at most; then the run as it is.
    public var timeout: Double?

    public init(name: String, namespace: String? = nil, timeout: Double? = nil) {
        self.name = name
        self.namespace = namespace
        self.timeout = timeout
    }
}

/// `buildrun/events` params.
public struct BuildRunEventsParams: Codable, Sendable, PagedParams {
    public var name: String
    public var namespace: String?
    public var limit: Int?
    public var `continue`: String?

    public init(name: String, namespace: String? = nil, limit: Int? = nil, continue token: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.limit = limit
        self.continue = token
    }
}

extension BuildRunSpec: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("name", ##"{"$ref": "#/components/schemas/Name"}"##, "Generated when absent: <image or buildrun>-run-<6 characters>."),
        .namespace,
        ParamDescriptor("image", ##"{"$ref": "#/components/schemas/Name"}"##, "A run of this image's configuration."),
        ParamDescriptor("source", ##"{"$ref": "#/components/schemas/SourceSpec"}"##, "Stand-alone: where the source comes from (local, git or blob; subPath)."),
        ParamDescriptor("strategy", ##"{"enum": ["buildpacks", "dockerfile"]}"##, "Stand-alone: buildpacks (the default) or dockerfile."),
        ParamDescriptor("dockerfile", ##"{"type": "string"}"##, "Dockerfile strategy: the Dockerfile's path in the build context (default Dockerfile). A change is a CONFIG reason."),
        ParamDescriptor("buildArgs", ##"{"type": "object", "additionalProperties": {"type": "string"}}"##, "Dockerfile strategy: ARG values (at most 1,000; names as ARG names). On patch the whole map is replaced. A change is a CONFIG reason."),
        ParamDescriptor("target", ##"{"type": "string"}"##, "Dockerfile strategy: the stage to build, by name or index (default: the last). A change is a CONFIG reason."),
        ParamDescriptor("contextDir", ##"{"type": "string"}"##, "Dockerfile strategy: the build context's folder in the source, relative (default: its root). A change is a CONFIG reason."),
        ParamDescriptor("builder", ##"{"$ref": "#/components/schemas/BuilderReference"}"##, "Stand-alone: default ClusterBuilder/default."),
        ParamDescriptor("tag", ##"{"type": "string"}"##, "Stand-alone: where the image goes; without it an OCI layout that goes away with the run."),
        ParamDescriptor("env", ##"{"type": "object", "additionalProperties": {"type": "string"}}"##),
        ParamDescriptor("timeout", ##"{"type": "integer"}"##, "Stand-alone: seconds (default 600)."),
        ParamDescriptor("network", ##"{"type": "string", "enum": ["none", "public"]}"##, "Stand-alone: the network build steps get, as on an image (default: the engine's --build-network).")
    ]
}

extension BuildRunRef: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace
    ]
}

extension BuildRunLogsParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace,
        ParamDescriptor("follow", ##"{"type": "boolean"}"##),
        ParamDescriptor("since", ##"{"type": "integer"}"##, "First line number to send (from 1).")
    ]
}

extension BuildRunWaitParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace,
        ParamDescriptor("timeout", ##"{"type": "number"}"##)
    ]
}

extension BuildRunEventsParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace,
        .limit,
        .pageContinue
    ]
}

extension BuildListParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("image", ##"{"$ref": "#/components/schemas/Name"}"##),
        .namespace,
        .limit,
        .pageContinue
    ]
}

extension BuildParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("image", ##"{"$ref": "#/components/schemas/Name"}"##, required: true),
        .namespace,
        ParamDescriptor("build", ##"{"type": "integer"}"##, "Build number; default the latest build.")
    ]
}

extension BuildLogsParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("image", ##"{"$ref": "#/components/schemas/Name"}"##, required: true),
        .namespace,
        ParamDescriptor("build", ##"{"type": "integer"}"##, "Build number; default the latest build."),
        ParamDescriptor("follow", ##"{"type": "boolean"}"##),
        ParamDescriptor("since", ##"{"type": "integer"}"##, "First line number to send (from 1)."),
        ParamDescriptor("workDoneToken", ##"{"type": ["string", "integer"]}"##, "LSP: with follow, report $/progress begin and end.")
    ]
}

extension BuildWaitParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("image", ##"{"$ref": "#/components/schemas/Name"}"##, required: true),
        .namespace,
        ParamDescriptor("build", ##"{"type": "integer"}"##, "Build number; default the latest build."),
        ParamDescriptor("timeout", ##"{"type": "number"}"##),
        ParamDescriptor("workDoneToken", ##"{"type": ["string", "integer"]}"##, "LSP: report $/progress begin and end.")
    ]
}

extension EventListParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .namespace,
        ParamDescriptor("object", ##"{"$ref": "#/components/schemas/EventObject"}"##, "Only the events of this object (kind and name)."),
        ParamDescriptor("type", ##"{"enum": ["Normal", "Warning"]}"##),
        ParamDescriptor("reason", ##"{"type": "string"}"##),
        ParamDescriptor("since", ##"{"$ref": "#/components/schemas/Timestamp"}"##, "Only events whose lastTime is at or after this time, so a bumped event shows up again."),
        .limit,
        .pageContinue
    ]
}
