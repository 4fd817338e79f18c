import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// A `.dockerignore` that is there but cannot be read fails the build instead of being taken
/// as empty: a symlink planted as the ignore file would otherwise let every secret it leaves
/// out into the image.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileIgnoreFileTests {
    @Test(arguments: ["symlink", "folder", "too-large"]) func anIgnoreFileThatCannotBeReadFailsTheBuild(_ kind: String) async throws {
        let f = try await DockerfileBuilderFixture.make()
        let context = TempDir("ignore-" + kind)
        try "FROM base\nCOPY . /ctx/\n".write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try "secret\n".write(toFile: context.path + "/secret", atomically: true, encoding: .utf8)
        try "secret\n".write(toFile: context.path + "/rules", atomically: true, encoding: .utf8)
        switch kind {
        case "symlink": symlink("rules", context.path + "/.dockerignore")
        case "folder": try FileManager.default.createDirectory(atPath: context.path + "/.dockerignore", withIntermediateDirectories: false)
        default: try ("secret\n" + String(repeating: "#\n", count: 600_000)).write(toFile: context.path + "/.dockerignore", atomically: true, encoding: .utf8)
        }
        let base = f.baseLayout
        await #expect {
            _ = try await f.builder.build(.init(context: context.path, outputLayout: f.state.path + "/out", outputTag: "latest") { _ in
                try OCILayout(path: base, create: false).image(tag: "run")
            }) { _, _, _ in }
        } throws: { error in
            "\(error)".contains(".dockerignore cannot be read")
        }
        #expect(!FileManager.default.fileExists(atPath: f.state.path + "/out/index.json"))
    }
}
