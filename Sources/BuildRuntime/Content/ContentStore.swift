import Foundation

/// A content-addressed blob directory (`ROOT/blobs/sha256/<hex>`), the same shape as an OCI
/// image layout's, so a lookup by digest is all reuse needs. Blobs appear atomically: they are
/// written to a temporary file and renamed into place once their digest is known, so a crash
/// never leaves a blob whose content does not match its name.
public struct ContentStore: Sendable {
    public let root: URL

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: blobsDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: tempDirectory, withIntermediateDirectories: true)
    }

    public var blobsDirectory: URL { root.appendingPathComponent("blobs/sha256", isDirectory: true) }
    /// Where blobs are written before they have a name; swept at start-up.
    public var tempDirectory: URL { root.appendingPathComponent("blobs/.tmp", isDirectory: true) }

    public func path(_ digest: Digest) -> String { blobsDirectory.path + "/" + digest.hex }

    public func contains(_ digest: Digest) -> Bool { access(path(digest), F_OK) == 0 }

    /// Marks a blob that is being reused as new: a garbage collection that began earlier keeps
    /// it (see `GarbageCollector`). True when the blob is there.
    @discardableResult
    public func reuse(_ digest: Digest) -> Bool { utimensat(AT_FDCWD, path(digest), nil, 0) == 0 }

    /// Largest metadata blob (manifest, index, config) read into memory, as the distribution
    /// registry caps manifests.
    public static let maxMetadataBytes = 4 << 20

    /// Reads a metadata blob whole; one over `maxBytes` (or not a regular file) is refused.
    public func read(_ digest: Digest, maxBytes: Int = ContentStore.maxMetadataBytes) throws -> Data {
        let fd = open(path(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.notFound("blob \(digest) is not in \(root.path)") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw RuntimeError.invalid("blob \(digest.short) is not a regular file") }
        guard st.st_size <= maxBytes else {
            throw RuntimeError.invalid("blob \(digest.short) is \(st.st_size) bytes; metadata (manifests, indexes, configs) is capped at \(maxBytes)")
        }
        return try handle.readToEnd() ?? Data()
    }

    /// Stores bytes and returns their digest; a blob already present is left untouched.
    @discardableResult
    public func put(_ data: Data) throws -> Digest {
        let digest = Digest.of(data)
        if reuse(digest) { return digest }
        let w = try writer()
        try w.write(data)
        _ = try w.commit()
        return digest
    }

    /// Starts a streaming write; the blob is named when `commit` is called.
    public func writer() throws -> BlobWriter { try BlobWriter(store: self) }

    /// Brings a blob of a store Slipway did not write (an OCI layout a user named, a `.cnb`
    /// file) here: it must be a regular file (no symlink is followed) whose content is the
    /// digest it is named by; it is streamed through the hasher, never trusted.
    public func importBlob(_ digest: Digest, from other: ContentStore) throws {
        if reuse(digest) { return }
        let fd = open(other.path(digest), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.invalid("blob \(digest.short) is missing from \(other.root.path), or is a symlink") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw RuntimeError.invalid("blob \(digest.short) in \(other.root.path) is not a regular file")
        }
        let w = try writer()
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw RuntimeError.io("reading blob \(digest.short): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            try buf.withUnsafeBytes { try w.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        guard try w.commit(expecting: digest) else {
            throw RuntimeError.invalid("blob \(digest.short) in \(other.root.path) does not have the content its name says; the layout is damaged")
        }
    }

    /// Makes a blob of `other` (a store Slipway wrote) present here, by hard link when both
    /// are on one filesystem. A linked blob is marked as new, like a reused one: a link keeps
    /// the old blob's time, and a collection keeps only what changed since the oldest running
    /// build began (see `GarbageCollector`).
    public func copy(_ digest: Digest, from other: ContentStore) throws {
        if reuse(digest) { return }
        let src = other.path(digest)
        let tmp = tempDirectory.path + "/link-" + UUID().uuidString
        if link(src, tmp) != 0 {
            try FileManager.default.copyItem(atPath: src, toPath: tmp)
        }
        if rename(tmp, path(digest)) != 0 {
            unlink(tmp)
            throw RuntimeError.io("cannot store blob \(digest): \(String(cString: strerror(errno)))")
        }
        reuse(digest)
    }

    /// Where `layer(forKey:)` keeps what each key made: `ROOT/layer-keys/<key hex>`.
    public var layerKeysDirectory: URL { root.appendingPathComponent("layer-keys", isDirectory: true) }

    /// The layer blob last made from the inputs that `key` names (a hash of what went into it,
    /// see `AppLayerChunks`), when that blob is still stored: reuse is a lookup, as BuildKit's
    /// cache keys make it. A record that is not of its shape, or whose blob was collected, is
    /// no layer. A blob found is marked as reused (`reuse`), so a collection that began
    /// earlier keeps it.
    public func layer(forKey key: Digest) -> OCIDescriptor? {
        let fd = open(layerKeysDirectory.path + "/" + key.hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let n = bytes.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let fields = String(decoding: bytes[0..<n], as: UTF8.self).split(separator: " ")
        guard fields.count == 2, let digest = Digest(String(fields[0])), let size = Int64(fields[1]), size >= 0, reuse(digest) else { return nil }
        return OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size)
    }

    /// Records that `key`'s inputs made `layer` (written atomically; a record that cannot be
    /// written only costs the next export a rewrite of that layer).
    public func setLayer(_ layer: OCIDescriptor, forKey key: Digest) throws {
        try FileManager.default.createDirectory(at: layerKeysDirectory, withIntermediateDirectories: true)
        let tmp = tempDirectory.path + "/key-" + UUID().uuidString
        guard FileManager.default.createFile(atPath: tmp, contents: Data("\(layer.digest) \(layer.size)".utf8)) else {
            throw RuntimeError.io("cannot write a layer key record in \(tempDirectory.path)")
        }
        guard rename(tmp, layerKeysDirectory.path + "/" + key.hex) == 0 else {
            unlink(tmp)
            throw RuntimeError.io("cannot store a layer key record: \(String(cString: strerror(errno)))")
        }
    }

    /// Deletes temporary files left by writes that never committed (a crash mid-write).
    public func removeAbandonedTemporaries() {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: tempDirectory.path)) ?? [] {  // no temporary folder: nothing left behind
            try? fm.removeItem(atPath: tempDirectory.path + "/" + name)  // one that stays is only space: tried again at the next start
        }
    }
}

/// A blob being written: bytes go to a temporary file through a SHA-256 hasher, with a large
/// buffer so that writing a layer costs about what reading its files does.
public final class BlobWriter {
    private let store: ContentStore
    private let tempPath: String
    private let fd: Int32
    private let hasher = SHA256Hasher()
    private var buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    public private(set) var size: Int64 = 0
    private var finished = false
    static let bufferSize = 1 << 20

    /// The cap on this blob (none when nil), checked as it is written (a sparse file of a
    /// terabyte fails at the cap, not at the disk's end), its bytes taken from the limit's
    /// budget as they come; going over throws `RuntimeError.buildFailed`.
    public var limit: WriteLimit?

    /// Fails now if `count` more bytes would take the blob past its limit (before writing
    /// anything of an entry whose size is known), else takes them from the limit's budget.
    public func reserve(_ count: Int64) throws {
        guard let limit else { return }
        if size + count > limit.bytes { throw RuntimeError.buildFailed(limit.refusal) }
        if let budget = limit.budget, !budget.take(count) { throw RuntimeError.buildFailed(limit.budgetRefusal) }
    }

    init(store: ContentStore) throws {
        self.store = store
        tempPath = store.tempDirectory.path + "/" + UUID().uuidString
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RuntimeError.io("cannot create \(tempPath): \(String(cString: strerror(errno)))") }
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
    }

    deinit {
        buffer.deallocate()
        if !finished {
            close(fd)
            unlink(tempPath)
        }
    }

    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try reserve(Int64(bytes.count))
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, Self.bufferSize - used)
            (buffer.baseAddress! + used).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            used += n
            offset += n
            if used == Self.bufferSize { try flush() }
        }
        size += Int64(bytes.count)
    }

    /// Writes `count` zero bytes (tar padding).
    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try reserve(Int64(count))
        if used + count > Self.bufferSize { try flush() }
        (buffer.baseAddress! + used).initializeMemory(as: UInt8.self, repeating: 0, count: count)
        used += count
        size += Int64(count)
    }

    /// Hands out the free part of the buffer for a reader to fill directly (no extra copy);
    /// `count` bytes written there become part of the blob.
    public func withFreeSpace(minimum: Int, _ fill: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        if Self.bufferSize - used < minimum { try flush() }
        let region = UnsafeMutableRawBufferPointer(rebasing: buffer[used..<Self.bufferSize])
        let n = try fill(region)
        try reserve(Int64(n))
        used += n
        size += Int64(n)
        return n
    }

    private func flush() throws {
        guard used > 0 else { return }
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<used])
        hasher.update(chunk)
        var off = 0
        while off < used {
            let n = Foundation.write(fd, chunk.baseAddress! + off, used - off)
            if n < 0 {
                if errno == EINTR { continue }
                if DiskSpace.isExhausted(errno: errno) { throw DiskSpace.exhausted(in: store.root.path) }
                throw RuntimeError.io("writing blob: \(String(cString: strerror(errno)))")
            }
            off += n
        }
        used = 0
    }

    /// Finishes the bytes as a file at `path` (outside the store's addresses), for content that
    /// is read once and thrown away (a downloaded archive). Returns its digest and size.
    public func commit(toFile path: String) throws -> (digest: Digest, size: Int64) {
        try flush()
        finished = true
        close(fd)
        guard rename(tempPath, path) == 0 else {
            let err = String(cString: strerror(errno))
            unlink(tempPath)
            throw RuntimeError.io("cannot place \(PathSyntax.lastComponent(path)): \(err)")
        }
        return (hasher.finish(), size)
    }

    /// Finishes the blob and stores it only if its digest is `expected`; otherwise it is
    /// discarded and the result is false.
    public func commit(expecting expected: Digest) throws -> Bool {
        try flush()
        finished = true
        close(fd)
        guard hasher.finish() == expected else {
            unlink(tempPath)
            return false
        }
        if store.reuse(expected) {
            unlink(tempPath)
        } else if rename(tempPath, store.path(expected)) != 0 {
            let err = String(cString: strerror(errno))
            unlink(tempPath)
            throw RuntimeError.io("cannot store blob \(expected): \(err)")
        }
        return true
    }

    /// Finishes the blob and moves it to its content address. Returns its digest and size.
    public func commit() throws -> (digest: Digest, size: Int64) {
        try flush()
        finished = true
        close(fd)
        let digest = hasher.finish()
        let final = store.path(digest)
        if store.reuse(digest) {
            unlink(tempPath)
        } else if rename(tempPath, final) != 0 {
            let err = String(cString: strerror(errno))
            unlink(tempPath)
            throw RuntimeError.io("cannot store blob \(digest): \(err)")
        }
        return (digest, size)
    }
}
