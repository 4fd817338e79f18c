import Foundation
import JSONRPC
import Testing
import TestSupport

/// slipctl, kp's command line on Slipway: every `kp` command line of the seed (kp "Managing
/// Images and Builds", extracted into Fixtures/kp-seed-commands.txt) runs verbatim against a
/// real engine, with a real git repository, a blob served over HTTP, a local folder, a
/// namespaced Builder and the ClusterBuilder `default`; the tables and blocks have the seed's
/// columns and lines; bad flags get kp's errors.
@Suite struct KpSeedTests {
    static var slipctl: String { Repo.binDir.appendingPathComponent("slipctl").path }

    /// Runs slipctl with `words` against the engine of `state`.
    static func kp(_ words: [String], state: String, cwd: String? = nil) async throws -> (status: Int32, out: String, err: String) {
        let quoted = words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try await sh("SLIPWAY_HOME='\(state)' '\(slipctl)' \(quoted)", cwd: cwd)
    }

    /// Collapses runs of spaces: the seed prints its tables with single spaces.
    static func words(_ line: Substring) -> String { line.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }

    @Test func everyCommandOfTheSeedRuns() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)  // starts the engine (no network for builds), as slipctl finds it
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("builder/create", ["name": "project-builder", "namespace": "default", "stack": "base", "store": "default",
                                                     "order": [["group": [["id": "slipway/build-script", "optional": true], ["id": "slipway/procfile"]]]]])
        let app = HelloApp.path
        // A git repository and a blob of the same app.
        let work = TempDir("kpseed")
        let repo = work.path + "/repo"
        #expect(try await sh("cp -r '\(app)' '\(repo)' && cd '\(repo)' && git init -q -b main && git -c user.email=t@example.invalid -c user.name=t add -A && git -c user.email=t@example.invalid -c user.name=t commit -qm app").status == 0)
        try FileManager.default.createDirectory(atPath: work.path + "/served", withIntermediateDirectories: true)
        #expect(try await sh("tar -czf '\(work.path)/served/app.tar.gz' -C '\(app)' .").status == 0)
        let server = try FixtureServer("http_file_server.py", [work.path + "/served"])

        let lines = try String(contentsOf: Repo.fixtures.appendingPathComponent("kp-seed-commands.txt"), encoding: .utf8)
            .split(separator: "\n").filter { $0.hasPrefix("kp ") }.map(String.init)
        #expect(lines.count == 17)
        var created = 0
        var outputs: [String: (status: Int32, out: String, err: String)] = [:]
        for line in lines {
            var words = line.split(separator: " ").dropFirst().map(String.init)
            let verb = words.prefix(2).joined(separator: " ")
            if verb == "image create" { created += 1 }
            let name: String
            switch verb {
            case "image create": name = "seed-\(created)"
            case "image patch": name = ["--git": "seed-1", "--local-path": "seed-3", "--blob": "seed-5"].first { line.contains($0.key) }!.value
            default: name = "seed-3"
            }
            let values = ["<name>": name, "<image-name>": name, "<image>": name, "<tag>": "oci:\(work.path)/layouts/\(name):latest",
                          "<custom-builder>": "project-builder", "<custom-cluster-builder>": "default", "<namespace>": "default",
                          "<env>": "GREETING=hello", "<git-repo>": "file://\(repo)", "<git-revision>": "main", "<source-path>": app,
                          "<blob-url>": "http://127.0.0.1:\(server.port)/app.tar.gz", "<build-number>": "1"]
            words = words.map { values[$0] ?? $0 }
            let r = try await Self.kp(words, state: state.path)
            outputs[line] = r
            if line == "kp image patch --local-path <source-path>" {
                // As in kp: the name is missing (the seed's prose shortens the command).
                #expect(r.status == 1 && r.err == "Error: accepts 1 arg(s), received 0\n", "\(line): \(r)")
            } else {
                #expect(r.status == 0, "\(line) → \(words): \(r.err)")
            }
            if verb == "image create" {
                #expect(r.out == "Image Resource \"\(name)\" created\n", "\(r)")
                // Its first build, before the next command (as a user waits for one).
                let b = try await engine.call("build/wait", ["image": .string(name), "build": 1])
                #expect(b["status"] == "SUCCESS", "\(name): \(JSONWriter.string(b))")
            }
        }
        // image list: NAME READY LATEST IMAGE, one row per image.
        let list = outputs["kp image list --namespace <namespace>"]!.out.split(separator: "\n")
        #expect(Self.words(list[0]) == "NAME READY LATEST IMAGE", "\(list)")
        #expect(list.count == 7 && list.dropFirst().allSatisfy { Self.words($0).split(separator: " ").count == 3 }, "\(list)")
        #expect(list.dropFirst().allSatisfy { Self.words($0).split(separator: " ")[1] == "True" }, "\(list)")
        // image trigger: kp's message.
        #expect(outputs["kp image trigger <image-name>"]!.out == "Triggered build for Image Resource \"seed-3\" with Build Number 2\n",
                "\(outputs["kp image trigger <image-name>"]!)")
        // image status: the seed's lines, in order.
        let status = outputs["kp image status <image-name>"]!.out.split(separator: "\n").map { String($0.split(separator: ":").first ?? "") }
        #expect(status == ["Status", "Message", "LatestImage", "Last Successful Build", "Id", "Reason", "Last Failed Build", "Id", "Reason"], "\(status)")
        // build list: the seed's columns.
        let builds = outputs["kp build list <image-name>"]!.out.split(separator: "\n")
        #expect(Self.words(builds[0]) == "BUILD STATUS IMAGE STARTED FINISHED REASON", "\(builds)")
        #expect(Self.words(builds[1]).hasPrefix("1 SUCCESS oci:") && Self.words(builds[1]).hasSuffix(" CONFIG"), "\(builds)")
        // build status: the seed's lines, then the buildpacks table.
        let bs = outputs["kp build status <image> -b <build-number>"]!.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(bs.prefix(8).map { String($0.split(separator: ":").first ?? "") } == ["Image", "Status", "Reasons", "Builder", "Run Image", "Source", "Url", "Revision"], "\(bs)")
        #expect(bs[1] == "Status: SUCCESS" && bs[2] == "Reasons: CONFIG" && bs[5] == "Source: Local Source")
        #expect(Self.words(bs[9][...]) == "BUILDPACK ID BUILDPACK VERSION" && bs.contains { Self.words($0[...]) == "slipway/procfile 0.1.0" }, "\(bs)")
        // build logs: the build's lines, as the seed's example.
        let logs = outputs["kp build logs <image> --build <build-number>"]!.out
        #expect(logs.hasPrefix("===> PREPARE\n") && logs.contains("===> DETECT\n") && logs.hasSuffix("Build successful\nBuild 1 succeeded: 4 layer(s) added, 0 reused\n"), "\(logs)")
        // image delete: kp's message.
        #expect(outputs["kp image delete <image>"]!.out == "\"seed-3\" deleted\n")
    }

    @Test func badFlagsAndArgumentsGetKpsErrors() async throws {
        let state = TempDir("state")
        let cases: [([String], String)] = [
            (["image", "create", "x", "--nope"], "Error: unknown flag: --nope\n"),
            (["image", "status"], "Error: accepts 1 arg(s), received 0\n"),
            (["image", "create", "x", "--git", "a", "--blob", "b"], "Error: image source must be one of git, blob, or local-path\n"),
            (["image", "list", "--output", "xml"], "Error: invalid output format \"xml\": use json or yaml\n"),
            (["image", "frobnicate"], "Error: unknown command \"frobnicate\" for \"slipctl image\"\n"),
            (["build", "status", "x", "-b", "one"], "Error: invalid argument \"one\" for \"-b, --build\" flag: not a number\n"),
            (["image", "status", "missing"], "Error: image 'missing' not found in namespace 'default'"),
        ]
        for (words, expected) in cases {
            let r = try await Self.kp(words, state: state.path)
            #expect(r.status == 1 && r.err.hasPrefix(expected) && r.out.isEmpty, "\(words): \(r)")
        }
        _ = try? await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'")  // it would stop when idle anyway
    }

    /// `--output` sends only the resource to stdout, and the message to stderr.
    @Test func outputSendsOnlyTheResource() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        let app = HelloApp.path
        let r = try await Self.kp(["image", "create", "out", "--local-path", app, "--output", "json", "--dry-run"], state: state.path)
        #expect(r.status == 0 && r.err == "Image Resource \"out\" created (dry run)\n", "\(r)")
        let resource = try JSONParser.parse(Array(r.out.utf8))
        #expect(resource["name"] == "out" && resource["source"]?["local"]?["path"]?.stringValue == app)
        let y = try await Self.kp(["image", "list", "--output", "yaml"], state: state.path)
        #expect(y.status == 0 && y.out == "[]\n", "\(y)")
    }

    /// The cluster resources, builders and secrets through slipctl, as kp makes them: a stack
    /// from folders, a store from buildpack folders, a ClusterBuilder from a kpack order file,
    /// a namespaced Builder, a registry secret whose password comes from REGISTRY_PASSWORD and
    /// is never printed, and an image built on them with --wait.
    @Test func clusterResourcesBuildersAndSecrets() async throws {
        let state = TempDir("state")
        _ = try SlipwayClient(stateDir: state.path)  // the engine, without network for builds
        let work = TempDir("kpres")
        try """
            - group:
              - id: slipway/build-script
                optional: true
              - id: slipway/procfile
            """.write(toFile: work.path + "/order.yaml", atomically: true, encoding: .utf8)
        let s = state.path
        func ok(_ words: [String], _ expected: String? = nil, env: String = "") async throws -> String {
            let r = env.isEmpty ? try await Self.kp(words, state: s)
                : try await sh("\(env) SLIPWAY_HOME='\(s)' '\(Self.slipctl)' " + words.map { "'\($0)'" }.joined(separator: " "))
            #expect(r.status == 0, "\(words): \(r.err)")
            if let expected { #expect(r.out == expected, "\(words): \(r.out)") }
            return r.out
        }
        _ = try await ok(["clusterstack", "create", "base", "--build-image", HostStack.build, "--run-image", HostStack.run], "ClusterStack \"base\" created\n")
        _ = try await ok(["clusterstore", "create", "default", "-b", Repo.buildpacks.path + "/build-script", "-b", Repo.buildpacks.path + "/procfile"],
                         "ClusterStore \"default\" created\n")
        _ = try await ok(["clusterbuilder", "create", "default", "--stack", "base", "--store", "default", "--order", work.path + "/order.yaml"],
                         "ClusterBuilder \"default\" created\n")
        _ = try await ok(["builder", "create", "mine", "-n", "team", "--stack", "base", "--store", "default", "-b", "slipway/procfile"], "Builder \"mine\" created\n")
        let stacks = try await ok(["clusterstack", "list"]).split(separator: "\n")
        #expect(Self.words(stacks[0]) == "NAME READY ID" && Self.words(stacks[1]) == "base True io.slipway.stacks.base", "\(stacks)")
        let builders = try await ok(["clusterbuilder", "list"]).split(separator: "\n")
        #expect(Self.words(builders[0]) == "NAME READY STACK IMAGE" && Self.words(builders[1]) == "default True io.slipway.stacks.base --", "\(builders)")
        let status = try await ok(["clusterbuilder", "status", "default"])
        #expect(status.contains("Status:       Ready") && status.contains("slipway/build-script"), "\(status)")
        let store = try await ok(["clusterstore", "status", "default"])
        #expect(store.contains("slipway/procfile") && store.contains("BUILDPACKAGE ID"), "\(store)")
        _ = try await ok(["secret", "create", "reg", "--registry", "registry.example.invalid", "--registry-user", "me"], "Secret \"reg\" created\n",
                         env: "REGISTRY_PASSWORD='s3cret-value'")
        let secrets = try await ok(["secret", "list"])
        #expect(Self.words(secrets.split(separator: "\n")[0]) == "NAME TARGET" && secrets.contains("reg") && !secrets.contains("s3cret-value"), "\(secrets)")
        // On a terminal, without the variable, the password is asked for, and not echoed after
        // the prompt (what the pty echoed of input typed ahead comes before it).
        let prompted = try await sh("printf 'typed-secret\\n' | SLIPWAY_HOME='\(s)' script -qec \"'\(Self.slipctl)' secret create typed --registry r2.example.invalid --registry-user me\" /dev/null")
        #expect(prompted.status == 0 && prompted.out.contains("registry password: ") && prompted.out.contains("Secret \"typed\" created")
                && !(prompted.out.components(separatedBy: "registry password: ").last ?? "").contains("typed-secret"),
                "\(prompted.out.debugDescription)")
        // Without the variable and without a terminal, no password is taken from anywhere.
        let noPassword = try await Self.kp(["secret", "create", "x", "--registry", "r.example.invalid", "--registry-user", "me"], state: s)
        #expect(noPassword.status == 1 && noPassword.err.contains("set REGISTRY_PASSWORD"), "\(noPassword)")
        // An image on the namespaced builder, followed to its end.
        let app = HelloApp.path
        let built = try await ok(["image", "create", "app", "--tag", "oci:\(work.path)/app:latest", "--local-path", app, "--builder", "mine", "-n", "team", "--wait"])
        #expect(built.hasPrefix("Image Resource \"app\" created\n===> PREPARE\n") && built.contains("Build successful"), "\(built)")
        _ = try await ok(["secret", "delete", "reg"], "Secret \"reg\" deleted\n")
        _ = try await ok(["image", "delete", "app", "-n", "team"], "\"app\" deleted\n")
        _ = try await ok(["builder", "delete", "mine", "-n", "team"], "Builder \"mine\" deleted\n")
        _ = try await ok(["clusterbuilder", "delete", "default"], "ClusterBuilder \"default\" deleted\n")
    }

    /// `slipctl export --kpack`: a namespace with a stack from folders, a store of local
    /// buildpacks, a ClusterBuilder, a namespaced Builder, a secret, a git image, a local image
    /// and a Dockerfile image becomes kpack v1alpha2 YAML that PyYAML parses, each resource
    /// with only the fields kpack's types define (Fixtures/kpack-v1alpha2-fields.json); what a
    /// cluster cannot take is a comment saying how, and no secret value is written.
    @Test func exportWritesKpackResources() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("builder/create", ["name": "team-builder", "namespace": "default", "stack": "base", "store": "default",
                                                     "order": [["group": [["id": "slipway/procfile", "version": "0.1.0"]]]]])
        _ = try await engine.call("secret/create", ["name": "reg", "registry": ["server": "registry.example.invalid", "username": "me", "password": "s3cret-value"]])
        let work = TempDir("export")
        let app = HelloApp.path
        let repo = work.path + "/repo"
        #expect(try await sh("cp -r '\(app)' '\(repo)' && cd '\(repo)' && git init -q -b main && git -c user.email=t@example.invalid -c user.name=t add -A && git -c user.email=t@example.invalid -c user.name=t commit -qm app").status == 0)
        _ = try await engine.call("image/create", ["name": "from-git", "tag": "registry.example.invalid/team/app", "source": ["git": ["url": .string("file://\(repo)"), "revision": "main"]],
                                                   "env": ["GREETING": "hello"], "successBuildHistoryLimit": 5])
        _ = try await engine.call("image/create", ["name": "from-folder", "source": ["local": ["path": .string(app)]]])
        _ = try await engine.call("image/create", ["name": "from-dockerfile", "strategy": "dockerfile", "source": ["local": ["path": .string(Repo.examples.appendingPathComponent("dockerfile-app").path)]]])
        let exported = try await Self.kp(["export", "--kpack"], state: state.path)
        #expect(exported.status == 0, "\(exported.err)")
        #expect(!exported.out.contains("s3cret-value"), "a secret's value was exported")
        try exported.out.write(toFile: work.path + "/export.yaml", atomically: true, encoding: .utf8)
        let checked = try await sh("/usr/bin/python3 '\(Repo.fixtures.path)/kpack_export_check.py' '\(Repo.fixtures.path)/kpack-v1alpha2-fields.json' < '\(work.path)/export.yaml'")
        #expect(checked.status == 0, "\(checked.out)\n\(exported.out)")
        let result = try JSONParser.parse(Array(checked.out.utf8))
        let kinds = result["kinds"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(kinds.sorted() == ["Builder", "ClusterBuilder", "ClusterStore", "Image"], "\(kinds)\n\(exported.out)")
        let comments = result["comments"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for expected in ["ClusterStack \"base\"", "publish it as a buildpackage", "Image \"from-folder\" is built from a local folder", "Image \"from-dockerfile\" is built from a Dockerfile",
                         "Secret \"reg\" (registry.example.invalid): its values are not exported"] {
            #expect(comments.contains { $0.contains(expected) }, "\(expected) in \(comments)")
        }
        #expect(exported.out.contains("url: \"file://\(repo)\"") && exported.out.contains("name: \"GREETING\""), "\(exported.out)")
    }

    /// `slipctl buildrun` in a code engine's grammar, and `slipctl completion bash`.
    @Test func buildRunsAndCompletion() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        let app = HelloApp.path
        let submitted = try await Self.kp(["buildrun", "submit", "--name", "once", "--source", app, "--wait"], state: state.path)
        #expect(submitted.status == 0 && submitted.out == "Submitting build run 'once' in namespace 'default'...\nBuild run 'once' succeeded\n", "\(submitted)")
        let list = try await Self.kp(["buildrun", "list"], state: state.path)
        #expect(Self.words(list.out.split(separator: "\n")[0]) == "Name Status Image Build Age" && list.out.contains("once") && list.out.contains("SUCCESS"), "\(list)")
        let get = try await Self.kp(["buildrun", "get", "-n", "once"], state: state.path)
        #expect(get.out.contains("Status:     SUCCESS"), "\(get)")
        let logs = try await Self.kp(["buildrun", "logs", "-n", "once"], state: state.path)
        #expect(logs.out.contains("generated bin/hello") && logs.out.hasPrefix("===> PREPARE"), "\(logs)")
        let events = try await Self.kp(["buildrun", "events", "-n", "once"], state: state.path)
        #expect(events.status == 0 && Self.words(events.out.split(separator: "\n")[0]) == "Type Reason Age Message", "\(events)")
        let deleted = try await Self.kp(["buildrun", "delete", "-n", "once"], state: state.path)
        #expect(deleted.out == "Deleted build run 'once'\n")
        #expect(try await Self.kp(["buildrun", "get", "-n", "once"], state: state.path).status == 1)
        // Completion: a bash script that completes commands and verbs.
        let completed = try await sh("source <('\(Self.slipctl)' completion bash); COMP_WORDS=(slipctl image st); COMP_CWORD=2; _slipctl; echo ${COMPREPLY[@]}; COMP_WORDS=(kp clusters); COMP_CWORD=1; _slipctl; echo ${COMPREPLY[@]}")
        #expect(completed.out == "status\nclusterstack clusterstore\n", "\(completed)")
    }

    /// On a terminal (a pty from `script`), `build logs` draws a progress line (spinner, phase,
    /// time) under the lines and ends with the status in color; through a pipe, plain lines.
    @Test func aTerminalGetsAProgressLineAndColor() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("image/create", ["name": "tty", "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(try await engine.call("build/wait", ["image": "tty", "build": 1])["status"] == "SUCCESS")
        let onTerminal = try await sh("SLIPWAY_HOME='\(state.path)' script -qec \"'\(Self.slipctl)' build logs tty\" /dev/null")
        #expect(onTerminal.status == 0, "\(onTerminal)")
        #expect(onTerminal.out.contains("\u{1B}[32m✔ SUCCESS\u{1B}[0m") && onTerminal.out.contains("\u{1B}[2K") && onTerminal.out.contains(" completion · "),
                "\(onTerminal.out.debugDescription)")
        #expect(onTerminal.out.contains("generated bin/hello"))
        let piped = try await Self.kp(["build", "logs", "tty"], state: state.path)
        #expect(!piped.out.contains("\u{1B}") && piped.out.hasSuffix("Build 1 succeeded: 4 layer(s) added, 0 reused\n"), "\(piped.out.debugDescription)")
        let stamped = try await Self.kp(["build", "logs", "tty", "-t"], state: state.path)
        #expect(stamped.out.split(separator: "\n").allSatisfy { $0.hasPrefix("20") && $0.contains("Z ") }, "\(stamped.out)")
        // A patched env is a CONFIG reason whose change build status shows.
        _ = try await engine.call("image/patch", ["name": "tty", "env": ["GREETING": "hi"]])
        #expect(try await engine.call("build/wait", ["image": "tty", "build": 2])["status"] == "SUCCESS")
        let status = try await Self.kp(["build", "status", "tty"], state: state.path).out
        #expect(status.contains("Reasons: CONFIG\n    CONFIG env: ") && status.contains(" -> GREETING=hi"), "\(status)")
    }

    /// `image save` creates, then patches; `image list -A` and `--filter`.
    @Test func saveListAllNamespacesAndFilters() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        let app = HelloApp.path
        let first = try await Self.kp(["image", "save", "one", "--local-path", app], state: state.path)
        #expect(first.out == "Image Resource \"one\" created\n", "\(first)")
        #expect(try await engine.call("build/wait", ["image": "one", "build": 1])["status"] == "SUCCESS")
        let again = try await Self.kp(["image", "save", "one", "--local-path", app], state: state.path)
        #expect(again.out == "Image Resource \"one\" patched (no change)\n", "\(again)")
        _ = try await Self.kp(["image", "create", "two", "-n", "team", "--local-path", app, "--wait"], state: state.path)
        let all = try await Self.kp(["image", "list", "-A"], state: state.path).out.split(separator: "\n").map { Self.words($0) }
        #expect(all.first == "NAMESPACE NAME READY LATEST IMAGE" && all.count == 3 && all.contains { $0.hasPrefix("team two True") }, "\(all)")
        let ready = try await Self.kp(["image", "list", "--filter", "ready=True"], state: state.path).out
        #expect(ready.contains("one") && !ready.contains("two"), "\(ready)")
        let none = try await Self.kp(["image", "list", "--filter", "latest-reason=COMMIT"], state: state.path).out
        #expect(none == "no images found\n", "\(none)")
    }
}
