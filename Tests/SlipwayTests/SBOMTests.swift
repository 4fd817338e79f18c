import Foundation
import JSONRPC
import Testing
import TestSupport

/// SBOMs end to end, read with third-party SBOM libraries (Fixtures/sbom_check.py:
/// cyclonedx-python-lib, spdx-tools): a buildpack's SBOM files (Fixtures/buildpacks/sbom-writer)
/// are exported as the platform spec says — the launch SBOMs in a layer of the image under
/// /layers/sbom/launch, named by the `sbom` entry of io.buildpacks.lifecycle.metadata, the build
/// SBOMs kept with the build — and come back from `build/sbom` and `slipctl build sbom`; a
/// hostile buildpack's SBOMs (a symlink to a host file, an undeclared format, an oversized file,
/// a document of the wrong shape) fail its build; a Dockerfile image gets an SPDX SBOM of the
/// files its layers added.
@Suite struct SBOMTests {
    static var slipctl: String { Repo.binDir.appendingPathComponent("slipctl").path }
    static var checker: String { Repo.fixtures.appendingPathComponent("sbom_check.py").path }
    static let writerID = "test_sbom-writer"

    /// Runs the Python checker over `folder`; its JSON report.
    static func check(_ folder: String) async throws -> JSONValue {
        let r = try await sh("python3 '\(checker)' '\(folder)'")
        #expect(r.status == 0, "the SBOM libraries refused a document: \(r.out) \(r.err)")
        return try JSONParser.parse(Array(r.out.utf8))
    }

    static func builder(_ c: SlipwayClient) async throws {
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/sbom-writer").path],
                                        order: [["group": [["id": "test/sbom-writer"]]]])
    }

    @Test func buildpackSBOMsAreExportedAndReadBack() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await Self.builder(c)
        let app = TempDir("app")
        try "hello".write(toFile: app.path + "/README", atomically: false, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "sbom", "successBuildHistoryLimit": 1, "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "sbom", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")

        // The image, from outside: the label's sbom entry names a layer of the image, which
        // holds the launch SBOMs and no build SBOM.
        let layout = state.path + "/layouts/default/sbom"
        let config = try JSONParser.parse(Array(try await sh("skopeo inspect --config oci:\(layout):latest").out.utf8))
        let label = config["config"]?["Labels"]?["io.buildpacks.lifecycle.metadata"]?.stringValue ?? ""
        let metadata = try JSONParser.parse(Array(label.utf8))
        let sbomLayer = try #require(metadata["sbom"]?["sha"]?.stringValue, "no sbom entry in \(label)")
        let diffIDs = config["rootfs"]?["diff_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(diffIDs.contains(sbomLayer), "the label's sbom layer \(sbomLayer) is not a layer of the image: \(diffIDs)")
        let inspect = try JSONParser.parse(Array(try await sh("skopeo inspect oci:\(layout):latest").out.utf8))
        #expect(inspect["Layers"]?.arrayValue?.contains { $0.stringValue == sbomLayer } == true, "\(inspect)")
        let image = try await UnpackedImage(layout: layout)
        let inImage = image.rootfs + "/layers/sbom/launch/\(Self.writerID)"
        #expect(FileManager.default.fileExists(atPath: inImage + "/tool/sbom.cdx.json"))
        #expect(FileManager.default.fileExists(atPath: inImage + "/sbom.spdx.json"))
        #expect(!FileManager.default.fileExists(atPath: image.rootfs + "/layers/sbom/build"), "build SBOMs stay out of the image")
        let fromImage = try await Self.check(image.rootfs)
        #expect(fromImage["layers/sbom/launch/\(Self.writerID)/tool/sbom.cdx.json"]?["names"] == ["tool"], "\(fromImage)")
        #expect(fromImage["layers/sbom/launch/\(Self.writerID)/sbom.spdx.json"]?["names"] == ["app-deps"], "\(fromImage)")

        // build/sbom: launch and build SBOMs, each with its path; one format at a time.
        let all = try await c.call("build/sbom", ["image": "sbom"])
        let paths = Set(all["sboms"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [])
        #expect(paths == [
            "layers/sbom/launch/\(Self.writerID)/tool/sbom.cdx.json", "layers/sbom/launch/\(Self.writerID)/sbom.spdx.json",
            "layers/sbom/build/\(Self.writerID)/compiler/sbom.spdx.json", "layers/sbom/build/\(Self.writerID)/sbom.cdx.json",
        ], "\(JSONWriter.string(all))")
        let tool = all["sboms"]?.arrayValue?.first { $0["layer"] == "tool" }
        #expect(tool?["scope"] == "launch" && tool?["mediaType"] == "application/vnd.cyclonedx+json" && tool?["buildpack"] == "test/sbom-writer")
        #expect(tool?["document"]?["components"]?.arrayValue?.first?["version"] == "1.2.3", "\(String(describing: tool))")
        let cdx = try await c.call("build/sbom", ["image": "sbom", "build": 1, "format": "cdx"])
        #expect(cdx["sboms"]?.arrayValue?.allSatisfy { $0["format"] == "cdx" } == true && cdx["sboms"]?.arrayValue?.count == 2, "\(JSONWriter.string(cdx))")

        // slipctl build sbom writes them as pack sbom download does; the libraries read them.
        let out = TempDir("sbom-out")
        let ctl = try await sh("SLIPWAY_HOME='\(state.path)' '\(Self.slipctl)' build sbom sbom -b 1 --output-dir '\(out.path)'")
        #expect(ctl.status == 0, "\(ctl)")
        let written = try await Self.check(out.path)
        #expect(written["layers/sbom/build/\(Self.writerID)/compiler/sbom.spdx.json"]?["names"] == ["compiler"], "\(written)")
        #expect(written["layers/sbom/build/\(Self.writerID)/sbom.cdx.json"]?["names"] == ["build-tools"], "\(written)")
        #expect(written.objectValue?.count == 4, "\(written)")

        // The same SBOMs again give the same layer.
        _ = try await c.call("image/trigger", ["name": "sbom"])
        let b2 = try await c.call("build/wait", ["image": "sbom", "build": 2])
        #expect(b2["status"] == "SUCCESS", "\(JSONWriter.string(b2))")
        let again = try JSONParser.parse(Array(try await sh("skopeo inspect --config oci:\(layout):latest").out.utf8))
        let label2 = try JSONParser.parse(Array((again["config"]?["Labels"]?["io.buildpacks.lifecycle.metadata"]?.stringValue ?? "").utf8))
        #expect(label2["sbom"]?["sha"]?.stringValue == sbomLayer, "the SBOM layer is not reproducible")
        // Build 2 kept the launch layer `tool` without writing its SBOM again: the SBOM comes
        // back from the previous image, as lifecycle restores it.
        #expect(try await c.logLines("sbom", build: 2).contains { $0.contains("Restoring the SBOM of layer 'test/sbom-writer:tool'") })
        let kept = try await c.call("build/sbom", ["image": "sbom", "build": 2, "format": "cdx"])["sboms"]?.arrayValue ?? []
        #expect(kept.contains { $0["layer"] == "tool" && $0["document"]?["components"]?.arrayValue?.first?["name"] == "tool" }, "\(kept)")
        // Retention took build 1, and its SBOMs with it.
        try await waitUntil("build 1's SBOMs are deleted with it") { !FileManager.default.fileExists(atPath: state.path + "/logs/default/sbom/1.sbom.json") }
        #expect(FileManager.default.fileExists(atPath: state.path + "/logs/default/sbom/2.sbom.json"))
        #expect(try await c.request("build/sbom", ["image": "sbom", "build": 1])["error"]?["code"] == 1001)

        // Clear errors: an unknown format, a build that does not exist.
        let badFormat = try await c.request("build/sbom", ["image": "sbom", "format": "xml"])
        #expect(badFormat["error"]?["code"] == -32602 && badFormat["error"]?["data"]?["field"] == "format", "\(badFormat)")
        let missing = try await c.request("build/sbom", ["image": "sbom", "build": 99])
        #expect(missing["error"]?["code"] == 1001, "\(missing)")
        let noImage = try await c.request("build/sbom", ["image": "nope"])
        #expect(noImage["error"]?["code"] == 1001, "\(noImage)")
        let badCtl = try await sh("SLIPWAY_HOME='\(state.path)' '\(Self.slipctl)' build sbom sbom --format xml --output-dir '\(out.path)'")
        #expect(badCtl.status != 0 && (badCtl.out + badCtl.err).contains("cdx"), "\(badCtl)")
    }

    /// A rebase (a new run image) runs no buildpack; the image keeps its SBOM layer, and the
    /// build its SBOMs.
    @Test func aRebaseKeepsTheSBOMs() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await Self.builder(c)
        let app = TempDir("app")
        try "hello".write(toFile: app.path + "/README", atomically: false, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "r", "source": ["local": ["path": .string(app.path)]]])
        #expect(try await c.call("build/wait", ["image": "r", "build": 1])["status"] == "SUCCESS")
        let before = try await c.call("build/sbom", ["image": "r", "build": 1])
        let run2 = TempDir("run2")
        #expect(try await sh("cp -a '\(HostStack.run)/.' '\(run2.path)/' && echo v2 > '\(run2.path)/etc/run-image-version'").status == 0)
        _ = try await c.call("clusterstack/patch", ["name": "base", "runImage": .string(run2.path)])
        try await c.waitForQueued("r", 2)
        let b2 = try await c.call("build/wait", ["image": "r", "build": 2])
        #expect(b2["status"] == "SUCCESS" && b2["reasonSummary"] == "STACK", "\(JSONWriter.string(b2))")
        let after = try await c.call("build/sbom", ["image": "r", "build": 2])
        #expect(after["sboms"] == before["sboms"] && after["sboms"]?.arrayValue?.count == 4, "\(JSONWriter.string(after))")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/r")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/layers/sbom/launch/\(Self.writerID)/tool/sbom.cdx.json"))
        #expect(try String(contentsOfFile: image.rootfs + "/etc/run-image-version", encoding: .utf8) == "v2\n")
    }

    /// A hostile buildpack's SBOMs fail its build, and nothing of the host is read.
    @Test func hostileSBOMsFailTheBuild() async throws {
        let state = TempDir("state")
        let host = TempDir("host")
        let marker = "HOST-MARKER-" + UUID().uuidString
        let hostFile = host.path + "/secret.json"
        try #"{"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1, "metadata": {"component": {"type": "application", "name": "\#(marker)"}}}"#
            .write(toFile: hostFile, atomically: false, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path)
        try await Self.builder(c)
        let attacks: [(attack: String, message: String)] = [
            ("symlink", "'/layers/\(Self.writerID)/launch.sbom.cdx.json' is or passes through a symlink"),
            ("undeclared", "media type application/vnd.syft+json, which its buildpack.toml does not declare"),
            ("oversized", "larger than Slipway keeps"),
            ("not-a-document", #"not a application/vnd.cyclonedx+json document: it has no "bomFormat": "CycloneDX""#),
        ]
        let apps = TempDir("apps")
        for (attack, _) in attacks {
            let app = apps.path + "/" + attack
            try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
            try attack.write(toFile: app + "/SBOM_ATTACK", atomically: false, encoding: .utf8)
            try hostFile.write(toFile: app + "/TARGET", atomically: false, encoding: .utf8)
            _ = try await c.call("image/create", ["name": .string(attack), "source": ["local": ["path": .string(app)]]])
        }
        for (attack, message) in attacks {
            let b = try await c.call("build/wait", ["image": .string(attack), "build": 1])
            #expect(b["status"] == "FAILURE", "\(attack) was not refused")
            let text = b["message"]?.stringValue ?? ""
            #expect(text.contains("test/sbom-writer@1.0.0") && text.contains(message), "\(attack): \(text)")
            let sbom = try await c.request("build/sbom", ["image": .string(attack)])
            #expect(sbom["error"]?["code"] == 1003, "\(attack): \(sbom)")
        }
        let grep = try await sh("grep -rl '\(marker)' '\(state.path)' 2>/dev/null || true")
        #expect(grep.out.isEmpty, "host content reached the state directory: \(grep.out)")
    }

    /// A Dockerfile image's SPDX SBOM lists the files its layers added, with their SHA-256.
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aDockerfileImageHasAnSPDXSBOMOfItsFiles() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        let args: JSONValue = ["BUILD_IMAGE": .string("oci:\(base.path)/oci:build"), "RUN_IMAGE": .string("oci:\(base.path)/oci:run")]
        _ = try await c.call("image/create", ["name": "df", "strategy": "dockerfile", "buildArgs": args,
                                              "source": ["local": ["path": .string(Repo.examples.appendingPathComponent("dockerfile-app").path)]]])
        let b = try await c.call("build/wait", ["image": "df", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")

        let r = try await c.call("build/sbom", ["image": "df", "format": "spdx"])
        let entries = r["sboms"]?.arrayValue ?? []
        #expect(entries.count == 1 && entries.first?["path"] == "layers/sbom/launch/dockerfile/sbom.spdx.json", "\(JSONWriter.string(r))")
        #expect(try await c.call("build/sbom", ["image": "df", "format": "cdx"])["sboms"]?.arrayValue?.isEmpty == true)
        let out = TempDir("sbom-out")
        let ctl = try await sh("SLIPWAY_HOME='\(state.path)' '\(Self.slipctl)' build sbom df --format spdx --output-dir '\(out.path)'")
        #expect(ctl.status == 0, "\(ctl)")
        let report = try await Self.check(out.path)
        let files = report["layers/sbom/launch/dockerfile/sbom.spdx.json"]?["files"]
        // The one file the Dockerfile added to its run image, with the checksum of its bytes.
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/df")
        let sum = try await sh("sha256sum '\(image.rootfs)/usr/local/bin/hello'").out.prefix(64)
        #expect(files?["./usr/local/bin/hello"]?["SHA256"]?.stringValue == String(sum), "\(report)")
        #expect(files?.objectValue?.keys.contains { $0.hasPrefix("./bin/") || $0.hasPrefix("./usr/bin/") } == false, "the base image's files are not the Dockerfile's: \(report)")
    }
}
