import Foundation
import JSONRPC
import Testing
import TestSupport

/// The build context has the source size cap: a context over it is refused when the image is
/// made, naming the cap, and nothing is kept.
@Suite struct DockerfileContextCapTests {
    @Test func aContextOverTheSourceCapIsRefusedNamingIt() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-source-bytes", "1048576"])
        let app = TempDir("bigcontext")
        try "FROM scratch\nCOPY . /\n".write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try Data(repeating: 7, count: 2 << 20).write(to: URL(fileURLWithPath: app.path + "/big.bin"))
        let r = try await c.request("image/create", ["name": "big", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        #expect(r["error"]?["code"] == -32602, "\(JSONWriter.string(r))")
        #expect(r["error"]?["message"]?.stringValue?.contains("larger than 1048576 bytes, the source size cap") == true, "\(JSONWriter.string(r))")
        #expect(try await c.call("image/list")["images"] == [])
    }
}
