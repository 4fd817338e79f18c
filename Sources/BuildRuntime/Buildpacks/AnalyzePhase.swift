import Foundation

/// ANALYZE (lifecycle's `phase/analyzer.go`): finds the previous image under the output tag and
/// gives each detected buildpack the metadata of its launch layers there, so that a buildpack
/// that finds its layer's .toml may keep the layer without rebuilding it (export then reuses the
/// layer as it was).
struct AnalyzePhase {
    let request: BuildRequest
    /// The build's layers folder, where the metadata goes.
    let layers: ConfinedDirectory
    let buildpacks: [BuildpackDescriptor]
    let log: BuildLogger

    /// What analyze gives the later phases.
    struct Analyzed {
        /// The output layout (made when missing), which export writes into.
        var layout: OCILayout
        var previous: OCIImage?
        var previousLayers: PreviousLayers
    }

    func run() throws -> Analyzed {
        log(BuildPhase.analyze, .system, "===> ANALYZE")
        let layout = try OCILayout(path: request.outputLayout, create: true)
        // No previous image (a first build: no index.json or no such tag) is normal; one that
        // cannot be read is treated the same, so the build only misses reusing its layers.
        let previous = try? layout.image(tag: request.outputTag)  // see above: nil means build every layer
        if let previous {
            log(BuildPhase.analyze, .system, "Previous image with name \"\(request.outputName)\" found: \(previous.manifestDigest)")
        } else {
            log(BuildPhase.analyze, .system, "Previous image with name \"\(request.outputName)\" not found")
        }
        let previousLayers = previous.map(PreviousLayers.init) ?? PreviousLayers()
        for d in buildpacks {
            for (name, layer) in (previousLayers.layers[d.id] ?? [:]).sorted(by: { $0.key < $1.key }) where PathSyntax.isNormalComponent(name) {
                let dir = try layers.makeDirectories(d.escapedID)
                // Metadata only, no [types] (Buildpack API 0.6 and later): a layer the buildpack
                // does not flag again is neither exported nor cached.
                let toml = TOMLTable([("metadata", .table(layer.metadata))])
                try dir.createFile(name + ".toml", contents: Array(TOMLWriter.write(toml).utf8))
                log(BuildPhase.analyze, .system, "Restoring metadata for layer '\(d.id):\(name)' from the previous image")
            }
        }
        return Analyzed(layout: layout, previous: previous, previousLayers: previousLayers)
    }
}

/// The launch layers of the previous image, by buildpack id and layer name, from its
/// `io.buildpacks.lifecycle.metadata` label.
struct PreviousLayers {
    struct Layer {
        var descriptor: OCIDescriptor
        var metadata: TOMLTable
    }
    var layers: [String: [String: Layer]] = [:]

    init() {}

    init(_ image: OCIImage) {
        guard let metadata = ImageLabels.decode(LifecycleMetadata.self, image.config.config.Labels?[ImageLabels.lifecycleMetadata]) else { return }
        for bp in metadata.buildpacks {
            for (name, info) in bp.layers {
                guard let descriptor = image.manifest.layers.first(where: { $0.digest.string == info.sha }) else { continue }
                let data = TOMLTable((info.data ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value.toml) })
                layers[bp.key, default: [:]][name] = Layer(descriptor: descriptor, metadata: data)
            }
        }
    }
}
