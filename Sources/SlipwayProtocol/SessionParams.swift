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

extension SubscribeParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("enable", ##"{"type": "array", "items": {"$ref": "#/components/schemas/NotificationKind"}}"##),
        ParamDescriptor("disable", ##"{"type": "array", "items": {"$ref": "#/components/schemas/NotificationKind"}}"##),
        ParamDescriptor("namespace", ##"{"type": "string"}"##, "Only notifications about this namespace; \"\" for all.")
    ]
}

extension SubscribeResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "notifications": {"type": "array", "items": {"$ref": "#/components/schemas/NotificationKind"}},
            "namespace": {"type": "string"}
          },
          "additionalProperties": false
        }
        """#
}
