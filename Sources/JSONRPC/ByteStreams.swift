import Foundation

/// Where a connection's input comes from: chunks of bytes, read on a thread of the
/// connection's own (the call may block).
public protocol ByteSource: Sendable {
    /// The next chunk of input; nil at its end.
    func next() -> [UInt8]?
}

/// Where a connection's output goes, written from the connection's writer thread (the call may
/// block).
public protocol ByteSink: Sendable {
    /// Writes every byte; false once the peer is gone (nothing more can reach it).
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool
}

/// Input from a file descriptor (stdin).
public struct FileDescriptorSource: ByteSource {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }

    public func next() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buf.removeSubrange(n...)
            return buf
        }
    }
}

/// Output to a file descriptor (stdout).
public struct FileDescriptorSink: ByteSink {
    public let fd: Int32
    public init(fd: Int32) { self.fd = fd }

    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}
