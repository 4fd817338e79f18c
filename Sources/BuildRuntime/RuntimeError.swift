/// A failure in the build runtime, classified so the layers above can tell the caller's
/// mistake (bad input) from a missing dependency or a failed build step.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure it is, which decides the error code a caller sees.
    public enum Kind: Sendable {
        /// The input (a path, an archive, a reference, a buildpack) is not acceptable.
        case invalidInput
        /// Something named does not exist.
        case notFound
        /// A tool or service the runtime needs is missing or unreachable.
        case unavailable
        /// Credentials were refused.
        case permissionDenied
        /// A build step failed (a buildpack exited non-zero, detection failed).
        case buildFailed
        /// The file system refused an operation.
        case io
    }

    public let kind: Kind
    public let message: String
    /// The param the error is about, when it comes from one.
    public let field: String?

    public init(_ kind: Kind, _ message: String, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
    }

    public var description: String { message }

    public static func io(_ message: String) -> RuntimeError { RuntimeError(.io, message) }
    public static func invalid(_ message: String, field: String? = nil) -> RuntimeError { RuntimeError(.invalidInput, message, field: field) }
    public static func unavailable(_ message: String) -> RuntimeError { RuntimeError(.unavailable, message) }
    public static func buildFailed(_ message: String) -> RuntimeError { RuntimeError(.buildFailed, message) }
    public static func notFound(_ message: String) -> RuntimeError { RuntimeError(.notFound, message) }
}
