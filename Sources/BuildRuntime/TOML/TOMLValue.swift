/// A TOML 1.0 value. Buildpacks speak TOML (`buildpack.toml`, `launch.toml`, `<layer>.toml`,
/// build plans), and the project reads and writes it itself rather than take a package.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    /// Offset/local date-times, dates and times, kept in their RFC 3339 text form.
    case datetime(String)
    case array([TOMLValue])
    case table(TOMLTable)

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .boolean(let b) = self { return b }; return nil }
    public var integer: Int64? { if case .integer(let i) = self { return i }; return nil }
    public var array: [TOMLValue]? { if case .array(let a) = self { return a }; return nil }
    public var table: TOMLTable? { if case .table(let t) = self { return t }; return nil }
    /// An array of tables (`[[x]]`), or nil.
    public var tables: [TOMLTable]? { array?.compactMap(\.table) }

    public subscript(key: String) -> TOMLValue? { table?[key] }
}

/// A TOML table keeping keys in the order they were defined.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public init(_ pairs: [(String, TOMLValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public subscript(key: String) -> TOMLValue? {
        get { values[key] }
        set {
            if let newValue {
                if values[key] == nil { keys.append(key) }
                values[key] = newValue
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var isEmpty: Bool { keys.isEmpty }
    public var entries: [(key: String, value: TOMLValue)] { keys.map { ($0, values[$0]!) } }

    public static func == (a: TOMLTable, b: TOMLTable) -> Bool { a.values == b.values }

    /// A path of nested tables (`a.b.c`); nil if any step is missing or not a table.
    public func table(at path: [String]) -> TOMLTable? {
        var t = self
        for p in path {
            guard let next = t[p]?.table else { return nil }
            t = next
        }
        return t
    }
}
