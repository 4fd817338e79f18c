import Foundation
import JSONRPC
import Testing
import TestSupport

@Suite struct GitSourceTests {
    @Test func branchTagCommitAndNewCommitsOnTheBranch() async throws {
        let repo = try GitFixture()
        let first = try repo.head()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--git-poll-interval", "0.5"])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "branch", "source": ["git": ["url": .string(repo.url)]]])
        _ = try await c.call("image/create", ["name": "tag", "source": ["git": ["url": .string(repo.url), "revision": "v1"]]])
        _ = try await c.call("image/create", ["name": "pinned", "source": ["git": ["url": .string(repo.url), "revision": .string(first)]]])
        _ = try await c.call("image/create", ["name": "sub", "source": ["git": ["url": .string(repo.url), "revision": "main"], "subPath": "services/hello"]])
        for name in ["branch", "tag", "pinned", "sub"] {
            let b = try await c.call("build/wait", ["image": .string(name), "build": 1])
            #expect(b["status"] == "SUCCESS", "\(name): \(JSONWriter.string(b))")
            #expect(b["source"]?["type"] == "Git")
            #expect(b["source"]?["url"] == .string(repo.url))
            #expect(b["source"]?["revision"] == .string(first))
        }
        #expect(try await c.call("build/status", ["image": "branch"])["source"]?["ref"] == "main")  // the remote's default branch
        #expect(try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/sub").contains(HelloApp.expectedLine))

        // A new commit on main: the branch images rebuild with reason COMMIT; tag and pinned do not.
        let second = try repo.pushCommit()
        try await c.waitForQueued("branch", 2)
        let b2 = try await c.call("build/wait", ["image": "branch", "build": 2], timeout: 60)
        #expect(b2["status"] == "SUCCESS")
        #expect(b2["reasons"] == [["reason": "COMMIT", "field": "source.git.revision", "old": .string(first), "new": .string(second)]])
        #expect(b2["source"]?["revision"] == .string(second))
        try await c.waitForQueued("sub", 2)
        _ = try await c.call("build/wait", ["image": "sub", "build": 2], timeout: 60)
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await c.call("build/list", ["image": "tag"])["builds"]?.arrayValue?.count == 1)
        #expect(try await c.call("build/list", ["image": "pinned"])["builds"]?.arrayValue?.count == 1)
        #expect(c.notifications("event").contains { $0["reason"] == "SourceResolved" && $0["object"]?["name"] == "branch" })

        // Turning polling off for an image: later commits do not build it.
        let off = try await c.call("image/patch", ["name": "sub", "source": ["git": ["url": .string(repo.url), "revision": "main", "poll": false],
                                                                              "subPath": "services/hello"]])
        #expect(off["changed"] == false)
        _ = try repo.pushCommit()
        try await c.waitForQueued("branch", 3)
        _ = try await c.call("build/wait", ["image": "branch", "build": 3], timeout: 60)
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await c.call("build/list", ["image": "sub"])["builds"]?.arrayValue?.count == 2)
    }

    @Test func hostileURLsAndRevisionsAreRefused() async throws {
        let repo = try GitFixture()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let marker = state.path + "/pwned"
        let cases: [(JSONValue, Int, String)] = [
            (["url": "-uhttps://example.com/x.git"], -32602, "source.git.url"),
            (["url": .string("ext::sh -c touch% \(marker)")], -32602, "source.git.url"),
            (["url": .string("ext::sh%20-c%20'touch%20\(marker)'")], -32602, "source.git.url"),
            (["url": "https://user:hunter2@example.com/x.git"], -32602, "source.git.url"),
            (["url": "ftp://example.com/x.git"], -32602, "source.git.url"),
            (["url": .string(repo.url), "revision": .string("--upload-pack=touch \(marker)")], -32602, "source.git.revision"),
            (["url": .string(repo.url), "revision": "main..v1"], -32602, "source.git.revision"),
            (["url": .string(repo.url), "revision": "no-such-branch"], 1001, "source.git.url"),
            (["url": "file:///nonexistent/repo.git"], 1006, "source.git.url"),
            (["url": "http://127.0.0.1:9/none.git"], 1006, "source.git.url"),
        ]
        for (git, code, field) in cases {
            let r = try await c.request("image/create", ["name": "x", "source": ["git": git]])
            #expect(r["error"]?["code"]?.int == code, "\(JSONWriter.string(git)) → \(JSONWriter.string(r))")
            #expect(r["error"]?["data"]?["field"] == .string(field), "\(JSONWriter.string(git)) → \(JSONWriter.string(r))")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(try await c.call("image/list")["images"] == [])
    }

    @Test func privateRemoteNeedsItsSecretAndSecretsNeverShow() async throws {
        let repo = try GitFixture()
        let served = TempDir("served")
        #expect(try await sh("cp -r '\(repo.bare)' '\(served.path)/private.git'").status == 0)
        let password = "pw-\(UUID().uuidString.prefix(12))-never-shown"
        let registryPassword = "reg-\(UUID().uuidString.prefix(12))-never-shown"
        let server = try FixtureServer("git_http_server.py", [served.path, "builder", password])
        let port = server.port
        let url = server.url("private.git")

        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let denied = try await c.request("image/create", ["name": "private", "source": ["git": ["url": .string(url)]]])
        #expect(denied["error"]?["code"] == 1006)
        #expect(denied["error"]?["message"]?.stringValue?.contains("credentials") == true)

        let created = try await c.call("secret/create", ["name": "git-creds", "git": ["url": .string("http://127.0.0.1:\(port)/"), "username": "builder",
                                                                                     "password": .string(password)]])
        #expect(created["type"] == "git-basic")
        _ = try await c.call("secret/create", ["name": "registry", "registry": ["server": "127.0.0.1:5000", "username": "u", "password": .string(registryPassword)]])
        let dockerConfig = served.path + "/config.json"
        try #"{"auths":{"127.0.0.1:5001":{"auth":"dTpkb2NrZXItY29uZmlnLXNlY3JldA=="}}}"#.write(toFile: dockerConfig, atomically: true, encoding: .utf8)
        _ = try await c.call("secret/create", ["name": "docker", "dockerConfig": ["path": .string(dockerConfig)]])
        let dup = try await c.request("secret/create", ["name": "docker", "dockerConfig": ["path": .string(dockerConfig)]])
        #expect(dup["error"]?["code"] == 1002)
        let two = try await c.request("secret/create", ["name": "both", "registry": ["server": "s", "username": "u", "password": "p"], "git": ["url": "https://x/"]])
        #expect(two["error"]?["code"] == -32602)

        _ = try await c.call("image/create", ["name": "private", "source": ["git": ["url": .string(url)]]])
        let b = try await c.call("build/wait", ["image": "private", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")

        // Listed without values; stored 0600; deleting removes it.
        let list = try await c.call("secret/list")["secrets"]?.arrayValue ?? []
        #expect(list.compactMap { $0["name"]?.stringValue }.sorted() == ["docker", "git-creds", "registry"])
        let allowed: Set<String> = ["name", "namespace", "type", "server", "url", "created"]
        for s in list {
            let keys = Set(s.objectValue?.keys ?? [])
            #expect(keys.isSubset(of: allowed))
        }
        for name in ["git-creds", "registry", "docker"] {
            let mode = try await sh("stat -c %a '\(state.path)/secrets/default/\(name).json'").out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(mode == "600")
        }
        _ = try await c.call("secret/delete", ["name": "docker"])
        #expect(try await c.call("secret/list")["secrets"]?.arrayValue?.count == 2)
        #expect(!FileManager.default.fileExists(atPath: state.path + "/secrets/default/docker.json"))

        // The values appear nowhere: responses, notifications, logs, events, the database.
        let everything = c.messages.map { JSONWriter.string($0) }.joined(separator: "\n")
        let logs = try await sh("cat '\(state.path)'/logs/*/*/*.log").out
        let db = try await sh("strings '\(state.path)/state.db' '\(state.path)/state.db-wal' 2>/dev/null").out
        for secret in [password, registryPassword, "docker-config-secret", "dTpkb2NrZXItY29uZmlnLXNlY3JldA=="] {
            #expect(!everything.contains(secret))
            #expect(!logs.contains(secret))
            #expect(!db.contains(secret))
            #expect(!c.stderr.contains(secret))
        }
    }
}
