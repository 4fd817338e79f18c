import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// A garbage collection removes what steps made in their namespace, also when Slipway is not
/// root and those files belong to ids of the user's range (a 0700 folder of uid 1000 there).
@Suite struct StepFolderCollectionTests {
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aCollectionRemovesWhatAStepMadeAsAnotherId() async throws {
        let mapping = try IDMapping.forCurrentUser()
        let root = TempDir("gcns")
        let folder = root.path + "/dockerfile/layers/" + Digest.of("a layer no record names").hex
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // The folder is the namespace root's, as Slipway gives it layer folders.
        for dir in [root.path, root.path + "/dockerfile", root.path + "/dockerfile/layers"] { chmod(dir, 0o755) }
        if getuid() == 0 { chown(folder, mapping.users[0].outer, mapping.groups[0].outer) }
        let namespace = UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping)
        let made = try Subprocess(namespace.arguments(overlay: nil, command: ["/bin/sh", "-c", "mkdir '\(folder)/x' && echo data > '\(folder)/x/f' && chown -R 1000:1000 '\(folder)/x' && chmod 700 '\(folder)/x'"]),
                                  environment: ["PATH": "/usr/bin:/bin"]) { _, _ in }
        #expect(await made.wait() == 0)
        let gc = GarbageCollector(started: Date().addingTimeInterval(5), dryRun: false)
        // On a thread of its own, as the engine runs a collection (it waits for the namespace's rm).
        let result = try await BlockingWork.run { DockerfileStateCollector(root: root.path + "/dockerfile", images: [:], namespace: namespace).collect(keeping: [], with: gc) }
        #expect(!FileManager.default.fileExists(atPath: folder), "the layer folder is gone")
        #expect(result.freed.count >= 1, "\(result.freed)")
    }

    /// Inner-id layer folders (`<diffID>.inner`, a COPY's as root) go with their layer like any
    /// other: kept while a kept blob names them, removed once none does.
    @Test func innerIDLayerFoldersAreKeptAndCollectedByTheirDigest() async throws {
        let root = TempDir("gcinner")
        let layers = root.path + "/dockerfile/layers"
        let kept = Digest.of("a kept layer"), dropped = Digest.of("a layer no one keeps")
        for d in [kept, dropped] {
            try FileManager.default.createDirectory(atPath: layers + "/" + d.hex + OverlayStepRunner.innerIDSuffix + "/data", withIntermediateDirectories: true)
        }
        let namespace = UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: IDMapping.callerOnly())
        let gc = GarbageCollector(started: Date().addingTimeInterval(5), dryRun: false)
        _ = try await BlockingWork.run { DockerfileStateCollector(root: root.path + "/dockerfile", images: [:], namespace: namespace).collect(keeping: [kept], with: gc) }
        #expect(FileManager.default.fileExists(atPath: layers + "/" + kept.hex + OverlayStepRunner.innerIDSuffix + "/data"))
        #expect(!FileManager.default.fileExists(atPath: layers + "/" + dropped.hex + OverlayStepRunner.innerIDSuffix))
    }
}
