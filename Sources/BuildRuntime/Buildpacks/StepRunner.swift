import Foundation

/// Turns a refused path in a tree a buildpack wrote into a build failure that names the
/// buildpack and the path.
func confined<T>(_ d: BuildpackDescriptor, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ConfinedPathError {
        throw RuntimeError.buildFailed(
            "buildpack \(d.id)@\(d.version) left something Slipway will not use: \(e). Layers, layer metadata (*.toml), env and exec.d files must be real files and folders; Slipway never follows a symlink a build step made")
    }
}

/// Runs one buildpack step (detect or build) in the sandbox, with the platform's mounts and
/// environment, and keeps the last lines it printed.
struct StepRunner {
    let sandbox: SandboxRunner
    let rootfs: String
    let workspace: Lifecycle.Workspace
    let request: BuildRequest
    let buildImage: OCIImage
    /// What holds each step to the build's limits; nil for none.
    let limits: StepEnforcement?
    let log: BuildLogger

    /// HOME of every step: the stack user's home from the build image's /etc/passwd, else /tmp.
    var home: String { SandboxRunner.home(ofUser: sandbox.uid, inRootfs: rootfs) ?? "/tmp" }

    static let ioPath = "/tmp/cnb-io"
    /// Largest TOML or env file the host reads from a step (plans, layer metadata, launch.toml).
    static let maxMetadataBytes = 1 << 20

    var baseEnvironment: [String: String] {
        var env: [String: String] = [:]
        for e in buildImage.config.config.Env ?? [] {
            if let eq = e.firstIndex(of: "=") { env[String(e[..<eq])] = String(e[e.index(after: eq)...]) }
        }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        env["HOME"] = home
        env["CNB_PLATFORM_DIR"] = "/platform"
        env["CNB_STACK_ID"] = request.stackID
        env["CNB_TARGET_OS"] = buildImage.config.os
        env["CNB_TARGET_ARCH"] = buildImage.config.architecture
        return env
    }

    func buildpackPath(_ d: BuildpackDescriptor) -> String { "/cnb/buildpacks/\(d.escapedID)/\(d.version)" }

    func environment(for bp: BuildpackRef, extra: [String: String]) -> [String: String] {
        var env = baseEnvironment
        if !bp.descriptor.clearEnv {
            for (k, v) in request.env { env[k] = v }
        }
        env["CNB_BUILDPACK_DIR"] = buildpackPath(bp.descriptor)
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs one step with `io` (a fresh host folder) at /tmp/cnb-io; returns its exit code
    /// and its last lines of output.
    func run(_ bp: BuildpackRef, phase: BuildPhase, io: String, command: [String], env: [String: String], appWritable: Bool) async throws -> (Int32, [String]) {
        let mounts = [
            SandboxRunner.Mount(workspace.appPath, at: "/workspace", writable: appWritable),
            SandboxRunner.Mount(workspace.layersPath, at: "/layers", writable: phase == .build),
            SandboxRunner.Mount(workspace.platformPath, at: "/platform", writable: false),
            SandboxRunner.Mount(bp.directory, at: buildpackPath(bp.descriptor), writable: false),
            SandboxRunner.Mount(io, at: Self.ioPath, writable: true),
        ]
        let tail = OutputTail()
        let log = self.log
        // The home folder of the stack's user: fresh, empty and writable in the read-only root.
        let scratch = home.hasPrefix("/tmp") ? [] : [home]
        // The public network: one made ahead (StepNetworkPool), for this step only.
        var network: (PreparedStepNetwork, resolvConf: String)?
        if request.publicNetwork {
            network = (try await StepNetworkPool.shared.take(helper: request.userNamespaceHelper), try StepNetwork.resolvConfFile(in: request.workDirectory + "/network"))
        }
        let joined = network != nil
        let overlay = workspace.overlay
        let process: Subprocess
        do {
            process = try await sandbox.start(rootfs: rootfs, mounts: mounts, scratch: scratch, environment: env, workingDirectory: "/workspace",
                                              prepared: network, enclosing: overlay.map { o in { o.enclosing($0, inNetworkNamespace: joined) } },
                                              limits: limits, command: command) { stream, line in
                log(phase, stream == .stdout ? .stdout : .stderr, line)
                tail.append(line)
            }
        } catch {
            await network?.0.end()
            throw error
        }
        let code = await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            process.signal(SIGKILL)
        }
        // Ended off the step's path: the next step does not wait for slirp4netns to exit.
        if let used = network?.0 { Task { await used.end() } }
        try Task.checkCancellation()
        return (code, tail.lines)
    }
}
