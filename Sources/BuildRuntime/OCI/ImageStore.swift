import Foundation

/// The state directory's images: every stack image is imported into one content store, and
/// build images are unpacked once per manifest digest into root filesystems for the sandbox.
public struct ImageStore: Sendable {
    public let content: ContentStore
    public let rootfsDirectory: URL

    public init(stateDirectory: URL) throws {
        content = try ContentStore(root: stateDirectory)
        rootfsDirectory = stateDirectory.appendingPathComponent("rootfs", isDirectory: true)
        try FileManager.default.createDirectory(at: rootfsDirectory, withIntermediateDirectories: true)
    }

    /// Labels and settings given to an image imported from a folder.
    public struct FolderImageSettings: Sendable {
        public var stackID: String
        public var uid: Int
        public var gid: Int
        public init(stackID: String, uid: Int = 1000, gid: Int = 1000) {
            self.stackID = stackID
            self.uid = uid
            self.gid = gid
        }
    }

    /// Brings the image named by `reference` into the content store and returns it; registry
    /// references are pulled with `registry` (a client for the reference's host).
    public func importImage(_ reference: ImageReference, folderSettings: FolderImageSettings,
                            registry: (String) -> RegistryClient) async throws -> OCIImage {
        if case .registry(let host, let repository, let tag, let digest) = reference {
            return try await registry(host).pull(repository: repository, reference: digest?.string ?? tag ?? ImageReference.defaultTag, into: content)
        }
        return try importLocalImage(reference, folderSettings: folderSettings)
    }

    /// Imports an image from a folder or an OCI layout; with `onlyImage`, the layout's only
    /// image whatever its tag.
    public func importLocalImage(_ reference: ImageReference, folderSettings: FolderImageSettings, onlyImage: Bool = false) throws -> OCIImage {
        switch reference {
        case .rootfs(let path):
            return try importFolder(path, settings: folderSettings)
        case .layout(let path, let tag):
            let layout = try OCILayout(path: path, create: false)
            let image = try layout.image(tag: onlyImage ? nil : tag)
            try importBlobs(of: image, from: layout, path: path)
            return try OCIImage.load(image.manifestDigest, from: content)
        case .registry:
            preconditionFailure("registry references are pulled by importImage")
        }
    }

    /// Imports the image whose manifest is `digest` from the OCI layout at `path` (whatever
    /// its tags), checking that the layout holds every blob it names.
    public func importLayoutImage(at path: String, digest: Digest) throws -> OCIImage {
        let layout = try OCILayout(path: path, create: false)
        let image = try OCIImage.load(digest, from: layout.store)
        try importBlobs(of: image, from: layout, path: path)
        return try OCIImage.load(image.manifestDigest, from: content)
    }

    private func importBlobs(of image: OCIImage, from layout: OCILayout, path: String) throws {
        for d in image.manifest.layers + [image.manifest.config] + [image.manifestDescriptor] {
            guard layout.store.contains(d.digest) else {
                throw RuntimeError.invalid("OCI layout \(PathSyntax.shortened(path)) names blob \(d.digest) but does not contain it")
            }
            try content.importBlob(d.digest, from: layout.store)
        }
    }

    /// Makes a one-layer image of a root filesystem folder. The layer is reproducible, so the
    /// same folder always imports to the same digest.
    func importFolder(_ path: String, settings: FolderImageSettings) throws -> OCIImage {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw RuntimeError.invalid("root filesystem folder \(path) does not exist or is not a folder")
        }
        let w = try content.writer()
        let tar = TarWriter(out: w)
        do {
            try tar.addTree(try ConfinedDirectory(path: SourceSnapshotter.realPath(path) ?? path, displayPath: path), prefix: "", owner: .root)
        } catch let e as ConfinedPathError {
            throw RuntimeError.invalid("cannot import the root filesystem folder \(path): \(e); every file in it must be readable by the user Slipway runs as")
        }
        try tar.finish()
        let layer = try w.commit()
        var config = OCIImageConfig.Config()
        config.Env = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "CNB_USER_ID=\(settings.uid)", "CNB_GROUP_ID=\(settings.gid)", "CNB_STACK_ID=\(settings.stackID)",
        ]
        config.User = "\(settings.uid):\(settings.gid)"
        config.Labels = ["io.buildpacks.stack.id": settings.stackID]
        var imageConfig = OCIImageConfig(config: config, diffIDs: [layer.digest])
        imageConfig.history = [.init(created_by: "slipway: imported from folder \(PathSyntax.lastComponent(path))")]
        return try writeImage(config: imageConfig, layers: [OCIDescriptor(mediaType: MediaType.layer, digest: layer.digest, size: layer.size)], into: content)
    }

    /// Stores a config and manifest for `layers` (already in `store`) and returns the image.
    public func writeImage(config: OCIImageConfig, layers: [OCIDescriptor], into store: ContentStore) throws -> OCIImage {
        let configData = try CanonicalJSON.encode(config)
        let configDigest = try store.put(configData)
        let manifest = OCIManifest(config: OCIDescriptor(mediaType: MediaType.config, digest: configDigest, size: Int64(configData.count)), layers: layers)
        let manifestData = try CanonicalJSON.encode(manifest)
        let manifestDigest = try store.put(manifestData)
        return OCIImage(store: store, manifestDigest: manifestDigest, manifestSize: Int64(manifestData.count), manifest: manifest, config: config)
    }

    /// The unpacked root filesystem of `image`, extracted on first use. Extraction goes to a
    /// temporary folder renamed into place, so a crash never leaves a half-unpacked root.
    public func rootfs(for image: OCIImage) throws -> String {
        let final = rootfsDirectory.appendingPathComponent(image.manifestDigest.hex).path
        if access(final, F_OK) == 0 { return final }
        let temp = rootfsDirectory.appendingPathComponent(".tmp-" + UUID().uuidString).path
        defer { try? ConfinedDirectory.removeTree(atPath: temp) }  // best effort: .tmp-* folders are swept at start-up
        let root = try ConfinedDirectory(path: temp, displayPath: "", create: true)
        let extractor = ArchiveExtractor(policy: .imageLayer)
        for (i, layer) in image.manifest.layers.enumerated() {
            try extractor.extract(archiveAt: image.store.path(layer.digest), into: root, name: "layer \(i + 1) (\(layer.digest.short)) of the build image")
        }
        if rename(temp, final) != 0 && access(final, F_OK) != 0 {
            throw RuntimeError.io("cannot place root filesystem \(final): \(String(cString: strerror(errno)))")
        }
        return final
    }
}
