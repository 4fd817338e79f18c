import CDeflate
import CZlib
import CZstd
import Dispatch
import Foundation

/// How layers travel to a registry. Local OCI layouts keep layers uncompressed (so export
/// stays fast); a push compresses them with this.
public enum LayerCompression: String, Sendable, CaseIterable, Codable {
    case gzip, zstd, none

    /// The OCI media type of a layer compressed this way.
    public var mediaType: String {
        switch self {
        case .gzip: return MediaType.layerGzip
        case .zstd: return MediaType.layerZstd
        case .none: return MediaType.layer
        }
    }

    /// The level used when none is given: gzip 6 (zlib's and Go's default), zstd 3.
    public var defaultLevel: Int {
        switch self {
        case .gzip: return 6
        case .zstd: return 3
        case .none: return 0
        }
    }

    /// The levels each algorithm accepts.
    public var levels: ClosedRange<Int> {
        switch self {
        case .gzip: return 1...9
        case .zstd: return 1...19
        case .none: return 0...0
        }
    }
}

/// gzip made in parallel: the input is cut into 1 MiB blocks, each block is compressed on its
/// own by libdeflate into a whole gzip member, and the members are written one after another.
/// A gzip file is a series of members (RFC 1952 §2.2), and every gzip reader a registry client
/// uses reads them all (Go's `gzip.Reader`, as containerd and skopeo use it, pgzip, zlib's
/// `gzip -d`). Blocks are not primed with the bytes before them, which costs well under 1% of
/// size at 1 MiB; libdeflate, at a level that matches gzip's size (`libdeflateLevel`), makes
/// each member several times as fast as zlib. The same input, level and block size always give
/// the same bytes.
public enum ParallelGzip {
    public static let blockSize = 1 << 20

    /// Compresses `input` into `out`.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int, workers: Int, into out: CompressedOutput) throws {
        let blocks = max(1, (input.count + blockSize - 1) / blockSize)
        let batch = max(1, workers) * 4
        let shared = ReadOnlyBytes(input)
        // Batch k+1 is compressed (by a worker pool) while batch k is written and hashed here.
        var written: (BlockResults, Int)?
        func write(_ results: BlockResults, _ count: Int) throws {
            for i in 0..<count { try out.write(try results.get(i)) }
        }
        var first = 0
        while first < blocks {
            let count = min(batch, blocks - first)
            let results = BlockResults(count: count)
            let batchStart = first
            let compressing = DispatchGroup()
            DispatchQueue.global().async(group: compressing) {
                DispatchQueue.concurrentPerform(iterations: count) { i in
                    let input = shared.bytes
                    let start = (batchStart + i) * blockSize
                    let end = min(input.count, start + blockSize)
                    results.set(i, Result { try member(UnsafeRawBufferPointer(rebasing: input[start..<end]), level: level) })
                }
            }
            let previous = written
            written = nil
            let writing = Result { if let (r, c) = previous { try write(r, c) } }
            compressing.wait()  // the workers read `input`: never leave before they are done
            try writing.get()
            written = (results, count)
            first += count
        }
        if let (r, c) = written { try write(r, c) }
    }

    /// The input, shared by the workers of one batch.
    ///
    /// `@unchecked Sendable`: the memory is only read, and it outlives the workers: `compress`
    /// waits for each batch's dispatch group before it returns or throws.
    struct ReadOnlyBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    }

    /// The gzip members of one batch, each written by one `concurrentPerform` iteration.
    ///
    /// `@unchecked Sendable`: iteration `i` writes slot `i` only, and the slots are read after
    /// the batch's dispatch group is waited for, which orders those writes before the reads.
    final class BlockResults: @unchecked Sendable {
        private var slots: [Result<[UInt8], Error>?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<[UInt8], Error>) { slots[i] = r }
        func get(_ i: Int) throws -> [UInt8] { try slots[i]!.get() }
    }

    /// Whether a block is not worth compressing (already compressed data: archives, images,
    /// random bytes): four 16 KiB samples across it each shrink by less than 3% at level 1.
    /// Such a block is stored, as fast compressors do, instead of searched for matches that
    /// are not there. The decision depends only on the bytes, so output stays deterministic.
    static func looksIncompressible(_ input: UnsafeRawBufferPointer) -> Bool {
        let sample = 16 << 10
        guard input.count >= 4 * sample else { return false }
        var out = [UInt8](repeating: 0, count: sample + 1024)
        for k in 0..<4 {
            let start = input.count / 4 * k
            var s = z_stream()
            guard deflateInit2_(&s, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return false }
            defer { deflateEnd(&s) }
            s.next_in = UnsafeMutablePointer(mutating: (input.baseAddress! + start).assumingMemoryBound(to: Bytef.self))
            s.avail_in = uInt(sample)
            let produced = out.withUnsafeMutableBytes { raw -> Int in
                s.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                s.avail_out = uInt(raw.count)
                _ = deflate(&s, Z_FINISH)
                return raw.count - Int(s.avail_out)
            }
            if produced < sample * 97 / 100 { return false }
        }
        return true
    }

    /// The libdeflate level that stands for gzip level `level` (zlib's scale, as `gzip -N` and
    /// skopeo's `--dest-compress-level` use it): mostly two below it. libdeflate's match finders
    /// do better than zlib's at the same number, so a lower level still lands within 5% of
    /// `gzip -N`'s size, in far less time. Measured on 1 MiB members of the 196 MiB text tar of
    /// `bench/push.py` and of 128 MiB of /usr (binaries and docs): level 4 is 3.7% and 1.4%
    /// larger than `gzip -6` and takes 42% and 35% less CPU time than libdeflate level 6. Level 1
    /// for gzip 3 was 5.8% over on the tests' sample, hence 2 there.
    static func libdeflateLevel(forGzipLevel level: Int) -> Int32 {
        let table: [Int32] = [1, 1, 2, 2, 3, 4, 5, 6, 7]
        return table[min(max(level, 1), table.count) - 1]
    }

    /// One block as a whole gzip member (header, deflate, CRC-32 and size); stored, not
    /// compressed, when it looks incompressible.
    static func member(_ input: UnsafeRawBufferPointer, level: Int) throws -> [UInt8] {
        guard let compressor = libdeflate_alloc_compressor(looksIncompressible(input) ? 0 : libdeflateLevel(forGzipLevel: level)) else {
            throw RuntimeError.io("libdeflate could not make a compressor at level \(level)")
        }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_gzip_compress_bound(compressor, input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let produced = out.withUnsafeMutableBytes { libdeflate_gzip_compress(compressor, input.baseAddress, input.count, $0.baseAddress, bound) }
        guard produced > 0 else { throw RuntimeError.io("libdeflate failed compressing a layer block") }
        out.removeSubrange(produced...)
        return out
    }
}

/// zstd through libzstd's streaming API, with its own worker threads.
public enum ZstdStream {
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int, workers: Int, into out: CompressedOutput) throws {
        guard let cctx = ZSTD_createCCtx() else { throw RuntimeError.io("libzstd could not start a stream") }
        defer { ZSTD_freeCCtx(cctx) }
        _ = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(level))
        // Ignored (an error we need not act on) where libzstd was built without threads.
        _ = ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, Int32(workers))
        var buffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var remaining = 0
            let written = try buffer.withUnsafeMutableBytes { raw -> Int in
                var outBuf = ZSTD_outBuffer(dst: raw.baseAddress, size: raw.count, pos: 0)
                remaining = ZSTD_compressStream2(cctx, &outBuf, &inBuf, ZSTD_e_end)
                if ZSTD_isError(remaining) != 0 { throw RuntimeError.io("libzstd failed compressing a layer: \(String(cString: ZSTD_getErrorName(remaining)))") }
                return outBuf.pos
            }
            try buffer.withUnsafeBytes { try out.write(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }
            if remaining == 0 { break }
        }
    }
}

/// Where compressed bytes go: the content store, and, while a push streams them to a registry,
/// a stream socket as well. A socket whose reader went away (a failed upload) is let go; the
/// blob is still written whole, so the push can send it from the store.
public final class CompressedOutput {
    let blob: BlobWriter
    private var tee: Int32?

    init(blob: BlobWriter, tee: Int32?) {
        self.blob = blob
        self.tee = tee
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try blob.write(bytes)
        guard let fd = tee else { return }
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return closeTee() }  // EPIPE: the upload stopped reading
            offset += n
        }
    }

    /// Ends the stream: the reader sees end of file.
    func closeTee() {
        if let fd = tee { close(fd) }
        tee = nil
    }

    deinit { closeTee() }
}

/// Compresses an image's uncompressed layers for a push, once: a diffID → compressed blob
/// record (per algorithm and level) means a layer compressed for one push is looked up, not
/// compressed again, by the next. Each layer is compressed with every core (gzip by blocks,
/// zstd by its workers), and a push compresses several layers at once.
public struct LayerCompressor: Sendable {
    public let store: ContentStore
    public let algorithm: LayerCompression
    public let level: Int
    public let workers: Int

    public init(store: ContentStore, algorithm: LayerCompression, level: Int? = nil, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.store = store
        self.algorithm = algorithm
        self.level = level ?? algorithm.defaultLevel
        self.workers = max(1, workers)
    }

    /// What a record of one compressed layer keeps.
    struct Record: Codable {
        var digest: Digest
        var size: Int64
    }

    var recordDirectory: String { store.root.path + "/compressed/\(algorithm.rawValue)-\(level)" }

    func recordPath(_ diffID: Digest) -> String { recordDirectory + "/" + diffID.hex + ".json" }

    /// Whether a push compresses a layer of this media type.
    public func compresses(_ layer: OCIDescriptor) -> Bool { algorithm != .none && MediaType.isUncompressedLayer(layer.mediaType) }

    /// The compressed form of the layer with this diffID, made for an earlier push and still in
    /// the store; nil when there is none.
    public func cached(_ diffID: Digest) -> OCIDescriptor? {
        // A record that cannot be read is a miss (`try?`): the layer is compressed again.
        guard let data = FileManager.default.contents(atPath: recordPath(diffID)), let r = try? JSONDecoder().decode(Record.self, from: data),  // see above
            store.reuse(r.digest)
        else { return nil }
        return OCIDescriptor(mediaType: algorithm.mediaType, digest: r.digest, size: r.size)
    }

    /// Compresses layer `l` of `source` into the store (and, as it goes, into `tee`, a stream
    /// socket, which it closes when done), records it by diffID, and returns its descriptor.
    public func compress(_ l: OCIDescriptor, from source: ContentStore, tee: Int32? = nil) throws -> OCIDescriptor {
        let out = CompressedOutput(blob: try store.writer(), tee: tee)
        defer { out.closeTee() }
        let fd = open(source.path(l.digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw RuntimeError.io("cannot read layer \(l.digest.short): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let size = Int(l.size)
        if size == 0 {
            try compress(UnsafeRawBufferPointer(start: nil, count: 0), into: out)
        } else {
            guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
                throw RuntimeError.io("cannot map layer \(l.digest.short): \(String(cString: strerror(errno)))")
            }
            defer { munmap(map, size) }
            _ = madvise(map, size, MADV_SEQUENTIAL)  // a hint only
            try compress(UnsafeRawBufferPointer(start: map, count: size), into: out)
        }
        out.closeTee()
        let (digest, compressedSize) = try out.blob.commit()
        try FileManager.default.createDirectory(atPath: recordDirectory, withIntermediateDirectories: true)
        try JSONEncoder().encode(Record(digest: digest, size: compressedSize)).write(to: URL(fileURLWithPath: recordPath(l.digest)), options: .atomic)
        return OCIDescriptor(mediaType: algorithm.mediaType, digest: digest, size: compressedSize)
    }

    /// For a garbage collection of `store`: the compressed blobs to keep (those recorded for a
    /// layer in `layers`, the uncompressed layers kept), and what removing the records of the
    /// others freed. Such a record would only lead to a blob the sweep removes.
    public static func collect(in store: ContentStore, keepingLayers layers: Set<Digest>, with gc: GarbageCollector) -> (keep: Set<Digest>, freed: GarbageCollector.Freed) {
        var keep = Set<Digest>()
        var freed = GarbageCollector.Freed()
        let top = store.root.path + "/compressed"
        for folder in (try? FileManager.default.contentsOfDirectory(atPath: top)) ?? [] where !folder.hasPrefix(".") {  // no records folder: nothing to collect
            for name in (try? FileManager.default.contentsOfDirectory(atPath: top + "/" + folder)) ?? [] where name.hasSuffix(".json") {  // see above
                let path = top + "/" + folder + "/" + name
                if let diffID = Digest("sha256:" + name.dropLast(5)), layers.contains(diffID),
                    let data = FileManager.default.contents(atPath: path), let r = try? JSONDecoder().decode(Record.self, from: data)  // unreadable: not kept, as `cached` takes it for a miss
                {
                    keep.insert(r.digest)
                } else {
                    freed = freed + gc.remove(path)
                }
            }
        }
        return (keep, freed)
    }

    func compress(_ input: UnsafeRawBufferPointer, into out: CompressedOutput) throws {
        switch algorithm {
        case .gzip: try ParallelGzip.compress(input, level: level, workers: workers, into: out)
        case .zstd: try ZstdStream.compress(input, level: level, workers: workers, into: out)
        case .none: try out.write(input)
        }
    }
}
