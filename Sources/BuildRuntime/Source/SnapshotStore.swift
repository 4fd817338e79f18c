import Foundation

/// Source snapshots as manifests and unpacked trees, under `<state>/snapshots`:
///
/// - The manifest (`SnapshotManifest`) is a blob of the content store; its digest is the
///   snapshot's.
/// - `trees/<hex>` are unpacked folders, named by the snapshot that made them: a *base* holds a
///   whole snapshot; a *delta* holds what changed since its parent (changed files, folders on
///   their way, 0:0 character devices where paths were deleted), in overlayfs' lower-layer form.
/// - `chains/<hex>` says which trees, bottom first, make a snapshot. A build's `/workspace` is
///   an overlay of them (read-only, shared by every build of the snapshot); where overlayfs
///   cannot be mounted they are copied into the workspace (`materialize`).
/// - `index/<key>` is a local folder's `SourceStatIndex`, so a re-snapshot reads only the files
///   whose stat changed and writes a small delta. A chain longer than `maxDepth` is compacted:
///   the next snapshot is a base again, its unchanged files hard-linked from the trees below.
///
/// Trees are written only by Slipway, from folders it read without following symlinks, and are
/// never writable by a build (overlay lowers), so hard links between trees are safe.
public struct SnapshotStore: Sendable {
    public let root: String
    public let content: ContentStore
    /// Trees a chain may hold before the next snapshot compacts it.
    public static let maxDepth = 16
    /// Largest manifest read (about 400,000 entries).
    static let maxManifestBytes = 64 << 20

    public init(content: ContentStore) {
        self.content = content
        root = content.root.path + "/snapshots"
    }

    public var treesPath: String { root + "/trees" }
    var chainsPath: String { root + "/chains" }
    var indexPath: String { root + "/index" }
    var scratchPath: String { root + "/.tmp" }

    // MARK: Chains

    /// The trees of a snapshot, bottom first; nil when the snapshot has none (an older tar
    /// snapshot, or one collected) or one of its trees is gone.
    public func chain(_ digest: Digest) -> [String]? {
        guard let data = FileManager.default.contents(atPath: chainsPath + "/" + digest.hex),
              let text = String(data: data, encoding: .utf8) else { return nil }
        let layers = text.split(separator: "\n").map(String.init)
        guard !layers.isEmpty, layers.allSatisfy({ Self.isTreeName($0) && access(treesPath + "/" + $0, F_OK) == 0 }) else { return nil }
        return layers
    }

    /// `<hex>` (a base) or `<hex>.<parent hex>` (a delta).
    static func isTreeName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { Digest("sha256:" + $0) != nil }
    }

    /// The host paths of a snapshot's trees, topmost first (overlayfs' order of lower folders).
    public func lowerFolders(_ digest: Digest) -> [String]? {
        chain(digest).map { $0.reversed().map { treesPath + "/" + $0 } }
    }

    /// Reads a snapshot's manifest.
    public func manifest(_ digest: Digest) throws -> SnapshotManifest {
        if let known = SnapshotMemo.manifest(digest) { return known }
        let manifest = try SnapshotManifest(decoding: Array(try content.read(digest, maxBytes: Self.maxManifestBytes)))
        SnapshotMemo.keep(manifest, as: digest)
        return manifest
    }

    // MARK: Snapshotting

    /// Snapshots the folder `top`. With `indexKey` (a local folder's real path and subPath), the
    /// folder's stat index is read and written, and a changed folder becomes a delta on its last
    /// snapshot. `include` leaves paths out (ignore rules); `check` sees every path first.
    func snapshot(folder top: ConfinedDirectory, indexKey: String?, maxBytes: Int64,
                  include: @escaping (String, Bool) -> Bool, check: @escaping (String, stat, String?) throws -> Void) throws -> SourceSnapshot {
        let indexFile = indexKey.map { indexPath + "/" + Digest.of($0).hex }
        let index = indexFile.flatMap { file in
            SnapshotMemo.index(at: file) ?? FileManager.default.contents(atPath: file).flatMap { SourceStatIndex(decoding: Array($0)) }
        }
        var parent = index.flatMap { i in chain(i.snapshot).map { (i, $0) } }
        if let p = parent, p.1.count >= Self.maxDepth { parent = nil }
        let link = parent == nil ? index.flatMap { i in chain(i.snapshot).map { (i, $0) } } : nil  // compaction: link unchanged files
        for dir in [treesPath, chainsPath, indexPath, scratchPath] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let scratch = scratchPath + "/" + UUID().uuidString
        defer { try? ConfinedDirectory.removeTree(atPath: scratch) }  // left only after a failure; .tmp is emptied at every start
        let out = try ConfinedDirectory(path: scratch, displayPath: "the snapshot", create: true)
        var walk = TreeWalk(source: top, out: out, previous: index ?? SourceStatIndex(snapshot: Digest.of(""), entries: [:]),
                            delta: parent != nil, linkFrom: try link.map { try ChainReader(store: self, layers: $0.1) },
                            started: SourceStatIndex.now(), maxBytes: maxBytes, include: include, check: check)
        try walk.run()
        let manifest = SnapshotManifest(entries: walk.entries)
        let encoded = manifest.encoded()
        let digest = Digest.of(encoded)
        SnapshotMemo.keep(manifest, as: digest)
        if chain(digest) == nil {
            _ = try content.put(Data(encoded))
            // A base is named by its snapshot; a delta by its snapshot and its parent (over any
            // chain of the parent, it gives the same files).
            let name = parent.map { digest.hex + "." + $0.0.snapshot.hex } ?? digest.hex
            let tree = treesPath + "/" + name
            if access(tree, F_OK) != 0 {
                guard rename(scratch, tree) == 0 else { throw RuntimeError.io("cannot keep the snapshot's tree: \(String(cString: strerror(errno)))") }
            } else {
                utimensat(AT_FDCWD, tree, nil, 0)  // reused: a collection that began earlier keeps it
            }
            let layers = (parent?.1 ?? []) + [name]
            try Data(layers.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: chainsPath + "/" + digest.hex), options: .atomic)
        } else {
            // The same snapshot exists: marked as new, so a collection that began earlier keeps it.
            content.reuse(digest)
            utimensat(AT_FDCWD, chainsPath + "/" + digest.hex, nil, 0)
        }
        if let indexFile {
            let written = SourceStatIndex(snapshot: digest, entries: walk.index)
            try Data(written.encoded()).write(to: URL(fileURLWithPath: indexFile), options: .atomic)
            SnapshotMemo.keep(written, writtenAt: indexFile)
        }
        return SourceSnapshot(digest: digest, files: manifest.fileCount, bytes: manifest.totalBytes, hashedFiles: walk.hashed)
    }

    /// One walk of a source folder: the manifest entries, the new index, and the new tree.
    struct TreeWalk {
        let source: ConfinedDirectory
        let out: ConfinedDirectory
        let previous: SourceStatIndex
        /// A delta on the previous snapshot's chain (else a whole base).
        let delta: Bool
        /// A base whose unchanged files are linked from these trees (compaction).
        let linkFrom: ChainReader?
        let started: Int64
        let maxBytes: Int64
        let include: (String, Bool) -> Bool
        let check: (String, stat, String?) throws -> Void

        var entries: [SnapshotManifest.Entry] = []
        var index: [String: SourceStatIndex.Entry] = [:]
        var hashed = 0
        var bytes: Int64 = 0
        /// Folders made in `out`, with their final modes (set last, deepest first).
        var made: [(String, UInt32)] = []
        var madeSet: Set<String> = [""]
        var modes: [String: UInt32] = [:]

        mutating func run() throws {
            index.reserveCapacity(previous.entries.count)
            entries.reserveCapacity(previous.entries.count)
            try TreeWalker("the source").walk(
                from: (dir: source, path: ""), entries: { try $0.dir.entries() }, name: { $0 },
                visit: { folder, name, rel in try visit(name, in: folder.dir, relative: folder.path, path: rel).map { (dir: $0, path: rel) } })
            if delta { try whiteOutDeletions() }
            for (path, mode) in made.reversed() where !path.isEmpty {
                guard let dir = try? out.openDirectory(path) else { continue }  // replaced by a later entry: not followed
                fchmod(dir.fd, mode_t(mode))
            }
        }

        /// Takes the entry `name` of `dir` (the folder `relative` of the source, `rel` being the
        /// entry's own path) into the snapshot; returns a folder to walk into.
        mutating func visit(_ name: String, in dir: ConfinedDirectory, relative: String, path rel: String) throws -> ConfinedDirectory? {
            var st = stat()
            guard fstatat(dir.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }  // gone meanwhile
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFDIR || kind == S_IFREG || kind == S_IFLNK else { return nil }  // no place in a source
            if !include(rel, kind == S_IFDIR) { return nil }
            let old = previous.entries[rel]
            switch kind {
            case S_IFDIR:
                try check(rel, st, nil)
                let entry = SnapshotManifest.Entry(path: rel, kind: .directory, mode: UInt32(st.st_mode))
                entries.append(entry)
                modes[rel] = entry.mode
                index[rel] = SourceStatIndex.Entry(st, digest: nil, target: "", walkStarted: started)
                let same = old.map { $0.mode & UInt32(S_IFMT) == UInt32(S_IFDIR) && SnapshotManifest.Entry.normalized($0.mode, kind: .directory) == entry.mode } ?? false
                if !delta || !same { try makeFolder(rel) }
                return try dir.openDirectory(name)
            case S_IFLNK:
                let target = try dir.readLink(name)
                try check(rel, st, target)
                entries.append(.init(path: rel, kind: .symlink, mode: 0o777, target: target))
                index[rel] = SourceStatIndex.Entry(st, digest: nil, target: target, walkStarted: started)
                if !delta || old.map({ $0.mode & UInt32(S_IFMT) != UInt32(S_IFLNK) || $0.target != target }) ?? true {
                    try makeFolder(relative)
                    let parent = relative.isEmpty ? out : try out.openDirectory(relative)
                    guard symlinkat(target, parent.fd, name) == 0 else { throw RuntimeError.io("cannot write the snapshot of \(rel): \(String(cString: strerror(errno)))") }
                }
            default:
                try check(rel, st, nil)
                bytes += Int64(st.st_size)
                if bytes > maxBytes {
                    throw RuntimeError.invalid("the source is larger than \(maxBytes) bytes, the source size cap; exclude what the build does not need with .slipwayignore")
                }
                let known = old.flatMap { $0.matches(st) ? $0.digest : nil }
                var digest: Digest
                var recorded = st
                if let known, delta {
                    digest = known
                } else if let known, let linkFrom, try linkFrom.link(rel, into: out, parent: relative, name: name, made: { try makeFolder($0) }) {
                    digest = known
                } else {
                    try makeFolder(relative)
                    (digest, recorded) = try copy(name, in: dir, to: relative, mode: SnapshotManifest.Entry.normalized(UInt32(st.st_mode), kind: .file))
                    hashed += 1
                }
                entries.append(.init(path: rel, kind: .file, mode: UInt32(recorded.st_mode), size: Int64(recorded.st_size), digest: digest))
                index[rel] = SourceStatIndex.Entry(recorded, digest: digest, target: "", walkStarted: started)
            }
            return nil
        }

        /// Makes `path` (and the folders above it) in the new tree, if not made yet.
        mutating func makeFolder(_ path: String) throws {
            guard !madeSet.contains(path) else { return }
            let parts = PathSyntax.components(path)
            if parts.count > 1 { try makeFolder(parts.dropLast().joined(separator: "/")) }
            let parent = parts.count > 1 ? try out.openDirectory(parts.dropLast().joined(separator: "/")) : out
            guard mkdirat(parent.fd, parts.last!, 0o700) == 0 || errno == EEXIST else {
                throw RuntimeError.io("cannot write the snapshot of \(path): \(String(cString: strerror(errno)))")
            }
            made.append((path, modes[path] ?? 0o755))
            madeSet.insert(path)
        }

        /// Copies a file into the new tree while hashing it: one read. Returns its digest and
        /// the stat of what was read (taken before reading, so a change after it shows next time).
        mutating func copy(_ name: String, in dir: ConfinedDirectory, to folder: String, mode: UInt32) throws -> (Digest, stat) {
            let input = try dir.openFile(name, flags: O_RDONLY | O_NONBLOCK)
            defer { close(input) }
            var st = stat()
            guard fstat(input, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw RuntimeError.io("\(dir.display(name)) changed while it was being snapshotted; try again")
            }
            let parent = folder.isEmpty ? out : try out.openDirectory(folder)
            let output = openat(parent.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard output >= 0 else { throw RuntimeError.io("cannot write the snapshot of \(dir.display(name)): \(String(cString: strerror(errno)))") }
            defer { close(output) }
            let hasher = SHA256Hasher()
            let size = Int(st.st_size)
            var done = 0
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = read(input, buffer.baseAddress, buffer.count)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw RuntimeError.io("reading \(dir.display(name)): \(String(cString: strerror(errno)))") }
                if n == 0 { break }
                done += n
                guard done <= size else { break }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                var off = 0
                while off < n {
                    let w = write(output, buffer.baseAddress! + off, n - off)
                    if w < 0 && errno == EINTR { continue }
                    guard w > 0 else { throw RuntimeError.io("writing the snapshot of \(dir.display(name)): \(String(cString: strerror(errno)))") }
                    off += w
                }
            }
            guard done == size else { throw RuntimeError.io("\(dir.display(name)) changed size while it was being snapshotted; try again") }
            fchmod(output, mode_t(mode))
            return (hasher.finish(), st)
        }

        /// Puts a whiteout (0:0 character device) in the delta where a path of the previous
        /// snapshot is gone, unless a folder above it went too (its own whiteout hides it).
        mutating func whiteOutDeletions() throws {
            // `index` holds every path of this walk: only the paths gone are sorted.
            for path in previous.entries.keys.filter({ index[$0] == nil }).sorted(by: SnapshotManifest.precedes) {
                let parts = PathSyntax.components(path)
                let folder = parts.dropLast().joined(separator: "/")
                guard folder.isEmpty || modes[folder] != nil else { continue }  // its folder went (or is no folder now)
                try makeFolder(folder)
                let parent = folder.isEmpty ? out : try out.openDirectory(folder)
                guard mknodat(parent.fd, parts.last!, S_IFCHR | 0o600, 0) == 0 else {
                    throw RuntimeError.io("cannot mark \(path) as deleted in the snapshot: \(String(cString: strerror(errno)))")
                }
            }
        }
    }

    // MARK: Reading trees

    /// Reads files of a snapshot from its trees: the topmost tree that has a path holds it.
    /// Folders are opened per tree once for consecutive paths of one folder, without following
    /// symlinks (a tree's symlinks come from sources).
    ///
    /// `@unchecked Sendable`: one walk uses it on the thread that runs it.
    final class ChainReader: @unchecked Sendable {
        let layers: [ConfinedDirectory]  // topmost first
        private var folder: String?
        private var opened: [ConfinedDirectory?] = []

        init(store: SnapshotStore, layers: [String]) throws {
            self.layers = try layers.reversed().map { try ConfinedDirectory(path: store.treesPath + "/" + $0, displayPath: "snapshot tree") }
        }

        /// The folder holding `path`'s file in the topmost tree that has it, and the file's name.
        func locate(_ path: String) -> (ConfinedDirectory, String)? {
            let slash = path.lastIndex(of: "/")
            let dir = slash.map { String(path[..<$0]) } ?? ""
            let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
            if folder != dir {
                folder = dir
                opened = layers.map { dir.isEmpty ? $0 : try? $0.openDirectory(dir) }  // a tree without this folder has no file in it
            }
            for case let d? in opened {
                var st = stat()
                guard fstatat(d.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                return (st.st_mode & S_IFMT) == S_IFREG ? (d, name) : nil
            }
            return nil
        }

        /// Opens `path`'s file for reading; nil when no tree holds it as a file.
        func open(_ path: String) -> Int32? {
            guard let (d, name) = locate(path) else { return nil }
            let fd = openat(d.fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            return fd >= 0 ? fd : nil
        }

        /// Hard-links `path`'s file as `name` in `dir` when its inode has `owner` and `mode`;
        /// false when it has not, or the link is refused.
        func linkOwned(_ path: String, owner: (uid: uid_t, gid: gid_t), mode: mode_t, as name: String, in dir: ConfinedDirectory) -> Bool {
            guard let (d, file) = locate(path) else { return false }
            var st = stat()
            guard fstatat(d.fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == owner.uid, st.st_gid == owner.gid,
                st.st_mode & 0o7777 == mode
            else { return false }
            return linkat(d.fd, file, dir.fd, name, 0) == 0
        }

        /// Hard-links `path`'s file into `out` at `parent/name`; false when it cannot.
        func link(_ path: String, into out: ConfinedDirectory, parent: String, name: String, made: (String) throws -> Void) throws -> Bool {
            guard let (d, file) = locate(path) else { return false }
            try made(parent)
            let target = parent.isEmpty ? out : try out.openDirectory(parent)
            return linkat(d.fd, file, target.fd, name, 0) == 0
        }
    }

    /// Copies snapshot `digest` into `directory` (where overlayfs cannot be mounted, and for a
    /// Dockerfile build's context). With `reuse`, files an earlier copy made the same (path,
    /// digest, mode) are linked from it. With `linkingFilesOf`, a file whose tree inode already
    /// has that owner (and the entry's mode) is hard-linked from its tree instead of copied: only
    /// for a copy that is never written and whose files no one chowns while linked (a Dockerfile
    /// context, read by the host and seen by steps only as overlay lowers).
    public func materialize(_ digest: Digest, into directory: ConfinedDirectory, reuse: ArchiveFileReuse? = nil,
                            linkingFilesOf owner: (uid: uid_t, gid: gid_t)? = nil,
                            include: ((SnapshotManifest.Entry) -> Bool)? = nil) throws {
        guard let layers = chain(digest) else { throw RuntimeError.notFound("source snapshot \(digest) has no trees; patch the image with its source again") }
        let reader = try ChainReader(store: self, layers: layers)
        var folders: [(ConfinedDirectory, mode_t)] = []
        var parent: (path: String, dir: ConfinedDirectory) = ("", directory)
        for e in try manifest(digest).entries where include?(e) ?? true {
            let slash = e.path.lastIndex(of: "/")
            let folder = slash.map { String(e.path[..<$0]) } ?? ""
            let name = slash.map { String(e.path[e.path.index(after: $0)...]) } ?? e.path
            if parent.path != folder { parent = (folder, folder.isEmpty ? directory : try directory.openDirectory(folder)) }
            switch e.kind {
            case .directory:
                guard mkdirat(parent.dir.fd, name, 0o700) == 0 else { throw RuntimeError.io("cannot create /workspace/\(e.path): \(String(cString: strerror(errno)))") }
                folders.append((try parent.dir.openDirectory(name), mode_t(e.mode)))
            case .symlink:
                guard symlinkat(e.target, parent.dir.fd, name) == 0 else { throw RuntimeError.io("cannot create /workspace/\(e.path): \(String(cString: strerror(errno)))") }
            case .file:
                if let reuse, let d = e.digest, reuse.link(e.path, record: .init(digest: d.hex, mode: e.mode), as: name, in: parent.dir) { continue }
                if let owner, reader.linkOwned(e.path, owner: owner, mode: mode_t(e.mode), as: name, in: parent.dir) { continue }
                guard let input = reader.open(e.path) else { throw RuntimeError.notFound("source snapshot \(digest.short) lacks the file \(e.path) in its trees") }
                defer { close(input) }
                let output = openat(parent.dir.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                guard output >= 0 else { throw RuntimeError.io("cannot create /workspace/\(e.path): \(String(cString: strerror(errno)))") }
                defer { close(output) }
                try ConfinedDirectory.copyBytes(from: input, to: output, count: e.size, what: e.path)
                fchmod(output, mode_t(e.mode))
            }
        }
        for (dir, mode) in folders.reversed() { fchmod(dir.fd, mode) }
    }

    // MARK: Collection

    /// Removes the chains of snapshots not in `keep`, and the trees no kept chain uses (each
    /// only when older than the collection).
    public func collect(keep: Set<Digest>, with gc: GarbageCollector) -> GarbageCollector.Freed {
        var freed = GarbageCollector.Freed()
        var trees: Set<String> = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: chainsPath)) ?? [] {  // no chains folder: nothing to collect
            guard let digest = Digest("sha256:" + name) else { continue }
            if keep.contains(digest), let layers = chain(digest) {
                trees.formUnion(layers)
                continue
            }
            let removed = gc.remove(chainsPath + "/" + name)
            if removed.count == 0, let layers = chain(digest) { trees.formUnion(layers) }  // too new to go: its trees stay
            freed = freed + removed
        }
        return freed + gc.sweepFolders(in: treesPath, keep: trees)
    }

    /// Removes what snapshots that stopped half-way left (at start, before any snapshot runs).
    public func removeAbandonedScratch() {
        try? ConfinedDirectory.removeTree(atPath: scratchPath)  // what a stopped snapshot left; nothing else uses it
    }
}
