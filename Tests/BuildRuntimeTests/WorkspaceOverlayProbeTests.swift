import Foundation
import Synchronization
import Testing
@testable import BuildRuntime
import TestSupport

/// Whether a workspace overlay can be mounted, found by mounting one: here it can (the suite
/// runs where overlayfs mounts in a user namespace); with no helper it cannot, and says why.
@Suite struct WorkspaceOverlayProbeTests {
    @Test func theProbeMountsAnOverlayOrSaysWhyNot() async throws {
        let scratch = tempDir()
        #expect(await WorkspaceOverlay.unavailableReason(helper: Repo.userNamespaceHelper, scratch: scratch) == nil)
        let why = await WorkspaceOverlay.unavailableReason(helper: scratch + "/no-such-helper", scratch: scratch)
        #expect(why?.isEmpty == false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "the probe's folders are removed")
    }

    /// A build's choice of workspace: the overlay of its snapshot's trees; unpacked, saying
    /// why, where the overlay cannot be mounted; unpacked, silently, with `--workspace unpack`.
    @Test func aBuildGetsTheOverlayOrFallsBackSayingWhy() async throws {
        let state = tempDir(), src = tempDir()
        try write(src + "/app.txt", "app\n")
        let images = try ImageStore(stateDirectory: URL(fileURLWithPath: state))
        let sources = SourceSnapshotter(store: images.content)
        let snapshot = try sources.snapshot(localPath: src, subPath: nil)
        try FileManager.default.createDirectory(atPath: state + "/work/b", withIntermediateDirectories: true)
        var request = BuildRequest(workDirectory: state + "/work/b/1", cacheDirectory: state + "/cache", source: snapshot.digest, env: [:],
                                   buildImage: nil, runImage: nil, runImageName: "", stackID: "", order: [], outputLayout: "", outputTag: "",
                                   outputName: "", launcherPath: "")
        func choose(_ mode: WorkspaceMode, helper: String) async throws -> (WorkspaceOverlay?, [String]) {
            request.userNamespaceHelper = helper
            let lines = Mutex<[String]>([])
            let overlay = try await Lifecycle(images: images, sources: sources, workspace: mode)
                .workspaceOverlay(for: request) { _, _, line in lines.withLock { $0.append(line) } }
            return (overlay, lines.withLock { $0 })
        }
        let (overlay, quiet) = try await choose(.overlay, helper: Repo.userNamespaceHelper)
        #expect(overlay?.lowers.count == 1 && overlay?.snapshot == snapshot.digest && quiet.isEmpty)
        let (none, said) = try await choose(.overlay, helper: state + "/no-such-helper")
        #expect(none == nil && said.count == 1 && said[0].hasPrefix("overlayfs cannot be mounted here ("), "\(said)")
        let (unpacked, silent) = try await choose(.unpack, helper: Repo.userNamespaceHelper)
        #expect(unpacked == nil && silent.isEmpty)
    }
}
