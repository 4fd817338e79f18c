import CArchive
import Foundation

/// Extracts tar, tar.gz, zip and jar archives (anything libarchive reads) into a folder,
/// without ever writing outside it. Every write goes through a `ConfinedDirectory`: entries are
/// created fresh relative to an open parent folder, and no symlink already in the tree is
/// followed by the host.
///
/// Two policies: `.source` for user-supplied source archives refuses any entry that is
/// absolute, contains `..`, is a symlink pointing out of the root, or would be written through
/// a symlink; `.imageLayer` for OCI layers keeps symlinks as they are (absolute targets are
/// normal in a root filesystem), resolves every parent path inside the root the way the
/// container would (clamped at the root), and applies whiteouts.
///
/// A whiteout (`.wh.<name>`, `.wh..wh..opq`) hides only what lower layers (earlier extractions
/// into the same root) put there, never what its own layer wrote, wherever it comes in the tar
/// (OCI image spec, layer.md "Whiteouts"). A hard link entry (tar type `1`) becomes a hard link
/// to a regular file written earlier by the same extraction, found inside the root without
/// following a symlink at its last name; a link to anything else (outside the root, a folder, a
/// symlink, a lower layer's file, a name not in the archive) is refused.
///
/// The caps count what is actually written, not what headers claim, so a tar or zip bomb
/// stops at the cap with a message that names it.
public struct ArchiveExtractor {
    /// How strictly paths are treated: user source, or an image layer.
    public enum Policy: Sendable { case source, imageLayer }

    /// Caps that keep a hostile archive from filling the disk.
    public struct Limits: Sendable, Equatable {
        public var maxTotalBytes: Int64
        public var maxEntries: Int
        public init(maxTotalBytes: Int64 = 8 << 30, maxEntries: Int = 500_000) {
            self.maxTotalBytes = maxTotalBytes
            self.maxEntries = maxEntries
        }
    }

    /// What an extraction read. `unowned` counts entries whose owner could not be set (ids a
    /// user that is not root cannot give away): they stay the extracting user's.
    public struct Summary: Sendable { public var entries = 0; public var bytes: Int64 = 0; public var unowned = 0 }

    /// The paths of a folder whose owners could not be set (ids a user that is not root cannot
    /// give away), with the owner (ids inside the namespace) and mode each should have, as the
    /// layers extracted into the folder leave it: a later entry, whiteout or replacement of a
    /// path drops what was noted for it. `slipway-userns --apply-owners` then sets them from
    /// inside the namespace.
    ///
    /// `@unchecked Sendable`: one extraction at a time uses it, on the thread that runs it; it
    /// is read when they are all done.
    public final class OwnerLedger: @unchecked Sendable {
        public struct Owner: Sendable, Equatable {
            public var uid: UInt32
            public var gid: UInt32
            /// nil for a symlink (its mode means nothing).
            public var mode: mode_t?
        }
        public private(set) var owners: [String: Owner] = [:]
        public init() {}

        func note(_ parts: [String], _ owner: Owner?) {
            let path = parts.joined(separator: "/")
            owners[path] = owner
        }

        /// Notes the hard link `parts` as its target `target` is noted: they share one inode,
        /// and the owner must still be set through the link when the target's name goes.
        func noteLink(_ parts: [String], to target: [String]) {
            owners[parts.joined(separator: "/")] = owners[target.joined(separator: "/")]
        }

        /// Forgets `parts` and everything below it (`keepSelf`: only what is below).
        func forget(_ parts: [String], keepSelf: Bool = false) {
            let path = parts.joined(separator: "/")
            let prefix = path.isEmpty ? "" : path + "/"
            owners = owners.filter { key, _ in !(key.hasPrefix(prefix) || (!keepSelf && key == path)) }
        }

        /// The records `slipway-userns --apply-owners` reads: "UID GID MODE PATH", NUL-ended.
        public var records: [UInt8] {
            var out: [UInt8] = []
            for (path, o) in owners.sorted(by: { $0.key < $1.key }) {
                out += Array("\(o.uid) \(o.gid) \(o.mode.map { String($0, radix: 8) } ?? "-") \(path)".utf8) + [0]
            }
            return out
        }
    }

    /// Files an extraction may take from an earlier one instead of writing them: the folder the
    /// earlier one made (never written since) and what it noted of each regular file (content
    /// digest, mode). A file of the same path, content and mode is hard-linked from there: no
    /// new inode and no write, which is most of what unpacking costs. Every extraction given a
    /// `FileReuse` notes its own files in `files`, for the next one.
    ///
    /// `@unchecked Sendable`: one extraction uses it, on the thread that runs it; `files` is read
    /// when it is done.
    public final class FileReuse: @unchecked Sendable {
        public struct FileRecord: Codable, Equatable, Sendable {
            public var digest: String
            public var mode: UInt32
        }
        /// Files larger than this are written as they stream (and not noted).
        static let maxBuffered = 8 << 20
        let previous: ConfinedDirectory?
        let previousFiles: [String: FileRecord]
        public private(set) var files: [String: FileRecord] = [:]
        public private(set) var linked = 0
        private var lastParent: (path: String, dir: ConfinedDirectory)?

        public init(previous: ConfinedDirectory?, files: [String: FileRecord]) {
            self.previous = previous
            self.previousFiles = files
        }

        /// Links the earlier extraction's `path` as `name` in `parent` when it had `record`.
        func link(_ path: String, record: FileRecord, as name: String, in parent: ConfinedDirectory) -> Bool {
            files[path] = record
            guard let previous, previousFiles[path] == record else { return false }
            let slash = path.lastIndex(of: "/")
            let folder = slash.map { String(path[..<$0]) } ?? ""
            let file = slash.map { String(path[path.index(after: $0)...]) } ?? path
            // Walked without following a symlink, and kept for the next file of the folder.
            if lastParent?.path != folder {
                // A folder the earlier extraction lacks (or holds otherwise) links nothing.
                guard let dir = folder.isEmpty ? previous : try? previous.openDirectory(folder) else { return false }  // see above
                lastParent = (folder, dir)
            }
            guard let dir = lastParent?.dir, let st = try? dir.status(file), (st.st_mode & S_IFMT) == S_IFREG else { return false }  // no such file there: nothing to link
            if linkat(dir.fd, file, parent.fd, name, 0) == 0 {
                linked += 1
                return true
            }
            return false
        }
    }

    /// Notes what an entry's owner should be when it could not be set, or that it is right.
    func noteOwner(_ owned: Bool, _ summary: inout Summary, _ parts: [String], _ entry: OpaquePointer, mode: mode_t?) {
        if owned {
            ledger?.note(parts, nil)
            return
        }
        summary.unowned += 1
        let nobody: UInt32 = 65534
        let (uid, gid) = (UInt32(clamping: archive_entry_uid(entry)), UInt32(clamping: archive_entry_gid(entry)))
        ledger?.note(parts, .init(uid: uid < IDMapping.size ? uid : nobody, gid: gid < IDMapping.size ? gid : nobody, mode: mode))
    }

    public let policy: Policy
    public let limits: Limits
    public let stripComponents: Int
    /// When set, entries keep their owners, mapped onto the host ids of a Dockerfile step's user
    /// namespace (an id it does not map becomes its nobody, 65534), and their setuid and setgid
    /// bits, which mean something only inside that namespace. Otherwise entries belong to the
    /// extracting user and lose those bits.
    public let owners: IDMapping?
    /// Where owners that could not be set are noted (with `owners`).
    public let ledger: OwnerLedger?
    /// Files to take from an earlier extraction (without `owners`: a linked file keeps the
    /// owner it has).
    public let reuse: FileReuse?

    public init(policy: Policy, limits: Limits = Limits(), stripComponents: Int = 0, owners: IDMapping? = nil, ledger: OwnerLedger? = nil,
                reuse: FileReuse? = nil) {
        self.reuse = owners == nil ? reuse : nil
        self.ledger = ledger
        self.policy = policy
        self.limits = limits
        self.stripComponents = stripComponents
        self.owners = owners
    }

    /// Gives the entry `name` of `parent` its mapped owner; false when that is not allowed.
    func own(_ name: String, in parent: ConfinedDirectory, _ entry: OpaquePointer) -> Bool {
        guard let m = owners else { return true }
        let nobody: UInt32 = 65534
        let uid = IDMapping.outer(UInt32(clamping: archive_entry_uid(entry)), in: m.users) ?? IDMapping.outer(nobody, in: m.users) ?? getuid()
        let gid = IDMapping.outer(UInt32(clamping: archive_entry_gid(entry)), in: m.groups) ?? IDMapping.outer(nobody, in: m.groups) ?? getgid()
        return fchownat(parent.fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0
    }

    /// Whether the file at `path` is a tar archive, plain or compressed (gzip, bzip2, xz, zstd):
    /// its first entry's header reads as tar once decompressed. A compressed file of anything
    /// else is not (Docker's ADD copies it as it is).
    public static func isTarArchive(at path: String) -> Bool {
        guard let a = archive_read_new() else { return false }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        archive_read_support_format_gnutar(a)
        guard archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else { return false }
        var entry: OpaquePointer?
        return archive_read_next_header(a, &entry) == ARCHIVE_OK
    }

    /// Extracts `path` into the folder `destination` (created if missing). `name` is how
    /// messages call the archive (what the user gave, never an internal path).
    @discardableResult
    public func extract(archiveAt path: String, into destination: String, name: String? = nil) throws -> Summary {
        let root = try ConfinedDirectory(path: destination, displayPath: "", create: true)
        return try extract(archiveAt: path, into: root, name: name ?? "the archive")
    }

    @discardableResult
    public func extract(archiveAt path: String, into root: ConfinedDirectory, name archiveName: String) throws -> Summary {
        do {
            return try extractEntries(archiveAt: path, into: root, name: archiveName)
        } catch let e as ConfinedPathError {
            throw RuntimeError.invalid("\(archiveName) cannot be extracted: \(e)")
        }
    }

    private func extractEntries(archiveAt path: String, into root: ConfinedDirectory, name archiveName: String) throws -> Summary {
        guard let a = archive_read_new() else { throw RuntimeError.io("libarchive: out of memory") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_all(a)
        guard archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else {
            throw RuntimeError.invalid("cannot read \(archiveName): \(Self.errorString(a))")
        }
        var summary = Summary()
        var entry: OpaquePointer?
        var deferredDirModes: [([String], mode_t)] = []
        var parents = ParentCache(root: root)
        var written = WrittenPaths()
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            // Some writers (umoci 0.4) end a layer right after the last file's data, without the
            // padding and end-of-archive blocks; everything was read, so that is the end.
            // (Reaching here means the previous entry was read completely: writeData throws otherwise.)
            if r == ARCHIVE_FATAL, summary.entries > 0, Self.errorString(a).contains("Truncated") { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else {
                throw RuntimeError.invalid("\(archiveName) is damaged: \(Self.errorString(a))")
            }
            summary.entries += 1
            if summary.entries > limits.maxEntries {
                throw RuntimeError.invalid("\(archiveName) has more than \(limits.maxEntries) entries, the limit on archive entries; refusing it")
            }
            let rawName = Self.pathname(entry)
            let shown = PathSyntax.shortened(rawName, limit: 200)
            guard var parts = try normalize(rawName) else { continue }
            let type = archive_entry_filetype(entry) & S_IFMT
            let perm = mode_t(archive_entry_perm(entry) & (owners == nil ? 0o1777 : 0o7777))  // setuid/setgid only in a namespace
            let name = parts.removeLast()

            if policy == .imageLayer, name.hasPrefix(".wh.") {
                let parentParts = try resolve(parts, in: root, createMissing: true, entry: shown)
                let parent = try parents.open(parentParts)
                // The folder is this layer's too (opaque markers apply first: OCI layer.md).
                written.note(parentParts)
                if name == ".wh..wh..opq" {
                    if written.holdsEntries(in: parentParts) {
                        for child in try parent.entries() { try hideLower(child, in: parent, at: parentParts, written: written, parents: &parents) }
                    } else {  // the usual order, the marker first: all of it is lower
                        try parent.removeContents()
                        ledger?.forget(parentParts, keepSelf: true)
                        parents.forget(parentParts)
                    }
                } else {
                    let target = String(name.dropFirst(4))
                    guard Self.isNormalComponent(target), !target.hasPrefix(".wh.") else {
                        throw RuntimeError.invalid("layer entry '\(shown)' is a whiteout of '\(PathSyntax.shortened(target, limit: 200))', which is not a file name; refusing the layer")
                    }
                    try hideLower(target, in: parent, at: parentParts, written: written, parents: &parents)
                }
                continue
            }

            let parentParts = try resolve(parts, in: root, createMissing: true, entry: shown)
            let parent = try parents.open(parentParts)
            let existing = try parent.status(name)
            if let existing, !(type == S_IFDIR && (existing.st_mode & S_IFMT) == S_IFDIR) {
                guard policy == .imageLayer else {
                    throw RuntimeError.invalid("entry '\(shown)' of \(archiveName) appears twice or would replace another entry; refusing it")
                }
                try parent.remove(name)
                ledger?.forget(parentParts + [name])
                parents.forget(parentParts + [name])
            }
            // libarchive gives a tar hard link (type 1) no file type, or a regular file's when
            // the entry carries data (pax); either way it is a link, to be checked.
            if let target = archive_entry_hardlink(entry).map({ String(cString: $0) }) {
                try hardLink(a, entry: shown, to: target, as: name, in: parent, at: parentParts, root: root, archiveName: archiveName,
                             written: &written, total: &summary.bytes)
                continue
            }
            switch type {
            case S_IFDIR:
                if existing.map({ ($0.st_mode & S_IFMT) != S_IFDIR }) ?? true {
                    guard mkdirat(parent.fd, name, 0o755) == 0 else {
                        throw RuntimeError.io("cannot create folder '\(shown)': \(String(cString: strerror(errno)))")
                    }
                }
                written.note(parentParts + [name])
                noteOwner(own(name, in: parent, entry), &summary, parentParts + [name], entry, mode: perm)
                deferredDirModes.append((parentParts + [name], owners == nil ? perm | 0o700 : perm))
            case S_IFREG:
                if let reuse, archive_entry_size(entry) <= FileReuse.maxBuffered {
                    // Read whole and hashed first: the same file before is linked, not written.
                    let data = try readData(a, size: archive_entry_size(entry), entryName: shown, archiveName: archiveName, total: &summary.bytes)
                    let record = FileReuse.FileRecord(digest: Digest.of(data).hex, mode: UInt32(perm))
                    if reuse.link((parentParts + [name]).joined(separator: "/"), record: record, as: name, in: parent) {
                        try written.noteFile(parentParts + [name], in: parent)
                        continue
                    }
                    let fd = try parent.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: perm | 0o200)
                    defer { close(fd) }
                    var done = 0
                    while done < data.count {
                        let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else { throw RuntimeError.io("writing '\(shown)': \(String(cString: strerror(errno)))") }
                        done += n
                    }
                    fchmod(fd, perm)
                    try written.noteFile(parentParts + [name], in: parent)
                    continue
                }
                let fd: Int32
                do {
                    fd = try parent.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: perm | 0o200)
                } catch {
                    throw RuntimeError.io("cannot create '\(shown)': \(error)")
                }
                defer { close(fd) }
                try writeData(a, to: fd, size: archive_entry_size(entry), entryName: shown, archiveName: archiveName, total: &summary.bytes)
                noteOwner(own(name, in: parent, entry), &summary, parentParts + [name], entry, mode: perm)
                fchmod(fd, perm)  // after the owner: chown clears setuid
                try written.noteFile(parentParts + [name], in: parent)
            case S_IFLNK:
                let linkTarget = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                if policy == .source {
                    try checkSymlinkStaysInside(relative: (parts + [name]).joined(separator: "/"), target: linkTarget, entryName: shown)
                }
                guard symlinkat(linkTarget, parent.fd, name) == 0 else {
                    throw RuntimeError.io("cannot create symlink '\(shown)': \(String(cString: strerror(errno)))")
                }
                written.note(parentParts + [name])
                noteOwner(own(name, in: parent, entry), &summary, parentParts + [name], entry, mode: nil)
            default:
                // Devices, FIFOs and sockets have no place in a source tree or build root (nor
                // do further names of them).
                written.noteSkipped(parentParts + [name])
                continue
            }
        }
        for (parts, mode) in deferredDirModes.reversed() {
            // A folder a later entry replaced (with a symlink, say) is not followed.
            guard let dir = try? root.openDirectory(parts.joined(separator: "/")) else { continue }  // see above
            fchmod(dir.fd, mode)
        }
        return summary
    }

    /// What one extraction (one layer) wrote, by symlink-free path below the root: whiteouts
    /// hide everything else in a folder, and hard links may name only its regular files.
    struct WrittenPaths {
        /// A file by device and inode: the one this extraction wrote at a path, not another put
        /// there since.
        struct FileID: Equatable {
            let device: dev_t
            let inode: ino_t
            init(_ st: stat) { (device, inode) = (st.st_dev, st.st_ino) }
        }
        /// Every path the extraction created or declared, and the folders above each.
        private var paths: Set<String> = []
        /// The folders above them.
        private var folders: Set<String> = []
        /// The regular files among them.
        private var files: [String: FileID] = [:]
        /// Devices, FIFOs and sockets it left out.
        private var skipped: Set<String> = []
        /// The folder of the last path noted, whose folders above are noted already.
        private var lastFolder: ArraySlice<String> = []

        static func key(_ parts: [String]) -> String { parts.joined(separator: "/") }

        /// Notes `parts` (not a regular file) and the folders above it.
        mutating func note(_ parts: [String]) {
            guard !parts.isEmpty else { return }
            let folder = parts.dropLast()
            if folder != lastFolder {
                var prefix = ""
                for part in folder {
                    prefix = prefix.isEmpty ? part : prefix + "/" + part
                    paths.insert(prefix)
                    folders.insert(prefix)
                }
                lastFolder = folder
            }
            let key = Self.key(parts)
            paths.insert(key)
            files[key] = nil
            skipped.remove(key)
        }

        /// Notes the regular file `parts`, just made as its last name in `parent`.
        mutating func noteFile(_ parts: [String], in parent: ConfinedDirectory) throws {
            guard let st = try parent.status(parts[parts.count - 1]) else {
                throw RuntimeError.io("'\(Self.key(parts))' is gone right after it was written")
            }
            note(parts)
            files[Self.key(parts)] = FileID(st)
        }

        /// Notes a device, FIFO or socket left out at `parts`.
        mutating func noteSkipped(_ parts: [String]) {
            files[Self.key(parts)] = nil
            skipped.insert(Self.key(parts))
        }

        func contains(_ parts: [String]) -> Bool { paths.contains(Self.key(parts)) }
        /// Whether anything was noted inside the folder `parts`.
        func holdsEntries(in parts: [String]) -> Bool { parts.isEmpty ? !paths.isEmpty : folders.contains(Self.key(parts)) }
        func file(_ parts: [String]) -> FileID? { files[Self.key(parts)] }
        func isSkipped(_ parts: [String]) -> Bool { skipped.contains(Self.key(parts)) }
    }

    /// Hides what lower layers put at `name` in `dir` (the folder `parts`), for a whiteout: all
    /// of it when this extraction did not write `name`; when it did and `name` is a folder,
    /// what lower layers left inside, and so on down. A whiteout never removes its own layer's
    /// entries, before or after it in the tar (OCI layer.md: whiteouts apply to lower layers).
    private func hideLower(_ name: String, in dir: ConfinedDirectory, at parts: [String], written: WrittenPaths, parents: inout ParentCache) throws {
        let path = parts + [name]
        guard let st = try dir.status(name) else { return }
        let isFolder = (st.st_mode & S_IFMT) == S_IFDIR
        guard written.contains(path) else {
            try dir.remove(name)
            // A folder's records go with it (a walk of the ledger); anything else has one.
            if isFolder { ledger?.forget(path) } else { ledger?.note(path, nil) }
            parents.forget(path)
            return
        }
        guard isFolder else { return }
        let folder = try dir.openDirectory(name)
        for child in try folder.entries() { try hideLower(child, in: folder, at: path, written: written, parents: &parents) }
    }

    /// Makes `name` in `parent` (the folder `parentParts`) a hard link to `target`, an entry's
    /// link name: a regular file this extraction wrote, found inside the root (a symlink on the
    /// way resolved as for any entry, the last name never followed). The link shares the file's
    /// inode, so its owner and mode, and adds no bytes; a link with data of its own is refused.
    private func hardLink(_ a: OpaquePointer, entry shown: String, to target: String, as name: String, in parent: ConfinedDirectory,
                          at parentParts: [String], root: ConfinedDirectory, archiveName: String, written: inout WrittenPaths,
                          total: inout Int64) throws {
        func refuse(_ why: String) -> RuntimeError {
            RuntimeError.invalid("entry '\(shown)' of \(archiveName) is a hard link to '\(PathSyntax.shortened(target, limit: 200))', \(why); refusing it")
        }
        let targetParts: [String]?
        do {
            targetParts = try normalize(target)
        } catch {
            throw refuse("which is outside the archive (a hard link may only name a file earlier in the archive)")
        }
        guard let targetParts, !targetParts.isEmpty else { throw refuse("which is not a file of the archive") }
        let folderParts = try resolve(Array(targetParts.dropLast()), in: root, createMissing: false, entry: shown)
        let targetName = targetParts[targetParts.count - 1]
        if written.isSkipped(folderParts + [targetName]) { return }  // another name of a device or FIFO: left out too
        let folder = folderParts.isEmpty ? root : try root.openDirectory(WrittenPaths.key(folderParts))
        guard let st = try folder.status(targetName) else { throw refuse("which is not in the archive before it") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw refuse("which is \(ConfinedDirectory.describe(st.st_mode))") }
        guard written.file(folderParts + [targetName]) == WrittenPaths.FileID(st) else {
            throw refuse(policy == .imageLayer
                ? "a file this layer does not hold (a hard link in a layer may only name a file earlier in the same layer)"
                : "which is not a file earlier in the archive")
        }
        try readBlocks(a, size: 0, entryName: shown, archiveName: archiveName, total: &total) { _, _, _ in
            throw refuse("and carries data of its own, which is not supported")
        }
        guard linkat(folder.fd, targetName, parent.fd, name, 0) == 0 else {  // flags 0: a symlink is never followed
            throw RuntimeError.io("cannot create the hard link '\(shown)': \(String(cString: strerror(errno)))")
        }
        ledger?.noteLink(parentParts + [name], to: folderParts + [targetName])
        try written.noteFile(parentParts + [name], in: parent)
    }

    /// Open parent folders by their (symlink-free) path; consecutive entries mostly share one.
    struct ParentCache {
        let root: ConfinedDirectory
        var last: (parts: [String], dir: ConfinedDirectory)?

        mutating func open(_ parts: [String]) throws -> ConfinedDirectory {
            if parts.isEmpty { return root }
            if let last, last.parts == parts { return last.dir }
            let dir = try root.openDirectory(parts.joined(separator: "/"))
            last = (parts, dir)
            return dir
        }

        /// Drops a cached folder that was just removed or replaced.
        mutating func forget(_ parts: [String]) {
            if let last, last.parts.starts(with: parts) { self.last = nil }
        }
    }

    static func errorString(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
    }

    static func pathname(_ entry: OpaquePointer) -> String {
        if let p = archive_entry_pathname_utf8(entry) { return String(cString: p) }
        if let p = archive_entry_pathname(entry) { return String(cString: p) }
        return ""
    }

    /// One name a folder can hold: not empty, not `.` or `..`, no `/` and no NUL.
    public static func isNormalComponent(_ s: String) -> Bool {
        !s.isEmpty && s != "." && s != ".." && !s.utf8.contains(UInt8(ascii: "/")) && !s.utf8.contains(0)
    }

    /// The entry's path as components below the root after `stripComponents`, or nil to skip it.
    func normalize(_ raw: String) throws -> [String]? {
        let shown = PathSyntax.shortened(raw, limit: 200)
        if raw.utf8.contains(0) { throw RuntimeError.invalid("archive entry '\(shown)' has a NUL in its name; refusing it") }
        if policy == .source, raw.hasPrefix("/") {
            throw RuntimeError.invalid("archive entry '\(shown)' has an absolute path; refusing to extract it")
        }
        var parts: [String] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if policy == .source {
                    throw RuntimeError.invalid("archive entry '\(shown)' contains '..' and would escape the source root; refusing to extract it")
                }
                _ = parts.popLast()
                continue
            }
            parts.append(String(part))
        }
        guard parts.count > stripComponents else { return nil }
        return Array(parts.dropFirst(stripComponents))
    }

    func checkSymlinkStaysInside(relative: String, target: String, entryName: String) throws {
        if target.hasPrefix("/") {
            throw RuntimeError.invalid("archive entry '\(entryName)' is a symlink to the absolute path '\(PathSyntax.shortened(target, limit: 200))', outside the source root; refusing it")
        }
        var depth = relative.split(separator: "/").count - 1
        for part in target.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            depth += part == ".." ? -1 : 1
            if depth < 0 {
                throw RuntimeError.invalid("archive entry '\(entryName)' is a symlink to '\(PathSyntax.shortened(target, limit: 200))', which points outside the source root; refusing it")
            }
        }
    }

    /// The symlink-free components of `parts` inside `root`. Source archives may not pass
    /// through a symlink; image layers resolve symlinks the way the container would see them,
    /// clamped at the root (so `/lib -> usr/lib` works and nothing can point outside).
    func resolve(_ parts: [String], in root: ConfinedDirectory, createMissing: Bool, entry: String) throws -> [String] {
        var resolved: [String] = []
        var pending = Array(parts.reversed())
        var hops = 0
        while let part = pending.popLast() {
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = resolved.popLast(); continue }
            let here = (resolved + [part]).joined(separator: "/")
            guard let st = try root.status(here) else {
                guard createMissing else { throw RuntimeError.invalid("'\(entry)' refers to '\(here)', which does not exist in the archive") }
                let parent = resolved.isEmpty ? root : try root.openDirectory(resolved.joined(separator: "/"))
                guard mkdirat(parent.fd, part, 0o755) == 0 || errno == EEXIST else {
                    throw RuntimeError.io("cannot create folder '\(here)': \(String(cString: strerror(errno)))")
                }
                resolved.append(part)
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard policy == .imageLayer else {
                    throw RuntimeError.invalid("archive entry path '\(entry)' passes through a symlink; refusing to write through it")
                }
                hops += 1
                if hops > 40 { throw RuntimeError.invalid("too many levels of symlinks resolving '\(entry)'") }
                let target = try root.readLink(here)
                if target.hasPrefix("/") { resolved.removeAll() }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
                continue
            }
            resolved.append(part)
        }
        return resolved
    }

    /// Hands each block of one entry's data to `body` (bytes, their offset in the entry),
    /// counting every byte against the archive's cap (headers can lie, and zip entries may give
    /// no size at all).
    private func readBlocks(_ a: OpaquePointer, size expected: Int64, entryName: String, archiveName: String, total: inout Int64,
                            _ body: (UnsafeRawPointer, Int, Int64) throws -> Void) throws {
        var buf: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var written: Int64 = 0
        while true {
            let r = archive_read_data_block(a, &buf, &size, &offset)
            if r == ARCHIVE_EOF { break }
            // All the data is there and only the block padding is missing (see extract).
            if r == ARCHIVE_FATAL, written == expected, Self.errorString(a).contains("Truncated") { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN else {
                throw RuntimeError.invalid("entry '\(entryName)' of \(archiveName) cannot be read: \(Self.errorString(a))")
            }
            guard let buf, size > 0 else { continue }
            total += Int64(size)
            if total > limits.maxTotalBytes {
                throw RuntimeError.invalid(
                    "\(archiveName) expands to more than \(limits.maxTotalBytes) bytes, the extraction cap; refusing it")
            }
            try body(buf, size, Int64(offset))
            written = max(written, Int64(offset) + Int64(size))
        }
    }

    /// An entry's data, read whole (at most `FileReuse.maxBuffered` bytes).
    private func readData(_ a: OpaquePointer, size expected: Int64, entryName: String, archiveName: String, total: inout Int64) throws -> [UInt8] {
        var data = [UInt8](repeating: 0, count: Int(expected))
        try readBlocks(a, size: expected, entryName: entryName, archiveName: archiveName, total: &total) { buf, size, offset in
            guard offset >= 0, offset + Int64(size) <= expected else {
                throw RuntimeError.invalid("entry '\(entryName)' of \(archiveName) holds more data than its header says")
            }
            data.withUnsafeMutableBytes { _ = memcpy($0.baseAddress! + Int(offset), buf, size) }
        }
        return data
    }

    /// Streams one entry's data into `fd`.
    private func writeData(_ a: OpaquePointer, to fd: Int32, size expected: Int64, entryName: String, archiveName: String,
                           total: inout Int64) throws {
        try readBlocks(a, size: expected, entryName: entryName, archiveName: archiveName, total: &total) { buf, size, offset in
            var done = 0
            while done < size {
                let n = pwrite(fd, buf + done, size - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RuntimeError.io("writing '\(entryName)': \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }
}
