/// Why a TOML document was refused, with the line it went wrong on.
public struct TOMLError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public let line: Int
    public var description: String { "line \(line): \(message)" }
}

/// A TOML 1.0 parser: tables, arrays of tables, dotted and quoted keys, inline tables,
/// all four string forms, integers in four bases, floats, booleans and date-times. Redefining
/// a key or a table is an error, as the spec requires.
public struct TOMLParser {
    private let s: [UInt8]
    private var i = 0
    private var line = 1
    private var root = TOMLTable()
    /// The path of the table that key/value lines currently go into.
    private var current: [PathStep] = []
    /// Tables defined by a `[header]` or by dotted keys, which may not be defined again.
    private var defined: Set<String> = []
    /// Tables that are closed to dotted-key extension (inline tables).
    private var sealed: Set<String> = []

    /// One step of a table path: a key, and for arrays of tables, which element.
    enum PathStep: Equatable { case key(String), element(String, Int) }

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var p = TOMLParser(s: Array(text.utf8))
        try p.parseDocument()
        return p.root
    }

    private init(s: [UInt8]) { self.s = s }

    private func error(_ m: String) -> TOMLError { TOMLError(message: m, line: line) }
    private var atEnd: Bool { i >= s.count }
    private var peek: UInt8 { i < s.count ? s[i] : 0 }

    private mutating func parseDocument() throws(TOMLError) {
        if s.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while true {
            skipWhitespace()
            if atEnd { return }
            switch peek {
            case UInt8(ascii: "#"): try skipComment()
            case 0x0A: i += 1; line += 1
            case 0x0D:
                guard i + 1 < s.count, s[i + 1] == 0x0A else { throw error("bare carriage return") }
                i += 2; line += 1
            case UInt8(ascii: "["):
                try parseTableHeader()
                try endOfLine()
            default:
                let key = try parseKey()
                skipWhitespace()
                guard peek == UInt8(ascii: "=") else { throw error("expected '=' after key") }
                i += 1
                skipWhitespace()
                let value = try parseValue()
                try assign(key, value, base: current)
                try endOfLine()
            }
        }
    }

    private mutating func endOfLine() throws(TOMLError) {
        skipWhitespace()
        if atEnd { return }
        if peek == UInt8(ascii: "#") { try skipComment(); return }
        if peek == 0x0A { i += 1; line += 1; return }
        if peek == 0x0D, i + 1 < s.count, s[i + 1] == 0x0A { i += 2; line += 1; return }
        throw error("expected end of line, found '\(Unicode.Scalar(peek))'")
    }

    private mutating func skipWhitespace() {
        while !atEnd, peek == 0x20 || peek == 0x09 { i += 1 }
    }

    private mutating func skipComment() throws(TOMLError) {
        while !atEnd, peek != 0x0A {
            if peek < 0x20 && peek != 0x09 && !(peek == 0x0D && i + 1 < s.count && s[i + 1] == 0x0A) {
                throw error("control character in comment")
            }
            i += 1
        }
    }

    /// Skips whitespace, newlines and comments (inside arrays).
    private mutating func skipBlank() throws(TOMLError) {
        while !atEnd {
            switch peek {
            case 0x20, 0x09: i += 1
            case 0x0A: i += 1; line += 1
            case 0x0D: i += 1
            case UInt8(ascii: "#"): try skipComment()
            default: return
            }
        }
    }

    // MARK: Keys and tables

    private mutating func parseKey() throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            skipWhitespace()
            if peek == UInt8(ascii: "\"") {
                parts.append(try parseBasicString())
            } else if peek == UInt8(ascii: "'") {
                parts.append(try parseLiteralString())
            } else {
                let start = i
                while !atEnd, isBareKeyChar(peek) { i += 1 }
                guard i > start else { throw error("expected a key") }
                parts.append(String(decoding: s[start..<i], as: UTF8.self))
            }
            skipWhitespace()
            if peek == UInt8(ascii: ".") { i += 1; continue }
            return parts
        }
    }

    private func isBareKeyChar(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    private mutating func parseTableHeader() throws(TOMLError) {
        i += 1
        let isArray = peek == UInt8(ascii: "[")
        if isArray { i += 1 }
        let key = try parseKey()
        guard peek == UInt8(ascii: "]") else { throw error("expected ']'") }
        i += 1
        if isArray {
            guard peek == UInt8(ascii: "]") else { throw error("expected ']]'") }
            i += 1
        }
        // Walk to the parent, creating implicit tables.
        var path: [PathStep] = []
        for (n, k) in key.enumerated() {
            let last = n == key.count - 1
            let existing = lookup(path + [.key(k)])
            if last {
                if isArray {
                    var arr: [TOMLValue]
                    if let existing {
                        guard case .array(let a) = existing, arrayOfTablesPaths.contains(pathString(path + [.key(k)])) else {
                            throw error("'\(key.joined(separator: "."))' is already defined and is not an array of tables")
                        }
                        arr = a
                    } else {
                        arr = []
                        arrayOfTablesPaths.insert(pathString(path + [.key(k)]))
                    }
                    arr.append(.table(TOMLTable()))
                    try set(path + [.key(k)], .array(arr))
                    path.append(.element(k, arr.count - 1))
                } else {
                    let ps = pathString(path + [.key(k)])
                    if let existing {
                        guard case .table = existing, !defined.contains(ps), !sealed.contains(ps) else {
                            throw error("table '\(key.joined(separator: "."))' is defined twice")
                        }
                    } else {
                        try set(path + [.key(k)], .table(TOMLTable()))
                    }
                    defined.insert(ps)
                    path.append(.key(k))
                }
            } else {
                if let existing {
                    switch existing {
                    case .table:
                        if sealed.contains(pathString(path + [.key(k)])) { throw error("cannot extend inline table '\(k)'") }
                        path.append(.key(k))
                    case .array(let a) where arrayOfTablesPaths.contains(pathString(path + [.key(k)])):
                        path.append(.element(k, a.count - 1))
                    default:
                        throw error("'\(k)' is not a table")
                    }
                } else {
                    try set(path + [.key(k)], .table(TOMLTable()))
                    path.append(.key(k))
                }
            }
        }
        current = path
    }

    private var arrayOfTablesPaths: Set<String> = []

    private func pathString(_ path: [PathStep]) -> String {
        path.map { step -> String in
            switch step {
            case .key(let k): return k.count.description + ":" + k
            case .element(let k, let n): return k.count.description + ":" + k + "[\(n)]"
            }
        }.joined(separator: ".")
    }

    private func lookup(_ path: [PathStep]) -> TOMLValue? {
        var value: TOMLValue = .table(root)
        for step in path {
            switch step {
            case .key(let k):
                guard let t = value.table, let v = t[k] else { return nil }
                value = v
            case .element(let k, let n):
                guard let t = value.table, let a = t[k]?.array, n < a.count else { return nil }
                value = a[n]
            }
        }
        return value
    }

    private mutating func set(_ path: [PathStep], _ newValue: TOMLValue) throws(TOMLError) {
        func update(_ table: inout TOMLTable, _ rest: ArraySlice<PathStep>) {
            guard let step = rest.first else { return }
            switch step {
            case .key(let k):
                if rest.count == 1 { table[k] = newValue; return }
                var child = table[k]?.table ?? TOMLTable()
                update(&child, rest.dropFirst())
                table[k] = .table(child)
            case .element(let k, let n):
                var arr = table[k]?.array ?? []
                var child = arr[n].table ?? TOMLTable()
                update(&child, rest.dropFirst())
                arr[n] = .table(child)
                table[k] = .array(arr)
            }
        }
        update(&root, path[...])
    }

    private mutating func assign(_ key: [String], _ value: TOMLValue, base: [PathStep]) throws(TOMLError) {
        var path = base
        for (n, k) in key.enumerated() {
            let step = PathStep.key(k)
            let existing = lookup(path + [step])
            if n == key.count - 1 {
                if existing != nil { throw error("key '\(key.joined(separator: "."))' is defined twice") }
                try set(path + [step], value)
                if case .table = value { sealed.insert(pathString(path + [step])) }
                if case .array = value { sealed.insert(pathString(path + [step])) }
            } else {
                if let existing {
                    let ps = pathString(path + [step])
                    guard case .table = existing, !sealed.contains(ps) else {
                        throw error("'\(k)' is already a value, not a table")
                    }
                    if defined.contains(ps) && !dottedDefined.contains(ps) { throw error("cannot add to table '\(k)' with dotted keys") }
                } else {
                    try set(path + [step], .table(TOMLTable()))
                    dottedDefined.insert(pathString(path + [step]))
                    defined.insert(pathString(path + [step]))
                }
                path.append(step)
            }
        }
    }

    private var dottedDefined: Set<String> = []

    // MARK: Values

    private mutating func parseValue() throws(TOMLError) -> TOMLValue {
        guard !atEnd else { throw error("expected a value") }
        switch peek {
        case UInt8(ascii: "\""):
            if s[i...].starts(with: Array("\"\"\"".utf8)) { return .string(try parseMultilineBasic()) }
            return .string(try parseBasicString())
        case UInt8(ascii: "'"):
            if s[i...].starts(with: Array("'''".utf8)) { return .string(try parseMultilineLiteral()) }
            return .string(try parseLiteralString())
        case UInt8(ascii: "t"):
            guard s[i...].starts(with: Array("true".utf8)) else { throw error("invalid value") }
            i += 4; return .boolean(true)
        case UInt8(ascii: "f"):
            guard s[i...].starts(with: Array("false".utf8)) else { throw error("invalid value") }
            i += 5; return .boolean(false)
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "{"): return try parseInlineTable()
        default: return try parseNumberOrDate()
        }
    }

    private mutating func parseArray() throws(TOMLError) -> TOMLValue {
        i += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlank()
            if peek == UInt8(ascii: "]") { i += 1; return .array(items) }
            items.append(try parseValue())
            try skipBlank()
            if peek == UInt8(ascii: ",") { i += 1; continue }
            if peek == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw error("expected ',' or ']' in array")
        }
    }

    private mutating func parseInlineTable() throws(TOMLError) -> TOMLValue {
        i += 1
        var sub = TOMLParser(s: [])
        skipWhitespace()
        if peek == UInt8(ascii: "}") { i += 1; return .table(TOMLTable()) }
        while true {
            skipWhitespace()
            let key = try parseKey()
            guard peek == UInt8(ascii: "=") else { throw error("expected '=' in inline table") }
            i += 1
            skipWhitespace()
            let v = try parseValue()
            sub.line = line
            try sub.assign(key, v, base: [])
            skipWhitespace()
            if peek == UInt8(ascii: ",") { i += 1; continue }
            if peek == UInt8(ascii: "}") { i += 1; return .table(sub.root) }
            throw error("expected ',' or '}' in inline table")
        }
    }

    private mutating func parseBasicString() throws(TOMLError) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard !atEnd else { throw error("unterminated string") }
            let c = peek
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c == 0x0A { throw error("newline in single-line string") }
            if c == UInt8(ascii: "\\") { try parseEscape(into: &out); continue }
            if c < 0x20 && c != 0x09 || c == 0x7F { throw error("control character in string") }
            out.append(c)
            i += 1
        }
        return try utf8(out)
    }

    private mutating func parseMultilineBasic() throws(TOMLError) -> String {
        i += 3
        if peek == 0x0A { i += 1; line += 1 } else if peek == 0x0D, i + 1 < s.count, s[i + 1] == 0x0A { i += 2; line += 1 }
        var out: [UInt8] = []
        while true {
            guard !atEnd else { throw error("unterminated multi-line string") }
            if s[i...].starts(with: Array("\"\"\"".utf8)) {
                var extra = 0
                while i + 3 + extra < s.count, s[i + 3 + extra] == UInt8(ascii: "\""), extra < 2 { extra += 1 }
                out.append(contentsOf: [UInt8](repeating: UInt8(ascii: "\""), count: extra))
                i += 3 + extra
                break
            }
            let c = peek
            if c == UInt8(ascii: "\\") {
                // Line-ending backslash trims the newline and following whitespace.
                var j = i + 1
                while j < s.count, s[j] == 0x20 || s[j] == 0x09 { j += 1 }
                if j < s.count, s[j] == 0x0A || s[j] == 0x0D {
                    i = j
                    while !atEnd, peek == 0x20 || peek == 0x09 || peek == 0x0A || peek == 0x0D {
                        if peek == 0x0A { line += 1 }
                        i += 1
                    }
                    continue
                }
                try parseEscape(into: &out)
                continue
            }
            if c == 0x0A { line += 1 }
            if c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D || c == 0x7F { throw error("control character in string") }
            out.append(c)
            i += 1
        }
        return try utf8(out)
    }

    private mutating func parseLiteralString() throws(TOMLError) -> String {
        i += 1
        let start = i
        while !atEnd, peek != UInt8(ascii: "'") {
            if peek == 0x0A { throw error("newline in literal string") }
            if peek < 0x20 && peek != 0x09 { throw error("control character in literal string") }
            i += 1
        }
        guard !atEnd else { throw error("unterminated literal string") }
        let out = Array(s[start..<i])
        i += 1
        return try utf8(out)
    }

    private mutating func parseMultilineLiteral() throws(TOMLError) -> String {
        i += 3
        if peek == 0x0A { i += 1; line += 1 } else if peek == 0x0D, i + 1 < s.count, s[i + 1] == 0x0A { i += 2; line += 1 }
        var out: [UInt8] = []
        while true {
            guard !atEnd else { throw error("unterminated multi-line literal string") }
            if s[i...].starts(with: Array("'''".utf8)) {
                var extra = 0
                while i + 3 + extra < s.count, s[i + 3 + extra] == UInt8(ascii: "'"), extra < 2 { extra += 1 }
                out.append(contentsOf: [UInt8](repeating: UInt8(ascii: "'"), count: extra))
                i += 3 + extra
                break
            }
            if peek == 0x0A { line += 1 }
            out.append(peek)
            i += 1
        }
        return try utf8(out)
    }

    private func utf8(_ bytes: [UInt8]) throws(TOMLError) -> String {
        guard let str = String(validating: bytes, as: UTF8.self) else { throw error("string is not valid UTF-8") }
        return str
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        i += 1
        guard !atEnd else { throw error("unterminated escape") }
        let e = peek
        i += 1
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let n = e == UInt8(ascii: "u") ? 4 : 8
            guard i + n <= s.count, let v = UInt32(String(decoding: s[i..<i + n], as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(v)
            else { throw error("invalid unicode escape") }
            i += n
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            throw error("invalid escape '\\\(Unicode.Scalar(e))'")
        }
    }

    private mutating func parseNumberOrDate() throws(TOMLError) -> TOMLValue {
        let start = i
        while !atEnd {
            let c = peek
            let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: ":")
            // A space is allowed in a date-time between date and time.
            if !ok {
                if c == 0x20, i - start == 10, i + 1 < s.count, s[i + 1] >= 0x30, s[i + 1] <= 0x39, s[start + 4] == UInt8(ascii: "-") {
                    i += 1
                    continue
                }
                break
            }
            i += 1
        }
        let text = String(decoding: s[start..<i], as: UTF8.self)
        guard !text.isEmpty else { throw error("expected a value") }
        switch text {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if text.count >= 8, text.dropFirst(text.first == "+" || text.first == "-" ? 1 : 0).first?.isNumber == true,
            text.contains("-") && text.firstIndex(of: "-") != text.startIndex || text.contains(":")
        {
            if Self.looksLikeDate(text) { return .datetime(text) }
        }
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            let radix = text.hasPrefix("0x") ? 16 : text.hasPrefix("0o") ? 8 : 2
            let digits = String(text.dropFirst(2))
            guard let v = Int64(try cleanUnderscores(digits), radix: radix) else { throw error("invalid integer '\(text)'") }
            return .integer(v)
        }
        let clean = try cleanUnderscores(text)
        let unsigned = clean.hasPrefix("+") || clean.hasPrefix("-") ? String(clean.dropFirst()) : clean
        if unsigned.count > 1, unsigned.hasPrefix("0"), unsigned.dropFirst().first?.isNumber == true {
            throw error("leading zeros are not allowed in '\(text)'")
        }
        if !clean.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            guard let v = Int64(clean.hasPrefix("+") ? String(clean.dropFirst()) : clean) else { throw error("invalid integer '\(text)'") }
            return .integer(v)
        }
        if clean.contains(".") {
            let parts = unsigned.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let f = parts[1].first, f.isNumber else { throw error("invalid float '\(text)'") }
        }
        guard let d = Double(clean) else { throw error("invalid value '\(text)'") }
        return .float(d)
    }

    static func looksLikeDate(_ t: String) -> Bool {
        let c = Array(t.utf8)
        if c.count >= 10, c[4] == UInt8(ascii: "-"), c[7] == UInt8(ascii: "-") { return true }
        if c.count >= 8, c[2] == UInt8(ascii: ":"), c[5] == UInt8(ascii: ":") { return true }
        return false
    }

    private func cleanUnderscores(_ t: String) throws(TOMLError) -> String {
        if t.hasPrefix("_") || t.hasSuffix("_") || t.contains("__") { throw error("misplaced '_' in number '\(t)'") }
        return t.replacingOccurrences(of: "_", with: "")
    }
}
