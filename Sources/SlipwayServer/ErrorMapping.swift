import SlipwayProtocol
import BuildRuntime
import Engine
import JSONRPC

/// The one place where typed errors become JSON-RPC errors, with the brief's code table:
/// InvalidParams -32602, NotFound 1001, AlreadyExists 1002, FailedPrecondition 1003,
/// Conflict 1004, QuotaExceeded 1005, Unavailable 1006, PermissionDenied 1007.
public enum ErrorMapping {
    public static func code(for reason: EngineError.Reason) -> Int {
        switch reason {
        case .invalidParams: return ResponseError.invalidParamsCode
        case .notFound: return 1001
        case .alreadyExists: return 1002
        case .failedPrecondition: return 1003
        case .conflict: return 1004
        case .quotaExceeded: return 1005
        case .unavailable: return 1006
        case .permissionDenied: return 1007
        case .internal: return ResponseError.internalErrorCode
        }
    }

    /// Longest message sent; each value in `data` is cut at 256 bytes. Messages quote what the
    /// client sent, cut where they quote it; this is the net under all of them.
    static let maxMessageBytes = 2048

    public static func map(_ error: Error) -> ResponseError {
        switch error {
        case let e as EngineError:
            var data = JSONObject([("reason", .string(e.reason.rawValue))])
            if let f = e.field { data["field"] = .string(PathSyntax.shortened(f)) }
            for (k, v) in e.details.sorted(by: { $0.key < $1.key }) where data[k] == nil { data[k] = .string(PathSyntax.shortened(v)) }
            for (k, v) in e.counts.sorted(by: { $0.key < $1.key }) where data[k] == nil { data[k] = .int(v) }
            return ResponseError(code: code(for: e.reason), message: PathSyntax.shortened(e.message, limit: maxMessageBytes), data: .object(data))
        case let e as RuntimeError:
            return map(EngineError(e))
        default:
            return .internalError(PathSyntax.shortened(String(describing: error), limit: maxMessageBytes))
        }
    }
}
