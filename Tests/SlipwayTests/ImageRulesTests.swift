import Foundation
import JSONRPC
import Testing
import TestSupport

/// Image rules through the binary: one build at a time, queued changes collapse, list filters,
/// save, namespaced builders, events, order groups, stacks from OCI layouts, subPath.
@Suite struct ImageRulesTests {
    static let app = HelloApp.path

    @Test func changesQueueBehindTheRunningBuildAndCollapseIntoOne() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/slow").path],
                                        order: [["group": [["id": "test/slow"]]]])
        _ = try await c.call("image/create", ["name": "q", "env": ["SLEEP_SECONDS": "600"], "source": ["local": ["path": .string(Self.app)]]])
        _ = try await c.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["status"] == "BUILDING" }
        let p1 = try await c.call("image/patch", ["name": "q", "env": ["A": "1"]])
        let p2 = try await c.call("image/patch", ["name": "q", "env": ["B": "2"]])
        let t = try await c.call("image/trigger", ["name": "q"])
        #expect(p1["build"] == 2)
        #expect(p2["build"] == 2)
        #expect(t["build"] == 2)
        let rows = try await c.call("build/list", ["image": "q"])["builds"]?.arrayValue ?? []
        #expect(rows.compactMap { $0["status"]?.stringValue } == ["BUILDING", "QUEUED"])
        #expect(rows.last?["reasonSummary"] == "CONFIG+")
        #expect(rows.last?["reasons"] == ["CONFIG", "TRIGGER"])
        // Build 2 starts only when build 1 ends, with the latest configuration.
        _ = try await c.call("image/patch", ["name": "q", "env": ["SLEEP_SECONDS": "0"]])
        _ = try await c.call("build/cancel", ["image": "q", "build": 1])
        let b2 = try await c.call("build/wait", ["image": "q", "build": 2])
        #expect(b2["status"] == "SUCCESS")
        let statuses = c.notifications("build/statusChanged").filter { $0["image"] == "q" }.map { "\($0["build"]!.int!):\($0["status"]!.stringValue!)" }
        #expect(statuses == ["1:QUEUED", "1:BUILDING", "2:QUEUED", "1:FAILURE", "2:BUILDING", "2:SUCCESS"])
        let logs = try await c.call("build/logs", ["image": "q", "build": 2])["lines"]?.arrayValue ?? []
        #expect(logs.contains { $0["line"] == "sleeping for 0 seconds" })
        #expect(try await c.call("image/get", ["name": "q"])["env"] == ["SLEEP_SECONDS": "0", "A": "1", "B": "2"])
    }

    @Test func listFiltersSaveNamespacedBuildersAndEvents() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/fail").path])
        _ = try await c.call("builder/create", ["name": "failing", "namespace": "team", "stack": "base", "store": "default",
                                                "order": [["group": [["id": "test/fail"]]]]])
        #expect(try await c.call("builder/list", ["namespace": "team"])["builders"]?.arrayValue?.first?["status"]?["ready"] == true)
        #expect(try await c.call("builder/list")["builders"] == [])
        let local: JSONValue = ["local": ["path": .string(Self.app)]]
        // image/save creates, then patches.
        let saved = try await c.call("image/save", ["name": "good", "source": local])
        #expect(saved["changed"] == true)
        #expect(saved["build"] == 1)
        _ = try await c.call("image/create", ["name": "bad", "namespace": "team", "builder": ["kind": "Builder", "name": "failing"], "source": local])
        _ = try await c.call("build/wait", ["image": "good", "build": 1])
        _ = try await c.call("build/wait", ["image": "bad", "namespace": "team", "build": 1])
        let unchanged = try await c.call("image/save", ["name": "good", "source": local])
        #expect(unchanged["changed"] == false)
        let dry = try await c.call("image/create", ["name": "dry", "source": local, "dryRun": true])
        #expect(dry["build"] == nil)

        func names(_ params: JSONValue) async throws -> [String] {
            try await c.call("image/list", params)["images"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        }
        #expect(try await names([:]) == ["good"])
        #expect(try await names(["namespace": "team"]) == ["bad"])
        #expect(try await names(["allNamespaces": true]) == ["good", "bad"])
        #expect(try await names(["allNamespaces": true, "filter": ["ready": "NotReady"]]) == ["bad"])
        #expect(try await names(["allNamespaces": true, "filter": ["builder": "failing"]]) == ["bad"])
        #expect(try await names(["allNamespaces": true, "filter": ["latestReason": "CONFIG"]]) == ["good", "bad"])
        #expect(try await names(["allNamespaces": true, "filter": ["latestReason": "TRIGGER"]]) == [])

        // A builder whose order names a buildpack the store lacks is not ready, and builds with it fail saying why.
        let notReady = try await c.call("clusterbuilder/create", ["name": "incomplete", "stack": "base", "store": "default",
                                                                  "order": [["group": [["id": "example/missing", "version": "9.9.9"]]]]])
        #expect(notReady["status"]?["ready"] == false)
        #expect(notReady["status"]?["message"]?.stringValue?.contains("example/missing@9.9.9") == true)
        _ = try await c.call("image/create", ["name": "orphan", "builder": ["kind": "ClusterBuilder", "name": "incomplete"], "source": local])
        let orphan = try await c.call("build/wait", ["image": "orphan", "build": 1])
        #expect(orphan["status"] == "FAILURE")
        #expect(orphan["message"]?.stringValue?.contains("is not ready") == true)
        _ = try await c.call("image/delete", ["name": "orphan"])

        let events = try await c.call("event/list", ["namespace": "team", "object": ["kind": "Image", "name": "bad"]])["events"]?.arrayValue ?? []
        #expect(events.compactMap { $0["reason"]?.stringValue } == ["Created", "SourceResolved", "Scheduled", "Failed"])
        #expect(events.last?["type"] == "Warning")
        // Since a time: the events that last happened at or after the image's "Scheduled".
        let since = try #require(events.first { $0["reason"] == "Scheduled" }?["lastTime"])
        let later = try await c.call("event/list", ["namespace": "team", "object": ["kind": "Image", "name": "bad"], "since": since])["events"]?.arrayValue ?? []
        #expect(later.compactMap { $0["reason"]?.stringValue }.suffix(2) == ["Scheduled", "Failed"])
    }

    @Test func detectionChoosesTheFirstGroupThatPasses() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(order: [["group": [["id": "slipway/procfile"]]], ["group": [["id": "slipway/build-script"]]]])
        let onlyScript = TempDir("app")
        try "mkdir -p out; echo built > out/done\n".write(toFile: onlyScript.path + "/build.sh", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "second", "source": ["local": ["path": .string(onlyScript.path)]]])
        let b = try await c.call("build/wait", ["image": "second", "build": 1])
        #expect(b["status"] == "SUCCESS")
        #expect(b["buildpacks"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["slipway/build-script"])
        let nothing = TempDir("empty")
        try "hello".write(toFile: nothing.path + "/README", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "none", "source": ["local": ["path": .string(nothing.path)]]])
        let f = try await c.call("build/wait", ["image": "none", "build": 1])
        #expect(f["status"] == "FAILURE")
        #expect(f["message"]?.stringValue?.contains("No buildpack groups passed detection") == true)
        #expect(f["message"]?.stringValue?.contains("fail: slipway/procfile@0.1.0") == true)
    }

    @Test func stacksFromOCILayoutsAndSourceSubPaths() async throws {
        let state = TempDir("state")
        let work = TempDir("oci")
        // An OCI layout made by umoci from the host stack's folders: a stack image given as oci:DIR:TAG.
        try await HostStack.ociLayout(at: work.path + "/stack", stackID: "io.slipway.oci")
        let c = try SlipwayClient(stateDir: state.path)
        let stack = try await c.call("clusterstack/create", ["name": "oci", "buildImage": .string("oci:\(work.path)/stack:build"),
                                                             "runImage": .string("oci:\(work.path)/stack:run")])
        #expect(stack["id"] == "io.slipway.oci")  // from the image's label
        let runDigest = try #require(stack["status"]?["runImageDigest"]?.stringValue)
        let index = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: work.path + "/stack/index.json"))))
        #expect(index["manifests"]?.arrayValue?.contains { $0["digest"]?.stringValue == runDigest } == true)
        // A buildpack given as a .tgz archive (with its folder inside), next to one given as a folder.
        let tgz = work.path + "/procfile.tgz"
        #expect(try await sh("tar -czf '\(tgz)' -C '\(Repo.buildpacks.path)' procfile").status == 0)
        let store = try await c.call("clusterstore/create", ["name": "s", "buildpacks": .array([.string(Repo.buildpacks.appendingPathComponent("build-script").path),
                                                                                                  .string(tgz)])])
        #expect(store["buildpacks"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["slipway/build-script", "slipway/procfile"])
        let status = try await c.call("clusterstore/status", ["name": "s"])
        #expect(status["buildpacks"]?.arrayValue?.last?["homepage"] == "https://example.invalid/slipway/buildpacks/procfile")
        _ = try await c.call("clusterbuilder/create", ["name": "default", "stack": "oci", "store": "s",
                                                       "order": [["group": [["id": "slipway/build-script"], ["id": "slipway/procfile"]]]]])
        // The app lives in a sub-folder of the source.
        let src = TempDir("src")
        let r = try await sh("mkdir -p '\(src.path)/services' && cp -r '\(Self.app)' '\(src.path)/services/hello' && echo noise > '\(src.path)/other.txt'")
        #expect(r.status == 0)
        _ = try await c.call("image/create", ["name": "sub", "source": ["local": ["path": .string(src.path)], "subPath": "services/hello"]])
        let b = try await c.call("build/wait", ["image": "sub", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        #expect(b["runImage"]?.stringValue?.hasSuffix(runDigest) == true)
        // The run image's layers are the bottom of the app image.
        let runManifest = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(work.path)/stack:run").out.utf8))
        let appManifest = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(state.path)/layouts/default/sub:latest").out.utf8))
        let runLayers = runManifest["layers"]?.arrayValue?.compactMap { $0["digest"] } ?? []
        #expect(!runLayers.isEmpty)
        #expect(Array(appManifest["layers"]?.arrayValue?.compactMap { $0["digest"] }.prefix(runLayers.count) ?? []) == runLayers)
        #expect(try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/sub").contains(HelloApp.expectedLine))
    }
}
