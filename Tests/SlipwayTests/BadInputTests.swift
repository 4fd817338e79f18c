import Foundation
import JSONRPC
import Testing
import TestSupport

/// Bad input of every kind gets a clear error that names the field, and changes nothing.
@Suite struct BadInputTests {
    static let app = HelloApp.path

    static func archives() async throws -> TempDir {
        let dir = TempDir("archives")
        let r = try await sh("python3 '\(Repo.fixtures.appendingPathComponent("make_archives.py").path)' '\(dir.path)'")
        guard r.status == 0 else { throw TestFailure(r.err) }
        return dir
    }

    @Test func invalidImagesAreRefusedAndNothingIsStored() async throws {
        let state = TempDir("state")
        let archives = try await Self.archives()
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let local: JSONValue = ["local": ["path": .string(Self.app)]]
        let cases: [(JSONValue, Int, String?, String)] = [
            (["name": "Bad_Name", "source": local], -32602, "name", "not a valid image name"),
            (["name": "-x", "source": local], -32602, "name", "not a valid image name"),
            (["name": String(repeating: "a", count: 64).jsonValue, "source": local], -32602, "name", "at most 63"),
            (["name": "ok", "namespace": "Not OK", "source": local], -32602, "namespace", "namespace"),
            (["name": "ok", "tag": "oci:relative/dir", "source": local], -32602, "tag", "absolute"),
            (["name": "ok", "tag": "oci:/tmp/x:bad tag!", "source": local], -32602, "tag", "tag"),
            (["name": "ok", "tag": "Registry.Example/UPPER:1", "source": local], -32602, "tag", "reference"),
            (["name": "ok", "env": ["1BAD": "x"], "source": local], -32602, "env.1BAD", "env name"),
            (["name": "ok", "env": ["CNB_STACK_ID": "x"], "source": local], -32602, "env.CNB_STACK_ID", "reserved"),
            (["name": "ok", "builder": ["kind": "ClusterBuilder", "name": "nope"], "source": local], 1001, "builder", "ClusterBuilder 'nope' not found"),
            (["name": "ok", "builder": ["kind": "Robot", "name": "x"], "source": local], -32602, "builder.kind", "builder.kind"),
            (["name": "ok"], -32602, "source", "source"),
            (["name": "ok", "source": [:]], -32602, "source", "exactly one"),
            (["name": "ok", "source": ["local": ["path": "relative/path"]]], -32602, "source.local.path", "absolute"),
            (["name": "ok", "source": ["local": ["path": "/does/not/exist"]]], -32602, "source.local.path", "does not exist"),
            (["name": "ok", "source": ["local": ["path": .string(Self.app)], "subPath": "../.."]], -32602, "source.subPath", ".."),
            (["name": "ok", "source": ["local": ["path": .string(archives.path + "/dotdot.tar")]]], -32602, nil, "'..'"),
            (["name": "ok", "source": ["local": ["path": .string(archives.path + "/dotdot.zip")]]], -32602, nil, "'..'"),
            (["name": "ok", "source": ["local": ["path": .string(archives.path + "/absolute.tar.gz")]]], -32602, nil, "absolute path"),
            (["name": "ok", "source": ["local": ["path": .string(archives.path + "/symlink-out.tar")]]], -32602, nil, "outside the source root"),
            (["name": "ok", "source": ["local": ["path": .string(archives.path + "/symlink-abs.tar")]]], -32602, nil, "outside the source root"),
            (["name": "ok", "buildTimeout": -5, "source": local], -32602, "buildTimeout", "positive"),
        ]
        for (params, code, field, text) in cases {
            let r = try await c.request("image/create", params)
            let e = r["error"]
            #expect(e?["code"]?.int == code, "\(JSONWriter.string(params)) → \(JSONWriter.string(r))")
            if let field { #expect(e?["data"]?["field"] == .string(field), "\(JSONWriter.string(params)) → \(JSONWriter.string(r))") }
            #expect(e?["message"]?.stringValue?.contains(text) == true, "\(JSONWriter.string(params)) → \(JSONWriter.string(r))")
        }
        // Nothing was stored, nothing escaped.
        #expect(try await c.call("image/list", ["allNamespaces": true])["images"] == [])
        #expect(try await c.call("build/list")["builds"] == [])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/slipway-absolute-escape.txt"))
        #expect(!FileManager.default.fileExists(atPath: archives.url.deletingLastPathComponent().appendingPathComponent("escape.txt").path))
        // An existing name is AlreadyExists, and the first image is untouched.
        _ = try await c.call("image/create", ["name": "dup", "source": local])
        let dup = try await c.request("image/create", ["name": "dup", "source": local, "env": ["X": "1"]])
        #expect(dup["error"]?["code"] == 1002)
        #expect(try await c.call("image/get", ["name": "dup"])["env"] == [:])
    }

    @Test func archiveSourcesBuild() async throws {
        let state = TempDir("state")
        let archives = try await Self.archives()
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        var digests: [String] = []
        for (name, file) in [("from-tgz", "good.tar.gz"), ("from-zip", "good.zip"), ("from-jar", "good.jar")] {
            let r = try await c.call("image/create", ["name": .string(name), "source": ["local": ["path": .string(archives.path + "/" + file)]]])
            let digest = try #require(r["image"]?["source"]?["resolved"]?["snapshot"]?["digest"]?.stringValue)
            #expect(digest.hasPrefix("sha256:"))
            digests.append(digest)
            let b = try await c.call("build/wait", ["image": .string(name), "build": 1])
            #expect(b["status"] == "SUCCESS", "\(file): \(JSONWriter.string(b))")
        }
        // The same files in three archive formats are the same source.
        #expect(Set(digests).count == 1)
        #expect(try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/from-zip").contains("from-archive"))
    }

    @Test func badPlatformObjectsAreRefused() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let stack = try await c.request("clusterstack/create", ["name": "Bad", "buildImage": .string(HostStack.build), "runImage": .string(HostStack.run)])
        #expect(stack["error"]?["data"]?["field"] == "name")
        let missing = try await c.request("clusterstack/create", ["name": "s", "buildImage": "/no/such/rootfs", "runImage": .string(HostStack.run)])
        #expect(missing["error"]?["code"] == -32602)
        let registry = try await c.request("clusterstack/create", ["name": "s", "buildImage": "example.com/build:1", "runImage": .string(HostStack.run)])
        #expect(registry["error"]?["code"] == 1006)
        let store = try await c.request("clusterstore/create", ["name": "st", "buildpacks": ["/no/such/buildpack"]])
        #expect(store["error"]?["data"]?["field"] == "buildpacks[0]")
        let notBP = try await c.request("clusterstore/create", ["name": "st", "buildpacks": .array([.string(Repo.examples.path)])])
        #expect(notBP["error"]?["message"]?.stringValue?.contains("buildpack.toml") == true)
        let order = try await c.request("clusterbuilder/create", ["name": "b", "stack": "s", "store": "st", "order": []])
        #expect(order["error"]?["data"]?["field"] == "order")
        #expect(try await c.call("clusterstack/list")["stacks"] == [])
        #expect(try await c.call("clusterstore/list")["stores"] == [])
        #expect(try await c.call("clusterbuilder/list")["builders"] == [])
    }
}
