import Foundation
import Testing
import TestSupport

/// slipctl's help, "did you mean", version and completion, as kp (cobra) gives them: every
/// command of slipctl's command table has usage, flags with descriptions and an example; a
/// group without a verb prints its usage; typos get suggestions; completion covers commands,
/// flags per command, the engine's names and file paths, in bash and fish.
@Suite struct SlipctlHelpTests {
    static let slipctl = KpSeedTests.slipctl

    /// Runs slipctl with `words` and no engine behind it: a state directory under /dev/null cannot be made, even by root.
    static func run(_ words: [String], state: String = "/dev/null/slipway-help-state") async throws -> (status: Int32, out: String, err: String) {
        try await KpSeedTests.kp(words, state: state)
    }

    /// The table's commands, read back through slipctl's own completion of commands and verbs.
    static func tablePaths() async throws -> [[String]] {
        let groups = try await run(["__complete", ""]).out.split(separator: "\n").map(String.init)
        var paths: [[String]] = []
        for group in groups {
            paths.append([group])
            guard try await run([group, "--help"]).out.contains("\nAvailable Commands:\n") else { continue }
            let verbs = try await run(["__complete", group, ""]).out.split(separator: "\n").map(String.init)
            paths += verbs.map { [group, $0] }
        }
        return paths
    }

    @Test func helpBelowTheTopLevel() async throws {
        let create = try await Self.run(["image", "create", "--help"])
        #expect(create.status == 0 && create.err.isEmpty, "\(create)")
        #expect(create.out.hasPrefix("Create an image configuration and start its first build\n\nUsage:\n  slipctl image create <name> [<tag>] [flags]\n\nExamples:\n"), "\(create.out)")
        #expect(create.out.contains("\nFlags:\n") && create.out.contains("      --local-path string ") && create.out.contains("  -n, --namespace string ")
                && create.out.contains("  -h, --help "), "\(create.out)")
        // -h, and `help image create`, say the same.
        #expect(try await Self.run(["image", "create", "-h"]).out == create.out)
        #expect(try await Self.run(["help", "image", "create"]).out == create.out)

        // A group: `image --help`, `help image` and `image` alone print its usage and commands, exit 0 (as cobra).
        let group = try await Self.run(["image", "--help"])
        #expect(group.status == 0 && group.out.contains("Usage:\n  slipctl image [command]\n") && group.out.contains("\nAvailable Commands:\n  create ")
                && group.out.contains("Use \"slipctl image [command] --help\" for more information about a command."), "\(group)")
        for words in [["image"], ["help", "image"], ["image", "-h"]] {
            let r = try await Self.run(words)
            #expect(r.status == 0 && r.out == group.out, "\(words): \(r)")
        }
        // The top level: `slipctl`, `--help`, `help`.
        let top = try await Self.run([])
        #expect(top.status == 0 && top.out.contains("Available Commands:\n") && top.out.contains("  buildrun ") && top.out.contains("  version "), "\(top)")
        #expect(try await Self.run(["--help"]).out == top.out)
        #expect(try await Self.run(["help"]).out == top.out)
    }

    /// Every command the table holds (and so every command the dispatcher can be reached with:
    /// a command line is checked against the table first) has help with a usage line, flags
    /// with a description each, and an example; and each is dispatched, not refused.
    @Test func everyCommandOfTheTableHasHelpAndIsDispatched() async throws {
        let paths = try await Self.tablePaths()
        #expect(paths.count > 40 && paths.contains(["image", "create"]) && paths.contains(["buildrun", "submit"]) && paths.contains(["version"]), "\(paths)")
        let state = TempDir("state")
        for path in paths {
            let r = try await Self.run(path + ["--help"])
            #expect(r.status == 0, "\(path): \(r)")
            let full = (["slipctl"] + path).joined(separator: " ")
            #expect(r.out.contains("\nUsage:\n  \(full) ") && r.out.contains("\nExamples:\n  "), "\(path): \(r.out)")
            let flags = r.out.components(separatedBy: "\nFlags:\n").last!.split(separator: "\n").prefix { $0.hasPrefix("  ") }
            #expect(!flags.isEmpty && flags.allSatisfy { $0.contains(" --") && $0.components(separatedBy: "   ").filter { !$0.isEmpty }.count >= 2 }, "\(path): \(flags)")
            let example = r.out.components(separatedBy: "\nExamples:\n  ").last!.prefix { $0 != "\n" }
            #expect(example.contains("slipctl \(path[0])") || path == ["completion"], "\(path): \(example)")
            guard !r.out.contains("Available Commands:"), path != ["help"] else { continue }
            // Run without arguments (an error of arguments, or a harmless list): never refused as unknown.
            let ran = try await Self.run(path, state: state.path)
            #expect(!ran.err.contains("unknown command") && !ran.err.contains("not dispatched") && !ran.err.contains("unknown flag"), "\(path): \(ran)")
        }
        _ = try? await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'")  // it would stop when idle anyway
    }

    @Test func typosGetDidYouMean() async throws {
        let group = try await Self.run(["imgae", "list"])
        #expect(group.status == 1 && group.out.isEmpty, "\(group)")
        #expect(group.err == "Error: unknown command \"imgae\" for \"slipctl\"\n\nDid you mean this?\n\timage\n\nRun 'slipctl --help' for usage.\n", "\(group.err)")
        let verb = try await Self.run(["image", "craete", "x"])
        #expect(verb.status == 1 && verb.err == "Error: unknown command \"craete\" for \"slipctl image\"\n\nDid you mean this?\n\tcreate\n\nRun 'slipctl image --help' for usage.\n", "\(verb)")
        let clusters = try await Self.run(["clusterstak"])
        #expect(clusters.status == 1 && clusters.err.contains("Did you mean this?\n\tclusterstack\n"), "\(clusters)")
        let none = try await Self.run(["frobnicate"])
        #expect(none.status == 1 && none.err == "Error: unknown command \"frobnicate\" for \"slipctl\"\nRun 'slipctl --help' for usage.\n", "\(none)")
        // An unknown flag is refused before anything runs.
        let flag = try await Self.run(["image", "list", "--nope"])
        #expect(flag.status == 1 && flag.err == "Error: unknown flag: --nope\n", "\(flag)")
    }

    @Test func versionPrintsSlipctlsAndTheEngines() async throws {
        let header = try String(contentsOf: Repo.root.appendingPathComponent("Sources/CSlipwayVersion/include/slipway_version.h"), encoding: .utf8)
        let version = try #require(header.split(separator: "\"").dropFirst().first.map(String.init))
        let state = TempDir("state")
        let r = try await Self.run(["version"], state: state.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.out.hasPrefix("slipctl version \(version)\nengine version \(version) ("), "\(r.out)")
        _ = try? await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'")  // it would stop when idle anyway
    }

    /// Completion from the table (commands, flags per command), from the engine (image and
    /// builder names), and file paths for `--local-path`; bash and fish use the same answers.
    @Test func completionCoversCommandsFlagsNamesAndPaths() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("image/create", ["name": "shop", "source": ["local": ["path": .string(HelloApp.path)]]])
        _ = try await engine.call("image/create", ["name": "site", "source": ["local": ["path": .string(HelloApp.path)]]])
        let files = TempDir("files")
        try FileManager.default.createDirectory(atPath: files.path + "/app-one", withIntermediateDirectories: true)

        func complete(_ words: [String]) async throws -> String {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let r = try await sh("export SLIPWAY_HOME='\(state.path)'; source <('\(Self.slipctl)' completion bash); COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); _slipctl; echo \"${COMPREPLY[*]}\"")
            #expect(r.status == 0, "\(words): \(r)")
            return r.out.trimmingCharacters(in: .newlines)
        }
        #expect(try await complete(["kp", "im"]) == "image import")
        #expect(try await complete(["kp", "ima"]) == "image")
        #expect(try await complete(["kp", "image", "cr"]) == "create")
        // Flags per command: image list has --all-namespaces, not --local-path; image create the reverse.
        let listFlags = try await complete(["kp", "image", "list", "--"]).split(separator: " ")
        #expect(listFlags.contains("--all-namespaces") && !listFlags.contains("--local-path"), "\(listFlags)")
        let createFlags = try await complete(["kp", "image", "create", "x", "--"]).split(separator: " ")
        #expect(createFlags.contains("--local-path") && !createFlags.contains("--all-namespaces"), "\(createFlags)")
        // Names from the engine.
        #expect(try await complete(["kp", "image", "status", "s"]) == "shop site")
        #expect(try await complete(["kp", "build", "logs", "sh"]) == "shop")
        #expect(try await complete(["kp", "image", "create", "x", "--cluster-builder", ""]) == "default")
        // File paths for --local-path.
        #expect(try await complete(["kp", "image", "create", "x", "--local-path", files.path + "/app"]) == files.path + "/app-one")
        // Values of a flag with fixed words.
        #expect(try await complete(["kp", "image", "list", "--output", "y"]) == "yaml")

        // fish: the same answers through `complete -c slipctl`; zsh through bashcompinit.
        let fish = try await Self.run(["completion", "fish"])
        #expect(fish.status == 0 && fish.out.contains("complete -c slipctl -f -a '(__slipctl_complete)'") && fish.out.contains("complete -c kp ")
                && fish.out.contains("__complete $words \"$current\"") && fish.out.contains("__fish_complete_path"), "\(fish)")
        // And fish itself, given the script: commands, flags and the engine's image names.
        let fished = try await sh("""
            export SLIPWAY_HOME='\(state.path)'
            fish -c "source ('\(Self.slipctl)' completion fish | psub); complete -C 'slipctl ima'; complete -C 'kp image list --all'; complete -C 'slipctl image status s'"
            """)
        #expect(fished.status == 0 && fished.out.split(separator: "\n").map(String.init) == ["image", "--all-namespaces", "shop", "site"], "\(fished)")
        let zsh = try await Self.run(["completion", "zsh"])
        #expect(zsh.status == 0 && zsh.out.hasPrefix("#compdef slipctl kp\n") && zsh.out.contains("bashcompinit"), "\(zsh)")
        let unknown = try await Self.run(["completion", "tcsh"])
        #expect(unknown.status == 1 && unknown.err == "Error: unknown shell \"tcsh\": use bash, zsh or fish\n", "\(unknown)")
        // With no engine to ask, completion stays quiet: no names and nothing on stderr.
        let quiet = try await sh("PATH=/usr/bin:/bin SLIPWAY_HOME=/dev/null/slipway-help-state '\(Self.slipctl)' __complete image status ''")
        #expect(quiet.status == 0 && quiet.err.isEmpty, "\(quiet)")
        _ = try? await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'")  // it would stop when idle anyway
    }
}
