import SlipwayProtocol
import Testing
@testable import Engine

@Suite struct ValidationTests {
    @Test(arguments: ["a", "my-app", "a1", String(repeating: "x", count: 63)])
    func validNames(_ n: String) throws { try Validation.name(n, field: "name", kind: "image") }

    @Test(arguments: ["", "A", "-a", "a-", "a_b", "a.b", String(repeating: "x", count: 64), "ünï"])
    func invalidNames(_ n: String) {
        #expect(throws: EngineError.self) { try Validation.name(n, field: "name", kind: "image") }
    }

    @Test func envNames() throws {
        try Validation.env(["PATH_EXTRA": "x", "_a1": "y"])
        #expect(throws: EngineError.self) { try Validation.env(["1X": "x"]) }
        #expect(throws: EngineError.self) { try Validation.env(["A-B": "x"]) }
        #expect(throws: EngineError.self) { try Validation.env(["CNB_APP_DIR": "x"]) }
    }

    @Test func versionOrderIsNumeric() {
        #expect(Engine.versionLess("1.9.2", "1.10.0"))
        #expect(!Engine.versionLess("2.0.0", "1.99.0"))
        #expect(Engine.versionLess("1.0", "1.0.1"))
    }
}
