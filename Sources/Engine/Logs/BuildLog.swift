import SlipwayProtocol
import BuildRuntime
import Foundation
import Synchronization

/// The log of one build: every line numbered (`seq` from 1), timestamped, redacted and
/// appended to a file — the only copy. Nothing is kept in memory: sessions that follow the
/// build, or that subscribed to every log, are told that the file grew and read it from
/// their own cursor (`EngineSession`), so a slow client never makes the server hold lines.
/// Past `maxBytes` the log says once that lines were dropped; the build goes on.
final class BuildLogWriter: Sendable {
    let key: BuildKey
    let path: String
    let maxBytes: Int64
    private let sessions: SessionRegistry
    private let redactor: SecretRedactor
    private let state: Mutex<State>

    struct State {
        var fd: Int32
        var lines = 0
        var bytes: Int64 = 0
        var dropping = false
        var closed = false
        var phase = BuildPhase.prepare
    }

    init(key: BuildKey, path: String, maxBytes: Int64, sessions: SessionRegistry, redactor: SecretRedactor) throws {
        self.key = key
        self.path = path
        self.maxBytes = maxBytes
        self.sessions = sessions
        self.redactor = redactor
        try FileManager.default.createDirectory(atPath: String(path[..<path.lastIndex(of: "/")!]), withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError.internal("cannot write build log \(path): \(String(cString: strerror(errno)))") }
        state = Mutex(State(fd: fd))
    }

    /// The phase of the last line written.
    var currentPhase: BuildPhase { state.withLock { $0.phase } }

    /// A line of the build, in one of its phases (the lifecycle's, or the rebaser's `rebase`).
    func append(phase: BuildPhase, stream: LogStream, line: String) {
        state.withLock { s in
            guard !s.closed else { return }
            s.phase = phase
            var text = redactor.redact(line)
            var streamName = stream.rawValue
            if s.dropping { return }
            if s.bytes + Int64(text.utf8.count) > maxBytes {
                s.dropping = true
                text = "(the log reached \(maxBytes) bytes, the log size cap (--max-log-bytes); later lines of this build are dropped)"
                streamName = LogStream.system.rawValue
            }
            let offset = s.bytes
            let l = BuildLogLine(namespace: key.namespace, image: key.publicImage, build: key.publicBuild, buildrun: key.standaloneRun, seq: s.lines + 1,
                                 phase: phase.rawValue, stream: streamName, line: text, time: Timestamp.now())
            let record = Array(BuildLogFile.encode(l).utf8)
            var written = 0
            while written < record.count {
                let n = record.withUnsafeBytes { Foundation.write(s.fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }  // the disk refused; readers never see a line that is not on disk
                written += n
            }
            s.lines += 1
            s.bytes += Int64(record.count)
            sessions.logAdvanced(key, path: path, seq: l.seq, offset: offset)
        }
    }

    /// Ends the log: no more lines; sessions drain what is left.
    func close() { end(deleted: false) }

    /// Ends the log of a build whose image was deleted while it ran: its later lines go nowhere,
    /// and sessions stop reading the file, whose name a build of an image created again under
    /// the same name takes.
    func abandon() { end(deleted: true) }

    private func end(deleted: Bool) {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            _ = Foundation.close(s.fd)
            if deleted { sessions.logDeleted(key) } else { sessions.logClosed(key) }
        }
    }
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

    /// A row's bytes (no newline), split at its first four tabs, a field made a `String`
    /// only once (a followed log is read a million lines at a time).
    static func parse(_ row: ArraySlice<UInt8>, key: BuildKey) -> BuildLogLine? {
        var fields: [Range<Int>] = []
        var start = row.startIndex
        for i in row.indices where row[i] == 0x09 && fields.count < 4 {
            fields.append(start..<i)
            start = i + 1
        }
        fields.append(start..<row.endIndex)
        guard fields.count == 5, let seq = Int(String(decoding: row[fields[0]], as: UTF8.self)) else { return nil }
        func text(_ r: Range<Int>) -> String {
            let s = String(decoding: row[r], as: UTF8.self)
            return row[r].contains(0x5C) ? unescape(Substring(s)) : s
        }
        return BuildLogLine(namespace: key.namespace, image: key.publicImage, build: key.publicBuild, buildrun: key.standaloneRun, seq: seq, phase: text(fields[1]),
                            stream: text(fields[2]), line: text(fields[4]), time: text(fields[3]))
    }

    /// Every line of the log at `path` from `since` (a missing log has none).
    static func read(path: String, key: BuildKey, since: Int) -> [BuildLogLine] {
        var cursor = LogCursor(path: path, nextSeq: since)
        var out: [BuildLogLine] = []
        while true {
            let batch = cursor.read(key: key, maxBytes: 1 << 20)
            if batch.isEmpty { return out }
            out += batch
        }
    }
}

/// A reader's place in a build's log file: the byte offset of the next unread line and the
/// lowest seq it wants. Reads take complete lines only (a line being written is left for the
/// next read) and at most `maxBytes` at a time.
struct LogCursor: Sendable {
    let path: String
    var nextSeq: Int
    var offset: Int64 = 0

    init(path: String, nextSeq: Int, offset: Int64 = 0) {
        self.path = path
        self.nextSeq = nextSeq
        self.offset = offset
    }

    mutating func read(key: BuildKey, maxBytes: Int) -> [BuildLogLine] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }  // not started yet, or deleted with its image
        defer { close(fd) }
        // Another reader of the same file at the same place has parsed these lines already.
        let file = FileBirth(fd: fd)
        if let file, let (lines, end) = LogChunkCache.shared.chunk(of: file, at: offset) {
            offset = end
            return take(lines)
        }
        var buf = [UInt8](repeating: 0, count: maxBytes)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n > 0, let lastNewline = buf[0..<n].lastIndex(of: 0x0A) else {
            // A single line longer than the buffer cannot happen: lines are capped far below it.
            return []
        }
        let read = buf[0..<lastNewline].split(separator: 0x0A, omittingEmptySubsequences: true).compactMap { BuildLogFile.parse($0, key: key) }
        if let file { LogChunkCache.shared.keep(read, of: file, from: offset, to: offset + Int64(lastNewline + 1)) }
        offset += Int64(lastNewline + 1)
        return take(read)
    }

    /// The lines of `read` this reader wants (`nextSeq` on); `nextSeq` moves past them.
    private mutating func take(_ read: [BuildLogLine]) -> [BuildLogLine] {
        let out = read.filter { $0.seq >= nextSeq }
        if let last = out.last { nextSeq = last.seq + 1 }
        return out
    }
}

/// Build log chunks as parsed last, shared by the sessions that read one log: ten clients
/// following a build read each chunk of its file at the same offsets, and it is read and
/// parsed once, not ten times. A chunk is known by its file's identity (device, inode and
/// birth time: a log made again under the same path, once its image was deleted and created
/// again, is another file even where the inode number comes back) and its offset; a log file
/// is only appended to while it lives, so the lines from an offset stay what they were. At
/// most `maxChunks` are kept, the newest; where the file system gives no birth time, nothing.
final class LogChunkCache: Sendable {
    static let shared = LogChunkCache()
    static let maxChunks = 8

    private struct Chunk {
        let file: FileBirth
        let from: Int64
        let to: Int64
        let lines: [BuildLogLine]
    }

    private let chunks = Mutex<[Chunk]>([])

    /// The lines of the chunk read at `offset` of `file`, and where it ended.
    func chunk(of file: FileBirth, at offset: Int64) -> ([BuildLogLine], Int64)? {
        chunks.withLock { $0.last { $0.file == file && $0.from == offset }.map { ($0.lines, $0.to) } }
    }

    func keep(_ lines: [BuildLogLine], of file: FileBirth, from: Int64, to: Int64) {
        chunks.withLock { c in
            guard !c.contains(where: { $0.file == file && $0.from == from }) else { return }
            c.append(Chunk(file: file, from: from, to: to, lines: lines))
            if c.count > Self.maxChunks { c.removeFirst() }
        }
    }
}
