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
    /// How strictly paths are treated: user source; an image layer; or an archive a
    /// Dockerfile's ADD unpacks into an image, which Docker unpacks chrooted at the destination
    /// (moby's chrootarchive.Untar, called by BuildKit's file backend): names and `..` stay
    /// below the destination, symlinks are kept whatever they point at (they resolve in the
    /// container), later entries may replace earlier ones, and `.wh.` names are plain files.
    /// The last two share the image-layer path rules: a symlink on an entry's way is resolved
    /// by Slipway, clamped at the root, never followed by the kernel.
    public enum Policy: Sendable { case source, imageLayer, addedArchive }

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
    public let ledger: ArchiveOwnerLedger?
    /// Files to take from an earlier extraction (without `owners`: a linked file keeps the
    /// owner it has).
    public let reuse: ArchiveFileReuse?

    public init(policy: Policy, limits: Limits = Limits(), stripComponents: Int = 0, owners: IDMapping? = nil, ledger: ArchiveOwnerLedger? = nil,
                reuse: ArchiveFileReuse? = nil) {
        self.reuse = owners == nil ? reuse : nil
        self.ledger = ledger
        self.policy = policy
        self.limits = limits
        self.stripComponents = stripComponents
        self.owners = owners
    }

    /// The path rules of this extraction's policy.
    var paths: ArchiveEntryPaths { ArchiveEntryPaths(policy: policy, stripComponents: stripComponents) }
    /// Entry data, counted against this extraction's cap.
    var entryData: ArchiveEntryData { ArchiveEntryData(limits: limits) }

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
            throw RuntimeError.invalid("cannot read \(archiveName): \(LibArchive.errorString(a))")
        }
        var summary = Summary()
        var entry: OpaquePointer?
        var deferredDirModes: [([String], mode_t)] = []
        var parents = ParentFolderCache(root: root)
        var written = ExtractedPaths()
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            // Some writers (umoci 0.4) end a layer right after the last file's data, without the
            // padding and end-of-archive blocks; everything was read, so that is the end.
            // (Reaching here means the previous entry was read completely: writeData throws otherwise.)
            if r == ARCHIVE_FATAL, summary.entries > 0, LibArchive.errorString(a).contains("Truncated") { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else {
                throw RuntimeError.invalid("\(archiveName) is damaged: \(LibArchive.errorString(a))")
            }
            summary.entries += 1
            if summary.entries > limits.maxEntries {
                throw RuntimeError.invalid("\(archiveName) has more than \(limits.maxEntries) entries, the limit on archive entries; refusing it")
            }
            let rawName = LibArchive.pathname(entry)
            let shown = PathSyntax.shortened(rawName, limit: 200)
            guard var parts = try paths.normalize(rawName) else { continue }
            let type = archive_entry_filetype(entry) & S_IFMT
            let perm = mode_t(archive_entry_perm(entry) & (owners == nil ? 0o1777 : 0o7777))  // setuid/setgid only in a namespace
            let name = parts.removeLast()

            if policy == .imageLayer, name.hasPrefix(".wh.") {
                let parentParts = try paths.resolve(parts, in: root, createMissing: true, entry: shown)
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
                    guard PathSyntax.isNormalComponent(target), !target.hasPrefix(".wh.") else {
                        throw RuntimeError.invalid("layer entry '\(shown)' is a whiteout of '\(PathSyntax.shortened(target, limit: 200))', which is not a file name; refusing the layer")
                    }
                    try hideLower(target, in: parent, at: parentParts, written: written, parents: &parents)
                }
                continue
            }

            let parentParts = try paths.resolve(parts, in: root, createMissing: true, entry: shown)
            let parent = try parents.open(parentParts)
            let existing = try parent.status(name)
            if let existing, !(type == S_IFDIR && (existing.st_mode & S_IFMT) == S_IFDIR) {
                guard policy != .source else {
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
                if let reuse, archive_entry_size(entry) <= ArchiveFileReuse.maxBuffered {
                    // Read whole and hashed first: the same file before is linked, not written.
                    let data = try entryData.readData(a, size: archive_entry_size(entry), entryName: shown, archiveName: archiveName, total: &summary.bytes)
                    let record = ArchiveFileReuse.FileRecord(digest: Digest.of(data).hex, mode: UInt32(perm))
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
                try entryData.writeData(a, to: fd, size: archive_entry_size(entry), entryName: shown, archiveName: archiveName, total: &summary.bytes)
                noteOwner(own(name, in: parent, entry), &summary, parentParts + [name], entry, mode: perm)
                fchmod(fd, perm)  // after the owner: chown clears setuid
                try written.noteFile(parentParts + [name], in: parent)
            case S_IFLNK:
                let linkTarget = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                if policy == .source {
                    try paths.checkSymlinkStaysInside(relative: (parts + [name]).joined(separator: "/"), target: linkTarget, entryName: shown)
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


    /// Hides what lower layers put at `name` in `dir` (the folder `parts`), for a whiteout: all
    /// of it when this extraction did not write `name`; when it did and `name` is a folder,
    /// what lower layers left inside, and so on down. A whiteout never removes its own layer's
    /// entries, before or after it in the tar (OCI layer.md: whiteouts apply to lower layers).
    private func hideLower(_ name: String, in dir: ConfinedDirectory, at parts: [String], written: ExtractedPaths, parents: inout ParentFolderCache) throws {
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
                          at parentParts: [String], root: ConfinedDirectory, archiveName: String, written: inout ExtractedPaths,
                          total: inout Int64) throws {
        func refuse(_ why: String) -> RuntimeError {
            RuntimeError.invalid("entry '\(shown)' of \(archiveName) is a hard link to '\(PathSyntax.shortened(target, limit: 200))', \(why); refusing it")
        }
        let targetParts: [String]?
        do {
            targetParts = try paths.normalize(target)
        } catch {
            throw refuse("which is outside the archive (a hard link may only name a file earlier in the archive)")
        }
        guard let targetParts, !targetParts.isEmpty else { throw refuse("which is not a file of the archive") }
        let folderParts = try paths.resolve(Array(targetParts.dropLast()), in: root, createMissing: false, entry: shown)
        let targetName = targetParts[targetParts.count - 1]
        if written.isSkipped(folderParts + [targetName]) { return }  // another name of a device or FIFO: left out too
        let folder = folderParts.isEmpty ? root : try root.openDirectory(ExtractedPaths.key(folderParts))
        guard let st = try folder.status(targetName) else { throw refuse("which is not in the archive before it") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw refuse("which is \(ConfinedDirectory.describe(st.st_mode))") }
        guard written.file(folderParts + [targetName]) == ExtractedPaths.FileID(st) else {
            throw refuse(policy == .imageLayer
                ? "a file this layer does not hold (a hard link in a layer may only name a file earlier in the same layer)"
                : "which is not a file earlier in the archive")
        }
        try entryData.readBlocks(a, size: 0, entryName: shown, archiveName: archiveName, total: &total) { _, _, _ in
            throw refuse("and carries data of its own, which is not supported")
        }
        guard linkat(folder.fd, targetName, parent.fd, name, 0) == 0 else {  // flags 0: a symlink is never followed
            throw RuntimeError.io("cannot create the hard link '\(shown)': \(String(cString: strerror(errno)))")
        }
        ledger?.noteLink(parentParts + [name], to: folderParts + [targetName])
        try written.noteFile(parentParts + [name], in: parent)
    }
}
