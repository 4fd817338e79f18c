import Foundation
import JSONRPC
import Testing
import TestSupport

/// A FROM tag that moves to another image is a STACK build, found by polling; the build status
/// lists every FROM with its digest.
@Suite struct DockerfileBaseTests {
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aMovedFromTagIsAStackBuild() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--git-poll-interval", "1"] + Repo.hostPathArguments)
        let run = "oci:\(base.path)/oci:run", build = "oci:\(base.path)/oci:build"
        _ = try await c.call("image/create", ["name": "moving", "strategy": "dockerfile", "buildArgs": ["BUILD_IMAGE": .string(build), "RUN_IMAGE": .string(run)],
                                              "source": ["local": ["path": .string(DockerfileStrategyTests.app)]]])
        let first = try await c.call("build/wait", ["image": "moving", "build": 1])
        #expect(first["status"] == "SUCCESS", "\(JSONWriter.string(first))")
        let bases = first["bases"]?.arrayValue ?? []
        #expect(Set(bases.compactMap { $0["name"]?.stringValue }) == [run, build], "\(bases)")
        #expect(bases.allSatisfy { $0["digest"]?.stringValue?.hasPrefix("sha256:") == true })

        // The run tag moves: a new config (a label) makes a new manifest under the same tag.
        #expect(try await sh("umoci config --image '\(base.path)/oci:run' --config.label moved=yes").status == 0)
        try await c.waitForQueued("moving", 2)
        let second = try await c.call("build/wait", ["image": "moving", "build": 2])
        #expect(second["status"] == "SUCCESS" && second["reasonSummary"] == "STACK", "\(JSONWriter.string(second))")
        #expect(second["reasons"]?.arrayValue?.first?["field"] == .string("FROM " + run), "\(JSONWriter.string(second))")
        let newRun = second["bases"]?.arrayValue?.first { $0["name"] == .string(run) }?["digest"]
        #expect(newRun != bases.first { $0["name"] == .string(run) }?["digest"])
    }
}
