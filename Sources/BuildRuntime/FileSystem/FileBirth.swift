import CLinuxSyscalls

/// Which file an open descriptor is, for as long as the file lives: its device, inode and birth
/// time. A file made again under the same path is another, even where the file system gives it
/// the old one's inode number. Nil where the file system records no birth time.
public struct FileBirth: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64
    public let seconds: Int64
    public let nanoseconds: UInt32

    public init?(fd: Int32) {
        var device: UInt64 = 0, inode: UInt64 = 0, seconds: Int64 = 0, nanoseconds: UInt32 = 0
        guard slipway_file_birth(fd, &device, &inode, &seconds, &nanoseconds) == 0 else { return nil }
        (self.device, self.inode, self.seconds, self.nanoseconds) = (device, inode, seconds, nanoseconds)
    }
}
