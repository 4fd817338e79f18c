import Foundation
import JSONRPC
import Testing
import TestSupport

/// `slipctl buildrun` in a code engine's grammar (`ibmcloud ce buildrun submit`): `--source` a
/// git URL or a local folder by its shape, `--commit`, `--context-dir`, `--image` the image the
/// run writes, `--build` a build configuration (a Slipway image); `buildrun get` and `list` show
/// the output image and ages; flags are checked before any request.
@Suite struct SlipctlBuildRunTests {
    static func kp(_ words: [String], _ state: String) async throws -> (status: Int32, out: String, err: String) {
        try await KpSeedTests.kp(words, state: state)
    }

    @Test func aGitSourceWithCommitContextDirAndOutputImage() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        // A repository with the app in `app/`, and a later commit that breaks it: --commit builds the first.
        let work = TempDir("cerun")
        let repo = work.path + "/repo"
        let git = "git -c user.email=t@example.invalid -c user.name=t"
        #expect(try await sh("mkdir -p '\(repo)' && cp -r '\(HelloApp.path)' '\(repo)/app' && cd '\(repo)' && git init -q -b trunk && \(git) add -A && \(git) commit -qm app").status == 0)
        let first = try await sh("cd '\(repo)' && git rev-parse HEAD").out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await sh("cd '\(repo)' && rm -rf app && echo gone > README && \(git) add -A && \(git) commit -qm gone").status == 0)
        let output = "oci:\(work.path)/out:latest"
        let submitted = try await Self.kp(["buildrun", "submit", "--name", "from-git", "--source", "file://\(repo)", "--commit", first, "--context-dir", "app",
                                           "--image", output, "--timeout", "5m", "--wait"], state.path)
        #expect(submitted.status == 0 && submitted.out.hasSuffix("Build run 'from-git' succeeded\n"), "\(submitted)")
        let get = try await Self.kp(["buildrun", "get", "-n", "from-git"], state.path)
        #expect(get.out.contains("Image:      oci:\(work.path)/out@sha256:"), "\(get.out)")
        #expect(get.out.contains("Source:     file://\(repo) @ \(first)"), "\(get.out)")
        #expect(get.out.range(of: #"Age:        \d+[smhd]\n"#, options: .regularExpression) != nil, "\(get.out)")
        // The layout holds the image the run wrote.
        #expect(try await sh("skopeo inspect \(output)").status == 0)

        // `--build`: a run of a build configuration, listed with its image's output and build number.
        _ = try await engine.call("image/create", ["name": "config", "tag": .string("oci:\(work.path)/config:latest"), "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(try await engine.call("build/wait", ["image": "config", "build": 1])["status"] == "SUCCESS")
        let ofConfig = try await Self.kp(["buildrun", "submit", "--name", "of-config", "--build", "config", "--wait"], state.path)
        #expect(ofConfig.status == 0, "\(ofConfig)")
        let list = try await Self.kp(["buildrun", "list"], state.path)
        let rows = list.out.split(separator: "\n").map(KpSeedTests.words)
        #expect(rows.first == "Name Status Image Build Age", "\(list.out)")
        #expect(rows.contains { $0.hasPrefix("from-git SUCCESS oci:\(work.path)/out@sha256:") && $0.range(of: #" -- \d+[smhd]$"#, options: .regularExpression) != nil }, "\(list.out)")
        #expect(rows.contains { $0.hasPrefix("of-config SUCCESS oci:\(work.path)/config@sha256:") && $0.range(of: #" config #2 \d+[smhd]$"#, options: .regularExpression) != nil },
                "\(list.out)")
    }

    @Test func aRelativeFolderSourceIsThisMachinesFolder() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        let r = try await KpSeedTests.kp(["buildrun", "submit", "--name", "here", "--source", ".", "--wait"], state: state.path, cwd: HelloApp.path)
        #expect(r.status == 0, "\(r)")
        let got = try await engine.call("buildrun/get", ["name": "here"])
        #expect(got["source"]?["type"]?.stringValue == "Local Source", "\(got)")
    }

    @Test func flagsAreCheckedBeforeAnyRequest() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        let app = HelloApp.path
        let refused: [([String], String)] = [
            (["--name", "x", "--source", app, "--output", "xml"], "invalid output format \"xml\""),
            (["--name", "x", "--build", "config", "--source", app], "--source does not go with --build"),
            (["--name", "x", "--source", app, "--commit", "abc"], "--commit goes with a git source"),
            (["--name", "x", "--source", "/no/such/folder"], "neither a git URL"),
            (["--name", "x", "--source", app, "--registry-secret", "reg"], "--registry-secret goes with --image"),
            (["--name", "x", "--source", app, "--timeout", "soon"], "\"--timeout\" flag"),
            (["--name", "x", "--source", app, "--strategy", "magic"], "\"--strategy\" flag"),
            (["--name", "x", "--source", app, "--dockerfile", "Dockerfile", "--strategy", "buildpacks"], "--dockerfile goes with --strategy dockerfile"),
            (["--name", "x", "--image", "app"], "use --build"),
            (["--name", "x", "--source", app, "--image", "registry.example.invalid/a/b", "--registry-secret", "reg"], "registry secret \"reg\" not found"),
        ]
        for (words, message) in refused {
            let r = try await Self.kp(["buildrun", "submit"] + words, state.path)
            #expect(r.status == 1 && r.err.contains(message), "\(words): \(r)")
        }
        // A secret for another registry is refused naming both.
        _ = try await engine.call("secret/create", ["name": "reg", "registry": ["server": "other.example.invalid", "username": "u", "password": "p"]])
        let other = try await Self.kp(["buildrun", "submit", "--name", "x", "--source", app, "--image", "registry.example.invalid/a/b", "--registry-secret", "reg"], state.path)
        #expect(other.status == 1 && other.err.contains("is for other.example.invalid, and --image registry.example.invalid/a/b goes to registry.example.invalid"), "\(other)")
        // Nothing was submitted.
        #expect(try await engine.call("buildrun/list", [:])["buildruns"]?.arrayValue?.isEmpty == true)
    }

    /// `buildrun logs` of a failed run exits 1, as `build logs` does; `buildrun cancel`.
    @Test func logsOfAFailedRunExitOneAndCancel() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        // No buildpack of the default builder detects a folder with only a README.
        let broken = TempDir("broken")
        try "nothing to build\n".write(toFile: broken.path + "/README", atomically: true, encoding: .utf8)
        let failed = try await Self.kp(["buildrun", "submit", "--name", "bad", "--source", broken.path, "--wait"], state.path)
        #expect(failed.status == 1 && failed.out.contains("Build run 'bad' failed"), "\(failed)")
        let logs = try await Self.kp(["buildrun", "logs", "-n", "bad"], state.path)
        #expect(logs.status == 1, "\(logs)")
        let canceled = try await Self.kp(["buildrun", "cancel", "-n", "bad"], state.path)
        #expect(canceled.status == 1 && !canceled.err.isEmpty, "a run that ended cannot be canceled: \(canceled)")
    }
}
