import Foundation
import Synchronization

/// What an engine killed mid-build (SIGKILL, a crash) would leave running: the process groups
/// of its children (a step's `slipway-userns` and bwrap, skopeo, git…), each spawned by
/// `Subprocess` as the leader of a group of its own. While an engine runs, it keeps one small
/// file per live child in a folder of its state directory (`run/processes/<pid>`), naming the
/// engine (pid and start time) and the group (its leader's pid and start time). The next
/// engine of that state directory starts with `takeOver`: it kills the groups of every engine
/// that is gone — told by pid *and* start time, so a recycled pid is taken neither for a live
/// engine nor for a leftover group — and removes their files, and the build cgroups of dead
/// engines (`StepCgroup.sweepAbandoned`). `slipway-userns` also dies with the engine by itself
/// (PR_SET_PDEATHSIG); this catches what that cannot (a child the engine lost in the moment
/// between spawning it and its asking). A step's mounts live in the helper's own mount
/// namespace and go with it.
public enum LeftoverProcesses {
    /// The folder this engine records its children in, once `takeOver` has run; -1 before.
    private static let folder = Atomic<Int32>(-1)

    /// A process as the kernel names it for good: its pid and its start time (clock ticks after
    /// boot), which together are never reused.
    struct Identity: Equatable, Sendable {
        let pid: pid_t
        let startTime: UInt64

        /// The process `pid` as it is now; nil when there is none.
        static func of(_ pid: pid_t) -> Identity? {
            guard let s = ProcessStat(pid: pid) else { return nil }
            return Identity(pid: pid, startTime: s.startTime)
        }
    }

    /// Fields of /proc/PID/stat.
    struct ProcessStat {
        var processGroup: pid_t
        var startTime: UInt64

        init?(pid: pid_t) {
            // The command name (field 2) is in parentheses and may hold anything: fields are
            // counted after the last ')'. A process that ends meanwhile has no file: nil.
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),  // see above
                  let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state): the process group is field 5, the start time field 22.
            guard fields.count > 19, let group = pid_t(fields[2]), let start = UInt64(fields[19]) else { return nil }
            processGroup = group
            startTime = start
        }
    }

    /// This engine.
    static let engine: Identity? = Identity.of(getpid())

    /// Kills what engines that are gone left running, as their records in `directoryFD` (a
    /// folder of the state directory, checked by the caller, taken over) name them, and sweeps
    /// the build cgroups of dead engines; then records this engine's children there. Call once,
    /// at start, holding the state directory's lock. Blocking. Returns what it did, to log.
    public static func takeOver(directoryFD: Int32) -> [String] {
        var done: [String] = []
        _ = StepCgroup.engineFolders  // finding them sweeps the cgroups of dead engines (none to find: nothing to sweep)
        var groups: [pid_t: [(pid: pid_t, start: UInt64)]] = [:]
        // /proc can always be listed; a process that ends meanwhile is not in a group any more.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {  // see above
            guard let pid = pid_t(name), let s = ProcessStat(pid: pid) else { continue }
            groups[s.processGroup, default: []].append((pid, s.startTime))
        }
        for (name, record) in records(in: directoryFD) {
            // A live engine's (another process holding the lock cannot be: one that wrote
            // records into a folder it then lost) stays; an unreadable record names nothing.
            if let record, record.engine == engine || Identity.of(record.engine.pid) == record.engine { continue }
            unlinkat(directoryFD, name, 0)
            guard let record else { continue }
            let leader = record.group
            // The group is the one recorded when its leader is that process still, or, the
            // leader gone, when its members started after it (a group's number is not reused
            // while a member is left).
            let current = Identity.of(leader.pid)
            guard current == leader || current == nil,
                  let members = groups[leader.pid], members.contains(where: { $0.start >= leader.startTime }) else { continue }
            kill(-leader.pid, SIGKILL)
            done.append("killed process group \(leader.pid) (\(members.count) processes) left by engine pid \(record.engine.pid), which is gone")
        }
        folder.store(directoryFD, ordering: .releasing)
        return done
    }

    /// One record: the engine and the group it started.
    struct Record: Equatable {
        var engine: Identity
        var group: Identity

        var text: String { "\(engine.pid) \(engine.startTime) \(group.pid) \(group.startTime)\n" }

        init(engine: Identity, group: Identity) {
            self.engine = engine
            self.group = group
        }

        init?(_ text: String) {
            let f = text.split(whereSeparator: \.isWhitespace)
            guard f.count == 4, let ep = pid_t(f[0]), let es = UInt64(f[1]), let gp = pid_t(f[2]), let gs = UInt64(f[3]), gp > 1 else { return nil }
            engine = Identity(pid: ep, startTime: es)
            group = Identity(pid: gp, startTime: gs)
        }
    }

    /// The records in the folder, by file name; nil for one that cannot be read as a record.
    static func records(in directoryFD: Int32) -> [(String, Record?)] {
        let listing = dup(directoryFD)
        guard listing >= 0, let dir = fdopendir(listing) else {
            if listing >= 0 { close(listing) }
            return []
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var out: [(String, Record?)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
            out.append((name, read(name, in: directoryFD).flatMap(Record.init)))
        }
        return out
    }

    private static func read(_ name: String, in directoryFD: Int32) -> String? {
        let fd = openat(directoryFD, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = Glibc.read(fd, &buf, buf.count)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    /// Records `pid`, just spawned as the leader of its own process group (called before the
    /// child can be reaped, so `forget` comes after). Does nothing before `takeOver`.
    static func record(_ pid: pid_t) {
        let dir = folder.load(ordering: .acquiring)
        guard dir >= 0, let engine, let group = Identity.of(pid) else { return }
        let bytes = Array(Record(engine: engine, group: group).text.utf8)
        let fd = openat(dir, String(pid), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }  // a state directory being removed: the engine stops, nothing is left to find
        _ = Glibc.write(fd, bytes, bytes.count)
        close(fd)
    }

    /// Removes the record of `pid`, which has exited.
    static func forget(_ pid: pid_t) {
        let dir = folder.load(ordering: .acquiring)
        if dir >= 0 { unlinkat(dir, String(pid), 0) }
    }
}
