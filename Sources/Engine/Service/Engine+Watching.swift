import BuildRuntime
import Foundation
import SlipwayProtocol

/// Watched local sources (`source.local.watch`): the engine keeps a `FolderWatcher` per
/// watched image; a change, once quiet for the image's debounce, snapshots the folder again and
/// builds with reason CONFIG when the snapshot changed (an editor's save → a new image).
extension Engine {
    /// The default quiet time after the last change before a rebuild.
    static let defaultWatchDebounceMs = 200

    /// A running watch, and what it was started for.
    struct FolderWatch {
        var root: String
        var debounceMs: Int
        var watcher: FolderWatcher
    }

    /// Starts, restarts or stops the watch of an image's folder to match its configuration (a
    /// deleted image, or one not watched, has none). An image that cannot be read is an error,
    /// and its watch is left as it was.
    func syncWatch(namespace: String, name: String) throws {
        let key = ImageKey(namespace: namespace, name: name)
        let image = try imageIfExists(namespace, name)
        guard let image, image.isConfiguration, let local = image.source.local, local.watch == true else {
            watchers[key]?.watcher.stop()
            watchers[key] = nil
            return
        }
        let root = local.path + (image.source.subPath.map { "/" + $0 } ?? "")
        let debounceMs = local.watchDebounceMs ?? Self.defaultWatchDebounceMs
        if let w = watchers[key], w.root == root, w.debounceMs == debounceMs { return }
        watchers[key]?.watcher.stop()
        watchers[key] = nil
        do {
            let watcher = try FolderWatcher(root: root, debounce: Double(debounceMs) / 1000) { [weak self] in
                Task { await self?.folderChanged(namespace: namespace, name: name) }
            }
            watchers[key] = FolderWatch(root: root, debounceMs: debounceMs, watcher: watcher)
        } catch {
            report("cannot watch the folder of image \(namespace)/\(name): \(error)")
        }
    }

    /// The watched folder of an image changed: snapshot it again, and build if it differs.
    func folderChanged(namespace: String, name: String) async {
        let image: Image?
        do { image = try imageIfExists(namespace, name) } catch {
            report("image \(namespace)/\(name): its watched folder changed, but the image cannot be read: \(error)")
            return
        }
        guard let image, image.source.local?.watch == true else { return }  // gone or unwatched: nothing to do
        let fresh: SourceSpec
        do {
            fresh = try await resolveSource(image.source, namespace: namespace)
        } catch {
            report("image \(namespace)/\(name): its watched folder cannot be snapshotted: \(error)")
            return
        }
        do {
            guard var current = try imageIfExists(namespace, name), current.source.local == fresh.local else { return }  // gone or changed meanwhile
            let (old, new) = (current.source.resolved?.snapshot.digest, fresh.resolved?.snapshot.digest)
            guard old != new else { return }
            current.source = fresh
            _ = try commit(current, reasons: [BuildReason(.CONFIG, field: "source", old: old, new: new)], created: false, session: nil)
        } catch {
            report("image \(namespace)/\(name): the build for its changed folder cannot be queued: \(error)")
        }
    }

    /// At engine start: the watches again, and a build for every folder that changed while no
    /// engine ran.
    func resumeWatches() async {
        let images: [ImageKey: Image]
        do { images = try loadImages() } catch {
            report("watched folders are not watched: the images cannot be read: \(error)")
            return
        }
        for image in images.values where image.isConfiguration && image.source.local?.watch == true {
            do { try syncWatch(namespace: image.namespace, name: image.name) } catch {
                report("the folder of image \(image.namespace)/\(image.name) is not watched: \(error)")
            }
            await folderChanged(namespace: image.namespace, name: image.name)
        }
    }
}
