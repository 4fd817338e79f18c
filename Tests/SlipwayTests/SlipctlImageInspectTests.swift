import Foundation
import Testing
import TestSupport

/// `slipctl image inspect`: the image a build made, as `pack inspect` shows it (stack, base
/// image, buildpacks, processes), with its config, labels and layers, read from its layout.
@Suite struct SlipctlImageInspectTests {
    @Test func inspectsTheLatestImage() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]], "env": ["GREETING": "secret-value"]])
        #expect(try await engine.call("build/wait", ["image": "app", "build": 1])["status"] == "SUCCESS")
        let r = try await KpSeedTests.kp(["image", "inspect", "app"], state: state.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.out.hasPrefix("Inspecting image: 'oci:") && r.out.contains("\nStack: io.slipway.test\n"), "\(r.out)")
        #expect(r.out.contains("Buildpacks:\n  ID ") && r.out.contains("slipway/procfile"), "\(r.out)")
        #expect(r.out.contains("Processes:\n  TYPE ") && r.out.contains("\n  web "), "\(r.out)")
        #expect(r.out.contains("  io.buildpacks.stack.id ") && r.out.contains("Layers:\n  DIGEST ") && r.out.contains("sha256:"), "\(r.out)")
        #expect(!r.out.contains("secret-value"), "env values are not shown: \(r.out)")
        let json = try await KpSeedTests.kp(["image", "inspect", "app", "-b", "1", "--output", "json"], state: state.path)
        #expect(json.status == 0 && json.out.contains("\"layers\":[{\"digest\":\"sha256:"), "\(json)")
    }
}
