import Foundation

/// RESTORE (lifecycle's `phase/restorer.go`): copies the image's cached layers of the detected
/// buildpacks into the build's layers folder (see `LayerCache`).
struct RestorePhase {
    let cache: LayerCache
    /// The build's layers folder.
    let layers: ConfinedDirectory
    let buildpacks: [BuildpackDescriptor]
    let log: BuildLogger

    func run() async throws {
        log(BuildPhase.restore, .system, "===> RESTORE")
        let cache = self.cache, layers = self.layers, buildpacks = self.buildpacks
        let restored = try await BlockingWork.run { try cache.restore(into: layers, buildpacks: buildpacks) }
        for key in restored {
            log(BuildPhase.restore, .system, "Restoring data for layer '\(key)' from cache")
        }
        try Task.checkCancellation()
    }
}
