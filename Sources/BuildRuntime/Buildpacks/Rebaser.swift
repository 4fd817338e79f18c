import Foundation

/// A STACK-only rebuild: the previous app image's run-image layers are swapped for the new run
/// image's, and the new image is written without running any buildpack. The app, launch,
/// launcher and config layers keep their digests; only a config and a manifest are new.
public struct Rebaser: Sendable {
    public let images: ImageStore

    public init(images: ImageStore) { self.images = images }

    /// Why `request`'s rebase cannot be done, so that the image is built in full instead: the
    /// previous image or the new run image says `io.buildpacks.rebasable` is false. Nil when
    /// it can (or is no rebase).
    public func whyNotRebasable(_ request: BuildRequest) -> String? {
        guard let base = request.rebase else { return nil }
        if request.runImage?.config.config.Labels?[ImageLabels.rebasable] == "false" {
            return "the run image is not rebasable (io.buildpacks.rebasable=false): building in full"
        }
        // A previous image that cannot be read is reported by the rebase itself.
        let previous = (try? OCILayout(path: request.outputLayout, create: false)).flatMap { try? OCIImage.load(base.previous, from: $0.store) }
        if previous?.config.config.Labels?[ImageLabels.rebasable] == "false" {
            return "the previous image \(base.previous.short) is not rebasable (io.buildpacks.rebasable=false): building in full"
        }
        return nil
    }

    /// Rebases the image `previous` (in the output layout) on `newRun`; `buildpacks` are those
    /// of the build that made `previous`, which the result reports again.
    public func rebase(previous previousDigest: Digest, buildpacks: [BuildpackDescriptor], runImage newRun: OCIImage, runImageName: String,
                       outputLayout: String, outputTag: String, log: BuildLogger) throws -> BuildResult {
        log(.rebase, .system, "===> REBASE")
        let layout = try OCILayout(path: outputLayout, create: true)
        let previous = try OCIImage.load(previousDigest, from: layout.store)
        var labels = previous.config.config.Labels ?? [:]
        guard var metadata = ImageLabels.decode(LifecycleMetadata.self, labels[ImageLabels.lifecycleMetadata]),
            let top = previous.config.rootfs.diff_ids.firstIndex(where: { $0.string == metadata.runImage.topLayer })
        else {
            throw RuntimeError.buildFailed("the previous image \(previousDigest.short) has no run-image metadata to rebase on")
        }
        let baseCount = top + 1
        log(.rebase, .system, "Rebasing \(previousDigest) on run image \(newRun.manifestDigest)")
        var layers: [OCIDescriptor] = []
        for var l in newRun.manifest.layers {
            try layout.store.copy(l.digest, from: images.content)
            l.mediaType = MediaType.ociLayer(l.mediaType)
            layers.append(l)
        }
        layers += previous.manifest.layers.dropFirst(baseCount)
        let diffIDs = newRun.config.rootfs.diff_ids + previous.config.rootfs.diff_ids.dropFirst(baseCount)
        metadata.runImage = .init(topLayer: newRun.config.rootfs.diff_ids.last?.string ?? "", reference: LifecycleMetadata.reference(of: newRun, named: runImageName),
                                  image: runImageName)
        metadata.stack = .init(runImage: runImageName)
        labels[ImageLabels.lifecycleMetadata] = try ImageLabels.encode(metadata)
        var config = previous.config
        config.config.Labels = labels
        config.rootfs = .init(diff_ids: diffIDs)
        config.history = (newRun.config.history ?? []) + (previous.config.history ?? []).dropFirst(min(baseCount, previous.config.history?.count ?? 0))
        let image = try images.writeImage(config: config, layers: layers, into: layout.store)
        try layout.setTag(outputTag, to: image.manifestDescriptor)
        log(.rebase, .system, "*** Images (\(image.manifestDigest)):")
        log(.rebase, .system, "      oci:\(layout.root.path):\(outputTag)")
        return BuildResult(imageDigest: image.manifestDigest, buildpacks: buildpacks, runImageDigest: newRun.manifestDigest, processes: [],
                           layersAdded: 0, layersReused: previous.manifest.layers.count - baseCount)
    }
}
