import Foundation
import Testing

/// Files generated from the protocol's types (`spec/openrpc.json`, the Python client's
/// `_types.py`): a checked-in copy must be what `slipway-openrpc` prints now.
public enum GeneratedFile {
    public static let regenerate = "regenerate it with `make openrpc` (slipway-openrpc writes spec/openrpc.json, and with --python clients/python/slipway/_types.py)"

    /// Runs the generator with `arguments` and records an issue, naming the first line that
    /// differs and how to regenerate, when the checked-in file at `path` is not what it prints.
    public static func expectCurrent(_ path: String, generatedWith arguments: String = "") async throws {
        let r = try await sh("'\(Repo.binDir.path)/slipway-openrpc' \(arguments)")
        #expect(r.status == 0, "slipway-openrpc \(arguments) failed: \(r.err)")
        let checkedIn = try String(contentsOf: Repo.root.appendingPathComponent(path), encoding: .utf8)
        guard r.out != checkedIn else { return }
        let a = checkedIn.split(separator: "\n", omittingEmptySubsequences: false), b = r.out.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset + 1 } ?? min(a.count, b.count) + 1
        Issue.record("\(path) is stale (first difference at line \(first)): \(regenerate)")
    }
}
