import Foundation

/// A source tree frozen at create/patch time: a normalised tar in the content store. Same
/// content, same digest — so a patch with unchanged source is recognised as no change, and a
/// trigger rebuilds exactly what was snapshotted.
public struct SourceSnapshot: Sendable, Equatable, Codable {
    public var digest: Digest
    public var files: Int
    public var bytes: Int64
}

/// Turns local source (a folder, or a `.zip`/`.jar`/`.tar`/`.tar.gz`/`.tgz` file) into a
/// `SourceSnapshot`, and unpacks snapshots into a build's workspace.
public struct SourceSnapshotter: Sendable {
    public let store: ContentStore
    public let limits: ArchiveExtractor.Limits
    public static let archiveExtensions = [".zip", ".jar", ".tar", ".tar.gz", ".tgz"]

    public init(store: ContentStore, limits: ArchiveExtractor.Limits = .init()) {
        self.store = store
        self.limits = limits
    }

    /// Snapshots the folder or archive at `path`, keeping only `subPath` below it if given.
    public func snapshot(localPath path: String, subPath: String?) throws -> SourceSnapshot {
        guard path.hasPrefix("/") else {
            throw RuntimeError.invalid("source.local.path '\(path)' must be an absolute path", field: "source.local.path")
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw RuntimeError.invalid("source.local.path '\(path)' does not exist or cannot be read", field: "source.local.path")
        }
        let sub = try Self.normalizeSubPath(subPath)
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard access(path, R_OK | X_OK) == 0 else {
                throw RuntimeError.invalid("source.local.path '\(path)' cannot be read by the server", field: "source.local.path")
            }
            let root = sub.map { path + "/" + $0 } ?? path
            try Self.requireDirectory(root, subPath: sub)
            return try snapshotFolder(root)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG, Self.archiveExtensions.contains(where: { path.lowercased().hasSuffix($0) }) else {
            throw RuntimeError.invalid(
                "source.local.path '\(path)' is neither a folder nor a .zip, .jar, .tar, .tar.gz or .tgz file", field: "source.local.path")
        }
        return try snapshot(archive: path, stripComponents: 0, subPath: sub)
    }

    /// Snapshots an archive file (also used for blob sources).
    public func snapshot(archive path: String, stripComponents: Int, subPath: String?) throws -> SourceSnapshot {
        let temp = store.tempDirectory.appendingPathComponent("src-" + UUID().uuidString).path
        defer { try? FileManager.default.removeItem(atPath: temp) }
        let extractor = ArchiveExtractor(policy: .source, limits: limits, stripComponents: stripComponents)
        try extractor.extract(archiveAt: path, into: temp)
        let sub = try Self.normalizeSubPath(subPath)
        let root = sub.map { temp + "/" + $0 } ?? temp
        try Self.requireDirectory(root, subPath: sub)
        return try snapshotFolder(root)
    }

    public static func normalizeSubPath(_ subPath: String?) throws -> String? {
        guard let subPath, !subPath.isEmpty, subPath != "." && subPath != "/" else { return nil }
        let parts = subPath.split(separator: "/").filter { $0 != "." }
        guard !subPath.hasPrefix("/"), !parts.contains("..") else {
            throw RuntimeError.invalid("source.subPath '\(subPath)' must be a relative path inside the source without '..'", field: "source.subPath")
        }
        return parts.joined(separator: "/")
    }

    static func requireDirectory(_ path: String, subPath: String?) throws {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw RuntimeError.invalid("source.subPath '\(subPath ?? "")' is not a folder in the source", field: "source.subPath")
        }
    }

    func snapshotFolder(_ root: String) throws -> SourceSnapshot {
        let ignore = (try? String(contentsOfFile: root + "/.slipwayignore", encoding: .utf8)).map(IgnoreRules.init)
        let w = try store.writer()
        let tar = TarWriter(out: w)
        var escaping: (String, String)?
        try tar.addTree(root, prefix: "", owner: .root) { rel, isDir in
            if isDir && (rel == ".git" || rel.hasSuffix("/.git")) { return false }
            if let ignore, ignore.ignores(rel, isDirectory: isDir) { return false }
            // A symlink pointing out of the source would be refused when the build unpacks it.
            if !isDir, escaping == nil, let target = try? readLink(root + "/" + rel),
                (try? ArchiveExtractor(policy: .source).checkSymlinkStaysInside(relative: rel, target: target, entryName: rel)) == nil
            {
                escaping = (rel, target)
            }
            return true
        }
        if let (rel, target) = escaping {
            throw RuntimeError.invalid(
                "source file '\(rel)' is a symlink to '\(target)', outside the source; replace it with what it points to, or list it in .slipwayignore",
                field: "source.local.path")
        }
        try tar.finish()
        if w.size > limits.maxTotalBytes {
            throw RuntimeError.invalid("the source is larger than \(limits.maxTotalBytes) bytes; exclude what the build does not need with .slipwayignore")
        }
        let (digest, size) = try w.commit()
        return SourceSnapshot(digest: digest, files: tar.fileCount, bytes: size)
    }

    /// Unpacks a snapshot into `directory` (a build's workspace).
    public func restore(_ digest: Digest, into directory: String) throws {
        guard store.contains(digest) else {
            throw RuntimeError.notFound("source snapshot \(digest) is missing from the content store; patch the image with its source again")
        }
        try ArchiveExtractor(policy: .source, limits: limits).extract(archiveAt: store.path(digest), into: directory)
    }
}
