import Foundation
import JSONRPC
import Testing
import TestSupport

/// Images stay up to date by themselves: BUILDER rebuilds when the store gets new buildpack
/// versions, STACK rebuilds as rebases when the run image changes.
@Suite struct RebuildTests {
    static let app = HelloApp.path

    /// The statuses of every build, in notification order, checked for at most `limit` at once.
    static func maxConcurrent(_ c: SlipwayClient) -> Int {
        var running = Set<String>(), peak = 0
        for n in c.notifications("build/statusChanged") {
            let key = "\(n["image"]!.stringValue!)#\(n["build"]!.int!)"
            switch n["status"]?.stringValue {
            case "BUILDING": running.insert(key)
            case "SUCCESS", "FAILURE": running.remove(key)
            default: break
            }
            peak = max(peak, running.count)
        }
        return peak
    }

    @Test func newBuildpackVersionRebuildsEveryImageThatUsedTheOldOne() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-concurrent-builds", "2"])
        try await c.setUpDefaultBuilder()
        let names = (1...6).map { "app\($0)" }
        for n in names { _ = try await c.call("image/create", ["name": .string(n), "source": ["local": ["path": .string(Self.app)]]]) }
        let noProcfile = TempDir("np")
        try "echo built\n".write(toFile: noProcfile.path + "/build.sh", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "broken", "source": ["local": ["path": .string(noProcfile.path)]]])
        for n in names { #expect(try await c.call("build/wait", ["image": .string(n), "build": 1])["status"] == "SUCCESS") }
        try await c.call("build/wait", ["image": "broken", "build": 1]).expectStatus("FAILURE")

        // procfile 0.2.0 joins the store.
        let v2 = TempDir("v2")
        #expect(try await sh("cp -r '\(Repo.buildpacks.path)/procfile/.' '\(v2.path)/' && sed -i 's/^version = \"0.1.0\"/version = \"0.2.0\"/' '\(v2.path)/buildpack.toml'").status == 0)
        _ = try await c.call("clusterstore/add", ["name": "default", "buildpacks": .array([.string(v2.path)])])
        for n in names {
            try await c.waitForQueued(n, 2)
            let b = try await c.call("build/wait", ["image": .string(n), "build": 2])
            #expect(b["status"] == "SUCCESS")
            #expect(b["reasons"] == [["reason": "BUILDER", "field": "buildpacks", "old": "slipway/procfile 0.1.0", "new": "slipway/procfile 0.2.0"]])
            #expect(b["buildpacks"]?.arrayValue?.contains { $0["id"] == "slipway/procfile" && $0["version"] == "0.2.0" } == true)
        }
        #expect(try await c.call("build/list", ["image": "broken"])["builds"]?.arrayValue?.count == 1)
        #expect(Self.maxConcurrent(c) <= 2)
        #expect(Self.maxConcurrent(c) == 2)  // the limit was reached, so it was what held them back

        // Changing an image's builder is a CONFIG change.
        _ = try await c.call("clusterbuilder/create", ["name": "other", "stack": "base", "store": "default", "order": [["group": [["id": "slipway/procfile"]]]]])
        let changed = try await c.call("image/patch", ["name": "app1", "builder": ["kind": "ClusterBuilder", "name": "other"]])
        #expect(changed["changed"] == true)
        let b3 = try await c.call("build/wait", ["image": "app1", "build": 3])
        #expect(b3["reasons"]?.arrayValue?.first?["reason"] == "CONFIG")
        #expect(b3["reasons"]?.arrayValue?.first?["field"] == "builder")
    }

    /// `kp clusterbuilder save default -b slipway/procfile` drops build-script, which the last
    /// build of `app` ran: that is a BUILDER build naming the loss, as kpack decides it. `plain`
    /// never ran build-script, so it does not rebuild.
    @Test func aBuilderThatLosesABuildpackTheLastBuildUsedRebuilds() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let plain = TempDir("plain")
        try "web: echo hi\n".write(toFile: plain.path + "/Procfile", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "app", "source": ["local": ["path": .string(Self.app)]]])
        _ = try await c.call("image/create", ["name": "plain", "source": ["local": ["path": .string(plain.path)]]])
        let first = try await c.call("build/wait", ["image": "app", "build": 1])
        #expect(first["status"] == "SUCCESS")
        #expect(first["buildpacks"]?.arrayValue?.contains { $0["id"] == "slipway/build-script" } == true)
        let plainFirst = try await c.call("build/wait", ["image": "plain", "build": 1])
        #expect(plainFirst["status"] == "SUCCESS" && plainFirst["buildpacks"]?.arrayValue?.map { $0["id"] } == ["slipway/procfile"])

        _ = try await c.call("clusterbuilder/patch", ["name": "default", "order": [["group": [["id": "slipway/procfile"]]]]])
        // The rebuilds are queued before the patch is answered.
        let second = try await c.call("build/status", ["image": "app", "build": 2])
        #expect(second["reasons"] == [["reason": "BUILDER", "field": "buildpacks", "old": "slipway/build-script 0.1.0", "new": "(removed)"]])
        #expect(try await c.call("build/list", ["image": "plain"])["builds"]?.arrayValue?.count == 1)
        #expect(try await c.call("build/wait", ["image": "app", "build": 2])["buildpacks"]?.arrayValue?.map { $0["id"] } == ["slipway/procfile"])
    }

    @Test func aNewRunImageIsARebaseAndANewStackIDAFullBuild() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "r", "source": ["local": ["path": .string(Self.app)]]])
        try await c.call("build/wait", ["image": "r", "build": 1]).expectStatus("SUCCESS")
        let layout = state.path + "/layouts/default/r"
        func manifest() throws -> [String] {
            try JSONParser.parse(Array(try sh("skopeo inspect --raw oci:\(layout):latest").out.utf8))["layers"]?.arrayValue?.compactMap { $0["digest"]?.stringValue } ?? []
        }
        let before = try manifest()

        // A new run image: the host run stack plus one file.
        let run2 = TempDir("run2")
        #expect(try await sh("cp -a '\(HostStack.run)/.' '\(run2.path)/' && echo v2 > '\(run2.path)/etc/run-image-version'").status == 0)
        let stack = try await c.call("clusterstack/patch", ["name": "base", "runImage": .string(run2.path)])
        try await c.waitForQueued("r", 2)
        let b2 = try await c.call("build/wait", ["image": "r", "build": 2])
        #expect(b2["status"] == "SUCCESS", "\(JSONWriter.string(b2))")
        #expect(b2["reasonSummary"] == "STACK")
        let phases = Set(try await c.call("build/logs", ["image": "r", "build": 2])["lines"]?.arrayValue?.compactMap { $0["phase"]?.stringValue } ?? [])
        #expect(phases == ["rebase", "completion"])  // no detect or build: no buildpack ran
        let after = try manifest()
        let runDigest = try #require(stack["status"]?["runImageDigest"]?.stringValue)
        let runManifest = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: state.path + "/blobs/sha256/" + runDigest.dropFirst(7)))))
        let runLayers = runManifest["layers"]?.arrayValue?.compactMap { $0["digest"]?.stringValue } ?? []
        #expect(Array(after.prefix(runLayers.count)) == runLayers)
        #expect(Array(after.suffix(4)) == Array(before.suffix(4)))  // launch, app, launcher and config layers unchanged
        #expect(after.first != before.first)
        let bundle = try await UnpackedImage(layout: layout)
        #expect(try String(contentsOfFile: bundle.rootfs + "/etc/run-image-version", encoding: .utf8) == "v2\n")
        #expect(try await UnpackedImage.runProcess(layout: layout).contains(HelloApp.expectedLine))
        let status = try await c.call("build/status", ["image": "r", "build": 2])
        #expect(status["runImage"]?.stringValue?.hasSuffix(runDigest) == true)
        let labels = try JSONParser.parse(Array(try await sh("skopeo inspect oci:\(layout):latest").out.utf8))["Labels"]
        let metadata = try JSONParser.parse(Array((labels?["io.buildpacks.lifecycle.metadata"]?.stringValue ?? "").utf8))
        // A run image that is not in a registry is referred to by its image ID (its config's digest).
        #expect(metadata["runImage"]?["reference"] == runManifest["config"]?["digest"])
        let runConfig = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: state.path + "/blobs/sha256/" + (runManifest["config"]?["digest"]?.stringValue ?? "").dropFirst(7)))))
        #expect(metadata["runImage"]?["topLayer"] == runConfig["rootfs"]?["diff_ids"]?.arrayValue?.last)

        // Another stack id: a full build.
        _ = try await c.call("clusterstack/patch", ["name": "base", "id": "io.slipway.other"])
        try await c.waitForQueued("r", 3)
        let b3 = try await c.call("build/wait", ["image": "r", "build": 3])
        #expect(b3["status"] == "SUCCESS")
        let phases3 = Set(try await c.call("build/logs", ["image": "r", "build": 3])["lines"]?.arrayValue?.compactMap { $0["phase"]?.stringValue } ?? [])
        #expect(phases3.contains("detect"))
        #expect(phases3.contains("build"))
    }

    @Test func refreshNoticesANewRunImageBehindTheSameReference() async throws {
        let state = TempDir("state")
        let run = TempDir("run")
        #expect(try await sh("cp -a '\(HostStack.run)/.' '\(run.path)/'").status == 0)
        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("clusterstack/create", ["name": "base", "buildImage": .string(HostStack.build), "runImage": .string(run.path), "id": "io.slipway.test"])
        _ = try await c.call("clusterstore/create", ["name": "default", "buildpacks": .array(["build-script", "procfile"].map { .string(Repo.buildpacks.appendingPathComponent($0).path) })])
        _ = try await c.call("clusterbuilder/create", ["name": "default", "stack": "base", "store": "default",
                                                       "order": [["group": [["id": "slipway/build-script"], ["id": "slipway/procfile"]]]]])
        _ = try await c.call("image/create", ["name": "r", "source": ["local": ["path": .string(Self.app)]]])
        try await c.call("build/wait", ["image": "r", "build": 1]).expectStatus("SUCCESS")

        // Nothing changed: refresh starts nothing.
        let same = try await c.call("clusterstack/refresh", ["name": "base"])
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await c.call("build/list", ["image": "r"])["builds"]?.arrayValue?.count == 1)
        // The folder behind the reference changed: refresh sees a new digest and rebases.
        #expect(try await sh("echo patched > '\(run.path)/etc/security-patch'").status == 0)
        let refreshed = try await c.call("clusterstack/refresh", ["name": "base"])
        #expect(refreshed["status"]?["runImageDigest"] != same["status"]?["runImageDigest"])
        try await c.waitForQueued("r", 2)
        let b2 = try await c.call("build/wait", ["image": "r", "build": 2])
        #expect(b2["reasonSummary"] == "STACK")

        // The build cache: its size is reported, and patch can clear it.
        let status = try await c.call("image/status", ["name": "r"])
        #expect((status["cacheBytes"]?.int ?? 0) > 0)
        let cleared = try await c.call("image/patch", ["name": "r", "clearCache": true])
        #expect(cleared["changed"] == false)
        #expect(try await c.call("image/status", ["name": "r"])["cacheBytes"] == 0)
        _ = try await c.call("image/trigger", ["name": "r"])
        let lines = try await c.call("build/logs", ["image": "r", "build": 3, "follow": true])
        #expect(lines["status"] == "SUCCESS")
        #expect(c.notifications("build/log").contains { $0["build"] == 3 && $0["line"] == "This cache has seen 1 build(s)" })

        // A buildpack that names other stacks makes its builder not ready, saying why.
        let other = TempDir("other")
        #expect(try await sh("cp -r '\(Repo.buildpacks.path)/procfile/.' '\(other.path)/' && sed -i 's/^id = \"\\*\"/id = \"io.other.stack\"/; s/^version = \"0.1.0\"/version = \"0.3.0\"/' '\(other.path)/buildpack.toml'").status == 0)
        _ = try await c.call("clusterstore/create", ["name": "narrow", "buildpacks": .array([.string(other.path)])])
        let b = try await c.call("clusterbuilder/create", ["name": "narrow", "stack": "base", "store": "narrow", "order": [["group": [["id": "slipway/procfile"]]]]])
        #expect(b["status"]?["ready"] == false)
        #expect(b["status"]?["message"]?.stringValue?.contains("do not support stack 'io.slipway.test'") == true, "\(JSONWriter.string(b))")
        // Targets (Buildpack API 0.10+): a buildpack only for another architecture.
        let arm = TempDir("arm")
        #expect(try await sh("cp -r '\(Repo.buildpacks.path)/procfile/.' '\(arm.path)/' && sed -i 's/^version = \"0.1.0\"/version = \"0.4.0\"/' '\(arm.path)/buildpack.toml' && printf '\\n[[targets]]\\nos = \"linux\"\\narch = \"s390x\"\\n' >> '\(arm.path)/buildpack.toml'").status == 0)
        _ = try await c.call("clusterstore/create", ["name": "s390x", "buildpacks": .array([.string(arm.path)])])
        let t = try await c.call("clusterbuilder/create", ["name": "s390x", "stack": "base", "store": "s390x", "order": [["group": [["id": "slipway/procfile"]]]]])
        #expect(t["status"]?["ready"] == false)
        #expect(t["status"]?["message"]?.stringValue?.contains("linux/amd64") == true, "\(JSONWriter.string(t))")
    }

    @Test func stackAndConfigTogetherAreOneFullBuild() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-concurrent-builds", "2"])
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/slow").path])
        _ = try await c.call("image/create", ["name": "x", "source": ["local": ["path": .string(Self.app)]]])
        try await c.call("build/wait", ["image": "x", "build": 1]).expectStatus("SUCCESS")
        // Two slow builds of other images hold both build slots, so x's next build waits QUEUED.
        _ = try await c.call("clusterbuilder/create", ["name": "slow", "stack": "base", "store": "default",
                                                       "order": [["group": [["id": "test/slow"], ["id": "slipway/procfile"]]]]])
        for n in ["hold1", "hold2"] {
            _ = try await c.call("image/create", ["name": .string(n), "builder": ["kind": "ClusterBuilder", "name": "slow"], "env": ["SLEEP_SECONDS": "60"],
                                                  "source": ["local": ["path": .string(Self.app)]]])
            _ = try await c.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["image"] == .string(n) && $0["params"]?["status"] == "BUILDING" }
        }
        let run2 = TempDir("run2")
        #expect(try await sh("cp -a '\(HostStack.run)/.' '\(run2.path)/' && echo v2 > '\(run2.path)/etc/run-image-version'").status == 0)
        _ = try await c.call("clusterstack/patch", ["name": "base", "runImage": .string(run2.path)])
        let patched = try await c.call("image/patch", ["name": "x", "env": ["MODE": "prod"]])
        #expect(patched["build"] == 2)  // joined the queued STACK build
        for n in ["hold1", "hold2"] { _ = try await c.call("build/cancel", ["image": .string(n), "build": 1]) }
        let b2 = try await c.call("build/wait", ["image": "x", "build": 2])
        #expect(b2["status"] == "SUCCESS")
        #expect(b2["reasonSummary"] == "CONFIG+")
        #expect(Set(b2["reasons"]?.arrayValue?.compactMap { $0["reason"]?.stringValue } ?? []) == ["CONFIG", "STACK"])
        let phases = Set(try await c.call("build/logs", ["image": "x", "build": 2])["lines"]?.arrayValue?.compactMap { $0["phase"]?.stringValue } ?? [])
        #expect(phases.contains("build"))  // a full build, not a rebase
        #expect(!phases.contains("rebase"))
    }

    @Test func compositeBuildpacksExpandIntoTheirGroups() async throws {
        let state = TempDir("state")
        let composite = TempDir("composite")
        try """
            api = "0.10"

            [buildpack]
            id = "slipway/all"
            version = "1.0.0"

            [[order]]
            [[order.group]]
            id = "slipway/build-script"
            optional = true

            [[order.group]]
            id = "slipway/procfile"
            """.write(toFile: composite.path + "/buildpack.toml", atomically: true, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [composite.path], order: [["group": [["id": "slipway/all"]]]])
        let builder = try await c.call("clusterbuilder/get", ["name": "default"])
        #expect(builder["status"]?["ready"] == true, "\(JSONWriter.string(builder))")
        #expect(builder["status"]?["order"] == [["group": [["id": "slipway/build-script", "version": "0.1.0", "optional": true],
                                                          ["id": "slipway/procfile", "version": "0.1.0"]]]])
        _ = try await c.call("image/create", ["name": "comp", "source": ["local": ["path": .string(Self.app)]]])
        let b = try await c.call("build/wait", ["image": "comp", "build": 1])
        #expect(b["buildpacks"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["slipway/build-script", "slipway/procfile"])
        let status = try await c.call("clusterstore/status", ["name": "default"])
        let rows = status["buildpacks"]?.arrayValue ?? []
        #expect(rows.first { $0["id"] == "slipway/procfile" }?["builders"] == ["ClusterBuilder/default"])
        #expect(rows.first { $0["id"] == "slipway/all" }?["order"]?.arrayValue?.count == 1)
    }

    @Test func aLaunchLayerKeptByItsMetadataIsReusedFromThePreviousImage() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/keeper").path],
                                        order: [["group": [["id": "test/keeper"]]]])
        _ = try await c.call("image/create", ["name": "k", "source": ["local": ["path": .string(Self.app)]]])
        try await c.call("build/wait", ["image": "k", "build": 1]).expectStatus("SUCCESS")
        let layout = state.path + "/layouts/default/k"
        let first = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(layout):latest").out.utf8))["layers"]?.arrayValue?.compactMap { $0["digest"] } ?? []
        _ = try await c.call("image/trigger", ["name": "k"])
        try await c.call("build/wait", ["image": "k", "build": 2]).expectStatus("SUCCESS")
        let lines = try await c.call("build/logs", ["image": "k", "build": 2])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains("Restoring metadata for layer 'test/keeper:tool' from the previous image"))
        #expect(lines.contains("keeping layer tool (version 1)"))
        #expect(lines.contains("Reusing layer 'test/keeper:tool' from the previous image"))
        let second = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(layout):latest").out.utf8))["layers"]?.arrayValue?.compactMap { $0["digest"] } ?? []
        #expect(second == first)
        #expect(try await UnpackedImage.runProcess(layout: layout).contains("kept tool works"))
    }

    @Test func aFailedBuildLeavesTheCacheAsItWas() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/maybe-fail").path],
                                        order: [["group": [["id": "slipway/build-script"], ["id": "test/maybe-fail"], ["id": "slipway/procfile"]]]])
        _ = try await c.call("image/create", ["name": "m", "source": ["local": ["path": .string(Self.app)]]])
        try await c.call("build/wait", ["image": "m", "build": 1]).expectStatus("SUCCESS")
        _ = try await c.call("image/patch", ["name": "m", "env": ["FAIL": "1"]])
        try await c.call("build/wait", ["image": "m", "build": 2]).expectStatus("FAILURE")
        _ = try await c.call("image/patch", ["name": "m", "env": ["FAIL": "0"]])
        try await c.call("build/wait", ["image": "m", "build": 3]).expectStatus("SUCCESS")
        let lines = try await c.call("build/logs", ["image": "m", "build": 3])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        // Build 2 saw the cache of build 1 but failed; build 3 starts from build 1's cache again.
        #expect(lines.contains("This cache has seen 2 build(s)"), "\(lines)")
    }
}
