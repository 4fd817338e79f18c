import SlipwayProtocol
import Foundation
import JSONRPC
import Synchronization

/// The frames a client and the shared engine exchange on the engine's socket: one type byte, a
/// 32-bit big-endian length, the payload. The client's JSON-RPC bytes travel unchanged inside
/// data frames; a few control frames open and close a connection (spec/protocol.md, "The
/// engine socket"). The C forwarder (Sources/SlipwayForwarder) speaks the same.
enum EngineFrame {
    /// Client → engine: JSON `{version, args, pid}`, or `{version, command}` for `engine status|stop`.
    static let hello = UInt8(ascii: "H")
    /// Either way: bytes of the JSON-RPC stream.
    static let data = UInt8(ascii: "D")
    /// Client → engine: the client's input ended.
    static let end = UInt8(ascii: "E")
    /// Engine → client: a `Welcome`.
    static let welcome = UInt8(ascii: "W")
    /// Engine → client, last: a `Closing`.
    static let close = UInt8(ascii: "C")

    static let headerSize = 5
    /// Largest payload either side accepts.
    static let maxPayload = 1 << 20
}

/// What a welcome frame says (engine → client, after the hello). Its payload is `ok`,
/// `retry <text>` or `fail <exit status> <text>`, as the C forwarder reads it.
enum Welcome: Equatable {
    /// Served: data frames follow.
    case ok
    /// The engine is going away (stopping, or making way for another version): start a new one.
    case retry(String)
    /// Refused: the client exits with `status` after printing `text` (status 0: `text` is what
    /// it asked for, such as `--help`).
    case fail(status: Int32, String)

    var payload: String {
        switch self {
        case .ok: return "ok"
        case .retry(let text): return "retry " + text
        case .fail(let status, let text): return "fail \(status) " + text
        }
    }
}

/// What a close frame says (engine → client, last): the client's exit status and what it prints
/// on stderr (`engine status|stop`: on stdout). Payload `<exit status>\n<text>`.
struct Closing: Equatable {
    var status: Int32
    var text: String

    var payload: String { "\(status)\n" + text }

    /// A close frame's payload read back; a status that is not a number reads as 1.
    init(payload: [UInt8]) {
        let s = String(decoding: payload, as: UTF8.self)
        status = Int32(s.prefix { $0 != "\n" }) ?? 1
        text = String(s.drop { $0 != "\n" }.dropFirst())
    }

    init(status: Int32, _ text: String) {
        self.status = status
        self.text = text
    }
}

/// Splits a byte stream into frames. Pure: bytes in, frames out.
struct FrameReader {
    private var buffer: [UInt8] = []
    /// Where the unread bytes of `buffer` start (read bytes are dropped when it is emptied or
    /// when they are the larger part, so a stream of frames costs no copy per frame).
    private var start = 0

    /// Why a stream cannot be read as frames.
    struct Malformed: Error {}

    mutating func push(_ bytes: some Collection<UInt8>) {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > buffer.count / 2 {
            buffer.removeSubrange(..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, if one is buffered.
    mutating func next() throws -> (type: UInt8, payload: [UInt8])? {
        let available = buffer.count - start
        guard available >= EngineFrame.headerSize else { return nil }
        let n = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
        guard n <= EngineFrame.maxPayload else { throw Malformed() }
        guard available >= EngineFrame.headerSize + n else { return nil }
        let body = start + EngineFrame.headerSize
        let frame = (buffer[start], Array(buffer[body..<(body + n)]))
        start = body + n
        return frame
    }
}

/// One accepted (or dialled) socket carrying frames. Reads happen on one thread at a time (the
/// handshake's, then the connection's input thread); writes may come from several threads and
/// are serialised, so frames never interleave.
final class FrameChannel: Sendable {
    let fd: Int32
    private let reader = Mutex(FrameReader())
    private let writeLock = Mutex(())
    /// What `read` reads into; one reader at a time (see above), the lock only satisfies Sendable.
    private let readBuffer = Mutex([UInt8](repeating: 0, count: 64 << 10))

    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// The next frame (blocking); nil at end of stream or on a malformed stream.
    func read() -> (type: UInt8, payload: [UInt8])? {
        while true {
            do {
                if let f = try reader.withLock({ try $0.next() }) { return f }
            } catch {
                return nil
            }
            let got = readBuffer.withLock { buf -> Bool? in
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { return false }
                if n <= 0 { return nil }
                reader.withLock { $0.push(buf[0..<n]) }
                return true
            }
            guard let got else { return nil }
            if !got { continue }
        }
    }

    /// Sends one frame whole (header and payload in one `writev`, the payload not copied);
    /// false once the peer is gone.
    @discardableResult
    func send(_ type: UInt8, _ payload: UnsafeRawBufferPointer) -> Bool {
        let n = UInt32(payload.count)
        var header: [UInt8] = [type, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        return writeLock.withLock { _ in
            header.withUnsafeMutableBytes { head in
                var parts = [iovec(iov_base: head.baseAddress, iov_len: head.count),
                             iovec(iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress), iov_len: payload.count)]
                var index = 0
                while index < parts.count {
                    let written = parts.withUnsafeMutableBufferPointer { writev(fd, $0.baseAddress! + index, Int32($0.count - index)) }
                    if written < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    var left = written
                    while index < parts.count && left >= parts[index].iov_len {
                        left -= parts[index].iov_len
                        index += 1
                    }
                    if index < parts.count {
                        parts[index].iov_base = parts[index].iov_base.map { $0 + left }
                        parts[index].iov_len -= left
                    }
                }
                return true
            }
        }
    }

    @discardableResult
    func send(_ type: UInt8, _ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { send(type, $0) } }

    @discardableResult
    func send(_ welcome: Welcome) -> Bool { send(EngineFrame.welcome, welcome.payload) }

    @discardableResult
    func send(_ closing: Closing) -> Bool { send(EngineFrame.close, closing.payload) }
}

/// A connection's input from a socket: the payloads of data frames, until an end frame (the
/// client's input ended) or the end of the stream (the client is gone).
final class FrameSource: ByteSource {
    let channel: FrameChannel
    private let ending = Mutex<Bool?>(nil)

    init(channel: FrameChannel) { self.channel = channel }

    /// True when the client said its input ended; false when it went away; nil before either.
    var endedCleanly: Bool? { ending.withLock { $0 } }

    func next() -> [UInt8]? {
        while let frame = channel.read() {
            switch frame.type {
            case EngineFrame.data: return frame.payload
            case EngineFrame.end:
                ending.withLock { $0 = true }
                return nil
            default: continue  // nothing else is sent after the hello
            }
        }
        ending.withLock { $0 = $0 ?? false }
        return nil
    }
}

/// A connection's output to a socket, in data frames of at most 64 KiB.
struct FrameSink: ByteSink {
    let channel: FrameChannel

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = min(64 << 10, bytes.count - offset)
            guard channel.send(EngineFrame.data, UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])) else { return false }
            offset += n
        }
        return true
    }
}

/// Where the engine of a state directory listens: `engine.sock` in the state directory's
/// `run/` folder (0700, the socket 0600). The socket is bound and reached through a descriptor
/// of that folder once checked (`StateDirectoryGuard`), as `/proc/self/fd/N/engine.sock`, which
/// fits a socket address (107 bytes) whatever the state directory's length: the socket never
/// lives outside the state directory, where another user could take its folder first. The C
/// forwarder reaches it the same way.
enum EngineAddress {
    static let socketName = "engine.sock"

    /// What bind and connect are given for the socket in `folder`.
    static func path(in folder: CheckedFolder) -> String { "/proc/self/fd/\(folder.fd)/\(socketName)" }

    /// The socket address of `path` (at most 107 bytes; longer is cut).
    static func unixAddress(_ path: String) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            path.utf8CString.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(raw.count - 1))) }
        }
        return addr
    }
}

/// What a client says first.
struct EngineHello {
    var version: String
    var args: [String]
    var pid: Int?
    /// `engine status|stop`; nil for a client to serve.
    var command: ServerOptions.EngineCommand?

    static func parse(_ payload: [UInt8]) -> EngineHello? {
        guard let v = try? JSONParser.parse(payload), let version = v["version"]?.stringValue else { return nil }  // not a hello: nil, and the caller refuses the client
        return EngineHello(version: version, args: v["args"]?.arrayValue?.compactMap(\.stringValue) ?? [], pid: v["pid"]?.int64Value.map { Int($0) },
                           command: ServerOptions.EngineCommand(word: v["command"]?.stringValue, now: v["now"] == .bool(true)))
    }
}
