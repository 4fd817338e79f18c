import Foundation

/// One line of a build's log: of build `build` of `image`, or of the stand-alone build run
/// `buildrun`.
public struct BuildLogLine: Codable, Sendable, Equatable {
    public var namespace: String
    public var image: String?
    public var build: Int?
    public var buildrun: String?
    public var seq: Int
    public var phase: String
    public var stream: String
    public var line: String
    public var time: String

    public init(namespace: String, image: String?, build: Int?, buildrun: String? = nil, seq: Int, phase: String, stream: String, line: String,
                time: String) {
        self.namespace = namespace
        self.image = image
        self.build = build
        self.buildrun = buildrun
        self.seq = seq
        self.phase = phase
        self.stream = stream
        self.line = line
        self.time = time
    }
}

/// Params of `build/statusChanged`: of build `build` of `image`, or of the stand-alone build run
/// `buildrun` (a run of an image has all three).
public struct BuildStatusChange: Codable, Sendable, Equatable {
    public var namespace: String
    public var image: String?
    public var build: Int?
    public var buildrun: String?
    public var status: BuildState
    public var previous: BuildState?
    public var phase: String?
    public var message: String?
    public var time: String

    public init(namespace: String, image: String?, build: Int?, buildrun: String? = nil, status: BuildState, previous: BuildState? = nil,
                phase: String? = nil, message: String? = nil, time: String) {
        self.namespace = namespace
        self.image = image
        self.build = build
        self.buildrun = buildrun
        self.status = status
        self.previous = previous
        self.phase = phase
        self.message = message
        self.time = time
    }
}

/// Params of `image/statusChanged`.
public struct ImageStatusChange: Codable, Sendable, Equatable {
    public var namespace: String
    public var image: String
    public var ready: ReadyState
    public var previous: ReadyState?
    public var latestImage: String?
    public var time: String

    public init(namespace: String, image: String, ready: ReadyState, previous: ReadyState? = nil, latestImage: String? = nil, time: String) {
        self.namespace = namespace
        self.image = image
        self.ready = ready
        self.previous = previous
        self.latestImage = latestImage
        self.time = time
    }
}

/// The kinds of notification a session can turn on and off; named by their method.
public enum NotificationKind: String, Codable, Sendable, CaseIterable {
    case buildLog = "build/log"
    case buildStatusChanged = "build/statusChanged"
    case imageStatusChanged = "image/statusChanged"
    case event = "event"

    /// What a new session gets: status and events; log lines only for builds it follows.
    public static let defaults: Set<NotificationKind> = [.buildStatusChanged, .imageStatusChanged, .event]
}

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

/// A system event, like a Kubernetes event: what happened to which object, and how often. The
/// same object, reason and message again bumps `count` and `lastTime` (as kubectl aggregates);
/// `time` is `lastTime`, for clients from before the two times.
public struct SystemEvent: Codable, Sendable, Equatable {
    /// Normal, or a Warning worth a look.
    public enum EventType: String, Codable, Sendable, CaseIterable { case Normal, Warning }
    public var id: Int64
    public var type: EventType
    public var reason: String
    public var message: String
    public var object: EventObject
    public var time: String
    public var count: Int
    /// When it first happened.
    public var firstTime: String
    /// When it last happened (the same as `time`).
    public var lastTime: String

    public init(id: Int64, type: EventType, reason: String, message: String, object: EventObject, firstTime: String, lastTime: String, count: Int) {
        self.id = id
        self.type = type
        self.reason = reason
        self.message = message
        self.object = object
        self.time = lastTime
        self.count = count
        self.firstTime = firstTime
        self.lastTime = lastTime
    }

    enum CodingKeys: String, CodingKey { case id, type, reason, message, object, time, count, firstTime, lastTime }

    /// Events stored before `firstTime` and `lastTime` existed have `time` only.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int64.self, forKey: .id)
        type = try c.decode(EventType.self, forKey: .type)
        reason = try c.decode(String.self, forKey: .reason)
        message = try c.decode(String.self, forKey: .message)
        object = try c.decode(EventObject.self, forKey: .object)
        time = try c.decode(String.self, forKey: .time)
        count = try c.decode(Int.self, forKey: .count)
        firstTime = try c.decodeIfPresent(String.self, forKey: .firstTime) ?? time
        lastTime = try c.decodeIfPresent(String.self, forKey: .lastTime) ?? time
    }
}

extension NotificationKind: NamedSchema {
    public static let schemaName = "NotificationKind"
    public static let definition: JSONSchema = ##"{"enum": ["build/log", "build/statusChanged", "image/statusChanged", "event"]}"##
}

extension BuildLogLine: NamedSchema {
    public static let schemaName = "BuildLogLine"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "namespace": {"type": "string"},
            "image": {"type": "string"},
            "build": {"type": "integer"},
            "buildrun": {
              "type": "string",
              "description": "A stand-alone build run's lines carry its name instead of image and build."
            },
            "seq": {"type": "integer"},
            "phase": {
              "type": "string",
              "description": "prepare, detect, analyze, restore, build, export or completion; rebase for a rebase"
            },
            "stream": {"enum": ["stdout", "stderr", "system"]},
            "line": {"type": "string"},
            "time": {"$ref": "#/components/schemas/Timestamp"}
          },
          "additionalProperties": false
        }
        """#
}

extension EventObject: NamedSchema {
    public static let schemaName = "EventObject"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "kind": {
              "type": "string",
              "description": "Image, BuildRun, Secret, ClusterStack, ClusterStore, ClusterBuilder, Builder"
            },
            "namespace": {"type": "string"},
            "name": {"type": "string"}
          },
          "additionalProperties": false,
          "required": ["kind", "name"]
        }
        """#
}

extension SystemEvent: NamedSchema {
    public static let schemaName = "SystemEvent"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "id": {"type": "integer"},
            "type": {"enum": ["Normal", "Warning"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "object": {"$ref": "#/components/schemas/EventObject"},
            "time": {"$ref": "#/components/schemas/Timestamp", "description": "The same as lastTime."},
            "count": {"type": "integer"},
            "firstTime": {"$ref": "#/components/schemas/Timestamp"},
            "lastTime": {"$ref": "#/components/schemas/Timestamp"}
          },
          "additionalProperties": false
        }
        """#
}

/// `build/log`: one line of a followed build's log (or of every build's, when enabled).
public enum BuildLogNotification: RPCNotification {
    public typealias Params = BuildLogLine
    public static let method = NotificationKind.buildLog.rawValue
}

/// `build/statusChanged`: a build moved to another state.
public enum BuildStatusChangedNotification: RPCNotification {
    public typealias Params = BuildStatusChange
    public static let method = NotificationKind.buildStatusChanged.rawValue
}

/// `image/statusChanged`: an image's readiness changed.
public enum ImageStatusChangedNotification: RPCNotification {
    public typealias Params = ImageStatusChange
    public static let method = NotificationKind.imageStatusChanged.rawValue
}

/// `event`: a system event was recorded or bumped.
public enum EventNotification: RPCNotification {
    public typealias Params = SystemEvent
    public static let method = NotificationKind.event.rawValue
}

/// `initialized`: the client's acknowledgement of `initialize` (LSP); nothing to carry.
public enum InitializedNotification: RPCNotification {
    public typealias Params = EmptyParams
    public static let method = "initialized"
}

/// The notifications the connection layer (JSON-RPC and LSP) handles itself, by name: those a
/// client may send besides `initialized`, and those the server sends besides the kinds above.
public enum ConnectionNotifications {
    public static let fromClient = ["exit", "$/cancelRequest", "$/setTrace"]
    public static let fromServer = ["$/progress", "$/logTrace", "window/logMessage"]
}
