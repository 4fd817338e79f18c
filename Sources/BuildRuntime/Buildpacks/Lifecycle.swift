import Foundation
import Synchronization

/// The phases of a buildpacks build, in the order they run and are logged.
public enum BuildPhase: String, Sendable, Codable, CaseIterable {
    case prepare, detect, analyze, restore, build, export, completion
}

/// Where a log line came from: the step's stdout or stderr, or the lifecycle itself.
public enum LogStream: String, Sendable, Codable {
    case stdout, stderr, system
}

/// Receives every log line of a build, in order.
public typealias BuildLogger = @Sendable (_ phase: String, _ stream: LogStream, _ line: String) -> Void

/// A buildpack available to a build: its descriptor, the folder it lives in, and whether its
/// group may do without it.
public struct BuildpackRef: Sendable, Equatable {
    public var descriptor: BuildpackDescriptor
    public var directory: String
    public var optional: Bool
    public init(descriptor: BuildpackDescriptor, directory: String, optional: Bool) {
        self.descriptor = descriptor
        self.directory = directory
        self.optional = optional
    }
}

/// Everything one buildpacks build needs.
public struct BuildRequest: Sendable {
    public var workDirectory: String
    public var cacheDirectory: String
    public var source: Digest
    public var env: [String: String]
    /// The stack's images: a buildpacks build has both; a Dockerfile build has none.
    public var buildImage: OCIImage?
    public var runImage: OCIImage?
    public var runImageName: String
    public var stackID: String
    public var order: [[BuildpackRef]]
    public var outputLayout: String
    public var outputTag: String
    /// How logs name where the image goes: the image's tag as the user gave it.
    public var outputName: String
    public var launcherPath: String
    /// The launcher's version, for the `io.buildpacks.build.metadata` label.
    public var launcherVersion: String = "unknown"
    /// Where the source came from: `<layers>/project-metadata.toml` and its label.
    public var projectMetadata = ProjectMetadata(source: nil)
    /// Set for a rebase: the image it starts from (then no buildpack runs).
    public var rebase: RebaseBase?
    /// Set for a Dockerfile build (then there is no stack and no buildpack).
    public var dockerfile: DockerfileInputs?
    /// Whether buildpacks (detect, build) and RUN steps get outbound network access
    /// (`StepNetwork`); else a network namespace with only its own loopback.
    public var publicNetwork = false
    /// `slipway-userns` (beside the launcher), which configures a step's public network.
    public var userNamespaceHelper = ""
    /// The most bytes one layer a step makes may hold (`--max-layer-bytes`).
    public var maxLayerBytes: Int64 = 10 << 30
    /// What was left of the namespace's storage quota when the build started (nil: no quota):
    /// the layers the build writes take from it as they are written.
    public var storageBytesLeft: Int64?
    /// `--allow-add-host` entries: what a Dockerfile build's ADD may fetch from though
    /// `OutboundAddressPolicy` refuses it otherwise.
    public var addHostAllowList: [String] = []
    /// What the build's steps may use (`StepEnforcement` holds them to it).
    public var stepLimits = StepLimits()

    public init(workDirectory: String, cacheDirectory: String, source: Digest, env: [String: String], buildImage: OCIImage?,
                runImage: OCIImage?, runImageName: String, stackID: String, order: [[BuildpackRef]], outputLayout: String,
                outputTag: String, outputName: String, launcherPath: String, launcherVersion: String = "unknown",
                projectMetadata: ProjectMetadata = ProjectMetadata(source: nil), rebase: RebaseBase? = nil)
    {
        self.launcherVersion = launcherVersion
        self.projectMetadata = projectMetadata
        self.rebase = rebase
        self.workDirectory = workDirectory
        self.cacheDirectory = cacheDirectory
        self.source = source
        self.env = env
        self.buildImage = buildImage
        self.runImage = runImage
        self.runImageName = runImageName
        self.stackID = stackID
        self.order = order
        self.outputLayout = outputLayout
        self.outputTag = outputTag
        self.outputName = outputName
        self.launcherPath = launcherPath
    }
}

/// What a successful build produced.
public struct BuildResult: Sendable, Equatable {
    public var imageDigest: Digest
    public var buildpacks: [BuildpackDescriptor]
    public var runImageDigest: Digest
    public var processes: [LaunchProcess]
    public var layersAdded: Int
    public var layersReused: Int
    /// `host/repo@sha256:…` when the image was pushed to a registry after export.
    public var pushedReference: String?
    /// A Dockerfile build's FROM images: each name and the manifest digest it resolved to.
    public var bases: [String: String] = [:]

    public init(imageDigest: Digest, buildpacks: [BuildpackDescriptor], runImageDigest: Digest, processes: [LaunchProcess], layersAdded: Int,
                layersReused: Int, pushedReference: String? = nil) {
        self.imageDigest = imageDigest
        self.buildpacks = buildpacks
        self.runImageDigest = runImageDigest
        self.processes = processes
        self.layersAdded = layersAdded
        self.layersReused = layersReused
        self.pushedReference = pushedReference
    }
}

/// Runs the Cloud Native Buildpacks lifecycle — prepare, detect, analyze, restore, build,
/// export, completion — with every buildpack process inside the sandbox, and writes the result
/// as an OCI image.
///
/// Everything a step could write (layers, workspace, plan and I/O folders, the cache) is read
/// and written by the host only through `ConfinedDirectory`; blocking work runs on threads of
/// its own (`BlockingWork`).
public struct Lifecycle: Sendable {
    public let images: ImageStore
    public let sources: SourceSnapshotter
    public let workspace: WorkspaceMode

    public init(images: ImageStore, sources: SourceSnapshotter, workspace: WorkspaceMode = .overlay) {
        self.images = images
        self.sources = sources
        self.workspace = workspace
    }

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

        /// Reads the app's project.toml and applies it: include or exclude on the workspace
        /// (unpacked for it), build env (the image's own env wins), and its group in place of
        /// the builder's order.
        mutating func applyProjectDescriptor(to request: inout BuildRequest, sources: SourceSnapshotter, log: BuildLogger) throws {
            guard let folder = try projectFolder(sources), let project = try ProjectDescriptor.load(from: folder) else { return }
            let shown = [project.info.name ?? project.info.id, project.info.version].compactMap { $0 }.joined(separator: " ")
            log(BuildPhase.prepare.rawValue, .system, "Reading project.toml (schema \(project.schemaVersion))" + (shown.isEmpty ? "" : ": " + shown))
            if let builder = project.builder {
                log(BuildPhase.prepare.rawValue, .system, "project.toml names builder \(builder); the image's builder is used")
            }
            if overlay != nil && !(project.include.isEmpty && project.exclude.isEmpty) {
                try unpack(request, sources: sources)
                log(BuildPhase.prepare.rawValue, .system, "project.toml \(project.include.isEmpty ? "exclude" : "include") needs /workspace unpacked: unpacked it")
            }
            let removed = try project.filter(app)
            if removed > 0 {
                log(BuildPhase.prepare.rawValue, .system, "project.toml \(project.include.isEmpty ? "exclude" : "include"): \(removed) path(s) left out of /workspace")
            }
            for e in project.buildEnv where request.env[e.name] == nil {
                request.env[e.name] = e.value
                log(BuildPhase.prepare.rawValue, .system, "project.toml build env: \(e.name)")
            }
            if let group = try project.resolveGroup(against: request.order, inlineFolder: writeInline) {
                request.order = [group]
                log(BuildPhase.prepare.rawValue, .system, "project.toml group replaces the builder's order: " + group.map { "\($0.descriptor.id)@\($0.descriptor.version)" }.joined(separator: ", "))
            }
        }

        /// A new, empty I/O folder for one step: its host path (mounted at /tmp/cnb-io) and handle.
        func freshIO(_ name: String) throws -> (String, ConfinedDirectory) {
            try io.remove(name)
            guard mkdirat(io.fd, name, 0o755) == 0 else { throw RuntimeError.io("cannot create the step's I/O folder: \(String(cString: strerror(errno)))") }
            return (ioPath + "/" + name, try io.openDirectory(name).renamed(StepRunner.ioPath))
        }
    }

    /// Runs the build with its steps held to `stepLimits` (by `slipway-userns`; without it,
    /// only the steps' tmpfs are).
    public func run(_ given: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        log(BuildPhase.prepare.rawValue, .system, "===> PREPARE")
        guard !given.userNamespaceHelper.isEmpty else { return try await run(given, limits: nil, log: log) }
        return try await StepEnforcement.during(given.stepLimits, helper: given.userNamespaceHelper, log: { log(BuildPhase.prepare.rawValue, .system, $0) }) {
            try await run(given, limits: $0, log: log)
        }
    }

    func run(_ given: BuildRequest, limits: StepEnforcement?, log: @escaping BuildLogger) async throws -> BuildResult {
        guard let buildImage = given.buildImage, let runImage = given.runImage else {
            throw RuntimeError.invalid("a buildpacks build needs its stack's build and run images")
        }
        let uid = Int(buildImage.config.env("CNB_USER_ID") ?? "") ?? 1000
        let gid = Int(buildImage.config.env("CNB_GROUP_ID") ?? "") ?? 1000
        let sandbox = try SandboxRunner(uid: uid, gid: gid, tmpfsBytes: given.stepLimits.memoryBytes)
        let images = self.images, sources = self.sources

        // PREPARE
        let overlay = try await workspaceOverlay(for: given, log: log)
        let prepared = try await BlockingWork.run { try Workspace.prepare(root: given.workDirectory, request: given, sources: sources, overlay: overlay) }
        if let o = prepared.overlay {
            log(BuildPhase.prepare.rawValue, .system, "Source snapshot \(given.source) mounted at \"/workspace\" (an overlay of \(o.lowers.count) shared tree(s); nothing unpacked)")
        } else {
            log(BuildPhase.prepare.rawValue, .system, "Source snapshot \(given.source) unpacked in \"/workspace\"")
        }
        // The request as the app's project.toml changes it.
        let (request, ws) = try await BlockingWork.run {
            var r = given, ws = prepared
            try ws.applyProjectDescriptor(to: &r, sources: sources, log: log)
            try ws.writePlatformFiles(r)
            return (r, ws)
        }
        defer { ws.removeOverlayWork() }
        let rootfs = try await BlockingWork.run { try images.rootfs(for: buildImage) }
        log(BuildPhase.prepare.rawValue, .system, "Build image \(buildImage.manifestDigest.short) ready; sandbox user \(uid):\(gid)")
        try Task.checkCancellation()

        let runner = StepRunner(sandbox: sandbox, rootfs: rootfs, workspace: ws, request: request, buildImage: buildImage, limits: limits, log: log)

        // DETECT
        log(BuildPhase.detect.rawValue, .system, "===> DETECT")
        let (group, plans) = try await runner.detect()

        // ANALYZE
        log(BuildPhase.analyze.rawValue, .system, "===> ANALYZE")
        let layout = try OCILayout(path: request.outputLayout, create: true)
        // No previous image is a normal first build; one that cannot be read is treated the same.
        let previous = try? layout.image(tag: request.outputTag)
        if let previous {
            log(BuildPhase.analyze.rawValue, .system, "Previous image with name \"\(request.outputName)\" found: \(previous.manifestDigest)")
        } else {
            log(BuildPhase.analyze.rawValue, .system, "Previous image with name \"\(request.outputName)\" not found")
        }

        // Layer metadata of the previous image: a buildpack that finds its launch layer's .toml
        // may keep it without rebuilding the layer, and export then reuses the layer as it was.
        let previousLayers = previous.map(PreviousLayers.init) ?? PreviousLayers()
        for d in group.map(\.descriptor) {
            for (name, layer) in (previousLayers.layers[d.id] ?? [:]).sorted(by: { $0.key < $1.key }) where ArchiveExtractor.isNormalComponent(name) {
                let dir = try ws.layers.makeDirectories(d.escapedID)
                // Metadata only, no [types] (Buildpack API 0.6 and later): a layer the buildpack
                // does not flag again is neither exported nor cached.
                let toml = TOMLTable([("metadata", .table(layer.metadata))])
                try dir.createFile(name + ".toml", contents: Array(TOMLWriter.write(toml).utf8))
                log(BuildPhase.analyze.rawValue, .system, "Restoring metadata for layer '\(d.id):\(name)' from the previous image")
            }
        }

        // RESTORE
        log(BuildPhase.restore.rawValue, .system, "===> RESTORE")
        let cache = LayerCache(directory: request.cacheDirectory)
        let descriptors = group.map(\.descriptor)
        for restored in try await BlockingWork.run({ try cache.restore(into: ws.layers, buildpacks: descriptors) }) {
            log(BuildPhase.restore.rawValue, .system, "Restoring data for layer '\(restored)' from cache")
        }
        try Task.checkCancellation()

        // BUILD
        log(BuildPhase.build.rawValue, .system, "===> BUILD")
        let built = try await runner.build(group: group, plans: plans, previous: previousLayers)

        // EXPORT
        log(BuildPhase.export.rawValue, .system, "===> EXPORT")
        let exporter = Exporter(images: images, sources: sources, layout: layout, workspace: ws, request: request, buildImage: buildImage,
                                runImage: runImage, previous: previous, log: log)
        let result = try await BlockingWork.run { try exporter.export(group: descriptors, built: built) }
        for saved in try await BlockingWork.run({ try cache.save(from: ws.layers, buildpacks: descriptors, cached: built.cachedLayers) }) {
            log(BuildPhase.export.rawValue, .system, "Adding cache layer '\(saved)'")
        }

        // COMPLETION
        log(BuildPhase.completion.rawValue, .system, "===> COMPLETION")
        log(BuildPhase.completion.rawValue, .system, "Build successful")
        return result
    }
}

extension Lifecycle {
    /// The overlay /workspace of `request` gets; nil (unpacked) with `--workspace unpack`, for a
    /// snapshot without trees, or where overlayfs cannot be mounted (the log says why, once per
    /// build).
    func workspaceOverlay(for request: BuildRequest, log: BuildLogger) async throws -> WorkspaceOverlay? {
        guard workspace == .overlay, !request.userNamespaceHelper.isEmpty else { return nil }
        if let why = await WorkspaceOverlay.unavailableReason(helper: request.userNamespaceHelper,
                                                              scratch: URL(fileURLWithPath: request.workDirectory).deletingLastPathComponent().path) {
            log(BuildPhase.prepare.rawValue, .system, "overlayfs cannot be mounted here (\(why)): the source is unpacked into /workspace, which is slower")
            return nil
        }
        return WorkspaceOverlay(snapshot: request.source, store: sources.snapshots, root: request.workDirectory, helper: request.userNamespaceHelper)
    }
}

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

/// The outcome of the build phase that export needs.
struct BuiltLayers {
    /// Per buildpack id, the layer names to export (launch = true), sorted.
    var launchLayers: [String: [String]] = [:]
    /// Per buildpack id, layer metadata tables by layer name.
    var layerMetadata: [String: [String: TOMLTable]] = [:]
    /// "id:layer" keys of layers to keep in the cache.
    var cachedLayers: Set<String> = []
    var processes: [LaunchProcess] = []
    var labels: [String: String] = [:]
    /// "id:layer" → the previous image's layer, for launch layers kept without being rebuilt.
    var reusedLayers: [String: OCIDescriptor] = [:]
    /// App-layer slices the buildpacks declared, in their order.
    var slices = AppSlices()
}

/// The launch layers of the previous image, by buildpack id and layer name, from its
/// `io.buildpacks.lifecycle.metadata` label.
struct PreviousLayers {
    struct Layer {
        var descriptor: OCIDescriptor
        var metadata: TOMLTable
    }
    var layers: [String: [String: Layer]] = [:]

    init() {}

    init(_ image: OCIImage) {
        guard let metadata = ImageLabels.decode(LifecycleMetadata.self, image.config.config.Labels?[ImageLabels.lifecycleMetadata]) else { return }
        for bp in metadata.buildpacks {
            for (name, info) in bp.layers {
                guard let descriptor = image.manifest.layers.first(where: { $0.digest.string == info.sha }) else { continue }
                let data = TOMLTable((info.data ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value.toml) })
                layers[bp.key, default: [:]][name] = Layer(descriptor: descriptor, metadata: data)
            }
        }
    }
}

/// Runs detect and build for each buildpack in the sandbox, and reads back what each wrote.
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
        var network: (StepNetwork, resolvConf: String)?
        if request.publicNetwork {
            network = (try StepNetwork(firstDescriptor: 4, helper: request.userNamespaceHelper), try StepNetwork.resolvConfFile(in: request.workDirectory + "/network"))
        }
        let overlay = workspace.overlay
        let process = try await sandbox.start(rootfs: rootfs, mounts: mounts, scratch: scratch, environment: env, workingDirectory: "/workspace",
                                              network: network, enclosing: overlay.map { o in { o.enclosing($0) } }, limits: limits, command: command) { stream, line in
            log(phase.rawValue, stream == .stdout ? .stdout : .stderr, line)
            tail.append(line)
        }
        let code = await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            process.signal(SIGKILL)
        }
        await network?.0.detach()
        try Task.checkCancellation()
        return (code, tail.lines)
    }

    func detect() async throws -> (group: [BuildpackRef], plans: [String: [PlanOption.Requirement]]) {
        var report: [String] = []
        for group in request.order {
            var detected: [DetectedBuildpack] = []
            var failed = false
            for bp in group {
                let (ioPath, io) = try workspace.freshIO(bp.descriptor.escapedID + ".detect")
                let planPath = Self.ioPath + "/plan.toml"
                let env = environment(for: bp, extra: ["CNB_BUILD_PLAN_PATH": planPath])
                let (code, _) = try await run(bp, phase: .detect, io: ioPath, command: [buildpackPath(bp.descriptor) + "/bin/detect", "/platform", planPath],
                                              env: env, appWritable: false)
                let name = "\(bp.descriptor.id)@\(bp.descriptor.version)"
                switch code {
                case 0:
                    var options = [PlanOption()]
                    let text: String? = try confined(bp.descriptor) {
                        do { return try io.readText("plan.toml", maxBytes: Self.maxMetadataBytes) } catch let e as ConfinedPathError where e.kind == .missing { return nil }
                    }
                    if let text {
                        do {
                            options = PlanOption.options(fromPlan: try TOMLParser.parse(text))
                        } catch {
                            report.append("err:  \(name) (its build plan is not valid TOML: \(error))")
                            failed = !bp.optional
                            continue
                        }
                    }
                    detected.append(DetectedBuildpack(id: bp.descriptor.id, optional: bp.optional, options: options))
                    report.append("pass: \(name)")
                case 100:
                    report.append(bp.optional ? "skip: \(name)" : "fail: \(name)")
                    failed = failed || !bp.optional
                default:
                    report.append("err:  \(name) (\(code))")
                    failed = failed || !bp.optional
                }
                if failed { break }
            }
            if failed { continue }
            if let resolved = BuildPlanResolver.resolve(detected) {
                let chosen = resolved.buildpackIDs.compactMap { id in group.first { $0.descriptor.id == id } }
                let total = request.order.reduce(0) { $0 + $1.count }
                log(BuildPhase.detect.rawValue, .system, "\(chosen.count) of \(total) buildpacks participating")
                for bp in chosen { log(BuildPhase.detect.rawValue, .system, "\(bp.descriptor.id) \(bp.descriptor.version)") }
                return (chosen, resolved.plans)
            }
            report.append("group \(request.order.firstIndex(of: group).map { $0 + 1 } ?? 0): no combination of build plans fits")
        }
        for line in report { log(BuildPhase.detect.rawValue, .system, line) }
        throw RuntimeError.buildFailed("No buildpack groups passed detection (\(report.joined(separator: "; "))). Check that the source has what the builder's buildpacks look for.")
    }

    func build(group: [BuildpackRef], plans: [String: [PlanOption.Requirement]], previous: PreviousLayers) async throws -> BuiltLayers {
        var built = BuiltLayers()
        // Build layers of earlier buildpacks, in order: (the layer folder, its sandbox path).
        var buildLayers: [(ConfinedDirectory, String)] = []
        for bp in group {
            let d = bp.descriptor
            let bpLayers = try confined(d) { try workspace.layers.makeDirectories(d.escapedID) }
            // The buildpack plan: the entries this buildpack is to provide, in a fresh folder.
            var plan = TOMLTable()
            plan["entries"] = .array((plans[d.id] ?? []).map { r in
                .table(TOMLTable([("name", .string(r.name)), ("metadata", .table(r.metadata))]))
            })
            let (ioPath, io) = try workspace.freshIO(d.escapedID + ".build")
            try io.createFile("plan.toml", contents: Array(TOMLWriter.write(plan).utf8))
            let planPath = Self.ioPath + "/plan.toml"

            var layered = LayerEnvironment(environment(for: bp, extra: [
                "CNB_LAYERS_DIR": "/layers/" + d.escapedID, "CNB_BP_PLAN_PATH": planPath,
            ]))
            for (layer, sandboxPath) in buildLayers {
                try layered.applyEnvDirectory(layer, "env")
                try layered.applyEnvDirectory(layer, "env.build")
                try layered.applySearchPaths(layer, sandboxLayer: sandboxPath)
            }
            let env = layered.variables
            let (code, tail) = try await run(bp, phase: .build, io: ioPath,
                command: [buildpackPath(d) + "/bin/build", "/layers/" + d.escapedID, "/platform", planPath], env: env, appWritable: true)
            guard code == 0 else {
                throw RuntimeError.buildFailed(
                    "buildpack \(d.id)@\(d.version) failed in the build phase (exit status \(code))" + (tail.isEmpty ? "" : "; its last output: " + tail.joined(separator: " | ")))
            }
            try confined(d) { try collectLayers(of: d, in: bpLayers, into: &built, buildLayers: &buildLayers, previous: previous) }
        }
        return built
    }

    /// Reads what one buildpack left in its layers folder. Anything that is not a real file or
    /// folder where one belongs fails the build (see `confined`).
    func collectLayers(of d: BuildpackDescriptor, in bpLayers: ConfinedDirectory, into built: inout BuiltLayers,
                       buildLayers: inout [(ConfinedDirectory, String)], previous: PreviousLayers) throws
    {
        var launch: [String] = []
        var metadata: [String: TOMLTable] = [:]
        let names = try bpLayers.entries()
        for name in names where name.hasSuffix(".toml") && !["launch.toml", "build.toml", "store.toml"].contains(name) {
            let layer = String(name.dropLast(5))
            guard ArchiveExtractor.isNormalComponent(layer) else { continue }
            let text = try bpLayers.readText(name, maxBytes: Self.maxMetadataBytes)
            let toml: TOMLTable
            do { toml = try TOMLParser.parse(text) } catch {
                throw RuntimeError.buildFailed("buildpack \(d.id) wrote an invalid \(name): \(error)")
            }
            let types = toml["types"]?.table ?? toml
            let isLaunch = types["launch"]?.bool ?? false
            let isBuild = types["build"]?.bool ?? false
            let isCache = types["cache"]?.bool ?? false
            metadata[layer] = toml["metadata"]?.table ?? TOMLTable()
            guard let st = try bpLayers.status(layer) else {
                // Kept from the previous image: a launch layer whose .toml stayed and whose folder
                // the buildpack did not recreate.
                if isLaunch, let old = previous.layers[d.id]?[layer] {
                    launch.append(layer)
                    built.reusedLayers[d.id + ":" + layer] = old.descriptor
                }
                continue
            }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ConfinedPathError(.wrongType(ConfinedDirectory.describe(st.st_mode) + ", not a layer folder"), bpLayers.display(layer))
            }
            let layerDir = try bpLayers.openDirectory(layer)
            try LayerEnvironment.checkMetadataFiles(in: layerDir)
            if isLaunch { launch.append(layer) }
            if isCache { built.cachedLayers.insert(d.id + ":" + layer) }
            if isBuild { buildLayers.append((layerDir, "/layers/\(d.escapedID)/\(layer)")) }
        }
        // Layer folders without a .toml are not layers (spec: ignored).
        for name in names where !name.hasSuffix(".toml") && metadata[name] == nil {
            try bpLayers.remove(name)
        }
        built.launchLayers[d.id] = launch
        built.layerMetadata[d.id] = metadata
        let launchText: String?
        do { launchText = try bpLayers.readText("launch.toml", maxBytes: Self.maxMetadataBytes) } catch let e as ConfinedPathError where e.kind == .missing { launchText = nil }
        if let launchText {
            let launchTOML: TOMLTable
            do { launchTOML = try TOMLParser.parse(launchText) } catch {
                throw RuntimeError.buildFailed("buildpack \(d.id) wrote an invalid launch.toml: \(error)")
            }
            for p in LaunchProcess.parse(launchTOML, buildpackID: d.id, api: d.api) {
                built.processes.removeAll { $0.type == p.type }
                if p.isDefault { for i in built.processes.indices { built.processes[i].isDefault = false } }
                built.processes.append(p)
            }
            for l in launchTOML["labels"]?.tables ?? [] {
                if let k = l["key"]?.string, let v = l["value"]?.string { built.labels[k] = v }
            }
            try built.slices.add(from: launchTOML, buildpack: d)
        }
    }
}

/// The last lines a step printed, for the failure message (the whole output is in the log).
final class OutputTail: Sendable {
    private let state = Mutex<[String]>([])
    let keep: Int
    init(keep: Int = 3) { self.keep = keep }
    func append(_ line: String) {
        state.withLock {
            $0.append(line)
            if $0.count > keep { $0.removeFirst($0.count - keep) }
        }
    }
    var lines: [String] { state.withLock { $0 } }
}
