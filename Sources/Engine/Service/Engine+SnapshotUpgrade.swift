import BuildRuntime
import Foundation
import SlipwayProtocol

extension Engine {
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
}
