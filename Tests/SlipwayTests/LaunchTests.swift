import Foundation
import JSONRPC
import Testing
import TestSupport

/// Images as the CNB platform spec describes them: the launcher's rules (process selection,
/// arguments, direct and shell processes, the launch environment, exit codes), the layers a
/// buildpack flags again, and the labels and metadata files.
@Suite struct LaunchTests {
    static let helloApp = HelloApp.path
    static func fixture(_ name: String) -> JSONValue { .string(Repo.fixtures.appendingPathComponent("buildpacks/" + name).path) }

    /// Runs `argv` in the unpacked image as a runtime would: the image's environment (PATH with
    /// /cnb/process first, CNB_LAYERS_DIR, CNB_APP_DIR), an unprivileged user.
    static func run(_ image: UnpackedImage, _ argv: [String]) async throws -> (status: Int32, out: String, err: String) {
        try await sh("""
            bwrap --bind '\(image.rootfs)' / --proc /proc --dev /dev --unshare-user --uid 1000 --gid 1000 --clearenv \
              --setenv PATH /cnb/process:/cnb/lifecycle:/usr/bin:/bin --setenv CNB_LAYERS_DIR /layers --setenv CNB_APP_DIR /workspace \
              \(argv.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " "))
            """)
    }

    static func lines(_ out: String) -> [String: String] {
        Dictionary(out.split(separator: "\n").compactMap { l in
            l.firstIndex(of: "=").map { (String(l[..<$0]), String(l[l.index(after: $0)...])) }
        }, uniquingKeysWith: { a, _ in a })
    }

    @Test func theLauncherFollowsThePlatformSpec() async throws {
        let state = TempDir("state"), app = TempDir("app")
        #expect(try await sh("cp -r '\(Self.helloApp)'/. '\(app.path)' && echo 'export FROM_DOTPROFILE=dot' > '\(app.path)/.profile'").status == 0)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Self.fixture("launchy").stringValue!, Self.fixture("oldstyle").stringValue!],
                                        order: [["group": [["id": "test/launchy"], ["id": "test/oldstyle"]]]])
        _ = try await c.call("image/create", ["name": "l", "source": ["local": ["path": .string(app.path)]]])
        #expect(try await c.call("build/wait", ["image": "l", "build": 1])["status"] == "SUCCESS")
        // During the build, HOME is the stack user's home from /etc/passwd, a writable tmpfs.
        let log = try await c.call("build/logs", ["image": "l"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(log.contains("HOME=/home/cnb") && log.contains("home is writable"), "\(log)")
        let b = try await UnpackedImage(layout: state.path + "/layouts/default/l")

        // The default process, with its default args, in the launch environment; the
        // launcher's own variables and /cnb/process are gone.
        let web = try await Self.run(b, ["/cnb/process/web"])
        #expect(web.status == 0, "\(web.err)")
        let env = Self.lines(web.out)
        #expect(web.out.contains("args: default-arg"))
        for v in ["CNB_APP_DIR", "CNB_LAYERS_DIR", "CNB_PROCESS_TYPE"] { #expect(env[v] == "unset", "\(v) reached the app: \(web.out)") }
        #expect(env["PATH"]?.hasPrefix("/cnb/process") == false && env["PATH"]?.contains("/layers/test_launchy/tools/bin") == true, "\(web.out)")
        #expect(env["X"] == "x-value" && env["FROM_EXEC_D"] == "yes")
        #expect(env["FROM_PROFILE"] == "unset")  // a direct process sources no profile

        // Buildpack API 0.9+: the user's args replace the defaults.
        #expect(try await Self.run(b, ["/cnb/process/web", "mine"]).out.contains("args: mine\n"))
        #expect(try await Self.run(b, ["/cnb/process/echoargs", "c"]).out == "c\n")
        // Before 0.9: a string command runs through a shell; args of a direct one are appended to.
        // A shell process sources every layer's profile.d, then profile.d/<its type>.
        #expect(try await Self.run(b, ["/cnb/process/legacy"]).out == "legacy x-value profile only-legacy\n")
        #expect(try await Self.run(b, ["/cnb/process/appendy", "extra"]).out == "first extra\n")

        // A user's command: direct after `--` (not the default process), else through a shell
        // with profile.d and the app's .profile sourced.
        let direct = try await Self.run(b, ["/cnb/lifecycle/launcher", "--", "show-env", "direct"])
        #expect(direct.out.contains("args: direct\n") && Self.lines(direct.out)["FROM_PROFILE"] == "unset", "\(direct)")
        let shell = try await Self.run(b, ["/cnb/lifecycle/launcher", "echo $X $FROM_PROFILE $FROM_DOTPROFILE $FROM_EXEC_D ${FOR_LEGACY-none}"])
        #expect(shell.out == "x-value profile dot yes none\n", "\(shell)")
        #expect(try await Self.run(b, ["/cnb/lifecycle/launcher", "show-env", "one"]).out.contains("args: one\n"))

        // The launcher's own failures exit with 80-89.
        #expect(try await Self.run(b, ["env", "CNB_PROCESS_TYPE=nope", "/cnb/lifecycle/launcher"]).status == 81)
        #expect(try await Self.run(b, ["/cnb/lifecycle/launcher", "--", "/no/such/program"]).status == 82)
        #expect(try await Self.run(b, ["/cnb/lifecycle/launcher", "--"]).status == 81)

        // metadata.toml names the default process.
        let metadata = try String(contentsOfFile: b.rootfs + "/layers/config/metadata.toml", encoding: .utf8)
        #expect(metadata.contains("buildpack-default-process-type = \"web\""), "\(metadata)")
    }

    /// The labels of the platform spec: project metadata from the source, rebasable, the
    /// buildpacks' APIs and the processes' buildpacks, the launcher, and the run image by
    /// reference; project-metadata.toml for buildpacks.
    @Test func labelsDescribeTheBuild() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "lab", "source": ["local": ["path": .string(Self.helloApp)]]])
        let built = try await c.call("build/wait", ["image": "lab", "build": 1])
        #expect(built["status"] == "SUCCESS")
        let snapshot = try await c.call("image/get", ["name": "lab"])["source"]?["resolved"]?["snapshot"]?["digest"]
        let inspect = try JSONParser.parse(Array(try await sh("skopeo inspect oci:\(state.path)/layouts/default/lab:latest").out.utf8))
        let labels = try #require(inspect["Labels"])
        func json(_ key: String) throws -> JSONValue { try JSONParser.parse(Array((labels[key]?.stringValue ?? "null").utf8)) }

        let project = try json("io.buildpacks.project.metadata")
        #expect(project["source"]?["type"] == "local" && project["source"]?["version"]?["digest"] == snapshot, "\(project)")
        #expect(project["source"]?["metadata"]?["path"] == .string(Self.helloApp))
        #expect(labels["io.buildpacks.rebasable"] == "true")
        let build = try json("io.buildpacks.build.metadata")
        #expect(build["buildpacks"]?.arrayValue?.allSatisfy { $0["api"]?.stringValue?.hasPrefix("0.") == true } == true, "\(build)")
        #expect(build["processes"]?.arrayValue?.first?["buildpackID"] == "slipway/procfile")
        #expect(build["launcher"]?["version"]?.stringValue?.isEmpty == false)
        let lifecycle = try json("io.buildpacks.lifecycle.metadata")
        let runImage = try #require(lifecycle["runImage"])
        #expect(runImage["image"] == .string(HostStack.run) && runImage["reference"]?.stringValue?.hasPrefix("sha256:") == true && runImage["topLayer"] != nil)

        let bundle = try await UnpackedImage(layout: state.path + "/layouts/default/lab")
        #expect(!FileManager.default.fileExists(atPath: bundle.rootfs + "/layers/project-metadata.toml"))  // a build-time file only
    }

    /// A layer the buildpack does not flag again (its metadata comes back without [types]) is
    /// neither exported nor cached.
    @Test func aLayerNotFlaggedAgainIsDropped() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Self.fixture("dropper").stringValue!],
                                        order: [["group": [["id": "test/dropper"], ["id": "slipway/procfile"]]]])
        _ = try await c.call("image/create", ["name": "d", "source": ["local": ["path": .string(Self.helloApp)]]])
        #expect(try await c.call("build/wait", ["image": "d", "build": 1])["status"] == "SUCCESS")
        let layout = state.path + "/layouts/default/d"
        let first = try await UnpackedImage(layout: layout)
        #expect(FileManager.default.fileExists(atPath: first.rootfs + "/layers/test_dropper/once/file"))
        for n in [2, 3] {
            _ = try await c.call("image/trigger", ["name": "d"])
            let b = try await c.call("build/wait", ["image": "d", "build": .int(Int64(n))])
            #expect(b["status"] == "SUCCESS", "\(b)")
            let lines = try await c.call("build/logs", ["image": "d", "build": .int(Int64(n))])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
            // Build 2 finds the metadata (from the previous image and the cache); build 3 finds
            // neither: it was not exported or cached by build 2.
            #expect(lines.contains(n == 2 ? "not flagging once again" : "creating once"), "build \(n): \(lines)")
            if n == 2 {
                let second = try await UnpackedImage(layout: layout)
                #expect(FileManager.default.fileExists(atPath: second.rootfs + "/layers"))
                #expect(!FileManager.default.fileExists(atPath: second.rootfs + "/layers/test_dropper/once"))
            }
        }
    }

    /// An image whose run image says it is not rebasable is built in full on a STACK change.
    @Test func anUnrebasableImageIsBuiltInFull() async throws {
        let state = TempDir("state"), layout = TempDir("stack")
        try await HostStack.ociLayout(at: layout.path + "/oci", stackID: "io.slipway.test")
        #expect(try await sh("umoci config --image '\(layout.path)/oci:run' --config.label io.buildpacks.rebasable=false").status == 0)
        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("clusterstack/create", ["name": "base", "buildImage": .string("oci:\(layout.path)/oci:build"), "runImage": .string("oci:\(layout.path)/oci:run")])
        _ = try await c.call("clusterstore/create", ["name": "default", "buildpacks": [.string(Repo.buildpacks.appendingPathComponent("procfile").path)]])
        _ = try await c.call("clusterbuilder/create", ["name": "default", "stack": "base", "store": "default", "order": [["group": [["id": "slipway/procfile"]]]]])
        _ = try await c.call("image/create", ["name": "u", "source": ["local": ["path": .string(Self.helloApp)]]])
        #expect(try await c.call("build/wait", ["image": "u", "build": 1])["status"] == "SUCCESS")
        let labels = try JSONParser.parse(Array(try await sh("skopeo inspect oci:\(state.path)/layouts/default/u:latest").out.utf8))["Labels"]
        #expect(labels?["io.buildpacks.rebasable"] == "false")

        let run2 = TempDir("run2")
        #expect(try await sh("cp -a '\(HostStack.run)/.' '\(run2.path)/' && echo v2 > '\(run2.path)/etc/run-image-version'").status == 0)
        _ = try await c.call("clusterstack/patch", ["name": "base", "runImage": .string(run2.path)])
        try await c.waitForQueued("u", 2)
        let b2 = try await c.call("build/wait", ["image": "u", "build": 2])
        #expect(b2["status"] == "SUCCESS" && b2["reasonSummary"] == "STACK", "\(b2)")
        let lines = try await c.call("build/logs", ["image": "u", "build": 2])["lines"]?.arrayValue ?? []
        #expect(lines.contains { $0["line"]?.stringValue?.hasPrefix("Not rebasing: the previous image") == true })
        #expect(lines.contains { $0["phase"] == "detect" } && !lines.contains { $0["phase"] == "rebase" })
    }
}
