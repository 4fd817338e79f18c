import SlipwayProtocol
import Foundation
import Synchronization




/// Something the engine tells the sessions that want to know. (Log lines are not among them:
/// sessions read those from the log files, see `SessionMessage.logAvailable`.)
public enum EngineNotification: Sendable, Equatable {
    case buildStatusChanged(BuildStatusChange)
    case imageStatusChanged(ImageStatusChange)
    case event(SystemEvent)

    public var kind: NotificationKind {
        switch self {
        case .buildStatusChanged: return .buildStatusChanged
        case .imageStatusChanged: return .imageStatusChanged
        case .event: return .event
        }
    }

    var namespace: String? {
        switch self {
        case .buildStatusChanged(let s): return s.namespace
        case .imageStatusChanged(let s): return s.namespace
        case .event(let e): return e.object.namespace
        }
    }
}


/// Identifies one build: its image's name, its number and its image's incarnation
/// (`Image.incarnation`). Clients name a build by image and number alone; the incarnation tells
/// a deleted image's build, still ending, from the build of the same number of an image created
/// again under its name, so that their slots, waiters, log readers and ends never mix.
public struct BuildKey: Hashable, Sendable {
    public var namespace: String
    public var image: String
    public var number: Int
    public var incarnation: String
    public init(namespace: String, image: String, number: Int, incarnation: String) {
        self.namespace = namespace
        self.image = image
        self.number = number
        self.incarnation = incarnation
    }

    /// The stand-alone build run the builds of `image` are, when it is a run's carrier.
    public static func standaloneRun(ofImage image: String) -> String? { image.hasPrefix("run.") ? String(image.dropFirst(4)) : nil }
    /// The stand-alone build run this build is, when its image is a run's carrier.
    public var standaloneRun: String? { Self.standaloneRun(ofImage: image) }
    /// How clients name the build: image and number, except for a stand-alone run (its name).
    public var publicImage: String? { standaloneRun == nil ? image : nil }
    public var publicBuild: Int? { standaloneRun == nil ? number : nil }
}

/// What flows to a session's forwarder, in order: notifications, word that a build's log has
/// lines the session has not read (it reads them with `readLog` before the next message, so
/// lines and statuses stay in order), and barriers that let a request wait until everything
/// queued before it was sent.
public enum SessionMessage: Sendable {
    case notification(EngineNotification)
    case logAvailable(BuildKey)
    case barrier(CheckedContinuation<Void, Never>)
}

/// One client's view of the engine: which notifications it wants, where it is in each build
/// log it reads, and one ordered stream of everything it is sent.
///
/// Log lines are never queued here: a session keeps a cursor per log, and the stream carries
/// at most one `logAvailable` per log at a time. Memory stays bounded however fast a build
/// prints and however slowly the client reads.
public final class EngineSession: Sendable {
    public let id: Int
    public let messages: AsyncStream<SessionMessage>
    private let continuation: AsyncStream<SessionMessage>.Continuation
    private let state = Mutex(State())

    struct State {
        var kinds = NotificationKind.defaults
        var namespace: String?
        /// Builds this session's requests queued (what its end of input waits for).
        var started: Set<BuildKey> = []
        /// Cursors of the logs this session reads.
        var cursors: [BuildKey: Reader] = [:]
        var nextGeneration = 0
        /// Logs with a `logAvailable` in the stream not yet handled.
        var signalled: Set<BuildKey> = []
        /// For a subscription's reader dropped once caught up: the first seq it had not read.
        /// The writer tells of a line after writing it, so a reader may have read a line
        /// before it hears of it; a late word of a line already read makes no new reader.
        var caughtUp: [BuildKey: Int] = [:]
    }

    /// One log being read: `explicit` when asked for (a follow); otherwise it comes from a
    /// subscription to every log and is dropped once caught up (a new line makes a new one).
    struct Reader {
        var cursor: LogCursor
        var explicit: Bool
        var generation: Int
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
            if !s.kinds.contains(.buildLog) { s.cursors = s.cursors.filter(\.value.explicit) }
            return NotificationKind.allCases.filter(s.kinds.contains)
        }
    }

    func deliver(_ n: EngineNotification) {
        let wanted = state.withLock { s -> Bool in
            if let ns = s.namespace, let nns = n.namespace, ns != nns { return false }
            return s.kinds.contains(n.kind)
        }
        if wanted { continuation.yield(.notification(n)) }
    }

    /// Notes a build this session's request queued (the `session` an engine change is given).
    func noteStarted(_ key: BuildKey) { state.withLock { _ = $0.started.insert(key) } }

    /// The builds this session's requests queued.
    public var startedBuilds: Set<BuildKey> { state.withLock { $0.started } }

    /// Reads the log at `path` from `since`, and keeps reading it as it grows, until `unfollow`.
    func follow(_ key: BuildKey, path: String, since: Int) {
        state.withLock { s in
            s.nextGeneration += 1
            s.cursors[key] = Reader(cursor: LogCursor(path: path, nextSeq: since), explicit: true, generation: s.nextGeneration)
            signal(key, &s)
        }
    }

    public func unfollow(_ key: BuildKey) {
        state.withLock { s in
            if s.cursors[key]?.explicit == true { s.cursors[key] = nil }
        }
    }

    /// The log of `key` grew by line `seq`, written at byte `offset`.
    func logAdvanced(_ key: BuildKey, path: String, seq: Int, offset: Int64) {
        state.withLock { s in
            if s.cursors[key] == nil {
                guard s.kinds.contains(.buildLog), s.namespace == nil || s.namespace == key.namespace else { return }
                if let next = s.caughtUp[key] {
                    guard seq >= next else { return }  // read already
                    s.caughtUp[key] = nil
                }
                s.nextGeneration += 1
                s.cursors[key] = Reader(cursor: LogCursor(path: path, nextSeq: seq, offset: offset), explicit: false, generation: s.nextGeneration)
            }
            signal(key, &s)
        }
    }

    /// The log of `key` ended: a subscription's cursor goes once what is left has been read.
    func logClosed(_ key: BuildKey) {
        state.withLock { s in
            s.caughtUp[key] = nil  // no line comes after the end
            guard s.cursors[key] != nil else { return }
            signal(key, &s)
        }
    }

    /// The log of `key` was deleted with its image while its build ran: nothing more is read
    /// from it (its file's name may soon be another build's log).
    func logDeleted(_ key: BuildKey) {
        state.withLock { s in
            s.cursors[key] = nil
            s.signalled.remove(key)
            s.caughtUp[key] = nil
        }
    }

    private func signal(_ key: BuildKey, _ s: inout State) {
        if s.signalled.insert(key).inserted { continuation.yield(.logAvailable(key)) }
    }

    /// The next lines of `key`'s log this session has not read (at most about `maxBytes`),
    /// empty when it has read everything written so far. Call until empty.
    public func readLog(_ key: BuildKey, maxBytes: Int = 256 << 10) -> [BuildLogLine] {
        guard var entry = state.withLock({ s -> Reader? in
            s.signalled.remove(key)  // lines written from now on signal again
            return s.cursors[key]
        }) else { return [] }
        let lines = entry.cursor.read(key: key, maxBytes: maxBytes)
        state.withLock { s in
            // Unless the reader was replaced or dropped meanwhile, it moves on.
            guard s.cursors[key]?.generation == entry.generation else { return }
            if lines.isEmpty, !entry.explicit, !s.signalled.contains(key) {
                s.cursors[key] = nil
                s.caughtUp[key] = entry.cursor.nextSeq
            } else {
                s.cursors[key]?.cursor = entry.cursor
            }
        }
        return lines
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

    func logAdvanced(_ key: BuildKey, path: String, seq: Int, offset: Int64) {
        for s in all { s.logAdvanced(key, path: path, seq: seq, offset: offset) }
    }

    func logClosed(_ key: BuildKey) {
        for s in all { s.logClosed(key) }
    }

    func logDeleted(_ key: BuildKey) {
        for s in all { s.logDeleted(key) }
    }
}
