import Foundation

/// EXPORT (lifecycle's `phase/exporter.go`): writes the app image through `target` (see
/// `Exporter`), then saves the layers the buildpacks asked to cache.
struct ExportPhase {
    let target: LayoutExportTarget
    let workspace: Lifecycle.Workspace
    let sources: SourceSnapshotter
    let request: BuildRequest
    let buildImage: OCIImage
    let runImage: OCIImage
    let previous: OCIImage?
    let cache: LayerCache
    let buildpacks: [BuildpackDescriptor]
    let built: BuiltLayers
    let log: BuildLogger

    func run() async throws -> BuildResult {
        log(BuildPhase.export.rawValue, .system, "===> EXPORT")
        let phase = self
        let result = try await BlockingWork.run {
            let exporter = Exporter(target: phase.target, layersFolder: phase.workspace.layers, app: try AppTree(phase.workspace, sources: phase.sources),
                                    request: phase.request, buildImage: phase.buildImage, runImage: phase.runImage, previous: phase.previous, log: phase.log)
            return try exporter.export(group: phase.buildpacks, built: phase.built)
        }
        for saved in try await BlockingWork.run({ try phase.cache.save(from: phase.workspace.layers, buildpacks: phase.buildpacks, cached: phase.built.cachedLayers) }) {
            log(BuildPhase.export.rawValue, .system, "Adding cache layer '\(saved)'")
        }
        return result
    }
}
