import Foundation

/// Builds a Dockerfile into an OCI image, with no daemon and no buildah: the stages the target
/// needs are built, each as soon as the stages it reads are (independent ones together), RUN steps run in `OverlayStepRunner`'s sandbox over
/// the stage's layers, COPY and ADD write layers straight from the context (or another stage)
/// with `TarWriter`, and every other instruction changes the image config.
///
/// Each step that makes a layer has a cache key: the key before it, the instruction after
/// substitution, the ARG and ENV values it sees, and, for COPY and ADD, the digest of the layer
/// its files make. A key found in the cache reuses that layer: an unchanged rebuild runs no RUN
/// and writes no layer, and the log says for every step whether it was cached and, if not, why.
///
/// Not yet (each refused with a message): `RUN --mount=type=secret|ssh`, `RUN --network`.
public struct DockerfileBuilder: Sendable {
    /// What one Dockerfile build needs.
    public struct Request: Sendable {
        /// The build context: a host folder (the source snapshot, restored).
        public var context: String
        /// The Dockerfile's path in the context.
        public var dockerfile: String
        public var buildArgs: [String: String]
        /// The stage to build (default: the last).
        public var target: String?
        public var outputLayout: String
        public var outputTag: String
        /// Where RUN --mount=type=cache folders are kept between builds (the image's own);
        /// nil refuses cache mounts.
        public var mountCacheDirectory: String?
        /// The most bytes ADD may bring in: all of a build's downloads together, and what one
        /// archive expands to (the source size cap).
        public var maxAddBytes: Int64 = 8 << 30
        /// Whether RUN steps get outbound network access (`StepNetwork`).
        public var publicNetwork = false
        /// Hosts an `ADD` of a URL may fetch from although the `OutboundAddressPolicy` refuses
        /// their addresses (loopback, link-local, the engine host's own): `--allow-add-host`.
        public var addHostAllowList: [String] = []
        /// The most bytes one layer may hold (`--max-layer-bytes`).
        public var maxLayerBytes: Int64 = 10 << 30
        /// What is left of the namespace's storage quota, which the build's layers take from as
        /// they are written; nil when the namespace has no storage quota.
        public var storage: ByteBudget?
        /// The most a `RUN --mount=type=tmpfs` may hold (its default size).
        public var maxTmpfsBytes: Int64 = 1 << 30
        /// Finds a FROM image by its name (a registry reference or an `oci:` layout), in a store.
        public var resolveBase: @Sendable (String) async throws -> OCIImage

        public init(context: String, dockerfile: String = "Dockerfile", buildArgs: [String: String] = [:], target: String? = nil,
                    outputLayout: String, outputTag: String, mountCacheDirectory: String? = nil,
                    resolveBase: @escaping @Sendable (String) async throws -> OCIImage) {
            self.mountCacheDirectory = mountCacheDirectory
            self.context = context
            self.dockerfile = dockerfile
            self.buildArgs = buildArgs
            self.target = target
            self.outputLayout = outputLayout
            self.outputTag = outputTag
            self.resolveBase = resolveBase
        }
    }

    /// What a build made.
    public struct Result: Sendable, Equatable {
        public var imageDigest: Digest
        public var layersAdded: Int
        public var layersReused: Int
        /// Every FROM image: its name and resolved manifest digest.
        public var bases: [String: Digest]
        /// The image the built stage starts from (nil for scratch).
        public var finalBase: Digest?
    }

    public let images: ImageStore
    /// Where layer folders (the stages' overlay lowers) live: `<state>/dockerfile/layers`.
    public let layersRoot: String
    /// Step cache records: `<state>/dockerfile/cache/<key>.json`.
    public let cacheDirectory: String
    public let runner: OverlayStepRunner

    public init(images: ImageStore, layersRoot: String, cacheDirectory: String, runner: OverlayStepRunner) {
        self.images = images
        self.layersRoot = layersRoot
        self.cacheDirectory = cacheDirectory
        self.runner = runner
    }

    var mapping: IDMapping { runner.namespace.mapping }

    /// A layer of a stage: its blob (in `store`) and, once a RUN needs it, its folder.
    struct Layer: Sendable {
        var descriptor: OCIDescriptor
        var diffID: Digest
        var store: ContentStore
        /// A folder under `layersRoot` holding it (as an overlay lower); nil for base layers,
        /// which live flattened in the stage's `baseFolder`.
        var folder: String?
    }

    /// A stage as it is built.
    struct Stage: Sendable {
        var config: OCIImageConfig
        var baseLayers: [Layer] = []
        var layers: [Layer] = []
        var baseFolder: String?
        /// The image the stage starts from (through stages it starts from).
        var base: Digest?
        var key: Digest
        var args: [String: String] = [:]
        var shell = ["/bin/sh", "-c"]
        var added = 0, reused = 0

        /// Lower folders for a step, topmost first, each once: two steps that made the same
        /// layer (two empty ones, say) name the same folder, which overlayfs refuses twice
        /// (ELOOP). The lower occurrence adds nothing: every path it has, the upper one has.
        var lowers: [String] {
            var seen = Set<String>()
            return (layers.reversed().compactMap(\.folder) + (baseFolder.map { [$0] } ?? [])).filter { seen.insert($0).inserted }
        }

        var env: [(String, String)] {
            (config.config.Env ?? []).compactMap { e in e.firstIndex(of: "=").map { (String(e[..<$0]), String(e[e.index(after: $0)...])) } }
        }

        func lookup(_ name: String) -> String? {
            env.last { $0.0 == name }?.1 ?? args[name]
        }

        mutating func setEnv(_ name: String, _ value: String) {
            var e = (config.config.Env ?? []).filter { !$0.hasPrefix(name + "=") }
            e.append(name + "=" + value)
            config.config.Env = e
        }

        /// The most bytes a stage's ENV, ARG and LABEL values may hold together: what a step's
        /// environment can carry (Linux's ARG_MAX is 2 MiB for it and the command line).
        static let maxVariableBytes = 1 << 20

        /// Why the stage's variables and labels are too large; nil when they fit.
        var oversized: String? {
            let env = (config.config.Env ?? []).reduce(0) { $0 + $1.utf8.count }
            let args = self.args.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            let labels = (config.config.Labels ?? [:]).reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            guard env + args + labels > Self.maxVariableBytes else { return nil }
            return "the stage's ENV, ARG and LABEL values hold \(env + args + labels) bytes, more than \(Self.maxVariableBytes); a stage may hold at most that much"
        }
    }

    func fail(_ file: String, _ line: Int, _ message: String) -> RuntimeError {
        RuntimeError.buildFailed(DockerfileError(file: file, line: line, message: message).description)
    }

    // MARK: Building

    public func build(_ request: Request, log: @escaping BuildLogger) async throws -> Result {
        let phase = BuildPhase.build.rawValue
        let context = try ConfinedDirectory(path: request.context, displayPath: "the build context")
        let text: String
        do {
            text = try context.readText(request.dockerfile, maxBytes: DockerfileParser.maxBytes)
        } catch let e as ConfinedPathError {
            throw RuntimeError.buildFailed("\(request.dockerfile) cannot be read from the build context: \(e)")
        }
        let file = request.dockerfile
        let dockerfile: Dockerfile
        do {
            dockerfile = try DockerfileParser(file: file).parse(text)
        } catch let e as DockerfileError {
            throw RuntimeError.buildFailed(e.description)
        }
        let words = ShellWords(escape: dockerfile.escape)
        // One fetcher for the build: its downloads share the size cap, and every address it
        // connects to is checked (with the public network; with none, ADD of a URL is refused).
        let fetcher: BlobFetcher?
        do {
            fetcher = request.publicNetwork
                ? BlobFetcher(budget: ByteBudget(limit: request.maxAddBytes), addressPolicy: try OutboundAddressPolicy(allowing: request.addHostAllowList)) : nil
        }
        let platform = ["TARGETPLATFORM": "linux/" + OCIImageConfig.hostArchitecture, "TARGETOS": "linux", "TARGETARCH": OCIImageConfig.hostArchitecture,
                        "BUILDPLATFORM": "linux/" + OCIImageConfig.hostArchitecture, "BUILDOS": "linux", "BUILDARCH": OCIImageConfig.hostArchitecture]
        // Global ARGs: usable in FROM lines, and (declared again) in stages.
        var globals = platform
        for a in dockerfile.globalArgs {
            for (k, v) in try argValues(a, words: words, request: request, lookup: { globals[$0] }, file: file) { globals[k] = v }
        }
        let targetIndex: Int
        if let t = request.target {
            guard let i = dockerfile.stage(named: t) else { throw RuntimeError.buildFailed("target stage \"\(t)\" is not in \(file)") }
            targetIndex = i
        } else {
            targetIndex = dockerfile.stages.count - 1
        }
        let needed = try neededStages(dockerfile, target: targetIndex, words: words, globals: globals, file: file)
        log(phase, .system, "Building stage \(dockerfile.stages[targetIndex].name ?? String(targetIndex)) of \(file) (\(needed.count) of \(dockerfile.stages.count) stage(s) needed)")

        // Each stage starts as soon as the stages it reads are built: independent stages build
        // at the same time (a failure cancels the others). With more than one stage, every
        // line says which stage it comes from.
        var built: [Int: Stage] = [:]
        var bases: [String: Digest] = [:]
        let dependencies = try Dictionary(uniqueKeysWithValues: needed.map { ($0, try stageDependencies(dockerfile, $0, words: words, globals: globals, file: file)) })
        try await withThrowingTaskGroup(of: (Int, Stage, [String: Digest]).self) { group in
            var started = Set<Int>()
            func startReady() {
                for i in needed.sorted() where !started.contains(i) && dependencies[i]!.isSubset(of: built.keys) {
                    started.insert(i)
                    let ready = built
                    let label = "[" + (dockerfile.stages[i].name ?? String(i)) + "]"
                    let labelled: BuildLogger = { phase, stream, line in log(phase, stream, line.hasPrefix(label) ? line : label + " " + line) }
                    let stageLog = needed.count == 1 ? log : labelled
                    group.addTask { [globals] in
                        var found: [String: Digest] = [:]
                        let stage = try await buildStage(dockerfile, i, built: ready, globals: globals, platform: platform, request: request,
                                                         context: context, fetcher: fetcher, bases: &found, log: stageLog)
                        return (i, stage, found)
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
        let final = built[targetIndex]!
        log(BuildPhase.export.rawValue, .system, "===> EXPORT")
        let digest = try await BlockingWork.run { try export(final, request: request) }
        log(BuildPhase.export.rawValue, .system, "*** Image \(digest) written as \(request.outputTag)")
        return Result(imageDigest: digest, layersAdded: final.added, layersReused: final.reused, bases: bases, finalBase: final.base)
    }

    /// The earlier stages stage `i` reads: its FROM stage, and the stages its COPY --from and
    /// RUN --mount from= name.
    func stageDependencies(_ d: Dockerfile, _ i: Int, words: ShellWords, globals: [String: String], file: String) throws -> Set<Int> {
        var out = Set<Int>()
        let s = d.stages[i]
        let fromName = try fromImageName(s.from, words: words, globals: globals, file: file)
        if let j = d.stage(named: fromName), j < i, d.stages[j].name == fromName.lowercased() { out.insert(j) }
        for ins in s.instructions {
            var froms: [String] = []
            // A variable the globals do not know leaves the name as written (`try?`): then it
            // names no stage, and the instruction says so when it runs.
            if ins.keyword == .copy, case .some(.some(let from)) = ins.flag("from") { froms.append((try? words.word(from) { globals[$0] }) ?? from) }
            if ins.keyword == .run {
                for spec in ins.flagValues("mount") {
                    for part in spec.split(separator: ",") where part.lowercased().hasPrefix("from=") { froms.append(String(part.dropFirst(5))) }
                }
            }
            for from in froms { if let j = d.stage(named: from), j < i { out.insert(j) } }
        }
        return out
    }

    /// The stages the target needs: itself and, transitively, the stages it reads.
    func neededStages(_ d: Dockerfile, target: Int, words: ShellWords, globals: [String: String], file: String) throws -> Set<Int> {
        var needed = Set<Int>()
        var pending = [target]
        while let i = pending.popLast() {
            guard needed.insert(i).inserted else { continue }
            pending += try stageDependencies(d, i, words: words, globals: globals, file: file)
        }
        return needed
    }

    func fromImageName(_ from: DockerfileInstruction, words: ShellWords, globals: [String: String], file: String) throws -> String {
        let raw = words.rawWords(from.shellText)[0]
        do {
            return try words.word(raw) { globals[$0] }
        } catch let e as ShellWords.Failure {
            throw fail(file, from.line, e.message)
        }
    }

    /// The values an ARG sets: a build arg wins over the default; an ARG without either is unset
    /// (a stage ARG without default takes the global value of the same name).
    func argValues(_ i: DockerfileInstruction, words: ShellWords, request: Request, lookup: @escaping ShellWords.Lookup, file: String) throws -> [(String, String)] {
        var out: [(String, String)] = []
        for w in words.rawWords(i.shellText) {
            let parts = w.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = parts[0]
            if let given = request.buildArgs[name] {
                out.append((name, given))
            } else if parts.count == 2 {
                do {
                    out.append((name, try words.word(parts[1], lookup)))
                } catch let e as ShellWords.Failure {
                    throw fail(file, i.line, e.message)
                }
            } else if let inherited = lookup(name) {
                out.append((name, inherited))
            }
        }
        return out
    }

    func buildStage(_ d: Dockerfile, _ index: Int, built: [Int: Stage], globals: [String: String], platform: [String: String], request: Request,
                    context: ConfinedDirectory, fetcher: BlobFetcher?, bases: inout [String: Digest], log: @escaping BuildLogger) async throws -> Stage {
        let phase = BuildPhase.build.rawValue
        let words = ShellWords(escape: d.escape)
        let file = request.dockerfile
        let source = d.stages[index]
        let fromName = try fromImageName(source.from, words: words, globals: globals, file: file)
        if case .some(.some(let p)) = source.from.flag("platform") {
            let platformValue = (try? words.word(p) { globals[$0] }) ?? p  // an unknown variable leaves the flag as written
            guard platformValue == platform["TARGETPLATFORM"] || platformValue == "linux" else {
                throw fail(file, source.from.line, "FROM --platform=\(platformValue): only this machine's platform, \(platform["TARGETPLATFORM"]!), is built")
            }
        }
        var stage: Stage
        var triggers: [DockerfileInstruction] = []
        let stageLabel = "[\(source.name ?? String(index))]"
        if fromName == "scratch" {
            stage = Stage(config: OCIImageConfig(config: .init(), diffIDs: []), key: Digest.of(Data("scratch".utf8)))
            // Docker gives an image from scratch the default PATH.
            stage.config.config.Env = ["PATH=" + Self.defaultPath]
            log(phase, .system, "\(stageLabel) FROM scratch")
        } else if let j = d.stage(named: fromName), j < index, let previous = built[j], d.stages[j].name == fromName.lowercased() {
            stage = previous
            stage.args = [:]
            stage.added = 0
            stage.reused = 0
            log(phase, .system, "\(stageLabel) FROM stage \(fromName)")
        } else {
            let image = try await request.resolveBase(fromName)
            bases[fromName] = image.manifestDigest
            log(phase, .system, "\(stageLabel) FROM \(fromName) (\(image.manifestDigest))")
            let folder = try await baseFolder(image)
            stage = Stage(config: image.config, key: Digest.of(Data(("from " + image.manifestDigest.string).utf8)))
            stage.config.history = image.config.history
            stage.baseLayers = zip(image.manifest.layers, image.config.rootfs.diff_ids).map { Layer(descriptor: $0, diffID: $1, store: image.store) }
            stage.baseFolder = folder
            stage.base = image.manifestDigest
            // The base image's ONBUILD triggers run first, as if written after this FROM, and are
            // not passed on to this image.
            for t in image.config.config.OnBuild ?? [] {
                do {
                    triggers.append(try DockerfileParser(file: file).parseInstruction(t, line: source.from.line, escape: d.escape, allowOnbuild: false))
                } catch let e as DockerfileError {
                    throw fail(file, source.from.line, "the ONBUILD trigger \"\(t)\" of \(fromName): \(e.message)")
                }
                log(phase, .system, "\(stageLabel) ONBUILD trigger of \(fromName): \(t)")
            }
            guard triggers.count <= DockerfileParser.maxInstructions else {
                throw fail(file, source.from.line, "\(fromName) has more than \(DockerfileParser.maxInstructions) ONBUILD triggers")
            }
            stage.config.config.OnBuild = nil
            if let shell = image.config.config.Shell { stage.shell = shell }
        }
        stage.config.architecture = OCIImageConfig.hostArchitecture
        stage.config.os = "linux"

        var cmdSet = false
        for ins in triggers + source.instructions {
            let lookup: ShellWords.Lookup = { [stage] in stage.lookup($0) }
            func word(_ s: String) throws -> String {
                do { return try words.word(s, lookup) } catch let e as ShellWords.Failure { throw fail(file, ins.line, e.message) }
            }
            func list(_ s: String) throws -> [String] {
                do { return try words.words(s, lookup) } catch let e as ShellWords.Failure { throw fail(file, ins.line, e.message) }
            }
            func execOrShell(_ a: DockerfileInstruction.Arguments) -> [String] {
                switch a {
                case .exec(let argv): return argv
                case .shell(let s): return stage.shell + [s]
                }
            }
            stage.key = Digest.of(Data((stage.key.string + "\n" + ins.text).utf8))
            switch ins.keyword {
            case .arg:
                let inScope: ShellWords.Lookup = { [stage] name in stage.lookup(name) ?? globals[name] ?? platform[name] }
                for (k, v) in try argValues(ins, words: words, request: request, lookup: inScope, file: file) { stage.args[k] = v }
                for w in words.rawWords(ins.shellText) {
                    let name = String(w.split(separator: "=", maxSplits: 1)[0])
                    if stage.args[name] == nil, let g = globals[name] ?? platform[name] { stage.args[name] = g }
                }
            case .env:
                let raw = words.rawWords(ins.shellText)
                if raw.first?.contains("=") == false {
                    // ENV key value (the legacy form): the rest of the line is the value.
                    let rest = ins.shellText.dropFirst(raw[0].count).trimmingCharacters(in: .whitespaces)
                    stage.setEnv(raw[0], try word(rest))
                } else {
                    // Every value is read with the variables as they were before this ENV
                    // (`ENV a=1 b=$a` gives b the old a), as Docker does.
                    let pairs = try raw.map { w -> (String, String) in
                        let parts = w.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                        return (try word(parts[0]), try word(parts[1]))
                    }
                    for (k, v) in pairs { stage.setEnv(k, v) }
                }
            case .label:
                var labels = stage.config.config.Labels ?? [:]
                for w in words.rawWords(ins.shellText) {
                    let parts = w.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                    labels[try word(parts[0])] = try word(parts[1])
                }
                stage.config.config.Labels = labels
            case .maintainer:
                stage.config.author = ins.shellText
            case .expose:
                var ports = stage.config.config.ExposedPorts ?? [:]
                for p in try list(ins.shellText) { ports[p.contains("/") ? p : p + "/tcp"] = .init() }
                stage.config.config.ExposedPorts = ports
            case .volume:
                var volumes = stage.config.config.Volumes ?? [:]
                let paths: [String]
                if case .exec(let a) = ins.arguments { paths = try a.map(word) } else { paths = try list(ins.shellText) }
                for v in paths { volumes[v] = .init() }
                stage.config.config.Volumes = volumes
            case .stopsignal:
                stage.config.config.StopSignal = try word(ins.shellText)
            case .user:
                stage.config.config.User = try word(ins.shellText)
            case .workdir:
                let dir = try word(ins.shellText)
                let absolute = dir.hasPrefix("/") ? dir : (stage.config.config.WorkingDir ?? "/") + "/" + dir
                stage.config.config.WorkingDir = PathSyntax.normalizedAbsolute(absolute)
                if stage.config.config.WorkingDir != "/" { try await makeWorkingDirectory(stage.config.config.WorkingDir!, in: &stage, request: request, log: log) }
            case .cmd:
                stage.config.config.Cmd = execOrShell(ins.arguments)
                cmdSet = true
            case .entrypoint:
                stage.config.config.Entrypoint = execOrShell(ins.arguments)
                // An ENTRYPOINT drops the CMD it inherited (not one set earlier in this stage).
                if !cmdSet { stage.config.config.Cmd = nil }
            case .shell:
                if case .exec(let a) = ins.arguments { stage.shell = a; stage.config.config.Shell = a }
            case .healthcheck:
                stage.config.config.Healthcheck = try healthcheck(ins, file: file)
            case .onbuild:
                stage.config.config.OnBuild = (stage.config.config.OnBuild ?? []) + [ins.shellText]
            case .copy, .add:
                try await copy(ins, into: &stage, sources: StepSources(dockerfile: d, built: built, context: context, request: request, globals: globals.merging(platform) { a, _ in a }, fetcher: fetcher),
                               words: words, file: file, log: log)
            case .run:
                try await run(ins, in: &stage, file: file, sources: StepSources(dockerfile: d, built: built, context: context, request: request, globals: globals.merging(platform) { a, _ in a }, fetcher: fetcher),
                              log: log, label: stageLabel)
            case .from:
                break  // a FROM starts a stage; it is never among a stage's instructions
            }
            if let why = stage.oversized { throw fail(file, ins.line, why) }
        }
        return stage
    }

    func healthcheck(_ ins: DockerfileInstruction, file: String) throws -> OCIImageConfig.Healthcheck {
        let rest = ins.shellText.trimmingCharacters(in: .whitespaces)
        if rest.uppercased() == "NONE" { return .init(Test: ["NONE"]) }
        let command = String(rest.dropFirst(3)).trimmingCharacters(in: .whitespaces)
        var h: OCIImageConfig.Healthcheck
        if command.hasPrefix("["), let data = command.data(using: .utf8), let a = try? JSONSerialization.jsonObject(with: data) as? [String] {
            h = .init(Test: ["CMD"] + a)
        } else {
            h = .init(Test: ["CMD-SHELL", command])
        }
        func duration(_ name: String) throws -> Int64? {
            guard case .some(.some(let v)) = ins.flag(name) else { return nil }
            guard let seconds = parseGoDuration(v) else { throw fail(file, ins.line, "--\(name)=\(v) is not a duration (30s, 1m30s, 500ms)") }
            return Int64(seconds * 1e9)
        }
        h.Interval = try duration("interval")
        h.Timeout = try duration("timeout")
        h.StartPeriod = try duration("start-period")
        h.StartInterval = try duration("start-interval")
        if case .some(.some(let r)) = ins.flag("retries") {
            guard let n = Int(r), n >= 0 else { throw fail(file, ins.line, "--retries=\(r) is not a number") }
            h.Retries = n
        }
        return h
    }

    /// Go's duration syntax as Docker reads HEALTHCHECK options: `1h2m3.5s`, `500ms`.
    func parseGoDuration(_ s: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("us", 1e-6), ("ns", 1e-9), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(s)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let n = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += n * factor
        }
        return total
    }

    // MARK: Layers

    /// The base image's layers, flattened with their owners mapped into the step namespace:
    /// one lower folder, made once per image.
    func baseFolder(_ image: OCIImage) async throws -> String {
        let name = "base-" + image.manifestDigest.hex
        // In use again: a garbage collection keeps it another `cacheLifetime` (a failed touch
        // only shortens that).
        if access(layersRoot + "/" + name, F_OK) == 0 { _ = utimensat(AT_FDCWD, layersRoot + "/" + name, nil, AT_SYMLINK_NOFOLLOW); return name }
        try await unpack(image.manifest.layers.enumerated().map { (image.store.path($1.digest), "layer \($0 + 1) (\($1.digest.short)) of the base image") }, as: name)
        return name
    }

    /// Unpacks `layers` (blob paths and how messages name them), in order, into the folder
    /// `name` under `layersRoot`, with owners mapped into the step namespace: as root directly;
    /// as another user, what it may not give away is set afterwards from inside the namespace.
    func unpack(_ layers: [(path: String, name: String)], as name: String) async throws {
        let final = layersRoot + "/" + name
        guard access(final, F_OK) != 0 else { return }
        let scratch = try ScratchFolder(in: layersRoot)
        defer { withExtendedLifetime(scratch) {} }  // leased until the folder is in place
        let temp = scratch.path
        let ledger = ArchiveExtractor.OwnerLedger()
        try await BlockingWork.run { [mapping] in
            let extractor = ArchiveExtractor(policy: .imageLayer, owners: mapping, ledger: ledger)
            for layer in layers { _ = try extractor.extract(archiveAt: layer.path, into: temp, name: layer.name) }
        }
        try await place(temp, ledger: ledger, as: name)
    }

    /// Puts a layer folder written under a scratch name in place as `name` under `layersRoot`:
    /// the owners in `ledger` set from inside the namespace, the folder itself the namespace
    /// root's. Another build that placed the same layer first wins.
    func place(_ temp: String, ledger: ArchiveExtractor.OwnerLedger, as name: String) async throws {
        let final = layersRoot + "/" + name
        if !ledger.owners.isEmpty { try await runner.namespace.applyOwners(ledger.records, under: temp) }
        try runner.giveToNamespaceRoot(temp)
        if rename(temp, final) != 0 && access(final, F_OK) != 0 {
            throw RuntimeError.io("cannot place the layer folder \(final): \(String(cString: strerror(errno)))")
        }
    }

    /// A cache record: the key's layer.
    struct CacheRecord: Codable {
        var diffID: Digest
        var size: Int64
    }

    /// The layers the step records under `folder` (a namespace's, by image) name: what the
    /// namespace's Dockerfile builds keep, for its storage quota. A record that cannot be read
    /// names nothing.
    public static func layersNamed(byRecordsUnder folder: String) -> Set<Digest> {
        var found = Set<Digest>()
        let fm = FileManager.default
        for image in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: folder + "/" + image)) ?? [] where name.hasSuffix(".json") {
                if let data = fm.contents(atPath: folder + "/" + image + "/" + name), let r = try? JSONDecoder().decode(CacheRecord.self, from: data) {
                    found.insert(r.diffID)
                }
            }
        }
        return found
    }

    func cachedLayer(_ key: Digest) -> Layer? {
        // A record that cannot be read is a miss (`try?`): the step runs again.
        guard let data = FileManager.default.contents(atPath: cacheDirectory + "/" + key.hex + ".json"),
            let r = try? JSONDecoder().decode(CacheRecord.self, from: data), images.content.reuse(r.diffID),
            access(layersRoot + "/" + r.diffID.hex, F_OK) == 0
        else { return nil }
        // A hit keeps the record another `cacheLifetime` (a failed touch only shortens that).
        _ = utimensat(AT_FDCWD, cacheDirectory + "/" + key.hex + ".json", nil, 0)
        return Layer(descriptor: OCIDescriptor(mediaType: MediaType.layer, digest: r.diffID, size: r.size), diffID: r.diffID, store: images.content,
                     folder: r.diffID.hex)
    }

    func record(_ key: Digest, _ layer: Layer) throws {
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        try JSONEncoder().encode(CacheRecord(diffID: layer.diffID, size: layer.descriptor.size))
            .write(to: URL(fileURLWithPath: cacheDirectory + "/" + key.hex + ".json"), options: .atomic)
    }

    /// The deepest tree a COPY, ADD or bind mount copies, as every walk of a tree a step wrote:
    /// deeper fails the build (a recursive walk of a step's 25,000-level tree once overflowed
    /// the engine's stack).
    static let maxTreeDepth = TreeLimits.default.maxDepth

    /// The most `--mount` flags a RUN takes (the helper places at most 24 mounts, the step's
    /// resolv.conf among them).
    static let maxMounts = 16

    /// The folder under `layersRoot` holding the resolv.conf of steps with the public network.
    static let networkFolder = ".network"

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The environment a RUN sees: the image's ENV, the ARGs in scope, and a PATH.
    func runEnvironment(_ stage: Stage) -> [String: String] {
        var env = stage.args
        for (k, v) in stage.env { env[k] = v }
        if env["PATH"] == nil { env["PATH"] = Self.defaultPath }
        return env
    }

    /// What a step may read besides its own stage (COPY --from, RUN --mount): the stages built
    /// so far, the context, and images by name.
    struct StepSources {
        var dockerfile: Dockerfile
        var built: [Int: Stage]
        var context: ConfinedDirectory
        var request: Request
        /// The global ARGs (and the platform's), for `--from` values.
        var globals: [String: String]
        /// What ADD downloads URLs with; nil when the build has no network.
        var fetcher: BlobFetcher?
    }

    /// A `RUN --mount` (or the step's resolv.conf) as the step gets it: the mount, whether its
    /// source is a file, what of it goes into the step's cache key, and a scratch folder of
    /// the builder's (leased while the step runs) to remove after the step.
    struct PreparedMount {
        var mount: OverlayStepRunner.StepMount
        var sourceIsFile: Bool
        var key: String
        var scratch: ScratchFolder?
    }

    /// A `RUN --mount`: what the step sees there, and what of it goes into the step's cache key.
    /// - `type=cache,target=…[,id=…][,uid=…][,gid=…][,mode=…]`: a folder of the namespace's,
    ///   keyed by `id` (default: the target), that outlives builds, made (owned as asked,
    ///   inside the step's namespace) on first use;
    /// - `type=bind,target=…[,from=STAGE|IMAGE][,source=…][,rw]`: a path of another stage, of an
    ///   image, or of the context (ignore rules applied), read-only unless `rw`, whose writes
    ///   are dropped after the step. `source` is resolved inside what it names as a container
    ///   would (a symlink to `/` is that stage's root, never the host's);
    /// - `type=tmpfs,target=…[,size=BYTES]`: an empty tmpfs, at most `maxTmpfsBytes`.
    /// `secret` and `ssh` are refused. The target is resolved later, inside the stage (`run`).
    func stepMount(_ spec: String, sources: StepSources, copies: ByteBudget, file: String, line: Int) async throws -> PreparedMount {
        var options: [String: String] = [:]
        for part in spec.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            options[kv[0].lowercased()] = kv.count == 2 ? kv[1] : "true"
        }
        let type = options["type"] ?? "bind"
        guard ["cache", "bind", "tmpfs"].contains(type) else {
            throw fail(file, line, "RUN --mount=type=\(type) is not supported by Slipway yet (bind, cache and tmpfs are)")
        }
        guard let target = options["target"] ?? options["dst"] ?? options["destination"], target.hasPrefix("/"),
            PathSyntax.components(target).allSatisfy(ArchiveExtractor.isNormalComponent), PathSyntax.components(target).count > 0
        else { throw fail(file, line, "RUN --mount=type=\(type) needs an absolute target=PATH below /") }
        switch type {
        case "tmpfs":
            let limit = sources.request.maxTmpfsBytes
            var bytes = limit
            if let text = options["size"] ?? options["tmpfs-size"] {
                guard let n = Int64(text), n > 0 else { throw fail(file, line, "RUN --mount=type=tmpfs,size=\(text): the size is a number of bytes") }
                guard n <= limit else { throw fail(file, line, "RUN --mount=type=tmpfs,size=\(text) is over \(limit) bytes, the most a step's tmpfs may hold (--step-memory)") }
                bytes = n
            }
            return PreparedMount(mount: .init(.tmpfs(bytes: bytes), at: target, writable: true), sourceIsFile: false, key: "tmpfs \(target) \(bytes)")
        case "bind":
            let source = options["source"] ?? options["src"] ?? "/"
            let path = PathSyntax.components(source)
            guard path.allSatisfy(ArchiveExtractor.isNormalComponent) else {
                throw fail(file, line, "RUN --mount=type=bind,source=\(source) leaves what it mounts")
            }
            let writable = options["rw"] == "true" || options["readwrite"] == "true"
            // The source as a container sees it: symlinks followed inside what it names.
            func resolve(_ view: LayerChainView, in what: String) throws -> LayerChainView.Resolution {
                let r: LayerChainView.Resolution
                do { r = try view.resolve(path.joined(separator: "/")) } catch let e as LayerChainView.ResolutionError {
                    throw fail(file, line, "RUN --mount=type=bind,source=\(source): \(e.why) in \(what)")
                }
                guard r.node != nil else { throw fail(file, line, "RUN --mount=type=bind,source=\(source): no such file or folder in \(what)") }
                return r
            }
            func isFile(_ r: LayerChainView.Resolution) -> Bool { if case .directory? = r.node { return false } else { return true } }
            let what = "bind \(target) rw=\(writable)"
            if let from = options["from"] {
                if let j = sources.dockerfile.stage(named: from), let other = sources.built[j] {
                    let r = try resolve(LayerChainView(folders: try other.lowers.map { try ConfinedDirectory(path: layersRoot + "/" + $0) }), in: "stage \(from)")
                    let sub = r.components.joined(separator: "/")
                    return PreparedMount(mount: .init(.layers(other.lowers, path: sub), at: target, writable: writable), sourceIsFile: isFile(r),
                                         key: what + " source=\(sub) stage " + other.key.string)
                }
                let image = try await sources.request.resolveBase(from)
                let folder = try await baseFolder(image)
                let r = try resolve(LayerChainView(folders: [try ConfinedDirectory(path: layersRoot + "/" + folder)]), in: "image \(from)")
                let sub = r.components.joined(separator: "/")
                return PreparedMount(mount: .init(.layers([folder], path: sub), at: target, writable: writable), sourceIsFile: isFile(r),
                                     key: what + " source=\(sub) image " + image.manifestDigest.string)
            }
            // The context: its files below the resolved `source`, ignore rules applied, copied
            // into a folder of the step's, whose digest goes into the key.
            let r = try resolve(LayerChainView(folders: [sources.context]), in: "the build context")
            let (folder, digest) = try await BlockingWork.run { [self] in
                try copyContext(sources.context, path: r.components, ignore: IgnoreRules(Self.ignoreFile(context: sources.context, dockerfile: file), syntax: .dockerignore),
                                budget: copies)
            }
            // A file is copied under its name; a folder's contents are the copy.
            let fileName = isFile(r) ? r.components.last ?? "" : ""
            return PreparedMount(mount: .init(.layers([folder.path], path: fileName), at: target, writable: writable), sourceIsFile: isFile(r),
                                 key: what + " source=\(r.components.joined(separator: "/")) context " + digest.string, scratch: folder)
        default:
            guard let mountCache = sources.request.mountCacheDirectory else {
                throw fail(file, line, "RUN --mount=type=cache needs a build of an image (its cache keeps the folder)")
            }
            func number(_ key: String, radix: Int, below limit: UInt32, default value: UInt32) throws -> UInt32 {
                guard let text = options[key] else { return value }
                guard let n = UInt32(text, radix: radix), n < limit else { throw fail(file, line, "--mount \(key)=\(text) is out of range") }
                return n
            }
            let uid = try number("uid", radix: 10, below: IDMapping.size, default: 0)
            let gid = try number("gid", radix: 10, below: IDMapping.size, default: 0)
            let mode = mode_t(try number("mode", radix: 8, below: 0o10000, default: 0o755))
            let host = mountCache + "/" + Digest.of(Data((options["id"] ?? target).utf8)).hex
            try FileManager.default.createDirectory(atPath: mountCache, withIntermediateDirectories: true)
            if mkdir(host, mode) == 0 {
                // A user that is not root cannot give ids of their range away: the folder stays
                // theirs (root inside the step).
                if getuid() == 0, let u = IDMapping.outer(uid, in: mapping.users), let g = IDMapping.outer(gid, in: mapping.groups) { _ = chown(host, u, g) }
                _ = chmod(host, mode)
            } else if errno != EEXIST {
                throw RuntimeError.io("cannot make the cache mount folder \(host): \(String(cString: strerror(errno)))")
            }
            // A cache folder's contents are not part of the key: it is a cache.
            return PreparedMount(mount: .init(.folder(host), at: target, writable: true), sourceIsFile: false, key: "cache " + target)
        }
    }

    /// Where a mount goes in the step's root: its target resolved inside the stage as a
    /// container resolves it (symlinks followed there, never on the host), refused under
    /// `/proc` and `/dev` (the sandbox's own) and where a file stands for a folder or the
    /// reverse; the components the helper will make (missing from the stage) are
    /// `components[existing...]`.
    func placeMount(_ prepared: PreparedMount, in view: LayerChainView, file: String, line: Int) throws -> (OverlayStepRunner.StepMount, LayerChainView.Resolution) {
        var mount = prepared.mount
        let r: LayerChainView.Resolution
        do { r = try view.resolve(mount.target) } catch let e as LayerChainView.ResolutionError {
            throw fail(file, line, "RUN --mount target=\(mount.target): \(e.why) in the stage")
        }
        guard let first = r.components.first, !["proc", "dev"].contains(first) else {
            throw fail(file, line, "RUN --mount target=\(mount.target) is \(r.components.isEmpty ? "the root" : "under /\(r.components[0])"), which the sandbox mounts itself; mount somewhere else")
        }
        switch r.node {
        case .directory? where prepared.sourceIsFile:
            throw fail(file, line, "RUN --mount target=\(mount.target) is a folder in the stage, and the mount's source is a file")
        case .file? where !prepared.sourceIsFile:
            throw fail(file, line, "RUN --mount target=\(mount.target) is a file in the stage, and the mount's source is a folder")
        default: break
        }
        mount.target = r.absolute
        return (mount, r)
    }

    /// Copies the context's `path` (a folder's contents, or one file under its name), without
    /// what `ignore` leaves out, into a scratch folder under `layersRoot` owned by the step's
    /// root, hashing what it copies (paths, types, modes, link targets, contents) on the way.
    /// Returns the folder's path and that digest. The bytes copied are taken from `budget`
    /// (what the step's copies may hold together); past it, the build fails.
    func copyContext(_ context: ConfinedDirectory, path: [String], ignore: IgnoreRules, budget: ByteBudget) throws -> (ScratchFolder, Digest) {
        let folder = try ScratchFolder(in: layersRoot)
        let out = try ConfinedDirectory(path: folder.path)
        let hasher = SHA256Hasher()
        let (uid, gid) = getuid() == 0 ? (IDMapping.outer(0, in: mapping.users) ?? 0, IDMapping.outer(0, in: mapping.groups) ?? 0) : (getuid(), getgid())
        func give(_ dir: ConfinedDirectory, _ name: String?) {
            // Ownership only makes the copy look like root's inside the step; reading it works
            // either way (hence no check).
            if getuid() == 0 { if let name { _ = fchownat(dir.fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) } else { _ = fchown(dir.fd, uid, gid) } }
        }
        give(out, nil)
        func note(_ parts: String...) { hasher.update(Array((parts.joined(separator: " ") + "\n").utf8)) }
        // Folders still to copy the children of, walked with an explicit stack, each folder's
        // children right after it (the order the digest is taken in).
        var stack: [(here: LayerChainView, names: [String], next: Int, into: ConfinedDirectory, source: [String])] = []
        func push(_ layers: [ConfinedDirectory], into dir: ConfinedDirectory, source: [String]) throws {
            guard stack.count < Self.maxTreeDepth else {
                throw RuntimeError.buildFailed("the build context's \(PathSyntax.shortened(source.joined(separator: "/"))) is more than \(Self.maxTreeDepth) folders deep")
            }
            stack.append((LayerChainView(folders: layers), try LayerChainView.entries(of: layers), 0, dir, source))
        }
        func copy(_ node: LayerChainView.Node, name: String, into dir: ConfinedDirectory, source: [String]) throws {
            switch node {
            case .file(let from, let n, let st):
                guard budget.take(Int64(st.st_size)) else {
                    throw RuntimeError.buildFailed("the step's bind mounts of the build context copy more than \(budget.limit) bytes, what its layer may hold (--max-layer-bytes); mount less of the context")
                }
                let mode = Int(st.st_mode & 0o7777)
                note("f", source.joined(separator: "/"), String(mode, radix: 8), String(st.st_size))
                let input = try from.openFile(n, flags: O_RDONLY | O_NONBLOCK)
                defer { close(input) }
                let output = try dir.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode_t(mode))
                defer { close(output) }
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let r = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                    if r < 0 && errno == EINTR { continue }
                    guard r >= 0 else { throw RuntimeError.io("reading \(source.joined(separator: "/")) of the context: \(String(cString: strerror(errno)))") }
                    if r == 0 { break }
                    buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<r])) }
                    var done = 0
                    while done < r {
                        let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, r - done) }
                        guard w > 0 else { throw RuntimeError.io("copying the context for a bind mount: \(String(cString: strerror(errno)))") }
                        done += w
                    }
                }
                _ = fchmod(output, mode_t(mode))  // the umask may have cut it; a failure only narrows it
                give(dir, name)
            case .symlink(let target, _):
                note("l", source.joined(separator: "/"), target)
                guard symlinkat(target, dir.fd, name) == 0 else { throw RuntimeError.io("copying a symlink of the context: \(String(cString: strerror(errno)))") }
                give(dir, name)
            case .directory(let layers, let st):
                note("d", source.joined(separator: "/"), String(Int(st.st_mode & 0o7777), radix: 8))
                let sub = try dir.makeDirectories(name)
                _ = fchmod(sub.fd, st.st_mode & 0o7777)  // as above
                give(sub, nil)
                try push(layers, into: sub, source: source)
            }
        }
        switch try LayerChainView(folders: [context]).node(path.joined(separator: "/")) {
        case .directory(let layers, _)?: try push(layers, into: out, source: path)
        case let node?: try copy(node, name: path.last!, into: out, source: path)
        case nil: break
        }
        while let top = stack.last {
            guard top.next < top.names.count else { stack.removeLast(); continue }
            stack[stack.count - 1].next += 1
            let child = top.names[top.next]
            guard let n = try top.here.node(child) else { continue }
            var isDirectory = false
            if case .directory = n { isDirectory = true }
            guard !ignore.ignores((top.source + [child]).joined(separator: "/"), isDirectory: isDirectory) else { continue }
            try copy(n, name: child, into: top.into, source: top.source + [child])
        }
        return (folder, hasher.finish())
    }

    func run(_ ins: DockerfileInstruction, in stage: inout Stage, file: String, sources: StepSources, log: @escaping BuildLogger, label: String) async throws {
        let phase = BuildPhase.build.rawValue
        for f in ins.flags where f.name != "mount" {
            throw fail(file, ins.line, "RUN --\(f.name) is not supported by Slipway yet")
        }
        var prepared: [PreparedMount] = []
        defer {
            // Copies of the context for bind mounts: removed here, or swept with the other .tmp
            // folders by the next garbage collection.
            for folder in prepared.compactMap(\.scratch) { try? ConfinedDirectory.removeTree(atPath: folder.path) }
        }
        let specs = ins.flagValues("mount")
        guard specs.count <= Self.maxMounts else {
            throw fail(file, ins.line, "RUN has \(specs.count) --mount flags; a step takes at most \(Self.maxMounts)")
        }
        // What this step's copies of the context (for bind mounts) may hold together: what its
        // layer may.
        let copies = ByteBudget(limit: Self.layerLimit(sources.request).bytes)
        for spec in specs {
            do {
                prepared.append(try await stepMount(spec, sources: sources, copies: copies, file: file, line: ins.line))
            } catch let e as RuntimeError where e.kind == .buildFailed && !e.message.hasPrefix(file + ":") {
                throw fail(file, ins.line, e.message)  // over a cap: the line says where
            }
        }
        // With the public network, the step's /etc/resolv.conf names slirp4netns's DNS server.
        let publicNetwork = sources.request.publicNetwork
        if publicNetwork {
            _ = try StepNetwork.resolvConfFile(in: layersRoot + "/" + Self.networkFolder)
            prepared.append(PreparedMount(mount: .init(.folder(layersRoot + "/" + Self.networkFolder, path: "resolv.conf"), at: "/etc/resolv.conf", writable: false),
                                          sourceIsFile: true, key: ""))
        }
        let mountKeys = prepared.map(\.key).filter { !$0.isEmpty }
        // A bind mount is an input of the step: what it shows is in the key; and so is the
        // network (a step with none may make something else than one with public).
        let env = runEnvironment(stage)
        stage.key = Digest.of(Data((stage.key.string + "\n" + env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
                                    + mountKeys.map { "\nmount " + $0 }.joined() + (sources.request.publicNetwork ? "\nnetwork public" : "")).utf8))
        log(phase, .system, "\(label) RUN \(ins.shellText.isEmpty ? "\(ins.arguments)" : ins.shellText)")
        if let cached = cachedLayer(stage.key) {
            log(phase, .system, "  CACHED (layer \(cached.diffID.short))")
            stage.layers.append(cached)
            stage.reused += 1
            return
        }
        log(phase, .system, "  not cached: no layer for this step after the steps before it (key \(stage.key.short))")
        var command: [String]
        switch ins.arguments {
        case .exec(let argv): command = argv
        case .shell(let s):
            if let doc = ins.heredocs.first, ins.heredocs.count == 1, s.trimmingCharacters(in: .whitespaces).hasPrefix("<<") {
                command = stage.shell + [doc.content]
            } else {
                command = stage.shell + [([s] + ins.heredocs.map { $0.content + $0.name }).joined(separator: "\n")]
            }
        }
        let view = try LayerChainView(folders: stage.lowers.map { try ConfinedDirectory(path: layersRoot + "/" + $0) })
        let user = try stage.config.config.User.map { try view.user($0) } ?? (0, 0)
        // The working directory as the container resolves it, symlinks followed inside the
        // stage; made (in the step's own folders) where it is missing.
        let workdir: String, missing: Bool
        do {
            let r = try view.resolve(stage.config.config.WorkingDir ?? "/")
            switch r.node {
            case nil, .directory?: break
            default: throw fail(file, ins.line, "the working directory \(stage.config.config.WorkingDir ?? "/") is not a folder in the stage")
            }
            workdir = r.absolute
            missing = r.node == nil
        } catch let e as LayerChainView.ResolutionError {
            throw fail(file, ins.line, "the working directory \(e.path) \(e.why)")
        }
        // Targets resolved inside the stage; a mount inside another's target goes after it.
        let placed = try prepared.map { try placeMount($0, in: view, file: file, line: ins.line) }
            .enumerated().sorted { ($0.element.1.components.count, $0.offset) < ($1.element.1.components.count, $1.offset) }.map(\.element)
        let mounts = placed.map(\.0)
        let code: Int32, step: OverlayStepRunner.StepFolders
        // What the step may write to disk while it runs: what its layer may hold.
        let diskLimit = Self.layerLimit(sources.request)
        do {
            (code, step) = try await runner.run(lowers: stage.lowers, user: user, environment: env, workingDirectory: workdir,
                                                makeWorkingDirectory: missing, mounts: mounts, publicNetwork: publicNetwork,
                                                diskLimit: diskLimit, command: command) { stream, line in
                log(phase, stream == .stdout ? .stdout : .stderr, line)
            }
        } catch let e as RuntimeError where e.kind == .buildFailed {
            throw fail(file, ins.line, e.message)
        }
        guard code == 0 else {
            try await runner.remove(step)
            throw fail(file, ins.line, "RUN exited with status \(code)")
        }
        // The folders (and a file's empty file) made only to mount on, missing from the stage,
        // leave with the mounts, as BuildKit removes its mount stubs, when nothing else was
        // written in them.
        let stubs = placed.map { (target: $0.1.components, first: $0.1.existing + 1) }
        try await BlockingWork.run {
            let upper = try ConfinedDirectory(path: step.upper)
            for (target, first) in stubs.reversed() where first <= target.count {
                for end in stride(from: target.count, through: first, by: -1) {
                    let parent: ConfinedDirectory
                    do { parent = end == 1 ? upper : try upper.openDirectory(target[0..<(end - 1)].joined(separator: "/")) } catch { break }
                    let name = target[end - 1]
                    if end == target.count, let st = try parent.status(name), (st.st_mode & S_IFMT) == S_IFREG {
                        guard st.st_size == 0, unlinkat(parent.fd, name, 0) == 0 else { break }
                        continue
                    }
                    guard unlinkat(parent.fd, name, AT_REMOVEDIR) == 0 else { break }  // not empty: the step wrote there
                }
            }
        }
        let request = sources.request
        // The step's layer folder, leased until its record names it (a collection would take a
        // layer folder no record names).
        let upperLease = try FolderLease(step.upper)
        defer { withExtendedLifetime(upperLease) {} }
        let layer: Layer
        do {
            layer = try await BlockingWork.run { [self, images, mapping, layersRoot] () throws -> Layer in
                let w = try layerWriter(request)
                let tar = TarWriter(out: w)
                try OverlayDiff.write(upper: try ConfinedDirectory(path: step.upper), mapping: mapping, into: tar)
                try tar.finish()
                let (digest, size) = try w.commit()
                let folder = layersRoot + "/" + digest.hex
                if access(folder, F_OK) != 0 && rename(step.upper, folder) != 0 {
                    throw RuntimeError.io("cannot keep the step's layer folder: \(String(cString: strerror(errno)))")
                }
                return Layer(descriptor: OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size), diffID: digest, store: images.content,
                             folder: digest.hex)
            }
        } catch {
            // Over a cap, or unreadable: nothing of the step stays.
            try? await runner.remove(step)  // a leftover step folder is swept by the next collection
            if let e = error as? RuntimeError, e.kind == .buildFailed { throw fail(file, ins.line, e.message) }
            if let e = error as? TreeLimitExceeded { throw fail(file, ins.line, e.description) }
            throw error
        }
        try await runner.remove(step)
        try record(stage.key, layer)
        stage.layers.append(layer)
        stage.added += 1
        log(phase, .system, "  layer \(layer.diffID.short) (\(layer.descriptor.size) bytes)")
    }

    // MARK: COPY and ADD

    func copy(_ ins: DockerfileInstruction, into stage: inout Stage, sources stepSources: StepSources,
              words: ShellWords, file: String, log: @escaping BuildLogger) async throws {
        let phase = BuildPhase.build.rawValue
        let name = ins.keyword.rawValue.uppercased()
        // --link: the files are copied into an empty folder made a layer of its own, so the
        // folders on the way are that layer's (0755, the --chown owner), not the stage's.
        let linked: Bool
        switch ins.flag("link") {
        case nil, .some("false"): linked = false
        case .some(nil), .some("true"): linked = true
        case .some(.some(let v)): throw fail(file, ins.line, "--link=\(v) is not true or false")
        }
        for f in ins.flags where !["from", "chown", "chmod", "link", "exclude", "parents", "checksum"].contains(f.name)
            || (ins.keyword == .add && ["from", "parents"].contains(f.name)) {
            throw fail(file, ins.line, "\(name) --\(f.name) is not supported by Slipway yet")
        }
        // --exclude patterns (.dockerignore syntax) match paths relative to each matched source:
        // a file's name, or a path inside a matched folder.
        let excludes = ins.flagValues("exclude")
        let exclude = excludes.isEmpty ? nil : IgnoreRules(excludes.joined(separator: "\n"), syntax: .dockerignore)
        let keepParents: Bool
        switch ins.flag("parents") {
        case nil, .some("false"): keepParents = false
        case .some(nil), .some("true"): keepParents = true
        case .some(.some(let v)): throw fail(file, ins.line, "--parents=\(v) is not true or false")
        }
        let lookup: ShellWords.Lookup = { [stage] in stage.lookup($0) }
        var args: [String]
        do {
            switch ins.arguments {
            case .exec(let a): args = try a.map { try words.word($0, lookup) }
            case .shell(let s): args = try words.rawWords(s).map { $0.hasPrefix("<<") ? $0 : try words.word($0, lookup) }
            }
        } catch let e as ShellWords.Failure {
            throw fail(file, ins.line, e.message)
        }
        let destination = args.removeLast()
        let sources = args
        // Where files come from: the context (ignore rules applied) or another stage.
        let context = stepSources.context
        var view = LayerChainView(folders: [context])
        var ignore: IgnoreRules?
        if case .some(.some(let fromFlag)) = ins.flag("from") {
            let from = try words.word(fromFlag) { [stage] in stage.lookup($0) ?? stepSources.globals[$0] }
            if let j = stepSources.dockerfile.stage(named: from), let other = stepSources.built[j] {
                view = LayerChainView(folders: try other.lowers.map { try ConfinedDirectory(path: layersRoot + "/" + $0) })
            } else {
                // Not a stage: an image, by name.
                let image = try await stepSources.request.resolveBase(from)
                log(phase, .system, "\(name) --from=\(from) (\(image.manifestDigest))")
                let folder = try await baseFolder(image)
                view = LayerChainView(folders: [try ConfinedDirectory(path: layersRoot + "/" + folder)])
            }
        } else {
            ignore = IgnoreRules(Self.ignoreFile(context: context, dockerfile: file), syntax: .dockerignore)
        }
        // ADD of URLs: downloaded first (by the builder, not in a step), checked against
        // --checksum, and added as files of mode 0600 named after the URL's path.
        var downloads: [String: String] = [:]
        let downloads0Scratch = try ScratchFolder(in: layersRoot)
        let downloadFolder = downloads0Scratch.path
        defer { try? ConfinedDirectory.removeTree(atPath: downloadFolder); withExtendedLifetime(downloads0Scratch) {} }  // scratch; a leftover is swept by the next collection
        if ins.keyword == .add {
            let urls = sources.filter { $0.contains("://") }
            if case .some(.some) = ins.flag("checksum"), urls.count != 1 || sources.count != 1 {
                throw fail(file, ins.line, "ADD --checksum needs exactly one source, a URL")
            }
            if !urls.isEmpty { try FileManager.default.createDirectory(atPath: downloadFolder, withIntermediateDirectories: true) }
            for (i, url) in urls.enumerated() {
                downloads[url] = try await download(url, to: downloadFolder + "/\(i)", checksum: ins.flag("checksum") ?? nil, fetcher: stepSources.fetcher,
                                                    file: file, line: ins.line, log: log)
            }
        }
        let stageView = try LayerChainView(folders: stage.lowers.map { try ConfinedDirectory(path: layersRoot + "/" + $0) })
        var owner = TarWriter.Owner.root
        if case .some(.some(let chown)) = ins.flag("chown") {
            let spec = try words.word(chown, lookup)
            let ids = try stageView.user(spec)
            // A user without a group takes the uid's number as gid too, as Docker does.
            owner = TarWriter.Owner(uid: ids.uid, gid: spec.contains(":") ? ids.gid : ids.uid)
        }
        var mode: Int?
        if case .some(.some(let chmod)) = ins.flag("chmod") {
            guard let m = Int(chmod, radix: 8), (0...0o7777).contains(m) else { throw fail(file, ins.line, "--chmod=\(chmod) is not an octal mode") }
            mode = m
        }
        let workdir = stage.config.config.WorkingDir ?? "/"
        let destAbsolute = destination.hasPrefix("/") ? destination : workdir + "/" + destination
        let destParts = PathSyntax.components(destAbsolute)
        guard destParts.allSatisfy(ArchiveExtractor.isNormalComponent) else { throw fail(file, ins.line, "\(name) destination \(destination) is not a path") }
        // Heredoc contents, expanded here (variables of the stage) unless their marker is quoted.
        let heredocs = Dictionary(ins.heredocs.map { doc in
            (doc.name, (name: doc.name, content: doc.expands ? (try? words.word(doc.content, lookup)) ?? doc.content : doc.content))
        }, uniquingKeysWith: { a, _ in a })
        let destIsDirectory = destination.hasSuffix("/") || sources.count > 1 || keepParents
        let (view0, ignore0, owner0, mode0, downloads0) = (view, ignore, owner, mode, downloads)

        // The files are read and the layer written on a thread of its own, off the pool.
        let fromContext = ins.flag("from") == nil
        let treeScratch = try ScratchFolder(in: layersRoot)
        let treeFolder = treeScratch.path
        // The folder written beside the tar, leased until the layer is recorded: put in place as
        // the layer's folder, or else removed (a leftover is swept with the other .tmp folders).
        defer { try? ConfinedDirectory.removeTree(atPath: treeFolder); withExtendedLifetime(treeScratch) {} }
        let written: (Digest, Int64, String?, ArchiveExtractor.OwnerLedger)
        do {
        written = try await BlockingWork.run { [self] () throws -> (Digest, Int64, String?, ArchiveExtractor.OwnerLedger) in
        let (view, ignore, owner, mode, downloads) = (view0, ignore0, owner0, mode0, downloads0)
        let w = try layerWriter(stepSources.request)
        let tree = try LayerTreeWriter(tar: TarWriter(out: w), folder: treeFolder, mapping: mapping)
        var written = Set<String>()
        // Folders on the way to a copied file: one the stage has keeps its mode and owner; a new
        // one gets 0755 and the --chown owner (root without it), as Docker makes them.
        let mapping = self.mapping
        func parents(of parts: [String]) throws { try folders(Array(parts.dropLast())) }
        // `parts` and every folder above it.
        func folders(_ parts: [String]) throws {
            for i in stride(from: 1, through: parts.count, by: 1) {
                let p = parts[0..<i].joined(separator: "/")
                guard written.insert(p).inserted else { continue }
                if !linked, case .directory(_, let st)? = try stageView.node(p) {
                    let kept = TarWriter.Owner(uid: IDMapping.inner(st.st_uid, in: mapping.users).map(Int.init) ?? 0,
                                               gid: IDMapping.inner(st.st_gid, in: mapping.groups).map(Int.init) ?? 0)
                    try tree.addDirectory(p, mode: Int(st.st_mode & 0o7777), owner: kept)
                } else {
                    try tree.addDirectory(p, mode: 0o755, owner: owner)
                }
            }
        }
        // Whether the context's ignore rules, or --exclude (on the path from component
        // `excludeFrom` on), leave `source` out.
        func ignored(_ source: [String], _ node: LayerChainView.Node, excludeFrom: Int) -> Bool {
            var isDirectory = false
            if case .directory = node { isDirectory = true }
            if let ignore, ignore.ignores(source.joined(separator: "/"), isDirectory: isDirectory) { return true }
            guard let exclude else { return false }
            return exclude.ignores(source.dropFirst(excludeFrom).joined(separator: "/"), isDirectory: isDirectory)
        }
        // Adds `node` at `parts` or, with `childrenOf`, only a folder's contents there (`source`
        // is the path in the context or stage, for ignore rules), without what is ignored or
        // excluded; an ignored folder may still hold paths a `!` rule takes back: those go,
        // with the folders above them. Folders are walked with an explicit stack (a step may
        // have made a tree of any depth), each folder's children right after it.
        func addTree(_ node: LayerChainView.Node?, childrenOf layers: [ConfinedDirectory]? = nil, at parts: [String], source: [String], excludeFrom: Int) throws {
            var stack: [(here: LayerChainView, names: [String], next: Int, parts: [String], source: [String])] = []
            func push(_ layers: [ConfinedDirectory], _ parts: [String], _ source: [String]) throws {
                guard stack.count < Self.maxTreeDepth else {
                    throw fail(file, ins.line, "\(name) \(PathSyntax.shortened(source.joined(separator: "/"))): the tree is more than \(Self.maxTreeDepth) folders deep, more than a layer may hold")
                }
                stack.append((LayerChainView(folders: layers), try LayerChainView.entries(of: layers), 0, parts, source))
            }
            func add(_ node: LayerChainView.Node, _ parts: [String], _ source: [String]) throws {
                try parents(of: parts)
                let path = parts.joined(separator: "/")
                guard written.insert(path).inserted else { return }
                switch node {
                case .file(let dir, let n, let st):
                    try tree.addFile(path, from: dir, name: n, status: st, mode: mode ?? Int(st.st_mode & 0o7777), owner: owner, adopt: fromContext)
                case .symlink(let target, _):
                    try tree.addSymlink(path, target: target, owner: owner)
                case .directory(let layers, let st):
                    try tree.addDirectory(path, mode: mode ?? Int(st.st_mode & 0o7777), owner: owner)
                    try push(layers, parts, source)
                }
            }
            if let node { try add(node, parts, source) } else if let layers { try push(layers, parts, source) }
            while let top = stack.last {
                guard top.next < top.names.count else { stack.removeLast(); continue }
                stack[stack.count - 1].next += 1
                let child = top.names[top.next]
                guard let n = try top.here.node(child) else { continue }
                guard ignored(top.source + [child], n, excludeFrom: excludeFrom) else {
                    try add(n, top.parts + [child], top.source + [child])
                    continue
                }
                if case .directory(let inner, _) = n, ignore?.hasExceptions == true || exclude?.hasExceptions == true {
                    try push(inner, top.parts + [child], top.source + [child])
                }
            }
        }
        /// A file or symlink goes to the destination, or into it when it is a folder.
        /// With --parents, its path (from the `/./` pivot on, if any) goes along.
        func copyOne(_ node: LayerChainView.Node, _ relative: [String], kept: [String]) throws {
            var intoFolder = destIsDirectory
            if !intoFolder, case .directory? = try stageView.node(destParts.joined(separator: "/")) { intoFolder = true }
            // A file or symlink source has a name: only a folder (the root included) has none.
            guard let last = relative.last else { throw fail(file, ins.line, "\(name): the source is not a file") }
            try addTree(node, at: intoFolder ? destParts + (keepParents ? kept : [last]) : destParts, source: relative,
                        excludeFrom: relative.count - 1)
        }
        var matched = 0
        // The last source wins where two give the same path, as in Docker: sources are written
        // last first, and a path written once is not written again.
        for src in sources.reversed() {
            if let doc = heredocs[String(src.drop { $0 == "<" || $0 == "-" }).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))], src.hasPrefix("<<") {
                let content = doc.content
                let target = destIsDirectory ? destParts + [doc.name] : destParts
                try parents(of: target)
                if written.insert(target.joined(separator: "/")).inserted {
                    try tree.addFile(target.joined(separator: "/"), contents: Array(content.utf8), mode: mode ?? 0o644, owner: owner)
                }
                matched += 1
                continue
            }
            if let path = downloads[src] {
                let name = PathSyntax.components(URL(string: src)?.path ?? "").last ?? ""
                let target = destIsDirectory ? destParts + [name] : destParts
                guard !destIsDirectory || ArchiveExtractor.isNormalComponent(name) else {
                    throw fail(file, ins.line, "ADD \(src): the URL names no file; give a destination file name")
                }
                var intoFolder = false
                if !destIsDirectory, case .directory? = try stageView.node(destParts.joined(separator: "/")) { intoFolder = ArchiveExtractor.isNormalComponent(name) }
                let at = intoFolder ? destParts + [name] : target
                try parents(of: at)
                if written.insert(at.joined(separator: "/")).inserted {
                    let folder = try ConfinedDirectory(path: (path as NSString).deletingLastPathComponent)
                    let fileName = (path as NSString).lastPathComponent
                    guard let st = try folder.status(fileName) else { throw RuntimeError.io("the download of \(src) is gone") }
                    try tree.addFile(at.joined(separator: "/"), from: folder, name: fileName, status: st, mode: mode ?? 0o600, owner: owner, adopt: false)
                }
                matched += 1
                continue
            }
            let srcParts = PathSyntax.components(src)
            guard srcParts.allSatisfy({ ArchiveExtractor.isNormalComponent($0) }) else {
                throw fail(file, ins.line, "\(name) source \(src) leaves the build context")
            }
            // --parents keeps the source's path below the context (or below a `/./` in it).
            let pivot = src.range(of: "/./").map { PathSyntax.components(String(src[..<$0.lowerBound])).count } ?? 0
            for (relative, found) in try glob(srcParts, in: view, ignore: ignore) {
                // --exclude matches a source by its name; the context's root (`.`) has none.
                if let exclude, let last = relative.last, exclude.ignores(last, isDirectory: { if case .directory = found { return true } else { return false } }()) { continue }
                // A source that is itself a symlink is copied as what it points to (inside the
                // context or stage), as Docker does; symlinks inside a copied folder stay links.
                // A link to nothing, or one that loops, stays a link.
                let node = (try? view.resolve(relative.joined(separator: "/")))?.node ?? found
                let kept = Array(relative.dropFirst(pivot))
                matched += 1
                switch node {
                case .directory(let layers, _):
                    // A folder's contents go into the destination (with --parents, into its path there).
                    let into = destParts + (keepParents ? kept : [])
                    if keepParents { try folders(into) }
                    try addTree(nil, childrenOf: layers, at: into, source: relative, excludeFrom: relative.count)
                case .file(let dir, let n, _) where ins.keyword == .add && ins.flag("from") == nil:
                    // ADD of a local tar archive (plain, gzip, bzip2 or xz): unpacked into the
                    // destination folder, never written outside it. Another file is copied.
                    if try Self.isArchive(dir, n) {
                        try folders(destParts)
                        tree.drop()  // what an archive holds is unpacked from the layer's tar
                        try addArchive(dir, n, at: destParts, written: &written, into: tree.tar, source: src, maxBytes: stepSources.request.maxAddBytes)
                        continue
                    }
                    try copyOne(node, relative, kept: kept)
                default:
                    try copyOne(node, relative, kept: kept)
                }
            }
        }
        guard matched > 0 else { throw fail(file, ins.line, "\(name) sources \(sources.joined(separator: " ")) match nothing in the build context") }
        try tree.tar.finish()
        let (digest, size) = try w.commit()
        return (digest, size, tree.folder, tree.ledger)
        }
        } catch let e as RuntimeError where e.kind == .buildFailed && !e.message.hasPrefix(file + ":") {
            throw fail(file, ins.line, e.message)  // over a cap: the line says where
        }
        let (digest, size, folder, ledger) = written
        log(phase, .system, "\(ins.keyword.rawValue.uppercased()) \(ins.shellText.isEmpty ? args.joined(separator: " ") : ins.shellText)")
        try await addLayer(digest, size: size, what: "its files", into: &stage, written: folder.map { ($0, ledger) }, log: log)
    }

    /// Downloads an ADD URL (http or https only; redirects as for blob sources, never down to
    /// http; every address checked by `fetcher`'s policy; within what is left of the build's
    /// download cap) to `path`, and checks it against `checksum` (`sha256:HEX`). Without the
    /// public network (no `fetcher`), a URL is refused: the build asked for no network.
    func download(_ url: String, to path: String, checksum: String?, fetcher: BlobFetcher?, file: String, line: Int, log: @escaping BuildLogger) async throws -> String {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = u.host, !host.isEmpty,
            u.user == nil, u.password == nil
        else { throw fail(file, line, "ADD \(PathSyntax.shortened(url)): only http:// and https:// URLs without credentials are fetched") }
        var expected: Digest?
        if let checksum {
            guard let d = Digest(checksum) else { throw fail(file, line, "ADD --checksum=\(checksum) is not sha256:<64 hex digits>") }
            expected = d
        }
        guard let fetcher else {
            throw fail(file, line, "ADD \(PathSyntax.shortened(url)): the build's network is \"none\"; ADD of a URL needs the public network (network: \"public\" on the image)")
        }
        let store = images.content
        let fetched: FetchedBlob
        do {
            fetched = try await fetcher.fetch(u, to: path, through: store)
        } catch let e as RuntimeError {
            throw fail(file, line, "ADD: \(e.message.replacingOccurrences(of: "blob ", with: ""))")
        }
        if let expected, fetched.digest != expected {
            throw fail(file, line, "ADD \(PathSyntax.shortened(url)): the download's checksum is \(fetched.digest), not \(expected) as --checksum says")
        }
        log(BuildPhase.build.rawValue, .system, "  fetched \(PathSyntax.shortened(url)) (\(fetched.bytes) bytes, \(fetched.digest))")
        return fetched.path
    }

    /// Adds a layer the builder wrote itself (COPY, ADD, WORKDIR) to the stage: its digest goes
    /// into the cache key, and a key seen before reuses the layer recorded for it; a new layer
    /// is unpacked (owners mapped) into a folder, for the RUN steps after it.
    /// `written` is the layer's folder when it was written with its tar (`LayerTreeWriter`), and
    /// the owners still to set in it.
    func addLayer(_ digest: Digest, size: Int64, what: String, into stage: inout Stage, written: (String, ArchiveExtractor.OwnerLedger)? = nil,
                  log: @escaping BuildLogger) async throws {
        let phase = BuildPhase.build.rawValue
        stage.key = Digest.of(Data((stage.key.string + "\n" + digest.string).utf8))
        let layer: Layer
        if let cached = cachedLayer(stage.key) {
            layer = cached
            stage.reused += 1
            log(phase, .system, "  CACHED (layer \(cached.diffID.short): \(what) as before)")
        } else {
            if let (folder, ledger) = written, access(layersRoot + "/" + digest.hex, F_OK) != 0 {
                try await place(folder, ledger: ledger, as: digest.hex)
            } else {
                try await unpack([(images.content.path(digest), "layer \(digest.short)")], as: digest.hex)
            }
            layer = Layer(descriptor: OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size), diffID: digest, store: images.content, folder: digest.hex)
            try record(stage.key, layer)
            stage.added += 1
            log(phase, .system, "  not cached: \(what) make a new layer \(digest.short)")
        }
        stage.layers.append(layer)
    }

    /// A writer for one of the build's layers, held to `layerLimit` as it is written.
    func layerWriter(_ request: Request) throws -> BlobWriter {
        let w = try images.content.writer()
        w.limit = Self.layerLimit(request)
        return w
    }

    /// What one layer (and what one step writes to disk while it runs) may hold:
    /// `maxLayerBytes`, and no more than is left of the namespace's storage quota, shared by
    /// everything of the build that writes at the same time (stages run at once).
    static func layerLimit(_ request: Request) -> WriteLimit {
        WriteLimit(bytes: request.maxLayerBytes,
                   refusal: "a layer is larger than \(request.maxLayerBytes) bytes, the most one may hold (--max-layer-bytes); "
                       + "write less in one step (a sparse file counts at its full size)",
                   budget: request.storage, budgetRefusal: request.storage.map(overQuota) ?? "")
    }

    static func overQuota(_ storage: ByteBudget) -> String {
        "the build's layers would take the namespace past its storage quota (\(storage.limit) bytes were left when the build started); "
            + "free space (image/delete, lower history limits) or write less"
    }

    /// WORKDIR makes its folder (and missing parents: 0755, root's) when the stage lacks it, in
    /// a layer of its own, as Docker does.
    func makeWorkingDirectory(_ path: String, in stage: inout Stage, request: Request, log: @escaping BuildLogger) async throws {
        let parts = PathSyntax.components(path)
        let view = try LayerChainView(folders: stage.lowers.map { try ConfinedDirectory(path: layersRoot + "/" + $0) })
        if case .directory? = try view.node(parts.joined(separator: "/")) { return }
        let mapping = self.mapping
        let (digest, size) = try await BlockingWork.run { [self] () throws -> (Digest, Int64) in
            let w = try layerWriter(request)
            let tar = TarWriter(out: w)
            for i in 1...parts.count {
                let p = parts[0..<i].joined(separator: "/")
                if case .directory(_, let st)? = try view.node(p) {
                    try tar.addDirectory(p, mode: Int(st.st_mode & 0o7777),
                                         owner: .init(uid: IDMapping.inner(st.st_uid, in: mapping.users).map(Int.init) ?? 0,
                                                      gid: IDMapping.inner(st.st_gid, in: mapping.groups).map(Int.init) ?? 0))
                } else {
                    try tar.addDirectory(p, mode: 0o755, owner: .root)
                }
            }
            try tar.finish()
            return try w.commit()
        }
        try await addLayer(digest, size: size, what: "the WORKDIR folder", into: &stage, log: log)
    }

    /// Whether a context file is a tar archive, plain or compressed.
    static func isArchive(_ dir: ConfinedDirectory, _ name: String) throws -> Bool {
        let fd = try dir.openFile(name, flags: O_RDONLY | O_NONBLOCK)
        defer { close(fd) }
        return ArchiveExtractor.isTarArchive(at: "/proc/self/fd/\(fd)")
    }

    /// Unpacks a context archive (the `.source` rules: no absolute paths, `..` or symlinks out)
    /// and adds its files under `dest`, with their owners from the archive when Slipway runs as
    /// root (else root's). `--chown` does not apply to them, as buildah and Docker's classic
    /// builder do it.
    func addArchive(_ dir: ConfinedDirectory, _ name: String, at dest: [String], written: inout Set<String>, into tar: TarWriter,
                    source: String, maxBytes: Int64) throws {
        let scratch = try ScratchFolder(in: layersRoot)
        let temp = scratch.path
        defer { try? ConfinedDirectory.removeTree(atPath: temp); withExtendedLifetime(scratch) {} }  // scratch: what is left is swept with the other .tmp folders
        let fd = try dir.openFile(name, flags: O_RDONLY)
        defer { close(fd) }
        let identity = IDMapping(users: [.init(inner: 0, outer: 0, count: IDMapping.size)], groups: [.init(inner: 0, outer: 0, count: IDMapping.size)],
                                 viaNewuidmap: false)
        _ = try ArchiveExtractor(policy: .source, limits: .init(maxTotalBytes: maxBytes), owners: getuid() == 0 ? identity : nil).extract(archiveAt: "/proc/self/fd/\(fd)", into: temp, name: source)
        let root = try ConfinedDirectory(path: temp)
        let prefix = dest.joined(separator: "/")
        for entry in try root.entries() where written.insert(prefix + "/" + entry).inserted {
            let sub = try ConfinedDirectory(path: temp)
            if try sub.isDirectory(entry) {
                guard let st = try sub.status(entry) else { continue }
                try tar.addDirectory(prefix + "/" + entry, mode: Int(st.st_mode & 0o7777),
                                     owner: getuid() == 0 ? .init(uid: Int(st.st_uid), gid: Int(st.st_gid)) : .root)
                try tar.addTree(try sub.openDirectory(entry), prefix: prefix + "/" + entry + "/", owner: getuid() == 0 ? nil : .root)
            } else {
                try tar.addTree(sub, prefix: prefix + "/", owner: getuid() == 0 ? nil : .root) { rel, _ in rel == entry }
            }
        }
    }

    /// The ignore rules of the context: `<Dockerfile>.dockerignore` beside the Dockerfile wins
    /// (as in BuildKit), else `.dockerignore` at the context's root; none when neither exists.
    static func ignoreFile(context: ConfinedDirectory, dockerfile: String) -> String {
        // A missing (or unreadable) ignore file ignores nothing: hence `try?`.
        if let beside = try? context.readText(dockerfile + ".dockerignore", maxBytes: 1 << 20) { return beside }
        return (try? context.readText(".dockerignore", maxBytes: 1 << 20)) ?? ""
    }

    /// The paths (with their nodes) a source pattern matches: each component may hold `*`, `?`
    /// and `[…]`; ignored paths of the context never match (a folder below which a `!` rule
    /// takes paths back does).
    func glob(_ parts: [String], in view: LayerChainView, ignore: IgnoreRules?) throws -> [([String], LayerChainView.Node)] {
        guard let root = try view.node("") else { return [] }  // a stage with no files
        var found: [([String], LayerChainView.Node)] = [([], root)]
        for part in parts {
            var next: [([String], LayerChainView.Node)] = []
            for (path, node) in found {
                guard case .directory(let layers, _) = node else { continue }
                let names = part.contains(where: { "*?[".contains($0) }) ? try LayerChainView.entries(of: layers).filter { fnmatch(part, $0, 0) == 0 } : [part]
                for n in names {
                    let p = path + [n]
                    guard let child = try view.node(p.joined(separator: "/")) else { continue }
                    if let ignore {
                        let isDir: Bool
                        if case .directory = child { isDir = true } else { isDir = false }
                        if ignore.ignores(p.joined(separator: "/"), isDirectory: isDir) && !(isDir && ignore.hasExceptions) { continue }
                    }
                    next.append((p, child))
                }
            }
            found = next
        }
        return found
    }

    // MARK: Garbage collection

    /// How long a step's cache record, and a base image's unpacked folder, outlive their last use.
    public static let cacheLifetime: TimeInterval = 7 * 86400

    /// For a garbage collection of the state directory: the layer blobs Dockerfile step records
    /// still name (kept, with their folders, for `cacheLifetime` after their last use), and
    /// what removing the rest freed: stale records and those of deleted images, contexts and
    /// cache mounts of namespaces with no image left, layer folders no record or kept image
    /// names, base folders unused for `cacheLifetime`, and the step folders of builds that
    /// died. `keep` holds the blobs the collection keeps anyway; `images` the names of the
    /// images that still exist, by namespace.
    /// A user that is not root cannot remove what steps made (ids of their range): `namespace`
    /// removes that from inside the step namespace.
    public static func collect(root: String, keep: Set<Digest>, images: [String: Set<String>], with collector: GarbageCollector,
                               namespace: UserNamespaceRunner? = nil) -> (keep: Set<Digest>, freed: GarbageCollector.Freed) {
        var kept = Set<Digest>()
        var freed = GarbageCollector.Freed()
        // `gc.remove`, then, for a folder it could not remove (and may), the namespace's root.
        struct Remover {
            let collector: GarbageCollector
            let namespace: UserNamespaceRunner?
            func remove(_ path: String) -> GarbageCollector.Freed {
                // In use by a running build (its step, scratch or unrecorded layer): left alone.
                guard !FolderLease.isHeld(path) else { return GarbageCollector.Freed() }
                let freed = collector.remove(path)
                var st = stat()
                guard let namespace, getuid() != 0, !collector.dryRun, lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR,
                    GarbageCollector.modified(st) < collector.started
                else { return freed }
                let measured = GarbageCollector.measure(path)
                return namespace.removeTreeBlocking(path) ? measured : freed
            }
        }
        let gc = Remover(collector: collector, namespace: namespace)
        let fm = FileManager.default
        let layers = root + "/layers"
        let expired = collector.started.addingTimeInterval(-cacheLifetime)
        func modified(_ path: String) -> Date {
            var st = stat()
            return lstat(path, &st) == 0 ? GarbageCollector.modified(st) : .distantPast
        }
        // A folder's names; a folder that cannot be listed holds nothing to collect.
        func names(_ path: String) -> [String] { (try? fm.contentsOfDirectory(atPath: path)) ?? [] }
        func isFolder(_ path: String) -> Bool {
            var st = stat()
            return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        }
        // Cache mounts, per namespace: kept while the namespace has an image.
        for ns in names(root + "/mounts") where images[ns]?.isEmpty ?? true { freed = freed + gc.remove(root + "/mounts/" + ns) }
        // Build contexts, per namespace: kept while their source snapshot is (an image's
        // current source), and for `cacheLifetime` after last use otherwise; what is not in a
        // namespace's folder (an older state's) goes.
        for ns in names(root + "/contexts") {
            let contexts = root + "/contexts/" + ns
            guard isFolder(contexts), images[ns]?.isEmpty == false else { freed = freed + gc.remove(contexts); continue }
            let contextNames = names(contexts)
            for name in contextNames where !name.hasSuffix(DockerfileExecutor.manifestSuffix) {
                let path = contexts + "/" + name
                if name.hasPrefix(".tmp-") { freed = freed + gc.remove(path); continue }
                if let d = Digest("sha256:" + name), keep.contains(d) || modified(path) > expired { continue }
                freed = freed + gc.remove(path)
            }
            // A context's list of files goes with it.
            for name in contextNames where name.hasSuffix(DockerfileExecutor.manifestSuffix) {
                let folder = contexts + "/" + String(name.dropLast(DockerfileExecutor.manifestSuffix.count))
                if access(folder, F_OK) != 0 { freed = freed + gc.remove(contexts + "/" + name) }
            }
        }
        // Step records, per image of a namespace: those of deleted images go at once, the others
        // `cacheLifetime` after their last use; records outside an image's folder (an older
        // state's, shared by every namespace) go.
        for ns in names(root + "/cache") {
            guard isFolder(root + "/cache/" + ns) else { freed = freed + gc.remove(root + "/cache/" + ns); continue }
            for image in names(root + "/cache/" + ns) {
                let folder = root + "/cache/" + ns + "/" + image
                guard isFolder(folder), images[ns]?.contains(image) == true else { freed = freed + gc.remove(folder); continue }
                for name in names(folder) {
                    let path = folder + "/" + name
                    // A record that cannot be read names nothing, and goes.
                    if name.hasSuffix(".json"), modified(path) > expired, let data = fm.contents(atPath: path),
                        let r = try? JSONDecoder().decode(CacheRecord.self, from: data) {
                        kept.insert(r.diffID)
                    } else {
                        freed = freed + gc.remove(path)
                    }
                }
            }
        }
        for name in (try? fm.contentsOfDirectory(atPath: layers)) ?? [] {
            let path = layers + "/" + name
            if name == OverlayStepRunner.scaffold || name == networkFolder { continue }
            if name == OverlayStepRunner.steps || name.hasPrefix(".tmp-") {
                // Scratch of builds: only what is older than the collection (a dead build's).
                for step in (try? fm.contentsOfDirectory(atPath: path)) ?? [] where name == OverlayStepRunner.steps { freed = freed + gc.remove(path + "/" + step) }
                if name.hasPrefix(".tmp-") { freed = freed + gc.remove(path) }
                continue
            }
            if name.hasPrefix("base-") {
                if modified(path) <= expired { freed = freed + gc.remove(path) }
                continue
            }
            guard let d = Digest("sha256:" + name), kept.contains(d) || keep.contains(d) else {
                freed = freed + gc.remove(path)
                continue
            }
        }
        return (kept, freed)
    }

    // MARK: Export

    func export(_ stage: Stage, request: Request) throws -> Digest {
        let layout = try OCILayout(path: request.outputLayout, create: true)
        var config = stage.config
        let all = stage.baseLayers + stage.layers
        config.rootfs = .init(diff_ids: all.map(\.diffID))
        config.created = "1980-01-01T00:00:01Z"
        var history = stage.config.history ?? []
        for _ in stage.layers { history.append(.init(created_by: "slipway: Dockerfile")) }
        config.history = history
        for l in all { try layout.store.copy(l.descriptor.digest, from: l.store) }
        let image = try images.writeImage(config: config, layers: all.map { l in
            var d = l.descriptor
            d.mediaType = MediaType.ociLayer(d.mediaType)
            return d
        }, into: layout.store)
        try layout.setTag(request.outputTag, to: image.manifestDescriptor)
        return image.manifestDigest
    }
}
