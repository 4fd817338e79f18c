import Foundation
import JSONRPC
import Testing
import TestSupport

/// `--allow-source` holds for every way a source can name a host path: a local path, a
/// `subPath` through a symlink, a symlinked path, a `file://` git remote and a `file://` blob.
@Suite struct SourcePolicyTests {
    @Test func allowSourceCoversEveryWayToNameAHostPath() async throws {
        let allowed = TempDir("allowed")
        let outside = TempDir("outside")
        let hello = HelloApp.path
        #expect(try await sh("cp -r '\(hello)' '\(allowed.path)/app' && cp -r '\(hello)' '\(outside.path)/app'").status == 0)
        symlink(outside.path, allowed.path + "/app/link")
        try "link\n".write(toFile: allowed.path + "/app/.slipwayignore", atomically: false, encoding: .utf8)
        symlink(outside.path + "/app", allowed.path + "/app-link")
        let repo = try GitFixture()  // a bare repository outside the allowed folder
        #expect(try await sh("tar -czf '\(outside.path)/app.tgz' -C '\(hello)' .").status == 0)

        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--allow-source", allowed.path, "--allow-source", HostStack.directory,
                                                                   "--allow-source", Repo.buildpacks.path])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "inside", "source": ["local": ["path": .string(allowed.path + "/app")]]])

        let refused: [(String, JSONValue)] = [
            ("outside", ["local": ["path": .string(outside.path + "/app")]]),
            ("sub-path-through-a-link", ["local": ["path": .string(allowed.path + "/app")], "subPath": "link/app"]),
            ("symlinked-path", ["local": ["path": .string(allowed.path + "/app-link")]]),
            ("dot-dot", ["local": ["path": .string(allowed.path + "/app/../../" + PathSyntaxTestHelper.last(outside.path) + "/app")]]),
            ("git-file-url", ["git": ["url": .string(repo.url)]]),
            ("blob-file-url", ["blob": ["url": .string("file://" + outside.path + "/app.tgz")]]),
            ("missing-outside", ["local": ["path": .string(outside.path + "/no-such-folder")]]),
        ]
        for (name, source) in refused {
            let r = try await c.request("image/create", ["name": .string(name), "source": source])
            #expect(r["error"]?["code"] == 1007, "\(name): \(JSONWriter.string(r))")
            // Whether a path outside exists is not revealed.
            #expect(r["error"]?["message"]?.stringValue?.contains("does not exist") == false, "\(name)")
        }
        let names = try await c.call("image/list")["images"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names == ["inside"])

        // Every other host path a client names is held to the same folders.
        #expect(try await sh("cp -r '\(Repo.buildpacks.path)/procfile' '\(outside.path)/bp' && echo '{\"auths\":{}}' > '\(outside.path)/config.json'").status == 0)
        let others: [(String, JSONValue)] = [
            ("clusterstore/create", ["name": "out", "buildpacks": [.string(outside.path + "/bp")]]),
            ("clusterstack/create", ["name": "out", "buildImage": .string(outside.path), "runImage": .string(HostStack.run)]),
            ("secret/create", ["name": "out", "dockerConfig": ["path": .string(outside.path + "/config.json")]]),
        ]
        for (method, params) in others {
            let r = try await c.request(method, params)
            #expect(r["error"]?["code"] == 1007, "\(method): \(JSONWriter.string(r))")
        }
    }

    /// A local source that holds the state directory, or lies inside it, is refused before
    /// anything is snapshotted: such a snapshot took in Slipway's own files, which each build
    /// adds to, and grew until its paths were too long.
    @Test func aSourceThatHoldsTheStateDirectoryIsRefused() async throws {
        let holder = TempDir("holder")
        try FileManager.default.createDirectory(atPath: holder.path + "/app", withIntermediateDirectories: true)
        try "web: true\n".write(toFile: holder.path + "/app/Procfile", atomically: false, encoding: .utf8)
        let c = try SlipwayClient(stateDir: holder.path + "/state")
        try await c.setUpDefaultBuilder()
        let refused: [(String, String, String)] = [
            ("image/create", holder.path, "holds Slipway's state directory"),
            ("image/create", holder.path + "/state/logs", "is inside Slipway's state directory"),
            ("buildrun/submit", holder.path, "holds Slipway's state directory"),
        ]
        for (method, path, says) in refused {
            let r = try await c.request(method, ["name": "app", "source": ["local": ["path": .string(path)]]])
            #expect(r["error"]?["code"] == -32602, "\(method) \(path): \(JSONWriter.string(r))")
            #expect(r["error"]?["data"]?["field"] == "source.local.path", "\(JSONWriter.string(r))")
            #expect(r["error"]?["message"]?.stringValue?.contains(says) == true, "\(JSONWriter.string(r))")
        }
        #expect(try await c.call("image/list")["images"]?.arrayValue?.isEmpty == true)
        #expect(try await c.call("buildrun/list")["buildruns"]?.arrayValue?.isEmpty == true)
        // A folder beside the state is a source like any other.
        _ = try await c.call("image/create", ["name": "app", "source": ["local": ["path": .string(holder.path + "/app")]]])
    }
}

enum PathSyntaxTestHelper {
    static func last(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? "" }
}
