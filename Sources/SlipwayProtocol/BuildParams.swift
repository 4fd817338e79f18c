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
public struct BuildListParams: Codable, Sendable {
    public var image: String?
    public var namespace: String?

    public init(image: String? = nil, namespace: String? = nil) {
        self.image = image
        self.namespace = namespace
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
public struct EventListParams: Codable, Sendable {
    public var namespace: String?
    public var object: EventObject?
    /// Only events with an id greater than this.
    public var since: Int64?

    public init(namespace: String? = nil, object: EventObject? = nil, since: Int64? = nil) {
        self.namespace = namespace
        self.object = object
        self.since = since
    }
}
