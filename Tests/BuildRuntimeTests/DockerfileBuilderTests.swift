import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// Dockerfile builds in BuildRuntime, with the real kernel, overlayfs, bwrap and a base image
/// from an OCI layout: stages, ARG/ENV, COPY (context, ignore rules, --from, --chown, --chmod),
/// RUN as root and as another user, config instructions, and the step cache.
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct DockerfileBuilderTests {
    @Test func buildsRunsAndCaches() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let lines = LineCollector()
        let log: BuildLogger = { _, _, line in lines.add(line) }
        let out = f.state.path + "/out"
        let first = try await f.builder.build(f.request(out), log: log)
        #expect(first.layersAdded == 3 && first.bases["base"] != nil, "\(lines.all)")

        let inspect = try JSONParser.parse(Array(try await sh("skopeo inspect --config oci:\(out):latest").out.utf8))
        let config = try #require(inspect["config"])
        #expect(config["Labels"]?["org.example.k"] == "a value")
        #expect(config["ExposedPorts"]?["8080/tcp"] != nil && config["ExposedPorts"]?["53/udp"] != nil)
        #expect(config["Cmd"] == ["/app/hello.sh"] && config["StopSignal"] == "SIGTERM")
        // Healthcheck is Docker's, not OCI's: skopeo's view leaves it out; the config blob has it.
        let manifest = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(out):latest").out.utf8))
        let configBlob = out + "/blobs/sha256/" + (manifest["config"]?["digest"]?.stringValue ?? "").dropFirst(7)
        let raw = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: configBlob))))["config"]
        #expect(raw?["Healthcheck"]?["Test"] == ["CMD", "/app/hello.sh"] && raw?["Healthcheck"]?["Interval"] == 5_000_000_000 && raw?["Healthcheck"]?["Retries"] == 2)
        let image = try await UnpackedImage(layout: out)
        let root = image.rootfs
        #expect(try String(contentsOfFile: root + "/app/made.txt", encoding: .utf8) == "hello from RUN in /app\n")
        #expect(try String(contentsOfFile: root + "/uid", encoding: .utf8) == "1000\n")
        // The file COPY --chown gave uid 1000 (mode 0750) is theirs in later steps, also when
        // Slipway is not root (the owners are set from inside the namespace then).
        #expect(try String(contentsOfFile: root + "/read-by-1000", encoding: .utf8) == "readable\n")
        #expect(FileManager.default.fileExists(atPath: root + "/app/hello.sh") && !FileManager.default.fileExists(atPath: root + "/app/README.md"))
        #expect(FileManager.default.fileExists(atPath: root + "/etc/group"), "the final stage is from base, not the build stage")
        let run = try await sh("bwrap --bind '\(root)' / --proc /proc --dev /dev --unshare-all --clearenv --setenv PATH /usr/bin:/bin /app/hello.sh")
        #expect(run.out == "hello from the Dockerfile image\n", "\(run)")

        // Nothing changed: every step is cached, no RUN runs, no layer is written.
        lines.clear()
        let second = try await f.builder.build(f.request(out), log: log)
        #expect(second.layersAdded == 0 && second.imageDigest == first.imageDigest, "\(lines.all)")
        #expect(!lines.all.contains { $0.contains("not cached") } && lines.all.filter { $0.contains("CACHED") }.count == 8, "\(lines.all)")  // WORKDIR, 2 COPY, 2 RUN; 3 COPY

        // One copied file changed: that COPY and the steps after it, not the ones before.
        try "two\n".write(toFile: f.context.path + "/data/x.txt", atomically: true, encoding: .utf8)
        lines.clear()
        let third = try await f.builder.build(f.request(out), log: log)
        let notCached = lines.all.filter { $0.contains("not cached") }
        #expect(notCached.count == 3, "\(lines.all)")  // COPY data, both RUNs of the build stage
        #expect(third.imageDigest == first.imageDigest, "the final stage copies nothing that changed")

        // A build arg reaches RUN.
        lines.clear()
        let other = f.state.path + "/other"
        _ = try await f.builder.build(f.request(other, args: ["GREETING": "hi"]), log: log)
        let again = try await UnpackedImage(layout: other)
        #expect(try String(contentsOfFile: again.rootfs + "/app/made.txt", encoding: .utf8) == "hi from RUN in /app\n")
    }

    @Test func mistakesFailTheBuildNamingTheLine() async throws {
        let f = try await DockerfileBuilderFixture.make()
        let cases: [(String, String)] = [
            ("FROM base\nRUNN x\n", #"Dockerfile:2: unknown instruction "RUNN""#),
            ("FROM base\nRUN exit 3\n", "Dockerfile:2: RUN exited with status 3"),
            ("FROM base\nCOPY nothing-here /x\n", "Dockerfile:2: COPY sources nothing-here match nothing"),
            ("FROM base\nCOPY ../outside /x\n", "Dockerfile:2: COPY source ../outside leaves the build context"),
            ("FROM base\nUSER nobody-here\nRUN true\n", #"user "nobody-here" is not in the image's /etc/passwd"#),
            ("FROM missing\n", "no image missing"),
        ]
        try await f.expectFailures(cases)
    }
}
