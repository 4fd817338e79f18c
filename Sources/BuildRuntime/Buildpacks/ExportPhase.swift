import Foundation

/// EXPORT (lifecycle's `phase/exporter.go`): writes the app image (see `Exporter`), then saves
/// the layers the buildpacks asked to cache.
struct ExportPhase {
    let exporter: Exporter
    let cache: LayerCache
    let buildpacks: [BuildpackDescriptor]
    let built: BuiltLayers
    let log: BuildLogger

    func run() async throws -> BuildResult {
        log(BuildPhase.export.rawValue, .system, "===> EXPORT")
        let exporter = self.exporter, cache = self.cache, buildpacks = self.buildpacks, built = self.built
        let result = try await BlockingWork.run { try exporter.export(group: buildpacks, built: built) }
        let layers = exporter.workspace.layers
        for saved in try await BlockingWork.run({ try cache.save(from: layers, buildpacks: buildpacks, cached: built.cachedLayers) }) {
            log(BuildPhase.export.rawValue, .system, "Adding cache layer '\(saved)'")
        }
        return result
    }
}
