import Foundation

/// Writes a `TOMLTable` as a TOML 1.0 document: plain keys first, then sub-tables as
/// `[a.b]` sections and arrays of tables as `[[a]]`, so the output reads like hand-written TOML
/// and parses back to the same value.
public enum TOMLWriter {
    public static func write(_ table: TOMLTable) -> String {
        var out = ""
        writeTable(table, path: [], into: &out)
        return out
    }

    private static func isSection(_ v: TOMLValue) -> Bool {
        if case .table = v { return true }
        if case .array(let a) = v, !a.isEmpty, a.allSatisfy({ $0.table != nil }) { return true }
        return false
    }

    private static func writeTable(_ table: TOMLTable, path: [String], into out: inout String) {
        for (k, v) in table.entries where !isSection(v) {
            out += key(k) + " = " + inline(v) + "\n"
        }
        for (k, v) in table.entries where isSection(v) {
            let p = path + [k]
            switch v {
            case .table(let t):
                let hasPlain = t.entries.contains { !isSection($0.value) }
                if hasPlain || t.isEmpty {
                    if !out.isEmpty { out += "\n" }
                    out += "[" + p.map(key).joined(separator: ".") + "]\n"
                }
                writeTable(t, path: p, into: &out)
            case .array(let items):
                for item in items {
                    if !out.isEmpty { out += "\n" }
                    out += "[[" + p.map(key).joined(separator: ".") + "]]\n"
                    writeTable(item.table ?? TOMLTable(), path: p, into: &out)
                }
            default: break
            }
        }
    }

    static func key(_ k: String) -> String {
        let bare = !k.isEmpty && k.utf8.allSatisfy {
            ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D
        }
        return bare ? k : quote(k)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += String(format: "\\u%04X", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    static func inline(_ v: TOMLValue) -> String {
        switch v {
        case .string(let s): return quote(s)
        case .integer(let i): return String(i)
        case .float(let d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d > 0 ? "inf" : "-inf" }
            let s = "\(d)"
            return s.contains(".") || s.contains("e") ? s : s + ".0"
        case .boolean(let b): return b ? "true" : "false"
        case .datetime(let d): return d
        case .array(let a): return "[" + a.map(inline).joined(separator: ", ") + "]"
        case .table(let t): return "{" + t.entries.map { key($0.key) + " = " + inline($0.value) }.joined(separator: ", ") + "}"
        }
    }
}

