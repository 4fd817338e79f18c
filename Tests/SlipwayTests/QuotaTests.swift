import Foundation
import JSONRPC
import Testing
import TestSupport

/// Quotas per namespace (images, build runs, stored bytes) and bounds on what a request may
/// carry: over a limit is a clear error, and nothing changes.
@Suite struct QuotaTests {
    static let app = HelloApp.path

    /// A client whose `broken` ClusterBuilder is never ready: its images' builds fail at once,
    /// so many images cost no build.
    static func clientWithBrokenBuilder(_ state: String, arguments: [String]) async throws -> SlipwayClient {
        let c = try SlipwayClient(stateDir: state, arguments: arguments)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("clusterbuilder/create", ["name": "broken", "stack": "base", "store": "default", "order": [["group": [["id": "test/missing"]]]]])
        return c
    }

    static func image(_ name: String, namespace: String = "default", env: [String: String] = [:]) -> JSONValue {
        .object(JSONObject([("name", .string(name)), ("namespace", .string(namespace)), ("builder", ["kind": "ClusterBuilder", "name": "broken"]),
                            ("source", ["local": ["path": .string(app)]]), ("env", .object(JSONObject(env.map { ($0.key, .string($0.value)) })))]))
    }

    @Test func theImageQuotaIsPerNamespaceAndChangesNothing() async throws {
        let state = TempDir("state")
        let c = try await Self.clientWithBrokenBuilder(state.path, arguments: ["--quota", "images=3"])
        for i in 1...3 { _ = try await c.call("image/create", Self.image("app\(i)")) }
        let eventsBefore = try await c.call("event/list")["events"]?.arrayValue?.count
        let over = try await c.request("image/create", Self.image("app4"))
        #expect(over["error"]?["code"] == 1005)
        #expect(over["error"]?["data"] == ["reason": "QuotaExceeded", "resource": "images", "namespace": "default", "limit": 3, "used": 3], "\(over)")
        #expect(over["error"]?["message"]?.stringValue?.contains("image/delete") == true)
        #expect(try await c.call("image/list")["images"]?.arrayValue?.count == 3)
        #expect(try await c.call("event/list")["events"]?.arrayValue?.count == eventsBefore)
        // Another namespace has its own quota; a deletion makes room.
        _ = try await c.call("image/create", Self.image("app1", namespace: "team"))
        _ = try await c.call("image/delete", ["name": "app1"])
        _ = try await c.call("image/create", Self.image("app4"))

        let quota = try await c.call("quota/get")
        #expect(quota["namespace"] == "default")
        #expect(quota["limits"] == ["images": 3, "buildruns": 100])
        #expect(quota["used"]?["images"] == 3 && quota["used"]?["buildruns"] == 0)
        #expect((quota["used"]?["storage"]?.int ?? 0) > 0, "\(quota)")
    }

    /// Once a namespace holds its storage quota, nothing that would add data is accepted.
    @Test func theStorageQuotaStopsNewBuilds() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--quota", "storage=1K"])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "big", "source": ["local": ["path": .string(Self.app)]]])
        #expect(try await c.call("build/wait", ["image": "big", "build": 1])["status"] == "SUCCESS")
        for (method, params) in [("image/trigger", ["name": "big"] as JSONValue), ("image/patch", ["name": "big", "env": ["X": "1"]])] {
            let r = try await c.request(method, params)
            #expect(r["error"]?["code"] == 1005 && r["error"]?["data"]?["resource"] == "storage", "\(method): \(r)")
        }
        #expect(try await c.call("build/list", ["image": "big"])["builds"]?.arrayValue?.count == 1)
    }

    /// Names, env and the size of a write's params are bounded, each refused naming the field;
    /// 120 creates of 10 KB of env each stop at the image quota.
    @Test func requestsAreBounded() async throws {
        let state = TempDir("state")
        let c = try await Self.clientWithBrokenBuilder(state.path, arguments: [])
        let many = Dictionary(uniqueKeysWithValues: (0..<1001).map { ("V\($0)", "x") })
        let cases: [(JSONValue, String)] = [
            (Self.image("toomany", env: many), "env"),
            (Self.image("toolong", env: ["BIG": String(repeating: "x", count: 33 << 10)]), "env.BIG"),
            (Self.image("huge", env: Dictionary(uniqueKeysWithValues: (0..<40).map { ("V\($0)", String(repeating: "y", count: 30 << 10)) })), "params"),
            (Self.image(String(repeating: "n", count: 64)), "name"),
        ]
        for (params, field) in cases {
            let r = try await c.request("image/create", params)
            #expect(r["error"]?["code"] == -32602 && r["error"]?["data"]?["field"] == .string(field), "\(field): \(JSONWriter.string(r).prefix(300))")
        }
        #expect(try await c.call("image/list")["images"] == [])
        let big = String(repeating: "x", count: 1 << 20)
        for (method, params) in [("secret/create", ["name": "s", "registry": ["server": "r", "username": "u", "password": .string(big)]] as JSONValue),
                                 ("clusterstore/add", ["name": "default", "buildpacks": [.string("/" + big)]]),
                                 ("buildrun/submit", ["source": ["local": ["path": .string("/" + big)]]])] {
            let r = try await c.request(method, params)
            #expect(r["error"]?["code"] == -32602 && r["error"]?["data"]?["field"] == "params", "\(method): \(JSONWriter.string(r).prefix(300))")
        }
        let env = ["PAYLOAD": String(repeating: "z", count: 10_000)]
        var accepted = 0, refused = 0
        for i in 0..<120 {
            let r = try await c.request("image/create", Self.image("img\(i)", env: env))
            if r["result"] != nil { accepted += 1 } else if r["error"]?["code"] == 1005 { refused += 1 }
        }
        #expect(accepted == 100 && refused == 20)
    }
}
