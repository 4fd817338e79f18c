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
    /// Engine → client: `ok`, `retry <text>` (an engine of another version is going away; start
    /// a new one) or `fail <exit status> <text>`.
    static let welcome = UInt8(ascii: "W")
    /// Engine → client, last: `<exit status>\n<text for stderr>`.
    static let close = UInt8(ascii: "C")

    static let headerSize = 5
    /// Largest payload either side accepts.
    static let maxPayload = 1 << 20

    static func encode(_ type: UInt8, _ payload: some Collection<UInt8>) -> [UInt8] {
        let n = UInt32(payload.count)
        return [type, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + payload
    }
}

/// Splits a byte stream into frames. Pure: bytes in, frames out.
struct FrameReader {
    private var buffer: [UInt8] = []

    /// Why a stream cannot be read as frames.
    struct Malformed: Error {}

    mutating func push(_ bytes: some Collection<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next complete frame, if one is buffered.
    mutating func next() throws -> (type: UInt8, payload: [UInt8])? {
        guard buffer.count >= EngineFrame.headerSize else { return nil }
        let n = Int(buffer[1]) << 24 | Int(buffer[2]) << 16 | Int(buffer[3]) << 8 | Int(buffer[4])
        guard n <= EngineFrame.maxPayload else { throw Malformed() }
        guard buffer.count >= EngineFrame.headerSize + n else { return nil }
        let frame = (buffer[0], Array(buffer[EngineFrame.headerSize..<(EngineFrame.headerSize + n)]))
        buffer.removeFirst(EngineFrame.headerSize + n)
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
            var buf = [UInt8](repeating: 0, count: 64 << 10)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            reader.withLock { $0.push(buf[0..<n]) }
        }
    }

    /// Sends one frame whole; false once the peer is gone.
    @discardableResult
    func send(_ type: UInt8, _ payload: some Collection<UInt8>) -> Bool {
        let frame = EngineFrame.encode(type, payload)
        return writeLock.withLock { _ in
            frame.withUnsafeBytes { FileDescriptorSink(fd: fd).write($0) }
        }
    }

    @discardableResult
    func send(_ type: UInt8, _ text: String) -> Bool { send(type, Array(text.utf8)) }
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

/// Where the engine of a state directory listens: `<state>/run/engine.sock`, or, where that is
/// longer than a socket path may be (107 bytes), a socket named by a hash of the state
/// directory's real path in `$XDG_RUNTIME_DIR/slipway` or `/tmp/slipway-<uid>` (both 0700).
/// The C forwarder computes the same.
enum EngineAddress {
    static let maxSocketPath = 107

    static func socketPath(stateDirectory real: String, environment: [String: String]) -> String {
        let inside = real + "/run/engine.sock"
        if inside.utf8.count <= maxSocketPath { return inside }
        return runtimeDirectory(environment) + "/" + String(format: "%016llx", fnv1a(real)) + ".sock"
    }

    static func runtimeDirectory(_ environment: [String: String]) -> String {
        if let x = environment["XDG_RUNTIME_DIR"], x.hasPrefix("/") { return x + "/slipway" }
        return "/tmp/slipway-\(getuid())"
    }

    /// FNV-1a, 64 bits, of the path's bytes.
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 1_469_598_103_934_665_603
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 1_099_511_628_211
        }
        return h
    }
}
