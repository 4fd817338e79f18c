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
        ("[[io.buildpacks.group]]\nuri = \"docker://example/bp:1\"\n", "Slipway does not fetch buildpacks named in an app"),
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
}
