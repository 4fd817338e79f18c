import Foundation
import JSONRPC
import SlipwayProtocol
import Testing

/// `spec/openrpc.json` is generated from SlipwayProtocol's method types by `slipway-openrpc`;
/// the checked-in file must be what the generator prints, so the document cannot drift from
/// the types the server registers and the clients call with.
@Suite struct OpenRPCGenerationTests {
    static let regenerate = "regenerate it with `make openrpc` (or `swift run slipway-openrpc > Sources/SlipwayServer/Resources/openrpc.json`)"

    @Test func theCheckedInDocumentIsWhatTheTypesGenerate() async throws {
        let r = try await sh("'\(Repo.binDir.path)/slipway-openrpc'")
        #expect(r.status == 0, "slipway-openrpc failed: \(r.err)")
        let checkedIn = try String(contentsOf: Repo.root.appendingPathComponent("Sources/SlipwayServer/Resources/openrpc.json"), encoding: .utf8)
        let generated = r.out
        if generated != checkedIn {
            let a = checkedIn.split(separator: "\n", omittingEmptySubsequences: false), b = generated.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset + 1 } ?? min(a.count, b.count) + 1
            Issue.record("spec/openrpc.json is stale (first difference at line \(first)): \(Self.regenerate)")
        }
    }

    @Test func everyMethodTypeIsInTheDocumentOnceAndInOrder() throws {
        let data = try Data(contentsOf: Repo.root.appendingPathComponent("spec/openrpc.json"))
        let names = try JSONParser.parse(Array(data))["methods"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names == SlipwayMethods.all.map { $0.method })
        #expect(Set(names).count == names.count)
    }
}
