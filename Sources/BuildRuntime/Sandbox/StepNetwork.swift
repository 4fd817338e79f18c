import CLinuxSyscalls
import Foundation

/// Gives a sandboxed step outbound access: bwrap makes the step's network namespace and waits
/// (`--block-fd`) after telling its pid (`--info-fd`); `slirp4netns` then joins the namespace
/// (through the step's user namespace, so it needs no privilege) and makes `tap0` there, which
/// `slipway-userns --configure-tap` gives 10.0.2.100/24 and a default route (DNS is at
/// 10.0.2.3); slirp4netns refuses connections to the host's
/// loopback (`--disable-host-loopback`: 10.0.2.2 leads nowhere, and 127.0.0.1 in the step is
/// its own). Only then does the step run. slirp4netns runs in a sandbox and seccomp filter of
/// its own and exits when the step does.
///
/// One instance serves one step. `bwrapArguments` go into the step's bwrap command line, and
/// `descriptors` are passed to the step's process as descriptors `firstDescriptor` and the next;
/// after spawning it, `attach(to:)` connects it and lets it run, and `detach()` ends it.
///
/// `@unchecked Sendable`: the descriptors are written once in `init`, each closed exactly once
/// (the child's ends by `attach`, the rest by `detach`), and the `slirp` process is set only by
/// `attach`; one step's task calls `attach` then `detach`, in that order.
public final class StepNetwork: @unchecked Sendable {
    /// The DNS server slirp4netns answers on, for the step's /etc/resolv.conf.
    public static let resolvConf = "nameserver 10.0.2.3\n"

    /// Why this machine cannot give a step the public network (slirp4netns is missing, or
    /// `/dev/net/tun` cannot be opened by this user); nil when it can.
    public static func unavailableReason() -> String? {
        if findExecutable("slirp4netns") == nil { return "slirp4netns is not installed (apt-get install slirp4netns)" }
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return "/dev/net/tun cannot be opened by uid \(getuid()): \(String(cString: strerror(errno)))" }
        close(fd)
        return nil
    }

    /// `folder/resolv.conf` naming slirp4netns's DNS server (written when missing): what a step
    /// with the public network sees at /etc/resolv.conf.
    public static func resolvConfFile(in folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let dir = try ConfinedDirectory(path: folder)
        if try dir.status("resolv.conf") == nil { try dir.createFile("resolv.conf", contents: Array(resolvConf.utf8)) }
        return folder + "/resolv.conf"
    }

    let slirp4netns: String
    /// `slipway-userns`, which configures tap0.
    let helper: String
    let firstDescriptor: Int32
    // [read, write] pairs, close-on-exec.
    private var info: [Int32] = [-1, -1]
    private var block: [Int32] = [-1, -1]
    private var slirp: Subprocess?
    /// What slirp4netns said (a dozen lines every time): the log gets it only when it fails.
    private let said = OutputTail(keep: 40)
    private var exitPipe: [Int32] = [-1, -1]

    /// Fails, saying why, where this machine cannot give the public network (`unavailableReason`).
    /// The step gets the pipes as descriptors `firstDescriptor` (info) and `firstDescriptor + 1`
    /// (block).
    public init(firstDescriptor: Int32, helper: String) throws {
        self.helper = helper
        if let why = Self.unavailableReason() {
            throw RuntimeError.unavailable("network \"public\" is not available here: \(why); build with network \"none\", or fix that")
        }
        guard let path = findExecutable("slirp4netns") else { throw RuntimeError.unavailable("slirp4netns is not installed (apt-get install slirp4netns)") }
        slirp4netns = path
        self.firstDescriptor = firstDescriptor
        guard slipway_pipe_cloexec(&info) == 0, slipway_pipe_cloexec(&block) == 0 else {
            throw RuntimeError.io("cannot create the network pipes: \(String(cString: strerror(errno)))")
        }
    }

    deinit { detachDescriptors() }

    /// The descriptors the step's process gets: bwrap's info (written) and block (read) ends.
    public var descriptors: [Int32] { [info[1], block[0]] }

    /// What bwrap needs to wait for the network.
    public var bwrapArguments: [String] { ["--info-fd", String(firstDescriptor), "--block-fd", String(firstDescriptor + 1)] }

    /// The step's sandbox closed its info descriptor without saying its pid: it ended before
    /// the step could start (the helper or bwrap failed, and said why on stderr).
    struct SandboxEnded: Error {}

    /// Attaches the network to `process` (just spawned with `descriptors`), off the cooperative
    /// pool; on failure, kills it, waits for it, logs what slirp4netns said, and throws. When the
    /// sandbox ended before the step started, the error says how it exited and what it said
    /// last on stderr (`sandboxSaid`, which the caller's line handler feeds).
    func attach(to process: Subprocess, sandboxSaid: OutputTail, log: @escaping @Sendable (OutputStream, String) -> Void) async throws {
        do {
            let (owner, netns) = try await BlockingWork.run { try self.startSlirp() }
            defer {
                close(owner)
                close(netns)
            }
            // tap0's address, route and MTU, set by Slipway's helper: slirp4netns's own
            // --configure would bring the loopback up too, racing bwrap, which sets it up in the
            // same namespace at the same time.
            try await Self.configureTap(helper: helper, owner: owner, netns: netns, loopback: false, said: said)
            try await BlockingWork.run { try self.unblock() }
        } catch is SandboxEnded {
            // Its info descriptor closed: it has exited (or is exiting), and its status and last
            // lines are what the failure is.
            let code = await process.wait()
            await detach()
            let why = sandboxSaid.lines.joined(separator: " | ")
            throw RuntimeError.buildFailed("the step's sandbox could not start (it exited with status \(code)): \(why.isEmpty ? "it said nothing on stderr" : why)")
        } catch {
            process.signal(SIGKILL)
            let code = await process.wait()
            await detach()
            for line in said.lines { log(.stderr, line) }
            // Where the sandbox ended on its own meanwhile, what it said (bwrap's or the helper's
            // message) is why.
            if let e = error as? RuntimeError, !sandboxSaid.lines.isEmpty {
                throw RuntimeError(e.kind, e.message + " (the step's sandbox exited with status \(code) and said: \(sandboxSaid.lines.joined(separator: " | ")))")
            }
            throw error
        }
    }

    /// Reads the step's pid from bwrap, starts slirp4netns in its namespaces and waits until it
    /// has made tap0 there. Returns descriptors of the namespaces' owner and of the network
    /// namespace (the caller closes them). Blocking.
    func startSlirp() throws -> (owner: Int32, netns: Int32) {
        close(info[1]); info[1] = -1
        close(block[0]); block[0] = -1
        // bwrap writes `{ "child-pid": N, … }` once the namespaces exist.
        var text = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 512)
        while !text.contains(UInt8(ascii: "}")) && text.count < 4096 {
            let n = buffer.withUnsafeMutableBytes { read(info[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            text += buffer[0..<n]
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text)) as? [String: Any], let pid = object["child-pid"] as? Int, pid > 0 else {  // not the JSON expected: said below
            guard !text.isEmpty else { throw SandboxEnded() }
            throw RuntimeError.io("the step's sandbox said something else than its pid on its info descriptor: \(PathSyntax.shortened(String(decoding: text, as: UTF8.self), limit: 200))")
        }
        // The step's network namespace, and the user namespace that owns it (bwrap may nest
        // another one below it for the step, to forbid further ones): slirp4netns joins that
        // owner, where it may enter the network namespace, by descriptor, so a pid reused
        // meanwhile leads nowhere.
        let netns = open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC)
        guard netns >= 0 else { throw RuntimeError.io("cannot open the step's network namespace: \(String(cString: strerror(errno)))") }
        let owner = slipway_owning_userns(netns)
        guard owner >= 0 else {
            close(netns)
            throw RuntimeError.io("cannot find the owner of the step's network namespace: \(String(cString: strerror(errno)))")
        }
        var handedOver = false
        defer { if !handedOver { close(owner); close(netns) } }
        let (process, exitWrite) = try Self.startSlirp(slirp4netns, owner: owner, netns: netns, said: said)
        slirp = process
        exitPipe = [-1, exitWrite]
        handedOver = true
        return (owner, netns)
    }

    /// Starts slirp4netns in the network namespace `netns` (through `owner`, the user namespace
    /// that owns it) and waits until it has made tap0 there; it exits when the returned exit
    /// descriptor is closed. What it says goes to `said`. Blocking.
    static func startSlirp(_ slirp4netns: String, owner: Int32, netns: Int32, said: OutputTail) throws -> (Subprocess, exitWrite: Int32) {
        var ready: [Int32] = [-1, -1]
        var exit: [Int32] = [-1, -1]
        guard slipway_pipe_cloexec(&ready) == 0 else { throw RuntimeError.io("cannot create the network pipes: \(String(cString: strerror(errno)))") }
        defer { close(ready[0]) }
        guard slipway_pipe_cloexec(&exit) == 0 else {
            close(ready[1])
            throw RuntimeError.io("cannot create the network pipes: \(String(cString: strerror(errno)))")
        }
        let args = [slirp4netns, "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp",
                    "--ready-fd=3", "--exit-fd=4", "--userns-path=/proc/self/fd/5", "--netns-type=path", "/proc/self/fd/6", "tap0"]
        let process: Subprocess
        do {
            process = try Subprocess(args, environment: ["PATH": "/usr/bin:/bin"], passing: [ready[1], exit[0], owner, netns]) { _, line in
                said.append("slirp4netns: " + line)
            }
        } catch {
            close(ready[1])
            close(exit[0])
            close(exit[1])
            throw error
        }
        close(ready[1])
        close(exit[0])
        var byte: UInt8 = 0
        var n: Int
        repeat { n = read(ready[0], &byte, 1) } while n < 0 && errno == EINTR
        guard n == 1 else {
            close(exit[1])
            throw RuntimeError.unavailable("slirp4netns could not give the step its network (see the lines above)")
        }
        return (process, exit[1])
    }

    /// Gives tap0 in `netns` its address, route and MTU (and with `loopback`, brings lo up),
    /// with Slipway's helper.
    static func configureTap(helper: String, owner: Int32, netns: Int32, loopback: Bool, said: OutputTail) async throws {
        let configure = try Subprocess([helper, "--configure-tap", "3", "4"] + (loopback ? ["--loopback"] : []), environment: ["PATH": "/usr/bin:/bin"],
                                       passing: [owner, netns]) { _, line in
            said.append(line)
        }
        guard await configure.wait() == 0 else { throw RuntimeError.unavailable("the step's network interface could not be configured (see the lines above)") }
    }

    /// Lets the step run. Blocking.
    func unblock() throws {
        var go: UInt8 = 1
        var n: Int
        repeat { n = write(block[1], &go, 1) } while n < 0 && errno == EINTR
        close(block[1]); block[1] = -1
        guard n == 1 else { throw RuntimeError.io("the step's sandbox went away before its network was ready") }
    }

    /// Stops slirp4netns (it exits when its exit pipe closes) and waits for it.
    public func detach() async {
        detachDescriptors()
        if let slirp { _ = await slirp.wait() }
    }

    private func detachDescriptors() {
        for fd in info + block + exitPipe where fd >= 0 { close(fd) }
        info = [-1, -1]
        block = [-1, -1]
        exitPipe = [-1, -1]
    }
}
