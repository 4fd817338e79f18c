import Foundation

/// Writes a builder as a CNB builder image, as kpack's `--tag` publishes one: the stack's build
/// image, one layer per buildpack (`/cnb/buildpacks/<escaped id>/<version>`), a layer with
/// `/cnb/order.toml`, `/cnb/stack.toml` and `/cnb/run.toml`, and pack's labels
/// (`BuilderImageMetadata.labels`). Every layer is a normalised tar (names in byte order, fixed
/// times and owners), so the same builder always gives the same image digest, and Slipway (or
/// pack's tools) reads it back as it was written.
public struct BuilderImageWriter: Sendable {
    /// A buildpack to publish: its descriptor and its unpacked folder.
    public struct Buildpack: Sendable {
        public var descriptor: BuildpackDescriptor
        public var directory: String
        public init(descriptor: BuildpackDescriptor, directory: String) {
            self.descriptor = descriptor
            self.directory = directory
        }
    }

    public let images: ImageStore

    public init(images: ImageStore) { self.images = images }

    /// Writes the image into the content store and returns it. `metadata` names the stack id,
    /// the run image and the order; `version` is Slipway's, for `createdBy`.
    public func write(buildImage: OCIImage, buildpacks: [Buildpack], metadata: BuilderImageMetadata, version: String) throws -> OCIImage {
        let content = images.content
        var layers = buildImage.manifest.layers
        var diffIDs = buildImage.config.rootfs.diff_ids
        var entries: [BuilderImageMetadata.LayerEntry] = []
        func addLayer(_ fill: (TarWriter) throws -> Void) throws -> Digest {
            let writer = try content.writer()
            let tar = TarWriter(out: writer)
            try fill(tar)
            try tar.finish()
            let (digest, size) = try writer.commit()
            layers.append(OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size))
            diffIDs.append(digest)
            return digest
        }
        for bp in buildpacks.sorted(by: { ($0.descriptor.id, $0.descriptor.version) < ($1.descriptor.id, $1.descriptor.version) }) {
            let folder = "cnb/buildpacks/\(BuildpackDescriptor.escape(bp.descriptor.id))/"
            let top = try ConfinedDirectory(path: bp.directory, displayPath: "buildpack \(bp.descriptor.id)@\(bp.descriptor.version)")
            let digest = try addLayer { tar in
                for dir in ["cnb/", "cnb/buildpacks/", folder, folder + bp.descriptor.version + "/"] { try tar.addDirectory(dir) }
                try tar.addTree(top, prefix: folder + bp.descriptor.version + "/", owner: .root)
            }
            entries.append(.init(descriptor: bp.descriptor, diffID: digest))
        }
        _ = try addLayer { tar in
            try tar.addDirectory("cnb/")
            try tar.addFile("cnb/order.toml", contents: Array(Self.orderTOML(metadata.order).utf8))
            try tar.addFile("cnb/run.toml", contents: Array(Self.runTOML(metadata).utf8))
            try tar.addFile("cnb/stack.toml", contents: Array(Self.stackTOML(metadata).utf8))
        }
        var config = buildImage.config
        config.rootfs = .init(diff_ids: diffIDs)
        var labels = config.config.Labels ?? [:]
        for (k, v) in try metadata.labels(buildpacks: entries, createdBy: version) { labels[k] = v }
        config.config.Labels = labels
        config.history = (config.history ?? []) + (0..<(diffIDs.count - buildImage.config.rootfs.diff_ids.count)).map { _ in
            OCIImageConfig.History(created_by: "slipway: builder")
        }
        return try images.writeImage(config: config, layers: layers, into: content)
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func orderTOML(_ order: [[BuilderImageMetadata.OrderEntry]]) -> String {
        order.map { group in
            "[[order]]\n" + group.map { e in
                "  [[order.group]]\n    id = \(quoted(e.id))\n" + (e.version.map { "    version = \(quoted($0))\n" } ?? "")
                    + (e.optional == true ? "    optional = true\n" : "")
            }.joined()
        }.joined(separator: "\n")
    }

    static func runTOML(_ m: BuilderImageMetadata) -> String {
        "[[images]]\n  image = \(quoted(m.runImage))\n  mirrors = [\(m.runImageMirrors.map(quoted).joined(separator: ", "))]\n"
    }

    static func stackTOML(_ m: BuilderImageMetadata) -> String {
        "[run-image]\n  image = \(quoted(m.runImage))\n  mirrors = [\(m.runImageMirrors.map(quoted).joined(separator: ", "))]\n"
    }
}
