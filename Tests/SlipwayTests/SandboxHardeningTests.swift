import Foundation
import JSONRPC
import Testing
import TestSupport

/// Inside a step: no nested user namespaces (`--disable-userns`), and a seccomp filter that
/// refuses what Docker's default profile refuses. A timed-out step leaves no process behind.
@Suite struct SandboxHardeningTests {
    /// A buildpack whose build runs Fixtures/syscall-probe (compiled static here) in the sandbox.
    static func probeBuildpack(in dir: String) async throws -> String {
        let bp = dir + "/syscall-probe"
        try FileManager.default.createDirectory(atPath: bp + "/bin", withIntermediateDirectories: true)
        try """
            api = "0.10"
            [buildpack]
            id = "test/syscall-probe"
            version = "1.0.0"
            """.write(toFile: bp + "/buildpack.toml", atomically: false, encoding: .utf8)
        try "#!/usr/bin/env bash\nexit 0\n".write(toFile: bp + "/bin/detect", atomically: false, encoding: .utf8)
        try "#!/usr/bin/env bash\n\"$CNB_BUILDPACK_DIR/bin/probe\"\n".write(toFile: bp + "/bin/build", atomically: false, encoding: .utf8)
        let cc = try await sh("gcc -static -O1 -o '\(bp)/bin/probe' '\(Repo.fixtures.path)/syscall-probe/probe.c'")
        guard cc.status == 0 else { throw TestFailure("cannot compile the probe: \(cc.err)") }
        chmod(bp + "/bin/detect", 0o755)
        chmod(bp + "/bin/build", 0o755)
        return bp
    }

    @Test func stepsCannotMakeNamespacesMountOrUseDeniedSystemCalls() async throws {
        let work = TempDir("probe")
        let bp = try await Self.probeBuildpack(in: work.path)
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [bp], order: [["group": [["id": "test/syscall-probe"]]]])
        _ = try await c.call("image/create", ["name": "probe", "source": ["local": ["path": .string(HelloApp.path)]]])
        _ = try await c.call("build/wait", ["image": "probe", "build": 1])
        let lines = try await c.call("build/logs", ["image": "probe"])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        var results: [String: String] = [:]
        for l in lines where l.contains("=") && !l.contains(" ") {
            let kv = l.split(separator: "=", maxSplits: 1).map(String.init)
            results[kv[0]] = kv[1]
        }
        let expected: [String: String] = [
            "unshare-user": "EPERM", "unshare-mount": "EPERM", "clone-newuser": "EPERM", "clone-newnet": "EPERM",
            "clone-plain": "ok",  // an ordinary fork still works
            "clone3": "ENOSYS", "mount": "EPERM", "umount2": "EPERM", "pivot_root": "EPERM", "setns": "EPERM",
            "keyctl": "EPERM", "add_key": "EPERM", "ptrace": "EPERM",
            "personality-query": "ok", "personality-change": "EPERM",
            "bpf": "EPERM", "perf_event_open": "EPERM", "userfaultfd": "EPERM", "kexec_load": "EPERM", "init_module": "EPERM",
            "open_by_handle_at": "EPERM",
        ]
        #expect(results == expected, "\(lines)")
    }

    /// After a timeout the step's processes are gone: no zombie bwrap, nothing still running —
    /// even where Slipway is PID 1 (as in a container), so that every orphan comes to it.
    @Test func aTimedOutStepLeavesNoProcessBehind() async throws {
        let state = TempDir("state")
        let asRoot = getuid() == 0
        // --embedded: the engine itself is PID 1 of the namespace and must reap what it adopts.
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--embedded"],
                                  wrapper: ["unshare", "--pid", "--fork", "--mount-proc"] + (asRoot ? [] : ["--map-root-user"]))
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/slow").path],
                                        order: [["group": [["id": "test/slow"]]]])
        let marker = String(4000 + Int.random(in: 0..<999))  // sleep's argument, to find its process
        _ = try await c.call("image/create", ["name": "slow", "buildTimeout": 2, "env": ["SLEEP_SECONDS": .string(marker)],
                                              "source": ["local": ["path": .string(HelloApp.path)]]])
        let b = try await c.call("build/wait", ["image": "slow", "build": 1])
        #expect(b["status"] == "FAILURE")
        #expect(b["message"]?.stringValue?.contains("timed out") == true)
        // The wrapper forked slipway as PID 1 of a new PID namespace; find its host pid.
        let pid = try await sh("pgrep -P \(c.process.processIdentifier)").out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!pid.isEmpty)
        func leftovers() throws -> String {
            // Children of slipway (a zombie bwrap among them) and the sleeping step anywhere.
            let children = try sh("ps -o pid=,stat=,comm= --ppid \(pid) || true").out
            let sleeping = try sh("pgrep -a -f '^sleep \(marker)$' || true").out
            return (children + sleeping).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let deadline = Date().addingTimeInterval(20)
        var left = try leftovers()
        while !left.isEmpty && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            left = try leftovers()
        }
        #expect(left.isEmpty, "left behind after the timeout: \(left)")
    }
}
