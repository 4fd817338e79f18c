import Engine
import Foundation
@testable import JSONRPC
import SlipwayProtocol
import Testing
@testable import SlipwayServer
import TestSupport

/// Which methods the server answers in a connection's reading loop (no task each): `image/get`,
/// answered from the image catalog in memory, and only reads (a read never holds up a write).
@Suite struct InlineMethodsTests {
    @Test func imageGetIsAnsweredInlineAndOnlyReadsAre() throws {
        let state = TempDir("inline")
        let engine = try Engine(stateDirectory: state.url, options: EngineOptions(launcherPath: "/bin/true", gitPollInterval: nil))
        let registry = MethodTable.makeRegistry(ServerContext(engine: engine, maxMessageSize: 1 << 20))
        let inline = registry.requestMethods.filter { registry.entry($0)?.answersInline == true }
        #expect(inline == [ImageGet.method])
        #expect(inline.allSatisfy { registry.entry($0)?.ordering == .read })
    }
}
