import SlipwayProtocol
import BuildRuntime
import Foundation



/// What create/patch/save did.
public struct ImageChange: Sendable {
    public var image: Image
    public var changed: Bool
    /// The build that will carry the change (new, or a queued build it joined).
    public var build: Int?
}

extension Engine {
    // MARK: Create, patch, save




    /// Creates the image if it does not exist, else patches it.
    public func saveImage(_ spec: ImageSpec, session: EngineSession? = nil) async throws -> ImageChange {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        try Validation.name(spec.name, field: "name", kind: "image")
        if try imageIfExists(ns, spec.name) == nil { return try await createImage(spec, session: session) }
        return try await patchImage(spec, session: session)
    }







    // MARK: Reading

    func loadImages() throws -> [ImageKey: Image] {
        if let c = imageCache { return c }
        var c: [ImageKey: Image] = [:]
        for i in try store.objects(Image.self, kind: .image) { c[ImageKey(namespace: i.namespace, name: i.name)] = i }
        imageCache = c
        return c
    }

    func imageIfExists(_ ns: String, _ name: String) throws -> Image? { try loadImages()[ImageKey(namespace: ns, name: name)] }

    public func image(_ ns: String, _ name: String) throws -> Image {
        guard let i = try imageIfExists(ns, name) else {
            throw EngineError.notFound("image", name, namespace: ns, hint: "list images with image/list, or create it with image/create")
        }
        return i
    }


    // MARK: Delete



    // MARK: Inputs






    // MARK: Tags and sources







    func saveImage(_ image: Image) throws {
        try store.put(image, kind: .image, namespace: image.namespace, name: image.name)
        imageCache?[ImageKey(namespace: image.namespace, name: image.name)] = image
    }
}


