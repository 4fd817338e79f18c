import Foundation
import JSONRPC
import Testing
import TestSupport

/// `strategy: "dockerfile"` through the engine: an image and a build run built from
/// examples/dockerfile-app, with logs, status and a CONFIG rebuild when a build arg changes.
@Suite struct DockerfileStrategyTests {
    static let app = Repo.examples.appendingPathComponent("dockerfile-app").path

    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func anImageAndABuildRunFromADockerfile() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        let args: JSONValue = ["BUILD_IMAGE": .string("oci:\(base.path)/oci:build"), "RUN_IMAGE": .string("oci:\(base.path)/oci:run")]
        let created = try await c.call("image/create", ["name": "df", "strategy": "dockerfile", "buildArgs": args,
                                                        "source": ["local": ["path": .string(Self.app)]]])
        #expect(created["build"] == 1)
        let b = try await c.call("build/wait", ["image": "df", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "df"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains { $0.hasPrefix("Building stage 1 of Dockerfile (2 of 2 stage(s) needed)") }, "\(lines)")
        #expect(lines.contains { $0.contains("RUN sed") } && lines.contains { $0.hasPrefix("*** Image sha256:") })
        let layout = state.path + "/layouts/default/df"
        let image = try await UnpackedImage(layout: layout)
        let run = try await sh("bwrap --bind '\(image.rootfs)' / --proc /proc --dev /dev --unshare-all --uid 1000 --gid 1000 --clearenv --setenv PATH /usr/bin:/bin /usr/local/bin/hello")
        #expect(run.out == "Hello from a Dockerfile, built by Slipway for Slipway!\n", "\(run)")
        #expect(!FileManager.default.fileExists(atPath: image.rootfs + "/src"), "the build stage stays out of the image")

        // A changed build arg is a CONFIG reason, and reaches the RUN.
        let patched = try await c.call("image/patch", ["name": "df", "buildArgs": ["BUILD_IMAGE": .string("oci:\(base.path)/oci:build"), "RUN_IMAGE": .string("oci:\(base.path)/oci:run"), "WHO": "you"]])
        #expect(patched["build"] == 2)
        let b2 = try await c.call("build/wait", ["image": "df", "build": 2])
        #expect(b2["status"] == "SUCCESS" && b2["reasons"]?.arrayValue?.first?["field"] == "buildArgs", "\(JSONWriter.string(b2))")
        let again = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: again.rootfs + "/usr/local/bin/hello", encoding: .utf8).contains("for you!"))

        // A collection keeps the step cache: the next build runs no RUN. Records unused for
        // longer than their lifetime go, and with them the layers only they kept.
        let gc = try await c.call("system/gc")
        #expect(gc["freed"]?.arrayValue?.contains { $0["kind"] == "dockerfile" } == true, "\(gc)")
        _ = try await c.call("image/trigger", ["name": "df"])
        #expect(try await c.call("build/wait", ["image": "df", "build": 3])["status"] == "SUCCESS")
        let cachedLog = try await c.call("build/logs", ["image": "df", "build": 3])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(!cachedLog.contains { $0.contains("not cached") }, "\(cachedLog)")
        #expect(try await sh("touch -d '8 days ago' '\(state.path)'/dockerfile/cache/default/df/*.json").status == 0)
        _ = try await c.call("system/gc")
        #expect(try FileManager.default.contentsOfDirectory(atPath: state.path + "/dockerfile/cache/default/df").isEmpty)
        _ = try await c.call("image/trigger", ["name": "df"])
        #expect(try await c.call("build/wait", ["image": "df", "build": 4])["status"] == "SUCCESS")
        let coldLog = try await c.call("build/logs", ["image": "df", "build": 4])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(coldLog.contains { $0.contains("not cached") }, "\(coldLog)")

        // A stand-alone build run with the Dockerfile strategy.
        _ = try await c.call("buildrun/submit", ["name": "once", "strategy": "dockerfile", "buildArgs": args,
                                                 "source": ["local": ["path": .string(Self.app)]]])
        let done = try await c.call("buildrun/wait", ["name": "once"])
        #expect(done["status"] == "SUCCESS", "\(JSONWriter.string(done))")

        // Bad settings are refused before anything is stored.
        let bad = try await c.request("image/create", ["name": "bad", "strategy": "dockerfile", "dockerfile": "../Dockerfile",
                                                       "source": ["local": ["path": .string(Self.app)]]])
        #expect(bad["error"]?["code"] == -32602 && bad["error"]?["data"]?["field"] == "dockerfile", "\(bad)")
        // A Dockerfile mistake fails the build with the line.
        let broken = TempDir("broken")
        try "FROM scratch\nRUNN x\n".write(toFile: broken.path + "/Dockerfile", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "broken", "strategy": "dockerfile", "source": ["local": ["path": .string(broken.path)]]])
        let failed = try await c.call("build/wait", ["image": "broken", "build": 1])
        #expect(failed["status"] == "FAILURE" && failed["message"]?.stringValue?.contains(#"Dockerfile:2: unknown instruction "RUNN""#) == true, "\(failed)")
    }
}
