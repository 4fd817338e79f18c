import Foundation
import JSONRPC
import Testing
import TestSupport

/// Requests wait only for earlier writes of their connection that touch the same objects.
@Suite struct RequestOrderingTests {
    /// A `clusterstack/create` that waits on a slow registry holds back `clusterbuilder/create`
    /// on that stack (and the `image/create` on that builder), but not `image/get` of another
    /// object, and nothing on another connection.
    @Test func aSlowWriteHoldsBackOnlyWhatTouchesItsObjects() async throws {
        let state = TempDir("state")
        let records = TempDir("rec")
        let record = records.path + "/record"
        let registry = try FixtureServer("hostile_peer.py", ["slow", record])
        let c = try SlipwayClient(stateDir: state.path)
        let other = try SlipwayClient(stateDir: state.path)
        _ = try await other.call("image/list")
        let ref = "127.0.0.1:\(registry.port)/stack"
        func send(_ id: Int, _ method: String, _ params: JSONValue) {
            c.send(.object(JSONObject([("jsonrpc", "2.0"), ("id", .int(Int64(id))), ("method", .string(method)), ("params", params)])))
        }
        send(101, "clusterstack/create", ["name": "slow", "buildImage": .string(ref + ":build"), "runImage": .string(ref + ":run")])
        send(102, "clusterbuilder/create", ["name": "b", "stack": "slow", "store": "none", "order": [["group": [["id": "x"]]]]])
        send(103, "image/create", ["name": "app", "builder": ["kind": "ClusterBuilder", "name": "b"], "source": ["local": ["path": "/nonexistent"]]])
        send(104, "image/get", ["name": "unrelated"])
        send(105, "clusterstack/get", ["name": "other"])
        func answered(_ id: Int) -> Bool { c.messages.contains { $0["id"] == .int(Int64(id)) } }
        _ = try await c.waitFor { $0["id"] == 104 }
        _ = try await c.waitFor { $0["id"] == 105 }
        #expect(try await other.call("image/list")["images"] == [])  // another connection is not held
        #expect(!answered(101), "the stack create was released early")
        #expect(!answered(102) && !answered(103), "a request on the slow stack's builder ran before the stack was created")
        try Data().write(to: URL(fileURLWithPath: record + ".go"))
        let stack = try await c.waitFor { $0["id"] == 101 }
        #expect(stack["error"] != nil)  // the registry answered 404
        _ = try await c.waitFor { $0["id"] == 102 }
        let image = try await c.waitFor { $0["id"] == 103 }
        let order = c.messages.compactMap { $0["id"]?.int }
        #expect(order.firstIndex(of: 101)! < order.firstIndex(of: 102)! && order.firstIndex(of: 102)! < order.firstIndex(of: 103)!, "\(order)")
        #expect(image["error"] != nil)
    }

    /// A stack refresh that finds a new run image queues the images' STACK builds: a request
    /// of the same pipeline about one of them (the logs of its rebase) comes after it, so it
    /// finds the build the refresh queued.
    @Test func aRefreshComesBeforeTheLogsOfTheBuildItQueues() async throws {
        let state = TempDir("state")
        let stack = TempDir("refresh-stack")
        let copied = try await sh("cp -a '\(HostStack.run)' '\(stack.path)/run'")
        try #require(copied.status == 0, "\(copied)")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("clusterstack/patch", ["name": "base", "runImage": .string(stack.path + "/run")])
        _ = try await c.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(try await c.call("build/wait", ["image": "app", "build": 1])["status"] == "SUCCESS")
        try "2\n".write(toFile: stack.path + "/run/etc/patch-level", atomically: true, encoding: .utf8)
        c.send(["jsonrpc": "2.0", "id": 201, "method": "clusterstack/refresh", "params": ["name": "base"]])
        c.send(["jsonrpc": "2.0", "id": 202, "method": "build/logs", "params": ["image": "app", "build": 2, "follow": true]])
        let logs = try await c.waitFor { $0["id"] == 202 }
        #expect(logs["error"] == nil, "\(logs)")
        #expect(c.notifications("build/log").contains { $0["build"] == 2 && $0["line"] == "===> REBASE" })
    }
}
