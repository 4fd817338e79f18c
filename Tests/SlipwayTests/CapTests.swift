import Foundation
import JSONRPC
import Testing
import TestSupport

/// Caps on what a build or a source may make Slipway hold, and names no helper may choke on.
@Suite struct CapTests {
    /// Past --max-log-bytes the log says once that lines were dropped; the build goes on.
    @Test func aBuildLogStopsAtItsCapAndTheBuildGoesOn() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-log-bytes", "20000"])
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/chatty").path],
                                        order: [["group": [["id": "test/chatty"], ["id": "slipway/procfile"]]]])
        _ = try await c.call("image/create", ["name": "chatty", "env": ["LINES_TO_PRINT": "5000"],
                                              "source": ["local": ["path": .string(HelloApp.path)]]])
        let b = try await c.call("build/wait", ["image": "chatty", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "chatty"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.filter { $0.contains("the log size cap (--max-log-bytes)") }.count == 1)
        #expect(!lines.contains("line 5000"))
        let size = (try FileManager.default.attributesOfItem(atPath: state.path + "/logs/default/chatty/1.log")[.size] as? Int) ?? 0
        #expect(size < 30000, "the log file has \(size) bytes")
    }

    /// An archive bomb given as a source stops at --max-source-bytes with a message naming the cap.
    @Test func anArchiveBombStopsAtTheSourceCap() async throws {
        let dir = TempDir("bomb")
        #expect(try await sh("head -c 50000000 /dev/zero > '\(dir.path)/zeros' && cd '\(dir.path)' && zip -q bomb.zip zeros && rm zeros").status == 0)
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-source-bytes", "10485760"])
        try await c.setUpDefaultBuilder()
        let r = try await c.request("image/create", ["name": "bomb", "source": ["local": ["path": .string(dir.path + "/bomb.zip")]]])
        #expect(r["error"]?["code"] == -32602)
        #expect(r["error"]?["message"]?.stringValue?.contains("more than 10485760 bytes, the extraction cap") == true, "\(JSONWriter.string(r))")
        #expect(try await c.call("image/list")["images"] == [])
    }

    /// A source whose only file has a one-character name builds (it crashed the server once).
    @Test func oneCharacterNamesBuild() async throws {
        let app = TempDir("app")
        #expect(try await sh("cp -r '\(HelloApp.path)/.' '\(app.path)/' && echo x > '\(app.path)/a' && mkdir '\(app.path)/b' && echo y > '\(app.path)/b/c'").status == 0)
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "short", "source": ["local": ["path": .string(app.path)]]])
        #expect(try await c.call("build/wait", ["image": "short", "build": 1])["status"] == "SUCCESS")
    }
}
