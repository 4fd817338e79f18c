import Engine
import JSONRPC
import SlipwayProtocol
import Synchronization

/// `image/get`'s answers, encoded, by image. An editor polls the status of its image, and many
/// clients may ask for the same images thousands of times a second, while encoding an
/// `ImageResource` costs several times what the rest of such a request does. An entry is used
/// only while the image it was encoded from equals the image the engine holds now (`Image` is
/// `Equatable`), so a client always gets the image as last committed, never an older one.
final class ImageResourceCache: Sendable {
    private struct Key: Hashable {
        var namespace: String
        var name: String
    }

    private let entries = Mutex<[Key: (image: Image, json: EncodedJSON)]>([:])
    /// Past this many entries (images deleted since, or very many images) the cache starts over.
    static let capacity = 4096

    /// How many images have an answer kept.
    var count: Int { entries.withLock { $0.count } }

    /// `image` as `image/get` answers it.
    func resource(of image: Image) throws -> EncodedJSON {
        let key = Key(namespace: image.namespace, name: image.name)
        if let cached = entries.withLock({ $0[key] }), cached.image == image { return cached.json }
        let json = EncodedJSON(try JSONValueEncoder().encode(ImageResource(image)))
        entries.withLock { e in
            if e.count >= Self.capacity { e.removeAll() }
            e[key] = (image, json)
        }
        return json
    }
}
