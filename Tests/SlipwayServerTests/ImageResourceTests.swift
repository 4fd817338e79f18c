import Engine
import Foundation
import JSONRPC
import SlipwayProtocol
import Testing
@testable import SlipwayServer

/// `ImageResource`, the wire's image, from the engine's `Image`: the image's Dockerfile settings
/// go out as the flat fields the wire has always had, exactly as the image was given them (a
/// field never given stays absent, though a build uses its default).
@Suite struct ImageResourceTests {
    static func image(strategy: String, _ settings: [String: Any] = [:]) throws -> Image {
        let stored: [String: Any] = [
            "additionalTags": [String](), "builder": ["kind": "ClusterBuilder", "name": "default"], "created": "2026-01-01T00:00:00Z",
            "env": [String: String](), "failedBuildHistoryLimit": 10, "name": "a", "namespace": "default",
            "source": ["local": ["path": "/src"]], "status": ["nextBuildNumber": 1, "ready": "Unknown"], "strategy": strategy,
            "successBuildHistoryLimit": 10, "tag": "oci:/out:latest",
        ]
        return try JSONDecoder().decode(Image.self, from: JSONSerialization.data(withJSONObject: stored.merging(settings) { $1 }))
    }

    @Test func theDockerfileSettingsGoOutFlatAsGiven() throws {
        let all = try JSONValueEncoder().encode(ImageResource(try Self.image(strategy: "dockerfile", [
            "dockerfile": "docker/Dockerfile", "buildArgs": ["V": "1"], "target": "run", "contextDir": "app"])))
        #expect(all["dockerfile"] == "docker/Dockerfile" && all["buildArgs"] == ["V": "1"] && all["target"] == "run" && all["contextDir"] == "app")
        #expect(all["path"] == nil && all["settings"] == nil)
        let some = try JSONValueEncoder().encode(ImageResource(try Self.image(strategy: "dockerfile", ["target": "run"])))
        #expect(some["target"] == "run" && some["dockerfile"] == nil && some["buildArgs"] == nil && some["contextDir"] == nil)
        let buildpacks = try JSONValueEncoder().encode(ImageResource(try Self.image(strategy: "buildpacks")))
        #expect(["dockerfile", "buildArgs", "target", "contextDir"].allSatisfy { buildpacks[$0] == nil })
    }
}
