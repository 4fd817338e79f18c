import Foundation

/// PREPARE: makes the build's sandbox and scratch space, gives the source to /workspace (an
/// overlay of the snapshot's trees, or unpacked), applies the app's project.toml to the request,
/// writes the platform files, and unpacks the build image's root filesystem.
struct PreparePhase {
    /// Its stores and workspace mode.
    let lifecycle: Lifecycle
    let request: BuildRequest
    let buildImage: OCIImage
    let log: BuildLogger

    /// What prepare gives the later phases.
    struct Prepared {
        /// The request as the app's project.toml changed it.
        var request: BuildRequest
        var workspace: Lifecycle.Workspace
        var sandbox: SandboxRunner
        /// The build image's unpacked root filesystem, every step's root.
        var rootfs: String
    }

    func run() async throws -> Prepared {
        let given = request, images = lifecycle.images, sources = lifecycle.sources, buildImage = self.buildImage, log = self.log
        let uid = Int(buildImage.config.env("CNB_USER_ID") ?? "") ?? 1000
        let gid = Int(buildImage.config.env("CNB_GROUP_ID") ?? "") ?? 1000
        let sandbox = try SandboxRunner(uid: uid, gid: gid, tmpfsBytes: given.stepLimits.memoryBytes)

        let overlay = try await lifecycle.workspaceOverlay(for: given, log: log)
        let prepared = try await BlockingWork.run { try Lifecycle.Workspace.prepare(root: given.workDirectory, request: given, sources: sources, overlay: overlay) }
        if let o = prepared.overlay {
            log(BuildPhase.prepare, .system, "Source snapshot \(given.source) mounted at \"/workspace\" (an overlay of \(o.lowers.count) shared tree(s); nothing unpacked)")
        } else {
            log(BuildPhase.prepare, .system, "Source snapshot \(given.source) unpacked in \"/workspace\"")
        }
        let (project, ws) = try await BlockingWork.run {
            var ws = prepared
            return (try ws.readProjectDescriptor(given, sources: sources, log: log), ws)
        }
        let fetched = try await projectBuildpacks(project, workspace: ws)
        let request = try await BlockingWork.run {
            var r = given
            if let project { try ws.applyProjectDescriptor(project, fetched: fetched, to: &r, log: log) }
            try ws.writePlatformFiles(r)
            return r
        }
        do {
            let rootfs = try await BlockingWork.run { try images.rootfs(for: buildImage) }
            log(BuildPhase.prepare, .system, "Build image \(buildImage.manifestDigest.short) ready; sandbox user \(uid):\(gid)")
            try Task.checkCancellation()
            return Prepared(request: request, workspace: ws, sandbox: sandbox, rootfs: rootfs)
        } catch {
            ws.removeOverlayWork()
            throw error
        }
    }

    /// The buildpacks `project`'s group names by uri, by the entry's index, brought in before
    /// include or exclude leaves them out of /workspace (pack reads them from the app folder).
    func projectBuildpacks(_ project: ProjectDescriptor?, workspace ws: Lifecycle.Workspace) async throws -> [Int: BuildpackRef] {
        guard let group = project?.group else { return [:] }
        var roots = ["/workspace"]
        if let source = request.projectMetadata.source, source.type == "local", case .string(let path)? = source.metadata["path"] { roots.append(path) }
        return try await ProjectBuildpacks.forBuild(request, app: ws.app, appRoots: roots, images: lifecycle.images, root: ws.root + "/project-buildpacks",
                                                    limits: lifecycle.sources.limits, log: log).fetch(group)
    }
}
