import Foundation
import JSONRPC
import Testing
import TestSupport

/// Every list method pages as Kubernetes lists do: `limit` (default 500) and `continue`.
@Suite struct PagingTests {
    /// Walks a list a page at a time; returns the items and how many pages it took.
    static func walk(_ c: SlipwayClient, _ method: String, _ field: String, params: JSONObject = JSONObject(), limit: Int,
                     between: (Int) async throws -> Void = { _ in }) async throws -> (items: [JSONValue], pages: Int) {
        var items: [JSONValue] = []
        var token: JSONValue?
        var pages = 0
        repeat {
            var p = params
            p["limit"] = .int(Int64(limit))
            if let token { p["continue"] = token }
            let page = try await c.call(method, .object(p))
            items += page[field]?.arrayValue ?? []
            token = page["continue"]
            pages += 1
            try await between(pages)
        } while token != nil && pages < 100
        return (items, pages)
    }

    @Test func secretsStacksStoresAndBuildersPage() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        for name in ["m", "c", "k", "a", "e", "g", "i", "o"] {
            _ = try await c.call("secret/create", ["name": .string(name), "registry": ["server": "r", "username": "u", "password": "p"]])
        }
        // Sorted by name; a name added after the cursor comes on a later page, one before it does not.
        let walked = try await Self.walk(c, "secret/list", "secrets", limit: 3) { page in
            guard page == 1 else { return }
            for name in ["b", "z"] {
                _ = try await c.call("secret/create", ["name": .string(name), "registry": ["server": "r", "username": "u", "password": "p"]])
            }
        }
        #expect(walked.items.compactMap { $0["name"]?.stringValue } == ["a", "c", "e", "g", "i", "k", "m", "o", "z"])
        #expect(walked.pages == 3)
        let all = try await c.call("secret/list")
        #expect(all["secrets"]?.arrayValue?.count == 10 && all["continue"] == nil)

        try await c.setUpDefaultBuilder()
        _ = try await c.call("clusterbuilder/create", ["name": "another", "stack": "base", "store": "default", "order": [["group": [["id": "slipway/procfile"]]]]])
        let builders = try await Self.walk(c, "clusterbuilder/list", "builders", limit: 1)
        #expect(builders.items.compactMap { $0["name"]?.stringValue } == ["another", "default"] && builders.pages == 2)
        for method in ["clusterstack/list", "clusterstore/list", "builder/list"] {
            let r = try await c.call(method, ["limit": 1])
            #expect(r["continue"] == nil, "\(method)")
        }
        for (method, params) in [("clusterstack/list", ["limit": 0] as JSONValue), ("secret/list", ["continue": "garbage"]), ("image/list", ["limit": -1])] {
            let r = try await c.request(method, params)
            #expect(r["error"]?["code"] == -32602, "\(method) \(params): \(r)")
        }
    }

    @Test func imagesAndBuildsPage() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let app = HelloApp.path
        for name in ["d", "b", "a", "c", "e"] {
            _ = try await c.call("image/create", ["name": .string(name), "source": ["local": ["path": .string(app)]]])
        }
        _ = try await c.call("image/create", ["name": "other", "namespace": "team", "source": ["local": ["path": .string(app)]]])
        for name in ["a", "b", "c", "d", "e"] { _ = try await c.call("build/wait", ["image": .string(name), "build": 1]) }
        _ = try await c.call("image/trigger", ["name": "c"])
        _ = try await c.call("build/wait", ["image": "c", "build": 2])

        let images = try await Self.walk(c, "image/list", "images", limit: 2)
        #expect(images.items.compactMap { $0["name"]?.stringValue } == ["a", "b", "c", "d", "e"] && images.pages == 3)
        let everywhere = try await Self.walk(c, "image/list", "images", params: JSONObject([("allNamespaces", true)]), limit: 4)
        #expect(everywhere.items.compactMap { $0["namespace"]?.stringValue } == ["default", "default", "default", "default", "default", "team"])

        let builds = try await Self.walk(c, "build/list", "builds", limit: 2)
        #expect(builds.items.map { "\($0["imageName"]?.stringValue ?? "")#\($0["number"]?.int ?? 0)" } == ["a#1", "b#1", "c#1", "c#2", "d#1", "e#1"])
        #expect(builds.pages == 3)
        let ofC = try await Self.walk(c, "build/list", "builds", params: JSONObject([("image", "c")]), limit: 1)
        #expect(ofC.items.compactMap { $0["number"]?.int } == [1, 2])
    }
}
