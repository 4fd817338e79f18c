import Foundation
import JSONRPC
import SlipwayProtocol
import Testing
import TestSupport

/// `spec/openrpc.json` is generated from SlipwayProtocol's method types by `slipway-openrpc`;
/// the checked-in file must be what the generator prints, so the document cannot drift from
/// the types the server registers and the clients call with.
@Suite struct OpenRPCGenerationTests {
    @Test func theCheckedInDocumentIsWhatTheTypesGenerate() async throws {
        try await GeneratedFile.expectCurrent("Sources/SlipwayServer/Resources/openrpc.json")
    }

    @Test func everyMethodTypeIsInTheDocumentOnceAndInOrder() throws {
        let data = try Data(contentsOf: Repo.root.appendingPathComponent("spec/openrpc.json"))
        let names = try JSONParser.parse(Array(data))["methods"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names == SlipwayMethods.all.map { $0.method })
        #expect(Set(names).count == names.count)
    }
}
