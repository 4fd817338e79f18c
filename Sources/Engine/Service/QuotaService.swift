import SlipwayProtocol
import BuildRuntime
import Foundation

/// What each namespace holds against its quota, and the checks made before a change adds to it.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum QuotaService {
    static func quotaUsage(_ engine: isolated Engine, namespace: String) async throws -> QuotaUsage {
        let all = try engine.loadImages().values.filter { $0.namespace == namespace }
        let images = all.filter(\.isConfiguration)
        // A snapshot counts for the bytes of its files (kept in its trees, which other snapshots
        // may share), as its summary says; once per snapshot.
        var snapshots: [String: Int64] = [:]
        for image in all { if let s = image.source.resolved?.snapshot { snapshots[s.digest] = s.bytes } }
        let snapshotBytes = snapshots.values.reduce(0, +)
        let folders = [engine.path("layouts", namespace), engine.path("layouts", ".registry", namespace), engine.path("cache", namespace), engine.path("logs", namespace),
                       engine.path("dockerfile", "contexts", namespace), engine.path("dockerfile", "mounts", namespace), engine.path("dockerfile", "cache", namespace)]
        let records = engine.path("dockerfile", "cache", namespace), layers = engine.path("dockerfile", "layers")
        let content = engine.images.content
        let bytes = try await BlockingWork.run {
            let layerBytes = DockerfileBuilder.layersNamed(byRecordsUnder: records).reduce(Int64(0)) { total, digest in
                var blob = stat()
                let blobBytes = lstat(content.path(digest), &blob) == 0 ? Int64(blob.st_size) : 0
                // Its folder with the namespace's host ids, and the one with its own (a COPY's).
                return total + blobBytes + Self.bytes(under: layers + "/" + digest.hex) + Self.bytes(under: layers + "/" + digest.hex + OverlayStepRunner.innerIDSuffix)
            }
            return folders.reduce(Int64(0)) { $0 + Self.bytes(under: $1) } + snapshotBytes + layerBytes
        }
        return QuotaUsage(images: Int64(images.count), buildruns: try engine.store.standaloneRunCount(namespace: namespace), storage: bytes)
    }

    /// What the namespace may still store under its storage quota; nil when it has none.
    static func storageBytesLeft(_ engine: isolated Engine, namespace: String) async throws -> Int64? {
        guard let limit = engine.options.quota.storage else { return nil }
        return limit - (try await quotaUsage(engine, namespace: namespace).storage)
    }

    /// Refuses, changing nothing, what would take the namespace past its quota of `resource`:
    /// one more image, one more build run, or more data once the storage quota is reached.
    static func checkQuota(_ engine: isolated Engine, namespace: String, adding resource: Quota.Resource) async throws {
        guard let limit = engine.options.quota.limit(resource) else { return }
        let used: Int64
        switch resource {
        case .images: used = Int64(try engine.loadImages().values.filter { $0.namespace == namespace && $0.isConfiguration }.count)
        case .buildruns: used = try engine.store.standaloneRunCount(namespace: namespace)
        case .storage: used = try await quotaUsage(engine, namespace: namespace).used(resource)
        }
        guard used >= limit else { return }
        let toFree: String
        switch resource {
        case .images: toFree = "delete images you no longer need (image/delete)"
        case .buildruns: toFree = "delete build runs you no longer need (buildrun/delete)"
        case .storage: toFree = "delete images or builds you no longer need (image/delete), or lower their history limits"
        }
        throw EngineError.quotaExceeded(resource, namespace: namespace, limit: limit, used: used, toFree: toFree)
    }

    /// Bytes of the regular files under `path`, following no symlink; 0 when it is missing.
    /// Build caches hold what steps wrote: the walk has no recursion, and stops descending
    /// at `TreeLimits.default.maxDepth` (`TreeWalker.forEachFile`).
    static func bytes(under path: String) -> Int64 {
        var total: Int64 = 0
        TreeWalker.forEachFile(underPath: path) { total += Int64($0.st_size) }
        return total
    }
}

/// What a namespace holds, against its quota: images, stand-alone build runs, and bytes of
/// stored data (its image layouts, build caches and logs, its images' source snapshots,
/// and what its Dockerfile builds keep: contexts, cache mounts, and the layers — blob and
/// folder — its step records name; a file counts in full for every namespace that refers
/// to it).
public struct QuotaUsage: Sendable, Equatable {
    public var images: Int64
    public var buildruns: Int64
    public var storage: Int64

    public func used(_ r: Quota.Resource) -> Int64 {
        switch r {
        case .images: return images
        case .buildruns: return buildruns
        case .storage: return storage
        }
    }
}
