import Foundation
import JSONRPC

// The cluster resources (clusterstack, clusterstore, clusterbuilder), namespaced builders and
// secrets, in kp's grammar: create|patch|save|list|status|delete (and add|remove for stores).

/// An absolute path for a host path given on the command line.
func absolute(_ path: String) -> String {
    let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    return URL(fileURLWithPath: p).standardized.path
}

/// `true`/`false` of a resource's `status.ready`, as kp's READY column.
func readyColumn(_ status: JSONValue?) -> String {
    switch status?["ready"] {
    case .bool(true)?: return "True"
    case .bool(false)?: return "False"
    default: return "Unknown"
    }
}

/// What the create/patch/save verbs say, as kp says it.
func said(_ kind: String, _ name: String, _ verb: String, dry: Bool) -> String {
    "\(kind) \"\(name)\" \(verb)\(dry ? " (dry run)" : "")"
}

/// A builder's order from `--order FILE` (kpack's YAML, or JSON) or `-b id[@version]` flags.
func builderOrder(_ a: Arguments) throws -> JSONValue? {
    if let file = a.value("order") {
        guard let text = try? String(contentsOfFile: absolute(file), encoding: .utf8) else { throw Arguments.Failure(message: "cannot read the order file \(file)") }  // said in the thrown message
        if let json = try? JSONParser.parse(Array(text.utf8)) { return json }  // not JSON: read as kpack's YAML below
        // kpack's order YAML: `- group:` entries of `- id: …` with `version:` and `optional:`.
        var groups: [JSONValue] = []
        var entries: [JSONValue] = []
        var entry: JSONObject?
        func endEntry() { if let e = entry { entries.append(.object(e)) }; entry = nil }
        func endGroup() { endEntry(); if !entries.isEmpty { groups.append(["group": .array(entries)]) }; entries = [] }
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("- group:") { endGroup(); continue }
            var field = line
            if field.hasPrefix("- ") { endEntry(); entry = JSONObject(); field = String(field.dropFirst(2)) }
            let kv = field.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) }
            guard kv.count == 2, entry != nil else { throw Arguments.Failure(message: "the order file \(file) is not a kpack order (- group: / - id: …)") }
            entry![kv[0]] = kv[0] == "optional" ? .bool(kv[1] == "true") : .string(kv[1])
        }
        endGroup()
        return .array(groups)
    }
    let buildpacks = a.values("buildpack")
    guard !buildpacks.isEmpty else { return nil }
    return [["group": .array(buildpacks.map { b in
        let parts = b.split(separator: "@", maxSplits: 1).map(String.init)
        var o = JSONObject([("id", .string(parts[0]))])
        if parts.count == 2 { o["version"] = .string(parts[1]) }
        return .object(o)
    })]]
}

/// clusterstack, clusterstore, clusterbuilder and builder.
func runResource(_ kind: String, _ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let title = ["clusterstack": "ClusterStack", "clusterstore": "ClusterStore", "clusterbuilder": "ClusterBuilder", "builder": "Builder"][kind]!
    var spec = Arguments.Spec(values: ["namespace", "build-image", "run-image", "buildpackage", "buildpack", "tag", "stack", "store", "order", "output"],
                              booleans: ["dry-run"])
    spec.short["b"] = kind == "clusterstore" ? "buildpackage" : "buildpack"
    let a = try Arguments(words, spec: spec)
    let out = Output(structured: a.value("output"))
    var base = JSONObject()
    if kind == "builder" { base["namespace"] = .string(a.value("namespace") ?? "default") }
    func named(_ name: String) -> JSONValue { var o = base; o["name"] = .string(name); return .object(o) }
    switch verb {
    case "create", "patch", "save", "add", "remove":
        guard kind == "clusterstore" || !["add", "remove"].contains(verb) else {
            throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl \(kind)\"")
        }
        try a.expect(1...1)
        let name = a.positional[0]
        let e = try engine()
        var method = verb
        if verb == "save" { method = try !e.exists("\(kind)/get", named(name)) ? "create" : (kind == "clusterstore" ? "add" : "patch") }
        var params = base
        params["name"] = .string(name)
        switch kind {
        case "clusterstack":
            if let b = a.value("build-image") { params["buildImage"] = .string(b.hasPrefix("/") || b.hasPrefix(".") ? absolute(b) : b) }
            if let r = a.value("run-image") { params["runImage"] = .string(r.hasPrefix("/") || r.hasPrefix(".") ? absolute(r) : r) }
        case "clusterstore":
            let given = a.values("buildpackage")
            guard !given.isEmpty else { throw Arguments.Failure(message: "at least one buildpackage must be given (-b)") }
            // A path is a folder, archive or layout on this machine; anything else (an id to remove) as it is.
            params["buildpacks"] = .array(given.map { .string(method == "remove" || !FileManager.default.fileExists(atPath: absolute($0)) ? $0 : absolute($0)) })
        default:
            if let s = a.value("stack") { params["stack"] = .string(s) }
            if let s = a.value("store") { params["store"] = .string(s) }
            if let o = try builderOrder(a) { params["order"] = o }
        }
        if a.bool("dry-run") {
            out.say(said(title, name, method == "create" ? "created" : "updated", dry: true))
            try out.resource(.object(params))
            return 0
        }
        let result = try e.call("\(kind)/\(method)", .object(params))
        out.say(said(title, name, method == "create" ? "created" : "updated", dry: false))
        try out.resource(result)
        return 0
    case "list":
        try a.expect(0...0)
        var params = base
        params["limit"] = 500
        let key = ["clusterstack": "stacks", "clusterstore": "stores", "clusterbuilder": "builders", "builder": "builders"][kind]!
        let result = try engine().call("\(kind)/list", .object(params))
        let items = result[key]?.arrayValue ?? []
        if out.structured != nil { try out.resource(.array(items)); return 0 }
        guard !items.isEmpty else { emit("no \(kind)s found"); return 0 }
        switch kind {
        case "clusterstack":
            emit(KpFormat.table(["NAME", "READY", "ID"], items.map { [$0["name"]?.stringValue ?? "", readyColumn($0["status"]), $0["id"]?.stringValue ?? ""] }), terminator: "")
        case "clusterstore":
            emit(KpFormat.table(["NAME", "READY"], items.map { [$0["name"]?.stringValue ?? "", "True"] }), terminator: "")
        default:
            emit(KpFormat.table(["NAME", "READY", "STACK", "IMAGE"], items.map {
                // A Slipway builder is no image of its own: IMAGE is empty.
                [$0["name"]?.stringValue ?? "", readyColumn($0["status"]), $0["status"]?["stackID"]?.stringValue ?? "", "--"]
            }), terminator: "")
        }
        return 0
    case "status":
        try a.expect(1...1)
        let r = try engine().call("\(kind)/get", named(a.positional[0]))
        if out.structured != nil { try out.resource(r); return 0 }
        switch kind {
        case "clusterstack":
            emit("Status:       \(readyColumn(r["status"]) == "True" ? "Ready" : "Not Ready")")
            emit("Id:           \(r["id"]?.stringValue ?? r["status"]?["id"]?.stringValue ?? "--")")
            emit("Run Image:    \(r["status"]?["resolvedRunImage"]?.stringValue ?? r["runImage"]?.stringValue ?? "--")")
            emit("Build Image:  \(r["status"]?["resolvedBuildImage"]?.stringValue ?? r["buildImage"]?.stringValue ?? "--")")
        case "clusterstore":
            emit("Status:    Ready\n")
            emit(KpFormat.table(["BUILDPACKAGE ID", "VERSION", "HOMEPAGE"], (r["buildpacks"]?.arrayValue ?? []).map {
                [$0["id"]?.stringValue ?? "", $0["version"]?.stringValue ?? "", $0["homepage"]?.stringValue ?? ""]
            }), terminator: "")
        default:
            let s = r["status"]
            emit("Status:       \(readyColumn(s) == "True" ? "Ready" : "Not Ready")")
            emit("Stack ID:     \(s?["stackID"]?.stringValue ?? "--")")
            emit("Run Image:    \(s?["runImage"]?.stringValue ?? "--")\n")
            emit(KpFormat.table(["BUILDPACK ID", "VERSION", "HOMEPAGE"], (s?["buildpacks"]?.arrayValue ?? []).map {
                [$0["id"]?.stringValue ?? "", $0["version"]?.stringValue ?? "", $0["homepage"]?.stringValue ?? ""]
            }), terminator: "")
        }
        return 0
    case "delete":
        try a.expect(1...1)
        _ = try engine().call("\(kind)/delete", named(a.positional[0]))
        emit("\(title) \"\(a.positional[0])\" deleted")
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl \(kind)\"")
    }
}

/// A password from kp's environment variable, else asked for on the terminal (never argv).
func password(_ variable: String, prompt: String) throws -> String {
    if let p = ProcessInfo.processInfo.environment[variable] { return p }
    guard isatty(0) == 1, let p = getpass(prompt) else {
        throw Arguments.Failure(message: "set \(variable), or run on a terminal to be asked for the password")
    }
    return String(cString: p)
}

func runSecret(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: .init(values: ["namespace", "registry", "registry-user", "dockerhub", "git-url", "git-user", "git-ssh-key", "output"]))
    let namespace = a.value("namespace") ?? "default"
    switch verb {
    case "create":
        try a.expect(1...1)
        var params = JSONObject([("name", .string(a.positional[0])), ("namespace", .string(namespace))])
        if let hub = a.value("dockerhub") {
            params["registry"] = ["server": "https://index.docker.io/v1/", "username": .string(hub), "password": .string(try password("DOCKER_PASSWORD", prompt: "dockerhub password: "))]
        } else if let server = a.value("registry") {
            guard let user = a.value("registry-user") else { throw Arguments.Failure(message: "--registry-user is required with --registry") }
            params["registry"] = ["server": .string(server), "username": .string(user), "password": .string(try password("REGISTRY_PASSWORD", prompt: "registry password: "))]
        } else if let url = a.value("git-url") {
            var git = JSONObject([("url", .string(url))])
            if let key = a.value("git-ssh-key") {
                guard let text = try? String(contentsOfFile: absolute(key), encoding: .utf8) else { throw Arguments.Failure(message: "cannot read the ssh key \(key)") }  // said in the thrown message
                git["sshKey"] = .string(text)
            } else {
                guard let user = a.value("git-user") else { throw Arguments.Failure(message: "--git-user or --git-ssh-key is required with --git-url") }
                git["username"] = .string(user)
                git["password"] = .string(try password("GIT_PASSWORD", prompt: "git password: "))
            }
            params["git"] = .object(git)
        } else {
            throw Arguments.Failure(message: "secret must be one of --registry, --dockerhub or --git-url")
        }
        _ = try engine().call("secret/create", .object(params))
        emit("Secret \"\(a.positional[0])\" created")
        return 0
    case "list":
        try a.expect(0...0)
        let secrets = try engine().call("secret/list", ["namespace": .string(namespace)])["secrets"]?.arrayValue ?? []
        guard !secrets.isEmpty else { emit("no secrets found"); return 0 }
        emit(KpFormat.table(["NAME", "TARGET"], secrets.map { [$0["name"]?.stringValue ?? "", $0["server"]?.stringValue ?? $0["url"]?.stringValue ?? ""] }), terminator: "")
        return 0
    case "delete":
        try a.expect(1...1)
        _ = try engine().call("secret/delete", ["name": .string(a.positional[0]), "namespace": .string(namespace)])
        emit("Secret \"\(a.positional[0])\" deleted")
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl secret\"")
    }
}
