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

/// What buildpack steps (detect or build) run with: the platform's mounts and environment,
/// each buildpack's environment, and the sandbox of a phase (`startPhase`) where they run.
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

    /// Starts the sandbox of one phase, where `buildpacks` run their steps one after another
    /// (`PhaseSandbox`), with the I/O folder at /tmp/cnb-io (each step gets a fresh folder in it).
    func startPhase(_ phase: BuildPhase, buildpacks: [BuildpackRef], appWritable: Bool) async throws -> PhaseSandbox {
        var mounts = [
            SandboxRunner.Mount(workspace.appPath, at: "/workspace", writable: appWritable),
            SandboxRunner.Mount(workspace.layersPath, at: "/layers", writable: phase == .build),
            SandboxRunner.Mount(workspace.platformPath, at: "/platform", writable: false),
            SandboxRunner.Mount(workspace.ioPath, at: Self.ioPath, writable: true),
        ]
        for bp in buildpacks where !mounts.contains(where: { $0.sandboxPath == buildpackPath(bp.descriptor) }) {
            mounts.append(SandboxRunner.Mount(bp.directory, at: buildpackPath(bp.descriptor), writable: false))
        }
        // The home folder of the stack's user: fresh, empty and writable in the read-only root.
        let scratch = home.hasPrefix("/tmp") ? [] : [home]
        // The public network: one made ahead (StepNetworkPool), for this phase only.
        var network: (PreparedStepNetwork, resolvConf: String)?
        if request.publicNetwork {
            network = (try await StepNetworkPool.shared.take(helper: request.userNamespaceHelper), try StepNetwork.resolvConfFile(in: request.workDirectory + "/network"))
        }
        do {
            return try await PhaseSandbox.start(phase: phase, sandbox: sandbox, rootfs: rootfs, mounts: mounts, scratch: scratch, network: network,
                                                overlay: workspace.overlay, limits: limits, helper: request.userNamespaceHelper, log: log)
        } catch {
            await network?.0.end()
            throw error
        }
    }
}
