/// The object an event is about.
public struct EventObject: Codable, Sendable, Equatable, Hashable {
    public var kind: String
    public var namespace: String?
    public var name: String
    public init(kind: String, namespace: String?, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }
}

/// A system event, like a Kubernetes event: what happened to which object, and how often.
public struct SystemEvent: Codable, Sendable, Equatable {
    /// Normal, or a Warning worth a look.
    public enum EventType: String, Codable, Sendable { case Normal, Warning }
    public var id: Int64
    public var type: EventType
    public var reason: String
    public var message: String
    public var object: EventObject
    public var time: String
    public var count: Int
}
