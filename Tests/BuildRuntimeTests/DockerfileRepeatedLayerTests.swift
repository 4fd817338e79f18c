import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// Steps that make the same layer (two `RUN true`, each an empty layer) stack it once: overlayfs
/// refuses one folder twice among its lowers (ELOOP), which failed the step after them.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileRepeatedLayerTests {
    @Test func stepsThatMakeTheSameLayerStillBuild() async throws {
        let f = try await DockerfileBuilderFixture.make()
        try "FROM base\nRUN true\nRUN true\nRUN echo third > /third\n".write(toFile: f.context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let layout = f.state.path + "/out"
        let result = try await f.builder.build(f.request(layout)) { _, _, _ in }
        #expect(result.layersAdded == 3, "one layer a step: the empty one twice (the same blob), and the third step's")
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/third", encoding: .utf8) == "third\n")
    }
}
