import SlipwayProtocol
import BuildRuntime
import Foundation

/// Garbage collection of blobs, snapshots and folders nothing refers to, one at a time, and the
/// disk usage report.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum CollectionService {
    /// Mark and sweep: removes (or, with `dryRun`, counts) what no image, retained build,
    /// stack, store or running build reaches. One collection at a time.
    static func collectGarbage(_ engine: isolated Engine, dryRun: Bool) async throws -> CollectionReport {
        await acquireCollection(engine)
        defer { releaseCollection(engine) }
        let began = Date()
        let roots = try collectionRoots(engine)
        // Blobs a running build has written, linked or reused are not reachable before its
        // layout names them: they are kept as changed since its start.
        let gc = GarbageCollector(started: min(began, roots.changedSinceOldestBuild ?? began), dryRun: dryRun)
        let content = engine.images.content
        let state = engine.stateDirectory.path
        // What Dockerfile steps made is removed from inside their namespace when Slipway is not
        // root; a user without an id range has no such namespace, and nothing made in one (`try?`).
        let namespace = (try? IDMapping.forCurrentUser()).map { UserNamespaceRunner(helper: engine.options.userNamespaceHelper, mapping: $0) }  // see above
        return try await BlockingWork.run {
            var freed: [String: GarbageCollector.Freed] = [:]
            var keep = GarbageCollector.reachable(from: roots.content, in: content)
            var layoutFreed = GarbageCollector.Freed()
            for (path, manifests) in roots.layouts.sorted(by: { $0.key < $1.key }) {
                guard let layout = try? OCILayout(path: path, create: false) else { continue }  // gone (an oci: tag's folder removed) or not a layout: it keeps nothing
                let reached = GarbageCollector.reachable(from: manifests + GarbageCollector.taggedManifests(inLayoutAt: path), in: layout.store)
                keep.formUnion(reached)
                if roots.ownLayouts.contains(path) { layoutFreed = layoutFreed + gc.sweepBlobs(of: layout.store, keep: reached) }
            }
            for (kind, folder) in [("images", "layouts"), ("caches", "cache"), ("logs", "logs")] {
                var f = GarbageCollector.Freed()
                for ns in Self.folders(in: state + "/" + folder) {
                    var names = roots.images[ns] ?? []
                    // A build saving its cache fills `<image>.new` (`LayerCache.save`) before it
                    // takes the image's name.
                    if folder == "cache" { names.formUnion(names.map { $0 + LayerCache.freshSuffix }) }
                    f = f + gc.sweepFolders(in: state + "/" + folder + "/" + ns, keep: names)
                }
                if folder == "layouts" {
                    for ns in Self.folders(in: state + "/layouts/.registry") {
                        f = f + gc.sweepFolders(in: state + "/layouts/.registry/" + ns, keep: roots.images[ns] ?? [])
                    }
                    f = f + layoutFreed
                }
                freed[kind] = f
            }
            // Dockerfile step layers stay while a step record names them; compressed layers as
            // long as the layers they were made from; snapshot trees while a kept snapshot's
            // chain uses them. Each keeps blobs the next ones, and the blob sweep, then spare.
            let collectors: [any StateCollector] = [
                DockerfileStateCollector(root: state + "/dockerfile", images: roots.images, namespace: namespace),
                CompressedLayerCollector(store: content),
                SnapshotTreeCollector(snapshots: SnapshotStore(content: content)),
            ]
            for collector in collectors {
                let collected = collector.collect(keeping: keep, with: gc)
                keep.formUnion(collected.keep)
                freed[collector.reportedAs, default: GarbageCollector.Freed()] = freed[collector.reportedAs, default: GarbageCollector.Freed()] + collected.freed
            }
            freed["blobs", default: GarbageCollector.Freed()] = freed["blobs", default: GarbageCollector.Freed()] + gc.sweepBlobs(of: content, keep: keep)
            freed["stacks"] = gc.sweepFolders(in: state + "/rootfs", keep: roots.rootfs)
            freed["buildpacks"] = gc.sweepFolders(in: state + "/buildpacks", keep: roots.buildpacks)
            return CollectionReport(freed: freed)
        }
    }

    /// Collects soon (once, however many deletions ask), after deletions and retention.
    static func scheduleCollection(_ engine: isolated Engine) {
        guard engine.pendingCollection == nil else { return }
        engine.pendingCollection = Task { [weak engine] in
            try? await Task.sleep(for: .milliseconds(200))  // deletions that come together are collected together
            guard let engine else { return }
            do {
                _ = try await engine.collectGarbage(dryRun: false)
            } catch {
                engine.report("garbage collection failed: \(error); it runs again after the next deletion")
            }
            await collectionDone(engine)
        }
    }

    private static func collectionDone(_ engine: isolated Engine) { engine.pendingCollection = nil }

    /// One collection at a time: a second waits for the first.
    private static func acquireCollection(_ engine: isolated Engine) async {
        guard engine.collecting else {
            engine.collecting = true
            return
        }
        await withCheckedContinuation { engine.collectionQueue.append($0) }
    }

    private static func releaseCollection(_ engine: isolated Engine) {
        if engine.collectionQueue.isEmpty { engine.collecting = false } else { engine.collectionQueue.removeFirst().resume() }
    }

    /// The roots, from the database and the scheduler, on the actor (one consistent view).
    static func collectionRoots(_ engine: isolated Engine) throws -> CollectionRoots {
        var r = CollectionRoots()
        for stack in try PlatformService.clusterStacks(engine) {
            r.content += [stack.status.buildImageDigest, stack.status.runImageDigest]
            r.stacks += [stack.status.buildImageDigest, stack.status.runImageDigest]
            r.rootfs.insert(stack.status.buildImageDigest.hex)
        }
        for store in try PlatformService.clusterStores(engine) {
            for bp in store.buildpacks {
                r.content.append(bp.digest)
                r.buildpacks.insert(bp.digest.hex)
            }
        }
        for image in try engine.loadImages().values {
            r.images[image.namespace, default: []].insert(image.name)
            if let snapshot = image.source.resolved.flatMap({ Digest($0.snapshot.digest) }) {
                r.content.append(snapshot)
                r.sources.insert(snapshot)
            }
            let retained = try engine.store.builds(namespace: image.namespace, image: image.name).compactMap { $0.imageDigest.flatMap(Digest.init) }
            var layoutPaths = [engine.path("layouts", ".registry", image.namespace, image.name)]
            if case .layout(let p, _)? = try? ImageReference.parse(image.tag, field: "tag") { layoutPaths.append(p) }  // a stored tag was valid: a registry one fails, and has no layout
            for p in layoutPaths {
                r.layouts[p, default: []] += retained
                if p.hasPrefix(engine.stateDirectory.path + "/") { r.ownLayouts.insert(p) }
            }
        }
        for slot in engine.scheduler.running.values {
            r.content += slot.leases
            let since = slot.leasedSince.addingTimeInterval(-CollectionRoots.fileTimeSlack)
            r.changedSinceOldestBuild = min(r.changedSinceOldestBuild ?? since, since)
        }
        return r
    }

    static func folders(in path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }  // no folder: nothing in it to collect or count
    }

    static func diskUsage(_ engine: isolated Engine) async throws -> [UsageRow] {
        let roots = try collectionRoots(engine)
        let wouldFree = try await collectGarbage(engine, dryRun: true).freed
        let (events, eventBytes) = try engine.store.eventUsage()
        let content = engine.images.content
        let state = engine.stateDirectory.path
        var rows = try await BlockingWork.run { () -> [UsageRow] in
            let stackBlobs = GarbageCollector.reachable(from: roots.stacks, in: content)
            var layoutBlobs = Set<Digest>()
            for (path, manifests) in roots.layouts {
                guard let layout = try? OCILayout(path: path, create: false) else { continue }  // gone or not a layout: no blobs of its to count
                layoutBlobs.formUnion(GarbageCollector.reachable(from: manifests + GarbageCollector.taggedManifests(inLayoutAt: path), in: layout.store))
            }
            var seen = Set<[UInt64]>()  // device and inode: a hard link counts once
            func size(_ p: String) -> Int64 {
                var st = stat()
                guard lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { return 0 }
                return Int64(st.st_size)
            }
            // Caches and unpacked stacks hold what steps and archives wrote: walked without
            // recursion, and not below `TreeLimits.default.maxDepth` (`TreeWalker.forEachFile`).
            func tree(_ p: String) -> Int64 {
                var total: Int64 = 0
                TreeWalker.forEachFile(underPath: p) { st in
                    if seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted { total += Int64(st.st_size) }
                }
                return total
            }
            var blobs: [String: (count: Int, bytes: Int64)] = [:]
            for name in (try? FileManager.default.contentsOfDirectory(atPath: content.blobsDirectory.path)) ?? [] {  // no blobs folder yet: none to count
                guard let d = Digest("sha256:" + name) else { continue }
                let kind = roots.sources.contains(d) ? "sources" : stackBlobs.contains(d) ? "stacks" : layoutBlobs.contains(d) ? "layers"
                    : roots.buildpacks.contains(d.hex) ? "buildpacks" : "unreferenced"
                let b = size(content.path(d))
                blobs[kind, default: (0, 0)].count += 1
                blobs[kind, default: (0, 0)].bytes += b
            }
            func folderRow(_ kind: String, _ folder: String, perNamespace: Bool) -> (count: Int, bytes: Int64) {
                let base = state + "/" + folder
                var count = 0
                var bytes: Int64 = 0
                for entry in Self.folders(in: base) {
                    let items = perNamespace ? Self.folders(in: base + "/" + entry).map { entry + "/" + $0 } : [entry]
                    count += items.count
                    for item in items { bytes += tree(base + "/" + item) }
                }
                if folder == "layouts" { bytes += tree(base + "/.registry") }
                return (count, bytes)
            }
            let images = folderRow("images", "layouts", perNamespace: true)
            let caches = folderRow("caches", "cache", perNamespace: true)
            let logs = folderRow("logs", "logs", perNamespace: true)
            let rootfs = folderRow("stacks", "rootfs", perNamespace: false)
            let buildpacks = folderRow("buildpacks", "buildpacks", perNamespace: false)
            func row(_ kind: String, _ v: (count: Int, bytes: Int64)?) -> UsageRow { UsageRow(kind: kind, count: v?.count ?? 0, bytes: v?.bytes ?? 0, reclaimable: 0) }
            return [
                row("images", images), row("layers", blobs["layers"]),
                // A source snapshot is its manifest and the trees of its chain.
                UsageRow(kind: "sources", count: blobs["sources"]?.count ?? 0,
                         bytes: (blobs["sources"]?.bytes ?? 0) + tree(SnapshotStore(content: content).treesPath), reclaimable: 0),
                UsageRow(kind: "stacks", count: rootfs.count + (blobs["stacks"]?.count ?? 0), bytes: rootfs.bytes + (blobs["stacks"]?.bytes ?? 0), reclaimable: 0),
                UsageRow(kind: "buildpacks", count: buildpacks.count, bytes: buildpacks.bytes + (blobs["buildpacks"]?.bytes ?? 0), reclaimable: 0),
                row("caches", caches), row("logs", logs), row("unreferenced", blobs["unreferenced"]),
            ]
        }
        for i in rows.indices {
            switch rows[i].kind {
            case "images": rows[i].reclaimable = wouldFree["images"]?.bytes ?? 0
            case "stacks": rows[i].reclaimable = wouldFree["stacks"]?.bytes ?? 0
            case "buildpacks": rows[i].reclaimable = wouldFree["buildpacks"]?.bytes ?? 0
            case "caches": rows[i].reclaimable = wouldFree["caches"]?.bytes ?? 0
            case "logs": rows[i].reclaimable = wouldFree["logs"]?.bytes ?? 0
            case "unreferenced": rows[i].reclaimable = wouldFree["blobs"]?.bytes ?? 0
            default: break
            }
        }
        rows.append(UsageRow(kind: "events", count: events, bytes: eventBytes, reclaimable: 0))
        return rows
    }
}

/// What a collection freed (or would free), by kind: `images` (layouts of deleted images,
/// and blobs no retained build's image uses), `blobs` (layers, configs, manifests and
/// source snapshots in the content store), `stacks` (unpacked build images), `buildpacks`,
/// `caches`, `logs`.
public struct CollectionReport: Sendable, Equatable {
    public var freed: [String: GarbageCollector.Freed]
    public var total: GarbageCollector.Freed { freed.values.reduce(GarbageCollector.Freed(), +) }
}

/// What the state directory holds, by kind, as `docker system df` shows it: how many, how
/// many bytes (a file with several links counted once), and how many of those bytes a
/// collection would give back.
public struct UsageRow: Sendable, Equatable {
    public var kind: String
    public var count: Int
    public var bytes: Int64
    public var reclaimable: Int64
}

/// The roots of a garbage collection, read from the engine's state at one moment: what every
/// image, stack, store and running build still needs.
struct CollectionRoots: Sendable {
    /// Blobs of the state's content store that are roots (stack images, buildpacks, source
    /// snapshots, what running builds lease).
    var content: [Digest] = []
    /// Image layouts and the manifests to keep in each (those of retained builds, besides
    /// what the layout's index tags).
    var layouts: [String: [Digest]] = [:]
    /// Layouts under the state directory: their unreachable blobs are swept.
    var ownLayouts: Set<String> = []
    /// Folders to keep, by kind: `rootfs/<hex>`, `buildpacks/<hex>`, and `ns/name` of every
    /// image for layouts, caches and logs.
    var rootfs: Set<String> = []
    var buildpacks: Set<String> = []
    var images: [String: Set<String>] = [:]
    /// Snapshot blobs of images (for reporting usage).
    var sources: Set<Digest> = []
    /// Stack image blobs' roots (for reporting usage).
    var stacks: [Digest] = []
    /// When the oldest running build began (`BuildScheduler.Slot.leasedSince`), less the
    /// coarseness of file times: what changed since is kept, as what changes during the
    /// collection is. Nil when no build runs.
    var changedSinceOldestBuild: Date?

    /// How far a file's time may lag the clock the engine reads (the kernel stamps files with
    /// a coarse clock), with room to spare.
    static let fileTimeSlack: TimeInterval = 1
}
