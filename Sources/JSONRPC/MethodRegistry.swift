/// How a request is ordered against the other requests of its connection.
///
/// Requests run concurrently, but a pipeline must see its own writes: a request starts only
/// after every earlier `.write` of its connection that shares an ordering key with it has
/// finished. A `.read` is never waited for, so a long read (waiting for a build) holds up
/// nothing; a write on one object holds up nothing that touches other objects.
public enum MethodOrdering: Sendable {
    case read
    case write
}

/// The objects a request touches, for ordering: opaque keys the layer above derives from the
/// params (an object's kind, namespace and name, and those of the objects it refers to). Two
/// key sets overlap when they share a key, or when a key ending in `*` is a prefix of a key of
/// the other (`image/default/*` covers `image/default/app`); `*` alone overlaps everything.
public struct OrderingKeys: Sendable, Equatable, ExpressibleByArrayLiteral {
    public let keys: [String]

    public init(_ keys: [String]) { self.keys = keys }
    public init(arrayLiteral keys: String...) { self.keys = keys }

    /// Overlaps every request: the safe default for a method that names no keys.
    public static let all: OrderingKeys = ["*"]
    /// Overlaps nothing.
    public static let none: OrderingKeys = []

    public func overlaps(_ other: OrderingKeys) -> Bool {
        keys.contains { mine in other.keys.contains { Self.covers(mine, $0) || Self.covers($0, mine) } }
    }

    /// Whether `pattern` (a key, or a prefix ending in `*`) covers `key`.
    static func covers(_ pattern: String, _ key: String) -> Bool {
        guard pattern.hasSuffix("*") else { return pattern == key }
        return key.hasPrefix(pattern.dropLast())
    }
}

/// What a request handler knows about the request it is serving.
public struct RequestContext: Sendable {
    public let id: RequestID
    public let method: String
    public let connection: Connection
    /// The LSP `workDoneToken` from params, when the client wants `$/progress` for this request.
    public let workDoneToken: JSONValue?
}

/// The table of methods a connection serves, with typed params and results. Built once, then
/// shared read-only by every connection.
public struct MethodRegistry: Sendable {
    /// What a handler answers: a value, or a value it keeps serialised.
    enum Answer {
        case value(JSONValue)
        case encoded(EncodedJSON)

        var value: JSONValue {
            switch self {
            case .value(let v): return v
            // Bytes of JSONWriter's: they parse (a batch's answers are collected as values).
            case .encoded(let e): return (try? JSONParser.parse(e.bytes)) ?? .null
            }
        }
    }
    /// A notification handler on raw JSON.
    public typealias RawNotificationHandler = @Sendable (JSONValue?, Connection) async -> Void

    /// Derives a request's ordering keys from its raw params.
    public typealias KeysOf = @Sendable (JSONValue?) -> OrderingKeys

    struct RequestEntry: Sendable {
        let ordering: MethodOrdering
        let keys: KeysOf
        /// Decodes params as the handler does, without running it.
        let decode: @Sendable (JSONValue?) throws -> Void
        let handler: @Sendable (JSONValue?, RequestContext) async throws -> Answer
        /// Answered in the connection's reading loop rather than in a task of its own (see
        /// `registerEncoded`'s `answersInline`).
        var answersInline = false
    }

    private(set) var requests: [String: RequestEntry] = [:]
    private(set) var notifications: [String: RawNotificationHandler] = [:]

    public init() {}

    /// Names of every request method, sorted.
    public var requestMethods: [String] { requests.keys.sorted() }

    /// Registers a request whose params decode into `P` and whose result encodes from `R`.
    /// Absent params decode as `{}`; params given by position are refused; a param `P` does
    /// not have is refused naming it, unless `acceptsUnknownParams` (LSP's `initialize`, whose
    /// clients send fields of their own). LSP's `workDoneToken` and `partialResultToken` are
    /// accepted on every method.
    /// `keys` names what the request touches (see `MethodOrdering`); without it a request
    /// overlaps every other. `maxParamsBytes` caps the params (as JSON) below the message cap.
    public mutating func register<P: Decodable & SendableMetatype, R: Encodable & SendableMetatype>(
        _ method: String, ordering: MethodOrdering, keys: @escaping KeysOf = { _ in .all }, params: P.Type = P.self,
        acceptsUnknownParams: Bool = false, maxParamsBytes: Int? = nil, _ body: @escaping @Sendable (P, RequestContext) async throws -> R
    ) {
        let decode = Self.decoder(method, P.self, acceptsUnknownParams: acceptsUnknownParams, maxParamsBytes: maxParamsBytes)
        requests[method] = RequestEntry(ordering: ordering, keys: keys, decode: { _ = try decode($0) }) { raw, context in
            let p: P = try decode(raw)
            try (p as? ValidatedParams)?.validate()
            let result = try await body(p, context)
            if result is VoidResult { return .value(.null) }
            return .value(try JSONValueEncoder().encode(result))
        }
    }

    /// Registers a request like `register`, whose handler answers with its result serialised
    /// (one it keeps, to send again without encoding it again).
    /// With `answersInline`, a read whose handler answers from memory at once (it never waits
    /// for I/O, a build or another request) is answered in the connection's reading loop: a task
    /// per request would cost more than the answer, and such a request cannot hold up others.
    public mutating func registerEncoded<P: Decodable & SendableMetatype>(
        _ method: String, ordering: MethodOrdering, keys: @escaping KeysOf = { _ in .all }, params: P.Type = P.self,
        answersInline: Bool = false, _ body: @escaping @Sendable (P, RequestContext) async throws -> EncodedJSON
    ) {
        let decode = Self.decoder(method, P.self, acceptsUnknownParams: false, maxParamsBytes: nil)
        var entry = RequestEntry(ordering: ordering, keys: keys, decode: { _ = try decode($0) }) { raw, context in
            let p: P = try decode(raw)
            try (p as? ValidatedParams)?.validate()
            return .encoded(try await body(p, context))
        }
        entry.answersInline = answersInline && ordering == .read
        requests[method] = entry
    }

    /// Decodes a method's params (see `register`).
    private static func decoder<P: Decodable & SendableMetatype>(_ method: String, _: P.Type, acceptsUnknownParams: Bool, maxParamsBytes: Int?)
        -> @Sendable (JSONValue?) throws -> P
    {
        { raw in
            if let cap = maxParamsBytes, let raw {
                let size = JSONWriter.write(raw).count
                guard size <= cap else {
                    throw ResponseError.invalidParams("the params of \(method) are \(size) bytes; at most \(cap) are allowed", field: "params")
                }
            }
            return try JSONRPC.decodeParams(P.self, raw, strict: !acceptsUnknownParams)
        }
    }

    /// Registers a notification the client may send.
    public mutating func registerNotification<P: Decodable & SendableMetatype>(
        _ method: String, params: P.Type = P.self, _ body: @escaping @Sendable (P, Connection) async -> Void
    ) {
        notifications[method] = { raw, connection in
            guard let p = try? JSONRPC.decodeParams(P.self, raw) else { return }  // a notification has no reply to carry the error: JSON-RPC drops it
            await body(p, connection)
        }
    }

    func entry(_ method: String) -> RequestEntry? { requests[method] }

    /// Decodes `params` as `method` would (the same errors), without running it: how a test
    /// compares a method's params type with its published schema.
    public func decodeParams(of method: String, _ params: JSONValue?) throws {
        guard let entry = requests[method] else { throw ResponseError.methodNotFound(method) }
        try entry.decode(params)
    }
}

/// Params that check themselves after decoding (names, ranges); the registry calls `validate`
/// before the handler runs, so a bad value is refused for every method alike.
public protocol ValidatedParams {
    func validate() throws
}

/// Params of a method that takes none; any object is accepted.
public struct NoParams: Codable, Sendable {
    public init() {}
}

/// The result of a method that answers `"result": null`.
public struct VoidResult: Codable, Sendable {
    public init() {}
}

/// Params every method accepts (LSP's progress tokens).
let lspTokens: Set<String> = ["workDoneToken", "partialResultToken"]

/// Decodes by-name params, turning decoding failures into InvalidParams that name the field.
/// An empty array counts as no params: Neovim's client sends `{}` as `[]` (an empty Lua table).
/// With `strict`, a field the type does not have is refused, with the known ones in
/// `error.data.known`.
public func decodeParams<P: Decodable>(_ type: P.Type, _ raw: JSONValue?, strict: Bool = false) throws -> P {
    var value = raw ?? .object(JSONObject())
    if case .array(let items) = value {
        guard items.isEmpty else {
            throw ResponseError.invalidParams("params must be an object with named fields, not an array", field: nil)
        }
        value = .object(JSONObject())
    }
    do {
        if strict { return try JSONValueDecoder().decodeStrictly(P.self, from: value, ignoring: lspTokens) }
        return try JSONValueDecoder().decode(P.self, from: value)
    } catch let error as DecodingError {
        throw ResponseError(decodingError: error)
    } catch let unknown as UnknownFieldError {
        let shown = unknown.field.count > 256 ? String(unknown.field.prefix(256)) + "…" : unknown.field
        throw ResponseError(
            code: ResponseError.invalidParamsCode,
            message: "Unknown param '\(shown)'. Check its spelling; the params known there are: \(unknown.known.joined(separator: ", ")).",
            data: .object(JSONObject([("reason", "InvalidParams"), ("field", .string(shown)), ("known", .array(unknown.known.map(JSONValue.string)))])))
    }
}

extension ResponseError {
    /// InvalidParams for a decoding failure, with the dotted path of the field in `data.field`.
    public init(decodingError error: DecodingError) {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            let field = path(ctx.codingPath.last?.stringValue == key.stringValue ? ctx.codingPath : ctx.codingPath + [key])
            self = .invalidParams("Missing required param '\(field)'. Add it and send the request again.", field: field)
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
            let field = path(ctx.codingPath)
            self = .invalidParams("Param '\(field)' has the wrong type: \(ctx.debugDescription).", field: field)
        case .dataCorrupted(let ctx):
            let field = path(ctx.codingPath)
            self = .invalidParams("Param '\(field)' is invalid: \(ctx.debugDescription).", field: field)
        @unknown default:
            self = .invalidParams("Invalid params: \(error)")
        }
    }
}
