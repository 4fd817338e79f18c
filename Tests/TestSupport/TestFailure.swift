import JSONRPC
import Testing

/// A test's own failure (a fixture that did not start, a wait that timed out), with what went wrong.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension JSONValue {
    public var int: Int? { int64Value.map(Int.init) }
}

extension String {
    public var jsonValue: JSONValue { .string(self) }
}

extension JSONValue {
    /// Expects this build (a `build/wait` or `build/status` result) to have ended with
    /// `status`; when it did not, the issue shows the whole build, its message included.
    public func expectStatus(_ status: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self["status"] == .string(status), "\(JSONWriter.string(self))", sourceLocation: sourceLocation)
    }
}
