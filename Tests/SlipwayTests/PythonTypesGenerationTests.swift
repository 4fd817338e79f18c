import Foundation
import SlipwayProtocol
import Testing
import TestSupport

/// The Python client's types (`clients/python/slipway/_types.py`) are generated from the same
/// document; the checked-in file must be what the generator prints, and must load.
@Suite struct PythonTypesGenerationTests {
    @Test func theCheckedInPythonTypesAreWhatTheTypesGenerate() async throws {
        try await GeneratedFile.expectCurrent("clients/python/slipway/_types.py", generatedWith: "--python")
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
