import Foundation
import Testing
@testable import BuildRuntime

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
        let w = try store.writer()
        try input.withUnsafeBytes { raw in
            switch algorithm {
            case .gzip: try ParallelGzip.compress(raw, level: level ?? 6, workers: workers, into: w)
            case .zstd: try ZstdStream.compress(raw, level: level ?? 3, workers: workers, into: w)
            case .none: try w.write(raw)
            }
        }
        let (digest, _) = try w.commit()
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

    /// Priming each block with the one before keeps the ratio within 1% of one gzip stream.
    @Test func gzipRatioMatchesSingleStreamGzip() throws {
        let input = Self.sample(6 * ParallelGzip.blockSize, seed: 9)
        let (_, path) = try Self.compressed(input, .gzip)
        let dir = tempDir()
        try Data(input).write(to: URL(fileURLWithPath: dir + "/in"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -6 -c '\(dir)/in' > '\(dir)/in.gz'"]
        try p.run()
        p.waitUntilExit()
        let ours = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let theirs = try FileManager.default.attributesOfItem(atPath: dir + "/in.gz")[.size] as! Int
        #expect(Double(ours) <= Double(theirs) * 1.01, "ours \(ours) bytes, gzip -6 \(theirs) bytes")
        #expect(ours < input.count / 2)
    }

    @Test(arguments: [0, 1000, 5 * ParallelGzip.blockSize])
    func zstdIsReadByZstd(_ size: Int) throws {
        let input = Self.sample(size)
        let (_, path) = try Self.compressed(input, .zstd)
        #expect(try Self.decompress(path, with: "zstd") == input)
    }

    static func image(layers: [(bytes: [UInt8], mediaType: String)], in store: ContentStore) throws -> OCIImage {
        var descriptors: [OCIDescriptor] = []
        for l in layers {
            let d = try store.put(Data(l.bytes))
            descriptors.append(OCIDescriptor(mediaType: l.mediaType, digest: d, size: Int64(l.bytes.count)))
        }
        let config = OCIImageConfig(config: .init(), diffIDs: descriptors.map(\.digest))
        let configData = try CanonicalJSON.encode(config)
        let configDigest = try store.put(configData)
        let manifest = OCIManifest(config: OCIDescriptor(mediaType: MediaType.config, digest: configDigest, size: Int64(configData.count)), layers: descriptors)
        let data = try CanonicalJSON.encode(manifest)
        return OCIImage(store: store, manifestDigest: try store.put(data), manifestSize: Int64(data.count), manifest: manifest, config: config)
    }

    @Test func aLayerIsCompressedOnceAndLookedUpAfterwards() async throws {
        let layout = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let content = try ContentStore(root: URL(fileURLWithPath: tempDir()))
        let alreadyGzip = try Self.compressed(Self.sample(5000, seed: 3), .gzip)
        let gz = Array(try Data(contentsOf: URL(fileURLWithPath: alreadyGzip.1)))
        let image = try Self.image(layers: [(gz, MediaType.layerGzip), (Self.sample(300_000), MediaType.layer), (Self.sample(2_500_000, seed: 2), MediaType.layer)],
                                   in: layout)
        let compressor = LayerCompressor(store: content, algorithm: .gzip)
        let (first, made) = try await compressor.prepare(image)
        #expect(made == 2)
        #expect(first.manifest.layers.map(\.mediaType) == [MediaType.layerGzip, MediaType.layerGzip, MediaType.layerGzip])
        #expect(first.manifest.layers[0] == image.manifest.layers[0])  // already compressed: as it was
        #expect(first.config.rootfs.diff_ids == image.config.rootfs.diff_ids)
        for d in [first.manifest.config] + first.manifest.layers { #expect(content.contains(d.digest)) }
        for (i, d) in first.manifest.layers.enumerated().dropFirst() {
            #expect(try Self.decompress(content.path(d.digest), with: "gzip") == Array(try layout.read(image.manifest.layers[i].digest, maxBytes: 1 << 24)))
        }

        // The next push finds both by their diffIDs and compresses nothing.
        let (second, madeAgain) = try await compressor.prepare(image)
        #expect(madeAgain == 0)
        #expect(second.manifestDigest == first.manifestDigest)

        // A record whose blob is gone (collected) is not trusted: the layer is made again.
        try FileManager.default.removeItem(atPath: content.path(first.manifest.layers[1].digest))
        #expect(try await compressor.prepare(image).compressed == 1)

        // zstd keeps records of its own.
        let zstd = try await LayerCompressor(store: content, algorithm: .zstd).prepare(image)
        #expect(zstd.compressed == 2 && zstd.image.manifest.layers[1].mediaType == MediaType.layerZstd)
        #expect(try await LayerCompressor(store: content, algorithm: .none).prepare(image).image.manifestDigest == image.manifestDigest)
    }
}
