import Foundation
import JSONRPC
import Testing
import TestSupport

/// End to end through the real `slipway` binary over a pipe: real bwrap, real OCI layouts
/// checked with skopeo and umoci.
@Suite(.serialized) struct BuildFlowTests {
    @Test func createBuildsARunnableImageWithLogsAndStatus() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let created = try await c.call("image/create", ["name": "hello", "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(created["build"] == 1)
        let logs = try await c.call("build/logs", ["image": "hello", "follow": true])
        #expect(logs["status"] == "SUCCESS")

        // Every log line arrived before the reply, numbered 1…N, phases in lifecycle order.
        let lines = c.notifications("build/log").filter { $0["image"] == "hello" && $0["build"] == 1 }
        #expect(lines.map { $0["seq"]?.int ?? 0 } == Array(1...lines.count))
        let order = ["prepare", "detect", "analyze", "restore", "build", "export", "completion"]
        let phases = lines.compactMap { $0["phase"]?.stringValue }
        let ranks = phases.map { order.firstIndex(of: $0) ?? -1 }
        #expect(!ranks.contains(-1))
        #expect(ranks == ranks.sorted(), "phases out of order: \(phases)")
        #expect(Set(phases) == Set(order))
        #expect(lines.contains { $0["line"] == "generated bin/hello" && $0["stream"] == "stdout" && $0["phase"] == "build" })

        // Status transitions, in order, and the image became Ready.
        let statuses = c.notifications("build/statusChanged").filter { $0["image"] == "hello" }.compactMap { $0["status"]?.stringValue }
        #expect(statuses == ["QUEUED", "BUILDING", "SUCCESS"])
        #expect(c.notifications("image/statusChanged").last?["ready"] == "Ready")
        #expect(c.notifications("event").contains { $0["reason"] == "Succeeded" })

        let status = try await c.call("image/status", ["name": "hello"])
        #expect(status["ready"] == "Ready")
        let latest = try #require(status["latestImage"]?.stringValue)
        let layout = state.path + "/layouts/default/hello"
        #expect(latest.hasPrefix("oci:\(layout)@sha256:"))
        #expect(status["lastSuccessfulBuild"] == ["number": 1, "reason": "CONFIG"])

        let bs = try await c.call("build/status", ["image": "hello"])
        #expect(bs["status"] == "SUCCESS")
        #expect(bs["buildpacks"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["slipway/build-script", "slipway/procfile"])
        #expect(bs["source"]?["type"] == "Local Source")
        #expect(bs["runImage"]?.stringValue?.contains("@sha256:") == true)

        // Checked from outside: skopeo sees the CNB labels and the digest Slipway reported.
        let inspect = try await sh("skopeo inspect oci:\(layout):latest")
        #expect(inspect.status == 0, "\(inspect.err)")
        let info = try JSONParser.parse(Array(inspect.out.utf8))
        #expect(info["Labels"]?["io.buildpacks.lifecycle.metadata"] != nil)
        #expect(info["Labels"]?["io.buildpacks.build.metadata"] != nil)
        #expect(info["Digest"]?.stringValue.map { latest.hasSuffix($0) } == true)
        let config = try JSONParser.parse(Array(try await sh("skopeo inspect --config oci:\(layout):latest").out.utf8))
        #expect(config["config"]?["Entrypoint"] == ["/cnb/process/web"])

        // umoci unpacks it, and the default process prints the example's line.
        let output = try await UnpackedImage.runProcess(layout: layout)
        #expect(output.contains(HelloApp.expectedLine))
    }

    @Test func buildLayersLaunchMetadataAndTheLauncher() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: ["provider", "consumer"].map { Repo.fixtures.appendingPathComponent("buildpacks/" + $0).path },
                                        order: [["group": [["id": "test/provider"], ["id": "test/consumer"]]]])
        _ = try await c.call("image/create", ["name": "layers", "source": ["local": ["path": .string(HelloApp.path)]]])
        let b = try await c.call("build/wait", ["image": "layers", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "layers"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        // The plan: the consumer's requirement (with metadata) went to the provider.
        #expect(lines.contains("provider plan: 1 entry for tool; version wanted: 1.2"))
        // A build layer's env.build and bin/ reach the next buildpack.
        #expect(lines.contains("consumer sees TOOL_HOME=/layers/test_provider/tools"))
        #expect(lines.contains("tool ran with hello"))
        // Only launch layers are exported; a folder without .toml is not a layer.
        #expect(lines.contains("Adding layer 'test/provider:runtime'"))
        #expect(lines.contains("Adding layer 'app'") && lines.contains("Adding 1/1 app layer(s)"))
        #expect(!lines.contains { $0.contains("test/provider:tools") || $0.contains("scratch") })
        // launch.toml labels become image labels.
        let layout = state.path + "/layouts/default/layers"
        let info = try JSONParser.parse(Array(try await sh("skopeo inspect oci:\(layout):latest").out.utf8))
        #expect(info["Labels"]?["org.example.built-by"] == "test/consumer")
        // The launcher: exec.d output, env.launch (and per-process env.launch/<type>), default args or the user's.
        #expect(try await UnpackedImage.runProcess(layout: layout).contains("web: EXECD_VAR=set by exec.d ROLE=everyone args=default-arg"))
        #expect(try await UnpackedImage.runProcess(layout: layout, args: ["mine"]).contains("args=mine"))
        #expect(try await UnpackedImage.runProcess(layout: layout, process: "worker").contains("worker: ROLE=worker-only"))
    }

    @Test func patchTriggerRetentionFailureAndDelete() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/fail").path])
        _ = try await c.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        _ = try await c.call("build/wait", ["image": "app", "build": 1])

        // Same content: no change, no build.
        let same = try await c.call("image/patch", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(same["changed"] == false)
        #expect(same["build"] == nil)
        #expect(try await c.call("build/list", ["image": "app"])["builds"]?.arrayValue?.count == 1)

        // Env change: a CONFIG build.
        let patched = try await c.call("image/patch", ["name": "app", "env": ["FEATURE": "on"]])
        #expect(patched["changed"] == true)
        #expect(patched["build"] == 2)
        let b2 = try await c.call("build/wait", ["image": "app", "build": 2])
        #expect(b2["status"] == "SUCCESS")
        #expect(b2["reasons"]?.arrayValue?.first?["reason"] == "CONFIG")
        #expect(b2["reasons"]?.arrayValue?.first?["field"] == "env")
        let layout = state.path + "/layouts/default/app"
        let blobsBefore = try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256").sorted()
        let digest2 = b2["imageDigest"]

        // Trigger: a TRIGGER build that reuses every layer and writes no new blob.
        let t = try await c.call("image/trigger", ["name": "app"])
        #expect(t["build"] == 3)
        let b3 = try await c.call("build/wait", ["image": "app", "build": 3])
        #expect(b3["status"] == "SUCCESS")
        #expect(b3["reasonSummary"] == "TRIGGER")
        #expect(b3["imageDigest"] == digest2)
        let log3 = try await c.call("build/logs", ["image": "app", "build": 3])
        let texts = log3["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(texts.filter { $0.hasPrefix("Reusing layer") }.count == 4)
        #expect(!texts.contains { $0.hasPrefix("Adding layer") })
        #expect(texts.contains("Reusing layer 'app'") && !texts.contains("Adding 1/1 app layer(s)"), "\(texts)")
        #expect(texts.contains("This cache has seen 3 build(s)"))  // cache layer restored each time
        let blobsAfter = try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256").sorted()
        #expect(blobsAfter == blobsBefore)

        // Tag is immutable.
        let tagChange = try await c.request("image/patch", ["name": "app", "tag": .string("oci:\(state.path)/elsewhere:x")])
        #expect(tagChange["error"]?["code"] == 1003)

        // A failing buildpack: FAILURE with its last lines in the message.
        _ = try await c.call("clusterbuilder/create", ["name": "failing", "stack": "base", "store": "default", "order": [["group": [["id": "test/fail"]]]]])
        _ = try await c.call("image/create", ["name": "broken", "builder": ["kind": "ClusterBuilder", "name": "failing"],
                                              "source": ["local": ["path": .string(HelloApp.path)]]])
        let failed = try await c.call("build/wait", ["image": "broken", "build": 1])
        #expect(failed["status"] == "FAILURE")
        let message = failed["message"]?.stringValue ?? ""
        #expect(message.contains("test/fail@1.0.0"))
        #expect(message.contains("exit status 3"))
        #expect(message.contains("fatal: missing ingredient 'flux capacitor'"))
        #expect(!message.contains("\n") && !message.contains("\r"), "a FAILURE message is one line: \(message)")
        let brokenStatus = try await c.call("image/status", ["name": "broken"])
        #expect(brokenStatus["ready"] == "NotReady")
        #expect(brokenStatus["lastFailedBuild"]?["number"] == 1)

        // Retention: 12 failed builds leave the 10 newest, and the older logs are gone.
        for n in 2...12 {
            let r = try await c.call("image/trigger", ["name": "broken"])
            #expect(r["build"]?.int == n)
            _ = try await c.call("build/wait", ["image": "broken", "build": .int(Int64(n))])
        }
        let builds = try await c.call("build/list", ["image": "broken"])["builds"]?.arrayValue ?? []
        #expect(builds.compactMap { $0["number"]?.int } == Array(3...12))
        #expect(builds.allSatisfy { $0["status"] == "FAILURE" })
        let logDir = state.path + "/logs/default/broken"
        let logFiles = Set(try FileManager.default.contentsOfDirectory(atPath: logDir))
        #expect(logFiles == Set((3...12).map { "\($0).log" }))
        #expect(try await c.request("build/status", ["image": "broken", "build": 1])["error"]?["code"] == 1001)

        // Delete: the image, its builds and logs go (its layout in the state directory goes at
        // the next collection; GarbageCollectionTests shows that).
        _ = try await c.call("image/delete", ["name": "broken"])
        #expect(try await c.request("image/get", ["name": "broken"])["error"]?["code"] == 1001)
        #expect(try await c.request("build/list", ["image": "broken"])["error"]?["code"] == 1001)
        #expect(!FileManager.default.fileExists(atPath: logDir))
        _ = try await c.call("image/delete", ["name": "app"])
        #expect(try await c.call("image/list")["images"] == [])
    }

    @Test func sandboxShowsOnlyTheCNBMounts() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, environment: ["HOST_ONLY_SECRET": "s3cr3t-host-value"])
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/probe").path],
                                        order: [["group": [["id": "test/probe"]]]])
        let probes = ["\(state.path)/state.db", Repo.root.appendingPathComponent("Package.swift").path, "/etc/hostname", "/root/.bashrc"]
        _ = try await c.call("image/create", ["name": "probe", "env": ["PROBE_PATHS": .string(probes.joined(separator: " "))],
                                              "source": ["local": ["path": .string(HelloApp.path)]]])
        _ = try await c.call("build/wait", ["image": "probe", "build": 1])
        let lines = try await c.call("build/logs", ["image": "probe"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        for p in probes {
            #expect(lines.contains("PROBE-BLOCKED \(p)"), "the sandbox let a buildpack read \(p)")
        }
        #expect(!lines.contains { $0.hasPrefix("PROBE-READABLE") })
        #expect(lines.contains("PROBE-UID 1000"))
        #expect(lines.contains("PROBE-READONLY /usr"))
        #expect(lines.contains("PROBE-ENV-SECRET unset"))  // clean environment
        #expect(lines.contains("PROBE-ARGS 3"))  // positional args: layers, platform, plan
        #expect(lines.contains("PROBE-CNB /layers/test_probe /tmp/cnb-io/test_probe.build/plan.toml /platform"))
        // Nothing of the host's root but the stack image and the CNB mounts.
        let root = lines.first { $0.contains("workspace") && $0.contains("layers") } ?? ""
        let entries = Set(root.split(separator: " ").map(String.init))
        #expect(entries.isSubset(of: ["bin", "cnb", "dev", "etc", "home", "layers", "lib", "lib64", "platform", "proc", "sbin", "tmp", "usr", "workspace"]),
                "unexpected entries in the sandbox root: \(entries)")
    }

    /// In one process (`--embedded`), the engine dies with its client; SharedEngineTests kills a
    /// shared engine the same way.
    @Test func killedEmbeddedServerLeavesStateAndMarksTheRunningBuildInterrupted() async throws {
        let state = TempDir("state")
        let first = try SlipwayClient(stateDir: state.path, arguments: ["--embedded"])
        try await first.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/slow").path])
        _ = try await first.call("image/create", ["name": "keep", "source": ["local": ["path": .string(HelloApp.path)]]])
        let kept = try await first.call("build/wait", ["image": "keep", "build": 1])
        #expect(kept["status"] == "SUCCESS")
        _ = try await first.call("clusterbuilder/create", ["name": "slow", "stack": "base", "store": "default", "order": [["group": [["id": "test/slow"]]]]])
        _ = try await first.call("image/create", ["name": "slow", "builder": ["kind": "ClusterBuilder", "name": "slow"], "env": ["SLEEP_SECONDS": "60"],
                                                  "source": ["local": ["path": .string(HelloApp.path)]]])
        _ = try await first.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["image"] == "slow" && $0["params"]?["status"] == "BUILDING" }
        // Let the buildpack start, then kill the server outright.
        _ = try await first.call("build/logs", ["image": "slow"])
        try await Task.sleep(for: .milliseconds(500))
        kill(first.process.processIdentifier, SIGKILL)
        _ = try await first.waitForExit()

        let second = try SlipwayClient(stateDir: state.path, arguments: ["--embedded"])
        let list = try await second.call("image/list")
        #expect(list["images"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.sorted() == ["keep", "slow"])
        let slow = try await second.call("build/status", ["image": "slow", "build": 1])
        #expect(slow["status"] == "FAILURE")
        #expect(slow["message"]?.stringValue?.contains("interrupted") == true)
        let keep = try await second.call("image/status", ["name": "keep"])
        #expect(keep["ready"] == "Ready")
        #expect(keep["latestImage"] == kept["image"])
        #expect(try await second.call("image/status", ["name": "slow"])["ready"] == "NotReady")
        _ = try await second.waitFor { $0["method"] == "window/logMessage" && $0["params"]?["message"]?.stringValue?.contains("interrupted") == true }
        #expect(try await second.call("clusterbuilder/get", ["name": "default"])["status"]?["ready"] == true)
    }

    /// Children are spawned from a thread that lives as long as the server, so a step outliving
    /// the thread pool's idle threads is not killed by bwrap's --die-with-parent.
    @Test func longBuildpackStepsRunToTheEnd() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/slow").path],
                                        order: [["group": [["id": "test/slow"], ["id": "slipway/procfile"]]]])
        _ = try await c.call("image/create", ["name": "long", "env": ["SLEEP_SECONDS": "8"], "source": ["local": ["path": .string(HelloApp.path)]]])
        let b = try await c.call("build/wait", ["image": "long", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "long"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains("done sleeping"))
    }

    @Test func cancelEndsABuildAsCanceledFailure() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/slow").path],
                                        order: [["group": [["id": "test/slow"]]]])
        _ = try await c.call("image/create", ["name": "s", "env": ["SLEEP_SECONDS": "60"], "source": ["local": ["path": .string(HelloApp.path)]]])
        // Wait until the buildpack is running.
        var started = false
        for _ in 0..<600 where !started {
            let lines = try await c.call("build/logs", ["image": "s"])["lines"]?.arrayValue ?? []
            started = lines.contains { $0["line"]?.stringValue?.hasPrefix("sleeping") == true }
            if !started { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(started)
        let t0 = Date()
        _ = try await c.call("build/cancel", ["image": "s"])
        let b = try await c.call("build/wait", ["image": "s", "build": 1])
        #expect(b["status"] == "FAILURE")
        #expect(b["message"] == "canceled")
        #expect(Date().timeIntervalSince(t0) < 20)
        // The sandboxed processes are gone, and the next build works.
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await sh("pgrep -f '\(state.path)/wor[k]' || true").out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        _ = try await c.call("image/patch", ["name": "s", "env": ["SLEEP_SECONDS": "0"]])
        #expect(try await c.call("build/wait", ["image": "s", "build": 2])["status"] == "SUCCESS")
        #expect(try await c.request("build/cancel", ["image": "s"])["error"]?["code"] == 1003)

        // A build over its buildTimeout fails, saying so.
        _ = try await c.call("image/create", ["name": "t", "buildTimeout": 1, "env": ["SLEEP_SECONDS": "60"], "source": ["local": ["path": .string(HelloApp.path)]]])
        let timedOut = try await c.call("build/wait", ["image": "t", "build": 1])
        #expect(timedOut["status"] == "FAILURE")
        #expect(timedOut["message"]?.stringValue?.contains("timed out after 1 seconds") == true)

        // $/cancelRequest on a pending build/wait answers -32800; the build goes on.
        _ = try await c.call("image/patch", ["name": "s", "env": ["SLEEP_SECONDS": "60"]])
        c.send(#"{"jsonrpc":"2.0","id":"waiting","method":"build/wait","params":{"image":"s","build":3}}"#)
        try await Task.sleep(for: .milliseconds(300))
        c.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"waiting"}}"#)
        let cancelled = try await c.waitFor { $0["id"] == "waiting" }
        #expect(cancelled["error"]?["code"] == -32800)
        #expect(try await c.call("build/status", ["image": "s", "build": 3])["status"] == "BUILDING")
        _ = try await c.call("build/cancel", ["image": "s", "build": 3])
    }
}
