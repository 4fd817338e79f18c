import Foundation
import JSONRPC
import SlipwayProtocol
import Testing

/// `spec/openrpc.json` is generated from SlipwayProtocol's method types by `slipway-openrpc`;
/// the checked-in file must be what the generator prints, so the document cannot drift from
/// the types the server registers and the clients call with.
@Suite struct OpenRPCGenerationTests {
    static let regenerate = "regenerate it with `make openrpc` (slipway-openrpc writes spec/openrpc.json, and with --python clients/python/slipway/_types.py)"

    /// Runs the generator with `arguments` and records an issue, naming the first line that
    /// differs and how to regenerate, when the checked-in file at `path` is not what it prints.
    static func expectCurrent(_ path: String, generatedWith arguments: String = "") async throws {
        let r = try await sh("'\(Repo.binDir.path)/slipway-openrpc' \(arguments)")
        #expect(r.status == 0, "slipway-openrpc \(arguments) failed: \(r.err)")
        let checkedIn = try String(contentsOf: Repo.root.appendingPathComponent(path), encoding: .utf8)
        guard r.out != checkedIn else { return }
        let a = checkedIn.split(separator: "\n", omittingEmptySubsequences: false), b = r.out.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset + 1 } ?? min(a.count, b.count) + 1
        Issue.record("\(path) is stale (first difference at line \(first)): \(regenerate)")
    }

    @Test func theCheckedInDocumentIsWhatTheTypesGenerate() async throws {
        try await Self.expectCurrent("Sources/SlipwayServer/Resources/openrpc.json")
    }

    @Test func everyMethodTypeIsInTheDocumentOnceAndInOrder() throws {
        let data = try Data(contentsOf: Repo.root.appendingPathComponent("spec/openrpc.json"))
        let names = try JSONParser.parse(Array(data))["methods"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names == SlipwayMethods.all.map { $0.method })
        #expect(Set(names).count == names.count)
    }
}

/// The Python client's types (`clients/python/slipway/_types.py`) are generated from the same
/// document; the checked-in file must be what the generator prints, and must load.
@Suite struct PythonTypesGenerationTests {
    @Test func theCheckedInPythonTypesAreWhatTheTypesGenerate() async throws {
        try await OpenRPCGenerationTests.expectCurrent("clients/python/slipway/_types.py", generatedWith: "--python")
    }

    /// Every TypedDict's annotations resolve, and each method of the protocol is a typed method
    /// of `Client` and a coroutine of `AsyncClient`.
    @Test func theTypesLoadAndNameEveryMethod() async throws {
        let check = """
            import inspect, sys, typing
            sys.path.insert(0, sys.argv[1])
            import slipway, slipway._types as t
            for name, value in vars(t).items():
                if isinstance(value, type) and issubclass(value, dict):
                    typing.get_type_hints(value, vars(t))
            for method in sys.argv[2:]:
                fn = method.replace("/", "_").replace(".", "_")
                hints = typing.get_type_hints(getattr(slipway.Client, fn), vars(t))
                assert "return" in hints and "params" in hints, method
                assert inspect.iscoroutinefunction(getattr(slipway.AsyncClient, fn)), method
            print("ok")
            """
        let methods = SlipwayMethods.all.map { "'\($0.method)'" }.joined(separator: " ")
        let r = try await sh("python3 -c '\(check.replacingOccurrences(of: "'", with: "'\\''"))' '\(Repo.root.path)/clients/python' \(methods)")
        #expect(r.status == 0 && r.out == "ok\n", "\(r.out)\(r.err)")
    }
}
