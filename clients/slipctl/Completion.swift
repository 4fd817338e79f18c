import Foundation
import SlipwayProtocol

// `slipctl completion bash|zsh|fish`: small scripts that ask slipctl itself what to complete
// (`slipctl __complete WORD… CURRENT`, as cobra's `__complete`), so commands, flags per command,
// and their values come from CommandTable; image, builder and other names from the engine, asked
// at completion time without a word on the terminal.

/// What `__complete` prints instead of words when the shell should complete file paths.
let completeFilesDirective = ":files"

/// How long completion waits for the engine's names before it offers none.
let engineCompletionTimeout: DispatchTimeInterval = .seconds(3)

/// The candidates for `current`, the word being typed, after `words` (the words before it,
/// without the program's name); `[completeFilesDirective]` for a path.
func completionCandidates(_ words: [String], current: String) -> [String] {
    var command = CommandTable.root
    var positional = 0
    var namespace = "default"
    var index = 0
    var pendingFlag: Flag?
    while index < words.count {
        let word = words[index]
        index += 1
        if let flag = pendingFlag {
            if flag.name == "namespace" { namespace = word }
            pendingFlag = nil
        } else if word.hasPrefix("-") {
            let name = word.hasPrefix("--") ? String(word.dropFirst(2).prefix { $0 != "=" }) : nil
            let flag = name.flatMap { command.flag($0) } ?? command.flags.first { word.count == 2 && $0.short == word.last }
            if let flag, flag.value != nil, !word.contains("=") { pendingFlag = flag }
        } else if command.isGroup, let next = command.subcommand(word) {
            command = next
        } else {
            positional += 1
        }
    }
    func matching(_ candidates: [String]) -> [String] { candidates.filter { $0.hasPrefix(current) } }
    if let flag = pendingFlag { return flag.completion.map { values($0, namespace: namespace, prefix: current) } ?? [] }
    if current.hasPrefix("-") {
        if current.hasPrefix("--"), let eq = current.firstIndex(of: "="), let flag = command.flag(String(current.dropFirst(2)[..<eq])), let source = flag.completion {
            let head = String(current[...eq])
            return values(source, namespace: namespace, prefix: String(current[current.index(after: eq)...])).map { $0 == completeFilesDirective ? $0 : head + $0 }
        }
        return matching((command.flags + [Flag.bool("help", "")]).map { "--\($0.name)" })
    }
    if command.isGroup { return matching(command.subcommands.map(\.name)) }
    guard positional == 0, let source = command.argumentCompletion else { return [] }
    return values(source, namespace: namespace, prefix: current)
}

/// The words of a completion source that start with `prefix`.
func values(_ source: CompletionSource, namespace: String, prefix: String) -> [String] {
    switch source {
    case .files: return [completeFilesDirective]
    case .words(let words): return words.filter { $0.hasPrefix(prefix) }
    default: return engineNames(source, namespace: namespace).filter { $0.hasPrefix(prefix) }.sorted()
    }
}

/// Names of the engine's objects of one kind; none when the engine cannot be asked in time
/// (completion offers what it can and never writes an error on the user's terminal).
func engineNames(_ source: CompletionSource, namespace: String) -> [String] {
    /// `@unchecked Sendable`: written by the asking thread before it signals `done`, read only after.
    final class Answer: @unchecked Sendable { var names: [String] = [] }
    let answer = Answer()
    let done = DispatchSemaphore(value: 0)
    Thread {
        defer { done.signal() }
        // No engine, an error, anything: no names. Completion must stay quiet, so the reason is dropped.
        guard let e = try? EngineSession(stateDirectory: nil, quiet: true) else { return }
        defer { e.close() }
        let page = PageParams(limit: 500), inNamespace = NamespaceParams(namespace: namespace, limit: 500)
        let names: [String]? = switch source {
        case .images: try? e.call(ImageList.self, ImageListParams(namespace: namespace)).images.map(\.name)
        case .builders: try? e.call(BuilderList.self, inNamespace).builders.map(\.name)
        case .clusterBuilders: try? e.call(ClusterBuilderList.self, page).builders.map(\.name)
        case .clusterStacks: try? e.call(ClusterStackList.self, page).stacks.map(\.name)
        case .clusterStores: try? e.call(ClusterStoreList.self, page).stores.map(\.name)
        case .secrets: try? e.call(SecretList.self, inNamespace).secrets.map(\.name)
        case .buildRuns: try? e.call(BuildRunList.self, NamespaceParams(namespace: namespace)).buildruns.map(\.name)
        case .files, .words: []
        }
        answer.names = names ?? []
    }.start()
    guard done.wait(timeout: .now() + engineCompletionTimeout) == .success else { return [] }
    return answer.names
}

/// `slipctl completion SHELL`: the script for bash, zsh or fish.
func completionScript(_ shell: String) throws -> String {
    let slipctl = "'" + EngineSession.executablePath().replacingOccurrences(of: "'", with: "'\\''") + "'"
    let bash = """
        # slipctl completion for bash: source <(slipctl completion bash)
        _slipctl() {
            local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\\n'
            local candidates=($(\(slipctl) __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null))
            if [ "${candidates[0]}" = "\(completeFilesDirective)" ]; then
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -- "$cur"))
            else
                COMPREPLY=("${candidates[@]}")
            fi
        }
        complete -F _slipctl slipctl
        complete -F _slipctl kp

        """
    switch shell {
    case "bash": return bash
    case "zsh": return "#compdef slipctl kp\n# slipctl completion for zsh: source <(slipctl completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n" + bash
    case "fish":
        return """
            # slipctl completion for fish: slipctl completion fish > ~/.config/fish/completions/slipctl.fish
            function __slipctl_complete
                set -l words (commandline -opc)
                set -e words[1]
                set -l current (commandline -ct)
                set -l candidates (\(slipctl) __complete $words "$current" 2>/dev/null)
                if test "$candidates[1]" = "\(completeFilesDirective)"
                    __fish_complete_path "$current"
                else
                    printf '%s\\n' $candidates
                end
            end
            complete -c slipctl -f -a '(__slipctl_complete)'
            complete -c kp -f -a '(__slipctl_complete)'

            """
    default: throw Arguments.Failure(message: "unknown shell \"\(shell)\": use bash, zsh or fish")
    }
}
