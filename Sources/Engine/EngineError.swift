import SlipwayProtocol
import BuildRuntime

/// A domain error, with the reason code the protocol reports (`error.data.reason`) and a
/// message that says what was wrong and what to do.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// The reasons of the protocol's error table.
    public enum Reason: String, Sendable {
        case invalidParams = "InvalidParams"
        case notFound = "NotFound"
        case alreadyExists = "AlreadyExists"
        case failedPrecondition = "FailedPrecondition"
        case conflict = "Conflict"
        case quotaExceeded = "QuotaExceeded"
        case unavailable = "Unavailable"
        case permissionDenied = "PermissionDenied"
        case `internal` = "Internal"
    }

    public let reason: Reason
    public let message: String
    /// The param the error is about (`data.field`).
    public let field: String?
    /// Further details for `error.data` (for example the kind and name of a missing object).
    public let details: [String: String]
    /// Numbers for `error.data` (a quota's limit and usage).
    public let counts: [String: Int64]

    public init(_ reason: Reason, _ message: String, field: String? = nil, details: [String: String] = [:], counts: [String: Int64] = [:]) {
        self.reason = reason
        self.message = message
        self.field = field
        self.details = details
        self.counts = counts
    }

    /// Over a namespace's quota of `resource`: nothing was changed.
    public static func quotaExceeded(_ resource: Quota.Resource, namespace: String, limit: Int64, used: Int64, toFree: String) -> EngineError {
        EngineError(.quotaExceeded, "namespace '\(namespace)' is at its quota of \(resource.rawValue) (\(used) used of \(limit)); \(toFree), or raise the quota (--quota \(resource.rawValue)=N)",
                    details: ["resource": resource.rawValue, "namespace": namespace], counts: ["limit": limit, "used": used])
    }

    public var description: String { message }

    /// A document in the state database that does not decode: the database is damaged (or was
    /// written by a newer Slipway). Internal, and says what it is: never taken for a missing object.
    static func unreadableDocument(_ what: String, _ cause: DecodingError) -> EngineError {
        let said: String
        switch cause {
        case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            said = c.debugDescription + (path.isEmpty ? "" : " at \(path)")
        @unknown default:
            said = "\(cause)"
        }
        return EngineError(.internal, "the stored \(what) cannot be read (\(said)): the state database is damaged; restore state.db from a backup, or delete the object and create it again",
                           details: ["object": what])
    }

    public static func invalid(_ message: String, field: String) -> EngineError { EngineError(.invalidParams, message, field: field) }
    public static func `internal`(_ message: String) -> EngineError { EngineError(.internal, message) }

    public static func notFound(_ kind: String, _ name: String, namespace: String? = nil, hint: String) -> EngineError {
        let where_ = namespace.map { " in namespace '\($0)'" } ?? ""
        var details = ["kind": kind, "name": name]
        if let namespace { details["namespace"] = namespace }
        return EngineError(.notFound, "\(kind) '\(name)' not found\(where_); \(hint)", details: details)
    }

    public static func alreadyExists(_ kind: String, _ name: String, namespace: String? = nil) -> EngineError {
        let where_ = namespace.map { " in namespace '\($0)'" } ?? ""
        return EngineError(.alreadyExists, "\(kind) '\(name)' already exists\(where_); patch it, or delete it first", details: ["kind": kind, "name": name])
    }

    /// The engine's view of a runtime failure outside a build.
    public init(_ error: RuntimeError) {
        switch error.kind {
        case .invalidInput: self.init(.invalidParams, error.message, field: error.field)
        case .notFound: self.init(.notFound, error.message, field: error.field)
        case .unavailable: self.init(.unavailable, error.message)
        case .permissionDenied: self.init(.permissionDenied, error.message)
        case .buildFailed, .io: self.init(.internal, error.message)
        }
    }
}
