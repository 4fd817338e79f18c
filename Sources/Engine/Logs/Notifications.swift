import Foundation
import Synchronization

/// One line of a build's log.
public struct BuildLogLine: Codable, Sendable, Equatable {
    public var namespace: String
    public var image: String
    public var build: Int
    public var seq: Int
    public var phase: String
    public var stream: String
    public var line: String
    public var time: String
}

/// Params of `build/statusChanged`.
public struct BuildStatusChange: Codable, Sendable, Equatable {
    public var namespace: String
    public var image: String
    public var build: Int
    public var status: BuildState
    public var previous: BuildState?
    public var phase: String?
    public var message: String?
    public var time: String
}

/// Params of `image/statusChanged`.
public struct ImageStatusChange: Codable, Sendable, Equatable {
    public var namespace: String
    public var image: String
    public var ready: ReadyState
    public var previous: ReadyState?
    public var latestImage: String?
    public var time: String
}

/// Something the engine tells the sessions that want to know.
public enum EngineNotification: Sendable, Equatable {
    case buildLog(BuildLogLine)
    case buildStatusChanged(BuildStatusChange)
    case imageStatusChanged(ImageStatusChange)
    case event(SystemEvent)

    public var kind: NotificationKind {
        switch self {
        case .buildLog: return .buildLog
        case .buildStatusChanged: return .buildStatusChanged
        case .imageStatusChanged: return .imageStatusChanged
        case .event: return .event
        }
    }

    var namespace: String? {
        switch self {
        case .buildLog(let l): return l.namespace
        case .buildStatusChanged(let s): return s.namespace
        case .imageStatusChanged(let s): return s.namespace
        case .event(let e): return e.object.namespace
        }
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

/// Identifies one build.
public struct BuildKey: Hashable, Sendable {
    public var namespace: String
    public var image: String
    public var number: Int
}

/// What flows to a session's forwarder, in order: notifications, and barriers that let a
/// request wait until everything queued before it was sent.
public enum SessionMessage: Sendable {
    case notification(EngineNotification)
    case barrier(CheckedContinuation<Void, Never>)
}

/// One client's view of the engine: which notifications it wants, which builds' logs it
/// follows, and one ordered stream of everything it is sent.
public final class EngineSession: Sendable {
    public let id: Int
    public let messages: AsyncStream<SessionMessage>
    private let continuation: AsyncStream<SessionMessage>.Continuation
    private let state = Mutex(State())

    struct State {
        var kinds = NotificationKind.defaults
        var namespace: String?
        var followed: Set<BuildKey> = []
    }

    init(id: Int) {
        self.id = id
        (messages, continuation) = AsyncStream.makeStream(of: SessionMessage.self)
    }

    /// Turns notification kinds on or off and optionally limits them to one namespace;
    /// returns the kinds now on.
    public func configure(enable: [NotificationKind], disable: [NotificationKind], namespace: String??) -> [NotificationKind] {
        state.withLock { s in
            s.kinds.formUnion(enable)
            s.kinds.subtract(disable)
            if let namespace { s.namespace = namespace }
            return NotificationKind.allCases.filter(s.kinds.contains)
        }
    }

    public var enabledKinds: [NotificationKind] { state.withLock { s in NotificationKind.allCases.filter(s.kinds.contains) } }

    func deliver(_ n: EngineNotification) {
        let wanted = state.withLock { s -> Bool in
            if let ns = s.namespace, let nns = n.namespace, ns != nns { return false }
            if case .buildLog(let l) = n, s.followed.contains(BuildKey(namespace: l.namespace, image: l.image, number: l.build)) {
                return true
            }
            return s.kinds.contains(n.kind)
        }
        if wanted { continuation.yield(.notification(n)) }
    }

    /// Delivers a log line to a session that follows its build, whatever its subscriptions.
    func deliverFollowed(_ line: BuildLogLine) { continuation.yield(.notification(.buildLog(line))) }

    func follow(_ key: BuildKey, _ on: Bool) {
        state.withLock { s in if on { s.followed.insert(key) } else { s.followed.remove(key) } }
    }

    /// Returns once every message queued before this call has been handled by the forwarder.
    public func flush() async {
        await withCheckedContinuation { c in continuation.yield(.barrier(c)) }
    }

    func close() { continuation.finish() }
}

/// All open sessions, for fan-out from any thread.
final class SessionRegistry: Sendable {
    private let sessions = Mutex<[Int: EngineSession]>([:])
    private let nextID = Atomic<Int>(1)

    func open() -> EngineSession {
        let s = EngineSession(id: nextID.add(1, ordering: .relaxed).oldValue)
        sessions.withLock { $0[s.id] = s }
        return s
    }

    func close(_ s: EngineSession) {
        sessions.withLock { _ = $0.removeValue(forKey: s.id) }
        s.close()
    }

    var all: [EngineSession] { sessions.withLock { Array($0.values) } }

    func broadcast(_ n: EngineNotification) {
        for s in all { s.deliver(n) }
    }
}
