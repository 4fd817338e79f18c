import Foundation

/// A Dockerfile as written: its parser directives, the ARGs before the first FROM, and its
/// stages. Variables are not substituted here; that happens as each stage is built, with the
/// ARG and ENV values in scope (`ShellWords`).
public struct Dockerfile: Sendable, Equatable {
    /// The `# syntax=` directive, reported (Slipway has one frontend).
    public var syntax: String?
    /// The escape character: `\`, or `` ` `` by the `# escape=` directive.
    public var escape: Character
    /// ARG instructions before the first FROM: their values may be used in FROM lines.
    public var globalArgs: [DockerfileInstruction]
    public var stages: [DockerfileStage]

    /// The stage `name` (case-insensitive) or, for a number, the stage at that index.
    public func stage(named name: String) -> Int? {
        if let i = stages.firstIndex(where: { $0.name == name.lowercased() }) { return i }
        if let n = Int(name), stages.indices.contains(n) { return n }
        return nil
    }
}

/// One `FROM` and the instructions after it, up to the next `FROM`.
public struct DockerfileStage: Sendable, Equatable {
    public var from: DockerfileInstruction
    /// The `AS` name, lowercased.
    public var name: String?
    public var instructions: [DockerfileInstruction]
}

/// The instructions a Dockerfile may hold.
public enum DockerfileKeyword: String, Sendable, CaseIterable {
    case from, run, cmd, label, maintainer, expose, env, add, copy, entrypoint, volume, user, workdir, arg, onbuild, stopsignal, healthcheck, shell

    /// The flags (`--name=value`) it takes; `mount` and `exclude` may repeat.
    var flags: Set<String> {
        switch self {
        case .from: return ["platform"]
        case .run: return ["mount", "network", "security"]
        case .copy: return ["from", "chown", "chmod", "link", "exclude", "parents"]
        case .add: return ["chown", "chmod", "checksum", "link", "keep-git-dir", "exclude"]
        case .healthcheck: return ["interval", "timeout", "start-period", "start-interval", "retries"]
        default: return []
        }
    }

    /// Whether heredocs (`<<EOF`) may follow it.
    var takesHeredocs: Bool { self == .run || self == .copy || self == .add }
}

/// One instruction as written: keyword, flags, arguments in exec (JSON) or shell form, and
/// the heredocs that follow it.
public struct DockerfileInstruction: Sendable, Equatable {
    public enum Arguments: Sendable, Equatable {
        /// `["executable", "arg"]`
        case exec([String])
        /// Everything after the keyword and flags, continuation lines joined.
        case shell(String)
    }

    /// A heredoc: `<<EOF` (expanded), `<<"EOF"` or `<<'EOF'` (not), `<<-EOF` (leading tabs removed).
    public struct Heredoc: Sendable, Equatable {
        public var name: String
        public var content: String
        public var expands: Bool
    }

    public struct Flag: Sendable, Equatable {
        public var name: String
        /// nil for a flag given without `=value`.
        public var value: String?
    }

    public var line: Int
    public var keyword: DockerfileKeyword
    public var flags: [Flag]
    public var arguments: Arguments
    public var heredocs: [Heredoc]
    /// The instruction as written (continuations joined), for cache keys and logs.
    public var text: String

    /// The last value of a flag; nil when not given.
    public func flag(_ name: String) -> String?? {
        guard let f = flags.last(where: { $0.name == name }) else { return nil }
        return .some(f.value)
    }

    /// Every value of a repeatable flag, in order.
    public func flagValues(_ name: String) -> [String] { flags.filter { $0.name == name }.compactMap(\.value) }

    /// The shell-form text; "" for exec form.
    public var shellText: String {
        if case .shell(let s) = arguments { return s }
        return ""
    }
}

/// A Dockerfile mistake, with the line it is on: `Dockerfile:12: unknown instruction "RUNN"`.
public struct DockerfileError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

/// Parses Dockerfiles strictly: every line belongs to an instruction, a directive, a comment or
/// a heredoc; anything else is an error naming the line.
public struct DockerfileParser: Sendable {
    /// How errors name the file (its path in the context).
    public let file: String
    /// Largest Dockerfile read.
    public static let maxBytes = 1 << 20
    /// Most stages, and most instructions in all, a Dockerfile may have: more is refused at the
    /// line that goes over, before anything is built.
    public static let maxStages = 128
    public static let maxInstructions = 4096

    public init(file: String = "Dockerfile") { self.file = file }

    func fail(_ line: Int, _ message: String) -> DockerfileError { DockerfileError(file: file, line: line, message: message) }

    public func parse(_ text: String) throws -> Dockerfile {
        guard text.utf8.count <= Self.maxBytes else { throw fail(1, "the Dockerfile is larger than \(Self.maxBytes >> 10) KiB") }
        // "\r\n" is one Character in Swift: normalise line ends before splitting.
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let first = lines.first, first.hasPrefix("\u{FEFF}") { lines[0] = String(first.dropFirst()) }

        // Directives: only at the very top, before any comment, blank line or instruction.
        var escape: Character = "\\"
        var syntax: String?
        var seen: Set<String> = []
        var index = 0
        let directive = try! NSRegularExpression(pattern: #"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$"#)
        while index < lines.count {
            let l = lines[index]
            guard let m = directive.firstMatch(in: l, range: NSRange(l.startIndex..., in: l)),
                let k = Range(m.range(at: 1), in: l), let v = Range(m.range(at: 2), in: l)
            else { break }
            let key = l[k].lowercased(), value = String(l[v])
            guard ["escape", "syntax", "check"].contains(key) else { break }  // an unknown directive is a comment
            guard seen.insert(key).inserted else { throw fail(index + 1, "only one \(key) parser directive can be used") }
            if key == "escape" {
                guard value == "\\" || value == "`" else { throw fail(index + 1, "invalid escape token '\(value)': use \\ or `") }
                escape = Character(value)
            } else if key == "syntax" {
                syntax = value
            }
            index += 1
        }

        var globalArgs: [DockerfileInstruction] = []
        var stages: [DockerfileStage] = []
        var count = 0
        while index < lines.count {
            let start = index
            let trimmed = lines[index].trimmingCharacters(in: .whitespaces)
            index += 1
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            // Continuation lines: a line ending with the escape character goes on; comment
            // and empty lines inside an instruction are skipped.
            var logical = ""
            var current = lines[start]
            while true {
                let t = current.replacingOccurrences(of: #"[ \t]+$"#, with: "", options: .regularExpression)
                if t.last == escape {
                    logical += String(t.dropLast())
                    var next: String?
                    while index < lines.count {
                        let candidate = lines[index]
                        index += 1
                        let ct = candidate.trimmingCharacters(in: .whitespaces)
                        if ct.hasPrefix("#") || ct.isEmpty { continue }
                        next = candidate
                        break
                    }
                    guard let n = next else { break }
                    current = n
                } else {
                    logical += current
                    break
                }
            }
            count += 1
            guard count <= Self.maxInstructions else { throw fail(start + 1, "the Dockerfile has more than \(Self.maxInstructions) instructions") }
            var instruction = try parseInstruction(logical, line: start + 1, escape: escape, allowOnbuild: true)
            if instruction.keyword.takesHeredocs {
                instruction.heredocs = try readHeredocs(for: instruction, lines: lines, index: &index)
            }
            if instruction.keyword == .from {
                guard stages.count < Self.maxStages else { throw fail(start + 1, "the Dockerfile has more than \(Self.maxStages) stages") }
                stages.append(DockerfileStage(from: instruction, name: try stageName(instruction, escape: escape), instructions: []))
            } else if stages.isEmpty {
                guard instruction.keyword == .arg else {
                    throw fail(start + 1, "\(instruction.keyword.rawValue.uppercased()) before the first FROM: only ARG may come before FROM")
                }
                globalArgs.append(instruction)
            } else {
                stages[stages.count - 1].instructions.append(instruction)
            }
        }
        guard !stages.isEmpty else { throw fail(1, "the Dockerfile has no FROM instruction") }
        var names: Set<String> = []
        for s in stages {
            if let n = s.name, !names.insert(n).inserted { throw fail(s.from.line, "duplicate stage name \"\(n)\"") }
        }
        return Dockerfile(syntax: syntax, escape: escape, globalArgs: globalArgs, stages: stages)
    }

    /// One logical line: keyword, flags, arguments, each checked for its instruction.
    func parseInstruction(_ logical: String, line: Int, escape: Character, allowOnbuild: Bool) throws -> DockerfileInstruction {
        let text = logical.trimmingCharacters(in: .whitespaces)
        let keywordEnd = text.firstIndex(where: \.isWhitespace) ?? text.endIndex
        let word = String(text[..<keywordEnd])
        guard let keyword = DockerfileKeyword(rawValue: word.lowercased()) else {
            throw fail(line, "unknown instruction \"\(word.uppercased())\"")
        }
        var rest = String(text[keywordEnd...]).trimmingCharacters(in: .whitespaces)
        var flags: [DockerfileInstruction.Flag] = []
        if keyword != .onbuild {
            while rest.hasPrefix("--") {
                let end = rawFlagEnd(rest, escape: escape)
                let token = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<end])
                rest = String(rest[end...]).trimmingCharacters(in: .whitespaces)
                if token.isEmpty { break }  // "--" ends the flags
                let parts = token.split(separator: "=", maxSplits: 1).map(String.init)
                let name = parts[0]
                guard keyword.flags.contains(name) else {
                    throw fail(line, "unknown flag --\(name) for \(keyword.rawValue.uppercased())" +
                               (keyword.flags.isEmpty ? " (it takes none)" : " (it takes \(keyword.flags.sorted().map { "--" + $0 }.joined(separator: ", ")))"))
                }
                if name != "mount" && name != "exclude", flags.contains(where: { $0.name == name }) {
                    throw fail(line, "--\(name) is given twice")
                }
                flags.append(.init(name: name, value: parts.count == 2 ? unquoted(parts[1]) : nil))
            }
        }
        var arguments = DockerfileInstruction.Arguments.shell(rest)
        // Text that is not a JSON array of strings is the shell form, as Docker reads it (`try?`).
        if rest.hasPrefix("["), let data = rest.data(using: .utf8), let array = try? JSONSerialization.jsonObject(with: data) as? [Any],
            array.allSatisfy({ $0 is String })
        {
            arguments = .exec(array.compactMap { $0 as? String })
        }
        let instruction = DockerfileInstruction(line: line, keyword: keyword, flags: flags, arguments: arguments, heredocs: [], text: text)
        try check(instruction, escape: escape, allowOnbuild: allowOnbuild)
        return instruction
    }

    /// Where a `--flag[=value]` word ends (whitespace outside quotes).
    func rawFlagEnd(_ s: String, escape: Character) -> String.Index {
        var quote: Character?
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c.isWhitespace {
                return i
            }
            i = s.index(after: i)
        }
        return s.endIndex
    }

    func unquoted(_ s: String) -> String {
        if s.count >= 2, let f = s.first, f == s.last, f == "\"" || f == "'" { return String(s.dropFirst().dropLast()) }
        return s
    }

    /// What each instruction needs, checked before anything runs.
    func check(_ i: DockerfileInstruction, escape: Character, allowOnbuild: Bool) throws {
        let name = i.keyword.rawValue.uppercased()
        let words = ShellWords(escape: escape).rawWords(i.shellText)
        let empty: Bool = {
            switch i.arguments {
            case .exec(let a): return a.isEmpty
            case .shell(let s): return s.isEmpty
            }
        }()
        switch i.keyword {
        case .from:
            guard case .shell = i.arguments, words.count == 1 || (words.count == 3 && words[1].lowercased() == "as") else {
                throw fail(i.line, "FROM takes an image and, optionally, AS name: FROM image [AS name]")
            }
        case .arg:
            guard !words.isEmpty else { throw fail(i.line, "ARG needs a name: ARG name[=default]") }
            for w in words {
                let n = String(w.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])
                guard LayerEnvironment.isValidName(n) else { throw fail(i.line, "ARG name \"\(n)\" is not valid: letters, digits and _, not starting with a digit") }
            }
        case .env, .label:
            guard !words.isEmpty else { throw fail(i.line, "\(name) needs at least one key=value") }
            if !(words[0].contains("=")) {
                guard i.keyword == .env, words.count >= 2 else { throw fail(i.line, "\(name) needs key=value pairs") }
            } else {
                for w in words where !w.contains("=") { throw fail(i.line, "\(name) needs key=value pairs; \"\(w)\" has no =") }
            }
        case .copy, .add:
            let count: Int = {
                switch i.arguments {
                case .exec(let a): return a.count
                case .shell: return words.count
                }
            }()
            guard count >= 2 else {
                throw fail(i.line, "\(name) needs at least one source and a destination: \(name) [flags] <src>... <dest>")
            }
        case .run, .cmd, .entrypoint:
            if i.keyword == .run, empty { throw fail(i.line, "RUN needs a command") }
        case .workdir, .user, .stopsignal, .maintainer:
            guard !empty else { throw fail(i.line, "\(name) needs a value") }
        case .expose, .volume:
            guard !empty else { throw fail(i.line, "\(name) needs at least one value") }
        case .shell:
            guard case .exec(let a) = i.arguments, !a.isEmpty else { throw fail(i.line, "SHELL needs the JSON form: SHELL [\"executable\", \"parameters\"]") }
        case .healthcheck:
            let first = words.first?.uppercased() ?? ""
            guard first == "NONE" && words.count == 1 || first == "CMD" && words.count >= 2 else {
                throw fail(i.line, "HEALTHCHECK takes NONE or CMD command: HEALTHCHECK [options] CMD command")
            }
        case .onbuild:
            guard allowOnbuild else { throw fail(i.line, "ONBUILD ONBUILD is not allowed") }
            let trigger = i.shellText
            guard !trigger.isEmpty else { throw fail(i.line, "ONBUILD needs an instruction") }
            let inner = try parseInstruction(trigger, line: i.line, escape: escape, allowOnbuild: false)
            guard inner.keyword != .from, inner.keyword != .maintainer else {
                throw fail(i.line, "\(inner.keyword.rawValue.uppercased()) is not allowed as an ONBUILD trigger")
            }
        }
    }

    /// The lowercased `AS` name of a FROM, checked.
    func stageName(_ from: DockerfileInstruction, escape: Character) throws -> String? {
        let words = ShellWords(escape: escape).rawWords(from.shellText)
        guard words.count == 3 else { return nil }
        let name = words[2].lowercased()
        guard name.range(of: #"^[a-z][a-z0-9_.-]*$"#, options: .regularExpression) != nil else {
            throw fail(from.line, "invalid stage name \"\(words[2])\": it must start with a letter and hold only letters, digits, '-', '_' and '.'")
        }
        return name
    }

    /// UTF-16 offsets of the characters inside quotes (a `<<` there is no heredoc).
    static func quotedOffsets(_ text: String) -> Set<Int> {
        var out = Set<Int>()
        var quote: UInt16?
        for (n, c) in text.utf16.enumerated() {
            if let q = quote {
                out.insert(n)
                if c == q { quote = nil }
            } else if c == 0x22 || c == 0x27 {
                quote = c
                out.insert(n)
            }
        }
        return out
    }

    /// The heredocs named on an instruction's line, read from the lines after it.
    func readHeredocs(for i: DockerfileInstruction, lines: [String], index: inout Int) throws -> [DockerfileInstruction.Heredoc] {
        let marker = try! NSRegularExpression(pattern: #"(?<!<)<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2"#)
        let text = i.shellText
        let quoted = Self.quotedOffsets(text)
        var docs: [DockerfileInstruction.Heredoc] = []
        for m in marker.matches(in: text, range: NSRange(text.startIndex..., in: text)) where !quoted.contains(m.range.location) {
            guard let dash = Range(m.range(at: 1), in: text), let quote = Range(m.range(at: 2), in: text), let word = Range(m.range(at: 3), in: text) else { continue }
            let stripTabs = !text[dash].isEmpty
            let name = String(text[word])
            var body: [String] = []
            var closed = false
            while index < lines.count {
                var l = lines[index]
                index += 1
                if stripTabs { l = String(l.drop { $0 == "\t" }) }
                if l == name { closed = true; break }
                body.append(l)
            }
            guard closed else { throw fail(i.line, "heredoc <<\(name) is not closed: no line \"\(name)\" follows") }
            docs.append(.init(name: name, content: body.map { $0 + "\n" }.joined(), expands: text[quote].isEmpty))
        }
        return docs
    }
}
