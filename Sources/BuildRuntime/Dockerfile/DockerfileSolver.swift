import Foundation

/// The half of a Dockerfile build that does the work: runs the frontend's `BuildGraph`. Each
/// stage starts as soon as the stages it reads are built (independent ones together); RUN steps
/// run in the sandbox (`DockerfileRunStep`), COPY and ADD write layers from the context or
/// another stage (`DockerfileCopyStep`), WORKDIR makes its folder, and the target stage is
/// exported as an OCI image.
struct DockerfileSolver: Sendable {
    let store: DockerfileLayerStore
    let frontend: DockerfileFrontend
    let graph: BuildGraph
    let request: DockerfileBuilder.Request
    /// The build context: the request's folder, confined.
    let context: ConfinedDirectory
    /// What ADD downloads URLs with (one for the build: its downloads share the size cap);
    /// nil when the build has no network.
    let fetcher: BlobFetcher?

    /// Builds the stages the target needs and returns the target's, with every FROM image
    /// (name and manifest digest).
    func solve(log: @escaping BuildLogger) async throws -> (stage: BuildingStage, bases: [String: Digest]) {
        // With more than one stage, every line says which stage it comes from; a failure
        // cancels the others.
        var built: [Int: BuildingStage] = [:]
        var bases: [String: Digest] = [:]
        try await withThrowingTaskGroup(of: (Int, BuildingStage, [String: Digest]).self) { group in
            var started = Set<Int>()
            func startReady() {
                for stage in graph.stages.values.sorted(by: { $0.index < $1.index })
                where !started.contains(stage.index) && stage.dependencies.isSubset(of: built.keys) {
                    started.insert(stage.index)
                    let ready = built
                    let labelled: BuildLogger = { phase, stream, line in log(phase, stream, line.hasPrefix(stage.label) ? line : stage.label + " " + line) }
                    let stageLog = graph.stages.count == 1 ? log : labelled
                    group.addTask {
                        var found: [String: Digest] = [:]
                        let built = try await buildStage(stage, built: ready, bases: &found, log: stageLog)
                        return (stage.index, built, found)
                    }
                }
            }
            startReady()
            while let (i, stage, found) = try await group.next() {
                built[i] = stage
                bases.merge(found) { a, _ in a }
                startReady()
            }
        }
        return (built[graph.target]!, bases)
    }

    /// Builds one stage from the stages it reads (`built`), noting the images it starts from in
    /// `bases`.
    func buildStage(_ planned: BuildGraph.Stage, built: [Int: BuildingStage], bases: inout [String: Digest], log: @escaping BuildLogger) async throws -> BuildingStage {
        let phase = BuildPhase.build
        let file = frontend.file
        let source = graph.dockerfile.stages[planned.index]
        let fromName = planned.from
        try frontend.checkPlatform(of: planned, globals: graph.globals)
        var stage: BuildingStage
        var triggers: [DockerfileInstruction] = []
        let stageLabel = planned.label
        if fromName == "scratch" {
            stage = BuildingStage(config: OCIImageConfig(config: .init(), diffIDs: []), key: StepCacheKey.scratch)
            // Docker gives an image from scratch the default PATH.
            stage.config.config.Env = ["PATH=" + BuildingStage.defaultPath]
            log(phase, .system, "\(stageLabel) FROM scratch")
        } else if let j = planned.fromStage, let previous = built[j] {
            stage = previous
            stage.args = [:]
            stage.added = 0
            stage.reused = 0
            log(phase, .system, "\(stageLabel) FROM stage \(fromName)")
        } else {
            let image = try await request.resolveBase(fromName)
            bases[fromName] = image.manifestDigest
            log(phase, .system, "\(stageLabel) FROM \(fromName) (\(image.manifestDigest))")
            let folder = try await store.baseFolder(image)
            stage = BuildingStage(config: image.config, key: StepCacheKey.from(image: image.manifestDigest))
            stage.config.history = image.config.history
            stage.baseLayers = zip(image.manifest.layers, image.config.rootfs.diff_ids).map { StageLayer(descriptor: $0, diffID: $1, store: image.store) }
            stage.baseFolder = folder
            stage.base = image.manifestDigest
            // The base image's ONBUILD triggers run first, as if written after this FROM, and are
            // not passed on to this image.
            let texts = image.config.config.OnBuild ?? []
            triggers = try frontend.triggers(texts, of: fromName, line: source.from.line)
            for t in texts { log(phase, .system, "\(stageLabel) ONBUILD trigger of \(fromName): \(t)") }
            stage.config.config.OnBuild = nil
            if let shell = image.config.config.Shell { stage.shell = shell }
        }
        stage.config.architecture = OCIImageConfig.hostArchitecture
        stage.config.os = "linux"

        let sources = StepSources(dockerfile: graph.dockerfile, built: built, context: context, request: request, globals: graph.globals, fetcher: fetcher)
        var cmdSet = false
        for ins in triggers + source.instructions {
            try frontend.apply(ins, to: &stage, globals: graph.globals, cmdSet: &cmdSet)
            switch ins.keyword {
            case .workdir:
                // The config keeps the path as written (`/tmp/`); the folder made is its clean form.
                if let dir = stage.config.config.WorkingDir.map(PathSyntax.normalizedAbsolute), dir != "/" {
                    try await store.makeWorkingDirectory(dir, in: &stage, request: request, log: log)
                }
            case .copy, .add:
                try await DockerfileCopyStep(store: store, sources: sources).copy(ins, into: &stage, words: frontend.words, file: file, log: log)
            case .run:
                try await DockerfileRunStep(store: store, sources: sources).run(ins, in: &stage, file: file, log: log, label: stageLabel)
            default:
                break  // the frontend's alone
            }
            if let why = stage.oversized { throw RuntimeError.dockerfile(file, ins.line, why) }
        }
        return stage
    }

    /// Writes `stage` as the image of the build into the request's layout, under its tag.
    func export(_ stage: BuildingStage) throws -> Digest {
        let layout = try OCILayout(path: request.outputLayout, create: true)
        var config = stage.config
        let all = stage.baseLayers + stage.layers
        config.rootfs = .init(diff_ids: all.map(\.diffID))
        config.created = "1980-01-01T00:00:01Z"
        var history = stage.config.history ?? []
        for _ in stage.layers { history.append(.init(created_by: "slipway: Dockerfile")) }
        config.history = history
        for l in all { try layout.store.copy(l.descriptor.digest, from: l.store) }
        let image = try store.images.writeImage(config: config, layers: all.map { l in
            var d = l.descriptor
            d.mediaType = MediaType.ociLayer(d.mediaType)
            return d
        }, into: layout.store)
        try layout.setTag(request.outputTag, to: image.manifestDescriptor)
        return image.manifestDigest
    }
}

/// What a step may read besides its own stage (COPY --from, RUN --mount): the stages built
/// so far, the context, and images by name.
struct StepSources: Sendable {
    var dockerfile: Dockerfile
    var built: [Int: BuildingStage]
    var context: ConfinedDirectory
    var request: DockerfileBuilder.Request
    /// The global ARGs (and the platform's), for `--from` values.
    var globals: [String: String]
    /// What ADD downloads URLs with; nil when the build has no network.
    var fetcher: BlobFetcher?
}
