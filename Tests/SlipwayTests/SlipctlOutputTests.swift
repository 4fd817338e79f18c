import Foundation
import JSONRPC
import Testing
import TestSupport

/// What slipctl prints: `build status` lists each reason's change, `build list` rows fit 120
/// columns, and `clusterstack delete` of a stack in use names its users.
@Suite struct SlipctlOutputTests {
    static func kp(_ words: [String], _ state: String) async throws -> (status: Int32, out: String, err: String) {
        try await KpSeedTests.kp(words, state: state)
    }

    @Test func buildStatusListsEachReasonAndBuildListFits120Columns() async throws {
        let state = TempDir("state")
        let work = TempDir("output")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        let tag = "oci:\(work.path)/a-rather-long-layout-name-for-an-image-of-this-test/and-a-repository-name-too:latest"
        _ = try await engine.call("image/create", ["name": "app", "tag": .string(tag), "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(try await engine.call("build/wait", ["image": "app", "build": 1])["status"] == "SUCCESS")
        _ = try await engine.call("image/patch", ["name": "app", "env": ["GREETING": "hi"]])
        #expect(try await engine.call("build/wait", ["image": "app", "build": 2])["status"] == "SUCCESS")
        let configured = try await Self.kp(["build", "status", "app"], state.path).out
        #expect(configured.contains("Reasons: CONFIG\n    CONFIG env: -> GREETING=hi\n"), "\(configured)")
        // Two changes at once: each is listed.
        let changed = TempDir("changed")
        #expect(try await sh("cp -r '\(HelloApp.path)/.' '\(changed.path)' && echo more >> '\(changed.path)/README.changed'").status == 0)
        _ = try await engine.call("image/patch", ["name": "app", "env": ["GREETING": "hello"], "source": ["local": ["path": .string(changed.path)]]])
        #expect(try await engine.call("build/wait", ["image": "app", "build": 3])["status"] == "SUCCESS")
        let both = try await Self.kp(["build", "status", "app"], state.path).out
        let reasonLines = both.split(separator: "\n").filter { $0.hasPrefix("    ") }
        #expect(reasonLines.count == 2 && reasonLines.contains { $0.hasPrefix("    CONFIG source: sha256:") && $0.contains(" -> sha256:") }
                && reasonLines.contains("    CONFIG env: GREETING=hi -> GREETING=hello"), "\(both)")

        let list = try await Self.kp(["build", "list", "app"], state.path)
        let lines = list.out.split(separator: "\n")
        #expect(lines.count == 4 && lines.allSatisfy { $0.count <= 120 }, "\(lines.map(\.count)) \(list.out)")
        #expect(lines.dropFirst().allSatisfy { $0.range(of: #"@sha256:[0-9a-f]{12} "#, options: .regularExpression) != nil }, "\(list.out)")
    }

    @Test func deletingAStackInUseNamesItsUsers() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        let refused = try await Self.kp(["clusterstack", "delete", "base"], state.path)
        #expect(refused.status == 1 && refused.err.contains("ClusterStack \"base\" is in use by ClusterBuilder \"default\" (1 image)") && refused.err.contains("--force"),
                "\(refused)")
        #expect(try await engine.call("clusterstack/get", ["name": "base"])["name"] == "base")
        let forced = try await Self.kp(["clusterstack", "delete", "base", "--force"], state.path)
        #expect(forced.status == 0 && forced.out == "ClusterStack \"base\" deleted\n", "\(forced)")
    }

    /// The engine's hints name its methods (`list images with image/list`); slipctl says them as
    /// its own commands, and leaves a method it has no command for as it is.
    @Test func messagesNameSlipctlCommandsNotMethods() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        _ = try await engine.call("image/list")
        let missing = try await Self.kp(["image", "status", "nope"], state.path)
        #expect(missing.status == 1 && missing.err.contains("slipctl image list") && missing.err.contains("slipctl image create"), "\(missing)")
        #expect(!missing.err.contains("image/list") && !missing.err.contains("image/create"), "\(missing)")
        let build = try await Self.kp(["build", "status", "nope"], state.path)
        #expect(build.status == 1 && !build.err.contains("image/list"), "\(build)")
    }
}
