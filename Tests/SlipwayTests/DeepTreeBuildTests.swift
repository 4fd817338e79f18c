import Foundation
import JSONRPC
import Testing
import TestSupport

/// A buildpack that leaves a folder tree 25,000 levels deep in /workspace crashed the engine at
/// export (a recursive walk out of stack), and the leftover at the next start and collection.
/// Now the build fails with a message that says what was wrong, the engine goes on answering,
/// removes the build's folder, and collects garbage.
@Suite struct DeepTreeBuildTests {
    static let descriptor = #"""
        [_]
        schema-version = "0.2"

        [[io.buildpacks.group]]
        id = "me/deep-tree"
        [io.buildpacks.group.script]
        api = "0.10"
        shell = "/bin/bash"
        inline = """
        set -e
        level=$(printf 'd/%.0s' $(seq 1000))
        for i in $(seq 25); do mkdir -p "$level"; cd "$level"; done
        echo "made a tree 25000 levels deep"
        """

        [[io.buildpacks.group]]
        id = "slipway/procfile"
        """#

    @Test func aBuildThatLeavesADeepTreeFailsWithAClearMessageAndTheEngineLivesOn() async throws {
        let state = TempDir("state")
        let app = TempDir("deep-app")
        try Self.descriptor.write(toFile: app.path + "/project.toml", atomically: true, encoding: .utf8)
        try "web: true\n".write(toFile: app.path + "/Procfile", atomically: true, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "deep", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "deep", "build": 1], timeout: 150)
        #expect(b["status"] == "FAILURE", "\(b)")
        let message = b["message"]?.stringValue ?? ""
        #expect(message.hasPrefix("/workspace holds folders nested more than 1024 levels deep (at d/d/d/"), "\(message)")
        #expect(message.hasSuffix("keep folders at most 1024 levels deep"), "\(message)")
        let log = try await c.call("build/logs", ["image": "deep"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(log.contains("made a tree 25000 levels deep"), "\(log)")

        // The engine answers (`call` fails on an error), removes the build's folder, and collects.
        let incarnation = try #require(try await c.call("image/get", ["name": "deep"])["incarnation"]?.stringValue)
        let work = state.path + "/work/default/deep/1-\(incarnation)"
        let deadline = Date().addingTimeInterval(120)
        while FileManager.default.fileExists(atPath: work) && Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
        #expect(!FileManager.default.fileExists(atPath: work), "the failed build's folder is removed")
        _ = try await c.call("system/gc")
        _ = try await c.call("image/get", ["name": "deep"])
    }
}
