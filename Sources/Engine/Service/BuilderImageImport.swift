import SlipwayProtocol
import BuildRuntime
import Foundation

/// Makes a builder of a CNB builder image as pack and kpack make them: the image is the build
/// image, its metadata names the run image (with mirrors) and the stack id, its buildpack layers
/// hold the buildpacks, its order label the detection order. Slipway's own lifecycle runs them.
///
/// The image comes from a registry or a layout and is as untrusted as any: its labels are
/// checked (`BuilderImageMetadata`), its buildpacks read confined (`BuildpackLoader`), and a
/// builder image from a registry may not name a run image on this machine.
enum BuilderImageImport {
    /// What the builder `name` takes from `image`.
    struct Result {
        var imported: ImportedBuilder
        var order: [OrderGroup]
    }

    /// A namespaced Builder's images are pulled with its namespace's registry secrets, as kpack
    /// pulls them with its service account's; a ClusterBuilder's (nil) with those of "default".
    static func importBuilder(_ engine: Engine, image: String, name: String, namespace: String?) async throws -> Result {
        let credentials = namespace ?? "default"
        let ref = try PlatformService.stackImageReference(engine, image, field: "image")
        let builderImage = try await PlatformService.importStackImage(engine, ref, field: "image", stackID: "", credentialsOf: credentials)
        let metadata = try engine.mapped {
            try BuilderImageMetadata.read(labels: builderImage.config.config.Labels ?? [:], source: image, field: "image")
        }
        let runRef = try PlatformService.stackImageReference(engine, metadata.runImage, field: "image")
        if case .registry = ref, !isRegistry(runRef) {
            throw EngineError.invalid("the builder image \(PathSyntax.shortened(image)) names the run image '\(PathSyntax.shortened(metadata.runImage))', which is not in a registry; an image from a registry may only name registry images", field: "image")
        }
        let run = try await PlatformService.importStackImage(engine, runRef, field: "image", stackID: metadata.stackID, credentialsOf: credentials)
        if let runStackID = run.config.config.Labels?["io.buildpacks.stack.id"], runStackID != metadata.stackID {
            throw EngineError.invalid("the builder image's stack id '\(metadata.stackID)' differs from its run image's '\(runStackID)'", field: "image")
        }
        let loader = BuildpackLoader(content: engine.images.content, root: engine.path("buildpacks"))
        let loaded: [LoadedBuildpack]
        do {
            loaded = try await BlockingWork.run { try loader.loadPackage(builderImage, source: image, field: "image", layers: metadata.buildpackLayers) }
        } catch let e as RuntimeError {
            throw EngineError(e)
        } catch let e as ConfinedPathError {
            throw EngineError(.invalidParams, "\(PathSyntax.shortened(image)) cannot be used as a builder: \(e)", field: "image")
        }
        let stack = PlatformService.describeStack(name: name, id: metadata.stackID, buildImage: (image, ref, builderImage),
                                                  runImage: (metadata.runImage, runRef, run))
        let buildpacks = loaded.map { StoredBuildpack($0, source: image) }
        let order = metadata.order.map { OrderGroup(group: $0.map { OrderEntry(id: $0.id, version: $0.version, optional: $0.optional) }) }
        return Result(imported: ImportedBuilder(stack: stack, buildpacks: buildpacks, runImageMirrors: metadata.runImageMirrors), order: order)
    }

    static func isRegistry(_ ref: ImageReference) -> Bool {
        if case .registry = ref { return true }
        return false
    }
}
