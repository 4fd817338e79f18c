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
