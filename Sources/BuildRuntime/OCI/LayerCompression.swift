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

/// gzip made in parallel, as pigz and pgzip do: the input is cut into blocks, each block is
/// deflated on its own (primed with the 32 KiB before it, so matches still reach back) and
/// ended on a byte boundary with a sync flush, and the blocks are joined into one gzip member
/// whose CRC-32 is combined from the blocks' CRCs. Any gzip reader reads the result; the same
/// input, level and block size always give the same bytes.
public enum ParallelGzip {
    public static let blockSize = 1 << 20
    static let window = 32 << 10

    /// Compresses `input` into `out`.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int, workers: Int, into out: BlobWriter) throws {
        try out.write([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF] as [UInt8])  // no name, no mtime, OS unknown
        let blocks = max(1, (input.count + blockSize - 1) / blockSize)
        let batch = max(1, workers) * 4
        var crc = crc32(0, nil, 0)
        var first = 0
        while first < blocks {
            let count = min(batch, blocks - first)
            let results = BlockResults(count: count)
            let shared = ReadOnlyBytes(input), batchStart = first
            DispatchQueue.concurrentPerform(iterations: count) { i in
                let input = shared.bytes
                let n = batchStart + i
                let start = n * blockSize
                let end = min(input.count, start + blockSize)
                let dictionary = n == 0 ? nil : UnsafeRawBufferPointer(rebasing: input[max(0, start - window)..<start])
                results.set(i, Result {
                    try deflateBlock(UnsafeRawBufferPointer(rebasing: input[start..<end]), dictionary: dictionary, level: level, last: n == blocks - 1)
                })
            }
            for i in 0..<count {
                let block = try results.get(i)
                try out.write(block.bytes)
                crc = crc32_combine(crc, block.crc, off_t(block.length))
            }
            first += count
        }
        var trailer = [UInt8]()
        for v in [UInt32(truncatingIfNeeded: crc), UInt32(truncatingIfNeeded: input.count)] {
            trailer += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
        }
        try out.write(trailer)
    }

    /// The input, shared by the workers of one batch.
    ///
    /// `@unchecked Sendable`: the memory is only read, and it outlives `concurrentPerform`,
    /// which returns only when every worker is done with it.
    struct ReadOnlyBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    }

    struct Block {
        var bytes: [UInt8]
        var crc: UInt
        var length: Int
    }

    /// The compressed blocks of one batch, each written by one `concurrentPerform` iteration.
    ///
    /// `@unchecked Sendable`: iteration `i` writes slot `i` only, and the slots are read after
    /// `concurrentPerform` returns, which orders those writes before the reads.
    final class BlockResults: @unchecked Sendable {
        private var slots: [Result<Block, Error>?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<Block, Error>) { slots[i] = r }
        func get(_ i: Int) throws -> Block { try slots[i]!.get() }
    }

    /// Raw deflate of one block, ended with a sync flush (or, for the last, the final block).
    static func deflateBlock(_ input: UnsafeRawBufferPointer, dictionary: UnsafeRawBufferPointer?, level: Int, last: Bool) throws -> Block {
        var s = z_stream()
        guard deflateInit2_(&s, Int32(level), Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw RuntimeError.io("zlib could not start a deflate stream")
        }
        defer { deflateEnd(&s) }
        if let dictionary, dictionary.count > 0 {
            _ = deflateSetDictionary(&s, dictionary.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(dictionary.count))
        }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&s, uLong(input.count))) + 64)
        var produced = 0
        s.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        s.avail_in = uInt(input.count)
        while true {
            if produced == out.count { out += [UInt8](repeating: 0, count: out.count) }
            let status = out.withUnsafeMutableBytes { raw -> Int32 in
                s.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                s.avail_out = uInt(raw.count - produced)
                let r = deflate(&s, last ? Z_FINISH : Z_SYNC_FLUSH)
                produced = raw.count - Int(s.avail_out)
                return r
            }
            if last ? status == Z_STREAM_END : (status == Z_OK && s.avail_in == 0 && s.avail_out > 0) { break }
            guard status == Z_OK || status == Z_BUF_ERROR else { throw RuntimeError.io("zlib failed compressing a layer (status \(status))") }
        }
        out.removeSubrange(produced...)
        let crc = crc32(0, input.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(input.count))
        return Block(bytes: out, crc: crc, length: input.count)
    }
}

/// zstd through libzstd's streaming API, with its own worker threads.
public enum ZstdStream {
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int, workers: Int, into out: BlobWriter) throws {
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

/// Compresses an image's uncompressed layers for a push, once: a diffID → compressed blob
/// record (per algorithm and level) means a layer compressed for one push is looked up, not
/// compressed again, by the next. Layers already compressed (a pulled run image's) stay as
/// they are. Layers are compressed concurrently, each with every core.
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

    /// The image as it will be pushed (in `store`), and how many layers were compressed now.
    public func prepare(_ image: OCIImage) async throws -> (image: OCIImage, compressed: Int) {
        guard algorithm != .none else { return (image, 0) }
        let layers = image.manifest.layers
        let source = image.store
        var out = layers
        var compressedNow = 0
        try await withThrowingTaskGroup(of: (Int, OCIDescriptor, Bool).self) { group in
            for (i, l) in layers.enumerated() where MediaType.isUncompressedLayer(l.mediaType) {
                group.addTask { [self] in
                    let (d, fresh) = try await BlockingWork.run { try self.compressed(l, from: source) }
                    return (i, d, fresh)
                }
            }
            for try await (i, d, fresh) in group {
                out[i] = d
                if fresh { compressedNow += 1 }
            }
        }
        if out == layers { return (image, 0) }
        // The config and the layers pushed as they are, beside the compressed ones.
        for d in [image.manifest.config] + out { try store.copy(d.digest, from: source) }
        var manifest = image.manifest
        manifest.layers = out
        let data = try CanonicalJSON.encode(manifest)
        let digest = try store.put(data)
        return (OCIImage(store: store, manifestDigest: digest, manifestSize: Int64(data.count), manifest: manifest, config: image.config), compressedNow)
    }

    /// The compressed form of layer `l`: found by its diffID, or made now (then true).
    func compressed(_ l: OCIDescriptor, from source: ContentStore) throws -> (OCIDescriptor, Bool) {
        let path = recordPath(l.digest)
        if let data = FileManager.default.contents(atPath: path), let r = try? JSONDecoder().decode(Record.self, from: data), store.reuse(r.digest) {
            return (OCIDescriptor(mediaType: algorithm.mediaType, digest: r.digest, size: r.size), false)
        }
        let fd = open(source.path(l.digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw RuntimeError.io("cannot read layer \(l.digest.short): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let size = Int(l.size)
        let w = try store.writer()
        if size == 0 {
            try compress(UnsafeRawBufferPointer(start: nil, count: 0), into: w)
        } else {
            guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
                throw RuntimeError.io("cannot map layer \(l.digest.short): \(String(cString: strerror(errno)))")
            }
            defer { munmap(map, size) }
            _ = madvise(map, size, MADV_SEQUENTIAL)  // a hint only
            try compress(UnsafeRawBufferPointer(start: map, count: size), into: w)
        }
        let (digest, compressedSize) = try w.commit()
        try FileManager.default.createDirectory(atPath: recordDirectory, withIntermediateDirectories: true)
        try JSONEncoder().encode(Record(digest: digest, size: compressedSize)).write(to: URL(fileURLWithPath: path), options: .atomic)
        return (OCIDescriptor(mediaType: algorithm.mediaType, digest: digest, size: compressedSize), true)
    }

    func compress(_ input: UnsafeRawBufferPointer, into w: BlobWriter) throws {
        switch algorithm {
        case .gzip: try ParallelGzip.compress(input, level: level, workers: workers, into: w)
        case .zstd: try ZstdStream.compress(input, level: level, workers: workers, into: w)
        case .none: try w.write(input)
        }
    }
}
