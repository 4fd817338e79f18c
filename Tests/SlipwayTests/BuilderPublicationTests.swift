import Foundation
import JSONRPC
import Testing
import TestSupport

/// A builder with a `tag` is published as a CNB builder image (kp's `--tag`), to a real registry
/// or an OCI layout; builds name it `REF@sha256:…`; and the published image, made a builder in
/// another state directory, builds the same app to the same image digest.
@Suite struct BuilderPublicationTests {
    static func inspect(_ transport: String) async throws -> JSONValue {
        let r = try await sh("skopeo inspect --tls-verify=false \(transport)")
        guard r.status == 0 else { throw TestFailure("skopeo inspect \(transport): \(r.err)") }
        return try JSONParser.parse(Array(r.out.utf8))
    }

    /// A stack whose run image is in `registry` (so a published builder names it there), a
    /// store with build-script and procfile, and the default builder with `tag`.
    static func setUp(_ c: SlipwayClient, registry: LoopbackRegistry, stackLayout: String, tag: String) async throws -> JSONValue {
        let run = "\(registry.host)/stacks/run:base"
        try await HostStack.ociLayout(at: stackLayout, stackID: "io.slipway.test")
        let pushed = try await sh("skopeo copy --dest-tls-verify=false oci:\(stackLayout):run docker://\(run)")
        guard pushed.status == 0 else { throw TestFailure(pushed.err) }
        _ = try await c.call("clusterstack/create", ["name": "base", "buildImage": .string(HostStack.build), "runImage": .string(run), "id": "io.slipway.test"])
        _ = try await c.call("clusterstore/create", ["name": "default", "buildpacks": [.string(Repo.buildpacks.appendingPathComponent("build-script").path),
                                                                                       .string(Repo.buildpacks.appendingPathComponent("procfile").path)]])
        return try await c.call("clusterbuilder/create", ["name": "default", "stack": "base", "store": "default", "tag": .string(tag),
                                                          "order": [["group": [["id": "slipway/build-script", "optional": true], ["id": "slipway/procfile"]]]]])
    }

    @Test func aPublishedBuilderIsABuilderImageThatBuildsTheSameAppToTheSameDigest() async throws {
        let registry = try await LoopbackRegistry()
        let dir = TempDir("publish")
        let tag = "\(registry.host)/builders/pub:base"
        let a = try SlipwayClient(stateDir: dir.path + "/a")
        let builder = try await Self.setUp(a, registry: registry, stackLayout: dir.path + "/stack", tag: tag)
        #expect(builder["tag"] == .string(tag))
        let published = try #require(builder["status"]?["latestImage"]?.stringValue)
        #expect(published.hasPrefix(tag + "@sha256:"))

        // What pack and kpack read: the labels, one layer per buildpack and one for the tomls.
        let seen = try await Self.inspect("docker://\(tag)")
        #expect(seen["Digest"]?.stringValue.map { published.hasSuffix($0) } == true)
        #expect(seen["Labels"]?["io.buildpacks.stack.id"] == "io.slipway.test")
        let order = try JSONParser.parse(Array((seen["Labels"]?["io.buildpacks.buildpack.order"]?.stringValue ?? "").utf8))
        #expect(order == [["group": [["id": "slipway/build-script", "optional": true, "version": "0.1.0"], ["id": "slipway/procfile", "version": "0.1.0"]]]])
        let metadata = try JSONParser.parse(Array((seen["Labels"]?["io.buildpacks.builder.metadata"]?.stringValue ?? "").utf8))
        #expect(metadata["stack"]?["runImage"]?["image"] == .string("\(registry.host)/stacks/run:base"))
        let unpacked = dir.path + "/unpacked"
        let r = try await sh("""
            set -e
            skopeo copy --src-tls-verify=false docker://\(tag) oci:\(dir.path)/copy:b >/dev/null
            umoci unpack --rootless --image \(dir.path)/copy:b \(unpacked) >/dev/null
            cat \(unpacked)/rootfs/cnb/buildpacks/slipway_procfile/0.1.0/buildpack.toml \(unpacked)/rootfs/cnb/order.toml \(unpacked)/rootfs/cnb/run.toml
            """)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("id = \"slipway/procfile\"") && r.out.contains("[[order.group]]") && r.out.contains("stacks/run:base"))

        _ = try await a.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        let first = try await a.call("build/wait", ["image": "app", "build": 1])
        #expect(first["status"] == "SUCCESS")
        #expect(first["builder"] == .string(published))

        // Another state directory makes a builder of the published image and builds the same app.
        let b = try SlipwayClient(stateDir: dir.path + "/b")
        let imported = try await b.call("clusterbuilder/create", ["name": "default", "image": .string(tag)])
        #expect(imported["status"]?["ready"] == true)
        _ = try await b.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        let again = try await b.call("build/wait", ["image": "app", "build": 1])
        #expect(again["status"] == "SUCCESS")
        #expect(again["buildpacks"] == first["buildpacks"])
        #expect(again["imageDigest"] != nil && again["imageDigest"] == first["imageDigest"])
    }

    @Test func aBuilderIsPublishedToALayoutAgainWhenItsStoreChangesAndABadTagChangesNothing() async throws {
        let registry = try await LoopbackRegistry()
        let dir = TempDir("publish")
        let c = try SlipwayClient(stateDir: dir.path + "/state")
        let builder = try await Self.setUp(c, registry: registry, stackLayout: dir.path + "/stack", tag: "oci:\(dir.path)/builders:default")
        let published = try #require(builder["status"]?["latestImage"]?.stringValue)
        #expect(published.hasPrefix("oci:\(dir.path)/builders:default@sha256:"))
        let seen = try await Self.inspect("oci:\(dir.path)/builders:default")
        #expect(seen["Labels"]?["io.buildpacks.buildpack.layers"]?.stringValue?.contains("slipway/procfile") == true)

        // A new buildpack version in the store publishes the builder again, as kpack does, and
        // the image's BUILDER build names the new builder image.
        _ = try await c.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(try await c.call("build/wait", ["image": "app", "build": 1])["builder"] == .string(published))
        let v2 = TempDir("procfile-v2")
        #expect(try await sh("cp -r '\(Repo.buildpacks.path)/procfile/.' '\(v2.path)/' && sed -i 's/^version = \"0.1.0\"/version = \"0.2.0\"/' '\(v2.path)/buildpack.toml'").status == 0)
        _ = try await c.call("clusterstore/add", ["name": "default", "buildpacks": [.string(v2.path)]])
        let republished = try #require(try await c.call("clusterbuilder/get", ["name": "default"])["status"]?["latestImage"]?.stringValue)
        #expect(republished != published && republished.hasPrefix("oci:\(dir.path)/builders:default@sha256:"))
        let relabelled = try await Self.inspect("oci:\(dir.path)/builders:default")
        #expect(relabelled["Labels"]?["io.buildpacks.buildpack.layers"]?.stringValue?.contains("0.2.0") == true)
        let second = try await c.call("build/wait", ["image": "app", "build": 2])
        #expect(second["builder"] == .string(republished) && second["reasons"]?.arrayValue?.first?["reason"] == "BUILDER")

        let r = try await c.request("clusterbuilder/patch", ["name": "default", "tag": "/not/a/registry"])
        #expect(r["error"]?["code"] == -32602 && r["error"]?["message"]?.stringValue?.contains("not a folder") == true, "\(r)")
        #expect(try await c.call("clusterbuilder/get", ["name": "default"])["tag"] == .string("oci:\(dir.path)/builders:default"))
    }

    /// kp's `clusterbuilder create --tag` publishes, and `--image` makes a builder of a builder
    /// image; `status` and `list` show the image builds name.
    @Test func slipctlPublishesWithTagAndImportsWithImage() async throws {
        let registry = try await LoopbackRegistry()
        let dir = TempDir("publish")
        let state = dir.path + "/state"
        let c = try SlipwayClient(stateDir: state)
        _ = try await Self.setUp(c, registry: registry, stackLayout: dir.path + "/stack", tag: "oci:\(dir.path)/first:b")
        let order = dir.path + "/order.yaml"
        try "- group:\n  - id: slipway/procfile\n".write(toFile: order, atomically: true, encoding: .utf8)
        let tag = "\(registry.host)/builders/kp:base"
        let created = try await KpSeedTests.kp(["clusterbuilder", "create", "published", "--tag", tag, "--stack", "base", "--store", "default", "--order", order], state: state)
        #expect(created.status == 0, "\(created.err)")
        let imported = try await KpSeedTests.kp(["clusterbuilder", "create", "imported", "--image", tag], state: state)
        #expect(imported.status == 0, "\(imported.err)")
        let status = try await KpSeedTests.kp(["clusterbuilder", "status", "imported"], state: state)
        #expect(status.status == 0 && status.out.contains("Image:        \(tag)@sha256:") && status.out.contains("slipway/procfile"), "\(status.out)")
        let list = try await KpSeedTests.kp(["clusterbuilder", "list"], state: state)
        #expect(list.out.split(separator: "\n").contains { $0.hasPrefix("published") && $0.contains(tag + "@sha256:") }, "\(list.out)")
    }
}
