import CDeflate
import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// Layer compression for pushes: what the parallel gzip and zstd write is what `gzip` and
/// `zstd` read back, the same input always gives the same blob, and a layer compressed once is
/// looked up by its diffID afterwards.
@Suite struct LayerCompressionTests {
    /// Text-like data (compressible) with random runs in it, `count` bytes.
    static func sample(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var rng = seed
        var out = [UInt8]()
        out.reserveCapacity(count)
        let words = ["layer ", "image ", "slipway ", "buildpack ", "registry\n", "0123456789 "].map { Array($0.utf8) }
        while out.count < count {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            if rng >> 60 == 0 {
                for _ in 0..<64 { rng = rng &* 6364136223846793005 &+ 1; out.append(UInt8(truncatingIfNeeded: rng >> 33)) }
            } else {
                out += words[Int(rng >> 61) % words.count]
            }
        }
        return Array(out.prefix(count))
    }

    static func compressed(_ input: [UInt8], _ algorithm: LayerCompression, workers: Int = 2, level: Int? = nil) throws -> (Digest, String) {
        let store = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let w = CompressedOutput(blob: try store.writer(), tee: nil)
        try input.withUnsafeBytes { raw in
            switch algorithm {
            case .gzip: try ParallelGzip.compress(raw, level: level ?? 6, workers: workers, into: w)
            case .zstd: try ZstdStream.compress(raw, level: level ?? 3, workers: workers, into: w)
            case .none: try w.write(raw)
            }
        }
        let (digest, _) = try w.blob.commit()
        return (digest, store.path(digest))
    }

    static func decompress(_ path: String, with tool: String) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "\(tool) -dc < '\(path)'"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw RuntimeError.io("\(tool) -dc failed with \(p.terminationStatus)") }
        return Array(data)
    }

    /// Sizes around the block size and the batch (workers × 4 blocks), and empty input.
    @Test(arguments: [0, 1, 1000, ParallelGzip.blockSize, ParallelGzip.blockSize + 1, 9 * ParallelGzip.blockSize + 12345])
    func gzipIsReadByGzip(_ size: Int) throws {
        let input = Self.sample(size)
        let (digest, path) = try Self.compressed(input, .gzip)
        #expect(try Self.decompress(path, with: "gzip") == input)
        // Deterministic, whatever the number of workers.
        #expect(try Self.compressed(input, .gzip, workers: 1).0 == digest)
        #expect(try Self.compressed(input, .gzip, workers: 3).0 == digest)
    }

    /// At every gzip level, a member per block (libdeflate at `libdeflateLevel`, not primed with
    /// the block before) stays within 5% of one `gzip -N` stream at that level.
    @Test(arguments: 1...9)
    func gzipSizeIsWithinFivePercentOfGzipAtTheSameLevel(_ level: Int) throws {
        let input = Self.sample(6 * ParallelGzip.blockSize, seed: 9)
        let (_, path) = try Self.compressed(input, .gzip, level: level)
        let dir = tempDir()
        try Data(input).write(to: URL(fileURLWithPath: dir + "/in"))
        try #require(try sh("gzip -\(level) -c '\(dir)/in' > '\(dir)/in.gz'").status == 0)
        let ours = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let theirs = try FileManager.default.attributesOfItem(atPath: dir + "/in.gz")[.size] as! Int
        #expect(Double(ours) <= Double(theirs) * 1.05, "ours \(ours) bytes, gzip -\(level) \(theirs) bytes")
        #expect(ours < input.count / 2)
    }

    /// gzip level 6 (the default) is libdeflate's level 4, which is gzip -6's size within a few
    /// percent (see above) at about 40% less CPU time than its level 6: each member is what
    /// libdeflate makes of its block at level 4.
    @Test func gzipLevelSixIsLibdeflateLevelFour() throws {
        let input = Self.sample(3 * ParallelGzip.blockSize + 1000, seed: 3)
        let (_, path) = try Self.compressed(input, .gzip, level: 6)
        let compressor = try #require(libdeflate_alloc_compressor(4))
        defer { libdeflate_free_compressor(compressor) }
        var expected = [UInt8]()
        for start in stride(from: 0, to: input.count, by: ParallelGzip.blockSize) {
            let block = Array(input[start..<min(input.count, start + ParallelGzip.blockSize)])
            var out = [UInt8](repeating: 0, count: libdeflate_gzip_compress_bound(compressor, block.count))
            let produced = libdeflate_gzip_compress(compressor, block, block.count, &out, out.count)
            try #require(produced > 0)
            expected += out.prefix(produced)
        }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == expected)
    }

    @Test(arguments: [0, 1000, 5 * ParallelGzip.blockSize])
    func zstdIsReadByZstd(_ size: Int) throws {
        let input = Self.sample(size)
        let (_, path) = try Self.compressed(input, .zstd)
        #expect(try Self.decompress(path, with: "zstd") == input)
    }

    static func layer(_ bytes: [UInt8], in store: ContentStore) throws -> OCIDescriptor {
        OCIDescriptor(mediaType: MediaType.layer, digest: try store.put(Data(bytes)), size: Int64(bytes.count))
    }

    @Test func aLayerIsCompressedOnceAndLookedUpAfterwards() throws {
        let layout = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let content = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let input = Self.sample(2_500_000, seed: 2)
        let l = try Self.layer(input, in: layout)
        let compressor = LayerCompressor(store: content, algorithm: .gzip)
        #expect(compressor.compresses(l))
        #expect(!compressor.compresses(OCIDescriptor(mediaType: MediaType.layerGzip, digest: l.digest, size: 1)))  // already compressed
        #expect(!LayerCompressor(store: content, algorithm: .none).compresses(l))
        #expect(compressor.cached(l.digest) == nil)

        let made = try compressor.compress(l, from: layout)
        #expect(made.mediaType == MediaType.layerGzip && made.size < l.size)
        #expect(try Self.decompress(content.path(made.digest), with: "gzip") == input)
        // The next push finds it by the diffID.
        #expect(compressor.cached(l.digest) == made)
        // Another algorithm keeps records of its own.
        #expect(LayerCompressor(store: content, algorithm: .zstd).cached(l.digest) == nil)
        // A record whose blob is gone (collected) is not trusted.
        try FileManager.default.removeItem(atPath: content.path(made.digest))
        #expect(compressor.cached(l.digest) == nil)
    }

    /// While it compresses, the compressor also feeds a socket (what a push streams); a reader
    /// that goes away does not fail it, and the blob is complete either way.
    @Test func theStreamGetsTheSameBytesAndMayBeDropped() throws {
        let layout = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let content = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let input = Self.sample(3 * ParallelGzip.blockSize + 5, seed: 4)
        let l = try Self.layer(input, in: layout)
        let compressor = LayerCompressor(store: content, algorithm: .gzip)
        for dropEarly in [false, true] {
            var fds: [Int32] = [-1, -1]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            let readEnd = fds[0]
            let received = ReceivedBytes()
            let reader = Thread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    received.append(buffer[0..<n])
                    if dropEarly { break }
                }
                close(readEnd)
                received.finish()
            }
            reader.start()
            let made = try compressor.compress(l, from: layout, tee: fds[1])
            received.wait()
            let blob = Array(try Data(contentsOf: URL(fileURLWithPath: content.path(made.digest))))
            #expect(try Self.decompress(content.path(made.digest), with: "gzip") == input)
            if dropEarly {
                #expect(received.bytes.count < blob.count)
            } else {
                #expect(received.bytes == blob)
            }
        }
    }
}

/// Bytes a reader thread collected, and a way to wait for it to finish.
///
/// `@unchecked Sendable`: every field is read and written under `lock`.
final class ReceivedBytes: @unchecked Sendable {
    private let lock = NSCondition()
    private var data: [UInt8] = []
    private var done = false
    func append(_ b: ArraySlice<UInt8>) { lock.lock(); data += b; lock.unlock() }
    func finish() { lock.lock(); done = true; lock.broadcast(); lock.unlock() }
    func wait() { lock.lock(); while !done { lock.wait() }; lock.unlock() }
    var bytes: [UInt8] { lock.lock(); defer { lock.unlock() }; return data }
}
