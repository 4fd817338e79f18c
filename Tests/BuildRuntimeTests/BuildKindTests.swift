import Foundation
import Testing
@testable import BuildRuntime

/// Which executor runs a build follows from the build's kind, not from the order of a list.
@Suite struct BuildKindTests {
    /// An executor that only says who it is, by failing with its name.
    struct Named: BuildExecutor {
        var name: String
        func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult { throw RuntimeError.invalid(name) }
    }

    func request(rebase: Bool, dockerfile: Bool) -> BuildRequest {
        var r = BuildRequest(workDirectory: "/w", cacheDirectory: "/c", source: Digest.of(Data("s".utf8)), env: [:], buildImage: nil, runImage: nil,
                             runImageName: "run", stackID: "io.test", order: [], outputLayout: "/o", outputTag: "t", outputName: "n", launcherPath: "/l",
                             rebase: rebase ? RebaseBase(previous: Digest.of(Data("p".utf8)), buildpacks: []) : nil)
        if dockerfile {
            r.dockerfile = DockerfileInputs(settings: DockerfileSettings(), namespace: "ns", image: "i") { _ in
                throw RuntimeError.invalid("no images here")
            }
        }
        return r
    }

    @Test func eachKindHasItsExecutor() async throws {
        #expect(request(rebase: false, dockerfile: false).kind == .buildpacks)
        #expect(request(rebase: false, dockerfile: true).kind == .dockerfile)
        // A rebase is a rebase whatever else the request names.
        #expect(request(rebase: true, dockerfile: true).kind == .rebase)
        #expect(request(rebase: true, dockerfile: false).kind == .rebase)
        let executors = BuildExecutors(rebase: Named(name: "rebaser"), dockerfile: Named(name: "dockerfile"), buildpacks: Named(name: "lifecycle"))
        for (kind, name) in [(BuildKind.rebase, "rebaser"), (.dockerfile, "dockerfile"), (.buildpacks, "lifecycle")] {
            let error = await #expect(throws: RuntimeError.self) {
                _ = try await executors.executor(for: kind).execute(request(rebase: false, dockerfile: false)) { _, _, _ in }
            }
            #expect(error?.message == name)
        }
    }
}
