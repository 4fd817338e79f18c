import Foundation

/// A tar entry sink that can take a file by what identifies its bytes, without reading them:
/// the chunk planner records the identity, and the chunk writer skips a file whose layer is
/// already stored. `AppLayerWriter` asks before it opens a file.
protocol IdentifiedFileSink: TarEntrySink {
    /// Whether the file at `path` is taken without its bytes; when false, `addFile(_:fd:…)`
    /// follows for the same entry with them. `identity` is `c:<digest>` for a snapshot file (its
    /// content digest) or `i:…` for a file a build step wrote (`AppLayerChunks.inodeIdentity`).
    func takesFile(_ path: String, identity: String, size: Int64, mode: Int, owner: TarWriter.Owner) throws -> Bool
}

/// The app layer cut into chunk layers by a stable rule, so a one-file edit rewrites and
/// re-hashes one chunk of a few megabytes, not the whole app, and every other chunk is found by
/// its key (a hash of what went into it: each entry's path, mode, owner, size and the identity
/// of its bytes) in the content store (`ContentStore.layer(forKey:)`), as BuildKit finds a
/// cached step.
///
/// The rule: entries in the tar's order; a chunk ends before an entry once it holds
/// `minimumBytes`, where the entry's path hashes to a cut point (1 in 32), or at four times that
/// size. Cut points depend on paths, so an edit moves at most the cuts up to the next cut point,
/// and a file added or removed changes the chunks around it only. Apps under `minimumBytes`
/// are one layer, as before. `minimumBytes` is 8 MiB, or more for apps over 256 MiB, so an app
/// has about 32 chunk layers at most; it changes only when the app's size crosses a power of
/// two. Each chunk begins with `workspace` and the folders above its first entry, so each
/// unpacks on its own; the image is the same files in any runtime, and the same inputs give the
/// same layers (the key decides only whether bytes are written again, never what they are).
struct AppLayerChunks {
    /// One entry of the merged app tree, as its tar header and bytes will be.
    struct Entry {
        enum Kind: String { case directory = "d", file = "f", symlink = "l" }
        let path: String
        let kind: Kind
        let mode: Int
        let owner: TarWriter.Owner
        let size: Int64
        /// What the bytes are: a content digest or inode identity for a file, the target of a
        /// symlink, empty for a folder.
        let identity: String
    }

    /// Bump when `TarWriter` writes other bytes for the same entries: a key must never find a
    /// blob an older writer made.
    static let formatVersion = "slipway app chunk 1"
    static let baseMinimumBytes: Int64 = 8 << 20
    static let cutPointModulus: UInt64 = 32

    let entries: [Entry]
    /// The chunk of each entry; chunks are runs of consecutive entries.
    let chunkOf: [Int]
    /// Per entry, the folder entries above it its chunk lacks, to be written before it.
    let ancestors: [[Int]]
    /// Per chunk, the key of what goes into it.
    let keys: [Digest]

    var count: Int { keys.count }

    /// The identity of a file a build step wrote: the step has ended when export reads it, and
    /// no write leaves a file's change time as it was, so the same identity is the same bytes.
    static func inodeIdentity(_ st: stat) -> String {
        "i:\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    static func minimumBytes(forTotal total: Int64) -> Int64 {
        var power: Int64 = 1
        while power < total && power < (1 << 62) { power <<= 1 }
        return max(baseMinimumBytes, power / 32)
    }

    /// FNV-1a of the path: where the cut points are.
    static func pathHash(_ path: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Cuts `entries` (paths under `root + "/"`), whose chunks each begin with the folder
    /// `root` of `rootMode` and `owner`.
    init(entries: [Entry], root: String, owner: TarWriter.Owner) {
        self.entries = entries
        let total = entries.reduce(Int64(0)) { $0 + $1.size }
        let minimum = Self.minimumBytes(forTotal: total)
        var chunkOf: [Int] = []
        var ancestors: [[Int]] = []
        var chunk = 0, bytes: Int64 = 0, start = 0
        var folders: [String: Int] = [:]
        var written: Set<String> = []
        // The folder of the entry before, in the same chunk: an entry in it needs no folder
        // above it that the one before did not already have written (most entries, so the walk
        // up the path is skipped).
        var lastFolder: Substring?
        chunkOf.reserveCapacity(entries.count)
        ancestors.reserveCapacity(entries.count)
        for (i, e) in entries.enumerated() {
            if i > start && bytes >= minimum && (Self.pathHash(e.path) % Self.cutPointModulus == 0 || bytes >= 4 * minimum) {
                chunk += 1
                bytes = 0
                start = i
                written = []
                lastFolder = nil
            }
            var above: [Int] = []
            let folder = e.path.lastIndex(of: "/").map { e.path[..<$0] } ?? ""
            if folder != lastFolder {
                var path = Substring("")
                for part in folder.split(separator: "/") {
                    path = path.isEmpty ? part : Substring(path + "/" + part)
                    let p = String(path)
                    if !written.contains(p), let f = folders[p] {
                        above.append(f)
                        written.insert(p)
                    }
                }
                lastFolder = folder
            }
            if e.kind == .directory {
                folders[e.path] = i
                written.insert(e.path)
            }
            chunkOf.append(chunk)
            ancestors.append(above)
            bytes += e.size + 512
        }
        self.chunkOf = chunkOf
        self.ancestors = ancestors
        let hashers = (0...chunk).map { _ in SHA256Hasher() }
        // Per entry: "<kind> <mode> <uid>:<gid> <size> <identity length>:<identity> <path>\0".
        var line: [UInt8] = []
        func feed(_ h: SHA256Hasher, _ e: Entry) {
            line.removeAll(keepingCapacity: true)
            line += e.kind.rawValue.utf8
            line.append(UInt8(ascii: " "))
            line.appendNumber(Int64(e.mode))
            line.append(UInt8(ascii: " "))
            line.appendNumber(Int64(e.owner.uid))
            line.append(UInt8(ascii: ":"))
            line.appendNumber(Int64(e.owner.gid))
            line.append(UInt8(ascii: " "))
            line.appendNumber(e.size)
            line.append(UInt8(ascii: " "))
            line.appendNumber(Int64(e.identity.utf8.count))
            line.append(UInt8(ascii: ":"))
            line += e.identity.utf8
            line.append(UInt8(ascii: " "))
            line += e.path.utf8
            line.append(0)
            h.update(line)
        }
        for h in hashers { h.update(Array("\(Self.formatVersion)\0d 493 \(owner.uid):\(owner.gid) \(root)\0".utf8)) }
        for (i, e) in entries.enumerated() {
            for a in ancestors[i] { feed(hashers[chunkOf[i]], entries[a]) }
            feed(hashers[chunkOf[i]], e)
        }
        keys = hashers.map { $0.finish() }
    }
}

/// The first pass of a chunked export: records every entry of the merged app tree, reading no
/// file (a snapshot file is known by its digest, a file a step wrote by its inode). One export
/// uses it, on the thread that runs it.
final class AppLayerChunkPlanner: IdentifiedFileSink {
    private(set) var entries: [AppLayerChunks.Entry] = []

    func addDirectory(_ path: String, mode: Int, owner: TarWriter.Owner) throws {
        entries.append(.init(path: path, kind: .directory, mode: mode, owner: owner, size: 0, identity: ""))
    }

    func addSymlink(_ path: String, target: String, owner: TarWriter.Owner) throws {
        entries.append(.init(path: path, kind: .symlink, mode: 0o777, owner: owner, size: 0, identity: target))
    }

    func takesFile(_ path: String, identity: String, size: Int64, mode: Int, owner: TarWriter.Owner) throws -> Bool {
        entries.append(.init(path: path, kind: .file, mode: mode, owner: owner, size: size, identity: identity))
        return true
    }

    /// A snapshot file whose manifest has no digest: known by its inode.
    func addFile(_ path: String, fd: Int32, size: Int64, mode: Int, owner: TarWriter.Owner) throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RuntimeError.io("cannot read the status of \(path): \(String(cString: strerror(errno)))") }
        entries.append(.init(path: path, kind: .file, mode: mode, owner: owner, size: size, identity: AppLayerChunks.inodeIdentity(st)))
    }
}

/// The second pass of a chunked export: writes the entries of the chunks no stored layer has
/// into a tar per chunk, each made by `open` and ended by `close`, and takes the others' entries
/// without reading them. The walk must give the entries the planner recorded, in the same
/// order; one that differs (the tree changed between the passes) fails the export. One export
/// uses it, on the thread that runs it.
final class AppLayerChunkWriter: IdentifiedFileSink {
    let chunks: AppLayerChunks
    let stored: [Bool]
    private let open: (Int) throws -> TarWriter
    private let close: (Int, TarWriter) throws -> Void
    private var next = 0
    private var current: (chunk: Int, tar: TarWriter)?
    private var closed: Set<Int> = []
    /// The tar that takes the bytes of a file `takesFile` declined.
    private var pendingFile: TarWriter?

    init(chunks: AppLayerChunks, stored: [Bool], open: @escaping (Int) throws -> TarWriter, close: @escaping (Int, TarWriter) throws -> Void) {
        self.chunks = chunks
        self.stored = stored
        self.open = open
        self.close = close
    }

    /// The tar that entry `path` goes into, with the folders above it already written there;
    /// nil when its chunk is stored.
    private func tar(for path: String) throws -> TarWriter? {
        guard next < chunks.entries.count, chunks.entries[next].path == path else {
            throw RuntimeError.io("the workspace changed while it was exported (at \(PathSyntax.shortened(path))); build again")
        }
        let i = next
        next += 1
        let chunk = chunks.chunkOf[i]
        guard !stored[chunk] else { return nil }
        let tar = try tar(ofChunk: chunk)
        for a in chunks.ancestors[i] {
            let f = chunks.entries[a]
            try tar.addDirectory(f.path, mode: f.mode, owner: f.owner)
        }
        return tar
    }

    private func tar(ofChunk chunk: Int) throws -> TarWriter {
        if let current, current.chunk == chunk { return current.tar }
        try closeCurrent()
        let tar = try open(chunk)
        current = (chunk, tar)
        return tar
    }

    private func closeCurrent() throws {
        guard let current else { return }
        self.current = nil
        closed.insert(current.chunk)
        try close(current.chunk, current.tar)
    }

    func addDirectory(_ path: String, mode: Int, owner: TarWriter.Owner) throws {
        try tar(for: path)?.addDirectory(path, mode: mode, owner: owner)
    }

    func addSymlink(_ path: String, target: String, owner: TarWriter.Owner) throws {
        try tar(for: path)?.addSymlink(path, target: target, owner: owner)
    }

    func takesFile(_ path: String, identity: String, size: Int64, mode: Int, owner: TarWriter.Owner) throws -> Bool {
        guard let tar = try tar(for: path) else { return true }
        pendingFile = tar
        return false
    }

    func addFile(_ path: String, fd: Int32, size: Int64, mode: Int, owner: TarWriter.Owner) throws {
        let tar: TarWriter?
        if let pendingFile {
            tar = pendingFile
            self.pendingFile = nil
        } else {
            tar = try self.tar(for: path)
        }
        try tar?.addFile(path, fd: fd, size: size, mode: mode, owner: owner)
    }

    /// Ends the last tar, and makes the chunks that got no entry of the walk (an empty app).
    func finish() throws {
        guard next == chunks.entries.count else {
            throw RuntimeError.io("the workspace changed while it was exported (entries are missing); build again")
        }
        try closeCurrent()
        for chunk in 0..<chunks.count where !stored[chunk] && !closed.contains(chunk) {
            _ = try tar(ofChunk: chunk)
            try closeCurrent()
        }
    }
}
