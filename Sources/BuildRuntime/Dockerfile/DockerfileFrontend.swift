import Foundation

/// The pure half of a Dockerfile build (as BuildKit's dockerfile2llb): from a parsed Dockerfile,
/// its build args and a target it works out, with no sandbox, no store and no network, which
/// stages the target needs and what they read (`BuildGraph`), what each instruction that makes
/// no layer does to a stage's config, and how each step's cache key follows from the one
/// before (`StepCacheKey`). `DockerfileSolver` runs the graph.
struct DockerfileFrontend: Sendable {
    let dockerfile: Dockerfile
    /// The Dockerfile's path in the context, for messages.
    let file: String
    let buildArgs: [String: String]
    let words: ShellWords

    init(dockerfile: Dockerfile, file: String, buildArgs: [String: String]) {
        self.dockerfile = dockerfile
        self.file = file
        self.buildArgs = buildArgs
        words = ShellWords(escape: dockerfile.escape)
    }

    /// Parses `text` (the Dockerfile at `file`); a syntax error fails the build with its line.
    init(parsing text: String, file: String, buildArgs: [String: String]) throws {
        do {
            self.init(dockerfile: try DockerfileParser(file: file).parse(text), file: file, buildArgs: buildArgs)
        } catch let e as DockerfileError {
            throw RuntimeError.buildFailed(e.description)
        }
    }

    /// The automatic platform ARGs: this machine's, for the target and the build alike.
    static let platform = ["TARGETPLATFORM": "linux/" + OCIImageConfig.hostArchitecture, "TARGETOS": "linux", "TARGETARCH": OCIImageConfig.hostArchitecture,
                           "BUILDPLATFORM": "linux/" + OCIImageConfig.hostArchitecture, "BUILDOS": "linux", "BUILDARCH": OCIImageConfig.hostArchitecture]

    /// The stages `target` (default: the last) needs, with what each starts from and reads.
    func graph(target: String?) throws -> BuildGraph {
        // Global ARGs: usable in FROM lines, and (declared again) in stages.
        var globals = Self.platform
        for a in dockerfile.globalArgs {
            for (k, v) in try argValues(a, lookup: { globals[$0] }) { globals[k] = v }
        }
        let targetIndex: Int
        if let t = target {
            guard let i = dockerfile.stage(named: t) else { throw RuntimeError.buildFailed("target stage \"\(t)\" is not in \(file)") }
            targetIndex = i
        } else {
            targetIndex = dockerfile.stages.count - 1
        }
        var stages: [Int: BuildGraph.Stage] = [:]
        for i in try neededStages(target: targetIndex, globals: globals) {
            let from = try fromImageName(dockerfile.stages[i].from, globals: globals)
            let fromStage = dockerfile.stage(named: from).flatMap { j in j < i && dockerfile.stages[j].name == from.lowercased() ? j : nil }
            stages[i] = BuildGraph.Stage(index: i, label: "[" + (dockerfile.stages[i].name ?? String(i)) + "]", from: from, fromStage: fromStage,
                                         dependencies: try stageDependencies(i, globals: globals))
        }
        return BuildGraph(dockerfile: dockerfile, target: targetIndex, stages: stages, globals: globals)
    }

    /// Refuses a `FROM --platform` of another platform than this machine's.
    func checkPlatform(of stage: BuildGraph.Stage, globals: [String: String]) throws {
        let from = dockerfile.stages[stage.index].from
        guard case .some(.some(let p)) = from.flag("platform") else { return }
        let platformValue = (try? words.word(p) { globals[$0] }) ?? p  // an unknown variable leaves the flag as written
        guard platformValue == Self.platform["TARGETPLATFORM"] || platformValue == "linux" else {
            throw RuntimeError.dockerfile(file, from.line, "FROM --platform=\(platformValue): only this machine's platform, \(Self.platform["TARGETPLATFORM"]!), is built")
        }
    }

    /// The ONBUILD triggers of a base image, parsed as if written after the stage's FROM.
    func triggers(_ texts: [String], of image: String, line: Int) throws -> [DockerfileInstruction] {
        let parsed = try texts.map { t in
            do {
                return try DockerfileParser(file: file).parseInstruction(t, line: line, escape: dockerfile.escape, allowOnbuild: false)
            } catch let e as DockerfileError {
                throw RuntimeError.dockerfile(file, line, "the ONBUILD trigger \"\(t)\" of \(image): \(e.message)")
            }
        }
        guard parsed.count <= DockerfileParser.maxInstructions else {
            throw RuntimeError.dockerfile(file, line, "\(image) has more than \(DockerfileParser.maxInstructions) ONBUILD triggers")
        }
        return parsed
    }

    /// The earlier stages stage `i` reads: its FROM stage, and the stages its COPY --from and
    /// RUN --mount from= name.
    func stageDependencies(_ i: Int, globals: [String: String]) throws -> Set<Int> {
        var out = Set<Int>()
        let s = dockerfile.stages[i]
        let fromName = try fromImageName(s.from, globals: globals)
        if let j = dockerfile.stage(named: fromName), j < i, dockerfile.stages[j].name == fromName.lowercased() { out.insert(j) }
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
            for from in froms { if let j = dockerfile.stage(named: from), j < i { out.insert(j) } }
        }
        return out
    }

    /// The stages the target needs: itself and, transitively, the stages it reads.
    func neededStages(target: Int, globals: [String: String]) throws -> Set<Int> {
        var needed = Set<Int>()
        var pending = [target]
        while let i = pending.popLast() {
            guard needed.insert(i).inserted else { continue }
            pending += try stageDependencies(i, globals: globals)
        }
        return needed
    }

    func fromImageName(_ from: DockerfileInstruction, globals: [String: String]) throws -> String {
        let raw = words.rawWords(from.shellText)[0]
        do {
            return try words.word(raw) { globals[$0] }
        } catch let e as ShellWords.Failure {
            throw RuntimeError.dockerfile(file, from.line, e.message)
        }
    }

    /// The values an ARG sets: a build arg wins over the default; an ARG without either is unset
    /// (a stage ARG without default takes the global value of the same name).
    func argValues(_ i: DockerfileInstruction, lookup: @escaping ShellWords.Lookup) throws -> [(String, String)] {
        var out: [(String, String)] = []
        for w in words.rawWords(i.shellText) {
            let parts = w.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = parts[0]
            if let given = buildArgs[name] {
                out.append((name, given))
            } else if parts.count == 2 {
                do {
                    out.append((name, try words.word(parts[1], lookup)))
                } catch let e as ShellWords.Failure {
                    throw RuntimeError.dockerfile(file, i.line, e.message)
                }
            } else if let inherited = lookup(name) {
                out.append((name, inherited))
            }
        }
        return out
    }

    /// Takes one instruction into `stage`: its text goes into the cache key, and an instruction
    /// that makes no layer changes the stage's config (WORKDIR sets the folder; the solver
    /// makes it). COPY, ADD and RUN change nothing more here. `cmdSet` says whether the stage
    /// set a CMD so far (an ENTRYPOINT drops only an inherited one).
    func apply(_ ins: DockerfileInstruction, to stage: inout BuildingStage, globals: [String: String], cmdSet: inout Bool) throws {
        let lookup: ShellWords.Lookup = { [stage] in stage.lookup($0) }
        func word(_ s: String) throws -> String {
            do { return try words.word(s, lookup) } catch let e as ShellWords.Failure { throw RuntimeError.dockerfile(file, ins.line, e.message) }
        }
        func list(_ s: String) throws -> [String] {
            do { return try words.words(s, lookup) } catch let e as ShellWords.Failure { throw RuntimeError.dockerfile(file, ins.line, e.message) }
        }
        func execOrShell(_ a: DockerfileInstruction.Arguments) -> [String] {
            switch a {
            case .exec(let argv): return argv
            case .shell(let s): return stage.shell + [s]
            }
        }
        stage.key = StepCacheKey.after(stage.key, instruction: ins.text)
        switch ins.keyword {
        case .arg:
            let inScope: ShellWords.Lookup = { [stage] name in stage.lookup(name) ?? globals[name] }
            for (k, v) in try argValues(ins, lookup: inScope) { stage.args[k] = v }
            for w in words.rawWords(ins.shellText) {
                let name = String(w.split(separator: "=", maxSplits: 1)[0])
                if stage.args[name] == nil, let g = globals[name] { stage.args[name] = g }
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
            // As BuildKit's system.NormalizeWorkdir (and the classic builder): an absolute path is
            // kept as written (`/tmp/` stays `/tmp/` in the config), a relative one is joined to
            // the current one and cleaned (Go's filepath.Join).
            stage.config.config.WorkingDir = dir.hasPrefix("/") ? dir : PathSyntax.normalizedAbsolute((stage.config.config.WorkingDir ?? "/") + "/" + dir)
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
            stage.config.config.Healthcheck = try healthcheck(ins)
        case .onbuild:
            stage.config.config.OnBuild = (stage.config.config.OnBuild ?? []) + [ins.shellText]
        case .copy, .add, .run:
            break  // they make layers: the solver's
        case .from:
            break  // a FROM starts a stage; it is never among a stage's instructions
        }
    }

    func healthcheck(_ ins: DockerfileInstruction) throws -> OCIImageConfig.Healthcheck {
        let rest = ins.shellText.trimmingCharacters(in: .whitespaces)
        if rest.uppercased() == "NONE" { return .init(Test: ["NONE"]) }
        let command = String(rest.dropFirst(3)).trimmingCharacters(in: .whitespaces)
        var h: OCIImageConfig.Healthcheck
        // Not a JSON list of strings (`try?`): the shell form, as Docker reads it.
        if command.hasPrefix("["), let data = command.data(using: .utf8), let a = try? JSONSerialization.jsonObject(with: data) as? [String] {
            h = .init(Test: ["CMD"] + a)
        } else {
            h = .init(Test: ["CMD-SHELL", command])
        }
        func duration(_ name: String) throws -> Int64? {
            guard case .some(.some(let v)) = ins.flag(name) else { return nil }
            guard let seconds = Self.parseGoDuration(v) else { throw RuntimeError.dockerfile(file, ins.line, "--\(name)=\(v) is not a duration (30s, 1m30s, 500ms)") }
            return Int64(seconds * 1e9)
        }
        h.Interval = try duration("interval")
        h.Timeout = try duration("timeout")
        h.StartPeriod = try duration("start-period")
        h.StartInterval = try duration("start-interval")
        if case .some(.some(let r)) = ins.flag("retries") {
            guard let n = Int(r), n >= 0 else { throw RuntimeError.dockerfile(file, ins.line, "--retries=\(r) is not a number") }
            h.Retries = n
        }
        return h
    }

    /// Go's duration syntax as Docker reads HEALTHCHECK options: `1h2m3.5s`, `500ms`.
    static func parseGoDuration(_ s: String) -> Double? {
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
}

/// What the frontend makes of a Dockerfile for one target: the stages it needs, in the order
/// their index gives, each with what it starts from and the earlier stages it reads.
struct BuildGraph: Sendable {
    /// One stage the target needs.
    struct Stage: Sendable {
        var index: Int
        /// How log lines name it: `[name]`, or `[index]` for a stage without a name.
        var label: String
        /// What its FROM names once the global ARGs are substituted: `scratch`, a stage or an image.
        var from: String
        /// The earlier stage its FROM names; nil when it names `scratch` or an image.
        var fromStage: Int?
        /// The earlier stages it reads: its FROM stage, and those its COPY --from and RUN
        /// --mount from= name.
        var dependencies: Set<Int>
    }

    var dockerfile: Dockerfile
    /// The stage built into the image.
    var target: Int
    var stages: [Int: Stage]
    /// The global ARGs (and the platform's), for FROM lines and `--from` values.
    var globals: [String: String]
}

/// How a step's cache key follows from the key before it. A key found in the cache reuses the
/// layer recorded for it, so each input that can change what a step makes goes in.
enum StepCacheKey {
    /// The first key of a stage from scratch.
    static let scratch = Digest.of(Data("scratch".utf8))

    /// The first key of a stage from an image: its manifest digest.
    static func from(image: Digest) -> Digest { Digest.of(Data(("from " + image.string).utf8)) }

    /// After an instruction: its text (as written, before substitution).
    static func after(_ key: Digest, instruction text: String) -> Digest { Digest.of(Data((key.string + "\n" + text).utf8)) }

    /// After a layer the builder wrote (COPY, ADD, WORKDIR): the layer's digest, so a change of
    /// the files copied is a change of key.
    static func after(_ key: Digest, layer: Digest) -> Digest { Digest.of(Data((key.string + "\n" + layer.string).utf8)) }

    /// Before a RUN runs: the environment it sees, what its mounts show (`mounts`: each mount's
    /// key) and whether it has the public network (a step with none may make something else).
    static func run(_ key: Digest, environment: [String: String], mounts: [String], publicNetwork: Bool) -> Digest {
        Digest.of(Data((key.string + "\n" + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
                        + mounts.map { "\nmount " + $0 }.joined() + (publicNetwork ? "\nnetwork public" : "")).utf8))
    }
}
