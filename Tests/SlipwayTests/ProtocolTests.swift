import Foundation
import JSONRPC
import Testing
import TestSupport

/// JSON-RPC behaviour of the real binary: framing, batches, ids, caps, lifecycle, exit codes.
@Suite struct ProtocolTests {
    @Test func idsBatchesErrorsAndNotificationsOverThePipe() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        c.send(#"{"jsonrpc":"2.0","id":"abc","method":"image/list"}"#)
        c.send(#"{"jsonrpc":"2.0","id":7,"method":"image/list"}"#)
        c.send(#"{"jsonrpc":"2.0","id":null,"method":"image/list"}"#)
        c.send(#"{"jsonrpc":"2.0","id":8,"method":"image/get"}"#)
        c.send(#"{"jsonrpc":"2.0","id":9,"method":"image/get","params":{"name":42}}"#)
        c.send(#"{"jsonrpc":"2.0","id":10,"method":"no/such"}"#)
        c.send(#"{"jsonrpc":"2.0","method":"image/delete","params":{"name":"missing"}}"#)
        c.send("{oops")
        c.send(#"[{"jsonrpc":"2.0","id":11,"method":"image/list"},{"jsonrpc":"2.0","method":"image/list"},{"foo":1}]"#)
        c.send("[]")
        c.send(#"[{"jsonrpc":"2.0","method":"image/list"}]"#)
        c.send(#"{"jsonrpc":"2.0","id":"last","method":"image/list"}"#)
        _ = try await c.waitFor { $0["id"] == "last" }
        try await Task.sleep(for: .milliseconds(200))
        let m = c.messages
        #expect(m.contains { $0["id"] == "abc" && $0["result"]?["images"] == [] })
        #expect(m.contains { $0["id"] == .int(7) && $0["result"] != nil })
        #expect(m.contains { $0["id"] == .null && $0["result"] != nil })
        let missing = try #require(m.first { $0["id"] == .int(8) })
        #expect(missing["error"]?["code"] == -32602)
        #expect(missing["error"]?["data"]?["field"] == "name")
        #expect(m.first { $0["id"] == .int(9) }?["error"]?["data"]?["field"] == "name")
        #expect(m.first { $0["id"] == .int(10) }?["error"]?["code"] == -32601)
        #expect(m.contains { $0["error"]?["code"] == -32700 && $0["id"] == .null })
        let batch = try #require(m.first { $0.arrayValue != nil }?.arrayValue)
        #expect(batch.count == 2)
        #expect(batch.contains { $0["id"] == .int(11) })
        #expect(batch.contains { $0["error"]?["code"] == -32600 })
        #expect(m.filter { $0.arrayValue == nil && $0["error"]?["code"] == -32600 && $0["id"] == .null }.count == 1)  // "[]"
        // The notification for a missing image got no answer, even though it failed.
        #expect(!m.contains { $0["error"]?["code"] == 1001 })
        c.closeInput()
        #expect(try await c.waitForExit() == 0)
    }

    @Test func oversizedAndDeepMessagesAreRejectedAndTheConnectionGoesOn() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-message-size", "4096"])
        c.send(#"{"jsonrpc":"2.0","id":1,"method":"image/get","params":{"name":""# + String(repeating: "x", count: 100_000) + #""}}"#)
        c.send(String(repeating: "[", count: 1500) + String(repeating: "]", count: 1500))
        c.send(#"{"jsonrpc":"2.0","id":2,"method":"image/list"}"#)
        _ = try await c.waitFor { $0["id"] == .int(2) }
        #expect(c.messages.contains { $0["error"]?["data"]?["reason"] == "MessageTooLarge" })
        #expect(c.messages.contains { $0["error"]?["code"] == -32700 && ($0["error"]?["message"]?.stringValue?.contains("nesting") ?? false) })
    }

    @Test func invalidUTF8IsAParseError() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        c.stdin.write(Data([0x7B, 0x22, 0x6A, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D, 0x0A]))
        let r = try await c.waitFor { $0["error"] != nil }
        #expect(r["error"]?["code"] == -32700)
    }

    @Test func exitWithoutShutdownIsOneAndAfterShutdownZero() async throws {
        let s1 = TempDir("state")
        let a = try SlipwayClient(stateDir: s1.path)
        a.send(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#)
        _ = try await a.waitFor { $0["id"] == .int(1) }
        a.send(#"{"jsonrpc":"2.0","method":"exit"}"#)
        #expect(try await a.waitForExit() == 1)

        let b = try SlipwayClient(stateDir: s1.path)
        let r = try await b.call("initialize", ["clientInfo": ["name": "test"]])
        #expect(r["serverInfo"]?["name"] == "slipway")
        #expect(r["capabilities"]?["methods"]?.arrayValue?.contains("image/create") == true)
        // Every build strategy an image or build run may name is advertised.
        #expect(r["capabilities"]?["buildStrategies"] == ["buildpacks", "dockerfile"])
        let again = try await b.request("initialize")
        #expect(again["error"]?["code"] == -32600)
        let sd = try await b.request("shutdown")
        #expect(sd["result"] == .null)
        #expect(sd.objectValue?.keys.contains("result") == true)
        #expect(try await b.request("image/list")["error"]?["code"] == -32600)
        b.send(#"{"jsonrpc":"2.0","method":"exit"}"#)
        #expect(try await b.waitForExit() == 0)
    }

    /// Runs a Python client fixture against the real binary on a fresh state directory (args:
    /// slipway, state, stack, buildpacks, app, repo) and returns the JSON it prints.
    static func runClientScript(_ name: String) async throws -> JSONValue {
        let state = TempDir("state")
        let script = Repo.fixtures.appendingPathComponent(name).path
        let app = HelloApp.path
        let r = try await sh("python3 '\(script)' '\(Repo.slipway)' '\(state.path)' '\(HostStack.directory)' '\(Repo.buildpacks.path)' '\(app)'")
        guard r.status == 0 else { throw TestFailure("\(name) failed: \(r.err)") }
        return try JSONParser.parse(Array(r.out.utf8))
    }

    @Test func lspFramingWithAClientThatIsNotOurs() async throws {
        let out = try await Self.runClientScript("lsp_client.py")
        #expect(out["serverInfo"]?["name"] == "slipway")
        #expect(out["build"] == 1)
        #expect(out["logsResult"]?["status"] == "SUCCESS")
        #expect(out["ready"] == "Ready")
        #expect(out["latestImage"]?.stringValue?.contains("@sha256:") == true)
        #expect(out["logLines"]?.arrayValue?.contains("generated bin/hello") == true)
        #expect(out["statuses"] == ["QUEUED", "BUILDING", "SUCCESS"])
        #expect(out["exitCode"] == 0)
    }

    /// The Python package (clients/python), installed with pip (Debian's, offline) into a
    /// folder of its own, builds the example with its sync client and again with its asyncio
    /// client, following the logs of each, and reports errors with code, reason and field.
    @Test func thePythonPackageInstallsAndWorks() async throws {
        let work = TempDir("pypkg")
        let installed = work.path + "/site"
        let pip = try await sh("cp -r '\(Repo.root.path)/clients/python' '\(work.path)/src' && /usr/bin/python3 -m pip install -q --no-build-isolation --no-deps --no-index --target '\(installed)' '\(work.path)/src'")
        #expect(pip.status == 0, "\(pip.err)")
        let state = TempDir("state")
        let script = Repo.fixtures.appendingPathComponent("python_client_check.py").path
        let app = HelloApp.path
        let r = try await sh("PYTHONPATH='\(installed)' /usr/bin/python3 '\(script)' '\(Repo.slipway)' '\(state.path)' '\(HostStack.directory)' '\(Repo.buildpacks.path)' '\(app)'")
        #expect(r.status == 0, "\(r.err)")
        let out = try JSONParser.parse(Array(r.out.utf8))
        #expect(out["lines"]?.arrayValue?.contains("generated bin/hello") == true, "\(r.out)")
        #expect(out["error"] == ["code": 1001, "reason": "NotFound"])
        #expect(out["badField"] == "buildTimeout")
        #expect(out["ready"] == "Ready")
        #expect(out["async"]?["build"] == 2 && out["async"]?["status"] == "SUCCESS", "\(r.out)")
        #expect(out["async"]?["lines"]?.arrayValue?.contains("generated bin/hello") == true)
        #expect(out["async"]?["reason"] == "NotFound")
    }

    /// `--embedded` holds the state directory alone: a second process, embedded or shared
    /// engine, is refused and names the holder; once it is gone the directory is free again.
    @Test func anEmbeddedProcessHoldsTheStateDirectoryAlone() async throws {
        let state = TempDir("state")
        let first = try SlipwayClient(stateDir: state.path, arguments: ["--embedded"])
        _ = try await first.call("image/list")
        let second = try SlipwayClient(stateDir: state.path, arguments: ["--embedded"])
        #expect(try await second.waitForExit() == 1)
        #expect(second.stderr.contains("another Slipway process (pid \(first.process.processIdentifier)) is using the state directory"))
        let shared = try SlipwayClient(stateDir: state.path)
        #expect(try await shared.waitForExit() == 1)
        #expect(shared.stderr.contains("the engine could not start") && shared.stderr.contains("another Slipway process (pid \(first.process.processIdentifier))"),
                "\(shared.stderr)")
        first.closeInput()
        #expect(try await first.waitForExit() == 0)
        let third = try SlipwayClient(stateDir: state.path)
        #expect(try await third.call("image/list")["images"] == [])
    }

    @Test func workDoneProgressForLongRequests() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "p", "source": ["local": ["path": .string(HelloApp.path)]]])
        let r = try await c.call("build/wait", ["image": "p", "build": 1, "workDoneToken": "wait-1"])
        #expect(r["status"] == "SUCCESS")
        let progress = c.notifications("$/progress").filter { $0["token"] == "wait-1" }
        #expect(progress.compactMap { $0["value"]?["kind"]?.stringValue } == ["begin", "end"])
        #expect(progress.last?["value"]?["message"] == "build 1: SUCCESS")
        _ = try await c.call("build/wait", ["image": "p", "build": 1])
        #expect(c.notifications("$/progress").count == 2)  // no token, no progress
    }

    @Test func subscriptionsTurnNotificationKindsOnAndOff() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let sub = try await c.call("session/subscribe", ["enable": ["build/log"], "disable": ["event"]])
        #expect(sub["notifications"] == ["build/log", "build/statusChanged", "image/statusChanged"])
        let bad = try await c.request("session/subscribe", ["enable": ["nope"]])
        #expect(bad["error"]?["data"]?["field"] == "enable[0]")
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "sub", "source": ["local": ["path": .string(HelloApp.path)]]])
        _ = try await c.call("build/wait", ["image": "sub", "build": 1])
        try await Task.sleep(for: .milliseconds(200))
        #expect(c.notifications("event").isEmpty)
        #expect(c.notifications("build/log").contains { $0["line"] == "generated bin/hello" })
    }

    @Test func rpcDiscoverListsExactlyTheMethodsServed() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let served = Set(try await c.call("initialize")["capabilities"]?["methods"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let doc = try await c.call("rpc.discover")
        #expect(doc["openrpc"]?.stringValue?.hasPrefix("1.3") == true)
        let specMethods = Set(doc["methods"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
        #expect(!served.isEmpty)
        #expect(specMethods.subtracting(served).isEmpty, "in the spec but not served: \(specMethods.subtracting(served))")
        #expect(served.subtracting(specMethods).isEmpty, "served but not in the spec: \(served.subtracting(specMethods))")
    }
}
