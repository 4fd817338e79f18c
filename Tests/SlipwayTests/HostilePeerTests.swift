import Foundation
import JSONRPC
import Testing
import TestSupport

/// What comes over the network is hostile: remotes that want credentials they were not given,
/// registries that redirect elsewhere, name plain-HTTP token services, send endless manifests
/// or longer blobs than their manifests say, and archives that never end
/// (Fixtures/hostile_peer.py plays each).
@Suite struct HostilePeerTests {
    static func records(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// A git secret for `http://127.0.0.1:800` is not sent to port 8001 (nor one without a port).
    @Test func gitSecretsGoOnlyToTheirSchemeHostAndPort() async throws {
        let records = TempDir("record")
        let record = records.path + "/auth.log"
        let peer = try FixtureServer("hostile_peer.py", ["recorder", record])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let url = "http://127.0.0.1:\(peer.port)/private.git"
        _ = try await c.call("secret/create", ["name": "prefix", "git": ["url": .string("http://127.0.0.1:\(peer.port.dropLast())"), "username": "u", "password": "prefix-pw"]])
        _ = try await c.call("secret/create", ["name": "noport", "git": ["url": "http://127.0.0.1", "username": "u", "password": "noport-pw"]])
        _ = try await c.call("secret/create", ["name": "otherpath", "git": ["url": .string("http://127.0.0.1:\(peer.port)/priv"), "username": "u", "password": "path-pw"]])
        let denied = try await c.request("image/create", ["name": "g", "source": ["git": ["url": .string(url)]]])
        #expect(denied["error"]?["code"] == 1006)
        #expect(Self.records(record).isEmpty, "credentials were sent: \(Self.records(record))")
        // The control: a secret for exactly this origin is sent (so the recorder sees what is sent).
        _ = try await c.call("secret/create", ["name": "exact", "git": ["url": .string("http://127.0.0.1:\(peer.port)/"), "username": "u", "password": "exact-pw"]])
        _ = try await c.request("image/create", ["name": "g", "source": ["git": ["url": .string(url)]]])
        let sent = Self.records(record)
        #expect(!sent.isEmpty)
        #expect(sent.allSatisfy { $0.contains(Data("u:exact-pw".utf8).base64EncodedString()) }, "\(sent)")
    }

    /// A registry that redirects blob downloads to another host gets the credentials; the other
    /// host does not.
    @Test func registryCredentialsDoNotFollowARedirectToAnotherHost() async throws {
        let layouts = TempDir("layout")
        let layout = layouts.path + "/stack"
        try await HostStack.ociLayout(at: layout, stackID: "io.slipway.test")
        let records = TempDir("record")
        let record = records.path + "/auth.log"
        let peer = try FixtureServer("hostile_peer.py", ["redirect-blobs", record, layout])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("secret/create", ["name": "reg", "registry": ["server": .string("127.0.0.1:\(peer.port)"), "username": "u", "password": "registry-password"]])
        let stack = try await c.call("clusterstack/create", ["name": "remote", "buildImage": .string("127.0.0.1:\(peer.port)/stack:build"),
                                                             "runImage": .string("127.0.0.1:\(peer.port)/stack:run")])
        #expect(stack["status"]?["ready"] == true)
        let lines = Self.records(record)
        #expect(lines.contains { $0.hasPrefix("main ") }, "the registry itself got no credentials: \(lines)")
        #expect(!lines.contains { $0.hasPrefix("second ") }, "credentials followed the redirect: \(lines)")
    }

    static var hostNameIsLoopback: Bool {
        let hostname = ProcessInfo.processInfo.hostName
        return ["localhost", "127.0.0.1", "::1"].contains(hostname) || hostname.hasPrefix("127.")
    }

    /// Credentials go to a Bearer token service over plain HTTP only on loopback or insecure hosts.
    @Test(.enabled(if: !Self.hostNameIsLoopback, "this machine's host name is a loopback name, so it cannot play another host"))
    func noCredentialsToAPlainHTTPTokenServiceElsewhere() async throws {
        let records = TempDir("record")
        let record = records.path + "/auth.log"
        let peer = try FixtureServer("hostile_peer.py", ["plain-http-realm", record])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("secret/create", ["name": "reg", "registry": ["server": .string("127.0.0.1:\(peer.port)"), "username": "u", "password": "registry-password"]])
        let r = try await c.request("clusterstack/create", ["name": "remote", "buildImage": .string("127.0.0.1:\(peer.port)/stack:build"),
                                                            "runImage": .string("127.0.0.1:\(peer.port)/stack:run")])
        #expect(r["error"]?["code"] == 1007, "\(JSONWriter.string(r))")
        #expect(r["error"]?["message"]?.stringValue?.contains("plain HTTP") == true)
        #expect(Self.records(record).isEmpty, "credentials went to the plain-HTTP token service: \(Self.records(record))")
    }

    /// An endless manifest is cut at 4 MiB without being held in memory; a blob longer than its
    /// manifest says is refused.
    @Test func manifestsAreCappedAndBlobsMustBeTheSizeTheManifestGives() async throws {
        let layouts = TempDir("layout")
        let layout = layouts.path + "/stack"
        try await HostStack.ociLayout(at: layout, stackID: "io.slipway.test")
        let records = TempDir("record")
        let record = records.path + "/auth.log"
        let huge = try FixtureServer("hostile_peer.py", ["huge-manifest", record, layout])
        let long = try FixtureServer("hostile_peer.py", ["long-blob", record, layout])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        for (name, peer) in [("huge", huge), ("long", long)] {
            _ = try await c.call("secret/create", ["name": .string(name), "registry": ["server": .string("127.0.0.1:\(peer.port)"), "username": "u", "password": "registry-password"]])
        }
        let r1 = try await c.request("clusterstack/create", ["name": "huge", "buildImage": .string("127.0.0.1:\(huge.port)/stack:build"),
                                                             "runImage": .string("127.0.0.1:\(huge.port)/stack:run")])
        #expect(r1["error"]?["code"] == 1006)
        #expect(r1["error"]?["message"]?.stringValue?.contains("more than 4194304 bytes, the manifest size cap") == true, "\(JSONWriter.string(r1))")
        #expect(c.peakRSS < 150 << 20, "peak RSS \(c.peakRSS >> 20) MB")
        let r2 = try await c.request("clusterstack/create", ["name": "long", "buildImage": .string("127.0.0.1:\(long.port)/stack:build"),
                                                             "runImage": .string("127.0.0.1:\(long.port)/stack:run")])
        #expect(r2["error"]?["code"] == 1006)
        #expect(r2["error"]?["message"]?.stringValue?.contains("bytes the manifest gives") == true, "\(JSONWriter.string(r2))")
        // Nothing half-downloaded is kept.
        let temps = try FileManager.default.contentsOfDirectory(atPath: state.path + "/blobs/.tmp")
        #expect(temps.isEmpty, "\(temps)")
    }

    /// A source archive that never ends stops at the source size cap as the bytes arrive.
    @Test func anEndlessBlobSourceStopsAtTheCap() async throws {
        let records = TempDir("record")
        let record = records.path + "/auth.log"
        let peer = try FixtureServer("hostile_peer.py", ["flood", record])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--max-source-bytes", "10485760"])
        try await c.setUpDefaultBuilder()
        let r = try await c.request("image/create", ["name": "flood", "source": ["blob": ["url": .string("http://127.0.0.1:\(peer.port)/app.tar.gz")]]])
        #expect(r["error"]?["code"] == -32602, "\(JSONWriter.string(r))")
        #expect(r["error"]?["message"]?.stringValue?.contains("larger than 10485760 bytes, the source size cap") == true, "\(JSONWriter.string(r))")
        #expect(try await c.call("image/list")["images"] == [])
    }
}
