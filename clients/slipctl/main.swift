import Foundation
import JSONRPC
import SlipwayProtocol
import CSlipwayVersion

// slipctl: kp's command line, on Slipway. `alias kp=slipctl` runs the commands of kp's manual
// as written: the manual's older grammar (`kp image create NAME TAG`, `--custom-builder`,
// `--custom-cluster-builder`) and today's (`--tag`, `--builder`, `--cluster-builder`). It
// reaches the engine as any client does, through `slipway` (which starts the shared engine of
// the state directory, `$SLIPWAY_HOME` or the default, when none runs).

/// Writes `text` and a newline (or `terminator`) to stdout at once, unbuffered: a follower of
/// logs sees each line as it comes.
func emit(_ text: String, terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((text + terminator).utf8))
}

/// Where messages go: with `--output`, stdout holds only the resource, and progress goes to stderr.
struct Output {
    var structured: String?
    func say(_ text: String) {
        if structured == nil { emit(text) } else { FileHandle.standardError.write(Data((text + "\n").utf8)) }
    }
    func resource(_ value: some Encodable) throws {
        switch structured {
        case "json": emit(JSONWriter.string(try JSONValueEncoder().encode(value)))
        case "yaml": emit(KpFormat.yaml(try JSONValueEncoder().encode(value)), terminator: "")
        case nil: break
        case let other?: throw Arguments.Failure(message: "invalid output format \"\(other)\": use json or yaml")
        }
    }
}

/// `--env KEY=VALUE` flags as an env object.
func envObject(_ values: [String]) throws -> [String: String] {
    var env: [String: String] = [:]
    for e in values {
        guard let eq = e.firstIndex(of: "=") else { throw Arguments.Failure(message: "env var \"\(e)\" is not KEY=VALUE") }
        env[String(e[..<eq])] = String(e[e.index(after: eq)...])
    }
    return env
}

/// The params of image/create, patch or save from kp's flags.
func imageSpec(_ a: Arguments, name: String, creating: Bool) throws -> ImageSpec {
    var spec = ImageSpec(name: name, namespace: a.value("namespace") ?? "default")
    spec.tag = a.value("tag") ?? (a.positional.count > 1 ? a.positional[1] : nil)
    if a.has("additional-tag") { spec.additionalTags = a.values("additional-tag") }
    let sources = ["git", "blob", "local-path"].filter { a.has($0) }
    guard sources.count <= 1 else { throw Arguments.Failure(message: "image source must be one of git, blob, or local-path") }
    var source: SourceSpec?
    if let git = a.value("git") {
        // Without --git-revision, the remote's default branch (as kp), resolved by the engine.
        source = SourceSpec(git: .init(url: git, revision: a.value("git-revision")))
    } else if let blob = a.value("blob") {
        source = SourceSpec(blob: .init(url: blob))
    } else if let path = a.value("local-path") {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        source = SourceSpec(local: .init(path: URL(fileURLWithPath: absolute).standardized.path))
    } else if creating {
        throw Arguments.Failure(message: "image source must be one of git, blob, or local-path")
    }
    if var s = source {
        if let sub = a.value("sub-path") { s.subPath = sub }
        spec.source = s
    }
    let builders = ["builder", "custom-builder", "cluster-builder", "custom-cluster-builder"].filter { a.has($0) }
    guard builders.count <= 1 else { throw Arguments.Failure(message: "must provide one of --builder or --cluster-builder") }
    if let b = builders.first {
        spec.builder = BuilderReference(kind: b.contains("cluster") ? .ClusterBuilder : .Builder, name: a.value(b)!)
    }
    if a.has("env") { spec.env = try envObject(a.values("env")) }
    if a.has("delete-env") { spec.deleteEnv = a.values("delete-env") }
    func limit(_ flag: String) throws -> Int? {
        guard let v = a.value(flag) else { return nil }
        guard let n = Int(v) else { throw Arguments.Failure(message: "invalid argument \"\(v)\" for \"--\(flag)\" flag: not a number") }
        return n
    }
    spec.successBuildHistoryLimit = try limit("success-build-history-limit")
    spec.failedBuildHistoryLimit = try limit("failed-build-history-limit")
    if a.bool("dry-run") { spec.dryRun = true }
    return spec
}

/// Prints a build's log lines until it ends; false when it failed.
/// On a terminal (and without --output), a progress line follows the lines (`ProgressLine`).
func followLogs(_ engine: EngineSession, image: String, namespace: String, build: Int?, out: Output) throws -> Bool {
    let progress = out.structured == nil ? ProgressLine.onTerminal() : nil
    engine.onLog = { line in
        guard line.image == image else { return }
        if let progress { progress.line(line.line, phase: line.phase) } else { out.say(line.line) }
    }
    let result = try engine.call(BuildLogs.self, BuildLogsParams(image: image, namespace: namespace, build: build, follow: true))
    engine.onLog = nil
    if let progress {
        // The build's own time (an old build's logs replay in no time).
        let ended = try engine.call(BuildStatus.self, BuildParams(image: image, namespace: namespace, build: result.build))
        progress.finish(status: result.status.rawValue, took: ended.started.flatMap(Timestamp.parse).flatMap { start in
            ended.finished.flatMap(Timestamp.parse).map { $0.timeIntervalSince(start) }
        })
    }
    return result.status != .FAILURE
}

func runImage(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    switch verb {
    case "create", "patch", "save":
        let a = try Arguments(words, spec: CommandTable.spec("image", verb))
        try a.expect(verb == "patch" ? 1...1 : 1...2)
        let out = try Output(a.value("output"))
        let name = a.positional[0]
        // Every flag is checked before any request (a save's source is required only when it creates).
        var spec = try imageSpec(a, name: name, creating: verb == "create")
        let e = try engine()
        var creating = verb == "create"
        if verb == "save" {
            creating = try !e.exists(ImageGet.self, NamespacedNameParams(name: name, namespace: a.value("namespace") ?? "default"))
            spec = try imageSpec(a, name: name, creating: creating)
        }
        let image: ImageResource, build: Int?
        let dry = a.bool("dry-run") ? " (dry run)" : ""
        if creating {
            let result = try e.call(ImageCreate.self, Creating(spec))
            (image, build) = (result.image, result.build)
            out.say("Image Resource \"\(name)\" created\(dry)")
        } else {
            let result = try e.call(ImagePatch.self, spec)
            (image, build) = (result.image, result.build)
            out.say(result.changed ? "Image Resource \"\(name)\" patched\(dry)" : "Image Resource \"\(name)\" patched (no change)\(dry)")
        }
        try out.resource(image)
        if a.bool("wait"), !a.bool("dry-run"), let build {
            return try followLogs(e, image: name, namespace: spec.namespace ?? "default", build: build, out: out) ? 0 : 1
        }
        return 0
    case "list":
        let a = try Arguments(words, spec: CommandTable.spec("image", verb))
        try a.expect(0...0)
        var params = ImageListParams(namespace: a.value("namespace") ?? "default")
        if a.bool("all-namespaces") { params.allNamespaces = true }
        var filter = ImageFilter()
        for f in a.values("filter") {
            let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw Arguments.Failure(message: "invalid filter \"\(f)\": use key=value") }
            switch kv[0] {
            case "builder", "clusterbuilder": filter.builder = kv[1]
            case "latest-reason": filter.latestReason = kv[1]
            case "ready":
                let states = ["true": ReadyState.Ready, "false": .NotReady, "unknown": .Unknown]
                guard let state = states[kv[1].lowercased()] else { throw Arguments.Failure(message: "invalid filter \"ready=\(kv[1])\": use ready=true, ready=false or ready=unknown") }
                filter.ready = state
            default: throw Arguments.Failure(message: "invalid filter \"\(kv[0])\": use builder, clusterbuilder, latest-reason or ready")
            }
        }
        if !a.values("filter").isEmpty { params.filter = filter }
        let out = try Output(a.value("output"))
        let images = try engine().call(ImageList.self, params).images
        if out.structured != nil { try out.resource(images); return 0 }
        emit(images.isEmpty ? "no images found" : KpFormat.imageList(images, allNamespaces: a.bool("all-namespaces")), terminator: images.isEmpty ? "\n" : "")
        return 0
    case "status":
        let a = try Arguments(words, spec: CommandTable.spec("image", verb))
        try a.expect(1...1)
        let out = try Output(a.value("output"))
        let s = try engine().call(ImageStatusMethod.self, NamespacedNameParams(name: a.positional[0], namespace: a.value("namespace") ?? "default"))
        if out.structured != nil { try out.resource(s); return 0 }
        emit(KpFormat.imageStatus(s), terminator: "")
        return 0
    case "delete":
        let a = try Arguments(words, spec: CommandTable.spec("image", verb))
        try a.expect(1...1)
        _ = try engine().call(ImageDelete.self, NamespacedNameParams(name: a.positional[0], namespace: a.value("namespace") ?? "default"))
        emit("\"\(a.positional[0])\" deleted")
        return 0
    case "inspect": return try inspectImage(words, engine)
    case "trigger":
        let a = try Arguments(words, spec: CommandTable.spec("image", verb))
        try a.expect(1...1)
        let e = try engine(), namespace = a.value("namespace") ?? "default"
        let r = try e.call(ImageTrigger.self, NamespacedNameParams(name: a.positional[0], namespace: namespace))
        emit("Triggered build for Image Resource \"\(a.positional[0])\" with Build Number \(r.build)")
        if a.bool("wait") { return try followLogs(e, image: a.positional[0], namespace: namespace, build: r.build, out: Output()) ? 0 : 1 }
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl image\"")
    }
}

func runBuild(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: CommandTable.spec("build", verb))
    let namespace = a.value("namespace") ?? "default"
    var build: Int?
    if let b = a.value("build") {
        guard let n = Int(b) else { throw Arguments.Failure(message: "invalid argument \"\(b)\" for \"-b, --build\" flag: not a number") }
        build = n
    }
    let out = try Output(a.value("output"))
    switch verb {
    case "list":
        try a.expect(1...1)
        let builds = try engine().call(BuildList.self, BuildListParams(image: a.positional[0], namespace: namespace)).builds
        if out.structured != nil { try out.resource(builds); return 0 }
        emit(builds.isEmpty ? "no builds found" : KpFormat.buildList(builds), terminator: builds.isEmpty ? "\n" : "")
        return 0
    case "status":
        try a.expect(1...1)
        let b = try engine().call(BuildStatus.self, BuildParams(image: a.positional[0], namespace: namespace, build: build))
        if out.structured != nil { try out.resource(b); return 0 }
        emit(KpFormat.buildStatus(b), terminator: "")
        return 0
    case "logs":
        try a.expect(1...1)
        let e = try engine()
        if a.bool("timestamps") {
            e.onLog = { line in emit("\(line.time) \(line.line)") }
            let r = try e.call(BuildLogs.self, BuildLogsParams(image: a.positional[0], namespace: namespace, build: build, follow: true))
            return r.status == .FAILURE ? 1 : 0
        }
        return try followLogs(e, image: a.positional[0], namespace: namespace, build: build, out: Output()) ? 0 : 1
    case "cancel", "wait":
        try a.expect(1...1)
        return try runBuildControl(verb, image: a.positional[0], namespace: namespace, build: build, timeout: a.value("timeout"), out: out, engine)
    case "sbom":
        try a.expect(1...1)
        return try downloadSBOMs(try engine(), image: a.positional[0], namespace: namespace, build: build, format: a.value("format"), outputDirectory: a.value("output-dir") ?? ".")
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl build\"")
    }
}

/// The session, started at the first command that needs the engine.
///
/// `@unchecked Sendable`: used from the main thread only (slipctl runs one command, in order).
final class EngineHandle: @unchecked Sendable {
    var session: EngineSession?
    /// `--state-dir`; nil: `$SLIPWAY_HOME` or slipway's default.
    var stateDirectory: String?
    func get() throws -> EngineSession {
        if let session { return session }
        let s = try EngineSession(stateDirectory: stateDirectory)
        session = s
        return s
    }
}

/// `slipctl version`: slipctl's version, then the engine's (from its `initialize` answer).
func printVersion(_ engine: () throws -> EngineSession) throws -> Int32 {
    emit("slipctl version \(String(cString: slipway_version()))")
    let info = try engine().call(Initialize.self, InitializeParams(processId: Int(getpid()), clientInfo: .init(name: "slipctl", version: String(cString: slipway_version())))).serverInfo
    emit("engine version \(info.version) (\(info.name))")
    return 0
}

// A slipway that exits early must not kill slipctl through a write to its input: the write
// fails with EPIPE instead, and the request is answered as "slipway exited".
signal(SIGPIPE, SIG_IGN)
var argv = Array(CommandLine.arguments.dropFirst())
let handle = EngineHandle()
var status: Int32 = 0
do {
    // `--state-dir DIR` anywhere on the line, beside (and before) `SLIPWAY_HOME`.
    handle.stateDirectory = try takeStateDirectory(&argv)
    if argv.first == "__complete" {
        // Asked by the completion scripts: the last word is the one being typed.
        let words = Array(argv.dropFirst())
        for candidate in completionCandidates(Array(words.dropLast()), current: words.last ?? "") { emit(candidate) }
        exit(0)
    }
    switch try route(argv) {
    case .help(let text):
        emit(text, terminator: "")
    case .run(let path, let words):
        let verb = path.count > 1 ? path[1] : ""
        switch path[0] {
        case "image": status = try runImage(verb, words, handle.get)
        case "build": status = try runBuild(verb, words, handle.get)
        case "clusterstack", "clusterstore", "clusterbuilder", "builder": status = try runResource(path[0], verb, words, handle.get)
        case "secret": status = try runSecret(verb, words, handle.get)
        case "buildrun": status = try runBuildRun(verb, words, handle.get)
        case "system": status = try runSystem(verb, words, handle.get)
        case "events": status = try runEvents(words, handle.get)
        case "quota": status = try runQuota(words, handle.get)
        case "import": status = try runImport(words, handle.get)
        case "export":
            let a = try Arguments(words, spec: CommandTable.spec("export"))
            try a.expect(0...0)
            guard a.bool("kpack") else { throw Arguments.Failure(message: "export needs --kpack (the only format so far)") }
            emit(exportYAML(try exportKpack(try handle.get(), namespace: a.value("namespace") ?? "default")), terminator: "")
        case "completion":
            let a = try Arguments(words, spec: CommandTable.spec("completion"))
            try a.expect(1...1)
            emit(try completionScript(a.positional[0]), terminator: "")
        case "version": status = try printVersion(handle.get)
        default: throw Arguments.Failure(message: "\(path.joined(separator: " ")) is in slipctl's command table but not dispatched; this is a bug in slipctl")
        }
    }
} catch let f as Arguments.Failure {
    FileHandle.standardError.write(Data("Error: \(f.message)\n".utf8))
    status = 1
} catch let f as EngineSession.Failure {
    FileHandle.standardError.write(Data("Error: \(inSlipctlWords(f.message))\n".utf8))
    status = 1
} catch {
    // Never a crash: whatever else went wrong is said, with exit 1.
    FileHandle.standardError.write(Data("Error: \(error.localizedDescription)\n".utf8))
    status = 1
}
handle.session?.close()
exit(status)
