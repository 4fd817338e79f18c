import Foundation

/// The word rules Dockerfile instructions use where Docker substitutes variables (ADD, COPY,
/// ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG): quotes are removed,
/// the escape character (`\` or `` ` ``) takes the next character literally, and `$VAR`,
/// `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`
/// and `${VAR?message}` are replaced. Single quotes take everything literally; inside double
/// quotes the escape character escapes only `"`, `$` and itself. An unquoted variable's value
/// is split into words where words are asked for, as a shell does.
public struct ShellWords: Sendable {
    public let escape: Character

    public init(escape: Character = "\\") { self.escape = escape }

    /// The most bytes one processed text may expand to: Linux's limit on one argument or
    /// environment string (MAX_ARG_STRLEN), so that `ENV A=$A$A`, repeated, stops here instead
    /// of doubling the engine's memory with every line.
    public static let maxExpandedBytes = 128 << 10

    /// Why a word cannot be processed.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Looks a variable up: nil when it is not set.
    public typealias Lookup = (String) -> String?

    /// The text as one word (whitespace kept where it is).
    public func word(_ text: String, _ lookup: @escaping Lookup) throws -> String {
        var lexer = Lexer(chars: Array(text), escape: escape, lookup: lookup, splitting: false)
        return try lexer.run(stopAt: nil).joined(separator: " ")
    }

    /// The text as words, split on whitespace that is not quoted or escaped.
    public func words(_ text: String, _ lookup: @escaping Lookup) throws -> [String] {
        var lexer = Lexer(chars: Array(text), escape: escape, lookup: lookup, splitting: true)
        return try lexer.run(stopAt: nil)
    }

    /// The text split into words without any processing: quotes and escapes kept, only
    /// whitespace outside them separating words (for `key=value` lists, then processed one by
    /// one).
    public func rawWords(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var chars = text.makeIterator()
        while let c = chars.next() {
            if let q = quote {
                current.append(c)
                if c == escape && q == "\"", let n = chars.next() { current.append(n); continue }
                if c == q { quote = nil }
                continue
            }
            if c.isWhitespace {
                if inWord { out.append(current); current = ""; inWord = false }
                continue
            }
            inWord = true
            current.append(c)
            if c == escape, let n = chars.next() { current.append(n); continue }
            if c == "\"" || c == "'" { quote = c }
        }
        if inWord { out.append(current) }
        return out
    }

    struct Lexer {
        let chars: [Character]
        let escape: Character
        let lookup: Lookup
        let splitting: Bool
        var i = 0

        init(chars: [Character], escape: Character, lookup: @escaping Lookup, splitting: Bool) {
            self.chars = chars
            self.escape = escape
            self.lookup = lookup
            self.splitting = splitting
        }

        /// Words of the text up to `stop` (unquoted, unescaped) or its end.
        mutating func run(stopAt stop: Character?) throws -> [String] {
            var words: [String] = []
            var current = ""
            var inWord = false
            func add(_ s: String, splittable: Bool) {
                guard splitting, splittable else {
                    current += s
                    inWord = inWord || !s.isEmpty
                    return
                }
                for c in s {
                    if c.isWhitespace {
                        if inWord { words.append(current); current = ""; inWord = false }
                    } else {
                        current.append(c)
                        inWord = true
                    }
                }
            }
            while i < chars.count {
                guard current.utf8.count <= ShellWords.maxExpandedBytes else { throw Self.tooLarge }
                let c = chars[i]
                if let stop, c == stop { break }
                if c == escape {
                    i += 1
                    if i < chars.count {
                        current.append(chars[i])
                        inWord = true
                        i += 1
                    } else {
                        current.append(c)
                        inWord = true
                    }
                    continue
                }
                switch c {
                case "'":
                    i += 1
                    var s = ""
                    while i < chars.count, chars[i] != "'" { s.append(chars[i]); i += 1 }
                    guard i < chars.count else { throw Failure(message: "unexpected end of input looking for the closing '") }
                    i += 1
                    current += s
                    inWord = true
                case "\"":
                    i += 1
                    current += try doubleQuoted()
                    inWord = true
                case "$":
                    add(try dollar(), splittable: true)
                default:
                    if splitting && c.isWhitespace {
                        if inWord { words.append(current); current = ""; inWord = false }
                    } else {
                        current.append(c)
                        inWord = true
                    }
                    i += 1
                }
            }
            if inWord || !splitting { words.append(current) }
            guard words.reduce(0, { $0 + $1.utf8.count }) <= ShellWords.maxExpandedBytes else { throw Self.tooLarge }
            return words
        }

        static let tooLarge = Failure(message: "the text expands to more than \(ShellWords.maxExpandedBytes) bytes (variables within variables?); "
                                          + "a value may hold at most that much")

        /// After an opening `"`: up to the closing one.
        mutating func doubleQuoted() throws -> String {
            var s = ""
            while i < chars.count {
                let c = chars[i]
                if c == "\"" { i += 1; return s }
                if c == escape, i + 1 < chars.count, ["\"", "$", escape].contains(chars[i + 1]) {
                    s.append(chars[i + 1])
                    i += 2
                    continue
                }
                if c == "$" {
                    s += try dollar()
                    guard s.utf8.count <= ShellWords.maxExpandedBytes else { throw Self.tooLarge }
                    continue
                }
                s.append(c)
                i += 1
            }
            throw Failure(message: "unexpected end of input looking for the closing \"")
        }

        static func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
        static func isName(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }

        /// At a `$`: a variable's value, or the `$` itself when no name follows.
        mutating func dollar() throws -> String {
            i += 1
            guard i < chars.count else { return "$" }
            if chars[i] != "{" {
                guard Self.isNameStart(chars[i]) else { return "$" }
                var name = ""
                while i < chars.count, Self.isName(chars[i]) { name.append(chars[i]); i += 1 }
                return lookup(name) ?? ""
            }
            i += 1
            var name = ""
            while i < chars.count, Self.isName(chars[i]) { name.append(chars[i]); i += 1 }
            guard !name.isEmpty, i < chars.count else { throw Failure(message: "bad substitution: a variable name must follow ${") }
            if chars[i] == "}" {
                i += 1
                return lookup(name) ?? ""
            }
            var colon = false
            if chars[i] == ":" { colon = true; i += 1 }
            guard i < chars.count, ["-", "+", "?"].contains(chars[i]) else {
                throw Failure(message: "unsupported modifier in ${\(name)…}: use ${\(name)}, ${\(name):-word}, ${\(name):+word} or ${\(name):?message}")
            }
            let op = chars[i]
            i += 1
            var inner = Lexer(chars: chars, escape: escape, lookup: lookup, splitting: false)
            inner.i = i
            let word = try inner.run(stopAt: "}").joined(separator: " ")
            i = inner.i
            guard i < chars.count, chars[i] == "}" else { throw Failure(message: "missing '}' in ${\(name)…}") }
            i += 1
            let value = lookup(name)
            let isSet = colon ? !(value ?? "").isEmpty : value != nil
            switch op {
            case "-": return isSet ? value ?? "" : word
            case "+": return isSet ? word : ""
            default:
                guard isSet else { throw Failure(message: "\(name): \(word.isEmpty ? "is not set" : word)") }
                return value ?? ""
            }
        }
    }
}
