import Foundation
import JSONRPC
import Synchronization
import Testing
import TestSupport

/// Every reply of a session that uses every method matches the result schema spec/openrpc.json
/// gives it: no field the spec does not declare, none of the wrong type
/// (Fixtures/check_results.py validates with the jsonschema package).
@Suite struct SchemaConformanceTests {
    /// Calls methods and keeps what each answered.
    final class Recorder: Sendable {
        let client: SlipwayClient
        let results = Mutex<[JSONValue]>([])
        init(_ client: SlipwayClient) { self.client = client }

        @discardableResult
        func call(_ method: String, _ params: JSONValue? = nil) async throws -> JSONValue {
            let r = try await client.call(method, params)
            results.withLock { $0.append(["method": .string(method), "result": r]) }
            return r
        }
    }

    @Test func everyReplyMatchesItsSchema() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let r = Recorder(c)
        let app = HelloApp.path
        let buildpacks = ["build-script", "procfile"].map { JSONValue.string(Repo.buildpacks.appendingPathComponent($0).path) }
        let slow = JSONValue.string(Repo.fixtures.appendingPathComponent("buildpacks/slow").path)
        let order: JSONValue = [["group": [["id": "slipway/build-script", "optional": true], ["id": "slipway/procfile"]]]]

        try await r.call("initialize", ["processId": 1, "capabilities": [:]])
        try await r.call("rpc.discover")
        try await r.call("session/subscribe", ["enable": ["build/log"], "disable": ["build/log"]])
        let stackParams: JSONValue = ["name": "base", "buildImage": .string(HostStack.build), "runImage": .string(HostStack.run), "id": "io.slipway.test"]
        try await r.call("clusterstack/create", stackParams)
        try await r.call("clusterstack/patch", stackParams)
        try await r.call("clusterstack/get", ["name": "base"])
        try await r.call("clusterstack/status", ["name": "base"])
        try await r.call("clusterstack/refresh", ["name": "base"])
        try await r.call("clusterstack/list")
        try await r.call("clusterstore/create", ["name": "default", "buildpacks": .array(buildpacks)])
        try await r.call("clusterstore/add", ["name": "default", "buildpacks": [slow]])
        try await r.call("clusterstore/remove", ["name": "default", "buildpacks": ["test/slow"]])
        try await r.call("clusterstore/add", ["name": "default", "buildpacks": [slow]])
        try await r.call("clusterstore/get", ["name": "default"])
        try await r.call("clusterstore/status", ["name": "default"])
        try await r.call("clusterstore/list")
        try await r.call("clusterbuilder/create", ["name": "default", "stack": "base", "store": "default", "order": order])
        try await r.call("clusterbuilder/patch", ["name": "default", "order": order])
        try await r.call("clusterbuilder/get", ["name": "default"])
        try await r.call("clusterbuilder/status", ["name": "default"])
        try await r.call("clusterbuilder/list")
        try await r.call("builder/create", ["name": "slow", "stack": "base", "store": "default", "order": [["group": [["id": "test/slow"]]]]])
        try await r.call("builder/patch", ["name": "slow", "store": "default"])
        try await r.call("builder/get", ["name": "slow"])
        try await r.call("builder/status", ["name": "slow"])
        try await r.call("builder/list")
        try await r.call("secret/create", ["name": "reg", "registry": ["server": "r.example", "username": "u", "password": "p"]])
        try await r.call("secret/list")

        try await r.call("image/create", ["name": "app", "source": ["local": ["path": .string(app)]]])
        try await r.call("build/wait", ["image": "app", "build": 1])
        try await r.call("image/patch", ["name": "app", "env": ["A": "1"]])
        try await r.call("image/save", ["name": "app", "source": ["local": ["path": .string(app)]]])
        try await r.call("build/wait", ["image": "app"])
        try await r.call("image/trigger", ["name": "app"])
        try await r.call("build/wait", ["image": "app"])
        try await r.call("image/get", ["name": "app"])
        try await r.call("image/status", ["name": "app"])
        try await r.call("image/list")
        try await r.call("build/list", ["image": "app"])
        try await r.call("build/status", ["image": "app"])
        try await r.call("build/logs", ["image": "app", "build": 1])
        try await r.call("build/logs", ["image": "app", "build": 1, "follow": true])
        try await r.call("build/sbom", ["image": "app", "build": 1])
        try await r.call("image/create", ["name": "slow", "builder": ["kind": "Builder", "name": "slow"], "env": ["SLEEP_SECONDS": "60"],
                                          "source": ["local": ["path": .string(app)]]])
        try await r.call("build/cancel", ["image": "slow", "build": 1])
        try await r.call("build/wait", ["image": "slow", "build": 1])
        try await r.call("event/list")
        try await r.call("event/list", ["limit": 1])
        try await r.call("quota/get")
        try await r.call("system/df")
        try await r.call("system/gc", ["dryRun": true])
        try await r.call("system/gc")
        let run = try await r.call("buildrun/submit", ["name": "once", "source": ["local": ["path": .string(app)]]])
        #expect(run["name"] == "once")
        try await r.call("buildrun/submit", ["name": "again", "image": "app"])
        try await r.call("buildrun/wait", ["name": "once"])
        try await r.call("buildrun/wait", ["name": "again"])
        try await r.call("buildrun/get", ["name": "once"])
        try await r.call("buildrun/list")
        try await r.call("buildrun/logs", ["name": "once"])
        try await r.call("buildrun/logs", ["name": "once", "follow": true])
        try await r.call("buildrun/events", ["name": "once"])
        try await r.call("buildrun/submit", ["name": "long", "builder": ["kind": "Builder", "name": "slow"], "env": ["SLEEP_SECONDS": "60"],
                                             "source": ["local": ["path": .string(app)]]])
        try await r.call("buildrun/cancel", ["name": "long"])
        try await r.call("buildrun/delete", ["name": "long"])
        try await r.call("buildrun/delete", ["name": "once"])
        try await r.call("buildrun/delete", ["name": "again"])
        try await r.call("image/list", ["limit": 1])
        try await r.call("image/delete", ["name": "slow"])
        try await r.call("builder/delete", ["name": "slow"])
        try await r.call("secret/delete", ["name": "reg"])
        try await r.call("image/delete", ["name": "app"])
        try await r.call("clusterbuilder/delete", ["name": "default"])
        try await r.call("clusterstore/delete", ["name": "default"])
        try await r.call("clusterstack/delete", ["name": "base"])
        try await r.call("shutdown")

        let out = TempDir("schema")
        let results = r.results.withLock { $0 }
        try Data(JSONWriter.write(.array(results))).write(to: URL(fileURLWithPath: out.path + "/results.json"))
        let check = try await sh("python3 '\(Repo.fixtures.path)/check_results.py' '\(Repo.root.path)/spec/openrpc.json' '\(out.path)/results.json'")
        #expect(check.status == 0, "replies that do not match spec/openrpc.json:\n\(check.out)\(check.err)")
    }
}
