import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// Where overlayfs cannot be mounted, RUN steps work on a copy of their layers that is compared
/// afterwards (`CopySnapshot`). Built that way, Dockerfiles of the conformance corpus that
/// delete, replace, chown, chmod, hard-link and bind-mount give the same file tree as with an
/// overlay. As root Slipway copies and compares itself; as another user its worker does, inside
/// the step namespace (`scripts/test-as-user.sh` runs this so).
@Suite(.serialized) struct CopySnapshotTests {
    static let cases = ["run-basic", "whiteout-opaque", "whiteout-recreate", "user-steps", "special-modes", "hardlinks-run", "run-mount-bind", "workdir-chain"]

    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun), arguments: cases)
    func aCopiedRootGivesWhatAnOverlayGives(_ name: String) async throws {
        let mapping = try IDMapping.forCurrentUser()
        let work = TempDir("copysnap")
        try await HostStack.ociLayout(at: work.path + "/base", stackID: "io.slipway.test")
        let base = "oci:\(work.path)/base:build", baseLayout = work.path + "/base"
        func build(_ snapshots: OverlayStepRunner.Snapshots) async throws -> [String] {
            let state = work.path + "/state-\(snapshots)"
            let images = try ImageStore(stateDirectory: URL(fileURLWithPath: state))
            let runner = OverlayStepRunner(sandbox: try SandboxRunner(), namespace: UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping),
                                           layersRoot: state + "/dockerfile/layers", snapshots: snapshots)
            let builder = DockerfileBuilder(images: images, layersRoot: runner.layersRoot, cacheDirectory: state + "/dockerfile/cache", runner: runner)
            let request = DockerfileBuilder.Request(context: DockerfileCorpus.folder + "/" + name, buildArgs: ["BASE": base],
                                                    outputLayout: state + "/out", outputTag: "latest", mountCacheDirectory: state + "/mounts") { _ in
                try OCILayout(path: baseLayout, create: false).image(tag: "build")
            }
            _ = try await builder.build(request) { _, _, _ in }
            let image = try await UnpackedImage(layout: state + "/out")
            return try await DockerfileCorpus.listing(image.rootfs)
        }
        let overlay = try await build(.overlay), copied = try await build(.copy)
        let onlyOverlay = Set(overlay).subtracting(copied).sorted(), onlyCopy = Set(copied).subtracting(overlay).sorted()
        #expect(onlyOverlay.isEmpty && onlyCopy.isEmpty, "\(name): only with overlay: \(onlyOverlay)\nonly with a copy: \(onlyCopy)")
    }
}
