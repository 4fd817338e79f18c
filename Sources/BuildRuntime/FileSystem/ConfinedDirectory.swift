import CLinuxSyscalls
import Foundation

/// Why an operation inside a `ConfinedDirectory` was refused or failed. `path` is relative to
/// the confined folder, so a message can name it the way the build step saw it.
public struct ConfinedPathError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong with the path.
    public enum Kind: Sendable, Equatable {
        /// A component is a symlink; nothing in a confined tree is followed.
        case symlink
        /// The path leaves the folder (`..`, an absolute path, or a name with a NUL).
        case escapes
        /// It exists but is not what was asked for (a FIFO where a file should be, a file where a folder should be).
        case wrongType(String)
        /// It is larger than the caller allows.
        case tooLarge(limit: Int64)
        case missing
        case alreadyExists
        /// The file system refused (errno's text).
        case io(String)
    }

    public let kind: Kind
    public let path: String

    public init(_ kind: Kind, _ path: String) {
        self.kind = kind
        self.path = path
    }

    public var description: String {
        switch kind {
        case .symlink: return "'\(path)' is or passes through a symlink"
        case .escapes: return "'\(path)' is not a path inside the folder"
        case .wrongType(let t): return "'\(path)' is \(t)"
        case .tooLarge(let limit): return "'\(path)' is larger than \(limit) bytes"
        case .missing: return "'\(path)' does not exist"
        case .alreadyExists: return "'\(path)' already exists"
        case .io(let m): return "'\(path)': \(m)"
        }
    }
}

/// A folder opened by descriptor, holding what an untrusted party wrote: a build step (layers,
/// workspace, plan and I/O folders, the cache), an archive, an image layer.
///
/// The rule it enforces: every path is resolved beneath the folder and no symlink is followed
/// on any component — with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the kernel
/// has it, and a component-by-component `openat(O_NOFOLLOW)` walk otherwise. Files the host
/// writes are created fresh (`O_CREAT | O_EXCL`), reads check the file type and cap the size,
/// and removal never leaves the tree. Host-side code that touches such a tree goes through
/// this type, so a path-based call on one stands out in review.
public final class ConfinedDirectory: Sendable {
    /// The open folder (`O_DIRECTORY`); closed when the value is released.
    public let fd: Int32
    /// How messages name this folder (what the step saw, e.g. `/layers/my_bp`).
    public let displayPath: String

    /// Opens the host folder `path` (whose own location the host controls); the last component
    /// must be a real folder, not a symlink. With `create`, missing folders are made.
    public init(path: String, displayPath: String? = nil, create: Bool = false) throws {
        if create { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw ConfinedPathError(e == ELOOP ? .symlink : e == ENOENT ? .missing : e == ENOTDIR ? .wrongType("not a folder") : .io(String(cString: strerror(e))),
                                    displayPath ?? path)
        }
        self.fd = fd
        self.displayPath = displayPath ?? path
    }

    private init(fd: Int32, displayPath: String) {
        self.fd = fd
        self.displayPath = displayPath
    }

    deinit { close(fd) }

    func display(_ relative: String) -> String {
        relative.isEmpty ? displayPath : (displayPath.hasSuffix("/") ? displayPath : displayPath + "/") + relative
    }

    /// Splits `relative` into its parent folder (opened) and last name.
    func parent(of relative: String) throws -> (ConfinedDirectory, String) {
        let parts = try BeneathPath.components(relative)
        guard let last = parts.last else { throw ConfinedPathError(.escapes, relative) }
        if parts.count == 1 { return (self, last) }
        let dirPath = parts.dropLast().joined(separator: "/")
        return (try openDirectory(dirPath), last)
    }

    // MARK: Opening

    /// Opens a file beneath this folder; the caller owns the descriptor.
    public func openFile(_ relative: String, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        do {
            return try BeneathPath.openBeneath(fd, relative, flags: flags, mode: mode)
        } catch let e as ConfinedPathError {
            throw ConfinedPathError(e.kind, display(relative))
        }
    }

    /// Opens a folder beneath this one.
    public func openDirectory(_ relative: String) throws -> ConfinedDirectory {
        let d = try openFile(relative, flags: O_RDONLY | O_DIRECTORY)
        return ConfinedDirectory(fd: d, displayPath: display(relative))
    }

    /// Opens a folder beneath this one, making it (and missing folders above it) first.
    public func makeDirectories(_ relative: String, mode: mode_t = 0o755) throws -> ConfinedDirectory {
        var current = self
        var done: [String] = []
        for part in try BeneathPath.components(relative) {
            done.append(part)
            if mkdirat(current.fd, part, mode) != 0, errno != EEXIST {
                throw ConfinedPathError(.io(String(cString: strerror(errno))), display(done.joined(separator: "/")))
            }
            current = try current.openDirectory(part)
        }
        return current
    }

    // MARK: Metadata

    /// `lstat` of `relative` (the last component is not followed either); nil when it does not exist.
    public func status(_ relative: String) throws -> stat? {
        let (dir, name) = try parent(of: relative)
        var st = stat()
        if fstatat(dir.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 { return st }
        if errno == ENOENT { return nil }
        throw ConfinedPathError(.io(String(cString: strerror(errno))), display(relative))
    }

    /// The target of the symlink `relative`, as written (never resolved).
    public func readLink(_ relative: String) throws -> String {
        let (dir, name) = try parent(of: relative)
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buf.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { readlinkat(dir.fd, name, $0, b.count - 1) }
        }
        guard n >= 0 else { throw ConfinedPathError(.io(String(cString: strerror(errno))), display(relative)) }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }

    /// The names in this folder, sorted by their bytes; `.` and `..` left out.
    public func entries() throws -> [String] {
        let dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard dupfd >= 0, let dir = fdopendir(dupfd) else {
            if dupfd >= 0 { close(dupfd) }
            throw ConfinedPathError(.io(String(cString: strerror(errno))), displayPath)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [[UInt8]] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw -> [UInt8] in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        return names.map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Reading and writing

    /// Reads a regular file, refusing symlinks, FIFOs, devices and folders, and anything over
    /// `maxBytes` (checked on what is read, not on what stat says).
    public func readFile(_ relative: String, maxBytes: Int) throws -> [UInt8] {
        let f = try openFile(relative, flags: O_RDONLY | O_NONBLOCK | O_NOCTTY)
        defer { close(f) }
        var st = stat()
        guard fstat(f, &st) == 0 else { throw ConfinedPathError(.io(String(cString: strerror(errno))), display(relative)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ConfinedPathError(.wrongType(Self.describe(st.st_mode)), display(relative)) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(f, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfinedPathError(.io(String(cString: strerror(errno))), display(relative))
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > maxBytes { throw ConfinedPathError(.tooLarge(limit: Int64(maxBytes)), display(relative)) }
        }
        return out
    }

    /// Reads a regular file as UTF-8 text (see `readFile`).
    public func readText(_ relative: String, maxBytes: Int) throws -> String {
        String(decoding: try readFile(relative, maxBytes: maxBytes), as: UTF8.self)
    }

    /// Creates a new file with `contents`; fails if anything (a file, a symlink) is already there.
    public func createFile(_ relative: String, contents: [UInt8], mode: mode_t = 0o644) throws {
        let f = try openFile(relative, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode)
        defer { close(f) }
        var offset = 0
        while offset < contents.count {
            let n = contents.withUnsafeBytes { write(f, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfinedPathError(.io(String(cString: strerror(errno))), display(relative))
            }
            offset += n
        }
    }

    // MARK: Changing the tree

    /// Removes `relative` and, for a folder, everything in it, without following symlinks
    /// (a symlink is removed, never what it points to). Missing is fine.
    public func remove(_ relative: String) throws {
        let (dir, name) = try parent(of: relative)
        try dir.removeEntry(name)
    }

    /// Removes everything in this folder, however deep: iteratively, with at most
    /// `removalDepth` folders open. A folder further down is first moved up into this folder
    /// under a fresh name (a rename in the same file system) and removed from there, so the
    /// depth of a tree never makes removal fail, run the thread out of stack or use more
    /// descriptors. Nothing is followed: no symlink, no `..`.
    public func removeContents() throws {
        struct Level {
            let dir: ConfinedDirectory
            /// Its name in the level above.
            let name: String
            /// Entries still to remove, last first.
            var pending: [String]
        }
        var stack = [Level(dir: self, name: "", pending: try entries().reversed())]
        while !stack.isEmpty {
            guard let name = stack[stack.count - 1].pending.popLast() else {
                let done = stack.removeLast()
                if let parent = stack.last {
                    guard unlinkat(parent.dir.fd, done.name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                        throw ConfinedPathError(.io(String(cString: strerror(errno))), parent.dir.display(done.name))
                    }
                }
                continue
            }
            let here = stack[stack.count - 1].dir
            guard let sub = try here.removeUnlessFolder(name) else { continue }
            if stack.count < Self.removalDepth {
                stack.append(Level(dir: sub, name: name, pending: try sub.entries().reversed()))
            } else {
                let moved = ".slipway-removing-" + UUID().uuidString
                guard renameat(here.fd, name, fd, moved) == 0 else {
                    throw ConfinedPathError(.io("cannot move it up to remove it: " + String(cString: strerror(errno))), here.display(name))
                }
                stack[0].pending.append(moved)
            }
        }
    }

    /// How many folders `removeContents` holds open at most.
    static let removalDepth = 256

    private func removeEntry(_ name: String) throws {
        guard let sub = try removeUnlessFolder(name) else { return }
        try sub.removeContents()
        guard unlinkat(fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
            throw ConfinedPathError(.io(String(cString: strerror(errno))), display(name))
        }
    }

    /// Removes `name` when it is not a folder (nil then, and when it is missing); a folder is
    /// opened, made removable, and returned for its contents to be removed.
    private func removeUnlessFolder(_ name: String) throws -> ConfinedDirectory? {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw ConfinedPathError(.io(String(cString: strerror(errno))), display(name))
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            guard unlinkat(fd, name, 0) == 0 || errno == ENOENT else {
                throw ConfinedPathError(.io(String(cString: strerror(errno))), display(name))
            }
            return nil
        }
        if st.st_uid == geteuid() && (st.st_mode & 0o700) != 0o700 { makeOwnFolderUsable(name) }
        let sub = try openDirectory(name)
        // A folder the step left without write or search permission is made removable (and,
        // to be moved up, writable: a rename to another folder rewrites its `..`).
        fchmod(sub.fd, 0o700)
        return sub
    }

    /// Gives our own folder `name` (mode 000, say, as overlayfs leaves its work folder) read,
    /// write and search permission, so that it can be opened: through an `O_PATH` descriptor
    /// that did not follow a symlink, never through the name again.
    private func makeOwnFolderUsable(_ name: String) {
        let oPath: Int32 = 0o10000000  // O_PATH (Linux), which Glibc's Swift overlay does not export
        let path = openat(fd, name, oPath | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC)
        guard path >= 0 else { return }  // gone, or no folder now: the removal that follows says so
        defer { close(path) }
        chmod("/proc/self/fd/\(path)", 0o700)
    }

    /// Moves `relative` to `destination`'s `newName` (same file system).
    public func move(_ relative: String, to destination: ConfinedDirectory, as newRelative: String) throws {
        let (from, name) = try parent(of: relative)
        let (to, newName) = try destination.parent(of: newRelative)
        guard renameat(from.fd, name, to.fd, newName) == 0 else {
            throw ConfinedPathError(.io(String(cString: strerror(errno))), display(relative))
        }
    }

    /// Copies `relative` (a file, a symlink or a folder tree) to `destination`'s `newRelative`.
    /// Symlinks are copied as symlinks; devices, FIFOs and sockets are left out; setuid and
    /// setgid bits are dropped; every file is created fresh. A tree is walked by `TreeWalker`
    /// within `limits`.
    public func copy(_ relative: String, to destination: ConfinedDirectory, as newRelative: String, limits: TreeLimits = .default) throws {
        let (from, name) = try parent(of: relative)
        let (to, newName) = try destination.parent(of: newRelative)
        guard let top = try from.copyEntry(name, to: to, as: newName) else { return }
        try TreeWalker(display(relative), limits: limits).walk(
            from: top, entries: { try $0.source.entries() }, name: { $0 },
            visit: { folder, child, _ in try folder.source.copyEntry(child, to: folder.copy, as: child) },
            leave: { folder, _ in fchmod(folder.copy.fd, folder.mode) })
    }

    /// A folder being copied: the original, the copy, and the mode the copy gets once filled.
    private struct FolderCopy {
        let source: ConfinedDirectory
        let copy: ConfinedDirectory
        let mode: mode_t
    }

    /// Copies the entry `name` to `dest`'s `newName`; for a folder, makes it (empty, and
    /// writable until filled) and returns it to be filled.
    private func copyEntry(_ name: String, to dest: ConfinedDirectory, as newName: String) throws -> FolderCopy? {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw ConfinedPathError(errno == ENOENT ? .missing : .io(String(cString: strerror(errno))), display(name))
        }
        let perm = mode_t(st.st_mode & 0o1777)
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            guard mkdirat(dest.fd, newName, 0o700) == 0 else {
                throw ConfinedPathError(errno == EEXIST ? .alreadyExists : .io(String(cString: strerror(errno))), dest.display(newName))
            }
            return FolderCopy(source: try openDirectory(name), copy: try dest.openDirectory(newName), mode: perm)
        case S_IFREG:
            let input = try openFile(name, flags: O_RDONLY | O_NONBLOCK)
            defer { close(input) }
            let output = try dest.openFile(newName, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            defer { close(output) }
            try Self.copyBytes(from: input, to: output, path: display(name))
            fchmod(output, perm)
        case S_IFLNK:
            let target = try readLink(name)
            guard symlinkat(target, dest.fd, newName) == 0 else {
                throw ConfinedPathError(errno == EEXIST ? .alreadyExists : .io(String(cString: strerror(errno))), dest.display(newName))
            }
        default:
            break
        }
        return nil
    }

    static func copyBytes(from input: Int32, to output: Int32, path: String) throws {
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfinedPathError(.io(String(cString: strerror(errno))), path)
            }
            if n == 0 { return }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { write(output, $0.baseAddress! + off, n - off) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw ConfinedPathError(.io(String(cString: strerror(errno))), path)
                }
                off += w
            }
        }
    }

    /// "a symlink", "a FIFO", … for messages.
    public static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFLNK: return "a symlink"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR, S_IFBLK: return "a device"
        default: return "not a regular file"
        }
    }
}

extension ConfinedDirectory {
    /// Copies the first `count` bytes of the file open at `input` (from its start, whatever its
    /// position) into `output`, in the kernel (`sendfile`); `what` names it in errors.
    public static func copyBytes(from input: Int32, to output: Int32, count: Int64, what: String) throws {
        var offset: off_t = 0
        while Int64(offset) < count {
            let n = sendfile(output, input, &offset, Int(count - Int64(offset)))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RuntimeError.io("copying \(what): \(n < 0 ? String(cString: strerror(errno)) : "the file shrank")") }
        }
    }

    /// Removes the host path `path` (a folder tree or a file) without following any symlink
    /// inside it. The folders above `path` are the host's own; `path` itself is not followed.
    public static func removeTree(atPath path: String) throws {
        let parts = PathSyntax.components(path)
        guard let name = parts.last, path.hasPrefix("/"), name != ".." else {
            throw ConfinedPathError(.escapes, path)
        }
        let parent: ConfinedDirectory
        do {
            parent = try ConfinedDirectory(path: "/" + parts.dropLast().joined(separator: "/"))
        } catch let e as ConfinedPathError where e.kind == .missing {
            return
        }
        try parent.remove(name)
    }

    /// The same folder, called `displayPath` in messages (what a build step sees it as).
    public func renamed(_ displayPath: String) throws -> ConfinedDirectory {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw ConfinedPathError(.io(String(cString: strerror(errno))), self.displayPath) }
        return ConfinedDirectory(fd: copy, displayPath: displayPath)
    }

    /// Whether `relative` is a real folder (not a symlink to one); false when missing.
    public func isDirectory(_ relative: String) throws -> Bool {
        guard let st = try status(relative) else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }
}
