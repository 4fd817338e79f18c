import Foundation
import JSONRPC

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
    func resource(_ value: JSONValue) throws {
        switch structured {
        case "json": emit(JSONWriter.string(value))
        case "yaml": emit(KpFormat.yaml(value), terminator: "")
        case nil: break
        case let other?: throw Arguments.Failure(message: "invalid output format \"\(other)\": use json or yaml")
        }
    }
}

let imageFlags = Arguments.Spec(
    values: ["namespace", "tag", "additional-tag", "git", "git-revision", "blob", "local-path", "sub-path", "builder", "cluster-builder",
             "custom-builder", "custom-cluster-builder", "env", "delete-env", "success-build-history-limit", "failed-build-history-limit", "output"],
    booleans: ["wait", "dry-run"])

/// `--env KEY=VALUE` flags as an env object.
func envObject(_ values: [String]) throws -> JSONObject {
    var env = JSONObject()
    for e in values {
        guard let eq = e.firstIndex(of: "=") else { throw Arguments.Failure(message: "env var \"\(e)\" is not KEY=VALUE") }
        env[String(e[..<eq])] = .string(String(e[e.index(after: eq)...]))
    }
    return env
}

/// The params of image/create, patch or save from kp's flags.
func imageSpec(_ a: Arguments, name: String, creating: Bool) throws -> JSONObject {
    var spec = JSONObject([("name", .string(name)), ("namespace", .string(a.value("namespace") ?? "default"))])
    if let tag = a.value("tag") ?? (a.positional.count > 1 ? a.positional[1] : nil) { spec["tag"] = .string(tag) }
    if a.has("additional-tag") { spec["additionalTags"] = .array(a.values("additional-tag").map { .string($0) }) }
    let sources = ["git", "blob", "local-path"].filter { a.has($0) }
    guard sources.count <= 1 else { throw Arguments.Failure(message: "image source must be one of git, blob, or local-path") }
    var source: JSONObject?
    if let git = a.value("git") {
        var g = JSONObject([("url", .string(git))])
        g["revision"] = .string(a.value("git-revision") ?? "master")
        source = JSONObject([("git", .object(g))])
    } else if let blob = a.value("blob") {
        source = JSONObject([("blob", .object(JSONObject([("url", .string(blob))])))])
    } else if let path = a.value("local-path") {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        source = JSONObject([("local", .object(JSONObject([("path", .string(URL(fileURLWithPath: absolute).standardized.path))])))])
    } else if creating {
        throw Arguments.Failure(message: "image source must be one of git, blob, or local-path")
    }
    if var s = source {
        if let sub = a.value("sub-path") { s["subPath"] = .string(sub) }
        spec["source"] = .object(s)
    }
    let builders = ["builder", "custom-builder", "cluster-builder", "custom-cluster-builder"].filter { a.has($0) }
    guard builders.count <= 1 else { throw Arguments.Failure(message: "must provide one of --builder or --cluster-builder") }
    if let b = builders.first {
        let kind = b.contains("cluster") ? "ClusterBuilder" : "Builder"
        spec["builder"] = .object(JSONObject([("kind", .string(kind)), ("name", .string(a.value(b)!))]))
    }
    if a.has("env") { spec["env"] = .object(try envObject(a.values("env"))) }
    if a.has("delete-env") { spec["deleteEnv"] = .array(a.values("delete-env").map { .string($0) }) }
    for (flag, key) in [("success-build-history-limit", "successBuildHistoryLimit"), ("failed-build-history-limit", "failedBuildHistoryLimit")] {
        if let v = a.value(flag) {
            guard let n = Int64(v) else { throw Arguments.Failure(message: "invalid argument \"\(v)\" for \"--\(flag)\" flag: not a number") }
            spec[key] = .int(n)
        }
    }
    if a.bool("dry-run") { spec["dryRun"] = true }
    return spec
}

/// Prints a build's log lines until it ends; false when it failed.
/// On a terminal (and without --output), a progress line follows the lines (`ProgressLine`).
func followLogs(_ engine: EngineSession, image: String, namespace: String, build: Int64?, out: Output) throws -> Bool {
    let progress = out.structured == nil ? ProgressLine.onTerminal() : nil
    engine.onNotification = { method, params in
        guard method == "build/log", params["image"]?.stringValue == image else { return }
        let text = params["line"]?.stringValue ?? ""
        if let progress { progress.line(text, phase: params["phase"]?.stringValue) } else { out.say(text) }
    }
    var params = JSONObject([("image", .string(image)), ("namespace", .string(namespace)), ("follow", true)])
    if let build { params["build"] = .int(build) }
    let result = try engine.call("build/logs", .object(params))
    engine.onNotification = nil
    let status = result["status"]?.stringValue ?? ""
    progress?.finish(status: status)
    return status != "FAILURE"
}

func runImage(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    switch verb {
    case "create", "patch", "save":
        let a = try Arguments(words, spec: imageFlags)
        try a.expect(verb == "patch" ? 1...1 : 1...2)
        let out = Output(structured: a.value("output"))
        let name = a.positional[0]
        let e = try engine()
        var creating = verb == "create"
        if verb == "save" { creating = try !e.exists("image/get", ["name": .string(name), "namespace": .string(a.value("namespace") ?? "default")]) }
        let spec = try imageSpec(a, name: name, creating: creating)
        let result = try e.call(creating ? "image/create" : "image/patch", .object(spec))
        let dry = a.bool("dry-run") ? " (dry run)" : ""
        if creating {
            out.say("Image Resource \"\(name)\" created\(dry)")
        } else {
            out.say(result["changed"] == false ? "Image Resource \"\(name)\" patched (no change)\(dry)" : "Image Resource \"\(name)\" patched\(dry)")
        }
        try out.resource(result["image"] ?? .null)
        if a.bool("wait"), !a.bool("dry-run"), let build = result["build"]?.int64Value {
            return try followLogs(e, image: name, namespace: spec["namespace"]?.stringValue ?? "default", build: build, out: out) ? 0 : 1
        }
        return 0
    case "list":
        var spec = Arguments.Spec(values: ["namespace", "filter", "output"], booleans: ["all-namespaces"])
        spec.short["A"] = "all-namespaces"
        let a = try Arguments(words, spec: spec)
        try a.expect(0...0)
        var params = JSONObject([("namespace", .string(a.value("namespace") ?? "default"))])
        if a.bool("all-namespaces") { params["allNamespaces"] = true }
        var filter = JSONObject()
        for f in a.values("filter") {
            let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw Arguments.Failure(message: "invalid filter \"\(f)\": use key=value") }
            switch kv[0] {
            case "builder", "clusterbuilder": filter["builder"] = .string(kv[1])
            case "latest-reason": filter["latestReason"] = .string(kv[1])
            case "ready": filter["ready"] = .string(kv[1] == "true" || kv[1] == "True" ? "Ready" : kv[1] == "unknown" ? "Unknown" : "NotReady")
            default: throw Arguments.Failure(message: "invalid filter \"\(kv[0])\": use builder, clusterbuilder, latest-reason or ready")
            }
        }
        if !filter.isEmpty { params["filter"] = .object(filter) }
        let images = try engine().call("image/list", .object(params))["images"]?.arrayValue ?? []
        let out = Output(structured: a.value("output"))
        if out.structured != nil { try out.resource(.array(images)); return 0 }
        emit(images.isEmpty ? "no images found" : KpFormat.imageList(images, allNamespaces: a.bool("all-namespaces")), terminator: images.isEmpty ? "\n" : "")
        return 0
    case "status":
        let a = try Arguments(words, spec: .init(values: ["namespace", "output"]))
        try a.expect(1...1)
        let s = try engine().call("image/status", ["name": .string(a.positional[0]), "namespace": .string(a.value("namespace") ?? "default")])
        let out = Output(structured: a.value("output"))
        if out.structured != nil { try out.resource(s); return 0 }
        emit(KpFormat.imageStatus(s), terminator: "")
        return 0
    case "delete":
        let a = try Arguments(words, spec: .init(values: ["namespace"]))
        try a.expect(1...1)
        _ = try engine().call("image/delete", ["name": .string(a.positional[0]), "namespace": .string(a.value("namespace") ?? "default")])
        emit("\"\(a.positional[0])\" deleted")
        return 0
    case "trigger":
        let a = try Arguments(words, spec: .init(values: ["namespace"]))
        try a.expect(1...1)
        let r = try engine().call("image/trigger", ["name": .string(a.positional[0]), "namespace": .string(a.value("namespace") ?? "default")])
        emit("Triggered build for Image Resource \"\(a.positional[0])\" with Build Number \(r["build"]?.int64Value.map(String.init) ?? "?")")
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl image\"")
    }
}

func runBuild(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    var spec = Arguments.Spec(values: ["namespace", "build", "output"], booleans: ["timestamps"])
    spec.short["b"] = "build"
    spec.short["t"] = "timestamps"
    let a = try Arguments(words, spec: spec)
    let namespace = a.value("namespace") ?? "default"
    var build: Int64?
    if let b = a.value("build") {
        guard let n = Int64(b) else { throw Arguments.Failure(message: "invalid argument \"\(b)\" for \"-b, --build\" flag: not a number") }
        build = n
    }
    switch verb {
    case "list":
        try a.expect(1...1)
        let builds = try engine().call("build/list", ["image": .string(a.positional[0]), "namespace": .string(namespace)])["builds"]?.arrayValue ?? []
        let out = Output(structured: a.value("output"))
        if out.structured != nil { try out.resource(.array(builds)); return 0 }
        emit(builds.isEmpty ? "no builds found" : KpFormat.buildList(builds), terminator: builds.isEmpty ? "\n" : "")
        return 0
    case "status":
        try a.expect(1...1)
        var params = JSONObject([("image", .string(a.positional[0])), ("namespace", .string(namespace))])
        if let build { params["build"] = .int(build) }
        let b = try engine().call("build/status", .object(params))
        let out = Output(structured: a.value("output"))
        if out.structured != nil { try out.resource(b); return 0 }
        emit(KpFormat.buildStatus(b), terminator: "")
        return 0
    case "logs":
        try a.expect(1...1)
        let e = try engine()
        if a.bool("timestamps") {
            e.onNotification = { method, p in
                guard method == "build/log" else { return }
                emit("\(p["time"]?.stringValue ?? "") \(p["line"]?.stringValue ?? "")")
            }
            var params = JSONObject([("image", .string(a.positional[0])), ("namespace", .string(namespace)), ("follow", true)])
            if let build { params["build"] = .int(build) }
            let r = try e.call("build/logs", .object(params))
            return r["status"]?.stringValue == "FAILURE" ? 1 : 0
        }
        return try followLogs(e, image: a.positional[0], namespace: namespace, build: build, out: Output()) ? 0 : 1
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl build\"")
    }
}

let usage = """
    slipctl: kp's command line, on Slipway (alias kp=slipctl)

    Usage:
      slipctl image create|patch|save|list|status|delete|trigger …
      slipctl build list|status|logs IMAGE [-b N]
      slipctl clusterstack|clusterbuilder|builder create|patch|save|list|status|delete …
      slipctl clusterstore create|add|remove|save|list|status|delete …
      slipctl secret create|list|delete …
      slipctl export --kpack [-n NS]   the namespace as kpack v1alpha2 YAML (kubectl apply -f)
      slipctl buildrun submit|list|get|logs|events|delete …   a code engine's build runs
      slipctl completion bash|zsh

    The engine is the one of $SLIPWAY_HOME (else slipway's default state directory).
    """

/// The session, started at the first command that needs the engine.
///
/// `@unchecked Sendable`: used from the main thread only (slipctl runs one command, in order).
final class EngineHandle: @unchecked Sendable {
    var session: EngineSession?
    func get() throws -> EngineSession {
        if let session { return session }
        let s = try EngineSession(stateDirectory: nil)
        session = s
        return s
    }
}

let argv = Array(CommandLine.arguments.dropFirst())
let handle = EngineHandle()
var status: Int32 = 0
do {
    if argv.first == "export" {
        let a = try Arguments(Array(argv.dropFirst()), spec: .init(values: ["namespace"], booleans: ["kpack"]))
        try a.expect(0...0)
        guard a.bool("kpack") else { throw Arguments.Failure(message: "export needs --kpack (the only format so far)") }
        emit(exportYAML(try exportKpack(try handle.get(), namespace: a.value("namespace") ?? "default")), terminator: "")
        handle.session?.close()
        exit(0)
    }
    guard argv.count >= 2 else {
        if argv.first == "--help" || argv.first == "-h" || argv.isEmpty { emit(usage); exit(argv.isEmpty ? 1 : 0) }
        throw Arguments.Failure(message: "unknown command \"\(argv[0])\" for \"slipctl\"")
    }
    switch argv[0] {
    case "image": status = try runImage(argv[1], Array(argv.dropFirst(2)), handle.get)
    case "build": status = try runBuild(argv[1], Array(argv.dropFirst(2)), handle.get)
    case "clusterstack", "clusterstore", "clusterbuilder", "builder": status = try runResource(argv[0], argv[1], Array(argv.dropFirst(2)), handle.get)
    case "secret": status = try runSecret(argv[1], Array(argv.dropFirst(2)), handle.get)
    case "buildrun": status = try runBuildRun(argv[1], Array(argv.dropFirst(2)), handle.get)
    case "completion": emit(try completionScript(argv[1]), terminator: "")
    default: throw Arguments.Failure(message: "unknown command \"\(argv[0])\" for \"slipctl\"")
    }
} catch let f as Arguments.Failure {
    FileHandle.standardError.write(Data("Error: \(f.message)\n".utf8))
    status = 1
} catch let f as EngineSession.Failure {
    FileHandle.standardError.write(Data("Error: \(f.message)\n".utf8))
    status = 1
}
handle.session?.close()
exit(status)
