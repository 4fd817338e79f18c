import BuildRuntime
import Foundation
import SlipwayProtocol

/// Watched local sources (`source.local.watch`): the engine keeps a `FolderWatcher` per
/// watched image; a change, once quiet for the image's debounce, snapshots the folder again and
/// builds with reason CONFIG when the snapshot changed (an editor's save → a new image).
