/// How messages are delimited on one connection. Detected from the first non-blank byte.
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
    /// A header block that cannot be used (no Content-Length, unsupported charset, …).
    case malformedHeader(String)
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

    public init(maxMessageSize: Int = MessageFramer.defaultMaxMessageSize, framing: Framing? = nil) {
        self.maxMessageSize = maxMessageSize
        self.framing = framing
    }

    /// Feeds bytes and returns the events they complete.
    public mutating func push<C: Collection<UInt8>>(_ bytes: C) -> [FrameEvent] {
        var events: [FrameEvent] = []
        var input = bytes[...]
        if framing == nil {
            guard let first = input.firstIndex(where: { !isBlank($0) }) else { return [] }
            input = input[first...]
            framing = (input.first == UInt8(ascii: "{") || input.first == UInt8(ascii: "[")) ? .newlineDelimited : .contentLength
        }
        switch framing! {
        case .newlineDelimited: pushLines(input, into: &events)
        case .contentLength: pushLSP(input, into: &events)
        }
        compact()
        return events
    }

    /// Called at end of input: a final newline-delimited message without its newline still counts.
    public mutating func finish() -> [FrameEvent] {
        defer { buffer.removeAll(); readIndex = 0 }
        if framing == .newlineDelimited {
            if discardingLine {
                discardingLine = false
                return [.oversized(size: discardedLineSize)]
            }
            let rest = trimmed(buffer[readIndex...])
            if !rest.isEmpty { return [.message(Array(rest))] }
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
            // Skip blank bytes between messages.
            while readIndex < buffer.count, isBlank(buffer[readIndex]) { readIndex += 1 }
            guard let end = headerEnd() else {
                if buffer.count - readIndex > Self.maxHeaderBlock {
                    events.append(.malformedHeader("header block longer than \(Self.maxHeaderBlock) bytes"))
                    readIndex = buffer.count
                }
                return
            }
            let header = String(decoding: buffer[readIndex..<end], as: UTF8.self)
            readIndex = end + 4
            switch Self.parseHeader(header) {
            case .failure(let message):
                events.append(.malformedHeader(message))
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

    private func headerEnd() -> Int? {
        var i = readIndex
        while i + 3 < buffer.count {
            if buffer[i] == 0x0D && buffer[i + 1] == 0x0A && buffer[i + 2] == 0x0D && buffer[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    enum HeaderResult: Equatable { case success(Int), failure(String) }

    /// Parses an LSP header block (without the final blank line).
    static func parseHeader(_ block: String) -> HeaderResult {
        var length: Int?
        for line in block.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else {
                return .failure("header line '\(line.prefix(80))' has no ':'")
            }
            let name = line[..<colon].trimmingSpaces().lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            switch name {
            case "content-length":
                guard let n = Int(value), n >= 0 else { return .failure("Content-Length '\(value.prefix(40))' is not a number") }
                length = n
            case "content-type":
                let params = value.split(separator: ";").dropFirst()
                for p in params {
                    let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces().lowercased() }
                    if kv.count == 2, kv[0] == "charset", kv[1] != "utf-8", kv[1] != "utf8" {
                        return .failure("unsupported charset '\(kv[1])' in Content-Type; use utf-8")
                    }
                }
            default:
                continue
            }
        }
        guard let length else { return .failure("header block has no Content-Length") }
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
