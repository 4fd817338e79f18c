/// `slipctl completion bash|zsh`: a script completing commands, verbs and flags.
let completionTree: [(String, [String])] = [
    ("image", ["create", "patch", "save", "list", "status", "delete", "trigger"]),
    ("build", ["list", "status", "logs", "sbom"]),
    ("clusterstack", ["create", "patch", "save", "list", "status", "delete"]),
    ("clusterstore", ["create", "add", "remove", "save", "list", "status", "delete"]),
    ("clusterbuilder", ["create", "patch", "save", "list", "status", "delete"]),
    ("builder", ["create", "patch", "save", "list", "status", "delete"]),
    ("secret", ["create", "list", "delete"]),
    ("buildrun", ["submit", "list", "get", "logs", "events", "delete"]),
    ("export", []),
    ("completion", ["bash", "zsh"]),
]

let completionFlags = "--namespace --tag --additional-tag --git --git-revision --blob --local-path --sub-path --builder --cluster-builder --custom-builder --custom-cluster-builder --env --delete-env --success-build-history-limit --failed-build-history-limit --wait --dry-run --output --build --timestamps --format --output-dir --filter --all-namespaces --build-image --run-image --buildpackage --buildpack --stack --store --order --registry --registry-user --dockerhub --git-url --git-user --git-ssh-key --kpack --name --image --source --strategy --dockerfile --timeout --follow"

func completionScript(_ shell: String) throws -> String {
    let commands = completionTree.map(\.0).joined(separator: " ")
    let cases = completionTree.map { "        \($0.0)) words=\"\($0.1.joined(separator: " "))\" ;;" }.joined(separator: "\n")
    let bash = """
        # slipctl completion for bash: source <(slipctl completion bash)
        _slipctl() {
            local cur=${COMP_WORDS[COMP_CWORD]} words=""
            if [ "$COMP_CWORD" -eq 1 ]; then
                words="\(commands)"
            elif [ "$COMP_CWORD" -eq 2 ]; then
                case ${COMP_WORDS[1]} in
        \(cases)
                esac
            fi
            if [[ $cur == -* ]]; then words="\(completionFlags)"; fi
            COMPREPLY=($(compgen -W "$words" -- "$cur"))
        }
        complete -F _slipctl slipctl
        complete -F _slipctl kp

        """
    switch shell {
    case "bash": return bash
    case "zsh": return "#compdef slipctl kp\n# slipctl completion for zsh: source <(slipctl completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n" + bash
    default: throw Arguments.Failure(message: "unknown shell \"\(shell)\": use bash or zsh")
    }
}
