import Foundation
import Synchronization

/// The log of one build: every line numbered (`seq` from 1) and timestamped, appended to a
/// file, and passed on in order to the sessions that follow the build or subscribed to all
/// logs. Following is atomic with appending, so a follower gets every line from `since` on,
/// none twice.
final class BuildLogWriter: Sendable {
    let key: BuildKey
    let path: String
    private let sessions: SessionRegistry
    private let redactor: SecretRedactor
    private let state: Mutex<State>

    struct State {
        var fd: Int32
        var lines: [BuildLogLine] = []
        var followers: [Int: EngineSession] = [:]
        var closed = false
        var phase = "prepare"
    }

    init(key: BuildKey, path: String, sessions: SessionRegistry, redactor: SecretRedactor) throws {
        self.key = key
        self.path = path
        self.sessions = sessions
        self.redactor = redactor
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError.internal("cannot write build log \(path): \(String(cString: strerror(errno)))") }
        state = Mutex(State(fd: fd))
    }

    var currentPhase: String { state.withLock { $0.phase } }

    func append(phase: String, stream: String, line: String) {
        state.withLock { s in
            guard !s.closed else { return }
            let l = BuildLogLine(namespace: key.namespace, image: key.image, build: key.number, seq: s.lines.count + 1,
                                 phase: phase, stream: stream, line: redactor.redact(line), time: Timestamp.now())
            s.lines.append(l)
            s.phase = phase
            let record = Array(BuildLogFile.encode(l).utf8)
            _ = record.withUnsafeBytes { write(s.fd, $0.baseAddress, $0.count) }
            for f in s.followers.values { f.deliverFollowed(l) }
            for other in sessions.all where s.followers[other.id] == nil { other.deliver(.buildLog(l)) }
        }
    }

    /// Sends `session` the lines from `since` and, unless the log is closed, every later line.
    /// Returns false when the log was already closed (nothing more will come).
    func follow(_ session: EngineSession, since: Int) -> Bool {
        state.withLock { s in
            for l in s.lines where l.seq >= since { session.deliverFollowed(l) }
            if s.closed { return false }
            s.followers[session.id] = session
            session.follow(key, true)
            return true
        }
    }

    func unfollow(_ session: EngineSession) {
        state.withLock { s in
            s.followers.removeValue(forKey: session.id)
            session.follow(key, false)
        }
    }

    func lines(since: Int) -> [BuildLogLine] { state.withLock { s in s.lines.filter { $0.seq >= since } } }

    /// Ends the log: no more lines, followers released.
    func close() {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            close(s.fd)
            for f in s.followers.values { f.follow(key, false) }
            s.followers.removeAll()
        }
    }

    private func close(_ fd: Int32) { _ = Foundation.close(fd) }
}

/// The on-disk form of a build log: one line per log line, tab-separated
/// (`seq phase stream time text`), with `\`, tab, CR and LF escaped in the text.
enum BuildLogFile {
    static func encode(_ l: BuildLogLine) -> String {
        "\(l.seq)\t\(escape(l.phase))\t\(l.stream)\t\(l.time)\t\(escape(l.line))\n"
    }

    static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var out = ""
        var it = s.unicodeScalars.makeIterator()
        while let c = it.next() {
            guard c == "\\", let n = it.next() else { out.unicodeScalars.append(c); continue }
            switch n {
            case "t": out += "\t"
            case "n": out += "\n"
            case "r": out += "\r"
            default: out.unicodeScalars.append(n)
            }
        }
        return out
    }

    static func read(path: String, key: BuildKey, since: Int) -> [BuildLogLine] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var out: [BuildLogLine] = []
        for row in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = row.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false)
            guard f.count == 5, let seq = Int(f[0]), seq >= since else { continue }
            out.append(BuildLogLine(namespace: key.namespace, image: key.image, build: key.number, seq: seq, phase: unescape(f[1]),
                                    stream: String(f[2]), line: unescape(f[4]), time: String(f[3])))
        }
        return out
    }
}

/// RFC 3339 timestamps with milliseconds, in UTC.
public enum Timestamp {
    public static func now() -> String { format(Date()) }

    public static func format(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                      Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), ms)
    }

    /// Parses what `format` writes (and RFC 3339 without fractions).
    public static func parse(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}
