import Foundation
import SlipwayProtocol

// `slipctl buildrun submit|list|get|logs|events|delete`, in a code engine's grammar (its
// `buildrun` commands: `--name`/`-n` names the run, `--image` the build configuration).

/// The build run a command names: `--name` or the first argument.
func runName(_ a: Arguments) throws -> String {
    if let n = a.value("name") { return n }
    guard let first = a.positional.first else { throw Arguments.Failure(message: "required flag \"name\" not set") }
    return first
}

func runBuildRun(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    var spec = Arguments.Spec(values: ["name", "namespace", "image", "source", "git", "git-revision", "strategy", "dockerfile", "builder",
                                       "cluster-builder", "tag", "env", "timeout", "output"], booleans: ["wait", "follow"])
    spec.short = ["n": "name", "i": "image", "f": "follow", "w": "wait"]
    let a = try Arguments(words, spec: spec)
    let namespace = a.value("namespace") ?? "default"
    let out = Output(structured: a.value("output"))
    switch verb {
    case "submit":
        var params = BuildRunSpec(name: a.value("name"), namespace: namespace)
        if let image = a.value("image") {
            params.image = image
        } else if let git = a.value("git") {
            params.source = SourceSpec(git: .init(url: git, revision: a.value("git-revision") ?? "main"))
        } else if let source = a.value("source") {
            params.source = SourceSpec(local: .init(path: absolute(source)))
        } else {
            throw Arguments.Failure(message: "give --image (a build run of an image's configuration), or --source DIR or --git URL")
        }
        if let s = a.value("strategy") {
            guard let strategy = BuildStrategy(rawValue: s) else {
                throw Arguments.Failure(message: "invalid argument \"\(s)\" for \"--strategy\" flag: use \(BuildStrategy.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            params.strategy = strategy
        }
        params.dockerfile = a.value("dockerfile")
        params.tag = a.value("tag")
        if let b = a.value("builder") ?? a.value("cluster-builder") {
            params.builder = BuilderReference(kind: a.has("builder") ? .Builder : .ClusterBuilder, name: b)
        }
        if let t = a.value("timeout") {
            guard let n = Int(t) else { throw Arguments.Failure(message: "invalid argument \"\(t)\" for \"--timeout\" flag: not a number of seconds") }
            params.timeout = n
        }
        if a.has("env") { params.env = try envObject(a.values("env")) }
        let e = try engine()
        let run = try e.call(BuildRunSubmit.self, params)
        let name = run.name
        out.say("Submitting build run '\(name)' in namespace '\(namespace)'...")
        try out.resource(run)
        if a.bool("wait") {
            let done = try e.call(BuildRunWait.self, BuildRunWaitParams(name: name, namespace: namespace))
            out.say("Build run '\(name)' \(done.status == .SUCCESS ? "succeeded" : "failed: \(done.message ?? "")")")
            return done.status == .SUCCESS ? 0 : 1
        }
        out.say("Run 'slipctl buildrun get -n \(name)' to check the build run status.")
        return 0
    case "list":
        let runs = try engine().call(BuildRunList.self, NamespaceParams(namespace: namespace)).buildruns
        if out.structured != nil { try out.resource(runs); return 0 }
        guard !runs.isEmpty else { emit("No build runs found"); return 0 }
        emit(KpFormat.table(["Name", "Status", "Image", "Build", "Age"], runs.map {
            [$0.name, $0.status.rawValue, $0.image ?? "--", $0.build.map(String.init) ?? "--", KpFormat.time($0.created)]
        }), terminator: "")
        return 0
    case "get":
        let r = try engine().call(BuildRunGet.self, BuildRunRef(name: try runName(a), namespace: namespace))
        if out.structured != nil { try out.resource(r); return 0 }
        for (label, value) in [("Name", r.name), ("Namespace", r.namespace), ("Image", r.image), ("Build", r.build.map(String.init)), ("Status", r.status.rawValue),
                               ("Phase", r.phase), ("Reason", r.message), ("Output", r.output), ("Created", r.created)] {
            emit("\(label + ":")".padding(toLength: 12, withPad: " ", startingAt: 0) + (value ?? "--"))
        }
        return 0
    case "logs":
        let e = try engine()
        let name = try runName(a)
        e.onLog = { line in if line.buildrun == name { emit(line.line) } }
        let r = try e.call(BuildRunLogs.self, BuildRunLogsParams(name: name, namespace: namespace, follow: a.bool("follow")))
        for line in r.lines ?? [] { emit(line.line) }
        return 0
    case "events":
        let events = try engine().call(BuildRunEvents.self, BuildRunEventsParams(name: try runName(a), namespace: namespace)).events
        emit(KpFormat.table(["Type", "Reason", "Age", "Message"], events.map { [$0.type.rawValue, $0.reason, KpFormat.time($0.time), $0.message] }), terminator: "")
        return 0
    case "delete":
        let name = try runName(a)
        _ = try engine().call(BuildRunDelete.self, BuildRunRef(name: name, namespace: namespace))
        emit("Deleted build run '\(name)'")
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl buildrun\"")
    }
}
