import Foundation
import JSONRPC

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
        var params = JSONObject([("namespace", .string(namespace))])
        if let name = a.value("name") { params["name"] = .string(name) }
        if let image = a.value("image") {
            params["image"] = .string(image)
        } else if let git = a.value("git") {
            params["source"] = ["git": ["url": .string(git), "revision": .string(a.value("git-revision") ?? "main")]]
        } else if let source = a.value("source") {
            params["source"] = ["local": ["path": .string(absolute(source))]]
        } else {
            throw Arguments.Failure(message: "give --image (a build run of an image's configuration), or --source DIR or --git URL")
        }
        if let s = a.value("strategy") { params["strategy"] = .string(s) }
        if let d = a.value("dockerfile") { params["dockerfile"] = .string(d) }
        if let t = a.value("tag") { params["tag"] = .string(t) }
        if let b = a.value("builder") ?? a.value("cluster-builder") {
            params["builder"] = ["kind": .string(a.has("builder") ? "Builder" : "ClusterBuilder"), "name": .string(b)]
        }
        if let t = a.value("timeout") {
            guard let n = Int64(t) else { throw Arguments.Failure(message: "invalid argument \"\(t)\" for \"--timeout\" flag: not a number of seconds") }
            params["timeout"] = .int(n)
        }
        if a.has("env") { params["env"] = .object(try envObject(a.values("env"))) }
        let e = try engine()
        let run = try e.call("buildrun/submit", .object(params))
        let name = run["name"]?.stringValue ?? ""
        out.say("Submitting build run '\(name)' in namespace '\(namespace)'...")
        try out.resource(run)
        if a.bool("wait") {
            let done = try e.call("buildrun/wait", ["name": .string(name), "namespace": .string(namespace)])
            out.say("Build run '\(name)' \(done["status"]?.stringValue == "SUCCESS" ? "succeeded" : "failed: \(done["message"]?.stringValue ?? "")")")
            return done["status"]?.stringValue == "SUCCESS" ? 0 : 1
        }
        out.say("Run 'slipctl buildrun get -n \(name)' to check the build run status.")
        return 0
    case "list":
        let runs = try engine().call("buildrun/list", ["namespace": .string(namespace)])["buildruns"]?.arrayValue ?? []
        if out.structured != nil { try out.resource(.array(runs)); return 0 }
        guard !runs.isEmpty else { emit("No build runs found"); return 0 }
        emit(KpFormat.table(["Name", "Status", "Image", "Build", "Age"], runs.map {
            [$0["name"]?.stringValue ?? "", $0["status"]?.stringValue ?? "", $0["image"]?.stringValue ?? "--", $0["build"]?.int64Value.map(String.init) ?? "--",
             KpFormat.time($0["created"]?.stringValue)]
        }), terminator: "")
        return 0
    case "get":
        let r = try engine().call("buildrun/get", ["name": .string(try runName(a)), "namespace": .string(namespace)])
        if out.structured != nil { try out.resource(r); return 0 }
        for (label, value) in [("Name", r["name"]?.stringValue), ("Namespace", r["namespace"]?.stringValue), ("Image", r["image"]?.stringValue),
                               ("Build", r["build"]?.int64Value.map(String.init)), ("Status", r["status"]?.stringValue), ("Phase", r["phase"]?.stringValue),
                               ("Reason", r["message"]?.stringValue), ("Output", r["output"]?.stringValue), ("Created", r["created"]?.stringValue)] {
            emit("\(label + ":")".padding(toLength: 12, withPad: " ", startingAt: 0) + (value ?? "--"))
        }
        return 0
    case "logs":
        let e = try engine()
        let name = try runName(a)
        e.onNotification = { method, p in if method == "build/log", p["buildrun"]?.stringValue == name { emit(p["line"]?.stringValue ?? "") } }
        let r = try e.call("buildrun/logs", ["name": .string(name), "namespace": .string(namespace), "follow": .bool(a.bool("follow"))])
        for line in r["lines"]?.arrayValue ?? [] { emit(line["line"]?.stringValue ?? "") }
        return 0
    case "events":
        let events = try engine().call("buildrun/events", ["name": .string(try runName(a)), "namespace": .string(namespace)])["events"]?.arrayValue ?? []
        emit(KpFormat.table(["Type", "Reason", "Age", "Message"], events.map {
            [$0["type"]?.stringValue ?? "", $0["reason"]?.stringValue ?? "", KpFormat.time($0["lastTimestamp"]?.stringValue ?? $0["time"]?.stringValue), $0["message"]?.stringValue ?? ""]
        }), terminator: "")
        return 0
    case "delete":
        let name = try runName(a)
        _ = try engine().call("buildrun/delete", ["name": .string(name), "namespace": .string(namespace)])
        emit("Deleted build run '\(name)'")
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl buildrun\"")
    }
}
