import Foundation

/// Runs build steps inside `bwrap` over a build image's root filesystem: a fresh tmpfs root,
/// the image's top-level directories mounted read-only, only the mounts a step is given
/// (`/workspace`, `/layers`, `/platform`, `/cnb/…`) on top, all namespaces unshared (no
/// network), an unprivileged uid with no capabilities and NoNewPrivs, no further user
/// namespaces (`--disable-userns`), the `SeccompFilter`, and exactly the environment it is
/// given. Every tmpfs it gets has a size: `tmpfsBytes` (/tmp, scratch), 64 MiB or less
/// (/dev/shm), 1 MiB (the root, which holds mount points); bwrap's /dev, which cannot be given
/// one, is read-only.
public struct SandboxRunner: Sendable {
    /// A host folder made visible inside the sandbox.
    public struct Mount: Sendable, Equatable {
        public var hostPath: String
        public var sandboxPath: String
        public var writable: Bool
        public init(_ hostPath: String, at sandboxPath: String, writable: Bool) {
            self.hostPath = hostPath
            self.sandboxPath = sandboxPath
            self.writable = writable
        }
    }

    public let bwrapPath: String
    public let uid: Int
    public let gid: Int
    /// The most a step's /tmp, or a scratch tmpfs, may hold (`StepLimits.memoryBytes`).
    public let tmpfsBytes: Int64

    /// Fails with `.unavailable` (saying how to install it) when bwrap is missing.
    public init(uid: Int = 1000, gid: Int = 1000, bwrapPath: String? = nil, tmpfsBytes: Int64 = StepLimits.defaultMemoryBytes) throws {
        guard let path = bwrapPath ?? findExecutable("bwrap") else {
            throw RuntimeError.unavailable(
                "bwrap (bubblewrap) is not installed; buildpacks run inside it. Install it with 'apt-get install bubblewrap' (or run scripts/setup.sh) and try again")
        }
        self.bwrapPath = path
        self.uid = uid
        self.gid = gid
        self.tmpfsBytes = tmpfsBytes
    }

    /// The root tmpfs holds only the mount points bwrap makes.
    static let rootTmpfsBytes: Int64 = 1 << 20

    /// bwrap's flags for a tmpfs of at most `bytes` at `path`.
    static func tmpfs(_ path: String, bytes: Int64) -> [String] { ["--size", String(bytes), "--tmpfs", path] }

    /// After `--dev /dev` and anything placed in it: /dev read-only (bwrap cannot size its
    /// tmpfs), and a /dev/shm of Docker's 64 MiB (or less under a smaller limit) for POSIX
    /// shared memory.
    var devSealing: [String] {
        ["--remount-ro", "/dev", "--perms", "1777"] + Self.tmpfs("/dev/shm", bytes: min(64 << 20, tmpfsBytes))
    }

    /// The home folder of `uid` in a root filesystem, from its `/etc/passwd` (read without
    /// following a symlink, capped): an existing folder other than `/`; nil when there is none.
    public static func home(ofUser uid: Int, inRootfs rootfs: String) -> String? {
        // A root filesystem without a readable passwd, or a user without an entry, has no home.
        guard let etc = try? ConfinedDirectory(path: rootfs).openDirectory("etc"), let passwd = try? etc.readText("passwd", maxBytes: 1 << 20) else {  // see above
            return nil
        }
        for line in passwd.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 7, Int(f[2]) == uid else { continue }
            let home = String(f[5])
            guard home.hasPrefix("/"), home != "/", PathSyntax.components(home).allSatisfy(PathSyntax.isNormalComponent),
                  (try? ConfinedDirectory(path: rootfs).isDirectory(String(home.dropFirst()))) == true else { return nil }  // no such folder in the image: no home
            return home
        }
        return nil
    }

    /// The bwrap command line for `command` over `rootfs` with `mounts`, and a fresh, empty,
    /// writable tmpfs at each of `scratch` (the user's home, say, in a read-only root). With
    /// `network` (the public network: its pipes are descriptors 4 and 5), the step waits for
    /// it, and sees `resolvConf` at /etc/resolv.conf where the image has that file.
    /// With `prepared` (a network made ahead, which the sandbox joins), every namespace but the
    /// network is unshared, and the step sees `resolvConf` likewise.
    public func arguments(rootfs: String, mounts: [Mount], scratch: [String] = [], environment: [String: String], workingDirectory: String,
                          network: (StepNetwork, resolvConf: String)? = nil, prepared: (PreparedStepNetwork, resolvConf: String)? = nil,
                          driver: (String, at: String)? = nil, command: [String]) throws -> [String] {
        let namespaces = prepared == nil ? ["--unshare-all"] : ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        // A driver is the namespace's first process: no signal of a step reaches it (the kernel
        // delivers a namespace's init only the signals it handles), not even `kill -9 -1`.
        var args = [bwrapPath] + namespaces + (driver == nil ? [] : ["--as-pid-1"]) + ["--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
                    "--cap-drop", "ALL", "--seccomp", "3",
                    "--uid", String(uid), "--gid", String(gid), "--clearenv"] + Self.tmpfs("/", bytes: Self.rootTmpfsBytes)
        let reserved: Set<String> = ["proc", "dev", "tmp", "workspace", "layers", "platform", "cnb"]
        let root = try ConfinedDirectory(path: rootfs)
        for name in try root.entries() where !reserved.contains(name) {
            let full = rootfs + "/" + name
            guard let st = try root.status(name) else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFLNK: args += ["--symlink", try root.readLink(name), "/" + name]
            case S_IFDIR, S_IFREG: args += ["--ro-bind", full, "/" + name]
            default: continue
            }
        }
        args += ["--proc", "/proc", "--dev", "/dev"]
        // The phase's step driver, in /dev (so in no folder a step may write, nor in the image).
        if let (path, inside) = driver { args += ["--ro-bind", path, inside] }
        args += devSealing + Self.tmpfs("/tmp", bytes: tmpfsBytes)
        for path in scratch { args += Self.tmpfs(path, bytes: tmpfsBytes) }
        for m in mounts {
            args += [m.writable ? "--bind" : "--ro-bind", m.hostPath, m.sandboxPath]
        }
        if let (net, _) = network { args += net.bwrapArguments }
        // Over the image's own file only: nothing can be made in its read-only /etc.
        if let resolvConf = network?.resolvConf ?? prepared?.resolvConf, let etc = try? root.openDirectory("etc"), let st = try etc.status("resolv.conf"),
           (st.st_mode & S_IFMT) == S_IFREG {  // no /etc in the image: nothing to bind over
            args += ["--ro-bind", resolvConf, "/etc/resolv.conf"]
        }
        args += ["--chdir", workingDirectory]
        for (k, v) in environment.sorted(by: { $0.key < $1.key }) { args += ["--setenv", k, v] }
        args += ["--"] + command
        return args
    }

    /// Linux capabilities a Dockerfile step keeps as root of its namespace: Docker's default
    /// set, so `chown`, `useradd` and package managers work; they reach nothing outside it.
    static let stepCapabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP",
                                   "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]

    /// The bwrap command line for a Dockerfile step, run inside a user namespace of its own
    /// (`UserNamespaceRunner`) over its root, the merged overlay, writable: every other
    /// namespace unshared (no network), the `SeccompFilter`, Docker's default capabilities for
    /// a root step and none for another user, and exactly `environment`.
    ///
    /// The root is `/tmp/slipway-root` and `slipway-userns` is `/tmp/slipway-exec-as`, where
    /// that helper mounts them in the step's mount namespace (the namespace's root may not walk
    /// the host paths to them), with the step's own mounts (`RUN --mount`, resolv.conf) already
    /// placed inside the root: bwrap names no path the build chose. bwrap itself stays root of
    /// the namespace (its `--uid` would need a namespace of its own, mapping one id): for another
    /// user, the helper (mounted in the sandbox's `/dev`, so in no layer) switches to it and runs
    /// the command, with no capabilities left.
    public func stepArguments(user: (uid: Int, gid: Int), environment: [String: String], workingDirectory: String, network: StepNetwork? = nil,
                              command: [String]) -> [String] {
        var args = [bwrapPath, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
                    "--new-session", "--seccomp", "3", "--cap-drop", "ALL"]
        for c in Self.stepCapabilities { args += ["--cap-add", c] }
        args += ["--clearenv", "--bind", "/tmp/slipway-root", "/", "--proc", "/proc", "--dev", "/dev"]
        var argv = command
        if user.uid != 0 || user.gid != 0 {
            let inside = "/dev/.slipway-exec-as"
            args += ["--ro-bind", "/tmp/slipway-exec-as", inside]
            argv = [inside, "--exec-as", "\(user.uid):\(user.gid)", "--"] + command
        }
        args += devSealing
        if let network { args += network.bwrapArguments }
        args += ["--chdir", workingDirectory]
        for (k, v) in environment.sorted(by: { $0.key < $1.key }) { args += ["--setenv", k, v] }
        return args + ["--"] + argv
    }

    /// Starts `command` in the sandbox; the caller awaits `wait()` on the result. With
    /// `network`, the step starts once it is attached (a failure to attach kills it); with
    /// `prepared`, all of it runs in that network's namespaces (`slipway-userns --join-net`,
    /// whose descriptors are 4 and 5). With `enclosing`, bwrap's command line is run as
    /// `enclosing` makes it (inside the `slipway-userns` helper that mounts an overlay
    /// workspace, say; given `prepared`, it runs as root of the network's user namespace). With
    /// `limits`, all of it runs under the helper that holds it to them (`slipway-userns --limits-only`).
    /// `driver` binds a program (the helper) read-only at a path in /dev; `extra` descriptors
    /// follow the filter's (3) and the network's.
    public func start(
        rootfs: String, mounts: [Mount], scratch: [String] = [], environment: [String: String], workingDirectory: String,
        network: (StepNetwork, resolvConf: String)? = nil, prepared: (PreparedStepNetwork, resolvConf: String)? = nil,
        enclosing: (([String]) -> [String])? = nil, limits: StepEnforcement? = nil, driver: (String, at: String)? = nil, passing extra: [Int32] = [],
        command: [String], onLine: @escaping @Sendable (OutputStream, String) -> Void
    ) async throws -> Subprocess {
        var args = try arguments(rootfs: rootfs, mounts: mounts, scratch: scratch, environment: environment, workingDirectory: workingDirectory,
                                 network: network, prepared: prepared, driver: driver, command: command)
        if let enclosing { args = enclosing(args) }
        if let (net, _) = prepared { args = [net.helper, "--join-net", "4", "5", "--"] + args }
        if let limits { args = limits.wrapping(args) }
        let filter = try SeccompFilter.descriptor()
        defer { close(filter) }
        // The last lines on stderr: why the sandbox ended, should it end before the network is attached.
        let sandboxSaid = OutputTail(keep: 5)
        let process = try Subprocess(args, environment: ["PATH": "/usr/bin:/bin"], passing: [filter] + (network?.0.descriptors ?? prepared.map { [$0.0.userns, $0.0.netns] } ?? []) + extra) { stream, line in
            if stream == .stderr { sandboxSaid.append(line) }
            onLine(stream, line)
        }
        if let (net, _) = network { try await net.attach(to: process, sandboxSaid: sandboxSaid, log: onLine) }
        return process
    }
}
