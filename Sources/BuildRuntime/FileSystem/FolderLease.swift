import Foundation

/// A folder in use by a running build (a step's folders, a scratch copy, a layer folder not
/// yet recorded): a shared `flock` on the folder itself, held as long as the value lives. A
/// garbage collection, which removes what looks left behind, asks `isHeld` first and leaves a
/// leased folder alone, whoever holds it; the lock follows the folder through a rename (it is
/// on the inode), so a scratch folder put in place as a layer stays leased until its record is
/// written. Nothing is left to clean up when a build dies: the kernel drops the lock with the
/// process.
public final class FolderLease: Sendable {
    private let fd: Int32

    /// Leases the folder at `path` (made by Slipway; never a symlink).
    public init(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.io("cannot open \(path) to lease it: \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_SH) != 0 {
            guard errno == EINTR else {
                let e = errno
                close(fd)
                throw RuntimeError.io("cannot lease \(path): \(String(cString: strerror(e)))")
            }
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Whether a running build holds the folder at `path`: a folder nobody leases (or a file,
    /// or nothing) is not held.
    public static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return false }  // closing the descriptor lets it go
        return errno == EWOULDBLOCK
    }
}

/// A scratch folder of a build, made fresh under `parent` as `.tmp-<uuid>` and leased
/// (`FolderLease`) for as long as the value lives; a collection removes it only once no build
/// holds it (a build that died).
public final class ScratchFolder: Sendable {
    public let path: String
    private let lease: FolderLease

    public init(in parent: String) throws {
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        path = parent + "/.tmp-" + UUID().uuidString
        guard mkdir(path, 0o700) == 0 else { throw RuntimeError.io("cannot make \(path): \(String(cString: strerror(errno)))") }
        lease = try FolderLease(path)
    }
}
