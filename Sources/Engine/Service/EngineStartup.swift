import SlipwayProtocol
import BuildRuntime
import Foundation

/// What an engine does once as it opens a state directory: the lock, builds interrupted by the
/// previous process, and upgrades of what older versions stored.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum EngineStartup {
    /// Source snapshots made before manifests were tars. At start, each image's is read once
    /// into the manifest form (`SnapshotStore`), and the builds that recorded the old digest as
    /// their local source's revision record the new one: the digest is what a snapshot of the
    /// same folder gives now, so nothing rebuilds for the change of form. Done once (the meta
    /// key `snapshots` records it); returns how many snapshots were converted.
    static func upgradeSourceSnapshots(_ store: StateStore, _ snapshotter: SourceSnapshotter) throws -> Int {
        if try !store.db.query("SELECT 1 FROM meta WHERE key='snapshots' AND value='manifest'").isEmpty { return 0 }
        var converted: [Digest: SnapshotSummary] = [:]
        try store.db.transaction { tx in
            for var image in try store.objects(Image.self, kind: .image, in: tx) {
                guard let resolved = image.source.resolved, let old = Digest(resolved.snapshot.digest),
                      snapshotter.snapshots.chain(old) == nil, snapshotter.store.contains(old) else { continue }
                let new: SnapshotSummary
                if let known = converted[old] {
                    new = known
                } else {
                    do {
                        new = SnapshotSummary(try snapshotter.convertTarSnapshot(old))
                    } catch {
                        // A snapshot that cannot be read is left as it is: the next build of the
                        // image fails saying so, and a patch with its source mends it.
                        FileHandle.standardError.write(Data("slipway: cannot convert source snapshot \(old.short) of \(image.namespace)/\(image.name): \(error)\n".utf8))
                        continue
                    }
                    converted[old] = new
                }
                image.source.resolved?.snapshot = new
                try store.put(image, kind: .image, namespace: image.namespace, name: image.name, in: tx)
                guard image.source.local != nil else { continue }  // git and blob builds record a commit or an archive digest
                for var b in try store.builds(namespace: image.namespace, image: image.name, in: tx) where b.inputs.sourceRevision == old.string {
                    b.inputs.sourceRevision = new.digest
                    try store.putBuild(b, in: tx)
                }
            }
            try tx.query("INSERT OR REPLACE INTO meta(key, value) VALUES('snapshots', 'manifest')", [])
        }
        return converted.count
    }

    /// One engine per state directory: two would each cache images in memory and could hand out
    /// the same build number. The lock is held until the process exits (or is killed).
    static func lockStateDirectory(_ dir: URL) throws {
        let path = dir.appendingPathComponent("engine.lock").path
        // Never through a symbolic link: one planted there would have its target truncated.
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw EngineError.internal("cannot open \(path): \(String(cString: strerror(e)))\(e == ELOOP ? " (a symbolic link: remove it and run again)" : "")")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"  // only for the message
            close(fd)
            throw EngineError(.unavailable, "another Slipway process (pid \(owner)) is using the state directory \(dir.path); use another --state-dir, or wait for it to exit")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        // The descriptor stays open (and locked) for the life of the process.
    }

    /// A build that was BUILDING when the previous process died ends as FAILURE, and its image
    /// status says so. Nothing else changes.
    static func recoverInterruptedBuilds(_ store: StateStore) throws -> [Build] {
        try store.db.transaction { tx in
            var out: [Build] = []
            for var b in try store.builds(withStatus: .BUILDING, in: tx) {
                b.status = .FAILURE
                b.finished = Timestamp.now()
                b.message = "interrupted: the Slipway process running this build stopped before it finished; trigger the image to build again"
                try store.putBuild(b, in: tx)
                if var image = try store.object(Image.self, kind: .image, namespace: b.namespace, name: b.image, in: tx) {
                    image.status = ImageStatusCalculator.status(previous: image.status, latest: try store.latestBuild(namespace: b.namespace, image: b.image, in: tx),
                                                                ended: b)
                    try store.put(image, kind: .image, namespace: b.namespace, name: b.image, in: tx)
                }
                out.append(b)
            }
            return out
        }
    }
}
