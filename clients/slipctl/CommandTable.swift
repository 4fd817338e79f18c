import Foundation

// Every command slipctl has, with its usage, flags and an example, in one table: help, the
// check of a command line before it runs ("did you mean"), the flags a command accepts, and
// shell completion all read it, so they cannot disagree. To add a command: add a `Command` to
// its group's `subcommands` below (or a new group to `CommandTable.root`), reusing the `Flag`s
// of this file or adding one, then one dispatch line in main.swift.

/// What a word on the command line is completed with.
enum CompletionSource: Equatable {
    /// Names the engine knows, asked for at completion time.
    case images, builders, clusterBuilders, clusterStacks, clusterStores, secrets, buildRuns
    /// File and folder paths (the shell completes them).
    case files
    /// A fixed list of words.
    case words([String])
}

/// One flag of a command: what help prints and what `Arguments` accepts.
struct Flag {
    let name: String
    var short: Character? = nil
    /// The value's type as cobra prints it (`string`, `stringArray`, `int`), nil for a boolean flag.
    var value: String? = "string"
    let help: String
    var completion: CompletionSource? = nil

    func withShort(_ s: Character) -> Flag { var f = self; f.short = s; return f }
    func described(_ text: String) -> Flag { Flag(name: name, short: short, value: value, help: text, completion: completion) }
    static func bool(_ name: String, _ help: String) -> Flag { Flag(name: name, value: nil, help: help) }

    static let namespace = Flag(name: "namespace", short: "n", help: "namespace (default \"default\")")
    static let output = Flag(name: "output", help: "print the resource as json or yaml", completion: .words(["json", "yaml"]))
    static let dryRun = bool("dry-run", "only print what would be done, change nothing")
    static let build = Flag(name: "build", short: "b", value: "int", help: "build number (default the latest)")
}

/// One command (`image create`) or group of commands (`image`), as cobra describes one.
struct Command {
    let name: String
    /// One line: what the command does.
    let summary: String
    /// The arguments after the command's words (`<name> [<tag>]`); empty when it takes none.
    var arguments: String = ""
    /// What the first argument is completed with.
    var argumentCompletion: CompletionSource? = nil
    var flags: [Flag] = []
    /// Command lines that show it in use (from the seed's examples where it has them).
    let examples: [String]
    var subcommands: [Command] = []

    var isGroup: Bool { !subcommands.isEmpty }
    func subcommand(_ word: String) -> Command? { subcommands.first { $0.name == word } }
    func flag(_ name: String) -> Flag? { flags.first { $0.name == name } }

    /// The flags as `Arguments` reads them.
    var spec: Arguments.Spec {
        var spec = Arguments.Spec(values: Set(flags.filter { $0.value != nil }.map(\.name)), booleans: Set(flags.filter { $0.value == nil }.map(\.name)))
        spec.short = Dictionary(flags.compactMap { f in f.short.map { ($0, f.name) } }, uniquingKeysWith: { first, _ in first })
        return spec
    }
}

/// The table itself.
enum CommandTable {
    static let program = "slipctl"

    private static let imageSourceFlags: [Flag] = [
        Flag(name: "tag", help: "the registry location (or oci:DIR[:TAG]) the image is written to; cannot change after create"),
        Flag(name: "additional-tag", value: "stringArray", help: "another location the image is written to (repeatable)"),
        Flag(name: "git", help: "git repository url of the source code"),
        Flag(name: "git-revision", help: "the git revision (branch, tag or commit sha) to build (default \"master\")"),
        Flag(name: "blob", help: "url of the source code blob file (zip, tar.gz, tar or jar)"),
        Flag(name: "local-path", help: "path to local source code: a folder or an archive", completion: .files),
        Flag(name: "sub-path", help: "build the code at this path inside the source"),
        Flag(name: "builder", help: "the namespaced Builder to build with", completion: .builders),
        Flag(name: "cluster-builder", help: "the ClusterBuilder to build with (default \"default\")", completion: .clusterBuilders),
        Flag(name: "custom-builder", help: "the namespaced Builder to build with (kp's older name for --builder)", completion: .builders),
        Flag(name: "custom-cluster-builder", help: "the ClusterBuilder to build with (kp's older name for --cluster-builder)", completion: .clusterBuilders),
        Flag(name: "env", value: "stringArray", help: "build-time environment variable KEY=VALUE (repeatable)"),
        Flag(name: "delete-env", value: "stringArray", help: "an environment variable to remove (repeatable)"),
        Flag(name: "success-build-history-limit", value: "int", help: "successful builds kept (default 10)"),
        Flag(name: "failed-build-history-limit", value: "int", help: "failed builds kept (default 10)"),
        .namespace, .output, .dryRun,
        .bool("wait", "follow the build's logs until it ends"),
    ]

    static let image = Command(
        name: "image", summary: "Image commands: build configurations and their builds",
        examples: ["slipctl image list", "slipctl image create my-image --tag oci:/tmp/images/my-image --local-path ."],
        subcommands: [
            Command(name: "create", summary: "Create an image configuration and start its first build", arguments: "<name> [<tag>]", flags: imageSourceFlags,
                    examples: ["slipctl image create my-image my-registry.com/my-repo --custom-cluster-builder default --git https://github.com/me/app --git-revision main",
                               "slipctl image create my-image oci:/tmp/images/my-image --local-path ./app --env GREETING=hello --wait"]),
            Command(name: "patch", summary: "Patch an image configuration (a build starts when a build input changed)", arguments: "<name>",
                    argumentCompletion: .images, flags: imageSourceFlags.filter { $0.name != "tag" },
                    examples: ["slipctl image patch my-image --env GREETING=hi --local-path ./app"]),
            Command(name: "save", summary: "Create an image configuration, or patch it when it exists", arguments: "<name> [<tag>]",
                    argumentCompletion: .images, flags: imageSourceFlags,
                    examples: ["slipctl image save my-image --tag oci:/tmp/images/my-image --local-path ./app"]),
            Command(name: "list", summary: "List image configurations",
                    flags: [.namespace, .bool("all-namespaces", "list the images of every namespace").withShort("A"),
                            Flag(name: "filter", value: "stringArray", help: "only rows where key=value (builder, clusterbuilder, latest-reason, ready)"), .output],
                    examples: ["slipctl image list --namespace default", "slipctl image list -A --filter ready=True"]),
            Command(name: "status", summary: "Show an image's status and its last builds", arguments: "<name>", argumentCompletion: .images,
                    flags: [.namespace, .output], examples: ["slipctl image status my-image"]),
            Command(name: "delete", summary: "Delete an image configuration with its builds and logs", arguments: "<name>", argumentCompletion: .images,
                    flags: [.namespace], examples: ["slipctl image delete my-image"]),
            Command(name: "trigger", summary: "Start a build of an image (reason TRIGGER)", arguments: "<name>", argumentCompletion: .images,
                    flags: [.namespace, .bool("wait", "follow the build's logs until it ends")], examples: ["slipctl image trigger my-image --wait"]),
            Command(name: "inspect", summary: "Show a built image as pack inspect does: stack, base image, buildpacks, processes, config, labels, layers",
                    arguments: "<name>", argumentCompletion: .images, flags: [.namespace, .build, .output],
                    examples: ["slipctl image inspect my-image", "slipctl image inspect my-image -b 2 --output json"]),
        ])

    static let build = Command(
        name: "build", summary: "Build commands: an image's builds, their status and logs",
        examples: ["slipctl build list my-image"],
        subcommands: [
            Command(name: "list", summary: "List the builds of an image", arguments: "<image-name>", argumentCompletion: .images,
                    flags: [.namespace, .output], examples: ["slipctl build list my-image"]),
            Command(name: "status", summary: "Show a build's details: reasons, builder, run image, source and buildpacks", arguments: "<image-name>",
                    argumentCompletion: .images, flags: [.namespace, .build, .output], examples: ["slipctl build status my-image -b 1"]),
            Command(name: "logs", summary: "Print a build's logs, following it until it ends", arguments: "<image-name>", argumentCompletion: .images,
                    flags: [.namespace, .build, .bool("timestamps", "print each line's time").withShort("t")],
                    examples: ["slipctl build logs my-image --build 1"]),
            Command(name: "sbom", summary: "Write a build's SBOM documents under a folder, as pack sbom download does", arguments: "<image-name>",
                    argumentCompletion: .images,
                    flags: [.namespace, .build, Flag(name: "format", help: "only this format: cdx, spdx or syft", completion: .words(["cdx", "spdx", "syft"])),
                            Flag(name: "output-dir", help: "the folder to write under (default \".\")", completion: .files)],
                    examples: ["slipctl build sbom my-image -b 2 --format cdx --output-dir ./sbom"]),
            Command(name: "cancel", summary: "Cancel a build that is queued or building", arguments: "<image-name>", argumentCompletion: .images,
                    flags: [.namespace, .build, .output], examples: ["slipctl build cancel my-image -b 3"]),
            Command(name: "wait", summary: "Wait for a build to end; exit 1 unless it succeeded", arguments: "<image-name>", argumentCompletion: .images,
                    flags: [.namespace, .build, Flag(name: "timeout", help: "how long to wait: seconds, or 90s, 10m, 1h"), .output],
                    examples: ["slipctl build wait my-image --timeout 10m"]),
        ])

    /// clusterstack, clusterstore, clusterbuilder and builder share their verbs' shapes.
    private static func resource(_ kind: String, title: String, names: CompletionSource, writeFlags: [Flag], examples: [String: String],
                                 namespaced: Bool = false, storeVerbs: Bool = false) -> Command {
        let ns: [Flag] = namespaced ? [.namespace] : []
        func write(_ verb: String, _ summary: String) -> Command {
            Command(name: verb, summary: summary, arguments: "<name>", argumentCompletion: verb == "create" ? nil : names,
                    flags: writeFlags + ns + [.dryRun, .output], examples: [examples[verb] ?? "slipctl \(kind) \(verb) my-\(kind)"])
        }
        var verbs = [write("create", "Create a \(title)")]
        if storeVerbs {
            verbs.append(write("add", "Add buildpackages to a \(title)"))
            verbs.append(Command(name: "remove", summary: "Remove buildpacks (by id) from a \(title)", arguments: "<name>", argumentCompletion: names,
                                 flags: writeFlags + [.output], examples: [examples["remove"] ?? ""]))
            verbs.append(write("save", "Create a \(title), or add to it when it exists"))
        } else {
            verbs.append(write("patch", "Patch a \(title)"))
            verbs.append(write("save", "Create a \(title), or patch it when it exists"))
        }
        verbs += [
            Command(name: "list", summary: "List \(title)s", flags: ns + [.output], examples: ["slipctl \(kind) list"]),
            Command(name: "status", summary: "Show a \(title)'s status", arguments: "<name>", argumentCompletion: names, flags: ns + [.output],
                    examples: ["slipctl \(kind) status \(examples["name"] ?? "my-\(kind)")"]),
            Command(name: "delete", summary: "Delete a \(title)", arguments: "<name>", argumentCompletion: names,
                    flags: ns + (kind == "clusterstack" ? [.bool("force", "delete it even though builders use it")] : []),
                    examples: ["slipctl \(kind) delete \(examples["name"] ?? "my-\(kind)")"]),
        ]
        return Command(name: kind, summary: "\(title) commands", examples: ["slipctl \(kind) list"], subcommands: verbs)
    }

    private static let builderFlags: [Flag] = [
        Flag(name: "stack", help: "the ClusterStack to build on", completion: .clusterStacks),
        Flag(name: "store", help: "the ClusterStore the buildpacks come from", completion: .clusterStores),
        Flag(name: "order", help: "a file with the detection order (kpack's order YAML, or JSON)", completion: .files),
        Flag(name: "buildpack", short: "b", value: "stringArray", help: "a buildpack id[@version] of a one-group order (repeatable)"),
        Flag(name: "tag", help: "publish the builder image at this registry location"),
        Flag(name: "image", help: "take the builder from this builder image instead"),
    ]

    static let clusterStack = resource("clusterstack", title: "ClusterStack", names: .clusterStacks,
        writeFlags: [Flag(name: "build-image", help: "the build image: a registry reference or oci:DIR[:TAG]", completion: .files),
                     Flag(name: "run-image", help: "the run image: a registry reference or oci:DIR[:TAG]", completion: .files)],
        examples: ["create": "slipctl clusterstack create base --build-image oci:/tmp/stack/build --run-image oci:/tmp/stack/run",
                   "patch": "slipctl clusterstack patch base --run-image oci:/tmp/stack/run:v2", "name": "base"])
    static let clusterStore = resource("clusterstore", title: "ClusterStore", names: .clusterStores,
        writeFlags: [Flag(name: "buildpackage", short: "b", value: "stringArray", help: "a buildpack folder, .tgz or .cnb archive (repeatable)", completion: .files)],
        examples: ["create": "slipctl clusterstore create default -b ./buildpacks/procfile", "add": "slipctl clusterstore add default -b ./buildpacks/node.tgz",
                   "remove": "slipctl clusterstore remove default -b slipway/procfile", "name": "default"],
        storeVerbs: true)
    static let clusterBuilder = resource("clusterbuilder", title: "ClusterBuilder", names: .clusterBuilders, writeFlags: builderFlags,
        examples: ["create": "slipctl clusterbuilder create default --stack base --store default --order ./order.yaml",
                   "patch": "slipctl clusterbuilder patch default --store default -b slipway/procfile", "name": "default"])
    static let builder = resource("builder", title: "Builder", names: .builders, writeFlags: builderFlags,
        examples: ["create": "slipctl builder create project-builder -n default --stack base --store default -b slipway/procfile",
                   "patch": "slipctl builder patch project-builder -n default --order ./order.yaml", "name": "project-builder"],
        namespaced: true)

    static let secret = Command(
        name: "secret", summary: "Secret commands: registry and git credentials (never shown)",
        examples: ["slipctl secret list"],
        subcommands: [
            Command(name: "create", summary: "Create a registry or git secret (the password from the environment, or asked on the terminal)",
                    arguments: "<name>",
                    flags: [.namespace,
                            Flag(name: "registry", help: "the registry server (password from REGISTRY_PASSWORD)"),
                            Flag(name: "registry-user", help: "the registry user name"),
                            Flag(name: "dockerhub", help: "a Docker Hub user name (password from DOCKER_PASSWORD)"),
                            Flag(name: "git-url", help: "the git server url (password from GIT_PASSWORD)"),
                            Flag(name: "git-user", help: "the git user name"),
                            Flag(name: "git-ssh-key", help: "a file with the ssh private key for git", completion: .files),
                            .output],
                    examples: ["REGISTRY_PASSWORD=… slipctl secret create my-registry --registry registry.example.com --registry-user me"]),
            Command(name: "list", summary: "List secrets (names and targets only)", flags: [.namespace, .output], examples: ["slipctl secret list"]),
            Command(name: "delete", summary: "Delete a secret", arguments: "<name>", argumentCompletion: .secrets, flags: [.namespace],
                    examples: ["slipctl secret delete my-registry"]),
        ])

    private static let runName = Flag(name: "name", short: "n", help: "the build run's name", completion: .buildRuns)
    private static let runNamespace = Flag(name: "namespace", help: "namespace (default \"default\")")

    static let buildRun = Command(
        name: "buildrun", summary: "Build run commands: one-off builds, as a code engine's buildrun",
        examples: ["slipctl buildrun list"],
        subcommands: [
            Command(name: "submit", summary: "Submit a build run (a code engine's buildrun submit)", arguments: "[<name>]",
                    flags: [runName.described("the build run's name (default a generated one)"), runNamespace,
                            Flag(name: "build", short: "b", help: "run the build configuration of this image (a code engine's build)", completion: .images),
                            Flag(name: "image", short: "i", help: "the image reference the build writes (registry host/repository:tag, or oci:DIR[:TAG])"),
                            Flag(name: "source", help: "a git URL (https://, git@, ssh://, …, or ending in .git) or a local folder", completion: .files),
                            Flag(name: "commit", help: "the branch, tag or commit of a git source (default the remote's default branch)"),
                            Flag(name: "context-dir", help: "the folder inside the source the build starts from"),
                            Flag(name: "git", help: "git repository url of the source code (older spelling of a git --source)"),
                            Flag(name: "git-revision", help: "the git revision to build (older spelling of --commit)"),
                            Flag(name: "strategy", help: "buildpacks or dockerfile (a code engine's kaniko and buildpacks-v3 are taken too)",
                                 completion: .words(["buildpacks", "dockerfile", "kaniko", "buildpacks-v3"])),
                            Flag(name: "dockerfile", help: "the Dockerfile's path in the source (sets strategy dockerfile)"),
                            Flag(name: "registry-secret", help: "the registry secret to push with (checked to be for the image's registry)", completion: .secrets),
                            Flag(name: "builder", help: "the namespaced Builder to build with", completion: .builders),
                            Flag(name: "cluster-builder", help: "the ClusterBuilder to build with", completion: .clusterBuilders),
                            Flag(name: "tag", help: "older name of --image"),
                            Flag(name: "env", short: "e", value: "stringArray", help: "build-time environment variable KEY=VALUE (repeatable)"),
                            Flag(name: "timeout", help: "how long the build may take: seconds, or 90s, 10m, 1h"),
                            Flag(name: "wait-timeout", help: "how long --wait waits: seconds, or 90s, 10m, 1h"),
                            Flag(name: "output", short: "o", help: "print the resource as json or yaml", completion: .words(["json", "yaml"])),
                            Flag.bool("wait", "wait for the build run to end").withShort("w")],
                    examples: ["slipctl buildrun submit --name once --source https://github.com/org/app --commit main --image registry.example.com/app:1 --wait",
                               "slipctl buildrun submit --build hello --wait"]),
            Command(name: "list", summary: "List build runs", flags: [runNamespace, .output], examples: ["slipctl buildrun list"]),
            Command(name: "get", summary: "Show a build run", arguments: "[<name>]", argumentCompletion: .buildRuns, flags: [runName, runNamespace, .output],
                    examples: ["slipctl buildrun get -n once"]),
            Command(name: "logs", summary: "Print a build run's logs", arguments: "[<name>]", argumentCompletion: .buildRuns,
                    flags: [runName, runNamespace, Flag.bool("follow", "follow the logs until the run ends").withShort("f")],
                    examples: ["slipctl buildrun logs -n once --follow"]),
            Command(name: "events", summary: "Show a build run's system events", arguments: "[<name>]", argumentCompletion: .buildRuns,
                    flags: [runName, runNamespace], examples: ["slipctl buildrun events -n once"]),
            Command(name: "cancel", summary: "Cancel a build run that is queued or building", arguments: "[<name>]", argumentCompletion: .buildRuns,
                    flags: [runName, runNamespace], examples: ["slipctl buildrun cancel -n once"]),
            Command(name: "delete", summary: "Delete a build run", arguments: "[<name>]", argumentCompletion: .buildRuns, flags: [runName, runNamespace],
                    examples: ["slipctl buildrun delete -n once"]),
        ])

    static let export = Command(
        name: "export", summary: "Print the namespace's configuration as kpack v1alpha2 YAML (kubectl apply -f)",
        flags: [.namespace, .bool("kpack", "kpack's resources (the only format so far)")],
        examples: ["slipctl export --kpack -n default > kpack.yaml"])

    static let completion = Command(
        name: "completion", summary: "Print a shell completion script (bash, zsh or fish)", arguments: "bash|zsh|fish",
        argumentCompletion: .words(["bash", "zsh", "fish"]),
        examples: ["source <(slipctl completion bash)", "slipctl completion fish > ~/.config/fish/completions/slipctl.fish"])

    static let version = Command(name: "version", summary: "Print slipctl's version and the engine's", examples: ["slipctl version"])

    static let events = Command(
        name: "events", summary: "List system events, as kubectl get events shows them",
        flags: [.namespace, Flag(name: "since", help: "only events since then: 5m, 2h, or an RFC 3339 time"),
                Flag(name: "for", help: "only events of this object: kind/name (Image/my-image)"),
                Flag(name: "type", help: "only Normal or Warning events", completion: .words(["Normal", "Warning"])),
                Flag(name: "reason", help: "only events of this reason"), .output],
        examples: ["slipctl events --since 10m", "slipctl events --for Image/my-image --type Warning"])

    static let quota = Command(name: "quota", summary: "Show what a namespace holds against its quota", flags: [.namespace, .output],
                               examples: ["slipctl quota -n default"])

    static let system = Command(
        name: "system", summary: "System commands: storage use and garbage collection",
        examples: ["slipctl system df"],
        subcommands: [
            Command(name: "df", summary: "Show the storage the state directory uses, as docker system df does", flags: [.output],
                    examples: ["slipctl system df"]),
            Command(name: "gc", summary: "Delete what no image, stack, store or build needs", flags: [.output, .dryRun],
                    examples: ["slipctl system gc --dry-run"]),
        ])

    static let importDescriptor = Command(
        name: "import", summary: "Create or update the stacks, stores and builders of a kp dependency descriptor",
        flags: [Flag(name: "filename", short: "f", help: "the descriptor (YAML or JSON)", completion: .files), .dryRun],
        examples: ["slipctl import -f dependencies.yaml"])

    static let help = Command(name: "help", summary: "Help about any command", arguments: "[command]", examples: ["slipctl help image create"])

    static let root = Command(
        name: program, summary: "slipctl: kp's command line, on Slipway (alias kp=slipctl).\nThe engine is the one of --state-dir, else of $SLIPWAY_HOME, else of slipway's default state directory.",
        // Taken off the line before a command is looked up (`takeStateDirectory`): any command takes it.
        flags: [Flag(name: "state-dir", help: "the state directory whose engine to use (instead of $SLIPWAY_HOME)", completion: .files)],
        examples: ["slipctl image create my-image --tag oci:/tmp/images/my-image --local-path .", "slipctl build logs my-image"],
        subcommands: [image, build, clusterStack, clusterStore, clusterBuilder, builder, secret, buildRun, events, quota, system, importDescriptor,
                      export, completion, version, help])

    /// The command at `path` (`["image", "create"]`), nil when a word names none.
    static func find(_ path: [String]) -> Command? {
        var command = root
        for word in path {
            guard let next = command.subcommand(word) else { return nil }
            command = next
        }
        return command
    }

    /// The flags of the command at `path`, as `Arguments` reads them (none for a path not in the table).
    static func spec(_ path: String...) -> Arguments.Spec {
        find(path)?.spec ?? Arguments.Spec(values: [], short: [:])
    }

    /// Every command path of the table, groups and their verbs (`["image"]`, `["image", "create"]`, …).
    static var allPaths: [[String]] {
        root.subcommands.flatMap { group in [[group.name]] + group.subcommands.map { [group.name, $0.name] } }
    }
}
