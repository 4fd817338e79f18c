/// How messages are delimited on one connection, detected from its first bytes (after blanks
/// and a UTF-8 byte order mark): a header (`Content-Length:`, `Content-Type:`, any case) means
/// LSP framing; anything else means newline-delimited JSON, so a line of junk is answered
/// with a parse error instead of waiting for a header that never comes.
public enum Framing: String, Sendable {
    /// One JSON value per line (`{` or `[` first).
    case newlineDelimited
    /// LSP base protocol: `Content-Length: N\r\n…\r\n\r\n` then N bytes.
    case contentLength
}

/// What the framer found in the bytes it was given.
public enum FrameEvent: Equatable, Sendable {
    /// One complete message body.
    case message([UInt8])
    /// A message larger than the cap was skipped without being held in memory.
    case oversized(size: Int)
    /// A header block that cannot be used (no Content-Length, unsupported charset, …); its
    /// body, when its length was given, was skipped.
    case malformedHeader(String)
    /// End of input in the middle of a message (a header block or a body cut short).
    case truncated(String)
    /// The last newline-delimited message, which had no newline: complete if it parses.
    case unterminated([UInt8])
}

/// Splits a byte stream into message bodies. Pure: bytes in, events out, no I/O, so every
/// framing rule is testable on its own. Oversized messages are counted and discarded as
/// they stream past, never buffered.
public struct MessageFramer: Sendable {
    public private(set) var framing: Framing?
    public let maxMessageSize: Int
    public static let defaultMaxMessageSize = 64 << 20
    static let maxHeaderBlock = 16 << 10

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Newline-delimited: the current line is over the cap; drop bytes until its newline.
    private var discardingLine = false
    private var discardedLineSize = 0
    /// Content-Length: bytes of an oversized body still to drop.
    private var bodyToSkip = 0
    /// Content-Length: the body length announced by the header block just read.
    private var pendingBodyLength: Int?
    /// Content-Length: a header block was refused without a usable length, so where its body
    /// ends is unknown; bytes are dropped until the next header block starts.
    private var resynchronizing = false

    public init(maxMessageSize: Int = MessageFramer.defaultMaxMessageSize, framing: Framing? = nil) {
        self.maxMessageSize = maxMessageSize
        self.framing = framing
    }

    /// Bytes seen before the framing could be decided (at most a few).
    private var undecided: [UInt8] = []

    /// Feeds bytes and returns the events they complete.
    public mutating func push<C: Collection<UInt8>>(_ bytes: C) -> [FrameEvent] {
        var events: [FrameEvent] = []
        if framing == nil {
            undecided.append(contentsOf: bytes)
            guard let decided = Self.detect(undecided) else { return [] }
            framing = decided.framing
            let rest = undecided[decided.start...]
            undecided = []
            return push(rest)
        }
        switch framing! {
        case .newlineDelimited: pushLines(bytes, into: &events)
        case .contentLength: pushLSP(bytes, into: &events)
        }
        compact()
        return events
    }

    /// The framing of a connection whose first bytes are `prefix`, and where its first message
    /// starts; nil while the bytes so far could still be either.
    static func detect(_ prefix: [UInt8]) -> (framing: Framing, start: Int)? {
        var i = 0
        if prefix.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        else if [0xEF, 0xBB, 0xBF].starts(with: prefix) { return nil }
        while i < prefix.count, [0x20, 0x09, 0x0A, 0x0D].contains(prefix[i]) { i += 1 }
        guard i < prefix.count else { return nil }
        if prefix[i] == UInt8(ascii: "{") || prefix[i] == UInt8(ascii: "[") { return (.newlineDelimited, i) }
        let header = Array("content-".utf8)
        let seen = prefix[i...].prefix(header.count).map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        if seen == Array(header.prefix(seen.count)) {
            return seen.count == header.count ? (.contentLength, i) : nil
        }
        return (.newlineDelimited, i)
    }

    /// Called at end of input. A final newline-delimited message without its newline is given
    /// as `.unterminated`; a header or body cut short as `.truncated`.
    public mutating func finish() -> [FrameEvent] {
        defer { buffer.removeAll(); readIndex = 0 }
        switch framing {
        case .newlineDelimited:
            if discardingLine {
                discardingLine = false
                return [.oversized(size: discardedLineSize)]
            }
            let rest = trimmed(buffer[readIndex...])
            if !rest.isEmpty { return [.unterminated(Array(rest))] }
        case .contentLength:
            // The rest of a refused message, already answered.
            if resynchronizing { return [] }
            if bodyToSkip > 0 { return [.truncated("the input ended \(bodyToSkip) bytes short of an oversized message's end")] }
            if let length = pendingBodyLength {
                return [.truncated("the input ended after \(buffer.count - readIndex) of the \(length) bytes its Content-Length announced")]
            }
            if !trimmed(buffer[readIndex...]).isEmpty { return [.truncated("the input ended in the middle of a header block")] }
        case nil:
            if !trimmed(undecided[...]).isEmpty, undecided != [0xEF, 0xBB, 0xBF] {
                return [.truncated("the input ended in the middle of a header block")]
            }
        }
        return []
    }

    private func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

    private func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, isBlank(f) { s = s.dropFirst() }
        while let l = s.last, isBlank(l) { s = s.dropLast() }
        return s
    }

    private mutating func compact() {
        if readIndex > 0 && (readIndex >= buffer.count || readIndex > 1 << 16) {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    private mutating func pushLines<C: Collection<UInt8>>(_ input: C, into events: inout [FrameEvent]) {
        var rest = input[...]
        while !rest.isEmpty {
            if discardingLine {
                if let nl = rest.firstIndex(of: 0x0A) {
                    discardedLineSize += rest.distance(from: rest.startIndex, to: nl)
                    events.append(.oversized(size: discardedLineSize))
                    discardingLine = false
                    discardedLineSize = 0
                    rest = rest[rest.index(after: nl)...]
                } else {
                    discardedLineSize += rest.count
                    return
                }
                continue
            }
            let searchStart = buffer.count
            buffer.append(contentsOf: rest)
            rest = rest[rest.endIndex...]
            var scan = searchStart
            while let nl = buffer[scan...].firstIndex(of: 0x0A) {
                let line = trimmed(buffer[readIndex..<nl])
                if line.count > maxMessageSize {
                    events.append(.oversized(size: line.count))
                } else if !line.isEmpty {
                    events.append(.message(Array(line)))
                }
                readIndex = nl + 1
                scan = readIndex
            }
            if buffer.count - readIndex > maxMessageSize {
                discardingLine = true
                discardedLineSize = buffer.count - readIndex
                buffer.removeAll(keepingCapacity: true)
                readIndex = 0
            }
        }
    }

    private mutating func pushLSP<C: Collection<UInt8>>(_ input: C, into events: inout [FrameEvent]) {
        var rest = input[...]
        if bodyToSkip > 0 {
            let n = min(bodyToSkip, rest.count)
            bodyToSkip -= n
            rest = rest.dropFirst(n)
        }
        buffer.append(contentsOf: rest)
        while true {
            if bodyToSkip > 0 {
                let n = min(bodyToSkip, buffer.count - readIndex)
                bodyToSkip -= n
                readIndex += n
                if bodyToSkip > 0 { return }
            }
            if let length = pendingBodyLength {
                guard buffer.count - readIndex >= length else { return }
                events.append(.message(Array(buffer[readIndex..<readIndex + length])))
                readIndex += length
                pendingBodyLength = nil
                continue
            }
            if resynchronizing {
                guard let start = nextHeaderStart() else { return }
                readIndex = start
                resynchronizing = false
            }
            // Skip blank bytes between messages.
            while readIndex < buffer.count, isBlank(buffer[readIndex]) { readIndex += 1 }
            guard let end = headerEnd() else {
                if buffer.count - readIndex > Self.maxHeaderBlock {
                    events.append(.malformedHeader("header block longer than \(Self.maxHeaderBlock) bytes"))
                    readIndex = buffer.count
                    resynchronizing = true
                }
                return
            }
            let header = String(decoding: buffer[readIndex..<end], as: UTF8.self)
            readIndex = end + 4
            switch Self.parseHeader(header) {
            case .failure(let message, let length):
                events.append(.malformedHeader(message))
                // The refused message's body is skipped, so the next message is read whole;
                // without a length, reading resumes at the next header block.
                if let length { bodyToSkip = length } else { resynchronizing = true }
            case .success(let length):
                if length > maxMessageSize {
                    events.append(.oversized(size: length))
                    bodyToSkip = length
                } else {
                    pendingBodyLength = length
                }
            }
        }
    }

    /// Where the next header block starts (a `Content-Length:` or `Content-Type:` field, any
    /// case) at or after `readIndex`. When there is none yet, drops what cannot be the start
    /// of one, keeping a tail that might be a field name cut short, and returns nil.
    private mutating func nextHeaderStart() -> Int? {
        let names = [Array("content-length:".utf8), Array("content-type:".utf8)]
        var i = readIndex
        while i < buffer.count {
            for name in names where buffer.count - i >= name.count {
                var matches = true
                for (k, c) in name.enumerated() {
                    let b = buffer[i + k]
                    if (b >= 0x41 && b <= 0x5A ? b + 0x20 : b) != c { matches = false; break }
                }
                if matches { return i }
            }
            if buffer.count - i < names[0].count { break }
            i += 1
        }
        readIndex = i
        return nil
    }

    private func headerEnd() -> Int? {
        var i = readIndex
        while i + 3 < buffer.count {
            if buffer[i] == 0x0D && buffer[i + 1] == 0x0A && buffer[i + 2] == 0x0D && buffer[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    /// A parsed header block: the body length, or why it is refused (with the length when it
    /// was given, so the body can be skipped).
    enum HeaderResult: Equatable { case success(Int), failure(String, length: Int?) }

    /// Parses an LSP header block (without the final blank line).
    static func parseHeader(_ block: String) -> HeaderResult {
        var length: Int?
        var problem: String?
        for line in block.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else {
                problem = problem ?? "header line '\(line.prefix(80))' has no ':'"
                continue
            }
            let name = line[..<colon].trimmingSpaces().lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            switch name {
            case "content-length":
                guard let n = Int(value), n >= 0 else { return .failure("Content-Length '\(value.prefix(40))' is not a number", length: nil) }
                length = n
            case "content-type":
                let params = value.split(separator: ";").dropFirst()
                for p in params {
                    let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces().lowercased() }
                    if kv.count == 2, kv[0] == "charset", kv[1] != "utf-8", kv[1] != "utf8" {
                        problem = problem ?? "unsupported charset '\(kv[1].prefix(40))' in Content-Type; use utf-8"
                    }
                }
            default:
                continue
            }
        }
        guard let length else { return .failure(problem ?? "header block has no Content-Length", length: nil) }
        if let problem { return .failure(problem, length: length) }
        return .success(length)
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Wraps a message body in the connection's framing.
public enum FrameEncoder {
    public static func frame(_ body: [UInt8], as framing: Framing) -> [UInt8] {
        switch framing {
        case .newlineDelimited:
            var out = body
            out.append(0x0A)
            return out
        case .contentLength:
            var out = Array("Content-Length: \(body.count)\r\n\r\n".utf8)
            out.append(contentsOf: body)
            return out
        }
    }
}
