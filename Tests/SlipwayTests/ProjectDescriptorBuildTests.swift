import Foundation
import JSONRPC
import Testing
import TestSupport

/// An app's project.toml, end to end: what goes into /workspace, build env, and its own group
/// with an inline buildpack; and the builds it fails, with a message saying why.
@Suite struct ProjectDescriptorBuildTests {
    static func app(_ projectTOML: String) throws -> TempDir {
        let app = TempDir("project-app")
        let files = [
            "project.toml": projectTOML,
            "Procfile": "web: ./bin/hello\n",
            "README.md": "# not for the image\n",
            "tools-bp/buildpack.toml": "api = \"0.10\"\n",
            "docs/README.md": "kept: only the top README is excluded\n",
        ]
        for (path, text) in files {
            let url = app.url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return app
    }

    static let descriptor = #"""
        [_]
        schema-version = "0.2"
        id = "io.slipway.test.project"
        name = "Project test"
        version = "1.0.0"

        [io.buildpacks]
        exclude = ["/README.md", "tools-bp/"]

        [[io.buildpacks.build.env]]
        name = "GREETING"
        value = "hello from project.toml"

        [[io.buildpacks.group]]
        id = "me/make-hello"
        [io.buildpacks.group.script]
        api = "0.10"
        shell = "/bin/bash"
        inline = """
        echo "inline buildpack sees GREETING=$GREETING in $PWD"
        mkdir -p bin
        printf '#!/bin/sh\necho "%s"\n' "$GREETING" > bin/hello
        chmod +x bin/hello
        """

        [[io.buildpacks.group]]
        id = "slipway/procfile"
        """#

    @Test func projectTOMLShapesTheBuild() async throws {
        let state = TempDir("state")
        let app = try Self.app(Self.descriptor)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "p", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "p", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(b)")
        #expect(b["buildpacks"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["me/make-hello", "slipway/procfile"], "\(b)")
        let log = try await c.call("build/logs", ["image": "p"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(log.contains("Reading project.toml (schema 0.2): Project test 1.0.0"), "\(log)")
        #expect(log.contains("inline buildpack sees GREETING=hello from project.toml in /workspace"), "\(log)")
        #expect(log.contains { $0.hasPrefix("project.toml group replaces the builder's order: me/make-hello@0.0.0, slipway/procfile@") })

        let layout = state.path + "/layouts/default/p"
        #expect(try await UnpackedImage.runProcess(layout: layout) == "hello from project.toml\n")
        let image = try await UnpackedImage(layout: layout)
        let workspace = image.rootfs + "/workspace"
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: workspace + "/README.md") && !fm.fileExists(atPath: workspace + "/tools-bp"))
        #expect(fm.fileExists(atPath: workspace + "/docs/README.md") && fm.fileExists(atPath: workspace + "/project.toml"))
    }

    @Test(arguments: [
        ("[[io.buildpacks.group]]\nuri = \"../other-app/bp/\"\n", "leads out of its folder with '..'"),
        ("[[io.buildpacks.group]]\nuri = \"/etc\"\n", "names buildpack /etc, which is outside the app"),
        ("[[io.buildpacks.group]]\nuri = \"urn:cnb:registry:me/absent@1.0.0\"\n", "urn:cnb:registry:me/absent@1.0.0; Slipway has no buildpack registry"),
        ("[[io.buildpacks.group]]\nuri = \"tools-bp\"\n", "project.toml buildpack \"tools-bp\"/buildpack.toml needs [buildpack]"),
        ("[[io.buildpacks.group]]\nuri = \"https://example.com/bp.tgz\"\n", "the build's network is \"none\""),
        ("[[io.buildpacks.group]]\nuri = \"docker://oci:/etc/layout\"\n", "an app may name only images in a registry"),
        ("[_]\nschema-version = \"7.0\"\n", "project.toml has schema-version \"7.0\""),
        ("[io.buildpacks]\ninclude = [\"a\"]\nexclude = [\"b\"]\n", "project.toml gives both include and exclude"),
        ("[[io.buildpacks.group]]\nid = \"not/in-the-builder\"\n", "which the builder does not have"),
    ])
    func aBadProjectTOMLFailsTheBuildSayingWhy(_ descriptor: String, _ expected: String) async throws {
        let state = TempDir("state")
        let app = try Self.app(descriptor)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "bad", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "bad", "build": 1])
        #expect(b["status"] == "FAILURE")
        let message = b["message"]?.stringValue ?? ""
        #expect(message.contains(expected) && !message.contains("\n"), "\(message)")
        let lines = try await c.call("build/logs", ["image": "bad"])["lines"]?.arrayValue ?? []
        #expect(!lines.contains { $0["phase"] == "detect" }, "no buildpack runs")
    }

    /// The public CNB sample apps/bash-script (buildpacks/samples, vendored unmodified): its
    /// project.toml names the buildpack in the app by uri and excludes that folder from the
    /// image; pack builds it, and so does Slipway, and the image's process runs the app.
    @Test func thePublicBashScriptSampleBuildsAndRuns() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let sample = Repo.fixtures.appendingPathComponent("samples/apps/bash-script").path
        _ = try await c.call("image/create", ["name": "bash-script", "source": ["local": ["path": .string(sample)]]])
        let b = try await c.call("build/wait", ["image": "bash-script", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(b)")
        #expect(b["buildpacks"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["samples/bash-script"], "\(b)")
        let log = try await c.call("build/logs", ["image": "bash-script"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(log.contains("project.toml buildpack samples/bash-script@0.0.1 from bash-script-buildpack"), "\(log)")
        #expect(log.contains("---> Bash Script buildpack"), "\(log)")

        let layout = state.path + "/layouts/default/bash-script"
        let out = try await UnpackedImage.runProcess(layout: layout)
        #expect(out.contains("Here are the contents of the current working directory:") && out.contains("app.sh"), "\(out)")
        #expect(!out.contains("bash-script-buildpack") && !out.contains("README.md"), "project.toml excludes them: \(out)")
    }

    /// A buildpackage by registry reference (`docker://`): pulled from a real registry on
    /// loopback, its buildpack runs in the group.
    @Test func aBuildpackageByRegistryReference() async throws {
        let work = TempDir("pkg")
        try """
            #!/bin/sh
            echo "hello buildpackage running"
            cat > "$1/launch.toml" <<'EOF'
            [[processes]]
            type = "web"
            command = ["echo", "from the package"]
            default = true
            EOF

            """.write(toFile: work.path + "/build", atomically: true, encoding: .utf8)
        let made = try await sh("""
            set -e
            cd '\(work.path)'
            bp=root/cnb/buildpacks/me_hello/1.0.0
            mkdir -p $bp/bin
            printf 'api = "0.10"\n[buildpack]\nid = "me/hello"\nversion = "1.0.0"\n' > $bp/buildpack.toml
            printf '#!/bin/sh\nexit 0\n' > $bp/bin/detect
            cp '\(work.path)/build' $bp/bin/build
            chmod +x $bp/bin/detect $bp/bin/build
            umoci init --layout layout && umoci new --image layout:pkg
            umoci insert --rootless --image layout:pkg root /
            umoci config --image layout:pkg --config.label 'io.buildpacks.buildpackage.metadata={"id":"me/hello","version":"1.0.0"}'
            """)
        #expect(made.status == 0, "\(made.err)")
        let registry = try await LoopbackRegistry()
        #expect(try await sh("skopeo copy --dest-tls-verify=false oci:'\(work.path)/layout:pkg' docker://\(registry.host)/buildpacks/hello:1").status == 0)
        let state = TempDir("state")
        let app = try Self.app("[[io.buildpacks.group]]\nuri = \"docker://\(registry.host)/buildpacks/hello:1\"\nversion = \"1.0.0\"\n")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "pkg", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "pkg", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(b)")
        let log = try await c.call("build/logs", ["image": "pkg"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(log.contains("hello buildpackage running"), "\(log)")
        #expect(try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/pkg") == "from the package\n")
    }
}
