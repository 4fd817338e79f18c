import BuildRuntime
import Foundation
import SlipwayProtocol

/// The roots of a garbage collection, read from the engine's state at one moment: what every
/// image, stack, store and running build still needs.
struct CollectionRoots: Sendable {
    /// Blobs of the state's content store that are roots (stack images, buildpacks, source
    /// snapshots, what running builds lease).
    var content: [Digest] = []
    /// Image layouts and the manifests to keep in each (those of retained builds, besides
    /// what the layout's index tags).
    var layouts: [String: [Digest]] = [:]
    /// Layouts under the state directory: their unreachable blobs are swept.
    var ownLayouts: Set<String> = []
    /// Folders to keep, by kind: `rootfs/<hex>`, `buildpacks/<hex>`, and `ns/name` of every
    /// image for layouts, caches and logs.
    var rootfs: Set<String> = []
    var buildpacks: Set<String> = []
    var images: [String: Set<String>] = [:]
    /// Snapshot blobs of images (for reporting usage).
    var sources: Set<Digest> = []
    /// Stack image blobs' roots (for reporting usage).
    var stacks: [Digest] = []
    /// When the oldest running build began (`BuildScheduler.Slot.leasedSince`), less the
    /// coarseness of file times: what changed since is kept, as what changes during the
    /// collection is. Nil when no build runs.
    var changedSinceOldestBuild: Date?

    /// How far a file's time may lag the clock the engine reads (the kernel stamps files with
    /// a coarse clock), with room to spare.
    static let fileTimeSlack: TimeInterval = 1
}

extension Engine {








    // MARK: Usage


}
