import SlipwayProtocol
import BuildRuntime
import Foundation

/// Publishes a builder as a CNB builder image where its `tag` says, as kpack does for a
/// ClusterBuilder's `spec.tag`: written by `BuilderImageWriter` into the content store, then
/// pushed to a registry (with the registry secrets of the builder's namespace, `default` for a
/// ClusterBuilder) or written to an OCI layout (only where the engine may write host paths, as
/// for a stack's layout). Builds then name the builder by it: `REF@sha256:…`.
enum BuilderPublication {
    static func publish(_ engine: Engine, _ b: Builder, resolved: ResolvedBuilder) async throws -> String {
        guard let tag = b.tag else { throw EngineError.internal("publishing a builder without a tag") }
        guard resolved.status.ready, let stack = resolved.stack else {
            throw EngineError(.failedPrecondition, "\(b.kind.rawValue) \(b.name) is not ready (\(resolved.status.message ?? "")), so it cannot be published to \(tag); fix it first",
                              field: "tag")
        }
        let ref = try destination(engine, tag)
        var seen = Set<String>()
        let buildpacks = resolved.order.joined().filter { seen.insert($0.descriptor.id + "@" + $0.descriptor.version).inserted }
            .map { BuilderImageWriter.Buildpack(descriptor: $0.descriptor, directory: $0.directory) }
        let metadata = BuilderImageMetadata(
            stackID: stack.id, runImage: stack.runImage, runImageMirrors: b.imported?.runImageMirrors ?? [],
            order: resolved.status.order.map { $0.group.map { BuilderImageMetadata.OrderEntry(id: $0.id, version: $0.version, optional: $0.optional) } },
            buildpackLayers: [])
        let images = engine.images, version = engine.options.launcherVersion
        let image = try await BlockingWork.run {
            do {
                let buildImage = try OCIImage.load(stack.status.buildImageDigest, from: images.content)
                return try BuilderImageWriter(images: images).write(buildImage: buildImage, buildpacks: buildpacks, metadata: metadata, version: version)
            } catch let e as RuntimeError {
                throw EngineError(e)
            }
        }
        switch ref {
        case .layout(let path, let tagName):
            try await BlockingWork.run {
                do {
                    let layout = try OCILayout(path: path, create: true)
                    for d in image.manifest.layers.map(\.digest) + [image.manifest.config.digest, image.manifestDigest] {
                        try layout.store.copy(d, from: images.content)
                    }
                    try layout.setTag(tagName, to: image.manifestDescriptor)
                } catch let e as RuntimeError {
                    throw EngineError(e.kind == .invalidInput ? .invalidParams : .internal, "cannot write the builder image to \(tag): \(e.message)", field: "tag")
                }
            }
            return "oci:\(path):\(tagName)@\(image.manifestDigest)"
        case .registry(let host, let repository, let tagName, _):
            let client = try await RegistryService.registryClient(engine, host: host, namespace: b.namespace ?? "default")
            do {
                let pushed = try await client.push(image, repository: repository, tags: [tagName ?? ImageReference.defaultTag]) { _ in }
                return "\(tag)@\(pushed.digest)"
            } catch let e as RuntimeError {
                throw EngineError(.unavailable, "cannot push the builder image to \(tag): \(e.message)", field: "tag")
            }
        case .rootfs:
            preconditionFailure("destination(_:_:) refuses folders")
        }
    }

    /// Where `tag` publishes: a registry reference, or a layout where the engine may write.
    static func destination(_ engine: Engine, _ tag: String) throws -> ImageReference {
        let ref = try engine.mapped { try ImageReference.parse(tag, field: "tag") }
        switch ref {
        case .rootfs: throw EngineError.invalid("'tag' must be a registry reference (host/repository:tag) or oci:DIR[:TAG], not a folder", field: "tag")
        case .layout(let path, _): try SourceService.checkAllowed(engine, path, field: "tag")
        case .registry: break
        }
        return ref
    }
}
