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
}
