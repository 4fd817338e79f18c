import Foundation

/// The rules of a `.slipwayignore` file, in gitignore syntax: `#` comments, `!` negation,
/// a trailing `/` for folders only, a leading or inner `/` anchoring to the root, and the
/// wildcards `*`, `?`, `[…]` and `**`. The last rule that matches a path decides.
///
/// Or of a `.dockerignore` file (and `COPY --exclude`), in Docker's syntax: every pattern is
/// anchored at the root (`*.log` is only the root's), a trailing `/` changes nothing, and a
/// pattern that matches a folder matches everything below it, unless a later `!` rule takes a
/// path back.
public struct IgnoreRules: Sendable {
    public enum Syntax: Sendable { case gitignore, dockerignore }

    struct Rule: Sendable {
        let regex: NSRegularExpression
        let negated: Bool
        let directoryOnly: Bool
    }

    private let rules: [Rule]
    let syntax: Syntax

    public init(_ text: String, syntax: Syntax = .gitignore) {
        self.syntax = syntax
        var rules: [Rule] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = String(raw)
            while line.hasSuffix(" ") && !line.hasSuffix("\\ ") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            var negated = false
            if line.hasPrefix("!") { negated = true; line.removeFirst() }
            if line.hasPrefix("\\") { line.removeFirst() }
            var directoryOnly = false
            if syntax == .dockerignore {
                // Docker cleans the pattern as a path: no leading `/` or `./`, no trailing `/`.
                line = PathSyntax.components(line).joined(separator: "/")
            } else if line.hasSuffix("/") {
                directoryOnly = true
                line.removeLast()
            }
            let anchored = line.contains("/") || syntax == .dockerignore
            if line.hasPrefix("/") { line.removeFirst() }
            guard !line.isEmpty else { continue }
            let body = Self.translate(line)
            let pattern = anchored ? "^" + body + "$" : "^(?:.*/)?" + body + "$"
            if let regex = try? NSRegularExpression(pattern: pattern) {  // a glob that makes no valid pattern (a bad [range]) matches nothing
                rules.append(Rule(regex: regex, negated: negated, directoryOnly: directoryOnly))
            }
        }
        self.rules = rules
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Whether a `!` rule may take back a path below an ignored folder, so that a walk must
    /// look inside it.
    public var hasExceptions: Bool { rules.contains(where: \.negated) }

    /// Whether `path` (relative to the root, `/`-separated) is ignored.
    public func ignores(_ path: String, isDirectory: Bool) -> Bool {
        var ignored = false
        // Docker's rules match a path or any folder above it.
        var candidates = [path]
        if syntax == .dockerignore {
            var parts = PathSyntax.components(path)
            while parts.count > 1 { parts.removeLast(); candidates.append(parts.joined(separator: "/")) }
        }
        for rule in rules {
            if rule.directoryOnly && !isDirectory { continue }
            if candidates.contains(where: { rule.regex.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }) { ignored = !rule.negated }
        }
        return ignored
    }

    /// Glob to regular expression.
    static func translate(_ glob: String) -> String {
        var out = ""
        let c = Array(glob)
        var i = 0
        while i < c.count {
            let ch = c[i]
            if ch == "*" {
                if i + 1 < c.count, c[i + 1] == "*" {
                    let atStart = i == 0 || c[i - 1] == "/"
                    let slashAfter = i + 2 < c.count && c[i + 2] == "/"
                    if atStart && slashAfter {
                        out += "(?:.*/)?"
                        i += 3
                        continue
                    }
                    out += ".*"
                    i += 2
                    continue
                }
                out += "[^/]*"
            } else if ch == "?" {
                out += "[^/]"
            } else if ch == "[" , let close = c[(i + 1)...].firstIndex(of: "]") {
                var set = String(c[(i + 1)..<close])
                if set.hasPrefix("!") { set = "^" + set.dropFirst() }
                out += "[" + set.replacingOccurrences(of: "\\", with: "\\\\") + "]"
                i = close + 1
                continue
            } else if ch == "\\", i + 1 < c.count {
                out += NSRegularExpression.escapedPattern(for: String(c[i + 1]))
                i += 2
                continue
            } else {
                out += NSRegularExpression.escapedPattern(for: String(ch))
            }
            i += 1
        }
        return out
    }
}
