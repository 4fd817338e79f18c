import Foundation
import JSONRPC
import Testing
import TestSupport

/// An image of the Dockerfile strategy, as `image/create`, `image/get` and `image/patch` answer
/// it, matches the `Image` schema of spec/openrpc.json: its Dockerfile settings (`dockerfile`,
/// `buildArgs`, `target`, `contextDir`) are declared there, as the buildpacks fields are.
@Suite struct DockerfileImageSchemaTests {
    @Test func aDockerfileImageMatchesTheImageSchema() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let app = Repo.examples.appendingPathComponent("dockerfile-app").path
        var results: [JSONValue] = []
        // The build may fail (its FROM images are not there): only the image's shape is checked.
        let spec: JSONValue = ["name": "df", "strategy": "dockerfile", "dockerfile": "Dockerfile", "buildArgs": ["BUILD_IMAGE": "oci:/nonexistent:build"],
                               "target": "run", "contextDir": ".", "source": ["local": ["path": .string(app)]]]
        results.append(["method": "image/create", "result": try await c.call("image/create", spec)])
        results.append(["method": "image/get", "result": try await c.call("image/get", ["name": "df"])])
        results.append(["method": "image/patch", "result": try await c.call("image/patch", ["name": "df", "buildArgs": ["A": "1"]])])
        #expect(results[1]["result"]?["dockerfile"] == "Dockerfile")

        let out = TempDir("schema")
        try Data(JSONWriter.write(.array(results))).write(to: URL(fileURLWithPath: out.path + "/results.json"))
        let check = try await sh("python3 '\(Repo.fixtures.path)/check_results.py' '\(Repo.root.path)/spec/openrpc.json' '\(out.path)/results.json'")
        // The checker also lists the methods no result covered: only these three are checked here.
        let violations = check.out.split(separator: "\n").filter { !$0.hasSuffix("no reply of this method was checked") }
        #expect(violations.isEmpty, "replies that do not match spec/openrpc.json:\n\(violations.joined(separator: "\n"))\(check.err)")
    }
}
