import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// RUN --mount=type=cache: a folder of the image's that outlives builds and stays out of layers.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileCacheMountTests {
    @Test func aCacheMountOutlivesBuildsAndStaysOutOfTheImage() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("mount")
        try """
            FROM base
            ARG ROUND
            RUN --mount=type=cache,target=/var/cache/thing,uid=1000 echo "$ROUND" >> /var/cache/thing/rounds && cat /var/cache/thing/rounds | wc -l > /rounds-seen
            RUN --mount=type=secret,id=x true
            """.write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let base = f.baseLayout, mounts = f.state.path + "/mounts"
        func build(_ round: String) async throws -> String {
            let layout = f.state.path + "/out-" + round
            _ = try await f.builder.build(.init(context: context.path, buildArgs: ["ROUND": round], outputLayout: layout, outputTag: "latest",
                                                mountCacheDirectory: mounts) { _ in try OCILayout(path: base, create: false).image(tag: "run") }) { _, _, _ in }
            return layout
        }
        do {
            _ = try await build("1")
            Issue.record("type=secret was accepted")
        } catch {
            #expect("\(error)".contains("Dockerfile:4: RUN --mount=type=secret is not supported by Slipway yet"), "\(error)")
        }
        try "FROM base\nARG ROUND\nRUN --mount=type=cache,target=/var/cache/thing,uid=1000 echo \"$ROUND\" >> /var/cache/thing/rounds && cat /var/cache/thing/rounds | wc -l > /rounds-seen\n"
            .write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let second = try await build("2")
        let third = try await build("3")  // another ARG value: the RUN runs again over the same folder
        let a = try await UnpackedImage(layout: second), b = try await UnpackedImage(layout: third)
        let seenA = try String(contentsOfFile: a.rootfs + "/rounds-seen", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let seenB = try String(contentsOfFile: b.rootfs + "/rounds-seen", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(seenB) == (Int(seenA) ?? 0) + 1, "\(seenA) then \(seenB)")
        #expect(!FileManager.default.fileExists(atPath: b.rootfs + "/var/cache/thing/rounds"), "the cache's files are in no layer")
        var st = stat()
        let folder = try #require(try FileManager.default.contentsOfDirectory(atPath: mounts).first)
        #expect(lstat(mounts + "/" + folder, &st) == 0)
        if getuid() == 0 { #expect(st.st_uid == IDMapping.root.users[0].outer + 1000, "uid=1000 inside the step") }
    }
}
