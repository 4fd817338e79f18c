import Foundation

/// One JSON-RPC method of the protocol: its name, its params, its result, how it is ordered and
/// how it is documented. The server registers handlers by these types, clients call by them,
/// and `spec/openrpc.json` is generated from them (as sourcekit-lsp's `RequestType`s tie a
/// method to its params and response).
public protocol RPCMethod: Sendable {
    associatedtype Params: WireParams
    associatedtype Result: WireSchema & Codable & Sendable
    /// The method name on the wire.
    static var method: String { get }
    /// Whether later requests of the connection that touch the same objects wait for it.
    static var access: MethodAccess { get }
    /// The objects a request touches, as `kind/namespace/name` keys (`ObjectKey`), for ordering;
    /// nil when it may touch any object.
    static func orderingKeys(_ params: Params) -> [String]?
    /// One line for the OpenRPC document.
    static var summary: String { get }
    /// The errors (beyond the generic ones) the method answers with.
    static var errors: [ErrorKind] { get }
    /// The params as documented; by default those of `Params`.
    static var params: [ParamDescriptor] { get }
}

extension RPCMethod {
    public static func orderingKeys(_ params: Params) -> [String]? { nil }
    public static var params: [ParamDescriptor] { Params.paramDescriptors }
    /// The result's schema (reachable from `any RPCMethod.Type`).
    public static var resultSchema: JSONSchema { Result.schema }
}

/// A notification the server or the client sends: its name and its params.
public protocol RPCNotification: Sendable {
    associatedtype Params: Codable & Sendable
    /// The method name on the wire.
    static var method: String { get }
}

/// How a request is ordered against the other requests of its connection: a `write` is waited
/// for by later requests that share an ordering key with it, a `read` by none.
public enum MethodAccess: Sendable {
    case read
    case write
}

/// The errors of the protocol by name, as `components/errors` of the OpenRPC document lists
/// them (codes and meanings are in `spec/protocol.md`).
public enum ErrorKind: String, Sendable, CaseIterable {
    case InvalidRequest, InvalidParams, RequestCancelled, NotFound, AlreadyExists, FailedPrecondition, Conflict, QuotaExceeded, Unavailable, PermissionDenied

    /// The JSON-RPC error code.
    public var code: Int {
        switch self {
        case .InvalidRequest: -32600
        case .InvalidParams: -32602
        case .RequestCancelled: -32800
        case .NotFound: 1001
        case .AlreadyExists: 1002
        case .FailedPrecondition: 1003
        case .Conflict: 1004
        case .QuotaExceeded: 1005
        case .Unavailable: 1006
        case .PermissionDenied: 1007
        }
    }

    /// What the error means, as the document says it.
    public var meaning: String {
        switch self {
        case .InvalidRequest: "Invalid Request"
        case .InvalidParams: "A param is missing, of the wrong type, or invalid; data.field names it."
        case .RequestCancelled: "Request cancelled by $/cancelRequest"
        case .NotFound: "The named object does not exist."
        case .AlreadyExists: "An object with that name exists."
        case .FailedPrecondition: "The object is not in a state that allows this."
        case .Conflict: "Concurrent modification."
        case .QuotaExceeded: "A namespace's quota was reached; data.resource (images, buildruns, storage), data.limit and data.used say which; nothing was changed."
        case .Unavailable: "A dependency (registry, git remote, sandbox tool) cannot be reached or is missing."
        case .PermissionDenied: "Credentials refused, or a path outside what the server may read."
        }
    }
}

/// A JSON Schema, as JSON text: written beside the type it describes and read only by the
/// OpenRPC generator (which checks that it parses), so the document has one source.
public struct JSONSchema: Sendable, ExpressibleByStringInterpolation {
    public let json: String
    public init(stringLiteral json: String) { self.json = json }
    /// A schema with parts of other schemas in it (`\#(part)` in a raw literal).
    public init(stringInterpolation: DefaultStringInterpolation) { json = String(stringInterpolation: stringInterpolation) }
    public init(json: String) { self.json = json }

    /// A reference to a schema of `components/schemas`.
    public static func ref(_ component: String) -> JSONSchema { JSONSchema(json: ##"{"$ref": "#/components/schemas/\##(component)"}"##) }
}

extension DefaultStringInterpolation {
    /// A schema inside another.
    mutating func appendInterpolation(_ schema: JSONSchema) { appendLiteral(schema.json) }
}

/// One param of a method, as the OpenRPC document describes it.
public struct ParamDescriptor: Sendable {
    public var name: String
    public var schema: JSONSchema
    public var required: Bool
    public var description: String?

    public init(_ name: String, _ schema: JSONSchema, required: Bool = false, _ description: String? = nil) {
        self.name = name
        self.schema = schema
        self.required = required
        self.description = description
    }

    /// The same param, required or not.
    public func required(_ yes: Bool) -> ParamDescriptor { var p = self; p.required = yes; return p }
}

/// Params of a method, with the list of params the OpenRPC document gives for them.
public protocol WireParams: Codable, Sendable {
    static var paramDescriptors: [ParamDescriptor] { get }
}

/// A result (or a part of one) whose JSON Schema is known.
public protocol WireSchema {
    static var schema: JSONSchema { get }
}

/// A wire type with a schema of its own in `components/schemas`, referred to by name.
public protocol NamedSchema: WireSchema {
    static var schemaName: String { get }
    static var definition: JSONSchema { get }
}

extension NamedSchema {
    public static var schema: JSONSchema { .ref(schemaName) }
}

/// Params of a method that takes none; any object is accepted.
public struct EmptyParams: WireParams {
    public init() {}
    public static let paramDescriptors: [ParamDescriptor] = []
}

/// The result of a method that answers `"result": null`.
public struct NullResult: Codable, Sendable, WireSchema {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encodeNil()
    }
    public static let schema: JSONSchema = ##"{"type": "null"}"##
}

/// Any JSON value: what a client says of itself in `initialize`, the document `rpc.discover`
/// answers with.
public indirect enum AnyJSON: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([AnyJSON])
    case object([String: AnyJSON])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }  // not a bool: the next type is tried
        else if let i = try? c.decode(Int64.self) { self = .int(i) }  // not an integer: the next type is tried
        else if let d = try? c.decode(Double.self) { self = .double(d) }  // not a number: the next type is tried
        else if let s = try? c.decode(String.self) { self = .string(s) }  // not a string: the next type is tried
        else if let a = try? c.decode([AnyJSON].self) { self = .array(a) }  // not an array: an object is the last kind
        else { self = .object(try c.decode([String: AnyJSON].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// The keys requests are ordered by (see `RPCMethod.orderingKeys`): the object a request is
/// about, and those it refers to (an image's builder and the namespace's secrets, a builder's
/// stack and store). A key ending in `*` covers every key it is a prefix of.
public enum ObjectKey {
    public static func stack(_ name: String) -> String { "stack/\(name)" }
    public static func store(_ name: String) -> String { "store/\(name)" }
    /// A Builder in `namespace`, or a ClusterBuilder (no namespace).
    public static func builder(_ namespace: String?, _ name: String) -> String { "builder/\(namespace ?? "cluster")/\(name)" }
    public static func image(_ namespace: String, _ name: String) -> String { "image/\(namespace)/\(name)" }
    /// Every image of every namespace: what a change that queues their builds (a stack's new
    /// run image, a builder's new buildpacks) touches, so a later request of the pipeline about
    /// an image (the logs of its rebase, say) comes after it.
    public static let everyImage = "image/*"
    public static func secret(_ namespace: String, _ name: String) -> String { "secret/\(namespace)/\(name)" }
    public static func buildRun(_ namespace: String, _ name: String) -> String { "buildrun/\(namespace)/\(name)" }
    /// Every secret of a namespace: images use them to fetch sources and push, stacks and
    /// stores (cluster-wide) those of `default` to pull.
    public static func secrets(_ namespace: String) -> String { secret(namespace, "*") }
    /// The builder a reference names, in `namespace` when it is a Builder; the default
    /// ClusterBuilder when there is none.
    public static func builder(_ ref: BuilderReference?, in namespace: String) -> String {
        guard let ref else { return builder(nil, "default") }
        return builder(ref.kind == .Builder ? namespace : nil, ref.name)
    }
}

extension AnyJSON: WireSchema {
    public static let schema: JSONSchema = ##"{"$ref": "https://raw.githubusercontent.com/open-rpc/meta-schema/master/schema.json"}"##
}

extension ParamDescriptor {
    /// The name of the object a method is about.
    public static let name = ParamDescriptor("name", .ref("Name"), required: true)
    /// The namespace of a namespaced object.
    public static let namespace = ParamDescriptor("namespace", .ref("Name"), #"Defaults to "default"."#)
    /// The builder image a builder is made from.
    public static let builderImage = ParamDescriptor(
        "image", ##"{"type": "string"}"##,
        "A CNB builder image (host/repository:tag, or oci:DIR[:TAG]) whose stack, buildpacks and order the builder takes as they are, instead of stack, store and order.")
    /// Where a builder is published.
    public static let builderTag = ParamDescriptor(
        "tag", ##"{"type": "string"}"##,
        "Where the builder is published as a CNB builder image, as kp's --tag (host/repository:tag, or oci:DIR[:TAG]); builds then name it REF@sha256:….")
    /// The page size of a list.
    public static let limit = ParamDescriptor("limit", ##"{"type": "integer", "minimum": 1}"##, "At most this many items (default 500).")
    /// Where a list's previous page ended.
    public static let pageContinue = ParamDescriptor(
        "continue", ##"{"type": "string"}"##, "The `continue` of the previous page: the page after it. Opaque; stays valid while objects are added.")
}
