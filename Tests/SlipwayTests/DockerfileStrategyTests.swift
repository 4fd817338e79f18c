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

/// The build context has the source size cap: a context over it is refused when the image is
/// made, naming the cap, and nothing is kept.
@Suite struct DockerfileContextCapTests {
    @Test func aContextOverTheSourceCapIsRefusedNamingIt() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-source-bytes", "1048576"])
        let app = TempDir("bigcontext")
        try "FROM scratch\nCOPY . /\n".write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try Data(repeating: 7, count: 2 << 20).write(to: URL(fileURLWithPath: app.path + "/big.bin"))
        let r = try await c.request("image/create", ["name": "big", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        #expect(r["error"]?["code"] == -32602, "\(JSONWriter.string(r))")
        #expect(r["error"]?["message"]?.stringValue?.contains("larger than 1048576 bytes, the source size cap") == true, "\(JSONWriter.string(r))")
        #expect(try await c.call("image/list")["images"] == [])
    }
}

/// A new source snapshot's build context links the files the last context had the same
/// (path, content, mode), and writes the rest: the image holds exactly the new source.
@Suite struct DockerfileContextReuseTests {
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aChangedSourceLinksWhatDidNotChange() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let app = TempDir("reuseapp")
        try "FROM scratch\nCOPY . /ctx/\n".write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        for i in 0..<20 { try "file \(i)\n".write(toFile: app.path + "/f\(i).txt", atomically: true, encoding: .utf8) }
        try FileManager.default.createDirectory(atPath: app.path + "/sub", withIntermediateDirectories: true)
        try "deep\n".write(toFile: app.path + "/sub/deep.txt", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "r", "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]])
        #expect(try await c.call("build/wait", ["image": "r", "build": 1])["status"] == "SUCCESS")
        // One file changed, one removed, one added, one made executable (same content).
        try "file 3, changed\n".write(toFile: app.path + "/f3.txt", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: app.path + "/f4.txt")
        try "new\n".write(toFile: app.path + "/added.txt", atomically: true, encoding: .utf8)
        chmod(app.path + "/f5.txt", 0o755)
        _ = try await c.call("image/patch", ["name": "r", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "r", "build": 2])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "r", "build": 2])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        // 17 of the 20 (not f3, f4 or f5), the Dockerfile and sub/deep.txt are the same.
        #expect(lines.contains { $0.contains("unpacked (19 unchanged file(s) linked from the last context)") }, "\(lines)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/r")
        let ctx = image.rootfs + "/ctx"
        #expect(try String(contentsOfFile: ctx + "/f3.txt", encoding: .utf8) == "file 3, changed\n")
        #expect(!FileManager.default.fileExists(atPath: ctx + "/f4.txt"))
        #expect(try String(contentsOfFile: ctx + "/added.txt", encoding: .utf8) == "new\n")
        #expect(try String(contentsOfFile: ctx + "/f7.txt", encoding: .utf8) == "file 7\n")
        #expect(try String(contentsOfFile: ctx + "/sub/deep.txt", encoding: .utf8) == "deep\n")
        var st = stat()
        #expect(lstat(ctx + "/f5.txt", &st) == 0 && st.st_mode & 0o777 == 0o755, "mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(lstat(ctx + "/f6.txt", &st) == 0 && st.st_mode & 0o777 == 0o644)
    }
}

/// A FROM tag that moves to another image is a STACK build, found by polling; the build status
/// lists every FROM with its digest.
@Suite struct DockerfileBaseTests {
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aMovedFromTagIsAStackBuild() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--git-poll-interval", "1"] + Repo.hostPathArguments)
        let run = "oci:\(base.path)/oci:run", build = "oci:\(base.path)/oci:build"
        _ = try await c.call("image/create", ["name": "moving", "strategy": "dockerfile", "buildArgs": ["BUILD_IMAGE": .string(build), "RUN_IMAGE": .string(run)],
                                              "source": ["local": ["path": .string(DockerfileStrategyTests.app)]]])
        let first = try await c.call("build/wait", ["image": "moving", "build": 1])
        #expect(first["status"] == "SUCCESS", "\(JSONWriter.string(first))")
        let bases = first["bases"]?.arrayValue ?? []
        #expect(Set(bases.compactMap { $0["name"]?.stringValue }) == [run, build], "\(bases)")
        #expect(bases.allSatisfy { $0["digest"]?.stringValue?.hasPrefix("sha256:") == true })

        // The run tag moves: a new config (a label) makes a new manifest under the same tag.
        #expect(try await sh("umoci config --image '\(base.path)/oci:run' --config.label moved=yes").status == 0)
        try await c.waitForQueued("moving", 2)
        let second = try await c.call("build/wait", ["image": "moving", "build": 2])
        #expect(second["status"] == "SUCCESS" && second["reasonSummary"] == "STACK", "\(JSONWriter.string(second))")
        #expect(second["reasons"]?.arrayValue?.first?["field"] == .string("FROM " + run), "\(JSONWriter.string(second))")
        let newRun = second["bases"]?.arrayValue?.first { $0["name"] == .string(run) }?["digest"]
        #expect(newRun != bases.first { $0["name"] == .string(run) }?["digest"])
    }
}
