import Foundation
import JSONRPC
import Testing
import TestSupport

@Suite struct RegistryTests {
    static let app = HelloApp.path

    @Test func buildsArePushedWithBuildNumberAndAdditionalTagsAndRepushesUploadNothing() async throws {
        let registry = try await LoopbackRegistry()
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let tag = "\(registry.host)/team/hello:1.0"
        _ = try await c.call("image/create", ["name": "pushed", "tag": .string(tag), "additionalTags": .array([.string("\(registry.host)/team/hello:stable")]),
                                              "source": ["local": ["path": .string(Self.app)]]])
        let b = try await c.call("build/wait", ["image": "pushed", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let latest = try #require(b["image"]?.stringValue)
        #expect(latest.hasPrefix("\(registry.host)/team/hello@sha256:"))
        #expect(try await c.call("image/status", ["name": "pushed"])["latestImage"] == .string(latest))
        #expect(c.notifications("event").contains { $0["reason"] == "Pushed" })

        // Read back from outside with skopeo: tags, the digest, and a copy that works.
        let tags = try JSONParser.parse(Array(try await sh("skopeo list-tags --tls-verify=false docker://\(registry.host)/team/hello").out.utf8))
        let names = tags["Tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(names.contains("1.0"))
        #expect(names.contains("stable"))
        #expect(names.contains { $0.range(of: #"^1\.0-b1\.\d{8}\.\d{6}$"#, options: .regularExpression) != nil })
        let inspect = try JSONParser.parse(Array(try await sh("skopeo inspect --tls-verify=false docker://\(tag)").out.utf8))
        #expect(inspect["Digest"]?.stringValue.map { latest.hasSuffix($0) } == true)
        #expect(inspect["Labels"]?["io.buildpacks.lifecycle.metadata"] != nil)
        let copy = TempDir("copy")
        #expect(try await sh("skopeo copy --src-tls-verify=false docker://\(tag) oci:\(copy.path)/img:x").status == 0)
        #expect(try await UnpackedImage.runProcess(layout: copy.path + "/img", tag: "x").contains(HelloApp.expectedLine))

        // A rebuild with nothing changed uploads no blob: only manifests travel.
        let before = registry.uploads
        #expect(before > 0)
        _ = try await c.call("image/trigger", ["name": "pushed"])
        let b2 = try await c.call("build/wait", ["image": "pushed", "build": 2])
        #expect(b2["status"] == "SUCCESS")
        #expect(b2["image"] == .string(latest))
        #expect(registry.uploads == before)
    }

    @Test func pushesNeedTheRegistrySecretAndFailClearlyWithoutIt() async throws {
        let password = "registry-\(UUID().uuidString.prefix(10))"
        let registry = try await LoopbackRegistry(user: "pusher", password: password)
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let tag = "\(registry.host)/private/app:latest"
        _ = try await c.call("image/create", ["name": "nocreds", "tag": .string(tag), "source": ["local": ["path": .string(Self.app)]]])
        let denied = try await c.call("build/wait", ["image": "nocreds", "build": 1])
        #expect(denied["status"] == "FAILURE")
        let message = denied["message"]?.stringValue ?? ""
        #expect(message.contains("401 from \(registry.host)"), "\(message)")
        #expect(message.contains("registry secret"))
        // The log never calls a build whose push failed successful.
        let lines = try await c.logLines("nocreds", build: 1)
        #expect(lines.contains { $0.contains("Pushing to \(registry.host)/private/app") } && !lines.contains { $0.contains("Build successful") }, "\(lines)")

        _ = try await c.call("secret/create", ["name": "reg", "registry": ["server": .string(registry.host), "username": "pusher", "password": .string(password)]])
        _ = try await c.call("image/create", ["name": "withcreds", "tag": .string(tag), "source": ["local": ["path": .string(Self.app)]]])
        let ok = try await c.call("build/wait", ["image": "withcreds", "build": 1])
        #expect(ok["status"] == "SUCCESS", "\(JSONWriter.string(ok))")
        let r = try await sh("skopeo inspect --tls-verify=false --creds 'pusher:\(password)' docker://\(tag)")
        #expect(r.status == 0, "\(r.err)")
        let everything = c.messages.map { JSONWriter.string($0) }.joined(separator: "\n") + (try await sh("cat '\(state.path)'/logs/*/*/*.log").out)
        #expect(!everything.contains(password))

        // The registry stops while a build runs: the build fails naming it, and the registry,
        // back on the same storage, has no manifest for the tag it never finished. The build
        // sleeps 5 s, so that the kill comes before its push even when the machine is loaded.
        _ = try await c.call("clusterstore/add", ["name": "default", "buildpacks": .array([.string(Repo.fixtures.appendingPathComponent("buildpacks/slow").path)])])
        _ = try await c.call("clusterbuilder/create", ["name": "slow", "stack": "base", "store": "default",
                                                       "order": [["group": [["id": "test/slow"], ["id": "slipway/procfile"]]]]])
        let midTag = "\(registry.host)/private/mid:1"
        _ = try await c.call("image/create", ["name": "mid", "tag": .string(midTag), "builder": ["kind": "ClusterBuilder", "name": "slow"],
                                              "env": ["SLEEP_SECONDS": "5"], "source": ["local": ["path": .string(Self.app)]]])
        _ = try await c.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["image"] == "mid" && $0["params"]?["status"] == "BUILDING" }
        kill(registry.process.processIdentifier, SIGKILL)
        registry.process.waitUntilExit()
        let down = try await c.call("build/wait", ["image": "mid", "build": 1])
        #expect(down["status"] == "FAILURE")
        #expect(down["message"]?.stringValue?.contains("registry \(registry.host) cannot be reached") == true, "\(JSONWriter.string(down))")
        #expect(c.notifications("event").contains { $0["reason"] == "Failed" && ($0["message"]?.stringValue?.contains(registry.host) ?? false) })
        let again = try await LoopbackRegistry(user: "pusher", password: password, reusing: registry)
        let tags = try await sh("skopeo list-tags --tls-verify=false --creds 'pusher:\(password)' docker://\(again.host)/private/mid")
        #expect(!tags.out.contains("\"1\""), "\(tags.out) \(tags.err)")
    }

    @Test func stackImagesArePulledFromTheRegistryByReference() async throws {
        let registry = try await LoopbackRegistry()
        let work = TempDir("stack")
        try await HostStack.ociLayout(at: work.path + "/oci", stackID: "io.slipway.pulled")
        for tag in ["build", "run"] {
            let r = try await sh("skopeo copy --dest-tls-verify=false --format v2s2 oci:'\(work.path)/oci:\(tag)' docker://\(registry.host)/stacks/\(tag):1")
            #expect(r.status == 0, "\(r.err)")
        }
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let stack = try await c.call("clusterstack/create", ["name": "pulled", "buildImage": .string("\(registry.host)/stacks/build:1"),
                                                             "runImage": .string("\(registry.host)/stacks/run:1")])
        #expect(stack["id"] == "io.slipway.pulled")
        #expect(stack["status"]?["resolvedRunImage"]?.stringValue?.hasPrefix("\(registry.host)/stacks/run@sha256:") == true)
        let missing = try await c.request("clusterstack/create", ["name": "missing", "buildImage": .string("\(registry.host)/stacks/nope:1"),
                                                                  "runImage": .string("\(registry.host)/stacks/run:1")])
        #expect(missing["error"]?["code"] == 1001)
        #expect(missing["error"]?["data"]?["field"] == "buildImage")
        _ = try await c.call("clusterstore/create", ["name": "s", "buildpacks": .array(["build-script", "procfile"].map { .string(Repo.buildpacks.appendingPathComponent($0).path) })])
        _ = try await c.call("clusterbuilder/create", ["name": "default", "stack": "pulled", "store": "s",
                                                       "order": [["group": [["id": "slipway/build-script"], ["id": "slipway/procfile"]]]]])
        _ = try await c.call("image/create", ["name": "on-pulled", "source": ["local": ["path": .string(Self.app)]]])
        let b = try await c.call("build/wait", ["image": "on-pulled", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        #expect(try await UnpackedImage.runProcess(layout: state.path + "/layouts/default/on-pulled").contains(HelloApp.expectedLine))

        // Pushed to the registry the run image came from: its layers are mounted, not uploaded.
        _ = try await c.call("image/create", ["name": "mounted", "tag": .string("\(registry.host)/apps/mounted:1"), "source": ["local": ["path": .string(Self.app)]]])
        let m = try await c.call("build/wait", ["image": "mounted", "build": 1])
        #expect(m["status"] == "SUCCESS", "\(JSONWriter.string(m))")
        let lines = try await c.call("build/logs", ["image": "mounted"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains { $0.hasPrefix("Mounted ") && $0.hasSuffix("from \(registry.host)/stacks/run") })
        #expect(try await sh("skopeo inspect --tls-verify=false docker://\(registry.host)/apps/mounted:1").status == 0)
    }

    @Test func bearerTokenRegistry() async throws {
        let keys = TempDir("token")
        #expect(try await sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout '\(keys.path)/key.pem' -out '\(keys.path)/cert.pem' -days 1 -subj /CN=slipway-test-issuer").status == 0)
        let password = "tok-\(UUID().uuidString.prefix(10))"
        let issuer = try FixtureServer("token_server.py", [keys.path + "/key.pem", keys.path + "/cert.pem", "slipway-test-issuer", "tokenuser", password])
        let registry = try await LoopbackRegistry(tokenAuth: (issuer.url("token"), keys.path + "/cert.pem"))
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let tag = "\(registry.host)/tokens/app:1"
        _ = try await c.call("image/create", ["name": "anon", "tag": .string(tag), "source": ["local": ["path": .string(Self.app)]]])
        let denied = try await c.call("build/wait", ["image": "anon", "build": 1])
        #expect(denied["status"] == "FAILURE")
        #expect(denied["message"]?.stringValue?.contains("token service") == true, "\(JSONWriter.string(denied))")
        _ = try await c.call("secret/create", ["name": "reg", "registry": ["server": .string(registry.host), "username": "tokenuser", "password": .string(password)]])
        _ = try await c.call("image/create", ["name": "bearer", "tag": .string(tag), "source": ["local": ["path": .string(Self.app)]]])
        let ok = try await c.call("build/wait", ["image": "bearer", "build": 1])
        #expect(ok["status"] == "SUCCESS", "\(JSONWriter.string(ok))")
        let r = try await sh("skopeo inspect --tls-verify=false --creds 'tokenuser:\(password)' docker://\(tag)")
        #expect(r.status == 0, "\(r.err)")
        #expect(!c.messages.map { JSONWriter.string($0) }.joined().contains(password))
    }

    /// A docker config secret's `auths` entry gives its base64 `user:password` to the push
    /// (other keys of config.json are ignored); a file that is not a docker config is refused.
    @Test func dockerConfigSecretsGiveTheirAuthsToPushes() async throws {
        let password = "config-\(UUID().uuidString.prefix(10))"
        let registry = try await LoopbackRegistry(user: "configured", password: password)
        let files = TempDir("config"), state = TempDir("state")
        let auth = Data("configured:\(password)".utf8).base64EncodedString()
        try #"{"auths":{"\#(registry.host)":{"auth":"\#(auth)"}},"HttpHeaders":{"User-Agent":"test"}}"#
            .write(toFile: files.path + "/config.json", atomically: true, encoding: .utf8)
        try #"{"auths":"not a map"}"#.write(toFile: files.path + "/bad.json", atomically: true, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder()
        let refused = try await c.request("secret/create", ["name": "bad", "dockerConfig": ["path": .string(files.path + "/bad.json")]])
        #expect(refused["error"]?["code"] == -32602 && refused["error"]?["data"]?["field"] == "dockerConfig.path", "\(JSONWriter.string(refused))")
        _ = try await c.call("secret/create", ["name": "config", "dockerConfig": ["path": .string(files.path + "/config.json")]])
        let tag = "\(registry.host)/configured/app:1"
        _ = try await c.call("image/create", ["name": "configured", "tag": .string(tag), "source": ["local": ["path": .string(Self.app)]]])
        let b = try await c.call("build/wait", ["image": "configured", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        #expect(try await sh("skopeo inspect --tls-verify=false --creds 'configured:\(password)' docker://\(tag)").status == 0)
    }

    @Test func largeLayersGoInChunksAndCredentialHelpersAreAsked() async throws {
        let password = "helper-\(UUID().uuidString.prefix(10))"
        let registry = try await LoopbackRegistry(user: "helped", password: password)
        let home = TempDir("home"), bin = TempDir("bin"), app = TempDir("bigapp")
        try FileManager.default.createDirectory(atPath: home.path + "/.docker", withIntermediateDirectories: true)
        try #"{"credHelpers":{"\#(registry.host)":"slipwaytest"}}"#.write(toFile: home.path + "/.docker/config.json", atomically: true, encoding: .utf8)
        try "#!/bin/sh\nread host\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"helped\",\"Secret\":\"\(password)\"}' \"$host\"\n"
            .write(toFile: bin.path + "/docker-credential-slipwaytest", atomically: true, encoding: .utf8)
        chmod(bin.path + "/docker-credential-slipwaytest", 0o755)
        #expect(try await sh("cp -r '\(Self.app)/.' '\(app.path)/' && head -c 41943040 /dev/urandom > '\(app.path)/big.bin'").status == 0)
        let state = TempDir("state")
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let c = try SlipwayClient(stateDir: state.path, environment: ["HOME": home.path, "PATH": path])
        try await c.setUpDefaultBuilder()
        let tag = "\(registry.host)/big/app:1"
        _ = try await c.call("image/create", ["name": "big", "tag": .string(tag), "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "big", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let patches = registry.log.components(separatedBy: "\n").filter { $0.contains("\"PATCH /v2/big/app/blobs/uploads/") }.count
        #expect(patches >= 3)  // a 40 MB app layer in 16 MB chunks
        let copy = TempDir("copy")
        #expect(try await sh("skopeo copy --src-tls-verify=false --src-creds 'helped:\(password)' docker://\(tag) oci:\(copy.path)/img:x").status == 0)
        #expect(try await UnpackedImage.runProcess(layout: copy.path + "/img", tag: "x").contains(HelloApp.expectedLine))
    }

    /// Credentials that cannot be resolved fail the build, naming the cause; nothing is
    /// reported as pushed.
    @Test func aFailingCredentialHelperFailsTheBuild() async throws {
        let registry = try await LoopbackRegistry(user: "helped", password: "never-given")
        let home = TempDir("home"), bin = TempDir("bin")
        try FileManager.default.createDirectory(atPath: home.path + "/.docker", withIntermediateDirectories: true)
        try #"{"credHelpers":{"\#(registry.host)":"broken"}}"#.write(toFile: home.path + "/.docker/config.json", atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho 'credentials not found in native keychain' >&2\nexit 1\n".write(toFile: bin.path + "/docker-credential-broken", atomically: true, encoding: .utf8)
        chmod(bin.path + "/docker-credential-broken", 0o755)
        let state = TempDir("state")
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let c = try SlipwayClient(stateDir: state.path, environment: ["HOME": home.path, "PATH": path])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "nocreds", "tag": .string("\(registry.host)/team/nocreds:1"), "source": ["local": ["path": .string(Self.app)]]])
        let b = try await c.call("build/wait", ["image": "nocreds", "build": 1])
        #expect(b["status"] == "FAILURE", "\(JSONWriter.string(b))")
        #expect(b["message"]?.stringValue?.contains("docker-credential-broken has no credentials for \(registry.host)") == true, "\(JSONWriter.string(b))")
        #expect(!c.notifications("event").contains { $0["reason"] == "Pushed" })
        #expect(try await c.call("image/status", ["name": "nocreds"])["ready"] == "NotReady")
    }

    @Test func buildpackagesFromLayoutsCNBFilesAndRegistries() async throws {
        let work = TempDir("pkg")
        let r = try await sh("""
            set -e
            cd '\(work.path)'
            cp -r '\(Repo.buildpacks.path)/procfile' procfile && sed -i 's/^version = "0.1.0"/version = "0.5.0"/' procfile/buildpack.toml
            mkdir -p root/cnb/buildpacks/slipway_procfile root/cnb/buildpacks/slipway_build-script
            cp -r procfile root/cnb/buildpacks/slipway_procfile/0.5.0
            cp -r '\(Repo.buildpacks.path)/build-script' root/cnb/buildpacks/slipway_build-script/0.1.0
            umoci init --layout layout && umoci new --image layout:pkg
            umoci insert --rootless --image layout:pkg root /
            (cd layout && tar -cf ../package.cnb .)
            """)
        #expect(r.status == 0, "\(r.err)")
        let registry = try await LoopbackRegistry()
        #expect(try await sh("skopeo copy --dest-tls-verify=false oci:'\(work.path)/layout:pkg' docker://\(registry.host)/buildpacks/pkg:1").status == 0)
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        for (name, ref) in [("from-layout", "oci:\(work.path)/layout:pkg"), ("from-cnb", work.path + "/package.cnb"), ("from-registry", "\(registry.host)/buildpacks/pkg:1")] {
            let store = try await c.call("clusterstore/create", ["name": .string(name), "buildpacks": .array([.string(ref)])])
            let ids = store["buildpacks"]?.arrayValue?.compactMap { b -> String? in
                guard let id = b["id"]?.stringValue, let v = b["version"]?.stringValue else { return nil }
                return "\(id)@\(v)"
            }
            #expect(ids == ["slipway/build-script@0.1.0", "slipway/procfile@0.5.0"], "\(name): \(JSONWriter.string(store))")
        }
        let notPackage = try await c.request("clusterstore/create", ["name": "bad", "buildpacks": .array([.string("oci:\(work.path)/layout:missing")])])
        #expect(notPackage["error"]?["code"] == 1001)
        #expect(notPackage["error"]?["data"]?["field"] == "buildpacks[0]")
        let relative = try await c.request("clusterstore/create", ["name": "bad", "buildpacks": ["relative/path"]])
        #expect(relative["error"]?["code"] == -32602)
    }
}
