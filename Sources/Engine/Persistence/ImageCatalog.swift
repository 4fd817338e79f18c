import Synchronization

/// The images as last committed, by namespace and name: the engine's cache of the image
/// table, which a query reads without a turn on the engine's thread.
///
/// Rules that make a read from any thread safe and never dirty:
/// - only the engine writes it, on its own executor, and only after the transaction that
///   stored the change has committed (so a reader sees an image as the database holds it,
///   never one a failed or unfinished change would have written);
/// - every read and write takes the lock, and a reader takes one image out, not the table
///   (so an engine write never copies the table for a reader that holds it).
/// A request that must see an earlier write of its client is ordered after that write's reply
/// by the server (`RequestKeys`), and the write updates the catalog before it replies.
final class ImageCatalog: Sendable {
    private let table = Mutex<[Engine.ImageKey: Image]?>(nil)

    /// The image, `.some(nil)` when there is none; nil while the table is not loaded yet.
    func image(_ key: Engine.ImageKey) -> Image?? {
        table.withLock { t in t.map { $0[key] } }
    }

    /// Every image; nil while the table is not loaded yet.
    var all: [Engine.ImageKey: Image]? { table.withLock { $0 } }

    /// Publishes the whole table, as read from the database.
    func load(_ images: [Engine.ImageKey: Image]) { table.withLock { $0 = images } }

    /// Publishes a committed image (nothing while the table is not loaded: it is read whole later).
    func put(_ image: Image, at key: Engine.ImageKey) { table.withLock { $0?[key] = image } }

    /// Publishes a committed deletion.
    func remove(_ key: Engine.ImageKey) { table.withLock { _ = $0?.removeValue(forKey: key) } }
}
