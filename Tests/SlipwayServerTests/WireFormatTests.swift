import SlipwayProtocol
import Engine
import JSONRPC
import Testing
@testable import SlipwayServer

/// Params built by hand for speed say exactly what their Codable form says.
@Suite struct WireFormatTests {
    @Test func aLogLineBuiltDirectlyEncodesAsItsCodableForm() throws {
        let line = try JSONValueDecoder().decode(BuildLogLine.self, from: [
            "namespace": "ns", "image": "app", "build": 3, "seq": 41, "phase": "build", "stream": "stdout", "line": "hé \"quoted\"\ttab",
            "time": "2026-11-29T10:00:00.000Z"])
        #expect(JSONWriter.string(line.json) == JSONWriter.string(try JSONValueEncoder().encode(line)))
    }
}
