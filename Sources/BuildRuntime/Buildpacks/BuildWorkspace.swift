import Foundation

extension Lifecycle {
    /// One build's scratch space: host paths (for the sandbox's mounts) and the folders the
    /// host reads and writes, opened by descriptor.
    struct Workspace: Sendable {
        let root: String
        /// What the host sees of /workspace: the unpacked source, or with `overlay`, the
        /// overlay's upper folder (what the build wrote there).
        private(set) var app: ConfinedDirectory
        /// Set when /workspace is an overlay of the snapshot's trees.
        private(set) var overlay: WorkspaceOverlay?
        let layers: ConfinedDirectory
        let platform: ConfinedDirectory
        let io: ConfinedDirectory
        var appPath: String { root + "/workspace" }
        var layersPath: String { root + "/layers" }
        var platformPath: String { root + "/platform" }
        var ioPath: String { root + "/io" }

        /// Makes the folders afresh (removing what a previous attempt left), before any step
        /// runs, and gives the source to /workspace: as `overlay` when one is given, else
        /// unpacked.
        static func prepare(root: String, request: BuildRequest, sources: SourceSnapshotter, overlay: WorkspaceOverlay?) throws -> Workspace {
            try ConfinedDirectory.removeTree(atPath: root)
            let top = try ConfinedDirectory(path: root, create: true)
            func folder(_ name: String, _ shown: String) throws -> ConfinedDirectory {
                guard mkdirat(top.fd, name, 0o755) == 0 else { throw RuntimeError.io("cannot create the build's \(name) folder: \(String(cString: strerror(errno)))") }
                return try top.openDirectory(name).renamed(shown)
            }
            let workspace = try folder("workspace", "/workspace")
            var ws = Workspace(root: root, app: workspace, overlay: nil, layers: try folder("layers", "/layers"),
                               platform: try folder("platform", "/platform"), io: try folder("io", "/tmp/cnb-io"))
            if let overlay {
                ws.app = try folder("workspace.upper", "/workspace")
                _ = try folder("workspace.work", "the workspace overlay's work folder")
                ws.overlay = overlay
            } else {
                try sources.restore(request.source, into: workspace)
            }
            return ws
        }

        /// Removes the overlay's work folder once no step runs: overlayfs leaves a folder of
        /// mode 000 in it, which would stop a user who is not root from copying or removing the
        /// state directory with plain tools.
        func removeOverlayWork() {
            guard let overlay else { return }
            try? ConfinedDirectory.removeTree(atPath: overlay.work)  // scratch of a finished build: work/ is emptied at every start anyway
        }

        /// Unpacks the source after all (project.toml include or exclude removes paths, which
        /// the host does in an unpacked folder).
        mutating func unpack(_ request: BuildRequest, sources: SourceSnapshotter) throws {
            guard overlay != nil else { return }
            let workspace = try ConfinedDirectory(path: appPath, displayPath: "/workspace")
            try sources.restore(request.source, into: workspace)
            app = workspace
            overlay = nil
        }

        /// The folder to read the app's project.toml from: the workspace, or the topmost tree
        /// of the snapshot that has it.
        func projectFolder(_ sources: SourceSnapshotter) throws -> ConfinedDirectory? {
            guard let overlay else { return app }
            let trees = try SnapshotStore.ChainReader(store: sources.snapshots, layers: overlay.lowers.reversed())
            return trees.locate(ProjectDescriptor.fileName).map { $0.0 }
        }
        /// Writes what the platform gives buildpacks: the env files and project-metadata.toml.
        func writePlatformFiles(_ request: BuildRequest) throws {
            let env = try platform.makeDirectories("env")
            for (k, v) in request.env.sorted(by: { $0.key < $1.key }) {
                try env.createFile(k, contents: Array(v.utf8))
            }
            // Where the source came from, for buildpacks (platform spec: project-metadata.toml).
            try layers.createFile("project-metadata.toml", contents: Array(request.projectMetadata.toml.utf8))
        }

        /// Writes an inline buildpack of project.toml into a folder of its own; returns its path.
        func writeInline(_ bp: ProjectDescriptor.InlineBuildpack) throws -> String {
            let relative = "inline-buildpacks/" + BuildpackDescriptor.escape(bp.id)
            let dir = try ConfinedDirectory(path: root).makeDirectories(relative)
            _ = try dir.makeDirectories("bin")
            for file in bp.files { try dir.createFile(file.path, contents: Array(file.contents.utf8), mode: file.mode) }
            return root + "/" + relative
        }

        /// Reads the app's project.toml, if it has one, and unpacks /workspace when the host
        /// must see the app's files: for include or exclude, and for buildpacks in the app.
        mutating func readProjectDescriptor(_ request: BuildRequest, sources: SourceSnapshotter, log: BuildLogger) throws -> ProjectDescriptor? {
            guard let folder = try projectFolder(sources), let project = try ProjectDescriptor.load(from: folder) else { return nil }
            let shown = [project.info.name ?? project.info.id, project.info.version].compactMap { $0 }.joined(separator: " ")
            log(BuildPhase.prepare, .system, "Reading project.toml (schema \(project.schemaVersion))" + (shown.isEmpty ? "" : ": " + shown))
            if let builder = project.builder {
                log(BuildPhase.prepare, .system, "project.toml names builder \(builder); the image's builder is used")
            }
            let filters = !(project.include.isEmpty && project.exclude.isEmpty)
            if overlay != nil && (filters || project.namesBuildpacksInApp) {
                try unpack(request, sources: sources)
                log(BuildPhase.prepare, .system, filters ? "project.toml \(project.include.isEmpty ? "exclude" : "include") needs /workspace unpacked: unpacked it"
                                                         : "project.toml names buildpacks in the app, which the host reads from /workspace: unpacked it")
            }
            return project
        }

        /// Applies the app's project.toml: include or exclude on the workspace, build env (the
        /// image's own env wins), and its group (with the buildpacks `fetched` brought in for
        /// it) in place of the builder's order.
        func applyProjectDescriptor(_ project: ProjectDescriptor, fetched: [Int: BuildpackRef], to request: inout BuildRequest, log: BuildLogger) throws {
            let removed = try project.filter(app)
            if removed > 0 {
                log(BuildPhase.prepare, .system, "project.toml \(project.include.isEmpty ? "exclude" : "include"): \(removed) path(s) left out of /workspace")
            }
            for e in project.buildEnv where request.env[e.name] == nil {
                request.env[e.name] = e.value
                log(BuildPhase.prepare, .system, "project.toml build env: \(e.name)")
            }
            if let group = try project.resolveGroup(against: request.order, fetched: fetched, inlineFolder: writeInline) {
                request.order = [group]
                log(BuildPhase.prepare, .system, "project.toml group replaces the builder's order: " + group.map { "\($0.descriptor.id)@\($0.descriptor.version)" }.joined(separator: ", "))
            }
        }

        /// A new, empty I/O folder for one step: its path in the sandbox (under /tmp/cnb-io,
        /// where the I/O folder is mounted) and its handle.
        func freshIO(_ name: String) throws -> (String, ConfinedDirectory) {
            try io.remove(name)
            guard mkdirat(io.fd, name, 0o755) == 0 else { throw RuntimeError.io("cannot create the step's I/O folder: \(String(cString: strerror(errno)))") }
            let inside = StepRunner.ioPath + "/" + name
            return (inside, try io.openDirectory(name).renamed(inside))
        }
    }
}
