import CLinuxSyscalls
import Foundation

/// A step's root where overlayfs cannot be mounted: the merged layers copied into a folder
/// (owners kept, so only as root), the step run over it, and the folder then compared with
/// what was copied. What changed is moved into an upper folder shaped as overlayfs makes one —
/// new and changed paths as they are, a deleted path as a 0:0 character device, a folder the
/// step replaced marked `user.overlay.opaque=y` — so that `OverlayDiff` and everything after it
/// work as with an overlay.
///
/// A change is seen in a path's type, inode, size, mode, owner, mtime or ctime (a step cannot
/// set a ctime back). The folder was written by the step: it is walked through descriptors that
/// never follow a symlink.
///
/// Slipway run as root does this itself. Another user may not give away the ids of their range
/// nor touch what a step made with them: `worker` then does it from inside the step namespace
/// (`slipway-engine --copy-snapshot-worker`, run under `slipway-userns`).
public struct CopySnapshot: Sendable {
    /// What a path was when it was copied.
    struct Entry: Equatable, Sendable, Codable {
        var type: mode_t, inode: UInt, size: Int64, mode: mode_t, uid: uid_t, gid: gid_t
        var mtime: Int, mtimeNanos: Int, ctime: Int, ctimeNanos: Int

        init(_ st: stat) {
            type = st.st_mode & S_IFMT
            inode = UInt(st.st_ino)
            size = Int64(st.st_size)
            mode = st.st_mode & 0o7777
            uid = st.st_uid
            gid = st.st_gid
            (mtime, mtimeNanos) = (st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
            (ctime, ctimeNanos) = (st.st_ctim.tv_sec, st.st_ctim.tv_nsec)
        }
    }

    /// Every path of the copy (relative, `/`-separated; "" is the root) and what it was.
    let entries: [String: Entry]

    /// Copies the merged `view` into the empty folder `root` (owners, modes and symlinks kept).
    /// Layers past `limits` fail with `TreeLimitExceeded`.
    public static func copy(_ view: LayerChainView, into root: ConfinedDirectory, limits: TreeLimits = .default) throws -> CopySnapshot {
        var entries: [String: Entry] = [:]
        guard case .directory(let layers, let top)? = try view.node("") else { return CopySnapshot(entries: [:]) }
        try TreeWalker("the layers the step runs on", limits: limits).walk(
            from: FolderCopy(layers: layers, copy: root, parent: nil, status: top),
            entries: { try LayerChainView.entries(of: $0.layers) }, name: { $0 },
            visit: { folder, name, path in
                let sub = try copyEntry(name, of: folder.layers, into: folder.copy, path: path)
                // What the copy is now (a folder's, once its entries are in: they change its times).
                if sub == nil, let st = try folder.copy.status(name) { entries[path] = Entry(st) }
                return sub
            },
            leave: { folder, path in
                guard let (parent, name) = folder.parent else { return }
                guard fchown(folder.copy.fd, folder.status.st_uid, folder.status.st_gid) == 0, fchmod(folder.copy.fd, folder.status.st_mode & 0o7777) == 0 else {
                    throw RuntimeError.io("copying the folder \(path) for the step: \(String(cString: strerror(errno)))")
                }
                if let st = try parent.status(name) { entries[path] = Entry(st) }
            })
        guard fchown(root.fd, top.st_uid, top.st_gid) == 0, fchmod(root.fd, top.st_mode & 0o7777) == 0 else {
            throw RuntimeError.io("copying the root folder for the step: \(String(cString: strerror(errno)))")
        }
        if let st = LayerChainView.status(of: root) { entries[""] = Entry(st) }
        return CopySnapshot(entries: entries)
    }

    /// A folder being copied: its layers' folders, the copy, where the copy is, and the status
    /// (owner, mode) the copy gets once its entries are in.
    struct FolderCopy {
        let layers: [ConfinedDirectory]
        let copy: ConfinedDirectory
        /// The copy's folder and name; nil for the root.
        let parent: (ConfinedDirectory, String)?
        let status: stat
    }

    /// Copies the entry `name` of the merged `layers` into `dir`; a folder is made (writable
    /// until filled) and returned to be filled.
    static func copyEntry(_ name: String, of layers: [ConfinedDirectory], into dir: ConfinedDirectory, path: String) throws -> FolderCopy? {
        guard let node = try LayerChainView(folders: layers).node(name) else { return nil }
        switch node {
        case .file(let from, let n, let st):
            let input = try from.openFile(n, flags: O_RDONLY | O_NONBLOCK)
            defer { close(input) }
            let output = try dir.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            defer { close(output) }
            try ConfinedDirectory.copyBytes(from: input, to: output, count: Int64(st.st_size), what: "\(path) for the step")
            guard fchown(output, st.st_uid, st.st_gid) == 0, fchmod(output, st.st_mode & 0o7777) == 0 else {
                throw RuntimeError.io("copying \(path) for the step: \(String(cString: strerror(errno)))")
            }
        case .symlink(let target, let st):
            guard symlinkat(target, dir.fd, name) == 0, fchownat(dir.fd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw RuntimeError.io("copying the symlink \(path) for the step: \(String(cString: strerror(errno)))")
            }
        case .directory(let inner, let st):
            return FolderCopy(layers: inner, copy: try dir.makeDirectories(name, mode: 0o700), parent: (dir, name), status: st)
        }
        return nil
    }

    /// What a comparison has found so far.
    private struct Comparison {
        var seen = Set<String>()
        /// Paths the step deleted and made again (what was below them is gone with them).
        var replaced = Set<String>()
    }

    /// Moves what changed in `root` since the copy into the empty folder `upper`, shaped as an
    /// overlay's upper folder. A root past `limits` fails with `TreeLimitExceeded`.
    public func moveChanges(from root: ConfinedDirectory, into upper: ConfinedDirectory, limits: TreeLimits = .default) throws {
        var found = Comparison()
        try TreeWalker("the step's files", limits: limits).walk(
            from: (dir: root, path: ""), entries: { try $0.dir.entries() }, name: { $0 },
            visit: { folder, name, path in
                try compare(name, in: folder.dir, parent: folder.path, path: path, root: root, upper: upper, found: &found).map { (dir: $0, path: path) }
            })
        // Deleted paths: a whiteout for the topmost of each, none below a replaced folder.
        for path in entries.keys.sorted() where !path.isEmpty && !found.seen.contains(path) {
            let parts = path.split(separator: "/").map(String.init)
            let parent = parts.dropLast().joined(separator: "/")
            guard parent.isEmpty || found.seen.contains(parent), !found.replaced.contains(parent) else { continue }
            let dir = try upperFolder(parent, root: root, upper: upper)
            // A 0:0 character device, as overlayfs makes; where this kernel allows none to a user
            // namespace (before Linux 5.8), an OCI whiteout file, which `LayerChainView` and the
            // layer's tar read the same.
            if mknodat(dir.fd, parts.last!, S_IFCHR, 0) != 0 {
                guard errno == EPERM else { throw RuntimeError.io("cannot record the deletion of \(path): \(String(cString: strerror(errno)))") }
                try dir.createFile(OverlayDiff.whiteoutPrefix + parts.last!, contents: [])
            }
        }
    }

    /// Compares the entry `name` of `dir` (the folder `parent` of the root; `path` is the
    /// entry's) with what was copied, moving it to `upper` when it changed; returns an unchanged
    /// folder, to be compared in turn.
    private func compare(_ name: String, in dir: ConfinedDirectory, parent relative: String, path: String, root: ConfinedDirectory,
                         upper: ConfinedDirectory, found: inout Comparison) throws -> ConfinedDirectory? {
        guard let st = try dir.status(name) else { return nil }
        let now = Entry(st)
        guard let was = entries[path] else {
            try move(name, from: dir, parent: relative, root: root, upper: upper)
            return nil
        }
        found.seen.insert(path)
        if was.type != now.type || was.inode != now.inode {
            // Replaced: the new one goes up whole, and a folder hides what was below it.
            try move(name, from: dir, parent: relative, root: root, upper: upper)
            found.replaced.insert(path)
            if now.type == S_IFDIR {
                let moved = try upper.openDirectory(path)
                guard slipway_fsetxattr(moved.fd, "user.overlay.opaque", "y", 1) == 0 else {
                    throw RuntimeError.io("cannot mark \(path) as replaced: \(String(cString: strerror(errno)))")
                }
            }
        } else if now.type == S_IFDIR {
            if was != now { _ = try upperFolder(path, root: root, upper: upper) }
            return try dir.openDirectory(name)
        } else if was != now {
            try move(name, from: dir, parent: relative, root: root, upper: upper)
        }
        return nil
    }

    /// Moves `name` (in `dir`, the folder `parent` of the root) to the same place in `upper`.
    private func move(_ name: String, from dir: ConfinedDirectory, parent: String, root: ConfinedDirectory, upper: ConfinedDirectory) throws {
        let target = try upperFolder(parent, root: root, upper: upper)
        guard renameat(dir.fd, name, target.fd, name) == 0 else {
            throw RuntimeError.io("cannot keep \(parent.isEmpty ? name : parent + "/" + name) of the step: \(String(cString: strerror(errno)))")
        }
    }

    /// The folder `path` in `upper`, made (with each folder's mode and owner in `root`) when
    /// missing.
    private func upperFolder(_ path: String, root: ConfinedDirectory, upper: ConfinedDirectory) throws -> ConfinedDirectory {
        var dir = upper
        var prefix = ""
        for part in path.split(separator: "/").map(String.init) {
            prefix = prefix.isEmpty ? part : prefix + "/" + part
            if try dir.status(part) == nil {
                guard let st = try root.status(prefix) else { throw RuntimeError.io("\(prefix) went away while the step's changes were kept") }
                guard mkdirat(dir.fd, part, 0o700) == 0, fchownat(dir.fd, part, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) == 0,
                    fchmodat(dir.fd, part, st.st_mode & 0o7777, 0) == 0
                else { throw RuntimeError.io("cannot make \(prefix) in the step's layer: \(String(cString: strerror(errno)))") }
            }
            dir = try dir.openDirectory(part)
        }
        return dir
    }

    // MARK: The worker

    /// The flag `slipway-engine` takes to be the worker.
    public static let workerFlag = "--copy-snapshot-worker"

    /// What the worker is asked (`copy STACK DEST SNAPSHOT` or `diff SNAPSHOT ROOT UPPER`): copy
    /// the merged folders listed in the file STACK (JSON, topmost first) into the new folder
    /// DEST, writing what it copied to the file SNAPSHOT; or move what changed in ROOT since
    /// SNAPSHOT into UPPER. Exits 0, or 1 saying why on stderr.
    public static func worker(_ arguments: [String]) -> Int32 {
        do {
            switch arguments.first {
            case "copy" where arguments.count == 4:
                let stack = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: arguments[1])))
                let snapshot = try copy(LayerChainView(folders: stack.map { try ConfinedDirectory(path: $0) }),
                                        into: try ConfinedDirectory(path: arguments[2], create: true))
                try JSONEncoder().encode(snapshot.entries).write(to: URL(fileURLWithPath: arguments[3]))
            case "diff" where arguments.count == 4:
                let entries = try JSONDecoder().decode([String: Entry].self, from: Data(contentsOf: URL(fileURLWithPath: arguments[1])))
                try CopySnapshot(entries: entries).moveChanges(from: try ConfinedDirectory(path: arguments[2]), into: try ConfinedDirectory(path: arguments[3]))
            default:
                FileHandle.standardError.write(Data("usage: \(workerFlag) copy STACK DEST SNAPSHOT | diff SNAPSHOT ROOT UPPER\n".utf8))
                return 2
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("\(workerFlag): \(error)\n".utf8))
            return 1
        }
    }
}
