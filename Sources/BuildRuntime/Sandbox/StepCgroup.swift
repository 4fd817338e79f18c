import Foundation

/// One build's cgroup: a child of the engine's own cgroup in the cgroup v1 `pids` and `memory`
/// hierarchies, with `pids.max` and `memory.limit_in_bytes` (and `memory.memsw.limit_in_bytes`
/// where swap is accounted) set to the build's `StepLimits`. `slipway-userns` writes its own pid
/// into each `cgroup.procs` before it starts anything (`--cgroup-procs`), so every process of a
/// step, and every page of its tmpfs, counts against the build's limits and nothing else.
/// `remove` kills what is left in it and removes it when the build ends.
public struct StepCgroup: Sendable {
    /// Why no cgroup can be made here; rlimits are used instead.
    public struct Unavailable: Error, Sendable {
        public let reason: String
    }

    /// The controllers a build's cgroup is made in.
    static let controllers = ["pids", "memory"]

    /// The cgroup's name, the same in both hierarchies.
    public let name: String
    /// Its folders, one per controller.
    public let folders: [String]
    /// The files a process joins it through.
    public var procsFiles: [String] { folders.map { $0 + "/cgroup.procs" } }

    /// A fresh name for a build's cgroup: `slipway-<pid namespace>-<engine pid>-<random>`, so
    /// that the next engine can tell the cgroups of an engine that died (`sweepAbandoned`). A
    /// pid means something only in its namespace: an engine in a pid namespace of its own
    /// (under `unshare --pid`, in a container) sharing the parent cgroup must not take another
    /// namespace's live engine for dead.
    public static func newName() -> String { "slipway-\(pidNamespace)-\(getpid())-" + UUID().uuidString.lowercased() }

    /// This process's pid namespace, as the number of /proc/self/ns/pid (`pid:[NUMBER]`); "0"
    /// where it cannot be read (then no cgroup is swept as another engine's).
    static let pidNamespace: String = {
        var buf = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/self/ns/pid", &buf, 63)
        guard n > 0 else { return "0" }
        let link = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(link.filter(\.isNumber))
    }()

    /// Makes the cgroup `name` under the engine's own in each hierarchy, with `limits` set;
    /// throws why it cannot (nothing is left behind then).
    public static func make(name: String, limits: StepLimits) throws(Unavailable) -> StepCgroup {
        let parents = try engineFolders.get()
        var made: [String] = []
        func fail(_ why: String) -> Unavailable {
            for folder in made { rmdir(folder) }  // empty and just made: removing it cannot fail for a reason that matters
            return Unavailable(reason: why)
        }
        for (controller, parent) in zip(controllers, parents) {
            let folder = parent + "/" + name
            guard mkdir(folder, 0o755) == 0 else { throw fail("cannot make a \(controller) cgroup in \(parent): \(String(cString: strerror(errno)))") }
            made.append(folder)
            var settings: [(String, String)] = []
            if controller == "pids" {
                settings = [("pids.max", String(limits.pids))]
            } else {
                settings = [("memory.limit_in_bytes", String(limits.memoryBytes))]
                // Present only where swap is accounted; it may not be below the limit above.
                if access(folder + "/memory.memsw.limit_in_bytes", F_OK) == 0 { settings.append(("memory.memsw.limit_in_bytes", String(limits.memoryBytes))) }
            }
            for (file, value) in settings {
                if let why = store(value, in: folder + "/" + file) { throw fail("cannot set \(file) in \(folder): \(why)") }
            }
        }
        return StepCgroup(name: name, folders: made)
    }

    /// The engine's own cgroup folder in each of `controllers`, found once per process from
    /// /proc/self/cgroup and /proc/self/mountinfo; or why there is none it may make a child in.
    static let engineFolders: Result<[String], Unavailable> = {
        guard let cgroups = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),  // said below
              let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)  // said below
        else { return .failure(Unavailable(reason: "/proc/self/cgroup or /proc/self/mountinfo cannot be read")) }
        var folders: [String] = []
        for controller in controllers {
            guard let folder = folder(of: controller, cgroups: cgroups, mountInfo: mounts) else {
                return .failure(Unavailable(reason: "no cgroup v1 \(controller) hierarchy is mounted here (cgroup v2 alone is not used yet)"))
            }
            guard access(folder, W_OK) == 0 else {
                return .failure(Unavailable(reason: "the engine may not make cgroups in \(folder) (\(String(cString: strerror(errno)))); run it as root to get them"))
            }
            folders.append(folder)
        }
        sweepAbandoned(in: folders)
        return .success(folders)
    }()

    /// Removes the build cgroups under `parents` of engines that are gone (killed mid-build),
    /// killing the steps left running in them. Those of a running engine stay, whoever's.
    static func sweepAbandoned(in parents: [String]) {
        for parent in parents {
            // A folder that cannot be listed has nothing to sweep that this engine could remove.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix("slipway-") {  // see above
                // Only an engine of this pid namespace can be told dead by its pid.
                let parts = name.split(separator: "-", maxSplits: 3)
                guard parts.count == 4, pidNamespace != "0", parts[1] == pidNamespace, let pid = pid_t(parts[2]), pid != getpid(),
                      kill(pid, 0) != 0, errno == ESRCH else { continue }
                _ = StepCgroup(name: name, folders: [parent + "/" + name]).remove()  // what stays is tried again at the next engine's start
            }
        }
    }

    /// Where the process whose /proc/PID/cgroup is `cgroups` sits in the cgroup v1 hierarchy of
    /// `controller`, as a folder of the mount `mountInfo` (/proc/PID/mountinfo) lists for that
    /// hierarchy; nil when no such hierarchy is mounted, or its mount does not show that cgroup.
    static func folder(of controller: String, cgroups: String, mountInfo: String) -> String? {
        // "ID:CONTROLLER,…:PATH"; a cgroup v2 line has no controllers.
        guard let path = cgroups.split(separator: "\n").lazy.compactMap({ line -> String? in
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, f[1].split(separator: ",").contains(Substring(controller)) else { return nil }
            return String(f[2])
        }).first else { return nil }
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPEROPTIONS".
        for line in mountInfo.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard let dash = f.firstIndex(of: "-"), dash >= 6, f.count >= dash + 4, f[dash + 1] == "cgroup",
                  f[dash + 3].split(separator: ",").contains(Substring(controller)) else { continue }
            let root = unescape(f[3]), mountPoint = unescape(f[4])
            guard path == root || root == "/" || path.hasPrefix(root + "/") else { continue }
            let below = root == "/" ? path : String(path.dropFirst(root.count))
            return below == "/" ? mountPoint : mountPoint + below
        }
        return nil
    }

    /// A mountinfo field with its octal escapes (`\040` for a space) undone.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 3 < raw.count, let n = UInt8(String(decoding: raw[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                bytes.append(n)
                i += 4
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `value` into the cgroup file `path`; returns why it could not.
    static func store(_ value: String, in path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { return String(cString: strerror(errno)) }
        return nil
    }

    /// How long `remove` keeps killing what is left before it gives up.
    static let removalDeadline: Double = 10

    /// Kills every process left in the cgroup (SIGKILL, again until none is left) and removes
    /// it from each hierarchy; returns what is left behind, if anything, to log. Blocking: run
    /// it on a `BlockingWork` thread.
    public func remove() -> String? {
        let deadline = Date().addingTimeInterval(Self.removalDeadline)
        var left: [String] = []
        for folder in folders {
            while rmdir(folder) != 0 && errno != ENOENT {
                guard errno == EBUSY, Date() < deadline else {
                    left.append("\(folder) (\(String(cString: strerror(errno))))")
                    break
                }
                let procs = (try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8)) ?? ""  // unreadable: rmdir says what is wrong next time round
                for pid in procs.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
                usleep(20_000)
            }
        }
        return left.isEmpty ? nil : "the build's cgroup could not be removed: " + left.joined(separator: ", ")
    }
}
