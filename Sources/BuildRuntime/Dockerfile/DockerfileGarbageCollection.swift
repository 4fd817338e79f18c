import Foundation

/// How long the Dockerfile builder's records outlive their last use, and what its step records
/// keep for a namespace's storage quota.
extension DockerfileBuilder {
    /// How long a step's cache record, and a base image's unpacked folder, outlive their last use.
    public static let cacheLifetime: TimeInterval = 7 * 86400

    /// The layers the step records under `folder` (a namespace's, by image) name: what the
    /// namespace's Dockerfile builds keep, for its storage quota. A record that cannot be read
    /// names nothing.
    public static func layersNamed(byRecordsUnder folder: String) -> Set<Digest> {
        var found = Set<Digest>()
        let fm = FileManager.default
        // A folder that cannot be listed names nothing (`try?`), as a record that cannot be read.
        for image in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: folder + "/" + image)) ?? [] where name.hasSuffix(".json") {
                if let r = DockerfileLayerStore.CacheRecord.read(at: folder + "/" + image + "/" + name) {
                    found.insert(r.diffID)
                }
            }
        }
        return found
    }
}

/// The Dockerfile builder's part of a garbage collection of the state directory
/// (`<state>/dockerfile`), run among the engine's other collectors.
public struct DockerfileStateCollector: StateCollector {
    /// `<state>/dockerfile`.
    public let root: String
    /// The names of the images that still exist, by namespace.
    public let images: [String: Set<String>]
    /// A user that is not root cannot remove what steps made (ids of their range): `namespace`
    /// removes that from inside the step namespace.
    public let namespace: UserNamespaceRunner?
    public var reportedAs: String { "dockerfile" }

    public init(root: String, images: [String: Set<String>], namespace: UserNamespaceRunner? = nil) {
        self.root = root
        self.images = images
        self.namespace = namespace
    }

    /// For a garbage collection of the state directory: the layer blobs Dockerfile step records
    /// still name (kept, with their folders, for `DockerfileBuilder.cacheLifetime` after their last use), and
    /// what removing the rest freed: stale records and those of deleted images, contexts and
    /// cache mounts of namespaces with no image left, layer folders no record or kept image
    /// names, base folders unused for that long, and the step folders of builds that
    /// died. `keep` holds the blobs the collection keeps anyway.
    public func collect(keeping keep: Set<Digest>, with collector: GarbageCollector) -> (keep: Set<Digest>, freed: GarbageCollector.Freed) {
        var kept = Set<Digest>()
        var freed = GarbageCollector.Freed()
        // `gc.remove`, then, for a folder it could not remove (and may), the namespace's root.
        struct Remover {
            let collector: GarbageCollector
            let namespace: UserNamespaceRunner?
            func remove(_ path: String) -> GarbageCollector.Freed {
                // In use by a running build (its step, scratch or unrecorded layer): left alone.
                guard !FolderLease.isHeld(path) else { return GarbageCollector.Freed() }
                let freed = collector.remove(path)
                var st = stat()
                guard let namespace, getuid() != 0, !collector.dryRun, lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR,
                    GarbageCollector.modified(st) < collector.started
                else { return freed }
                let measured = GarbageCollector.measure(path)
                return namespace.removeTreeBlocking(path) ? measured : freed
            }
        }
        let gc = Remover(collector: collector, namespace: namespace)
        let fm = FileManager.default
        let layers = root + "/layers"
        let expired = collector.started.addingTimeInterval(-DockerfileBuilder.cacheLifetime)
        func modified(_ path: String) -> Date {
            var st = stat()
            return lstat(path, &st) == 0 ? GarbageCollector.modified(st) : .distantPast
        }
        // A folder's names; a folder that cannot be listed holds nothing to collect.
        func names(_ path: String) -> [String] { (try? fm.contentsOfDirectory(atPath: path)) ?? [] }
        func isFolder(_ path: String) -> Bool {
            var st = stat()
            return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
        // Cache mounts, per namespace: kept while the namespace has an image.
        for ns in names(root + "/mounts") where images[ns]?.isEmpty ?? true { freed = freed + gc.remove(root + "/mounts/" + ns) }
        // Build contexts, per namespace: kept while their source snapshot is (an image's
        // current source), and for `cacheLifetime` after last use otherwise; what is not in a
        // namespace's folder (an older state's) goes.
        for ns in names(root + "/contexts") {
            let contexts = root + "/contexts/" + ns
            guard isFolder(contexts), images[ns]?.isEmpty == false else { freed = freed + gc.remove(contexts); continue }
            let contextNames = names(contexts)
            for name in contextNames where !name.hasSuffix(DockerfileExecutor.manifestSuffix) {
                let path = contexts + "/" + name
                if name.hasPrefix(".tmp-") { freed = freed + gc.remove(path); continue }
                if let d = Digest("sha256:" + name), keep.contains(d) || modified(path) > expired { continue }
                freed = freed + gc.remove(path)
            }
            // A context's list of files goes with it.
            for name in contextNames where name.hasSuffix(DockerfileExecutor.manifestSuffix) {
                let folder = contexts + "/" + String(name.dropLast(DockerfileExecutor.manifestSuffix.count))
                if access(folder, F_OK) != 0 { freed = freed + gc.remove(contexts + "/" + name) }
            }
        }
        // Step records, per image of a namespace: those of deleted images go at once, the others
        // `cacheLifetime` after their last use; records outside an image's folder (an older
        // state's, shared by every namespace) go.
        for ns in names(root + "/cache") {
            guard isFolder(root + "/cache/" + ns) else { freed = freed + gc.remove(root + "/cache/" + ns); continue }
            for image in names(root + "/cache/" + ns) {
                let folder = root + "/cache/" + ns + "/" + image
                guard isFolder(folder), images[ns]?.contains(image) == true else { freed = freed + gc.remove(folder); continue }
                for name in names(folder) {
                    let path = folder + "/" + name
                    // A record that cannot be read names nothing, and goes.
                    if name.hasSuffix(".json"), modified(path) > expired, let r = DockerfileLayerStore.CacheRecord.read(at: path) {
                        kept.insert(r.diffID)
                    } else {
                        freed = freed + gc.remove(path)
                    }
                }
            }
        }
        for name in names(layers) {
            let path = layers + "/" + name
            if name == OverlayStepRunner.scaffold || name == DockerfileLayerStore.networkFolder { continue }
            if name == OverlayStepRunner.steps || name.hasPrefix(".tmp-") {
                // Scratch of builds: only what is older than the collection (a dead build's).
                for step in names(path) where name == OverlayStepRunner.steps { freed = freed + gc.remove(path + "/" + step) }
                if name.hasPrefix(".tmp-") { freed = freed + gc.remove(path) }
                continue
            }
            if name.hasPrefix("base-") {
                if modified(path) <= expired { freed = freed + gc.remove(path) }
                continue
            }
            // `<diffID hex>`, or `<diffID hex>.inner` (`OverlayStepRunner.innerIDSuffix`).
            let hex = name.hasSuffix(OverlayStepRunner.innerIDSuffix) ? String(name.dropLast(OverlayStepRunner.innerIDSuffix.count)) : name
            guard let d = Digest("sha256:" + hex), kept.contains(d) || keep.contains(d) else {
                freed = freed + gc.remove(path)
                continue
            }
        }
        return (kept, freed)
    }
}
