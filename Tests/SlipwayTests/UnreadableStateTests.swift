import Foundation
import JSONRPC
import Testing
import TestSupport

/// A stored document that cannot be read is a damaged state database: the client is told so
/// (Internal, naming the document), never that the object is missing, nor answered as if the
/// object had nothing in it.
@Suite struct UnreadableStateTests {
    static let app = HelloApp.path

    /// A state directory with the default builder and one built image, its engine stopped, and
    /// then `sql` run on its database.
    static func damagedState(_ sql: String) async throws -> TempDir {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "app", "source": ["local": ["path": .string(app)]]])
        try await c.call("build/wait", ["image": "app", "build": 1]).expectStatus("SUCCESS")
        c.closeInput()
        #expect(try await c.waitForExit() == 0)
        try await StateDatabase.sqlite(state.path + "/state.db", sql)
        return state
    }

    static func expectDamaged(_ r: JSONValue, naming what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = r["error"]
        #expect(error?["code"]?.int == -32603, "\(JSONWriter.string(r))", sourceLocation: sourceLocation)
        let message = error?["message"]?.stringValue ?? ""
        #expect(message.contains("the stored \(what) cannot be read") && message.contains("damaged"), "\(message)", sourceLocation: sourceLocation)
        #expect(!message.contains("not found"), "\(message)", sourceLocation: sourceLocation)
    }

    /// A builder whose ClusterStack cannot be read is an error, not "ClusterStack not found";
    /// an image patch on it is refused instead of working out BUILDER reasons from no buildpacks.
    @Test func anUnreadableStackIsAnErrorNotAMissingStack() async throws {
        let state = try await Self.damagedState("UPDATE objects SET document='{}' WHERE kind='ClusterStack' AND name='base';")
        let c = try SlipwayClient(stateDir: state.path)
        Self.expectDamaged(try await c.request("clusterbuilder/get", ["name": "default"]), naming: "ClusterStack 'base'")
        Self.expectDamaged(try await c.request("image/patch", ["name": "app", "env": ["CHANGED": "1"]]), naming: "ClusterStack 'base'")
        // No build was queued for reasons worked out from a builder with no buildpacks.
        #expect(try await c.call("build/list", ["image": "app"])["builds"]?.arrayValue?.count == 1)
        c.closeInput()
        _ = try await c.waitForExit()
    }

    /// A stack change whose images' builder cannot be read says so (the change itself is
    /// saved) instead of skipping their STACK/BUILDER rebuild in silence.
    @Test func aRebuildCheckThatCannotReadTheBuilderIsAnError() async throws {
        let state = try await Self.damagedState("UPDATE objects SET document='{\"name\": 1}' WHERE kind='ClusterBuilder' AND name='default';")
        let c = try SlipwayClient(stateDir: state.path)
        let r = try await c.request("clusterstack/patch", ["name": "base", "id": "io.slipway.test.changed"])
        Self.expectDamaged(r, naming: "ClusterBuilder 'default'")
        #expect(r["error"]?["message"]?.stringValue?.contains("the change is saved") == true, "\(JSONWriter.string(r))")
        c.closeInput()
        _ = try await c.waitForExit()
    }
}
