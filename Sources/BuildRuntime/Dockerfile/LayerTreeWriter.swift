import Foundation

/// Writes a layer two ways at once: its tar (the blob, through `TarWriter`) and the folder RUN
/// steps see it as (an overlay lower, owners mapped into the step namespace), so that a COPY
/// never unpacks what it has just written. A file the layer takes unchanged from a folder
/// Slipway keeps (the build context, another layer's folder) is hard-linked rather than copied:
/// no such folder is ever written again (steps see them only as overlay lowers). Where the
/// folder cannot follow (an archive ADD unpacks), it is dropped, and the layer is unpacked from
/// its tar as before.
///
/// Owners a user that is not root may not give away go into `ledger`, set later from inside the
/// namespace (`UserNamespaceRunner.applyOwners`). With `innerIDs` (root, `OverlayStepRunner
/// .innerIDFolders`), the folder keeps the namespace's own ids, so a file the source snapshot
/// holds as root's is linked from it as it is.
final class LayerTreeWriter {
    let tar: TarWriter
    let mapping: IDMapping
    let innerIDs: Bool
    let ledger = ArchiveOwnerLedger()
    /// The folder being written (a scratch folder); nil once dropped.
    private(set) var folder: String?
    private var directories: [String: ConfinedDirectory] = [:]

    init(tar: TarWriter, folder: String, mapping: IDMapping, innerIDs: Bool = false) throws {
        self.tar = tar
        self.mapping = mapping
        self.innerIDs = innerIDs
        self.folder = folder
        directories[""] = try ConfinedDirectory(path: folder, create: true)
    }

    /// Stops writing the folder (it is removed by the caller, or by the next collection).
    func drop() {
        folder = nil
        directories = [:]
    }

    private func split(_ path: String) -> (parent: ConfinedDirectory?, name: String, parts: [String]) {
        let parts = path.split(separator: "/").map(String.init)
        guard folder != nil, let name = parts.last else { return (nil, "", parts) }
        return (directories[parts.dropLast().joined(separator: "/")], name, parts)
    }

    /// The ids on disk of what `owner` owns inside the namespace.
    private func diskOwner(_ owner: TarWriter.Owner) -> (uid: uid_t, gid: gid_t) {
        if innerIDs { return (uid_t(owner.uid), gid_t(owner.gid)) }
        return (IDMapping.outer(UInt32(owner.uid), in: mapping.users) ?? getuid(), IDMapping.outer(UInt32(owner.gid), in: mapping.groups) ?? getgid())
    }

    /// Gives `name` in `parent` the step namespace's ids of `owner`, or notes them.
    private func own(_ parent: ConfinedDirectory, _ name: String, _ parts: [String], _ owner: TarWriter.Owner, mode: mode_t?) {
        let (uid, gid) = diskOwner(owner)
        if fchownat(parent.fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 {
            ledger.note(parts, .init(uid: UInt32(owner.uid), gid: UInt32(owner.gid), mode: mode))
        }
    }

    func addDirectory(_ path: String, mode: Int, owner: TarWriter.Owner) throws {
        try tar.addDirectory(path, mode: mode, owner: owner)
        let (parent, name, parts) = split(path)
        guard let parent else { return drop() }
        let dir = try parent.makeDirectories(name, mode: 0o700)
        own(parent, name, parts, owner, mode: mode_t(mode))
        _ = fchmod(dir.fd, mode_t(mode))  // after the owner (chown clears setgid); a failure only narrows it
        directories[parts.joined(separator: "/")] = dir
    }

    func addSymlink(_ path: String, target: String, owner: TarWriter.Owner) throws {
        try tar.addSymlink(path, target: target, owner: owner)
        let (parent, name, parts) = split(path)
        guard let parent else { return drop() }
        guard symlinkat(target, parent.fd, name) == 0 else { throw RuntimeError.io("cannot write \(path) in the layer folder: \(String(cString: strerror(errno)))") }
        own(parent, name, parts, owner, mode: nil)
    }

    func addFile(_ path: String, contents: [UInt8], mode: Int, owner: TarWriter.Owner) throws {
        try tar.addFile(path, contents: contents, mode: mode, owner: owner)
        let (parent, name, parts) = split(path)
        guard let parent else { return drop() }
        let fd = try parent.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        defer { close(fd) }
        let n = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == contents.count else { throw RuntimeError.io("cannot write \(path) in the layer folder: \(String(cString: strerror(errno)))") }
        own(parent, name, parts, owner, mode: mode_t(mode))
        _ = fchmod(fd, mode_t(mode))  // as above
    }

    /// The file `name` of `source` (a folder Slipway keeps, never written: the context or a
    /// layer's) at `path`: linked when its inode already has the owner and mode asked for (with
    /// `adopt`, a context file is given the owner first, but only while that inode is in no
    /// other folder: a linked inode may be a lower of a running step, another context or
    /// another namespace's layer, which a change of owner would reach); else copied.
    func addFile(_ path: String, from source: ConfinedDirectory, name sourceName: String, status st: stat, mode: Int, owner: TarWriter.Owner,
                 adopt: Bool) throws {
        let fd = try source.openFile(sourceName, flags: O_RDONLY | O_NONBLOCK)
        defer { close(fd) }
        try tar.addFile(path, fd: fd, size: Int64(st.st_size), mode: mode, owner: owner)
        let (parent, name, parts) = split(path)
        guard let parent else { return drop() }
        let (uid, gid) = diskOwner(owner)
        if Int(st.st_mode & 0o7777) == mode {
            var owned = st.st_uid == uid && st.st_gid == gid
            // Taking a context file over only changes who owns it (setuid bits go with chown).
            var now = stat()
            if !owned, adopt, fstat(fd, &now) == 0, now.st_nlink == 1, st.st_mode & (S_ISUID | S_ISGID) == 0, fchown(fd, uid, gid) == 0 { owned = true }
            // A link can still be refused (protected_hardlinks): then the bytes are copied.
            if owned, linkat(source.fd, sourceName, parent.fd, name, 0) == 0 { return }
        }
        let out = try parent.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        defer { close(out) }
        try ConfinedDirectory.copyBytes(from: fd, to: out, count: Int64(st.st_size), what: "\(path) into the layer folder")
        own(parent, name, parts, owner, mode: mode_t(mode))
        _ = fchmod(out, mode_t(mode))  // as above
    }
}
