import Testing
@testable import JSONRPC

@Suite struct MessageTests {
    @Test func classifiesEnvelopes() throws {
        func classify(_ s: String) throws -> IncomingMessage { IncomingMessage(try JSONParser.parse(Array(s.utf8))) }
        if case .request(let id, let m, _) = try classify(#"{"jsonrpc":"2.0","id":"7","method":"a"}"#) {
            #expect(id == .string("7")); #expect(m == "a")
        } else { Issue.record("request expected") }
        if case .notification(let m, _) = try classify(#"{"jsonrpc":"2.0","method":"n"}"#) { #expect(m == "n") } else { Issue.record("notification expected") }
        if case .invalid(let id, let e) = try classify(#"{"jsonrpc":"1.0","id":3,"method":"a"}"#) {
            #expect(id == .int(3)); #expect(e.code == -32600)
        } else { Issue.record("invalid expected") }
        if case .invalid(let id, _) = try classify(#"{"jsonrpc":"2.0","id":{},"method":"a"}"#) { #expect(id == nil) } else { Issue.record("invalid expected") }
        if case .invalid = try classify(#"{"jsonrpc":"2.0","id":1,"method":5}"#) {} else { Issue.record("invalid expected") }
        if case .invalid = try classify(#"{"jsonrpc":"2.0","id":1,"method":"a","params":3}"#) {} else { Issue.record("invalid expected") }
        if case .invalid = try classify("42") {} else { Issue.record("invalid expected") }
    }
}
