import Foundation
import JSONRPC
import Testing
import TestSupport

/// Build runs as a code engine has them: stand-alone builds with a lifetime, and runs of an
/// image's configuration; with logs, status, events, quotas and expiry.
@Suite struct BuildRunTests {
    static let app = HelloApp.path
    static let source: JSONValue = ["local": ["path": .string(app)]]

    /// A stand-alone run builds a runnable image with no image behind it: it logs and reports
    /// status by its name, is listed as a run and not as an image or build, and goes away
    /// whole when deleted.
    @Test func aStandaloneRunBuildsAndGoesAwayWhole() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let submitted = try await c.call("buildrun/submit", ["source": Self.source, "env": ["GREETING": "hi"]])
        let name = try #require(submitted["name"]?.stringValue)
        #expect(name.range(of: #"^buildrun-run-[a-z0-9]{6}$"#, options: .regularExpression) != nil, "\(name)")
        #expect(submitted["standalone"] == true && submitted["image"] == nil)
        let done = try await c.call("buildrun/wait", ["name": .string(name)])
        #expect(done["status"] == "SUCCESS", "\(done)")
        let output = try #require(done["output"]?.stringValue)
        #expect(output.hasPrefix("oci:\(state.path)/layouts/default/run.\(name)@sha256:"))
        #expect(done["deleteAt"] == nil || done["deleteAt"]?.stringValue != nil)
        let inspect = try await sh("skopeo inspect 'oci:\(state.path)/layouts/default/run.\(name):latest'")
        #expect(inspect.status == 0, "\(inspect.err)")

        // Notifications name the run, not an image.
        let statuses = c.notifications("build/statusChanged").filter { $0["buildrun"] == .string(name) }
        #expect(statuses.compactMap { $0["status"]?.stringValue } == ["QUEUED", "BUILDING", "SUCCESS"])
        #expect(statuses.allSatisfy { $0["image"] == nil && $0["build"] == nil })
        #expect(!c.notifications("image/statusChanged").contains { $0["image"]?.stringValue?.hasPrefix("run.") == true })
        let logged = try await c.call("buildrun/logs", ["name": .string(name)])["lines"]?.arrayValue ?? []
        #expect(logged.contains { $0["line"] == "generated bin/hello" && $0["buildrun"] == .string(name) && $0["image"] == nil })
        let events = try await c.call("buildrun/events", ["name": .string(name)])["events"]?.arrayValue ?? []
        #expect(events.compactMap { $0["reason"]?.stringValue }.contains("Submitted") && events.contains { $0["reason"] == "Succeeded" })
        #expect(events.allSatisfy { $0["object"]?["kind"] == "BuildRun" })

        #expect(try await c.call("buildrun/list")["buildruns"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [name])
        #expect(try await c.call("image/list")["images"] == [])
        #expect(try await c.call("build/list")["builds"] == [])
        #expect(try await c.call("quota/get")["used"]?["buildruns"] == 1)

        _ = try await c.call("buildrun/delete", ["name": .string(name)])
        let gone = try await c.request("buildrun/get", ["name": .string(name)])
        #expect(gone["error"]?["code"] == 1001 && gone["error"]?["data"]?["expired"] == nil)
        #expect(!FileManager.default.fileExists(atPath: state.path + "/layouts/default/run.\(name)"))
        #expect(!FileManager.default.fileExists(atPath: state.path + "/logs/default/run.\(name)"))
        #expect(try await c.call("quota/get")["used"]?["buildruns"] == 0)
    }

    /// A run of an image is its next build (reason TRIGGER); its notifications carry the image,
    /// the build and the run; runs of an image follow its history limits.
    @Test func aRunOfAnImageIsItsNextBuild() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "app", "source": Self.source, "successBuildHistoryLimit": 2])
        _ = try await c.call("build/wait", ["image": "app", "build": 1])
        let run = try await c.call("buildrun/submit", ["image": "app", "name": "second"])
        #expect(run["image"] == "app" && run["build"] == 2 && run["standalone"] == false)
        #expect(try await c.call("buildrun/wait", ["name": "second"])["status"] == "SUCCESS")
        #expect(try await c.call("build/status", ["image": "app", "build": 2])["reasons"]?.arrayValue?.first?["reason"] == "TRIGGER")
        #expect(c.notifications("build/statusChanged").contains { $0["image"] == "app" && $0["build"] == 2 && $0["buildrun"] == "second" && $0["status"] == "SUCCESS" })
        // Its log lines carry the image, the build and the run: read, and followed.
        let read = try await c.call("buildrun/logs", ["name": "second"])["lines"]?.arrayValue ?? []
        #expect(!read.isEmpty && read.allSatisfy { $0["image"] == "app" && $0["build"] == 2 && $0["buildrun"] == "second" })
        _ = try await c.call("buildrun/logs", ["name": "second", "follow": true])
        let followed = c.notifications("build/log").filter { $0["build"] == 2 }
        #expect(!followed.isEmpty && followed.allSatisfy { $0["buildrun"] == "second" })
        let generated = try await c.call("buildrun/submit", ["image": "app"])
        #expect(generated["name"]?.stringValue?.hasPrefix("app-run-") == true)
        _ = try await c.call("buildrun/wait", ["name": generated["name"]!])
        _ = try await c.call("buildrun/submit", ["image": "app", "name": "fourth"])
        _ = try await c.call("buildrun/wait", ["name": "fourth"])
        // Builds 1 and 2 fell out of the history (2 kept), and run "second" with build 2.
        #expect(try await c.call("build/list", ["image": "app"])["builds"]?.arrayValue?.compactMap { $0["number"]?.int } == [3, 4])
        let names = try await c.call("buildrun/list")["buildruns"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.sorted() == [generated["name"]!.stringValue!, "fourth"].sorted())
        #expect(try await c.call("quota/get")["used"]?["buildruns"] == 0)  // runs of images do not count

        for (params, field) in [(["image": "app", "source": Self.source] as JSONValue, "source"), (["source": Self.source, "strategy": "dockerfile", "dockerfile": "/etc/Dockerfile"], "dockerfile"),
                                (["name": "Bad_Name", "source": Self.source], "name"), (["image": "app", "name": "fourth"], "")] {
            let r = try await c.request("buildrun/submit", params)
            if field.isEmpty {
                #expect(r["error"]?["code"] == 1002, "\(r)")
            } else {
                #expect(r["error"]?["code"] == -32602 && r["error"]?["data"]?["field"] == .string(field), "\(field): \(r)")
            }
        }
        // Deleting the run of an image leaves its build in the image's history.
        _ = try await c.call("buildrun/delete", ["name": "fourth"])
        #expect(try await c.call("build/status", ["image": "app", "build": 4])["status"] == "SUCCESS")
    }

    /// Stand-alone runs are deleted their TTL after they end (succeeded or failed); for a day
    /// `buildrun/get` says the run expired, when, and how it had ended; a restarted engine
    /// catches up on runs that came due while none ran.
    @Test func standaloneRunsExpire() async throws {
        let state = TempDir("state")
        let short = ["--buildrun-ttl-succeeded", "1s", "--buildrun-ttl-failed", "2s"]
        let c = try SlipwayClient(stateDir: state.path, arguments: short)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("clusterbuilder/create", ["name": "broken", "stack": "base", "store": "default", "order": [["group": [["id": "test/missing"]]]]])
        _ = try await c.call("buildrun/submit", ["name": "good", "source": Self.source])
        _ = try await c.call("buildrun/submit", ["name": "bad", "source": Self.source, "builder": ["kind": "ClusterBuilder", "name": "broken"]])
        for (name, ended) in [("good", "SUCCESS"), ("bad", "FAILURE")] {
            let reply = try await Self.waitUntilGone(c, name)
            #expect(reply["error"]?["data"]?["expired"]?.stringValue != nil, "\(reply)")
            let message = reply["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("expired at") && message.contains("ended \(ended)"), "\(message)")
            #expect(message.contains(ended == "SUCCESS" ? "--buildrun-ttl-succeeded" : "--buildrun-ttl-failed"), "\(message)")
        }
        let expired = try await c.call("buildrun/events", ["name": "good"])["events"]?.arrayValue ?? []
        #expect(expired.contains { $0["reason"] == "Expired" })
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)

        // Kept an hour by one engine; the next, with 1 s, deletes it as it starts.
        let d = try SlipwayClient(stateDir: state.path, arguments: ["--buildrun-ttl-succeeded", "1h"])
        _ = try await d.call("buildrun/submit", ["name": "later", "source": Self.source])
        #expect(try await d.call("buildrun/wait", ["name": "later"])["status"] == "SUCCESS")
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)
        try await Task.sleep(for: .milliseconds(1100))  // it ended more than 1 s ago
        let e = try SlipwayClient(stateDir: state.path, arguments: short)
        let reply = try await Self.waitUntilGone(e, "later")
        #expect(reply["error"]?["message"]?.stringValue?.contains("expired at") == true)
    }

    /// Asks for a run until it is gone; returns the NotFound.
    static func waitUntilGone(_ c: SlipwayClient, _ name: String) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(60)
        while true {
            let reply = try await c.request("buildrun/get", ["name": .string(name)])
            if reply["error"]?["code"] == 1001 { return reply }
            guard Date() < deadline else { throw TestFailure("\(name) did not expire: \(reply)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stand-alone runs that exist count against the buildruns quota; over it nothing changes.
    @Test func theBuildRunQuota() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--quota", "buildruns=1"])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("buildrun/submit", ["name": "one", "source": Self.source])
        let over = try await c.request("buildrun/submit", ["name": "two", "source": Self.source])
        #expect(over["error"]?["code"] == 1005 && over["error"]?["data"]?["resource"] == "buildruns" && over["error"]?["data"]?["limit"] == 1, "\(over)")
        #expect(over["error"]?["message"]?.stringValue?.contains("buildrun/delete") == true)
        #expect(try await c.call("buildrun/list")["buildruns"]?.arrayValue?.count == 1)
        _ = try await c.call("buildrun/wait", ["name": "one"])
        _ = try await c.call("buildrun/delete", ["name": "one"])
        _ = try await c.call("buildrun/submit", ["name": "two", "source": Self.source])
    }
}
