/// Decodes a `Decodable` type straight from a `JSONValue`, so params are parsed once and a
/// decoding failure carries the coding path of the offending field.
public struct JSONValueDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: [], usage: nil))
    }

    /// Decodes like `decode`, then refuses a field the type never asked for (a typo such as
    /// `buildTimout` would otherwise be ignored). Objects the type reads as a whole (a
    /// `JSONValue`, a dictionary) may hold anything; `ignoring` names top-level fields that
    /// are always allowed.
    public func decodeStrictly<T: Decodable>(_ type: T.Type, from value: JSONValue, ignoring: Set<String> = []) throws -> T {
        let usage = KeyUsage()
        let result: T
        do {
            result = try T(from: ValueDecoder(value: value, codingPath: [], usage: usage))
        } catch DecodingError.keyNotFound(let key, let context) {
            // A required field is missing: if a field beside it is a near spelling of it, that
            // misspelt field is the mistake to name.
            let object = pathString(Array(context.codingPath.dropLast()))
            if let typo = usage.unknownNear(key.stringValue, in: object) { throw typo }
            throw DecodingError.keyNotFound(key, context)
        }
        if let unknown = usage.firstUnknown(ignoringAtTop: ignoring) { throw unknown }
        return result
    }
}

/// A field in a decoded object that its type does not have: where it is, and the fields the
/// type knows there.
public struct UnknownFieldError: Error, Sendable, Equatable {
    /// Dotted path of the field (`source.local.pathh`).
    public let field: String
    public let known: [String]
}

/// Which keys of each decoded object the type asked for, by the object's coding path.
///
/// Not Sendable: one decode uses it, on one thread, from start to end.
final class KeyUsage {
    private var objects: [String: (keys: [String], asked: Set<String>)] = [:]
    private var order: [String] = []

    func opened(_ path: String, keys: [String]) {
        if objects[path] == nil { order.append(path) }
        objects[path] = (keys, objects[path]?.asked ?? [])
    }

    func asked(_ path: String, _ key: String) { objects[path]?.asked.insert(key) }
    func askedAll(_ path: String) { if let o = objects[path] { objects[path]?.asked.formUnion(o.keys) } }

    /// A key of the object at `path`, not asked for, within two edits of `wanted`.
    func unknownNear(_ wanted: String, in path: String) -> UnknownFieldError? {
        guard let o = objects[path] else { return nil }
        for key in o.keys where !o.asked.contains(key) && editDistance(key, wanted) <= 2 {
            return UnknownFieldError(field: path.isEmpty ? key : path + "." + key, known: o.asked.sorted())
        }
        return nil
    }

    private func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8.prefix(64)), b = Array(b.utf8.prefix(64))
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = old
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    func firstUnknown(ignoringAtTop ignored: Set<String>) -> UnknownFieldError? {
        for path in order {
            guard let o = objects[path] else { continue }
            for key in o.keys where !o.asked.contains(key) && !(path.isEmpty && ignored.contains(key)) {
                return UnknownFieldError(field: path.isEmpty ? key : path + "." + key, known: o.asked.sorted())
            }
        }
        return nil
    }
}

/// The dotted form of a coding path (`order[0].group[1].id`).
/// Built by appending (every decoded object asks for its path, the top level's included, so
/// this runs once per object of every request's params).
func pathString(_ keys: [CodingKey]) -> String {
    var path = ""
    for key in keys {
        if let index = key.intValue {
            path += "[\(index)]"
        } else {
            if !path.isEmpty { path += "." }
            path += key.stringValue
        }
    }
    return path
}

/// Encodes an `Encodable` value into a `JSONValue`, keeping the order in which fields are encoded.
public struct JSONValueEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let v = value as? JSONValue { return v }
        let root = EncodingNode()
        try value.encode(to: ValueEncoder(node: root, codingPath: []))
        return root.value
    }
}

// MARK: - Decoding

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    let usage: KeyUsage?
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let obj) = value else {
            throw DecodingError.typeMismatch(
                [String: JSONValue].self,
                .init(codingPath: codingPath, debugDescription: "expected an object, got \(value.typeName)"))
        }
        let path = pathString(codingPath)
        usage?.opened(path, keys: obj.keys)
        return KeyedDecodingContainer(KeyedContainer<Key>(object: obj, codingPath: codingPath, path: path, usage: usage))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = value else {
            throw DecodingError.typeMismatch(
                [JSONValue].self, .init(codingPath: codingPath, debugDescription: "expected an array, got \(value.typeName)"))
        }
        return UnkeyedContainer(items: items, codingPath: codingPath, usage: usage)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleContainer(value: value, codingPath: codingPath, usage: usage) }
}

private func mismatch<T>(_ type: T.Type, _ value: JSONValue, _ path: [CodingKey], _ expected: String) -> DecodingError {
    DecodingError.typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(expected), got \(value.typeName)"))
}

private func decodeScalar<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ path: [CodingKey], _ usage: KeyUsage?) throws -> T {
    switch type {
    case is String.Type:
        guard case .string(let s) = value else { throw mismatch(type, value, path, "a string") }
        return s as! T
    case is Bool.Type:
        guard case .bool(let b) = value else { throw mismatch(type, value, path, "a boolean") }
        return b as! T
    case is Int.Type:
        guard let i = value.int64Value, let r = Int(exactly: i) else { throw mismatch(type, value, path, "an integer") }
        return r as! T
    case is Int64.Type:
        guard let i = value.int64Value else { throw mismatch(type, value, path, "an integer") }
        return i as! T
    case is Int32.Type:
        guard let i = value.int64Value, let r = Int32(exactly: i) else { throw mismatch(type, value, path, "a 32-bit integer") }
        return r as! T
    case is UInt64.Type:
        guard let i = value.int64Value, let r = UInt64(exactly: i) else { throw mismatch(type, value, path, "a non-negative integer") }
        return r as! T
    case is UInt32.Type:
        guard let i = value.int64Value, let r = UInt32(exactly: i) else { throw mismatch(type, value, path, "a non-negative integer") }
        return r as! T
    case is Double.Type:
        if let d = value.doubleValue { return d as! T }
        throw mismatch(type, value, path, value.typeName == "number" ? "a number within a double's range" : "a number")
    case is JSONValue.Type:
        return value as! T
    default:
        return try T(from: ValueDecoder(value: value, codingPath: path, usage: usage))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let codingPath: [CodingKey]
    let path: String
    let usage: KeyUsage?

    var allKeys: [Key] {
        usage?.askedAll(path)
        return object.keys.compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool {
        usage?.asked(path, key.stringValue)
        return object[key.stringValue] != nil
    }

    private func value(for key: Key) throws -> JSONValue {
        usage?.asked(path, key.stringValue)
        guard let v = object[key.stringValue] else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath + [key], debugDescription: "missing required field '\(key.stringValue)'"))
        }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        usage?.asked(path, key.stringValue)
        guard let v = object[key.stringValue] else { return true }
        return v == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decodeScalar(type, try value(for: key), codingPath + [key], usage)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        usage?.asked(path, key.stringValue)
        guard let v = object[key.stringValue], v != .null || type == JSONValue.self else { return nil }
        return try decodeScalar(type, v, codingPath + [key], usage)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try ValueDecoder(value: try value(for: key), codingPath: codingPath + [key], usage: usage).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try ValueDecoder(value: try value(for: key), codingPath: codingPath + [key], usage: usage).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { ValueDecoder(value: .object(object), codingPath: codingPath, usage: usage) }
    func superDecoder(forKey key: Key) throws -> Decoder {
        usage?.asked(path, key.stringValue)
        return ValueDecoder(value: object[key.stringValue] ?? .null, codingPath: codingPath + [key], usage: usage)
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [CodingKey]
    let usage: KeyUsage?
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [CodingKey], usage: KeyUsage?) {
        self.items = items
        self.codingPath = codingPath
        self.usage = usage
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> (JSONValue, [CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                JSONValue.self, .init(codingPath: codingPath, debugDescription: "array has too few elements"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [AnyKey(intValue: currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        if !isAtEnd, items[currentIndex] == .null { currentIndex += 1; return true }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (v, path) = try next()
        return try decodeScalar(type, v, path, usage)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (v, path) = try next()
        return try ValueDecoder(value: v, codingPath: path, usage: usage).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let (v, path) = try next()
        return try ValueDecoder(value: v, codingPath: path, usage: usage).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let (v, path) = try next()
        return ValueDecoder(value: v, codingPath: path, usage: usage)
    }
}

private struct SingleContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [CodingKey]
    let usage: KeyUsage?
    func decodeNil() -> Bool { value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeScalar(type, value, codingPath, usage) }
}

// MARK: - Encoding

/// A mutable tree the encoder's containers write into; nested containers hold references to
/// their child nodes, so the finished value is read once at the end. Children live in plain
/// arrays (not in an enum payload) so appending never copies them.
private final class EncodingNode {
    enum Kind { case empty, scalar, object, array }
    var kind: Kind = .empty
    var scalar: JSONValue = .null
    var members: [(String, EncodingNode)] = []
    var elements: [EncodingNode] = []

    var value: JSONValue {
        switch kind {
        case .empty: return .object(JSONObject())
        case .scalar: return scalar
        case .object:
            var o = JSONObject()
            for (k, n) in members { o[k] = n.value }
            return .object(o)
        case .array: return .array(elements.map(\.value))
        }
    }

    func setScalar(_ v: JSONValue) {
        kind = .scalar
        scalar = v
    }

    func child(forKey key: String) -> EncodingNode {
        let n = EncodingNode()
        if kind != .object { kind = .object; members = [] }
        members.append((key, n))
        return n
    }

    func appendChild() -> EncodingNode {
        let n = EncodingNode()
        if kind != .array { kind = .array; elements = [] }
        elements.append(n)
        return n
    }
}

private func encodeScalar<T: Encodable>(_ value: T, into node: EncodingNode, path: @autoclosure () -> [CodingKey]) throws {
    switch value {
    case let s as String: node.setScalar(.string(s))
    case let b as Bool: node.setScalar(.bool(b))
    case let i as Int: node.setScalar(.int(Int64(i)))
    case let i as Int64: node.setScalar(.int(i))
    case let i as Int32: node.setScalar(.int(Int64(i)))
    case let i as UInt32: node.setScalar(.int(Int64(i)))
    case let i as UInt64: node.setScalar(.int(Int64(clamping: i)))
    case let d as Double: node.setScalar(.double(d))
    case let v as JSONValue: node.setScalar(v)
    default: try value.encode(to: ValueEncoder(node: node, codingPath: path()))
    }
}

private struct ValueEncoder: Encoder {
    let node: EncodingNode
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.kind != .object { node.kind = .object; node.members = [] }
        return KeyedEncodingContainer(KeyedEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if node.kind != .array { node.kind = .array; node.elements = [] }
        return UnkeyedEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { SingleEncoder(node: node, codingPath: codingPath) }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    let codingPath: [CodingKey]

    func encodeNil(forKey key: Key) throws { node.child(forKey: key.stringValue).setScalar(.null) }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeScalar(value, into: node.child(forKey: key.stringValue), path: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        ValueEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superEncoder() -> Encoder { ValueEncoder(node: node.child(forKey: "super"), codingPath: codingPath) }
    func superEncoder(forKey key: Key) -> Encoder {
        ValueEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let node: EncodingNode
    let codingPath: [CodingKey]
    var count: Int { node.elements.count }

    func encodeNil() throws { node.appendChild().setScalar(.null) }

    func encode<T: Encodable>(_ value: T) throws {
        try encodeScalar(value, into: node.appendChild(), path: codingPath + [AnyKey(intValue: count)])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(node: node.appendChild(), codingPath: codingPath).container(keyedBy: keyType)
    }

    func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        ValueEncoder(node: node.appendChild(), codingPath: codingPath).unkeyedContainer()
    }

    func superEncoder() -> Encoder { ValueEncoder(node: node.appendChild(), codingPath: codingPath) }
}

private struct SingleEncoder: SingleValueEncodingContainer {
    let node: EncodingNode
    let codingPath: [CodingKey]
    func encodeNil() throws { node.setScalar(.null) }
    func encode<T: Encodable>(_ value: T) throws { try encodeScalar(value, into: node, path: codingPath) }
}

extension JSONValue: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }  // not this type: try the next
        if let i = try? c.decode(Int64.self) { self = .int(i); return }  // not this type: try the next
        if let d = try? c.decode(Double.self) { self = .double(d); return }  // not this type: try the next
        if let s = try? c.decode(String.self) { self = .string(s); return }  // not this type: try the next
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }  // not this type: try the next
        let o = try c.decode([String: JSONValue].self)
        self = .object(JSONObject(o.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .number: try c.encode(doubleValue ?? 0)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o):
            var d: [String: JSONValue] = [:]
            for m in o.members { d[m.key] = m.value }
            try c.encode(d)
        }
    }
}
