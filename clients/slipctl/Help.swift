import Foundation
import SlipwayProtocol

// Help as kp (cobra) prints it, and "did you mean" for a mistyped command, both from
// CommandTable.

extension Command {
    /// cobra's help text: summary, usage line, examples, subcommands, flags.
    func help(path: [String]) -> String {
        let full = ([CommandTable.program] + path).joined(separator: " ")
        var text = summary + "\n\nUsage:\n"
        if isGroup {
            text += "  \(full) [command]\n"
        } else {
            text += "  \(full)\(arguments.isEmpty ? "" : " " + arguments) [flags]\n"
        }
        text += "\nExamples:\n" + examples.map { "  \($0)\n" }.joined()
        if isGroup {
            let width = subcommands.map(\.name.count).max() ?? 0
            text += "\nAvailable Commands:\n" + subcommands.map { "  \($0.name.padding(toLength: max(width, 11), withPad: " ", startingAt: 0)) \($0.summary)\n" }.joined()
        }
        text += "\nFlags:\n" + Self.flagLines(flags + [Flag.bool("help", "help for \(name)").withShort("h")])
        if isGroup { text += "\nUse \"\(full) [command] --help\" for more information about a command.\n" }
        return text
    }

    /// Flags in cobra's two columns: `  -n, --namespace string   namespace …`, sorted by name.
    static func flagLines(_ flags: [Flag]) -> String {
        let left = flags.sorted { $0.name < $1.name }.map { f in
            ((f.short.map { "  -\($0), " } ?? "      ") + "--\(f.name)" + (f.value.map { " " + $0 } ?? ""), f.help)
        }
        let width = left.map(\.0.count).max() ?? 0
        return left.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "   " + $0.1 + "\n" }.joined()
    }
}

/// Levenshtein distance, case-insensitive: how far a typed word is from a command's name.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.lowercased()), y = Array(b.lowercased())
    guard !x.isEmpty, !y.isEmpty else { return max(x.count, y.count) }
    var previous = Array(0...y.count)
    for i in 1...x.count {
        var current = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[y.count]
}

/// The commands of `group` a mistyped `word` may have meant, as cobra suggests them: within two
/// edits, or names that start with it.
func suggestions(for word: String, in group: Command) -> [String] {
    group.subcommands.map(\.name).filter { editDistance(word, $0) <= 2 || $0.lowercased().hasPrefix(word.lowercased()) }
}

/// cobra's error for a word that names no command: `unknown command "imgae" for "slipctl"`,
/// then "Did you mean this?" with the near names, then where help is.
func unknownCommand(_ word: String, in group: Command, path: [String]) -> Arguments.Failure {
    let full = ([CommandTable.program] + path).joined(separator: " ")
    var message = "unknown command \"\(word)\" for \"\(full)\""
    let near = suggestions(for: word, in: group)
    if !near.isEmpty { message += "\n\nDid you mean this?\n" + near.map { "\t\($0)\n" }.joined() }
    message += "\nRun '\(full) --help' for usage."
    return Arguments.Failure(message: message)
}

/// What a command line asks for, decided from the table before anything runs.
enum Route {
    /// Print this help and exit 0.
    case help(String)
    /// Run the command at `path` with the words after it (already checked against its flags).
    case run(path: [String], words: [String])
}

/// Reads `argv` against the table: the command it names, help (`-h`, `--help`, `help …`, a group
/// without a verb), or a thrown error for an unknown command (with suggestions) or flag.
func route(_ argv: [String]) throws -> Route {
    var command = CommandTable.root
    var path: [String] = []
    var rest = argv[...]
    while command.isGroup, let word = rest.first, !word.hasPrefix("-") {
        guard let next = command.subcommand(word) else { throw unknownCommand(word, in: command, path: path) }
        command = next
        path.append(word)
        rest = rest.dropFirst()
    }
    if path == ["help"], !rest.contains("-h"), !rest.contains("--help") {
        // `help image create`: the help of the command the words name.
        var topic = CommandTable.root, topicPath: [String] = []
        for word in rest {
            guard let next = topic.subcommand(word) else { throw unknownCommand(word, in: topic, path: topicPath) }
            topic = next
            topicPath.append(word)
        }
        return .help(topic.help(path: topicPath))
    }
    if rest.contains("-h") || rest.contains("--help") || (command.isGroup && rest.isEmpty) { return .help(command.help(path: path)) }
    // Every flag checked before any request: an unknown flag changes nothing.
    _ = try Arguments(Array(rest), spec: command.spec)
    return .run(path: path, words: Array(rest))
}

/// An engine message in slipctl's words: each method it names (`list images with image/list`)
/// that slipctl has a command for becomes that command (`slipctl image list`); the others stay.
func inSlipctlWords(_ message: String) -> String {
    var out = message
    for method in SlipwayMethods.all.map({ $0.method }) where out.contains(method) {
        let words = method.split(separator: "/").map(String.init)
        guard CommandTable.find(words) != nil,
              let pattern = try? NSRegularExpression(pattern: "(?<![A-Za-z0-9/_-])" + NSRegularExpression.escapedPattern(for: method) + "(?![A-Za-z0-9/_-])")  // a fixed, escaped pattern: it compiles
        else { continue }
        out = pattern.stringByReplacingMatches(in: out, range: NSRange(out.startIndex..., in: out), withTemplate: "slipctl " + words.joined(separator: " "))
    }
    return out
}
