import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// An engine killed with SIGKILL leaves nothing running: its steps die with it (slipway-userns
/// asks for its parent's death signal), and what outlives it anyway is killed by the next
/// engine of the state directory when it starts.
@Suite struct EngineKillCleanupTests {
    /// The processes whose command line contains `marker`.
    static func processes(containing marker: String) -> [pid_t] {
        // /proc can always be listed; a process that ends meanwhile has no command line.
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let raw = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let text = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            // Not a zombie: one waits for a reaper, and runs nothing.
            let stat = (try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8)) ?? ""
            return text.contains(marker) && !stat.contains(") Z ") ? pid : nil
        }
    }

    /// A Dockerfile step that runs for ten minutes: the engine is killed with SIGKILL while it
    /// runs. Every process of the step is gone soon after, with no engine running at all; the
    /// next engine reports the build interrupted.
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
    func aStepDiesWithItsKilledEngine() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state"), context = TempDir("context")
        let marker = "slipway-step-" + UUID().uuidString.lowercased()
        // `sleep` is not the shell's last command, so the shell (its command line holding the
        // marker) stays beside it for as long as the step runs.
        try "FROM oci:\(base.path)/oci:build\nRUN sleep 600; echo \(marker)\n".write(toFile: context.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments)
        _ = try await c.call("image/create", ["name": "long", "strategy": "dockerfile", "source": ["local": ["path": .string(context.path)]]])
        try await waitUntil(timeout: 120, "the step runs") { !Self.processes(containing: marker).isEmpty }
        let engine = try #require(SharedEngine.enginePID(state.path))
        kill(engine, SIGKILL)
        #expect(try await c.waitForExit(timeout: 20) == 1)
        try await waitUntil(timeout: 20, "the step's processes are gone") { Self.processes(containing: marker).isEmpty }
        #expect(!SharedEngine.engineRuns(state.path))

        let next = try SlipwayClient(stateDir: state.path)
        let build = try await next.call("build/status", ["image": "long", "build": 1])
        build.expectStatus("FAILURE")
        #expect(build["message"]?.stringValue?.contains("interrupted") == true, "\(build)")
        _ = try await next.waitFor { $0["method"] == "window/logMessage" && $0["params"]?["message"]?.stringValue?.contains("build 1 of image default/long was interrupted") == true }
    }

    /// Starts a process group of its own (`sleep 600`, its command line holding `marker`) and
    /// returns its leader.
    static func startGroup(_ marker: String, in dir: TempDir) async throws -> LeftoverProcesses.Identity {
        let pidFile = dir.path + "/" + marker
        let r = try await sh("setsid -f bash -c 'echo $$ > \(pidFile); exec -a \(marker) sleep 600' </dev/null >/dev/null 2>&1")
        try #require(r.status == 0, "\(r)")
        var pid: pid_t?
        try await waitUntil("the group starts") {
            pid = pid_t((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            return pid != nil && !Self.processes(containing: marker).isEmpty
        }
        let leader = try #require(pid)
        return try #require(LeftoverProcesses.Identity.of(leader))
    }

    /// What escaped the death signal (here: a process group a dead engine's record names) is
    /// killed when the next engine of the state directory starts, before anyone asks it
    /// anything. An engine is told gone by its pid and start time together: a record whose
    /// engine pid now belongs to another process (this test's) is a dead engine's, and one whose
    /// engine still runs is left alone.
    /// A helper whose engine died before it could ask to die with it is adopted: the engine's
    /// pid it was given (`SLIPWAY_PARENT_PID`) is not its parent, so it runs nothing and exits
    /// 125; given its real parent it runs the command, and the variable is not passed on.
    @Test func anAdoptedHelperRunsNothing() async throws {
        let dir = TempDir("adopted")
        let helper = Repo.userNamespaceHelper
        let marker = dir.path + "/ran"
        let adopted = try await sh("SLIPWAY_PARENT_PID=1 '\(helper)' --limits-only -- /bin/sh -c 'touch \(marker)'")
        #expect(adopted.status == 125, "\(adopted)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        // The shell is the helper's parent (a command follows it, so the shell does not exec it).
        let own = try await sh("SLIPWAY_PARENT_PID=$$ '\(helper)' --limits-only -- /bin/sh -c 'touch \(marker); echo \"[$SLIPWAY_PARENT_PID]\"'; echo \"exit $?\"")
        #expect(own.out.split(separator: "\n") == ["[]", "exit 0"], "\(own)")
        #expect(FileManager.default.fileExists(atPath: marker))
    }

    @Test func theNextEngineKillsWhatAKilledEngineLeft() async throws {
        let state = TempDir("state"), scratch = TempDir("groups")
        let records = state.path + "/run/processes"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(state.path + "/run", 0o700)
        let left = "slipway-left-" + UUID().uuidString.lowercased(), kept = "slipway-kept-" + UUID().uuidString.lowercased()
        let leftGroup = try await Self.startGroup(left, in: scratch)
        let keptGroup = try await Self.startGroup(kept, in: scratch)
        defer { kill(-keptGroup.pid, SIGKILL) }
        let me = try #require(LeftoverProcesses.Identity.of(getpid()))
        // A dead engine: this pid, recycled (another start time).
        let dead = LeftoverProcesses.Record(engine: .init(pid: me.pid, startTime: me.startTime + 1), group: leftGroup)
        let alive = LeftoverProcesses.Record(engine: me, group: keptGroup)
        try dead.text.write(toFile: records + "/\(leftGroup.pid)", atomically: false, encoding: .utf8)
        try alive.text.write(toFile: records + "/\(keptGroup.pid)", atomically: false, encoding: .utf8)

        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("image/list")
        try await waitUntil(timeout: 20, "the left group is killed") { Self.processes(containing: left).isEmpty }
        #expect(SharedEngine.engineLog(state.path).contains("killed process group \(leftGroup.pid)"))
        #expect(!FileManager.default.fileExists(atPath: records + "/\(leftGroup.pid)"))
        // The group of an engine that runs is there still.
        #expect(!Self.processes(containing: kept).isEmpty)
        #expect(FileManager.default.fileExists(atPath: records + "/\(keptGroup.pid)"))
    }
}
