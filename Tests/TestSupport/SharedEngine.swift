import Foundation
import Testing

/// What a test reads of the shared engine of a state directory (its lock, its log), and a
/// client with a builder whose builds take as long as the test says.
public enum SharedEngine {
    public static let slowBuildpack = Repo.fixtures.appendingPathComponent("buildpacks/slow").path

    /// The pid in engine.lock: the engine that holds (or last held) the state directory.
    public static func enginePID(_ state: String) -> pid_t? {
        pid_t(((try? String(contentsOfFile: state + "/engine.lock", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// True while some process holds the state directory's lock.
    public static func engineRuns(_ state: String) -> Bool {
        let fd = open(state + "/engine.lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return true }
        flock(fd, LOCK_UN)
        return false
    }

    public static func engineLog(_ state: String) -> String { (try? String(contentsOfFile: state + "/engine.log", encoding: .utf8)) ?? "" }

    /// Whether engine.log comes to contain `text` within 30 seconds.
    public static func waitForEngineLog(_ state: String, _ text: String) async throws -> Bool {
        // Under the whole suite on two cores a spawned `slipway engine stop` can take a minute to
        // be heard: the deadline only bounds a failure.
        try await poll(180) { engineLog(state).contains(text) ? true : nil } ?? false
    }

    /// A client with the slow test buildpack in its store and a `slow` ClusterBuilder.
    public static func clientWithSlowBuilder(_ state: String, arguments: [String] = [], framing: SlipwayClient.Framing = .ndjson,
                                             initialize: Bool = false) async throws -> SlipwayClient {
        let c = try SlipwayClient(stateDir: state, arguments: arguments, framing: framing)
        if initialize {
            let initialized = try await c.call("initialize", ["processId": .null, "capabilities": [:]])
            #expect(initialized["serverInfo"]?["name"] == "slipway")
        }
        try await c.setUpDefaultBuilder(extraBuildpacks: [slowBuildpack])
        _ = try await c.call("clusterbuilder/create", ["name": "slow", "stack": "base", "store": "default", "order": [["group": [["id": "test/slow"]]]]])
        return c
    }

    public static func createSlowImage(_ c: SlipwayClient, _ name: String, seconds: Int) async throws {
        _ = try await c.call("image/create", ["name": .string(name), "builder": ["kind": "ClusterBuilder", "name": "slow"],
                                              "env": ["SLEEP_SECONDS": .string(String(seconds))], "source": ["local": ["path": .string(HelloApp.path)]]])
        _ = try await c.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["image"] == .string(name) && $0["params"]?["status"] == "BUILDING" }
    }
}
