import Foundation
import JSONRPC
import Testing
import TestSupport

/// Registry-grade images: layers pushed compressed (gzip by default, zstd on request, each
/// compressed once), stack images pulled whatever their layers and manifest format, registries
/// on TLS with a private CA, and 5xx answers retried.
@Suite struct RegistryFormatTests {
    static let app = HelloApp.path

    static func rawManifest(_ reference: String, _ flags: String = "--tls-verify=false") async throws -> JSONValue {
        let r = try await sh("skopeo inspect --raw \(flags) docker://\(reference)")
        guard r.status == 0 else { throw TestFailure("skopeo inspect --raw: \(r.err)") }
        return try JSONParser.parse(Array(r.out.utf8))
    }

    static func layerTypes(_ manifest: JSONValue) -> [String] {
        manifest["layers"]?.arrayValue?.compactMap { $0["mediaType"]?.stringValue } ?? []
    }


    @Test func pushesCompressLayersOnceWithGzipOrZstd() async throws {
        let registry = try await LoopbackRegistry()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let tag = "\(registry.host)/team/gz:1"
        _ = try await c.call("image/create", ["name": "gz", "tag": .string(tag), "source": ["local": ["path": .string(Self.app)]]])
        #expect(try await c.call("build/wait", ["image": "gz", "build": 1])["status"] == "SUCCESS")
        let manifest = try await Self.rawManifest(tag)
        let types = Self.layerTypes(manifest)
        #expect(!types.isEmpty && types.allSatisfy { $0 == "application/vnd.oci.image.layer.v1.tar+gzip" }, "\(types)")
        // Smaller than the uncompressed layers of the local staging layout.
        let local = try JSONParser.parse(Array(try await sh("skopeo inspect --raw oci:\(state.path)/layouts/.registry/default/gz:latest").out.utf8))
        func total(_ m: JSONValue) -> Int { m["layers"]?.arrayValue?.compactMap { $0["size"]?.int }.reduce(0, +) ?? 0 }
        #expect(Self.layerTypes(local).allSatisfy { $0 == "application/vnd.oci.image.layer.v1.tar" })
        #expect(total(manifest) < total(local) / 2, "pushed \(total(manifest)) bytes, local \(total(local))")
        let pushLog = try await c.logLines("gz", build: 1)
        #expect(pushLog.contains { $0.hasPrefix("Layers compressed with gzip (level 6): \(types.count) now") })
        // Streamed to the registry as they were compressed, each in one go.
        #expect(pushLog.filter { $0.hasPrefix("Compressed and uploaded ") }.count == types.count, "\(pushLog)")

        // The rebuild reuses every layer: nothing is compressed again.
        _ = try await c.call("image/trigger", ["name": "gz"])
        #expect(try await c.call("build/wait", ["image": "gz", "build": 2])["status"] == "SUCCESS")
        #expect(try await c.logLines("gz", build: 2).contains { $0.hasPrefix("Layers compressed with gzip (level 6): 0 now") })

        // A collection keeps the compressed layers while their image is kept, and takes them
        // (and their records) with it.
        let records = state.path + "/compressed/gzip-6"
        func compressedBlobs() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: records).compactMap {
                try JSONParser.parse(Array(Data(contentsOf: URL(fileURLWithPath: records + "/" + $0))))["digest"]?.stringValue
            }
        }
        _ = try await c.call("system/gc")
        let kept = try compressedBlobs()
        #expect(kept.count == types.count)
        #expect(kept.allSatisfy { FileManager.default.fileExists(atPath: state.path + "/blobs/sha256/" + $0.dropFirst(7)) })
        _ = try await c.call("image/delete", ["name": "gz"])
        _ = try await c.call("system/gc")
        // What stays is the run image's one layer: the stack keeps it.
        let left = try compressedBlobs()
        #expect(left.count == 1 && kept.contains(left[0]), "\(left)")
        #expect(kept.filter { !left.contains($0) }.allSatisfy { !FileManager.default.fileExists(atPath: state.path + "/blobs/sha256/" + $0.dropFirst(7)) })

        // zstd, when the engine is asked for it; skopeo turns it back into gzip for umoci.
        let zstate = TempDir("state")
        let z = try SlipwayClient(stateDir: zstate.path, arguments: ["--layer-compression", "zstd"])
        try await z.setUpDefaultBuilder()
        let ztag = "\(registry.host)/team/zstd:1"
        _ = try await z.call("image/create", ["name": "z", "tag": .string(ztag), "source": ["local": ["path": .string(Self.app)]]])
        #expect(try await z.call("build/wait", ["image": "z", "build": 1])["status"] == "SUCCESS")
        let ztypes = Self.layerTypes(try await Self.rawManifest(ztag))
        #expect(!ztypes.isEmpty && ztypes.allSatisfy { $0 == "application/vnd.oci.image.layer.v1.tar+zstd" }, "\(ztypes)")
        let copy = TempDir("copy")
        let copied = try await sh("skopeo copy --src-tls-verify=false --dest-compress-format gzip docker://\(ztag) oci:\(copy.path)/img:x")
        #expect(copied.status == 0, "\(copied.err)")
        #expect(try await UnpackedImage.runProcess(layout: copy.path + "/img", tag: "x").contains(HelloApp.expectedLine))
    }

    /// Runs an image whose local layout keeps a pulled run image's zstd layer as it came: umoci
    /// reads only gzip, so skopeo converts the layout first.
    static func runThroughGzip(layout: String) async throws -> String {
        let gzipped = TempDir("gzipped")
        let converted = try await sh("skopeo copy --dest-compress --dest-compress-format gzip oci:\(layout):latest oci:\(gzipped.path)/img:x")
        guard converted.status == 0 else { throw TestFailure("skopeo copy: \(converted.err)") }
        return try await UnpackedImage.runProcess(layout: gzipped.path + "/img", tag: "x")
    }

    /// Stack images in Docker schema 2 with gzip layers, OCI with zstd layers, and OCI with
    /// uncompressed layers (pushed by Slipway with --layer-compression none) all build and run.
    @Test func stacksArePulledWhateverTheirLayersAndManifestFormat() async throws {
        let registry = try await LoopbackRegistry()
        let work = TempDir("stack")
        try await HostStack.ociLayout(at: work.path + "/oci", stackID: "io.slipway.pulled")
        for (tag, flags) in [("build", "--format v2s2"), ("run", "--format oci --dest-compress-format zstd")] {
            let r = try await sh("skopeo copy --dest-tls-verify=false \(flags) oci:'\(work.path)/oci:\(tag)' docker://\(registry.host)/stacks/\(tag):1")
            #expect(r.status == 0, "\(r.err)")
        }
        #expect(try await Self.rawManifest("\(registry.host)/stacks/build:1")["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json")
        #expect(Self.layerTypes(try await Self.rawManifest("\(registry.host)/stacks/run:1")) == ["application/vnd.oci.image.layer.v1.tar+zstd"])

        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--layer-compression", "none"])
        _ = try await c.call("clusterstack/create", ["name": "pulled", "buildImage": .string("\(registry.host)/stacks/build:1"),
                                                     "runImage": .string("\(registry.host)/stacks/run:1")])
        _ = try await c.call("clusterstore/create", ["name": "s", "buildpacks": .array(["build-script", "procfile"].map { .string(Repo.buildpacks.appendingPathComponent($0).path) })])
        _ = try await c.call("clusterbuilder/create", ["name": "default", "stack": "pulled", "store": "s",
                                                       "order": [["group": [["id": "slipway/build-script"], ["id": "slipway/procfile"]]]]])
        // Built on the pulled stack, and pushed with uncompressed layers.
        let plain = "\(registry.host)/apps/plain:1"
        _ = try await c.call("image/create", ["name": "plain", "tag": .string(plain), "source": ["local": ["path": .string(Self.app)]]])
        let b = try await c.call("build/wait", ["image": "plain", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        #expect(try await Self.runThroughGzip(layout: state.path + "/layouts/.registry/default/plain").contains(HelloApp.expectedLine))
        let plainTypes = Self.layerTypes(try await Self.rawManifest(plain))
        #expect(plainTypes.contains("application/vnd.oci.image.layer.v1.tar"), "\(plainTypes)")
        #expect(plainTypes.contains("application/vnd.oci.image.layer.v1.tar+zstd"), "the pulled run image's layer goes as it came: \(plainTypes)")

        // That image, uncompressed layers and all, as the run image of another stack.
        _ = try await c.call("clusterstack/create", ["name": "onplain", "buildImage": .string("\(registry.host)/stacks/build:1"), "runImage": .string(plain)])
        _ = try await c.call("clusterbuilder/create", ["name": "onplain", "stack": "onplain", "store": "s",
                                                       "order": [["group": [["id": "slipway/build-script"], ["id": "slipway/procfile"]]]]])
        _ = try await c.call("image/create", ["name": "again", "builder": ["kind": "ClusterBuilder", "name": "onplain"], "source": ["local": ["path": .string(Self.app)]]])
        let again = try await c.call("build/wait", ["image": "again", "build": 1])
        #expect(again["status"] == "SUCCESS", "\(JSONWriter.string(again))")
        #expect(try await Self.runThroughGzip(layout: state.path + "/layouts/default/again").contains(HelloApp.expectedLine))
    }

    /// A registry on TLS whose certificate a private CA signed: refused until that CA is given,
    /// by the engine's --registry-ca or a registry secret's caCert.
    @Test func aTLSRegistryWithAPrivateCA() async throws {
        let pki = TempDir("pki")
        let made = try await sh("""
            set -e
            cd '\(pki.path)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=slipway-test-ca 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile san.ext 2>/dev/null
            mkdir certs && cp ca.pem certs/ca.crt
            """)
        #expect(made.status == 0, "\(made.err)")
        let registry = try await LoopbackRegistry(tls: (pki.path + "/server.pem", pki.path + "/server.key"))
        #expect(try await sh("curl -s -o /dev/null -w '%{http_code}' --cacert '\(pki.path)/ca.pem' https://\(registry.host)/v2/").out == "200")

        // No CA: the push fails, saying how to trust the registry.
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "untrusted", "tag": .string("\(registry.host)/tls/app:1"), "source": ["local": ["path": .string(Self.app)]]])
        let refused = try await c.call("build/wait", ["image": "untrusted", "build": 1])
        #expect(refused["status"] == "FAILURE")
        let message = refused["message"]?.stringValue ?? ""
        #expect(message.contains("TLS certificate of \(registry.host) is not trusted") && message.contains("--registry-ca"), "\(message)")

        // A registry secret with the CA.
        let ca = try String(contentsOfFile: pki.path + "/ca.pem", encoding: .utf8)
        _ = try await c.call("secret/create", ["name": "tls", "registry": ["server": .string(registry.host), "username": "any", "password": "any", "caCert": .string(ca)]])
        _ = try await c.call("image/create", ["name": "bysecret", "tag": .string("\(registry.host)/tls/app:2"), "source": ["local": ["path": .string(Self.app)]]])
        let bySecret = try await c.call("build/wait", ["image": "bysecret", "build": 1])
        #expect(bySecret["status"] == "SUCCESS", "\(JSONWriter.string(bySecret))")
        #expect(try await sh("skopeo inspect --cert-dir '\(pki.path)/certs' docker://\(registry.host)/tls/app:2").status == 0)
        let bad = try await c.request("secret/create", ["name": "badca", "registry": ["server": "x", "username": "u", "password": "p", "caCert": "not a certificate"]])
        #expect(bad["error"]?["code"] == -32602 && bad["error"]?["data"]?["field"] == "registry.caCert", "\(bad)")

        // The engine's --registry-ca.
        let flagged = TempDir("state")
        let f = try SlipwayClient(stateDir: flagged.path, arguments: ["--registry-ca", pki.path + "/ca.pem"])
        try await f.setUpDefaultBuilder()
        _ = try await f.call("image/create", ["name": "byflag", "tag": .string("\(registry.host)/tls/app:3"), "source": ["local": ["path": .string(Self.app)]]])
        let byFlag = try await f.call("build/wait", ["image": "byflag", "build": 1])
        #expect(byFlag["status"] == "SUCCESS", "\(JSONWriter.string(byFlag))")
        let copy = TempDir("copy")
        #expect(try await sh("skopeo copy --src-cert-dir '\(pki.path)/certs' docker://\(registry.host)/tls/app:3 oci:\(copy.path)/img:x").status == 0)
        #expect(try await UnpackedImage.runProcess(layout: copy.path + "/img", tag: "x").contains(HelloApp.expectedLine))
    }

    /// A registry behind a proxy that answers 503 twice: the push retries and succeeds. One
    /// that never recovers fails the build, naming the answer.
    @Test func fiveHundredsAreRetried() async throws {
        let registry = try await LoopbackRegistry()
        let record = TempDir("proxy")
        let flaky = try FixtureServer("fault_proxy.py", [String(registry.port), "2", record.path + "/flaky"])
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let tag = "127.0.0.1:\(flaky.port)/team/retried:1"
        _ = try await c.call("image/create", ["name": "retried", "tag": .string(tag), "source": ["local": ["path": .string(Self.app)]]])
        let b = try await c.call("build/wait", ["image": "retried", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let served = try String(contentsOfFile: record.path + "/flaky", encoding: .utf8).split(separator: "\n")
        #expect(served.count == 2, "\(served)")
        #expect(try await sh("skopeo inspect --tls-verify=false docker://\(registry.host)/team/retried:1").status == 0)

        let down = try FixtureServer("fault_proxy.py", [String(registry.port), "1000", record.path + "/down"])
        _ = try await c.call("image/create", ["name": "down", "tag": .string("127.0.0.1:\(down.port)/team/down:1"), "source": ["local": ["path": .string(Self.app)]]])
        let failed = try await c.call("build/wait", ["image": "down", "build": 1])
        #expect(failed["status"] == "FAILURE")
        #expect(failed["message"]?.stringValue?.contains("503 from 127.0.0.1:\(down.port)") == true, "\(JSONWriter.string(failed))")
        // Each request is tried four times (three retries); layers go three at a time.
        let attempts = try String(contentsOfFile: record.path + "/down", encoding: .utf8).split(separator: "\n").count
        #expect(attempts >= 4, "one request and three retries: \(attempts)")
    }
}
