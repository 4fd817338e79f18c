import Foundation
import Testing
import TestSupport

/// slipctl speaks the protocol through its types: requests by method type, results read as the
/// method's typed result. No method name is spelled in a call and no result is read by a
/// string key (`["name"]?.stringValue`), so a renamed field or method does not compile.
@Suite struct SlipctlTypedProtocolTests {
    @Test func noRequestByNameAndNoResultByStringKey() throws {
        let folder = Repo.root.appendingPathComponent("clients/slipctl")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty)
        let untyped = try NSRegularExpression(pattern: #"\.call\("|\.exists\("|\["[A-Za-z]+"\]\?"#)
        // The JSON-RPC envelope (method, params, id, error, result) is read by key in EngineSession: it is not a result.
        for file in files where file != "EngineSession.swift" {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let s = String(line)
                #expect(untyped.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) == nil, "clients/slipctl/\(file):\(n + 1): \(s)")
            }
        }
    }
}
