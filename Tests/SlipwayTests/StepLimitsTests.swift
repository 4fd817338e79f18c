import Foundation
import JSONRPC
import Testing
@testable import BuildRuntime
import TestSupport

/// A step may not start more processes than `--step-pids-limit`, nor use more memory than
/// `--step-memory` (in its processes or in a tmpfs), whatever it tries: Dockerfile RUN steps
/// and buildpack steps alike, held by a cgroup of the build's own where the engine can make one
/// (checked from the host while the step runs, and gone after), else by rlimits; the build's
/// log says which, and the engine goes on serving. One test at a time: as a user that is not
/// root, RLIMIT_NPROC counts all of that user's processes, so each test's steps would take
/// from the others'.
@Suite(.serialized) struct StepLimitsTests {
    /// Starts up to 200 `sleep`s from a shell that does not retry a refused fork, writing how
    /// many it started to `countFile`; then kills them and waits until they are reaped, with
    /// shell builtins only (the limit may still be reached meanwhile).
    static func forkBomb(countFile: String) -> String {
        "sh -c 'i=0; while [ $i -lt 200 ]; do sleep 1000 & i=$((i+1)); echo $i > \(countFile); done' 2>/dev/null; kill -9 -1; "
            + "k=0; while set -- /proc/[0-9]*; [ $# -gt 2 ] && [ $k -lt 1000000 ]; do k=$((k+1)); done"
    }

    /// Expects `started` processes to be what the limits let a step start: below `pids` but for
    /// what the sandbox itself runs; or, with rlimits as a user that is not root, at most the
    /// RLIMIT_NPROC the log names, which counts all of that user's processes (other tests'
    /// builds take from it meanwhile).
    static func expectHeld(_ started: Int, pids: Int, log: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let prefix = "step limits: rlimits nproc="
        if getuid() != 0, let line = log.first(where: { $0.hasPrefix(prefix) }) {
            let nproc = Int(line.dropFirst(prefix.count).prefix { $0.isNumber }) ?? 0
            #expect(started <= nproc && started < 200, "the step started \(started) processes under RLIMIT_NPROC \(nproc)", sourceLocation: sourceLocation)
        } else {
            #expect(started >= pids / 2 && started < pids, "the step started \(started) processes under --step-pids-limit \(pids)", sourceLocation: sourceLocation)
        }
    }

    /// The number in `file`; 0 when there is none (not one `sleep` could be started).
    static func count(in file: String) -> Int {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
    }

    /// Waits (at most a minute) until `file` exists.
    static func waitForFile(_ file: String) -> String {
        "n=0; while [ ! -e \(file) ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done"
    }

    /// Allocates 150 MiB in a bash string.
    static let allocation = "x=$(head -c 150M /dev/zero | tr -c a a); echo ${#x}"

    /// The engine's own cgroup folders (the engine runs in this process's cgroups), where it
    /// can make children; nil where it uses rlimits.
    static let engineCgroups: [String]? = try? StepCgroup.engineFolders.get()

    /// The build cgroups under the engine's with these limits (each test uses its own values).
    static func stepCgroups(pids: Int, memory: Int64) -> [String] {
        guard let folders = engineCgroups else { return [] }
        var found: [String] = []
        for (folder, (file, value)) in zip(folders, [("pids.max", String(pids)), ("memory.limit_in_bytes", String(memory))]) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix("slipway-") {
                let path = folder + "/" + name
                if (try? String(contentsOfFile: path + "/" + file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == value {
                    found.append(path)
                }
            }
        }
        return found
    }

    /// Polls (every 50 ms, at most `seconds`) until `body` gives a value.
    /// Lets the step waiting for the file `go` go on. With `cgroup` (its limits), first checks
    /// that the build's cgroup, in both hierarchies, holds the step's processes meanwhile, and
    /// returns its folders; else waits only for the folder `go` goes in.
    static func release(_ go: String, cgroup: (pids: Int, memory: Int64)?) async throws -> [String] {
        var folders: [String] = []
        if let (pids, memory) = cgroup {
            folders = try await poll {
                let found = stepCgroups(pids: pids, memory: memory)
                let holding = found.filter { !((try? String(contentsOfFile: $0 + "/cgroup.procs", encoding: .utf8)) ?? "").isEmpty }
                return holding.count == 2 ? found : nil
            } ?? []
            #expect(!folders.isEmpty, "no cgroup with pids.max=\(pids) and memory.limit_in_bytes=\(memory) held the step")
        } else {
            #expect(try await poll { FileManager.default.fileExists(atPath: (go as NSString).deletingLastPathComponent) ? true : nil } == true)
        }
        #expect(FileManager.default.createFile(atPath: go, contents: nil))
        return folders
    }


    /// Creates a Dockerfile image of `dockerfile` (in a context of its own) and waits for its build.
    static func buildDockerfile(_ c: SlipwayClient, _ name: String, _ dockerfile: String, contexts: TempDir,
                                whileRunning: () async throws -> Void = {}) async throws -> JSONValue {
        let context = contexts.path + "/" + name
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try dockerfile.write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        _ = try await c.call("image/create", ["name": .string(name), "strategy": "dockerfile", "source": ["local": ["path": .string(context)]]])
        try await whileRunning()
        return try await c.call("build/wait", ["image": .string(name), "build": 1], timeout: 300)
    }

    /// Dockerfile steps: processes held below the limit, a tmpfs fill and an allocation over
    /// the memory limit fail their step, a tmpfs asked bigger than the limit is refused, and the
    /// engine builds on. With `rlimit`, forced with `--step-limits rlimit`.
    func dockerfileSteps(rlimit: Bool) async throws {
        // Each test's own values, to find its build's cgroup among those of tests running meanwhile.
        let (pids, memory): (Int, Int64) = rlimit ? (48, 48 << 20) : (64, 64 << 20)
        let cgroups = !rlimit && Self.engineCgroups != nil
        let base = try await HostStack.baseLayout()
        let state = TempDir("state"), contexts = TempDir("contexts")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments + ["--step-pids-limit", String(pids), "--step-memory", String(memory)]
                                  + (rlimit ? ["--step-limits", "rlimit"] : []))
        let from = "FROM oci:\(base.path)/oci:build\n"

        // Processes: the step starts what the limit lets it, and waits for the test's word.
        let handshake = "limits-" + UUID().uuidString
        let go = state.path + "/dockerfile/mounts/default/" + Digest.of(Data(handshake.utf8)).hex + "/go"
        var folders: [String] = []
        let procs = try await Self.buildDockerfile(c, "procs", from + "RUN --mount=type=cache,target=/sync,id=\(handshake) "
                                                   + Self.forkBomb(countFile: "/started") + "; " + Self.waitForFile("/sync/go"), contexts: contexts) {
            folders = try await Self.release(go, cgroup: cgroups ? (pids, memory) : nil)
        }
        #expect(procs["status"] == "SUCCESS", "\(procs)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/procs")
        let started = Self.count(in: image.rootfs + "/started")
        let log = try await c.logLines("procs")
        Self.expectHeld(started, pids: pids, log: log)
        for folder in folders { #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) outlived its build") }
        if cgroups {
            #expect(log.contains { $0.hasPrefix("step limits: cgroup v1 pids=\(pids) memory=\(memory) (slipway-") }, "\(log)")
        } else {
            #expect(log.contains { $0.hasPrefix("step limits: rlimits nproc=") && $0.contains("as=\(memory)") } && Self.stepCgroups(pids: pids, memory: memory).isEmpty, "\(log)")
            #expect(log.contains { $0.contains(rlimit ? "(--step-limits rlimit" : "(no writable cgroup: ") }, "\(log)")
        }

        // Memory: a tmpfs filled past the limit is cut there (its size) or the step is killed.
        let fill = try await Self.buildDockerfile(c, "tmpfs", from + "RUN --mount=type=tmpfs,target=/t head -c 200M /dev/zero > /t/fill; wc -c < /t/fill > /filled\n",
                                                  contexts: contexts)
        if fill["status"] == "SUCCESS" {
            let image = try await UnpackedImage(layout: state.path + "/layouts/default/tmpfs")
            let filled = try String(contentsOfFile: image.rootfs + "/filled", encoding: .utf8)
            #expect(Int64(filled.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max <= memory, "the tmpfs held \(filled) bytes")
        } else {
            #expect(fill["message"]?.stringValue?.contains("RUN exited with status") == true, "\(fill)")
        }
        if rlimit { #expect(fill["status"] == "SUCCESS", "the tmpfs's size cuts the fill: \(fill)") }
        let bigger = try await Self.buildDockerfile(c, "tmpfs-size", from + "RUN --mount=type=tmpfs,target=/t,size=\(memory + 1) true\n", contexts: contexts)
        #expect(bigger["status"] == "FAILURE" && bigger["message"]?.stringValue?.contains("is over \(memory) bytes") == true, "\(bigger)")
        // An allocation past the limit: killed (cgroup) or refused (RLIMIT_AS).
        let alloc = try await Self.buildDockerfile(c, "alloc", from + "RUN bash -c '\(Self.allocation) > /len'\n", contexts: contexts)
        #expect(alloc["status"] == "FAILURE" && alloc["message"]?.stringValue?.contains("RUN exited with status") == true, "\(alloc)")

        // The engine is unharmed.
        let after = try await Self.buildDockerfile(c, "after", from + "RUN echo fine > /fine\n", contexts: contexts)
        #expect(after["status"] == "SUCCESS", "\(after)")
        #expect(Self.stepCgroups(pids: pids, memory: memory).isEmpty, "a build's cgroup was left behind")
    }

    /// With a cgroup only: without one (a user that is not root), RLIMIT_NPROC counts every
    /// process of the user, the test runner's own among them, so how many a step may start
    /// depends on what else runs; the fallback itself is shown by the test below.
    @Test(.enabled(if: StepLimitsTests.engineCgroups != nil, "the engine makes no cgroups here (not root, or no writable cgroup v1 pids and memory)"))
    func dockerfileStepsAreHeldToTheBuildsCgroup() async throws {
        try await dockerfileSteps(rlimit: false)
    }

    /// A Dockerfile step's log says how it is held: by the build's cgroup, or, where the engine
    /// can make none, by rlimits, saying why.
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun))
    func aStepsLogSaysHowItIsHeld() async throws {
        let base = try await HostStack.baseLayout()
        let state = TempDir("state"), contexts = TempDir("contexts")
        let c = try SlipwayClient(stateDir: state.path, arguments: Repo.hostPathArguments + ["--step-pids-limit", "96"])
        let built = try await Self.buildDockerfile(c, "held", "FROM oci:\(base.path)/oci:build\nRUN true\n", contexts: contexts)
        #expect(built["status"] == "SUCCESS", "\(built)")
        let log = try await c.logLines("held")
        if Self.engineCgroups != nil {
            #expect(log.contains { $0.hasPrefix("step limits: cgroup v1 pids=96 ") }, "\(log)")
        } else {
            #expect(log.contains { $0.hasPrefix("step limits: rlimits nproc=") && $0.contains("(no writable cgroup: ") }, "\(log)")
        }
    }

    @Test func dockerfileStepsAreHeldByRlimitsWithoutACgroup() async throws {
        try await dockerfileSteps(rlimit: true)
    }

    /// project.toml with an inline buildpack that does what its source's MODE file says.
    static let project = #"""
        [_]
        schema-version = "0.2"
        id = "io.slipway.test.limits"

        [[io.buildpacks.group]]
        id = "test/limits"
        [io.buildpacks.group.script]
        api = "0.10"
        shell = "/bin/bash"
        inline = """
        case "$(cat MODE)" in
        procs) FORK_BOMB; WAIT_FOR_GO ;;
        tmpfs) head -c 200M /dev/zero > /tmp/fill; wc -c < /tmp/fill > /workspace/filled ;;
        alloc) ALLOCATION > /workspace/len ;;
        fine) echo fine > /workspace/fine ;;
        esac
        """
        """#
        .replacingOccurrences(of: "FORK_BOMB", with: forkBomb(countFile: "/workspace/started"))
        .replacingOccurrences(of: "WAIT_FOR_GO", with: waitForFile("/platform/go"))
        .replacingOccurrences(of: "ALLOCATION", with: allocation)

    /// Buildpack steps, the same: processes held below the limit (but with rlimits as root,
    /// which RLIMIT_NPROC cannot hold: such a step runs as the host's uid 0), /tmp cut at the
    /// limit or the step killed, an allocation past it failing the build, and the engine
    /// building on. With `workspace` unpack, bwrap runs right under the helper that applies
    /// the limits; with overlay, under the one that mounts /workspace.
    func buildpackSteps(rlimit: Bool, workspace: WorkspaceMode) async throws {
        // Each test's own values, to find its build's cgroup among those of tests running meanwhile.
        let (pids, memory): (Int, Int64) = rlimit ? (40, 40 << 20) : workspace == .overlay ? (72, 72 << 20) : (80, 80 << 20)
        let cgroups = !rlimit && Self.engineCgroups != nil
        let state = TempDir("state"), apps = TempDir("apps")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--step-pids-limit", String(pids), "--step-memory", String(memory),
                                                                    "--workspace", workspace.rawValue] + (rlimit ? ["--step-limits", "rlimit"] : []))
        try await c.setUpDefaultBuilder()
        func build(_ mode: String, whileRunning: () async throws -> Void = {}) async throws -> JSONValue {
            let app = apps.path + "/" + mode
            try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
            try Self.project.write(toFile: app + "/project.toml", atomically: true, encoding: .utf8)
            try mode.write(toFile: app + "/MODE", atomically: true, encoding: .utf8)
            _ = try await c.call("image/create", ["name": .string(mode), "source": ["local": ["path": .string(app)]]])
            try await whileRunning()
            return try await c.call("build/wait", ["image": .string(mode), "build": 1], timeout: 300)
        }

        var folders: [String] = []
        let procs = try await build("procs") {
            // A build's work folder is named by its number and its image's incarnation.
            let incarnation = try #require(try await c.call("image/get", ["name": "procs"])["incarnation"]?.stringValue)
            let go = state.path + "/work/default/procs/1-\(incarnation)/platform/go"
            folders = try await Self.release(go, cgroup: cgroups ? (pids, memory) : nil)
        }
        let log = try await c.logLines("procs")
        #expect(procs["status"] == "SUCCESS", "\(procs) \(log)")
        let image = try await UnpackedImage(layout: state.path + "/layouts/default/procs")
        let started = Self.count(in: image.rootfs + "/workspace/started")
        if rlimit && getuid() == 0 {
            #expect(started == 200, "RLIMIT_NPROC never holds uid 0")
        } else {
            Self.expectHeld(started, pids: pids, log: log)
        }
        for folder in folders { #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) outlived its build") }
        #expect(log.contains { $0.hasPrefix(cgroups ? "step limits: cgroup v1 pids=\(pids) memory=\(memory) (slipway-" : "step limits: rlimits nproc=") }, "\(log)")

        let fill = try await build("tmpfs")
        if fill["status"] == "SUCCESS" {
            let image = try await UnpackedImage(layout: state.path + "/layouts/default/tmpfs")
            let filled = try String(contentsOfFile: image.rootfs + "/workspace/filled", encoding: .utf8)
            #expect(Int64(filled.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max <= memory, "/tmp held \(filled) bytes")
        } else {
            #expect(fill["message"]?.stringValue?.contains("failed in the build phase") == true, "\(fill)")
        }
        if rlimit { #expect(fill["status"] == "SUCCESS", "the size of /tmp cuts the fill: \(fill)") }
        let alloc = try await build("alloc")
        #expect(alloc["status"] == "FAILURE" && alloc["message"]?.stringValue?.contains("failed in the build phase") == true, "\(alloc)")

        #expect(try await build("fine")["status"] == "SUCCESS")
        #expect(Self.stepCgroups(pids: pids, memory: memory).isEmpty, "a build's cgroup was left behind")
    }

    @Test(arguments: WorkspaceMode.allCases) func buildpackStepsAreHeldToTheBuildsCgroup(_ workspace: WorkspaceMode) async throws {
        try await buildpackSteps(rlimit: false, workspace: workspace)
    }

    @Test func buildpackStepsAreHeldByRlimitsWithoutACgroup() async throws {
        try await buildpackSteps(rlimit: true, workspace: .overlay)
    }

    /// No step runs without its limits: where `slipway-userns` is missing beside the launcher,
    /// a buildpacks build fails before its first step, saying what to install.
    @Test func aBuildWithoutTheHelperFailsSayingSo() async throws {
        let state = TempDir("state"), bin = TempDir("bin"), app = TempDir("app")
        try FileManager.default.copyItem(atPath: Repo.binDir.path + "/slipway-launcher", toPath: bin.path + "/slipway-launcher")
        try "web: true\n".write(toFile: app.path + "/Procfile", atomically: true, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path, environment: ["SLIPWAY_LAUNCHER": bin.path + "/slipway-launcher"])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "nohelper", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "nohelper", "build": 1])
        #expect(b["status"] == "FAILURE", "\(b)")
        #expect(b["message"]?.stringValue?.contains("\(bin.path)/slipway-userns cannot be run") == true, "\(b)")
        #expect(!(try await c.logLines("nohelper")).contains("===> DETECT"))
    }

    /// The cgroups of an engine killed mid-build (named by its pid, which no process has now)
    /// go at the next engine's start, with the steps left running in them; a running engine's
    /// stay.
    @Test(.enabled(if: StepLimitsTests.engineCgroups != nil, "the engine makes no cgroups here (not root, or no writable cgroup v1 pids and memory)"))
    func cgroupsOfAnEngineThatDiedAreSweptWithTheirSteps() async throws {
        let parents = try #require(Self.engineCgroups)
        let suffix = "-test-" + UUID().uuidString.lowercased()
        // Names as engines give them: this pid namespace, a pid, a random part. One of another
        // pid namespace whose pid means nothing here is not taken for dead.
        let ns = StepCgroup.pidNamespace
        let dead = parents.map { $0 + "/slipway-\(ns)-2147483000" + suffix }, live = parents.map { $0 + "/slipway-\(ns)-\(getpid())" + suffix }
        let foreign = parents.map { $0 + "/slipway-1-2147483000" + suffix }
        for folder in foreign { #expect(mkdir(folder, 0o755) == 0, "\(folder): \(String(cString: strerror(errno)))") }
        defer { for folder in foreign { rmdir(folder) } }  // empty: nothing else can be in the way
        for folder in dead + live { #expect(mkdir(folder, 0o755) == 0, "\(folder): \(String(cString: strerror(errno)))") }
        defer { for folder in live { rmdir(folder) } }  // empty: nothing else can be in the way
        // A step the dead engine left running.
        let left = try await sh("sleep 600 </dev/null >/dev/null 2>&1 & p=$!; for f in '\(dead.joined(separator: "' '"))'; do echo $p > $f/cgroup.procs; done; echo $p")
        let pid = pid_t(left.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(left.status == 0 && pid > 0, "\(left)")

        StepCgroup.sweepAbandoned(in: parents)
        for folder in dead { #expect(!FileManager.default.fileExists(atPath: folder), "\(folder) was not swept") }
        for folder in live { #expect(FileManager.default.fileExists(atPath: folder), "\(folder) belongs to a running engine") }
        for folder in foreign { #expect(FileManager.default.fileExists(atPath: folder), "\(folder) belongs to another pid namespace") }
        let ended = try await poll { () -> Bool? in
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return stat.isEmpty || stat.contains(") Z ") ? true : nil
        }
        #expect(ended == true, "the step left in the swept cgroup still runs")
    }
}
