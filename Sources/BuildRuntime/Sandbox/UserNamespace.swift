import Foundation
import Synchronization

/// The ids a Dockerfile step's user namespace maps: 65,536 of them (0–65535 inside), because a
/// step may `chown 1000`, `useradd`, or run apt (user `_apt`); bwrap 0.8 maps one.
///
/// - Slipway run as root maps 0–65535 onto host ids `rootBase`…`rootBase+65535`
///   (2147418112–2147483647, just under 2^31), which no account or subordinate range uses.
/// - Anyone else maps 0 onto themselves and 1–65535 onto a subordinate range of theirs from
///   `/etc/subuid` and `/etc/subgid`, written by the setuid `newuidmap`/`newgidmap` (Debian's
///   `uidmap`); without such a range a Dockerfile build fails, saying how to add one.
public struct IDMapping: Sendable, Equatable {
    /// `count` ids from `inner` (in the namespace) onto `outer` (on the host).
    public struct Range: Sendable, Equatable {
        public var inner: UInt32
        public var outer: UInt32
        public var count: UInt32
    }

    public var users: [Range]
    public var groups: [Range]
    /// Whether `newuidmap`/`newgidmap` write the maps (not root).
    public var viaNewuidmap: Bool

    public static let size: UInt32 = 65536
    public static let rootBase: UInt32 = 2_147_418_112

    /// The mapping for root.
    public static let root = IDMapping(users: [Range(inner: 0, outer: rootBase, count: size)],
                                       groups: [Range(inner: 0, outer: rootBase, count: size)], viaNewuidmap: false)

    /// One id, 0 inside, onto the user running Slipway: what a buildpacks build's workspace
    /// overlay needs (bwrap then maps the stack's user onto it), written without `newuidmap`.
    public static func callerOnly() -> IDMapping {
        IDMapping(users: [Range(inner: 0, outer: getuid(), count: 1)], groups: [Range(inner: 0, outer: getgid(), count: 1)], viaNewuidmap: false)
    }

    /// The mapping for the user running Slipway.
    public static func forCurrentUser() throws -> IDMapping {
        let uid = getuid(), gid = getgid()
        if uid == 0 { return root }
        let name = getpwuid(uid).map { String(cString: $0.pointee.pw_name) } ?? String(uid)
        let groupName = getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? String(gid)
        return try forUser(uid: uid, name: name, gid: gid, groupName: groupName,
                           subuid: (try? String(contentsOfFile: "/etc/subuid", encoding: .utf8)) ?? "",  // no file: no id ranges, which forUser says
                           subgid: (try? String(contentsOfFile: "/etc/subgid", encoding: .utf8)) ?? "")  // no file: no id ranges, which forUser says
    }

    /// The mapping for a user that is not root, from the text of /etc/subuid and /etc/subgid.
    public static func forUser(uid: UInt32, name: String, gid: UInt32, groupName: String, subuid: String, subgid: String) throws -> IDMapping {
        func range(_ text: String, _ file: String, owner: [String]) throws -> UInt32 {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: ":").map(String.init)
                guard f.count == 3, owner.contains(f[0]), let start = UInt32(f[1]), let count = UInt32(f[2]), count >= size - 1 else { continue }
                return start
            }
            throw RuntimeError.unavailable(
                "Dockerfile builds run steps in a user namespace of \(size) ids, and \(name) has no range of at least \(size - 1) in \(file); " +
                "add one: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(name)")
        }
        let u = try range(subuid, "/etc/subuid", owner: [name, String(uid)])
        let g = try range(subgid, "/etc/subgid", owner: [name, groupName, String(uid), String(gid)])
        return IDMapping(users: [Range(inner: 0, outer: uid, count: 1), Range(inner: 1, outer: u, count: size - 1)],
                         groups: [Range(inner: 0, outer: gid, count: 1), Range(inner: 1, outer: g, count: size - 1)], viaNewuidmap: true)
    }

    /// The id inside the namespace of host id `outer` (users or groups); nil when unmapped.
    public static func inner(_ outer: UInt32, in ranges: [Range]) -> UInt32? {
        for r in ranges where outer >= r.outer && outer - r.outer < r.count { return r.inner + (outer - r.outer) }
        return nil
    }

    /// The id inside the namespace of a user id a layer folder holds on disk: one of the
    /// namespace's host ids, or, in an inner-id folder (`OverlayStepRunner.innerIDFolders`,
    /// root only), the id itself, below `size`, where no host id of the root mapping is; nil
    /// for any other.
    public func innerUser(ofDisk id: UInt32) -> UInt32? { Self.inner(id, in: users) ?? (self == .root && id < Self.size ? id : nil) }

    /// The same for a group id.
    public func innerGroup(ofDisk id: UInt32) -> UInt32? { Self.inner(id, in: groups) ?? (self == .root && id < Self.size ? id : nil) }

    /// The host id of id `inner` inside the namespace; nil when unmapped.
    public static func outer(_ inner: UInt32, in ranges: [Range]) -> UInt32? {
        for r in ranges where inner >= r.inner && inner - r.inner < r.count { return r.outer + (inner - r.inner) }
        return nil
    }
}

/// Runs a command as root of a user namespace with an `IDMapping`, in a mount namespace of its
/// own where an overlay of layers may be mounted first: the `slipway-userns` helper (C, beside
/// the engine), which then usually runs `bwrap` for the rest of the sandbox.
public struct UserNamespaceRunner: Sendable {
    /// An overlay: lower folders topmost first, relative to `base` (so that many layers fit the
    /// kernel's one-page limit on mount options); `upper` receives what the command changes.
    public struct Overlay: Sendable {
        public var base: String
        public var lowers: [String]
        public var upper: String
        public var work: String
        public var merged: String
        /// A folder (under `base`) the command gets as its root instead of the overlay of
        /// `lowers` (`CopySnapshot`, where overlayfs cannot be mounted).
        public var copiedRoot: String?
        /// What the helper mounts inside the root before the command runs, in this order.
        public var mounts: [PlacedMount] = []
        /// Folders under `base` (lowers, or lowers of `mounts`) written with the namespace's own
        /// ids, which the helper shows through an id-mapped mount of the namespace's maps
        /// (`--idmapped`; only root may make one): a COPY's layer of the snapshot's own files.
        public var idmapped: [String] = []
        /// Mounted on `merged` where it is (a host path), with nothing else changed: the
        /// command is not a step over a root but bwrap, which binds `merged`.
        public var inPlace = false

        public init(base: String, lowers: [String], upper: String, work: String, merged: String) {
            self.base = base
            self.lowers = lowers
            self.upper = upper
            self.work = work
            self.merged = merged
        }
    }

    /// A mount `slipway-userns` places inside a step's root before the step runs: its source
    /// opened by descriptor, `subPath` resolved inside that source as a container would
    /// (symlinks and `..` never leave it), and `target` walked from the root's descriptor
    /// without following anything, what is missing made. bwrap never sees a path of it.
    public struct PlacedMount: Sendable, Equatable {
        public enum Source: Sendable, Equatable {
            /// A host folder Slipway keeps (a cache mount's folder, the network's resolv.conf).
            case folder(String)
            /// An overlay of `lowers` (topmost first; names under `base`, or absolute paths),
            /// with `upper` and `work` catching, and so dropping, what the step writes there.
            case overlay(upper: String, work: String, lowers: [String])
            /// An empty tmpfs of at most `bytes`.
            case tmpfs(bytes: Int64)
        }
        public var source: Source
        /// The path inside the source; "" for all of it.
        public var subPath: String
        /// Where, in the step's root: an absolute path without symlinks, resolved by Slipway
        /// inside the stage (the helper refuses one that is not what it was).
        public var target: String
        public var writable: Bool

        public init(_ source: Source, subPath: String = "", at target: String, writable: Bool) {
            self.source = source
            self.subPath = subPath
            self.target = target
            self.writable = writable
        }

        /// The helper's flag and values for it.
        var arguments: [String] {
            switch source {
            case .folder(let dir): return ["--mount-bind", dir, subPath, target, writable ? "rw" : "ro"]
            case .overlay(let upper, let work, let lowers):
                return ["--mount-overlay", ([upper, work] + lowers).joined(separator: ","), subPath, target, writable ? "rw" : "ro"]
            case .tmpfs(let bytes): return ["--mount-tmpfs", String(bytes), target]
            }
        }
    }

    public let helper: String
    public let mapping: IDMapping

    public init(helper: String, mapping: IDMapping) {
        self.helper = helper
        self.mapping = mapping
    }

    /// Runs `command` as root of the namespace, with no overlay; a failure says `what` failed,
    /// with the exit status and the last lines the command wrote.
    public func run(_ command: [String], what: String) async throws {
        let said = OutputTail(keep: 5)
        let p = try Subprocess(arguments(overlay: nil, command: command), environment: ["PATH": "/usr/bin:/bin"]) { _, line in said.append(line) }
        let code = await p.wait()
        guard code == 0 else { throw RuntimeError.io("\(what) failed (exit \(code)): \(said.lines.joined(separator: " | "))") }
    }

    /// Gives paths under the folder `root` the owners and modes `records` say (an
    /// `ArchiveOwnerLedger`'s), from inside the namespace, where its root may give
    /// away the ids of the range.
    public func applyOwners(_ records: [UInt8], under root: String) async throws {
        let list = root + ".owners"
        try Data(records).write(to: URL(fileURLWithPath: list))
        defer { try? FileManager.default.removeItem(atPath: list) }  // scratch beside a scratch folder: swept with it
        try await run([helper, "--apply-owners", list, root], what: "giving the layer's files their owners in the step namespace")
    }

    /// Removes the folder `path` from inside the namespace: what steps made belongs to ids of a
    /// user's range, which only the namespace's root may remove when that user is not root.
    public func removeTree(_ path: String) async throws {
        try await run(["/bin/rm", "-rf", "--", path], what: "removing \(path)")
    }

    /// `removeTree`, waited for on this thread (a garbage collection's, never the pool's).
    public func removeTreeBlocking(_ path: String) -> Bool {
        let done = DispatchSemaphore(value: 0)
        let removed = Mutex(false)
        Task {
            // A failure is reported as `false`: the collection leaves the folder for the next one.
            let ok = (try? await removeTree(path)) != nil  // see above
            removed.withLock { $0 = ok }
            done.signal()
        }
        done.wait()
        return removed.withLock { $0 }
    }

    /// Why this helper, with this mapping, cannot mount an overlay here (`inPlace`, or as a
    /// step's root): it tries once per process, over empty folders under `scratch` that
    /// `makeFolder` makes, with `/bin/true` as the command; nil when it can.
    public func overlayUnavailableReason(scratch: String, inPlace: Bool, idmapped: Bool = false, makeFolder: (String) throws -> Void) async -> String? {
        let key = "\(helper) \(mapping) \(inPlace) \(idmapped)"
        if let known = Self.probed.withLock({ $0[key] }) { return known.reason }
        let dir = scratch + "/.overlay-probe-" + UUID().uuidString
        defer { try? ConfinedDirectory.removeTree(atPath: dir) }  // scratch: a leftover is swept with its folder
        var reason: String? = "the probe folders could not be made"
        if (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil {  // the probe fails, saying so
            for name in ["lower", "upper", "work", "merged"] { try? makeFolder(dir + "/" + name) }  // a missing one fails the probe, which says why
            var overlay = Overlay(base: dir, lowers: ["lower"], upper: "upper", work: "work", merged: "merged")
            overlay.inPlace = inPlace
            if idmapped { overlay.idmapped = ["lower"] }
            let said = OutputTail(keep: 3)
            if let p = try? Subprocess(arguments(overlay: overlay, command: ["/bin/true"]), environment: ["PATH": "/usr/bin:/bin"], onLine: { _, l in said.append(l) }) {  // cannot start: said below
                let code = await p.wait()
                reason = code == 0 ? nil : said.lines.isEmpty ? "the helper exited with \(code)" : said.lines.joined(separator: " | ")
            } else {
                reason = "the helper \(helper) cannot be run"
            }
        }
        Self.probed.withLock { $0[key] = .init(reason: reason) }
        return reason
    }

    private struct Probe: Sendable { var reason: String? }
    private static let probed = Mutex<[String: Probe]>([:])

    /// The helper's command line around `command`; with `limits`, the helper holds everything
    /// it starts to them.
    public func arguments(overlay: Overlay?, command: [String], limits: StepEnforcement? = nil) -> [String] {
        var args = [helper] + (limits?.helperArguments ?? [])
        if mapping.viaNewuidmap { args.append("--newuidmap") }
        for r in mapping.users { args += ["--uid-map", "\(r.inner):\(r.outer):\(r.count)"] }
        for r in mapping.groups { args += ["--gid-map", "\(r.inner):\(r.outer):\(r.count)"] }
        if let o = overlay {
            args += ["--chdir", o.base]
            for name in o.idmapped where o.copiedRoot == nil { args += ["--idmapped", name] }
            if let root = o.copiedRoot {
                args += ["--root", root]
            } else {
                for l in o.lowers { args += ["--lower", l] }
                args += ["--upper", o.upper, "--work", o.work, "--merged", o.merged]
                if o.inPlace { args.append("--in-place") }
            }
            for m in o.mounts { args += m.arguments }
        }
        return args + ["--"] + command
    }
}
