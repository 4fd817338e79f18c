import Foundation

/// `session/subscribe`: turn notification kinds on or off for this session.
public struct SubscribeParams: Codable, Sendable {
    /// Kinds to turn on: `build/log` (every build's log lines), `build/statusChanged`,
    /// `image/statusChanged`, `event`.
    public var enable: [String]?
    public var disable: [String]?
    /// Only notifications about this namespace; "" or null for all.
    public var namespace: String?

    public init(enable: [String]? = nil, disable: [String]? = nil, namespace: String? = nil) {
        self.enable = enable
        self.disable = disable
        self.namespace = namespace
    }
}

/// `session/subscribe` result: the kinds now on.
public struct SubscribeResult: Codable, Sendable {
    public var notifications: [String]
    public var namespace: String?

    public init(notifications: [String], namespace: String? = nil) {
        self.notifications = notifications
        self.namespace = namespace
    }
}
