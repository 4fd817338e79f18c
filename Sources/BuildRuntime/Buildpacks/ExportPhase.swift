import Foundation

/// EXPORT (lifecycle's `phase/exporter.go`): writes the app image with `exporter` (the
/// workspace's app tree over the snapshot it came from), then saves the layers the buildpacks
/// asked to cache.
struct ExportPhase {
    let exporter: Exporter
    let workspace: Lifecycle.Workspace
    let sources: SourceSnapshotter
    let cache: LayerCache
    let buildpacks: [BuildpackDescriptor]
    let built: BuiltLayers

    func run() async throws -> BuildResult {
        exporter.log(BuildPhase.export, .system, "===> EXPORT")
        let phase = self
        let result = try await BlockingWork.run {
            try phase.exporter.export(app: try AppTree(phase.workspace, sources: phase.sources), group: phase.buildpacks, built: phase.built)
        }
        for saved in try await BlockingWork.run({ try phase.cache.save(from: phase.workspace.layers, buildpacks: phase.buildpacks, cached: phase.built.cachedLayers) }) {
            exporter.log(BuildPhase.export, .system, "Adding cache layer '\(saved)'")
        }
        return result
    }
}
