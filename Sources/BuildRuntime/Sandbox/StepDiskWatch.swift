import Foundation
import Synchronization

/// Holds what a running step writes to disk to a cap while it runs, not only once it is done:
/// the folders it writes (its layer's upper folder, or its copied root, and its writable cache
/// mounts) are measured now and then, by the blocks their files take, and the step is killed
/// once they grew by more than the cap since it started. A step that fills the disk with real
/// bytes is stopped within about a second of passing the cap; sparse files take no blocks and
/// are held by the layer's own cap as it is written (`BlobWriter.Limit`).
///
/// Measuring walks the folders (`TreeWalker.forEachFile`: no recursion, never fails) on a
/// thread of its own; the pause between two walks grows with what one costs (at least a
/// second, twenty times a walk), so a large tree is not walked without pause. What the engine
/// cannot read (a step's folder of mode 0700 under another id, when Slipway is not root)
/// counts as empty.
final class StepDiskWatch: Sendable {
    let folders: [String]
    let limit: Int64
    private let baseline: Int64
    private let passed = Atomic<Bool>(false)

    /// Measures `folders` as they are before the step.
    init(folders: [String], limit: Int64) async throws {
        self.folders = folders
        self.limit = limit
        baseline = try await BlockingWork.run { Self.blocks(in: folders) }
    }

    /// Whether the step was killed for going over the cap.
    var wentOver: Bool { passed.load(ordering: .relaxed) }

    static func blocks(in folders: [String]) -> Int64 {
        var total: Int64 = 0
        for folder in folders { TreeWalker.forEachFile(underPath: folder) { total += Int64($0.st_blocks) * 512 } }
        return total
    }

    /// Watches until cancelled, killing `process` past the cap.
    func watch(_ process: Subprocess) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                let started = ContinuousClock.now
                // A failure to measure (the thread cannot start) waits for the next round.
                guard let used = try? await BlockingWork.run({ Self.blocks(in: self.folders) }) else { continue }
                if used - baseline > limit {
                    passed.store(true, ordering: .relaxed)
                    process.signal(SIGKILL)
                    return
                }
                let took = ContinuousClock.now - started
                try? await Task.sleep(for: max(.seconds(1), took * 20))  // cancelled: the loop ends
            }
        }
    }
}
