import CArchive
import Foundation

/// Extracts tar, tar.gz, zip and jar archives (anything libarchive reads) into a directory,
/// without ever writing outside it.
///
/// Two policies: `.source` for user-supplied source archives refuses any entry that is
/// absolute, contains `..`, is a symlink pointing out of the root, or would be written through
/// a symlink; `.imageLayer` for OCI layers keeps symlinks as they are (absolute targets are
/// normal in a root filesystem), resolves every path inside the root, and applies whiteouts.
public struct ArchiveExtractor {
    /// How strictly paths are treated: user source, or an image layer.
    public enum Policy: Sendable { case source, imageLayer }

    /// Caps that keep a hostile archive from filling the disk.
    public struct Limits: Sendable {
        public var maxTotalBytes: Int64
        public var maxEntries: Int
        public init(maxTotalBytes: Int64 = 8 << 30, maxEntries: Int = 500_000) {
            self.maxTotalBytes = maxTotalBytes
            self.maxEntries = maxEntries
        }
    }

    /// What an extraction read.
    public struct Summary: Sendable { public var entries = 0; public var bytes: Int64 = 0 }

    public let policy: Policy
    public let limits: Limits
    public let stripComponents: Int

    public init(policy: Policy, limits: Limits = Limits(), stripComponents: Int = 0) {
        self.policy = policy
        self.limits = limits
        self.stripComponents = stripComponents
    }

    @discardableResult
    public func extract(archiveAt path: String, into destination: String) throws -> Summary {
        guard let a = archive_read_new() else { throw RuntimeError.io("libarchive: out of memory") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_all(a)
        guard archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else {
            throw RuntimeError.invalid("cannot read archive \(URL(fileURLWithPath: path).lastPathComponent): \(Self.errorString(a))")
        }
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let root = URL(fileURLWithPath: destination).standardizedFileURL.path
        var summary = Summary()
        var entry: OpaquePointer?
        var deferredDirModes: [(String, mode_t)] = []
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            // Some writers (umoci 0.4) end a layer right after the last file's data, without the
            // padding and end-of-archive blocks; everything was read, so that is the end.
            // (Reaching here means the previous entry was read completely: writeData throws otherwise.)
            if r == ARCHIVE_FATAL, summary.entries > 0, Self.errorString(a).contains("Truncated") { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else {
                throw RuntimeError.invalid("archive \(URL(fileURLWithPath: path).lastPathComponent) is damaged: \(Self.errorString(a))")
            }
            summary.entries += 1
            if summary.entries > limits.maxEntries {
                throw RuntimeError.invalid("archive has more than \(limits.maxEntries) entries; the limit protects the build service")
            }
            guard let rawName = Self.pathname(entry) else { continue }
            let size = archive_entry_size(entry)
            summary.bytes += max(0, size)
            if summary.bytes > limits.maxTotalBytes {
                throw RuntimeError.invalid("archive expands to more than \(limits.maxTotalBytes) bytes; the limit protects the build service")
            }
            guard let relative = try normalize(rawName) else { continue }
            let type = archive_entry_filetype(entry) & S_IFMT
            let perm = archive_entry_perm(entry) & 0o1777  // no setuid/setgid
            let name = (relative as NSString).lastPathComponent
            let parentRel = (relative as NSString).deletingLastPathComponent

            if policy == .imageLayer, name.hasPrefix(".wh.") {
                let parent = try resolveInside(root: root, relative: parentRel, createMissing: true)
                if name == ".wh..wh..opq" {
                    for child in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
                        try? FileManager.default.removeItem(atPath: parent + "/" + child)
                    }
                } else {
                    try? FileManager.default.removeItem(atPath: parent + "/" + String(name.dropFirst(4)))
                }
                continue
            }

            let parent = try resolveInside(root: root, relative: parentRel, createMissing: true)
            let target = parent + "/" + name
            var existing = stat()
            let exists = lstat(target, &existing) == 0
            if exists, !(type == S_IFDIR && (existing.st_mode & S_IFMT) == S_IFDIR) {
                guard policy == .imageLayer else {
                    throw RuntimeError.invalid("archive entry '\(rawName)' appears twice or would replace another entry; refusing it")
                }
                try? FileManager.default.removeItem(atPath: target)
            }
            switch type {
            case S_IFDIR:
                if !exists || (existing.st_mode & S_IFMT) != S_IFDIR {
                    guard mkdir(target, 0o755) == 0 else { throw RuntimeError.io("cannot create \(relative): \(String(cString: strerror(errno)))") }
                }
                deferredDirModes.append((target, mode_t(perm) | 0o700))
            case S_IFREG:
                let hardlink = archive_entry_hardlink(entry).map { String(cString: $0) }
                if let hardlink {
                    guard let linkRel = try normalize(hardlink) else { continue }
                    let source = try resolveInside(root: root, relative: linkRel, createMissing: false)
                    guard Foundation.link(source, target) == 0 else {
                        throw RuntimeError.invalid("archive entry '\(rawName)' is a hard link to '\(hardlink)', which is not in the archive")
                    }
                    continue
                }
                try writeData(a, to: target, mode: mode_t(perm), size: size, entryName: rawName)
            case S_IFLNK:
                let linkTarget = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                if policy == .source {
                    try checkSymlinkStaysInside(relative: relative, target: linkTarget, entryName: rawName)
                }
                guard symlink(linkTarget, target) == 0 else {
                    throw RuntimeError.io("cannot create symlink \(relative): \(String(cString: strerror(errno)))")
                }
            default:
                continue  // devices, FIFOs and sockets have no place in a source tree or build root
            }
        }
        for (dir, mode) in deferredDirModes.reversed() { chmod(dir, mode) }
        return summary
    }

    static func errorString(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
    }

    static func pathname(_ entry: OpaquePointer) -> String? {
        if let p = archive_entry_pathname_utf8(entry) { return String(cString: p) }
        if let p = archive_entry_pathname(entry) { return String(cString: p) }
        return nil
    }

    /// The entry's path relative to the root after `stripComponents`, or nil to skip it.
    func normalize(_ raw: String) throws -> String? {
        var path = raw
        if policy == .source, path.hasPrefix("/") {
            throw RuntimeError.invalid("archive entry '\(raw)' has an absolute path; refusing to extract it")
        }
        while path.hasPrefix("/") { path.removeFirst() }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if policy == .source {
                    throw RuntimeError.invalid("archive entry '\(raw)' contains '..' and would escape the source root; refusing to extract it")
                }
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        guard parts.count > stripComponents else { return nil }
        return parts.dropFirst(stripComponents).joined(separator: "/")
    }

    func checkSymlinkStaysInside(relative: String, target: String, entryName: String) throws {
        if target.hasPrefix("/") {
            throw RuntimeError.invalid("archive entry '\(entryName)' is a symlink to the absolute path '\(target)', outside the source root; refusing it")
        }
        var depth = relative.split(separator: "/").count - 1
        for part in target.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            depth += part == ".." ? -1 : 1
            if depth < 0 {
                throw RuntimeError.invalid("archive entry '\(entryName)' is a symlink to '\(target)', which points outside the source root; refusing it")
            }
        }
    }

    /// The host path of `relative` inside `root`. Source archives may not pass through a
    /// symlink; image layers resolve symlinks the way the container would see them, clamped
    /// at the root (so `/lib -> usr/lib` works and nothing can point outside).
    func resolveInside(root: String, relative: String, createMissing: Bool) throws -> String {
        var resolved: [String] = []
        var pending = relative.split(separator: "/").map(String.init).reversed() as [String]
        var hops = 0
        while let part = pending.popLast() {
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = resolved.popLast(); continue }
            let current = root + (resolved.isEmpty ? "" : "/" + resolved.joined(separator: "/")) + "/" + part
            var st = stat()
            if lstat(current, &st) != 0 {
                guard createMissing else { throw RuntimeError.invalid("'\(relative)' does not exist in the archive") }
                guard mkdir(current, 0o755) == 0 else { throw RuntimeError.io("cannot create \(current): \(String(cString: strerror(errno)))") }
                resolved.append(part)
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard policy == .imageLayer else {
                    throw RuntimeError.invalid("archive entry path '\(relative)' passes through a symlink; refusing to write through it")
                }
                hops += 1
                if hops > 40 { throw RuntimeError.invalid("too many levels of symlinks resolving '\(relative)'") }
                let target = try readLink(current)
                if target.hasPrefix("/") { resolved.removeAll() }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
                continue
            }
            resolved.append(part)
        }
        return root + (resolved.isEmpty ? "" : "/" + resolved.joined(separator: "/"))
    }

    private func writeData(_ a: OpaquePointer, to path: String, mode: mode_t, size expected: Int64, entryName: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode | 0o200)
        guard fd >= 0 else { throw RuntimeError.io("cannot create \(entryName): \(String(cString: strerror(errno)))") }
        defer { close(fd); chmod(path, mode) }
        var buf: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var total: Int64 = 0
        while true {
            let r = archive_read_data_block(a, &buf, &size, &offset)
            if r == ARCHIVE_EOF { break }
            // All the data is there and only the block padding is missing (see extract).
            if r == ARCHIVE_FATAL, total == expected, Self.errorString(a).contains("Truncated") { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN else {
                throw RuntimeError.invalid("archive entry '\(entryName)' cannot be read: \(Self.errorString(a))")
            }
            guard let buf, size > 0 else { continue }
            var written = 0
            while written < size {
                let n = pwrite(fd, buf + written, size - written, off_t(offset) + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RuntimeError.io("writing \(entryName): \(String(cString: strerror(errno)))")
                }
                written += n
            }
            total = max(total, Int64(offset) + Int64(size))
        }
    }
}
