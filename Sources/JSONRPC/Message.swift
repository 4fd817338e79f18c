/// A request id, kept with its JSON type so that the reply echoes it exactly
/// (`1` stays `1`, `"1"` stays `"1"`).
public enum RequestID: Hashable, Sendable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    /// A number that is not an Int64, kept as the text it was sent as.
    case number(String)
    case string(String)
    case null

    init?(_ value: JSONValue) {
        switch value {
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .number(let t): self = .number(t)
        case .string(let s): self = .string(s)
        case .null: self = .null
        default: return nil
        }
    }

    public var json: JSONValue {
        switch self {
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .number(let t): return .number(t)
        case .string(let s): return .string(s)
        case .null: return .null
        }
    }

    public var description: String { JSONWriter.string(json) }
}

/// A JSON-RPC error object. Thrown by handlers to answer with exactly this error.
public struct ResponseError: Error, Sendable, Equatable {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public static let parseErrorCode = -32700
    public static let invalidRequestCode = -32600
    public static let methodNotFoundCode = -32601
    public static let invalidParamsCode = -32602
    public static let internalErrorCode = -32603
    public static let requestCancelledCode = -32800

    public static func parseError(_ message: String) -> ResponseError {
        ResponseError(code: parseErrorCode, message: "Parse error: \(message)", data: ["reason": "ParseError"])
    }
    public static func invalidRequest(_ message: String) -> ResponseError {
        ResponseError(code: invalidRequestCode, message: "Invalid Request: \(message)", data: ["reason": "InvalidRequest"])
    }
    public static func methodNotFound(_ method: String) -> ResponseError {
        let method = method.utf8.count > 256 ? String(method.prefix(256)) + "…" : method
        return ResponseError(
            code: methodNotFoundCode,
            message: "Method not found: '\(method)'. Call rpc.discover or see initialize's capabilities.methods for the list.",
            data: ["reason": "MethodNotFound", "method": .string(method)])
    }
    public static func invalidParams(_ message: String, field: String? = nil) -> ResponseError {
        var data = JSONObject([("reason", .string("InvalidParams"))])
        if let field { data["field"] = .string(field) }
        return ResponseError(code: invalidParamsCode, message: message, data: .object(data))
    }
    public static func internalError(_ message: String) -> ResponseError {
        ResponseError(code: internalErrorCode, message: "Internal error: \(message)", data: ["reason": "Internal"])
    }
    public static let cancelled = ResponseError(
        code: requestCancelledCode, message: "Request cancelled by $/cancelRequest", data: ["reason": "RequestCancelled"])

    var json: JSONValue {
        var o = JSONObject()
        o.appendUnique("code", .int(Int64(code)))
        o.appendUnique("message", .string(message))
        if let data { o.appendUnique("data", data) }
        return .object(o)
    }
}

/// One incoming JSON-RPC message after validation of its envelope.
public enum IncomingMessage: Sendable {
    case request(id: RequestID, method: String, params: JSONValue?)
    case notification(method: String, params: JSONValue?)
    /// A reply from the client to a request we sent; we send none that expect one, so it is ignored.
    case response
    /// Not a valid request: answered with this error and the id, if one could be read.
    case invalid(id: RequestID?, error: ResponseError)

    /// Classifies one element of a message (never a batch array).
    public init(_ value: JSONValue) {
        guard case .object(let o) = value else {
            self = .invalid(id: nil, error: .invalidRequest("a message must be a JSON object, got \(value.typeName)"))
            return
        }
        var id: RequestID?
        if let rawID = o["id"] {
            guard let parsed = RequestID(rawID) else {
                self = .invalid(id: nil, error: .invalidRequest("'id' must be a string, a number or null, got \(rawID.typeName)"))
                return
            }
            id = parsed
        }
        guard o["jsonrpc"] == .string("2.0") else {
            self = .invalid(id: id, error: .invalidRequest("'jsonrpc' must be exactly \"2.0\""))
            return
        }
        guard let methodValue = o["method"] else {
            if o["result"] != nil || o["error"] != nil {
                self = .response
            } else {
                self = .invalid(id: id, error: .invalidRequest("the message has no 'method'"))
            }
            return
        }
        guard case .string(let method) = methodValue else {
            self = .invalid(id: id, error: .invalidRequest("'method' must be a string, got \(methodValue.typeName)"))
            return
        }
        let params = o["params"]
        if let params {
            switch params {
            case .object, .array: break
            default:
                self = .invalid(id: id, error: .invalidRequest("'params' must be an object or an array, got \(params.typeName)"))
                return
            }
        }
        if let id {
            self = .request(id: id, method: method, params: params)
        } else {
            self = .notification(method: method, params: params)
        }
    }
}

/// Builders for the outgoing envelopes.
/// A result serialised once and sent as it is, to every client that asks for it: for a handler
/// that keeps its answers (`MethodRegistry.registerEncoded`). Made only from a `JSONValue`, so
/// its bytes are always valid JSON, written as `JSONWriter` writes.
public struct EncodedJSON: Sendable {
    public let bytes: [UInt8]
    public init(_ value: JSONValue) { bytes = JSONWriter.write(value) }
}

public enum OutgoingMessage {
    /// A success response whose result is already serialised: the same bytes `JSONWriter` writes
    /// for `response(id:result:)`, without serialising the result again.
    static func response(id: RequestID, encodedResult: EncodedJSON) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedResult.bytes.count + 48)
        appendResponse(id: id, encodedResult: encodedResult, to: &out)
        return out
    }

    /// Appends the bytes of `response(id:encodedResult:)` to `out`.
    static func appendResponse(id: RequestID, encodedResult: EncodedJSON, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        JSONWriter.write(id.json, into: &out)
        out.append(contentsOf: #","result":"#.utf8)
        out.append(contentsOf: encodedResult.bytes)
        out.append(UInt8(ascii: "}"))
    }

    public static func response(id: RequestID?, result: Result<JSONValue, ResponseError>) -> JSONValue {
        var o = JSONObject()
        o.appendUnique("jsonrpc", "2.0")
        o.appendUnique("id", id?.json ?? .null)
        switch result {
        case .success(let v): o.appendUnique("result", v)
        case .failure(let e): o.appendUnique("error", e.json)
        }
        return .object(o)
    }

    public static func notification(method: String, params: JSONValue?) -> JSONValue {
        var o = JSONObject()
        o.appendUnique("jsonrpc", "2.0")
        o.appendUnique("method", .string(method))
        if let params { o.appendUnique("params", params) }
        return .object(o)
    }
}
