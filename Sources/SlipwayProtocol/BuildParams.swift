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
