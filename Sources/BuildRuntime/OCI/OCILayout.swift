import Foundation

/// An image read from a content store: its manifest and configuration, with the store
/// holding its blobs.
public struct OCIImage: Sendable {
    public var store: ContentStore
    public var manifestDigest: Digest
    public var manifestSize: Int64
    public var manifest: OCIManifest
    public var config: OCIImageConfig

    public var manifestDescriptor: OCIDescriptor {
        OCIDescriptor(mediaType: MediaType.manifest, digest: manifestDigest, size: manifestSize)
    }

    /// Loads the image whose manifest is `digest` in `store`, following an index to the
    /// manifest for this host's platform.
    public static func load(_ digest: Digest, from store: ContentStore) throws -> OCIImage {
        guard store.contains(digest) else { throw RuntimeError.notFound("manifest \(digest) is not in \(store.root.path)") }
        let data = try store.read(digest)
        let probe = try CanonicalJSON.decode(MediaTypeProbe.self, from: data, what: "manifest \(digest)")
        if probe.manifests != nil || probe.mediaType == MediaType.index || probe.mediaType == MediaType.dockerManifestList {
            let index = try CanonicalJSON.decode(OCIIndex.self, from: data, what: "image index \(digest)")
            let arch = OCIImageConfig.hostArchitecture
            guard let pick = index.manifests.first(where: { $0.platform == nil || ($0.platform?.os == "linux" && $0.platform?.architecture == arch) }) else {
                throw RuntimeError.invalid("image index \(digest) has no manifest for linux/\(arch)")
            }
            return try load(pick.digest, from: store)
        }
        let manifest = try CanonicalJSON.decode(OCIManifest.self, from: data, what: "manifest \(digest)")
        let config = try CanonicalJSON.decode(OCIImageConfig.self, from: try store.read(manifest.config.digest), what: "image config")
        return OCIImage(store: store, manifestDigest: digest, manifestSize: Int64(data.count), manifest: manifest, config: config)
    }

    private struct MediaTypeProbe: Decodable {
        var mediaType: String?
        var manifests: [OCIDescriptor]?
    }
}

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`), readable by
/// skopeo and umoci. Tags are `org.opencontainers.image.ref.name` annotations in
/// `index.json`, which is replaced atomically under a file lock so concurrent builds writing
/// to one layout never lose each other's tags.
public struct OCILayout: Sendable {
    public let root: URL
    public let store: ContentStore
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"

    /// Opens a layout, creating it when `create` is set and it does not exist.
    public init(path: String, create: Bool) throws {
        root = URL(fileURLWithPath: path).standardizedFileURL
        let layoutFile = root.appendingPathComponent("oci-layout").path
        if access(layoutFile, F_OK) != 0 {
            guard create else { throw RuntimeError.notFound("\(path) is not an OCI image layout (it has no oci-layout file)") }
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: layoutFile), options: .atomic)
        }
        store = try ContentStore(root: root)
        if access(indexPath, F_OK) != 0 {
            try writeIndex(OCIIndex())
        }
    }

    var indexPath: String { root.appendingPathComponent("index.json").path }

    /// The layout's index.json (capped like a manifest; a symlink is not followed).
    public func index() throws -> OCIIndex {
        let fd = open(indexPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.invalid("\(root.path) has no readable index.json") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= ContentStore.maxMetadataBytes else {
            throw RuntimeError.invalid("\(root.path)/index.json is not a regular file of at most \(ContentStore.maxMetadataBytes) bytes")
        }
        return try CanonicalJSON.decode(OCIIndex.self, from: try handle.readToEnd() ?? Data(), what: "\(indexPath)")
    }

    private func writeIndex(_ index: OCIIndex) throws {
        try CanonicalJSON.encode(index).write(to: URL(fileURLWithPath: indexPath), options: .atomic)
    }

    /// The manifest tagged `tag`, or the only manifest when `tag` is nil.
    public func image(tag: String?) throws -> OCIImage {
        let idx = try index()
        let match: OCIDescriptor?
        if let tag {
            match = idx.manifests.last { $0.annotations?[Self.refNameAnnotation] == tag }
        } else {
            match = idx.manifests.count == 1 ? idx.manifests[0] : nil
        }
        guard let match else {
            let tags = idx.manifests.compactMap { $0.annotations?[Self.refNameAnnotation] }
            throw RuntimeError.notFound("OCI layout \(root.path) has no image tagged '\(tag ?? "")' (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
        }
        return try OCIImage.load(match.digest, from: store)
    }

    /// Points `tag` at the manifest `descriptor` (whose blob must already be in the layout).
    public func setTag(_ tag: String, to descriptor: OCIDescriptor) throws {
        guard store.contains(descriptor.digest) else {
            throw RuntimeError.io("refusing to tag \(descriptor.digest): the manifest blob is not in \(root.path)")
        }
        try withLock {
            var idx = try index()
            idx.manifests.removeAll { $0.annotations?[Self.refNameAnnotation] == tag }
            var d = descriptor
            d.annotations = (d.annotations ?? [:]).merging([Self.refNameAnnotation: tag]) { $1 }
            idx.manifests.append(d)
            try writeIndex(idx)
        }
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let fd = open(root.appendingPathComponent(".index.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RuntimeError.io("cannot lock \(root.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
