import Foundation

/// The phases of a buildpacks build, in the order they run and are logged.
public enum BuildPhase: String, Sendable, Codable, CaseIterable {
    case prepare, detect, analyze, restore, build, export, completion
    /// A rebase of the last image on a new run image (`Rebaser`) instead of the phases above.
    case rebase
}

/// Where a log line came from: the step's stdout or stderr, or the lifecycle itself.
public enum LogStream: String, Sendable, Codable {
    case stdout, stderr, system
}

/// Receives every log line of a build, in order.
public typealias BuildLogger = @Sendable (_ phase: BuildPhase, _ stream: LogStream, _ line: String) -> Void

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

    /// Runs the build with its steps held to `stepLimits` (by `slipway-userns`; without it,
    /// only the steps' tmpfs are).
    public func run(_ given: BuildRequest, log: @escaping BuildLogger) async throws -> BuildResult {
        log(BuildPhase.prepare, .system, "===> PREPARE")
        guard !given.userNamespaceHelper.isEmpty else { return try await run(given, limits: nil, log: log) }
        return try await StepEnforcement.during(given.stepLimits, helper: given.userNamespaceHelper, log: { log(BuildPhase.prepare, .system, $0) }) {
            try await run(given, limits: $0, log: log)
        }
    }

    /// The phases in order, each given what the ones before it produced.
    func run(_ given: BuildRequest, limits: StepEnforcement?, log: @escaping BuildLogger) async throws -> BuildResult {
        guard let buildImage = given.buildImage, let runImage = given.runImage else {
            throw RuntimeError.invalid("a buildpacks build needs its stack's build and run images")
        }
        let prepared = try await PreparePhase(lifecycle: self, request: given, buildImage: buildImage, log: log).run()
        let request = prepared.request, ws = prepared.workspace
        defer { ws.removeOverlayWork() }
        let runner = StepRunner(sandbox: prepared.sandbox, rootfs: prepared.rootfs, workspace: ws, request: request, buildImage: buildImage, limits: limits, log: log)

        let detected = try await DetectPhase(runner: runner, order: request.order, log: log).run()
        let buildpacks = detected.buildpacks.map(\.descriptor)
        let analyzed = try AnalyzePhase(request: request, layers: ws.layers, buildpacks: buildpacks, log: log).run()
        let cache = LayerCache(directory: request.cacheDirectory)
        try await RestorePhase(cache: cache, layers: ws.layers, buildpacks: buildpacks, log: log).run()
        let built = try await BuildpackBuildPhase(runner: runner, detected: detected, previous: analyzed.previousLayers, log: log).run()
        let exporter = Exporter(target: LayoutExportTarget(images: images, layout: analyzed.layout, tag: request.outputTag), layersFolder: ws.layers,
                                request: request, buildImage: buildImage, runImage: runImage, previous: analyzed.previous, log: log)
        let result = try await ExportPhase(exporter: exporter, workspace: ws, sources: sources, cache: cache, buildpacks: buildpacks, built: built).run()

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
            log(BuildPhase.prepare, .system, "overlayfs cannot be mounted here (\(why)): the source is unpacked into /workspace, which is slower")
            return nil
        }
        return WorkspaceOverlay(snapshot: request.source, store: sources.snapshots, root: request.workDirectory, helper: request.userNamespaceHelper)
    }
}
