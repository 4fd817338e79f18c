import BuildRuntime
import Foundation
import SlipwayProtocol
import Testing
@testable import Engine

/// `DockerfileSettings` as the engine stores it: an image keeps its settings under the flat keys
/// it always had (`dockerfile` the path, `buildArgs`, `target`, `contextDir`), so that state
/// directories written before the type existed still load and are written back unchanged; a
/// build records them with their defaults filled in, nested as before.
@Suite struct DockerfileSettingsTests {
    /// An image document as the store holds it, with `extra` keys.
    static func storedImage(strategy: String, _ extra: [String: Any] = [:]) -> [String: Any] {
        let image: [String: Any] = [
            "additionalTags": [String](), "builder": ["kind": "ClusterBuilder", "name": "default"], "created": "2026-01-01T00:00:00Z",
            "env": [String: String](), "failedBuildHistoryLimit": 10, "incarnation": "u1", "name": "a", "namespace": "default",
            "source": ["local": ["path": "/src"]], "status": ["nextBuildNumber": 1, "ready": "Unknown"], "strategy": strategy,
            "successBuildHistoryLimit": 10, "tag": "oci:/out:latest",
        ]
        return image.merging(extra) { $1 }
    }

    /// `document` decoded as `T`, and encoded again as the store encodes it.
    static func roundTrip<T: Codable>(_ type: T.Type, _ document: [String: Any]) throws -> (T, [String: Any]) {
        let value = try JSONDecoder().decode(type, from: JSONSerialization.data(withJSONObject: document))
        let written = try #require(try JSONSerialization.jsonObject(with: StateStore.encoder.encode(value)) as? [String: Any])
        return (value, written)
    }

    /// Whether two documents hold the same keys and values (compared as sorted JSON).
    static func same(_ a: [String: Any], _ b: [String: Any]) throws -> Bool {
        let sorted = { (d: [String: Any]) in try JSONSerialization.data(withJSONObject: d, options: [.sortedKeys]) }
        return try sorted(a) == sorted(b)
    }

    @Test func anImageStoredWithFlatDockerfileKeysLoadsAsSettingsAndIsWrittenBackTheSame() throws {
        let stored = Self.storedImage(strategy: "dockerfile", ["dockerfile": "docker/Dockerfile", "buildArgs": ["V": "1"], "target": "run", "contextDir": "app"])
        let (image, written) = try Self.roundTrip(Image.self, stored)
        #expect(image.dockerfile == DockerfileSettings(path: "docker/Dockerfile", buildArgs: ["V": "1"], target: "run", contextDir: "app"))
        #expect(try Self.same(written, stored), "\(written)")
    }

    /// A Dockerfile image given no settings has settings with every field nil (the defaults),
    /// and stores none of the keys; a buildpacks image has none at all.
    @Test func imagesWithoutDockerfileKeysStayWithoutThem() throws {
        let dockerfile = Self.storedImage(strategy: "dockerfile")
        let (d, writtenD) = try Self.roundTrip(Image.self, dockerfile)
        #expect(d.dockerfile == DockerfileSettings())
        #expect(try Self.same(writtenD, dockerfile), "\(writtenD)")
        let buildpacks = Self.storedImage(strategy: "buildpacks")
        let (b, writtenB) = try Self.roundTrip(Image.self, buildpacks)
        #expect(b.dockerfile == nil)
        #expect(try Self.same(writtenB, buildpacks), "\(writtenB)")
    }

    @Test func settingAnImagesSettingsWritesTheFlatKeys() throws {
        var (image, _) = try Self.roundTrip(Image.self, Self.storedImage(strategy: "dockerfile"))
        image.dockerfile = DockerfileSettings(path: "D", buildArgs: [:], target: "t", contextDir: "c")
        let object = try #require(try JSONSerialization.jsonObject(with: StateStore.encoder.encode(image)) as? [String: Any])
        #expect(object["dockerfile"] as? String == "D" && object["target"] as? String == "t" && object["contextDir"] as? String == "c")
        #expect((object["buildArgs"] as? [String: String])?.isEmpty == true)
        #expect(object["path"] == nil && object["settings"] == nil)
        image.dockerfile = nil
        let cleared = try #require(try JSONSerialization.jsonObject(with: StateStore.encoder.encode(image)) as? [String: Any])
        #expect(["dockerfile", "buildArgs", "target", "contextDir"].allSatisfy { cleared[$0] == nil })
    }

    /// A build's inputs keep the nested `dockerfile` object they always had.
    @Test func aBuildsRecordedSettingsAreWrittenBackTheSame() throws {
        var stored = try #require(try JSONSerialization.jsonObject(with: StateStore.encoder.encode(BuildReasonCalculatorTests.base)) as? [String: Any])
        stored["dockerfile"] = ["bases": ["debian": "sha256:d"], "buildArgs": [String: String](), "path": "Dockerfile", "target": "run"]
        let (inputs, written) = try Self.roundTrip(BuildInputs.self, stored)
        #expect(inputs.dockerfile == DockerfileSettings(path: "Dockerfile", buildArgs: [:], target: "run", bases: ["debian": "sha256:d"]))
        #expect(try Self.same(written, stored), "\(written)")
    }

    /// What a build records: the path and args filled in, so that giving the default explicitly
    /// is no change; a patch replaces what it gives, and an empty target or contextDir clears it.
    @Test func defaultsAndPatches() {
        let given = DockerfileSettings(target: "run")
        #expect(given.withDefaults == DockerfileSettings(path: "Dockerfile", buildArgs: [:], target: "run"))
        #expect(given.withDefaults == DockerfileSettings(path: "Dockerfile", target: "run").withDefaults)
        let patched = DockerfileSettings(path: "A", buildArgs: ["V": "1"], target: "run", contextDir: "app")
            .patched(with: DockerfileSettings(buildArgs: ["W": "2"], target: "", contextDir: ""))
        #expect(patched == DockerfileSettings(path: "A", buildArgs: ["W": "2"]))
        #expect(DockerfileSettings(spec: ImageSpec(name: "a", dockerfile: "D", buildArgs: ["V": "1"], target: "t", contextDir: "c"))
                    == DockerfileSettings(path: "D", buildArgs: ["V": "1"], target: "t", contextDir: "c"))
    }
}
