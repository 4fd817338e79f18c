import Foundation

/// A source tree frozen at create/patch time. Same content, same digest — so a patch with
/// unchanged source is recognised as no change, and a trigger rebuilds exactly what was
/// snapshotted. Sources are `SnapshotManifest`s with their trees (`SnapshotStore`); buildpack
/// folders, and sources snapshotted before manifests existed, are normalised tars.
public struct SourceSnapshot: Sendable, Equatable, Codable {
    public var digest: Digest
    public var files: Int
    /// Bytes of the files (a manifest), or of the tar.
    public var bytes: Int64
    /// Files read and hashed to make it (the rest were known from the folder's stat index);
    /// nil for a tar.
    public var hashedFiles: Int?

    public init(digest: Digest, files: Int, bytes: Int64, hashedFiles: Int? = nil) {
        self.digest = digest
        self.files = files
        self.bytes = bytes
        self.hashedFiles = hashedFiles
    }

    /// What a snapshot is stored as.
    public enum Form: Sendable { case manifest, tar }
}

/// Turns local source (a folder, or a `.zip`/`.jar`/`.tar`/`.tar.gz`/`.tgz` file) into a
/// `SourceSnapshot`, and unpacks snapshots into a build's workspace.
public struct SourceSnapshotter: Sendable {
    public let store: ContentStore
    public let snapshots: SnapshotStore
    public let limits: ArchiveExtractor.Limits
    public static let archiveExtensions = [".zip", ".jar", ".tar", ".tar.gz", ".tgz"]

    public init(store: ContentStore, limits: ArchiveExtractor.Limits = .init()) {
        self.store = store
        self.snapshots = SnapshotStore(content: store)
        self.limits = limits
    }

    /// Snapshots the folder or archive at `path`, keeping only `subPath` below it if given.
    /// `path` is the caller's own (a symlink to their folder is followed); nothing below it is:
    /// a `subPath` through a symlink is refused, and symlinks inside are archived as symlinks.
    /// With `indexed`, a folder keeps a stat index, so the next snapshot of it reads only the
    /// files that changed (not for folders that are made afresh each time, like a git checkout).
    public func snapshot(localPath path: String, subPath: String?, indexed: Bool = true) throws -> SourceSnapshot {
        guard path.hasPrefix("/") else {
            throw RuntimeError.invalid("source.local.path '\(PathSyntax.shortened(path))' must be an absolute path", field: "source.local.path")
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw RuntimeError.invalid("source.local.path '\(PathSyntax.shortened(path))' does not exist or cannot be read", field: "source.local.path")
        }
        let sub = try Self.normalizeSubPath(subPath)
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard access(path, R_OK | X_OK) == 0, let real = Self.realPath(path) else {
                throw RuntimeError.invalid("source.local.path '\(PathSyntax.shortened(path))' cannot be read by the server", field: "source.local.path")
            }
            let top = try ConfinedDirectory(path: real, displayPath: "")
            return try snapshotFolder(try Self.open(subPath: sub, in: top), form: .manifest, indexKey: indexed ? real + "\u{0}" + (sub ?? "") : nil)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG, Self.archiveExtensions.contains(where: { path.lowercased().hasSuffix($0) }) else {
            throw RuntimeError.invalid(
                "source.local.path '\(PathSyntax.shortened(path))' is neither a folder nor a .zip, .jar, .tar, .tar.gz or .tgz file", field: "source.local.path")
        }
        return try snapshot(archive: path, name: PathSyntax.lastComponent(path), stripComponents: 0, subPath: sub)
    }

    /// Snapshots an archive file (also used for blob sources); `name` is how messages call it.
    public func snapshot(archive path: String, name: String, stripComponents: Int, subPath: String?, form: SourceSnapshot.Form = .manifest) throws -> SourceSnapshot {
        try DiskSpace.mapping(in: store.root.path) { try snapshot(extracting: path, name: name, stripComponents: stripComponents, subPath: subPath, form: form) }
    }

    private func snapshot(extracting path: String, name: String, stripComponents: Int, subPath: String?, form: SourceSnapshot.Form) throws -> SourceSnapshot {
        let temp = store.tempDirectory.path + "/src-" + UUID().uuidString
        defer { try? ConfinedDirectory.removeTree(atPath: temp) }  // best effort: a leftover is swept at the next start
        let root = try ConfinedDirectory(path: temp, displayPath: "", create: true)
        let extractor = ArchiveExtractor(policy: .source, limits: limits, stripComponents: stripComponents)
        try extractor.extract(archiveAt: path, into: root, name: name)
        return try snapshotFolder(try Self.open(subPath: try Self.normalizeSubPath(subPath), in: root), form: form, indexKey: nil)
    }

    /// The canonical path of a host path the caller gave (symlinks in it resolved).
    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    public static func normalizeSubPath(_ subPath: String?) throws -> String? {
        guard let subPath, !subPath.isEmpty, subPath != "." && subPath != "/" else { return nil }
        let parts = PathSyntax.components(subPath)
        guard !subPath.hasPrefix("/"), !parts.contains("..") else {
            throw RuntimeError.invalid("source.subPath '\(PathSyntax.shortened(subPath))' must be a relative path inside the source without '..'", field: "source.subPath")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// The folder `subPath` names inside `top`, reached without following any symlink.
    static func open(subPath: String?, in top: ConfinedDirectory) throws -> ConfinedDirectory {
        guard let subPath else { return top }
        do {
            return try top.openDirectory(subPath)
        } catch let e as ConfinedPathError {
            let why = e.kind == .symlink ? "passes through a symlink (give the folder it points to instead)" : "is not a folder in the source"
            throw RuntimeError.invalid("source.subPath '\(PathSyntax.shortened(subPath))' \(why)", field: "source.subPath")
        }
    }

    /// Snapshots a folder already opened by descriptor (a buildpack inside an unpacked image).
    public func snapshot(folder: ConfinedDirectory, form: SourceSnapshot.Form) throws -> SourceSnapshot {
        try snapshotFolder(folder, form: form, indexKey: nil)
    }

    /// What a snapshot leaves out: `.git` folders and what `.slipwayignore` lists.
    static func exclusions(of root: ConfinedDirectory) throws -> (String, Bool) -> Bool {
        var ignore: IgnoreRules?
        if let st = try root.status(".slipwayignore"), (st.st_mode & S_IFMT) == S_IFREG {
            ignore = IgnoreRules(try root.readText(".slipwayignore", maxBytes: 1 << 20))
        }
        return { rel, isDir in
            if isDir && (rel == ".git" || rel.hasSuffix("/.git")) { return false }
            return !(ignore?.ignores(rel, isDirectory: isDir) ?? false)
        }
    }

    /// A full disk while snapshotting is Unavailable (`DiskSpace`), wherever it was met.
    func snapshotFolder(_ root: ConfinedDirectory, form: SourceSnapshot.Form, indexKey: String?) throws -> SourceSnapshot {
        do {
            return try DiskSpace.mapping(in: store.root.path) { try walkFolder(root, form: form, indexKey: indexKey) }
        } catch let e as TreeLimitExceeded {
            throw RuntimeError.invalid("\(e); leave the rest out with .slipwayignore")  // the caller's source, not a fault of ours
        }
    }

    private func walkFolder(_ root: ConfinedDirectory, form: SourceSnapshot.Form, indexKey: String?) throws -> SourceSnapshot {
        let include = try Self.exclusions(of: root)
        guard form == .tar else {
            var escaping: (String, String)?
            let snapshot = try snapshots.snapshot(folder: root, indexKey: indexKey, maxBytes: limits.maxTotalBytes, include: include) { rel, _, target in
                // A symlink pointing out of the source would be refused when the build unpacks it.
                guard let target, escaping == nil else { return }
                do {
                    try ArchiveEntryPaths(policy: .source).checkSymlinkStaysInside(relative: rel, target: target, entryName: rel)
                } catch {
                    escaping = (rel, target)
                }
            }
            if let (rel, target) = escaping { throw Self.escapingSymlink(rel, target) }
            return snapshot
        }
        let w = try store.writer()
        let tar = TarWriter(out: w)
        var escaping: (String, String)?
        try tar.addTree(root, prefix: "", owner: .root) { rel, isDir in
            if !include(rel, isDir) { return false }
            // A symlink pointing out of the source would be refused when the build unpacks it.
            if !isDir, escaping == nil, let st = try root.status(rel), (st.st_mode & S_IFMT) == S_IFLNK {
                let target = try root.readLink(rel)
                do {
                    try ArchiveEntryPaths(policy: .source).checkSymlinkStaysInside(relative: rel, target: target, entryName: rel)
                } catch {
                    escaping = (rel, target)
                }
            }
            if w.size > limits.maxTotalBytes {
                throw RuntimeError.invalid("the source is larger than \(limits.maxTotalBytes) bytes, the source size cap; exclude what the build does not need with .slipwayignore")
            }
            return true
        }
        if let (rel, target) = escaping { throw Self.escapingSymlink(rel, target) }
        try tar.finish()
        if w.size > limits.maxTotalBytes {
            throw RuntimeError.invalid("the source is larger than \(limits.maxTotalBytes) bytes, the source size cap; exclude what the build does not need with .slipwayignore")
        }
        let (digest, size) = try w.commit()
        return SourceSnapshot(digest: digest, files: tar.fileCount, bytes: size)
    }

    /// The manifest form of a tar snapshot (from before manifests): the tar is unpacked as a
    /// build would unpack it, and that folder snapshotted.
    public func convertTarSnapshot(_ digest: Digest) throws -> SourceSnapshot {
        try snapshot(archive: store.path(digest), name: "source snapshot \(digest.short)", stripComponents: 0, subPath: nil)
    }

    static func escapingSymlink(_ rel: String, _ target: String) -> RuntimeError {
        RuntimeError.invalid(
            "source file '\(PathSyntax.shortened(rel))' is a symlink to '\(PathSyntax.shortened(target))', outside the source; replace it with what it points to, or list it in .slipwayignore",
            field: "source.local.path")
    }

    /// Unpacks a snapshot into `directory` (a build's workspace): a manifest from its trees, a
    /// tar by extracting it. With `reuse`, files an earlier restore made the same are linked
    /// from it (`FileReuse`); with `linkingFilesOf`, files of a manifest's trees that already
    /// have that owner are linked from them (`SnapshotStore.materialize`).
    public func restore(_ digest: Digest, into directory: ConfinedDirectory, reuse: ArchiveFileReuse? = nil,
                        linkingFilesOf owner: (uid: uid_t, gid: gid_t)? = nil) throws {
        if snapshots.chain(digest) != nil { return try snapshots.materialize(digest, into: directory, reuse: reuse, linkingFilesOf: owner) }
        guard store.contains(digest) else {
            throw RuntimeError.notFound("source snapshot \(digest) is missing from the content store; patch the image with its source again")
        }
        try ArchiveExtractor(policy: .source, limits: limits, reuse: reuse).extract(archiveAt: store.path(digest), into: directory,
                                                                                   name: "source snapshot \(digest.short)")
    }
}
