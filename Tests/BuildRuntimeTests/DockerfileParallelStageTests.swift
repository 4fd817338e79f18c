import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// Independent stages build at the same time: two stages that each wait (with a deadline) for
/// the other to start can only both finish when they run together.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileParallelStageTests {
    @Test func independentStagesBuildTogether() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("parallel")
        func waiter(_ me: String, _ other: String) -> String {
            "RUN --mount=type=cache,target=/sync,id=sync touch /sync/\(me) && i=0 && while [ ! -e /sync/\(other) ]; do i=$((i+1)); [ $i -gt 600 ] && exit 7; sleep 0.05; done && echo \(me) > /\(me)"
        }
        try """
            FROM base AS a
            \(waiter("a", "b"))
            FROM base AS b
            \(waiter("b", "a"))
            FROM base
            COPY --from=a /a /from-a
            COPY --from=b /b /from-b
            """.write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let lines = LineCollector()
        let base = f.baseLayout, layout = f.state.path + "/parallel"
        _ = try await f.builder.build(.init(context: context.path, outputLayout: layout, outputTag: "latest", mountCacheDirectory: f.state.path + "/mounts") { _ in
            try OCILayout(path: base, create: false).image(tag: "run")
        }) { _, _, l in lines.add(l) }
        let image = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: image.rootfs + "/from-a", encoding: .utf8) == "a\n")
        #expect(try String(contentsOfFile: image.rootfs + "/from-b", encoding: .utf8) == "b\n")
        // Every line of a stage says which stage it comes from.
        #expect(lines.all.contains { $0.hasPrefix("[a]   not cached") } && lines.all.contains { $0.hasPrefix("[b]   not cached") }, "\(lines.all)")
    }
}
