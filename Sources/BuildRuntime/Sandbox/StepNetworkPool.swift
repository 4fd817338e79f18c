import CLinuxSyscalls
import Foundation

/// A step's public network made before the step: a user namespace and the network namespace it
/// owns, held by `slipway-userns --hold-net`, with slirp4netns joined to it and tap0 and the
/// loopback configured. A buildpack step's sandbox joins it (`slipway-userns --join-net`) and
/// unshares every other namespace; one network serves one step, and is then ended, so no two
/// steps, builds or tenants ever share one.
///
/// `@unchecked Sendable`: the descriptors and processes are set once in `make` and only read
/// after; `end()` closes the descriptors once (`ended` is read and written under `lock`).
public final class PreparedStepNetwork: @unchecked Sendable {
    /// The `slipway-userns` that made it, which the step's sandbox runs under to join it.
    let helper: String
    let holder: Subprocess
    let slirp: Subprocess
    /// Descriptors of the held user and network namespaces, passed to the step's helper.
    let userns: Int32
    let netns: Int32
    private let slirpExit: Int32
    private let lock = NSLock()
    private var ended = false

    private init(helper: String, holder: Subprocess, slirp: Subprocess, userns: Int32, netns: Int32, slirpExit: Int32) {
        self.helper = helper
        self.holder = holder
        self.slirp = slirp
        self.userns = userns
        self.netns = netns
        self.slirpExit = slirpExit
    }

    /// Whether its processes still run (a pooled network whose slirp4netns died is no use).
    var isAlive: Bool { !holder.hasExited && !slirp.hasExited }

    /// Makes one, with the `helper` (`slipway-userns`); off the cooperative pool.
    static func make(helper: String) async throws -> PreparedStepNetwork {
        if let why = StepNetwork.unavailableReason() {
            throw RuntimeError.unavailable("network \"public\" is not available here: \(why); build with network \"none\", or fix that")
        }
        guard let slirp4netns = findExecutable("slirp4netns") else { throw RuntimeError.unavailable("slirp4netns is not installed (apt-get install slirp4netns)") }
        let said = OutputTail(keep: 40)
        /// The error, with what the helper and slirp4netns said.
        func failure(_ error: Error) -> Error {
            guard let e = error as? RuntimeError, !said.lines.isEmpty else { return error }
            return RuntimeError(e.kind, e.message + ": " + said.lines.joined(separator: " | "))
        }
        let (holder, userns, netns) = try await BlockingWork.run { try Self.hold(helper: helper, said: said) }
        let slirp: Subprocess, exit: Int32
        do {
            (slirp, exit) = try await BlockingWork.run { try StepNetwork.startSlirp(slirp4netns, owner: userns, netns: netns, said: said) }
        } catch {
            holder.signal(SIGKILL)
            close(userns)
            close(netns)
            _ = await holder.wait()
            throw failure(error)
        }
        let network = PreparedStepNetwork(helper: helper, holder: holder, slirp: slirp, userns: userns, netns: netns, slirpExit: exit)
        do {
            try await StepNetwork.configureTap(helper: helper, owner: userns, netns: netns, loopback: true, said: said)
        } catch {
            await network.end()
            throw failure(error)
        }
        return network
    }

    /// Starts the holder and opens its namespaces. Blocking.
    private static func hold(helper: String, said: OutputTail) throws -> (Subprocess, userns: Int32, netns: Int32) {
        var ready: [Int32] = [-1, -1]
        guard slipway_pipe_cloexec(&ready) == 0 else { throw RuntimeError.io("cannot create a pipe: \(String(cString: strerror(errno)))") }
        defer { close(ready[0]) }
        let holder: Subprocess
        do {
            holder = try Subprocess([helper, "--hold-net", "3"], environment: ["PATH": "/usr/bin:/bin"], passing: [ready[1]]) { _, line in said.append(line) }
        } catch {
            close(ready[1])
            throw error
        }
        close(ready[1])
        var byte: UInt8 = 0
        var n: Int
        repeat { n = read(ready[0], &byte, 1) } while n < 0 && errno == EINTR
        var userns: Int32 = -1, netns: Int32 = -1
        if n == 1 {
            // By the holder's pid, which is its own until it is reaped: only this object reaps it.
            userns = open("/proc/\(holder.pid)/ns/user", O_RDONLY | O_CLOEXEC)
            netns = open("/proc/\(holder.pid)/ns/net", O_RDONLY | O_CLOEXEC)
        }
        guard userns >= 0, netns >= 0 else {
            if userns >= 0 { close(userns) }
            if netns >= 0 { close(netns) }
            holder.signal(SIGKILL)
            throw RuntimeError.unavailable("the step network's namespaces could not be made")
        }
        return (holder, userns, netns)
    }

    /// Ends it: slirp4netns exits when its exit descriptor closes, the holder is killed, and
    /// both are waited for.
    func end() async {
        let first = lock.withLock { () -> Bool in
            defer { ended = true }
            return !ended
        }
        guard first else { return }
        close(slirpExit)
        close(userns)
        close(netns)
        holder.signal(SIGKILL)
        _ = await slirp.wait()
        _ = await holder.wait()
    }

    deinit {
        if !ended {
            close(slirpExit)
            close(userns)
            close(netns)
            holder.signal(SIGKILL)
        }
    }
}

/// Keeps a few step networks made ahead, per helper, so that a step with the public network
/// does not wait for slirp4netns to start: taking one is a lookup, and another is made in the
/// background to take its place. Each is used by one step only (`PreparedStepNetwork`). An
/// engine that never builds with the public network makes none.
public actor StepNetworkPool {
    public static let shared = StepNetworkPool()

    /// How many are kept ready: a build's detect and build phases each take one.
    let readyCount = 2
    private var ready: [String: [PreparedStepNetwork]] = [:]
    private var making: [String: Int] = [:]

    /// A network for one step: a ready one, or one made now (whose failure says why).
    public func take(helper: String) async throws -> PreparedStepNetwork {
        while var list = ready[helper], let network = list.popLast() {
            ready[helper] = list
            if network.isAlive {
                refill(helper)
                return network
            }
            Task { await network.end() }
        }
        let network = try await PreparedStepNetwork.make(helper: helper)
        refill(helper)
        return network
    }

    /// Starts making what is missing from `readyCount`; one that fails is not kept (the next
    /// `take` makes one itself and reports the failure).
    private func refill(_ helper: String) {
        let missing = readyCount - (ready[helper]?.count ?? 0) - (making[helper] ?? 0)
        guard missing > 0 else { return }
        making[helper, default: 0] += missing
        for _ in 0..<missing {
            Task {
                let network = try? await PreparedStepNetwork.make(helper: helper)  // a failure is reported by the take that needs one
                self.made(network, helper: helper)
            }
        }
    }

    private func made(_ network: PreparedStepNetwork?, helper: String) {
        making[helper, default: 1] -= 1
        if let network { ready[helper, default: []].append(network) }
    }
}
