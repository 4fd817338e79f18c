import Foundation
import JSONRPC
import Testing
import TestSupport

/// Builders made from a CNB builder image a user already has (pack's `--builder`): from an OCI
/// layout and from a real registry. The image's buildpacks and order are used as they are, its
/// run image is the run image of the builds, and Slipway's own lifecycle runs them.
@Suite struct BuilderImageTests {
    /// The layers of an image, by digest, as skopeo reads them.
    static func layers(_ transport: String) async throws -> [String] {
        let r = try await sh("skopeo inspect --tls-verify=false \(transport)")
        guard r.status == 0 else { throw TestFailure("skopeo inspect \(transport): \(r.err)") }
        return try JSONParser.parse(Array(r.out.utf8))["Layers"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    @Test func aBuilderImageInALayoutBuildsWithItsBuildpacksOrderAndRunImage() async throws {
        let dir = TempDir("builder-image")
        let layout = dir.path + "/images"
        try await BuilderImageFixture.make(layout: layout, runImage: "oci:\(layout):run")
        let c = try SlipwayClient(stateDir: dir.path + "/state")
        let b = try await c.call("clusterbuilder/create", ["name": "from-image", "image": .string("oci:\(layout):builder")])
        #expect(b["status"]?["ready"] == true)
        #expect(b["image"] == .string("oci:\(layout):builder") && b["stack"] == nil && b["store"] == nil)
        #expect(b["status"]?["stackID"] == "io.slipway.test")
        #expect(b["status"]?["buildpacks"]?.arrayValue?.map { $0["id"] } == ["slipway/build-script", "slipway/procfile"])
        #expect(b["order"] == [["group": [["id": "slipway/build-script", "version": "0.1.0"], ["id": "slipway/procfile", "version": "0.1.0"]]]])

        _ = try await c.call("image/create", ["name": "app", "builder": ["kind": "ClusterBuilder", "name": "from-image"],
                                              "source": ["local": ["path": .string(HelloApp.path)]]])
        let build = try await c.call("build/wait", ["image": "app", "build": 1])
        let log = try await c.logLines("app")
        #expect(build["status"] == "SUCCESS", "\(log)")
        #expect(build["buildpacks"]?.arrayValue?.map { $0["id"] } == ["slipway/build-script", "slipway/procfile"])
        // The app image sits on the builder's run image: its first layers are the run image's.
        let run = try await Self.layers("oci:\(layout):run")
        let app = try await Self.layers("oci:\(dir.path)/state/layouts/default/app:latest")
        #expect(!run.isEmpty && Array(app.prefix(run.count)) == run)
    }

    @Test func aBuilderImageFromARegistryBuildsAndItsRunImageComesFromThere() async throws {
        let registry = try await LoopbackRegistry()
        let dir = TempDir("builder-image")
        let layout = dir.path + "/images"
        let runRef = "\(registry.host)/stacks/run:base"
        try await BuilderImageFixture.make(layout: layout, runImage: runRef)
        for (tag, ref) in [("run", runRef), ("builder", "\(registry.host)/builders/test:base")] {
            let r = try await sh("skopeo copy --dest-tls-verify=false oci:\(layout):\(tag) docker://\(ref)")
            #expect(r.status == 0, "\(r.err)")
        }
        let c = try SlipwayClient(stateDir: dir.path + "/state")
        let b = try await c.call("builder/create", ["name": "team", "namespace": "dev", "image": .string("\(registry.host)/builders/test:base")])
        #expect(b["status"]?["ready"] == true, "\(b)")
        #expect(b["status"]?["runImage"]?.stringValue?.hasPrefix("\(registry.host)/stacks/run@sha256:") == true)
        _ = try await c.call("image/create", ["name": "app", "namespace": "dev", "builder": ["kind": "Builder", "name": "team"],
                                              "source": ["local": ["path": .string(HelloApp.path)]]])
        let build = try await c.call("build/wait", ["image": "app", "namespace": "dev", "build": 1])
        #expect(build["status"] == "SUCCESS", "\(build)")
        #expect(build["buildpacks"]?.arrayValue?.count == 2)
    }

    /// A namespaced Builder pulls its image with its own namespace's registry secrets, never
    /// with those of `default` (another tenant's); a ClusterBuilder pulls with `default`'s.
    @Test func aBuilderPullsWithItsOwnNamespacesSecrets() async throws {
        let password = "pull-\(UUID().uuidString)"
        let registry = try await LoopbackRegistry(user: "puller", password: password)
        let dir = TempDir("builder-image-secrets")
        let layout = dir.path + "/images"
        let runRef = "\(registry.host)/private/run:base"
        let builderRef = "\(registry.host)/private/builder:base"
        try await BuilderImageFixture.make(layout: layout, runImage: runRef)
        for (tag, ref) in [("run", runRef), ("builder", builderRef)] {
            let r = try await sh("skopeo copy --dest-tls-verify=false --dest-creds 'puller:\(password)' oci:\(layout):\(tag) docker://\(ref)")
            #expect(r.status == 0, "\(r.err)")
        }
        let c = try SlipwayClient(stateDir: dir.path + "/state")
        _ = try await c.call("secret/create", ["name": "reg", "registry": ["server": .string(registry.host), "username": "puller", "password": .string(password)]])
        // Namespace `other` has no secret for the registry: `default`'s is not lent to it.
        let refused = try await c.request("builder/create", ["name": "team", "namespace": "other", "image": .string(builderRef)])
        #expect(refused["error"] != nil, "\(refused)")
        #expect(refused["error"]?["message"]?.stringValue?.contains("401") == true, "\(refused)")
        let none = try await c.request("builder/get", ["name": "team", "namespace": "other"])
        #expect(none["error"] != nil, "a refused builder/create made a builder: \(none)")
        // With a secret of its own, the same Builder is made and builds.
        _ = try await c.call("secret/create", ["name": "reg", "namespace": "dev",
                                               "registry": ["server": .string(registry.host), "username": "puller", "password": .string(password)]])
        let team = try await c.call("builder/create", ["name": "team", "namespace": "dev", "image": .string(builderRef)])
        #expect(team["status"]?["ready"] == true, "\(team)")
        // A ClusterBuilder takes `default`'s secret.
        let cluster = try await c.call("clusterbuilder/create", ["name": "shared", "image": .string(builderRef)])
        #expect(cluster["status"]?["ready"] == true, "\(cluster)")
        #expect(!c.messages.map { JSONWriter.string($0) }.joined(separator: "\n").contains(password))
    }

    /// The builder's tag is polled as a FROM tag is: when it names a new image (here procfile
    /// 0.2.0), the builder takes its buildpacks and the images on it rebuild with reason BUILDER,
    /// the builder image's old and new digests and the buildpack's versions in the reasons.
    @Test func aNewImageBehindTheBuildersTagIsABuilderRebuild() async throws {
        let registry = try await LoopbackRegistry()
        let dir = TempDir("builder-image")
        let runRef = "\(registry.host)/stacks/run:base", tag = "\(registry.host)/builders/test:base"
        try await BuilderImageFixture.make(layout: dir.path + "/v1", runImage: runRef)
        #expect(try await sh("skopeo copy --dest-tls-verify=false oci:\(dir.path)/v1:run docker://\(runRef)").status == 0)
        #expect(try await sh("skopeo copy --dest-tls-verify=false oci:\(dir.path)/v1:builder docker://\(tag)").status == 0)
        let c = try SlipwayClient(stateDir: dir.path + "/state", arguments: ["--git-poll-interval", "0.5"])
        let b = try await c.call("clusterbuilder/create", ["name": "from-image", "image": .string(tag)])
        let first = try #require(b["status"]?["buildImage"]?.stringValue)
        let named = try #require(b["status"]?["latestImage"]?.stringValue)
        #expect(named.hasPrefix(tag + "@sha256:") && named.hasSuffix(first.components(separatedBy: "@").last!))
        _ = try await c.call("image/create", ["name": "app", "builder": ["kind": "ClusterBuilder", "name": "from-image"],
                                              "source": ["local": ["path": .string(HelloApp.path)]]])
        let built = try await c.call("build/wait", ["image": "app", "build": 1])
        #expect(built["status"] == "SUCCESS")
        #expect(built["builder"] == .string(named))  // kp's `Builder: REF@sha256:…`

        let v2 = TempDir("procfile-v2")
        #expect(try await sh("cp -r '\(Repo.buildpacks.path)/procfile/.' '\(v2.path)/' && sed -i 's/^version = \"0.1.0\"/version = \"0.2.0\"/' '\(v2.path)/buildpack.toml'").status == 0)
        var buildpacks = BuilderImageFixture.sampleBuildpacks
        buildpacks[1] = .init(id: "slipway/procfile", version: "0.2.0", folder: v2.path)
        try await BuilderImageFixture.make(layout: dir.path + "/v2", runImage: runRef, buildpacks: buildpacks)
        #expect(try await sh("skopeo copy --dest-tls-verify=false oci:\(dir.path)/v2:builder docker://\(tag)").status == 0)

        try await c.waitForQueued("app", 2)
        let second = try await c.call("build/wait", ["image": "app", "build": 2])
        #expect(second["status"] == "SUCCESS")
        let reasons = second["reasons"]?.arrayValue ?? []
        let moved = reasons.first { $0["field"] == "builderImage" }
        #expect(moved?["reason"] == "BUILDER" && moved?["old"] == .string(first) && moved?["new"] != .string(first))
        #expect(reasons.contains(["reason": "BUILDER", "field": "buildpacks", "old": "slipway/procfile 0.1.0", "new": "slipway/procfile 0.2.0"]))
        #expect(second["buildpacks"]?.arrayValue?.contains { $0["id"] == "slipway/procfile" && $0["version"] == "0.2.0" } == true)
        let now = try await c.call("clusterbuilder/get", ["name": "from-image"])
        #expect(now["status"]?["buildImage"] == moved?["new"])
    }

    /// What is not a builder image, or is one that reaches for this machine, is refused with a
    /// message that says what is wrong, and nothing is created.
    @Test func whatIsNotABuilderImageIsRefused() async throws {
        let registry = try await LoopbackRegistry()
        let dir = TempDir("builder-image")
        let layout = dir.path + "/images"
        try await BuilderImageFixture.make(layout: layout, runImage: "oci:\(layout):run")
        // A registry builder image naming a run image on this machine.
        let pushed = "\(registry.host)/builders/reaching:base"
        #expect(try await sh("skopeo copy --dest-tls-verify=false oci:\(layout):builder docker://\(pushed)").status == 0)
        let c = try SlipwayClient(stateDir: dir.path + "/state")
        let cases: [(JSONValue, String)] = [
            (["name": "plain", "image": .string("oci:\(layout):run")], "is not a CNB builder image"),
            (["name": "both", "image": .string("oci:\(layout):builder"), "stack": "base", "store": "default", "order": [["group": [["id": "x"]]]]],
             "not both"),
            (["name": "reaching", "image": .string(pushed)], "an image from a registry may only name registry images"),
            (["name": "neither"], "Missing required param 'stack'"),
        ]
        for (params, message) in cases {
            let r = try await c.request("clusterbuilder/create", params)
            #expect(r["error"]?["code"] == -32602, "\(r)")
            #expect(r["error"]?["message"]?.stringValue?.contains(message) == true, "\(r)")
        }
        #expect(try await c.call("clusterbuilder/list")["builders"]?.arrayValue?.isEmpty == true)
    }

    /// A builder image is hostile: a buildpack folder in its layers that is a symlink to a
    /// buildpack on this machine is not followed, and labels that point at layers the image does
    /// not have find nothing; either way the builder is refused and nothing is created.
    @Test func aBuilderImageCannotReachThisMachineThroughItsLayers() async throws {
        let dir = TempDir("builder-image")
        let layout = dir.path + "/images"
        try await BuilderImageFixture.make(layout: layout, runImage: "oci:\(layout):run", buildpacks: [])
        // A layer whose /cnb/buildpacks/slipway_procfile/0.1.0 is a symlink to the host's procfile buildpack.
        let r = try await sh("""
            set -e
            copy="$(mktemp -d)"; mkdir -p "$copy/cnb/buildpacks/slipway_procfile"
            ln -s '\(Repo.buildpacks.path)/procfile' "$copy/cnb/buildpacks/slipway_procfile/0.1.0"
            umoci insert --rootless --image '\(layout):builder' "$copy/cnb" /cnb; rm -rf "$copy"
            """)
        #expect(r.status == 0, "\(r.err)")
        let config = try JSONParser.parse(Array(try await sh("skopeo inspect --config oci:\(layout):builder").out.utf8))
        let last = try #require(config["rootfs"]?["diff_ids"]?.arrayValue?.last?.stringValue)
        let labels = #"{"slipway/procfile":{"0.1.0":{"api":"0.10","layerDiffID":"\#(last)"}}}"#
        let order = #"[{"group":[{"id":"slipway/procfile","version":"0.1.0"}]}]"#
        #expect(try await sh("umoci config --image '\(layout):builder' --config.label 'io.buildpacks.buildpack.layers=\(labels)' --config.label 'io.buildpacks.buildpack.order=\(order)'").status == 0)
        let c = try SlipwayClient(stateDir: dir.path + "/state")
        let refused = try await c.request("clusterbuilder/create", ["name": "symlinked", "image": .string("oci:\(layout):builder")])
        #expect(refused["error"]?["code"] == -32602, "\(refused)")
        #expect(refused["error"]?["message"]?.stringValue?.contains("without buildpacks under /cnb/buildpacks") == true, "\(refused)")
        // Labels naming a layer the image does not have.
        let lying = #"{"slipway/procfile":{"0.1.0":{"api":"0.10","layerDiffID":"sha256:\#(String(repeating: "0", count: 64))"}}}"#
        #expect(try await sh("umoci config --image '\(layout):builder' --config.label 'io.buildpacks.buildpack.layers=\(lying)'").status == 0)
        let none = try await c.request("clusterbuilder/create", ["name": "lying", "image": .string("oci:\(layout):builder")])
        #expect(none["error"]?["code"] == -32602, "\(none)")
        #expect(try await c.call("clusterbuilder/list")["builders"]?.arrayValue?.isEmpty == true)
    }
}
