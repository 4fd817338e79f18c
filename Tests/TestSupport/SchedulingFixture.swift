import BuildRuntime
import Engine
import Foundation
import SlipwayProtocol
import Synchronization

/// A build executor whose builds end when the test says so, recording what ran and how many
/// ran at once: scheduling is tested in process, with no sandbox and no buildpack.
public final class GatedExecutor: BuildExecutor {
    private struct State {
        var started: [String] = []
        var runningNow = 0
        var mostAtOnce = 0
        var gates: [String: CheckedContinuation<Void, Error>] = [:]
        /// Releases that came before their build reached its gate.
        var early: [String: Bool] = [:]
    }

    private let state = Mutex(State())

    /// "image#number", from the work folder the engine gives each build
    /// (…/<image>/<number>-<incarnation>).
    public static func name(_ request: BuildRequest) -> String {
        let parts = request.workDirectory.split(separator: "/")
        return "\(parts[parts.count - 2])#\(parts[parts.count - 1].prefix { $0 != "-" })"
    }

    public func execute(_ request: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        let name = Self.name(request)
        state.withLock {
            $0.started.append(name)
            $0.runningNow += 1
            $0.mostAtOnce = max($0.mostAtOnce, $0.runningNow)
        }
        defer { state.withLock { $0.runningNow -= 1 } }
        log(.build, .stdout, "running \(name)")
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                let early = state.withLock { s -> Bool? in
                    if let succeed = s.early.removeValue(forKey: name) { return succeed }
                    s.gates[name] = c
                    return nil
                }
                switch early {
                case true?: c.resume()
                case false?: c.resume(throwing: RuntimeError.buildFailed("told to fail"))
                case nil: break
                }
            }
        } onCancel: {
            state.withLock { $0.gates.removeValue(forKey: name) }?.resume(throwing: CancellationError())
        }
        return BuildResult(imageDigest: Digest.of(name), buildpacks: [], runImageDigest: Digest.of("run"), processes: [], layersAdded: 1, layersReused: 0)
    }

    /// Ends build `name` ("image#number"): successfully, or failing.
    public func release(_ name: String, succeed: Bool = true) {
        let gate = state.withLock { s -> CheckedContinuation<Void, Error>? in
            guard let g = s.gates.removeValue(forKey: name) else {
                s.early[name] = succeed
                return nil
            }
            return g
        }
        if succeed { gate?.resume() } else { gate?.resume(throwing: RuntimeError.buildFailed("told to fail")) }
    }

    public var started: [String] { state.withLock { $0.started } }
    public var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }
}

/// An engine on a fresh state directory with a tiny folder stack, a store with one buildpack,
/// the `default` ClusterBuilder and a source folder; builds run on a `GatedExecutor`.
public final class SchedulingFixture: Sendable {
    public let root: URL
    public let executor = GatedExecutor()
    public let engine: Engine
    public let source: String

    public init(limit: Int = 2, stateDirectory: URL? = nil) async throws {
        root = stateDirectory?.deletingLastPathComponent() ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sched-\(UUID().uuidString.prefix(8))")
        let fm = FileManager.default
        source = root.appendingPathComponent("app").path
        let stack = root.appendingPathComponent("stack").path
        try fm.createDirectory(atPath: source, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: stack + "/etc", withIntermediateDirectories: true)
        try "hello\n".write(toFile: source + "/hello.txt", atomically: true, encoding: .utf8)
        try "stack\n".write(toFile: stack + "/etc/stack", atomically: true, encoding: .utf8)
        let executor = self.executor
        engine = try Engine(stateDirectory: stateDirectory ?? root.appendingPathComponent("state"),
                            options: EngineOptions(launcherPath: "/bin/true", maxConcurrentBuilds: limit, gitPollInterval: nil),
                            executors: { _, _, _ in BuildExecutors(all: executor) })
        if stateDirectory == nil {
            _ = try await engine.createClusterStack(StackSpec(name: "base", buildImage: stack, runImage: stack, id: "io.test"))
            let procfile = Repo.buildpacks.appendingPathComponent("procfile").path
            _ = try await engine.createClusterStore(name: "default", buildpacks: [procfile])
            _ = try await engine.createBuilder(BuilderSpec(name: "default", stack: "base", store: "default",
                                                           order: [OrderGroup(group: [OrderEntry(id: "slipway/procfile")])]))
        }
        try await engine.resume()
    }

    deinit {
        // Only temporary files are at stake.
        try? FileManager.default.removeItem(at: root)
    }

    public func createImage(_ name: String, env: [String: String] = [:], keepSucceeded: Int? = nil) async throws -> Int? {
        try await engine.createImage(ImageSpec(name: name, source: SourceSpec(local: .init(path: source)), env: env, successBuildHistoryLimit: keepSucceeded)).build
    }

    public func status(_ image: String, _ number: Int) async throws -> Build {
        try await engine.build(namespace: "default", image: image, number: number)
    }

    /// Waits (with a deadline) until the executor has started `names`.
    public func waitUntilStarted(_ names: String...) async throws {
        // Generous: the whole suite shares two cores, and a start comes as soon as it can.
        let deadline = Date().addingTimeInterval(120)
        while !Set(names).isSubset(of: Set(executor.started)) {
            if Date() > deadline { throw TestFailure("\(names) did not start; started: \(executor.started)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits for build `number` of `image` to end.
    public func ended(_ image: String, _ number: Int) async throws -> Build {
        try await engine.wait(namespace: "default", image: image, number: number, timeout: 120)
    }
}
