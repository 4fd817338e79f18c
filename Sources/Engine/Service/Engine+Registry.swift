import SlipwayProtocol
import BuildRuntime
import Foundation
import Synchronization

/// Pushes a built image from its staging layout to the registry an image's tag names. Made on
/// the engine actor from the image alone (no I/O); credentials are resolved when it runs, off
/// the actor, so a credential helper never blocks a request and its failure fails the build.
struct RegistryPush: Sendable {
    let host: String
    let namespace: String
    let repository: String
    let tags: [String]
    /// Repositories of the same registry that may hold blobs to mount (the run image's).
    let mountFrom: [String]

    /// Pushes and returns `host/repository@digest`.
    func run(engine: Engine, layout: String, digest: Digest, log: @escaping @Sendable (String) -> Void) async throws -> String {
        let client = try await RegistryService.registryClient(engine, host: host, namespace: namespace)
        let image = try await BlockingWork.run {
            try OCIImage.load(digest, from: try OCILayout(path: layout, create: false).store)
        }
        log("Pushing to \(host)/\(repository) (tags: \(tags.joined(separator: ", ")))")
        // Layers travel compressed; one compressed for an earlier push is looked up, not made again.
        let compressor = LayerCompressor(store: engine.images.content, algorithm: engine.options.layerCompression,
                                         level: engine.options.layerCompressionLevel)
        let result = try await client.push(image, repository: repository, tags: tags, mountFrom: mountFrom, compressor: compressor, log: log)
        if compressor.algorithm != .none {
            log("Layers compressed with \(compressor.algorithm.rawValue) (level \(compressor.level)): \(result.compressed) now, the others found from earlier pushes or already compressed")
        }
        log("*** Pushed \(host)/\(repository)@\(result.digest): \(result.uploaded) blob(s) uploaded")
        let pushed = result.digest
        return "\(host)/\(repository)@\(pushed)"
    }
}


/// A credential helper's stdout, collected line by line (at most 64 KiB).
final class HelperOutput: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { if $0.reduce(0, { $0 + $1.utf8.count }) < 64 << 10 { $0.append(line) } } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}
