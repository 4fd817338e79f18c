import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime

/// An image deleted while its build runs, and created again under the same name: the new
/// image's build runs and succeeds, the old build's end is never recorded on it, and build
/// numbers never repeat for the name (as kpack never reuses a build's name).
@Suite(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
struct ImageIncarnationTests {
    @Test func aRecreatedImageBuildsWhileTheDeletedOnesBuildEnds() async throws {
        let base = try await DockerfileStrategyTests.baseLayout()
        let state = TempDir("state"), contexts = TempDir("contexts")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        let from = "FROM oci:\(base.path)/oci:build\n"
        func context(_ name: String, _ dockerfile: String) throws -> String {
            let dir = contexts.path + "/" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try dockerfile.write(toFile: dir + "/Dockerfile", atomically: true, encoding: .utf8)
            return dir
        }

        // The first image's build waits in its step for a file that never comes.
        let handshake = "incarnation-" + UUID().uuidString
        let mount = state.path + "/dockerfile/mounts/default/" + Digest.of(Data(handshake.utf8)).hex
        let slow = try context("slow", from + "RUN --mount=type=cache,target=/sync,id=\(handshake) echo old step; touch /sync/started; "
                                   + StepLimitsTests.waitForFile("/sync/go") + "; echo old > /old")
        let first = try await c.call("image/create", ["name": "app", "strategy": "dockerfile", "source": ["local": ["path": .string(slow)]]])
        let oldNumber = try #require(first["build"]?.int)
        #expect(try await StepLimitsTests.poll { FileManager.default.fileExists(atPath: mount + "/started") ? true : nil } == true,
                "the first build's step did not start")

        // Deleted while the step runs, and created again at once with a quick Dockerfile.
        _ = try await c.call("image/delete", ["name": "app"])
        let quick = try context("quick", from + "RUN echo new > /new\n")
        let second = try await c.call("image/create", ["name": "app", "strategy": "dockerfile", "source": ["local": ["path": .string(quick)]]])
        let newNumber = try #require(second["build"]?.int)
        #expect(newNumber > oldNumber, "the new image's first build is \(newNumber); the deleted image's build \(oldNumber) may still be ending")

        // The new build runs and succeeds; the old one ended as deleted, and only it.
        let done = try await c.call("build/wait", ["image": "app", "build": .int(Int64(newNumber))], timeout: 300)
        done.expectStatus("SUCCESS")
        let statuses = { (n: Int) in
            c.notifications("build/statusChanged").filter { $0["image"] == "app" && $0["build"] == .int(Int64(n)) }.compactMap { $0["status"]?.stringValue }
        }
        _ = try await c.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["build"] == .int(Int64(oldNumber)) && $0["params"]?["status"] == "FAILURE" }
        let oldEnd = c.notifications("build/statusChanged").last { $0["image"] == "app" && $0["build"] == .int(Int64(oldNumber)) }
        #expect(oldEnd?["message"] == "image deleted", "\(oldEnd.map { JSONWriter.string($0) } ?? "")")
        #expect(statuses(newNumber) == ["QUEUED", "BUILDING", "SUCCESS"])

        // What build/list, build/status and build/logs say is the new image's build alone.
        let listed = try await c.call("build/list", ["image": "app"])["builds"]?.arrayValue ?? []
        #expect(listed.compactMap { $0["number"]?.int } == [newNumber], "\(listed)")
        #expect(try await c.call("build/status", ["image": "app"])["number"] == .int(Int64(newNumber)))
        let old = try await c.request("build/status", ["image": "app", "build": .int(Int64(oldNumber))])
        #expect(old["error"]?["code"] == 1001, "\(old)")
        let lines = try await c.call("build/logs", ["image": "app", "build": .int(Int64(newNumber))])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains { $0.contains("echo new") } && !lines.contains { $0.contains("old step") }, "\(lines)")
        let status = try await c.call("image/status", ["name": "app"])
        #expect(status["ready"] == "Ready" && status["lastSuccessfulBuild"]?["number"] == .int(Int64(newNumber)), "\(status)")
        #expect(status["lastFailedBuild"] == nil || status["lastFailedBuild"] == .null, "\(status)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/app")
        #expect(FileManager.default.fileExists(atPath: image.rootfs + "/new"))

        // Deleted with no build running and created again: the numbers still go on.
        _ = try await c.call("image/delete", ["name": "app"])
        let third = try await c.call("image/create", ["name": "app", "strategy": "dockerfile", "source": ["local": ["path": .string(quick)]]])
        #expect((third["build"]?.int ?? 0) > newNumber, "\(third)")
        try await c.call("build/wait", ["image": "app", "build": third["build"] ?? .null], timeout: 300).expectStatus("SUCCESS")
    }
}
