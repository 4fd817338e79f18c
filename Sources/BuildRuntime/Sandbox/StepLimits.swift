import Foundation

/// How many processes and how much memory a build's steps may use (`--step-pids-limit`,
/// `--step-memory`, `--step-limits`): without them one step could start thousands of
/// processes, or fill the machine's RAM through a tmpfs, and take the engine and every other
/// build down with it. `StepEnforcement` holds a build's steps to them.
public struct StepLimits: Sendable, Equatable {
    /// How the limits are enforced: a cgroup per build where the engine can make one, else
    /// rlimits (`auto`); or rlimits only (`rlimit`).
    public enum Enforcement: String, Sendable, CaseIterable { case auto, rlimit }

    /// The most processes (threads count too) the build's steps may have at once.
    public var pids: Int
    /// The most memory the build's steps may use together, tmpfs included (with a cgroup), and
    /// the most each tmpfs a step gets may hold.
    public var memoryBytes: Int64
    public var enforcement: Enforcement

    public init(pids: Int = StepLimits.defaultPids, memoryBytes: Int64 = StepLimits.defaultMemoryBytes, enforcement: Enforcement = .auto) {
        self.pids = pids
        self.memoryBytes = memoryBytes
        self.enforcement = enforcement
    }

    public static let defaultPids = 4096
    /// Half of the machine's memory.
    public static let defaultMemoryBytes: Int64 = {
        let pages = Int64(sysconf(Int32(_SC_PHYS_PAGES))), pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
        return pages > 0 && pageSize > 0 ? pages * pageSize / 2 : 1 << 30
    }()
    /// The smallest limits accepted: below them the sandbox itself cannot start.
    public static let minimumPids = 8
    public static let minimumMemoryBytes: Int64 = 16 << 20

    /// Bytes from `1073741824`, `512M`, `4G` (K, M, G, T suffixes, powers of 1024); nil when the
    /// text is not such a number.
    public static func bytes(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        guard let last = text.last, let unit = units[last] else { return Int64(text) }
        guard let n = Int64(text.dropLast()) else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : product
    }
}

/// What holds one build's steps to its `StepLimits`: a cgroup of the build's own
/// (`StepCgroup`), which `slipway-userns` joins before it starts anything, so that every process
/// of a step is inside it; or, where no cgroup can be made (not root, no cgroup v1 `pids` and
/// `memory` hierarchies, not writable, `--step-limits rlimit`), rlimits the helper sets before
/// it starts anything. Every tmpfs a step gets has a size besides (`SandboxRunner`, the helper).
///
/// RLIMIT_AS holds each process's address space (not a tmpfs: their sizes do). RLIMIT_NPROC is
/// counted per user namespace and id, and checked in every namespace up to the host's, each
/// namespace's ceiling being the RLIMIT_NPROC of the process that made it (none when that was
/// root on the host), and never for the host's uid 0:
/// - for a root engine, a Dockerfile step's processes are counted per id inside the step (a
///   root step that switches ids gets the limit again for each), and a buildpack step, which
///   runs as the host's uid 0, is not held at all;
/// - for another user, the ceiling counts all of that user's processes together (the engine's,
///   every build's, the user's own): the limit given is `pids` above what the user runs when
///   the build starts.
public struct StepEnforcement: Sendable {
    /// How the limits are held.
    public enum Means: Sendable {
        case cgroup(StepCgroup)
        /// RLIMIT_NPROC `nproc` and RLIMIT_AS; `reason` says why there is no cgroup.
        case rlimits(nproc: Int, reason: String)
    }

    public let limits: StepLimits
    /// `slipway-userns`, which applies the limits.
    public let helper: String
    public let means: Means

    /// The helper's flags that apply the limits, before any other of its flags.
    public var helperArguments: [String] {
        switch means {
        case .cgroup(let cgroup): return cgroup.procsFiles.flatMap { ["--cgroup-procs", $0] }
        case .rlimits(let nproc, _): return ["--rlimit", "nproc=\(nproc)", "--rlimit", "as=\(limits.memoryBytes)"]
        }
    }

    /// `command` run under the helper, which applies the limits and then execs it.
    public func wrapping(_ command: [String]) -> [String] {
        [helper, "--limits-only"] + helperArguments + ["--"] + command
    }

    /// What the build's log says about its limits, once.
    public var summary: String {
        switch means {
        case .cgroup(let cgroup): return "step limits: cgroup v1 pids=\(limits.pids) memory=\(limits.memoryBytes) (\(cgroup.name))"
        case .rlimits(let nproc, let reason):
            return "step limits: rlimits nproc=\(nproc) as=\(limits.memoryBytes), each tmpfs at most \(limits.memoryBytes) bytes (\(reason))"
        }
    }

    /// The enforcement of `limits` for one build: its own cgroup, or rlimits.
    static func make(_ limits: StepLimits, helper: String) -> StepEnforcement {
        var reason = "--step-limits rlimit"
        if limits.enforcement == .auto {
            do throws(StepCgroup.Unavailable) {
                let cgroup = try StepCgroup.make(name: StepCgroup.newName(), limits: limits)
                return StepEnforcement(limits: limits, helper: helper, means: .cgroup(cgroup))
            } catch {
                reason = "no writable cgroup: " + error.reason
            }
        }
        let uid = getuid()
        guard uid != 0 else { return StepEnforcement(limits: limits, helper: helper, means: .rlimits(nproc: limits.pids, reason: reason)) }
        let running = tasks(ofUser: uid)
        return StepEnforcement(limits: limits, helper: helper,
                               means: .rlimits(nproc: limits.pids + running, reason: reason + "; uid \(uid) ran \(running) task(s) at the start, which RLIMIT_NPROC counts too"))
    }

    /// How many tasks (threads) run with the real uid `uid`, from /proc/*/status: what
    /// RLIMIT_NPROC counts of that user, but for processes of its namespaces under other ids.
    static func tasks(ofUser uid: uid_t) -> Int {
        var total = 0
        // /proc can always be listed; a process that ends meanwhile has no status, and counts no more.
        for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {  // see above
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { continue }  // see above
            var real: uid_t?, threads = 0
            for line in status.split(separator: "\n") {
                let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                if fields.first == "Uid:", fields.count > 1 { real = uid_t(fields[1]) }
                if fields.first == "Threads:", fields.count > 1 { threads = Int(fields[1]) ?? 0 }
            }
            if real == uid { total += threads }
        }
        return total
    }

    /// Runs `body` with the enforcement of `limits` for one build: makes the build's cgroup
    /// (or settles for rlimits), logs which through `log`, and removes the cgroup afterwards,
    /// killing what is left in it, whether `body` returns or throws. Fails, before any step
    /// runs, when `helper` cannot be run: no step runs without its limits.
    public static func during<T: Sendable>(_ limits: StepLimits, helper: String, log: @escaping @Sendable (String) -> Void,
                                           _ body: (StepEnforcement) async throws -> T) async throws -> T {
        guard access(helper, X_OK) == 0 else {
            throw RuntimeError.unavailable("\(helper) cannot be run (\(String(cString: strerror(errno)))): it holds every build step to its limits; "
                                           + "install slipway-userns beside slipway-launcher (swift build makes both)")
        }
        let enforcement = try await BlockingWork.run { make(limits, helper: helper) }
        log(enforcement.summary)
        let result: Result<T, Error>
        do { result = .success(try await body(enforcement)) } catch { result = .failure(error) }
        if case .cgroup(let cgroup) = enforcement.means, let left = try await BlockingWork.run({ cgroup.remove() }) {
            log("step limits: \(left)")
        }
        return try result.get()
    }
}
