import Foundation
import JSONRPC
import SlipwayProtocol

// The cluster resources (clusterstack, clusterstore, clusterbuilder), namespaced builders and
// secrets, in kp's grammar: create|patch|save|list|status|delete (and add|remove for stores).

/// An absolute path for a host path given on the command line.
func absolute(_ path: String) -> String {
    let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    return URL(fileURLWithPath: p).standardized.path
}

/// `true`/`false` of a resource's `status.ready`, as kp's READY column.
func readyColumn(_ ready: Bool) -> String { ready ? "True" : "False" }

/// What the create/patch/save verbs say, as kp says it.
func said(_ kind: String, _ name: String, _ verb: String, dry: Bool) -> String {
    "\(kind) \"\(name)\" \(verb)\(dry ? " (dry run)" : "")"
}

/// A builder's order from `--order FILE` (kpack's YAML, or JSON) or `-b id[@version]` flags.
func builderOrder(_ a: Arguments) throws -> [OrderGroup]? {
    if let file = a.value("order") {
        guard let text = try? String(contentsOfFile: absolute(file), encoding: .utf8) else { throw Arguments.Failure(message: "cannot read the order file \(file)") }  // said in the thrown message
        if let json = try? JSONParser.parse(Array(text.utf8)) { return try orderGroups(json, file: file) }  // not JSON: read as kpack's YAML below
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
        return try orderGroups(.array(groups), file: file)
    }
    let buildpacks = a.values("buildpack")
    guard !buildpacks.isEmpty else { return nil }
    return [OrderGroup(group: buildpacks.map { b in
        let parts = b.split(separator: "@", maxSplits: 1).map(String.init)
        return OrderEntry(id: parts[0], version: parts.count == 2 ? parts[1] : nil)
    })]
}

/// The order an order file holds, as the protocol's type; what is not a builder order is refused
/// naming the file and the field.
func orderGroups(_ json: JSONValue, file: String) throws -> [OrderGroup] {
    do {
        return try JSONValueDecoder().decodeStrictly([OrderGroup].self, from: json)
    } catch {
        throw Arguments.Failure(message: "the order file \(file) is not a builder order (groups of id, version and optional): \(error)")
    }
}

/// clusterstack, clusterstore, clusterbuilder and builder.
func runResource(_ kind: String, _ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let title = ["clusterstack": "ClusterStack", "clusterstore": "ClusterStore", "clusterbuilder": "ClusterBuilder", "builder": "Builder"][kind]!
    let a = try Arguments(words, spec: CommandTable.spec(kind, verb))
    let out = try Output(a.value("output"))
    let namespace = a.value("namespace") ?? "default"
    switch verb {
    case "create", "patch", "save", "add", "remove":
        guard kind == "clusterstore" || !["add", "remove"].contains(verb) else {
            throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl \(kind)\"")
        }
        try a.expect(1...1)
        let name = a.positional[0]
        let e = try engine()
        var write = ResourceWrite(kind: kind, name: name, namespace: namespace, verb: verb)
        if verb == "save" { write.verb = try !write.exists(e) ? "create" : (kind == "clusterstore" ? "add" : "patch") }
        let creating = write.verb == "create"
        if a.bool("dry-run") {
            out.say(said(title, name, creating ? "created" : "updated", dry: true))
            try write.showParams(a, out)
            return 0
        }
        try write.send(a, e, out)
        out.say(said(title, name, creating ? "created" : "updated", dry: false))
        return 0
    case "list":
        try a.expect(0...0)
        let e = try engine()
        let rows: [[String]]
        switch kind {
        case "clusterstack":
            let items = try e.call(ClusterStackList.self, PageParams(limit: 500)).stacks
            if out.structured != nil { try out.resource(items); return 0 }
            rows = items.map { [$0.name, readyColumn($0.status.ready), $0.id] }
        case "clusterstore":
            let items = try e.call(ClusterStoreList.self, PageParams(limit: 500)).stores
            if out.structured != nil { try out.resource(items); return 0 }
            rows = items.map { [$0.name, "True"] }
        default:
            let items = kind == "builder"
                ? try e.call(BuilderList.self, NamespaceParams(namespace: namespace, limit: 500)).builders
                : try e.call(ClusterBuilderList.self, PageParams(limit: 500)).builders
            if out.structured != nil { try out.resource(items); return 0 }
            // IMAGE: where the builder is published, or the builder image it was made from.
            rows = items.map { [$0.name, readyColumn($0.status.ready), $0.status.stackID ?? "", $0.status.latestImage ?? "--"] }
        }
        guard !rows.isEmpty else { emit("no \(kind)s found"); return 0 }
        let header = ["clusterstack": ["NAME", "READY", "ID"], "clusterstore": ["NAME", "READY"]][kind] ?? ["NAME", "READY", "STACK", "IMAGE"]
        emit(KpFormat.table(header, rows), terminator: "")
        return 0
    case "status":
        try a.expect(1...1)
        let e = try engine(), name = a.positional[0]
        switch kind {
        case "clusterstack":
            let r = try e.call(ClusterStackGet.self, NameParams(name: name))
            if out.structured != nil { try out.resource(r); return 0 }
            emit("Status:       \(r.status.ready ? "Ready" : "Not Ready")")
            emit("Id:           \(r.id)")
            emit("Run Image:    \(r.status.resolvedRunImage)")
            emit("Build Image:  \(r.status.resolvedBuildImage)")
        case "clusterstore":
            let r = try e.call(ClusterStoreGet.self, NameParams(name: name))
            if out.structured != nil { try out.resource(r); return 0 }
            emit("Status:    Ready\n")
            emit(KpFormat.table(["BUILDPACKAGE ID", "VERSION", "HOMEPAGE"], r.buildpacks.map { [$0.id, $0.version, $0.homepage ?? ""] }), terminator: "")
        default:
            let r = kind == "builder"
                ? try e.call(BuilderGet.self, NamespacedNameParams(name: name, namespace: namespace))
                : try e.call(ClusterBuilderGet.self, NameParams(name: name))
            if out.structured != nil { try out.resource(r); return 0 }
            let s = r.status
            emit("Status:       \(s.ready ? "Ready" : "Not Ready")")
            if !s.ready, let why = s.message { emit("Reason:       \(why)") }
            if let image = s.latestImage { emit("Image:        \(image)") }
            emit("Stack ID:     \(s.stackID ?? "--")")
            emit("Run Image:    \(s.runImage ?? "--")\n")
            emit(KpFormat.table(["BUILDPACK ID", "VERSION", "HOMEPAGE"], s.buildpacks.map { [$0.id, $0.version, $0.homepage ?? ""] }), terminator: "")
        }
        return 0
    case "delete":
        try a.expect(1...1)
        let e = try engine(), name = a.positional[0]
        switch kind {
        case "clusterstack":
            if !a.bool("force") {
                let users = try stackUsers(e, stack: name, namespace: namespace)
                guard users.isEmpty else {
                    throw Arguments.Failure(message: "ClusterStack \"\(name)\" is in use by \(users.joined(separator: ", ")): they stop being ready without it. "
                                            + "Move them to another stack ('slipctl clusterbuilder patch NAME --stack OTHER'), or delete it anyway with --force")
                }
            }
            _ = try e.call(ClusterStackDelete.self, NameParams(name: name))
        case "clusterstore": _ = try e.call(ClusterStoreDelete.self, NameParams(name: name))
        case "clusterbuilder": _ = try e.call(ClusterBuilderDelete.self, NameParams(name: name))
        default: _ = try e.call(BuilderDelete.self, NamespacedNameParams(name: name, namespace: namespace))
        }
        emit("\(title) \"\(name)\" deleted")
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl \(kind)\"")
    }
}

/// The builders built on `stack` (ClusterBuilders, and Builders of the namespaces images are
/// in, `namespace` and `default`) and the images built with them, as `clusterstack delete`
/// names them: `ClusterBuilder "b" (2 images)`.
func stackUsers(_ e: EngineSession, stack: String, namespace: String) throws -> [String] {
    let images = try e.call(ImageList.self, ImageListParams(namespace: namespace, allNamespaces: true)).images
    let namespaces = Set(images.map(\.namespace) + [namespace, "default"]).sorted()
    var builders = try e.call(ClusterBuilderList.self, PageParams(limit: 500)).builders
    for ns in namespaces { builders += try e.call(BuilderList.self, NamespaceParams(namespace: ns, limit: 500)).builders }
    return try builders.filter { $0.stack == stack }.map { b in
        var params = ImageListParams(namespace: b.namespace ?? namespace, allNamespaces: b.kind == .ClusterBuilder ? true : nil)
        params.filter = ImageFilter(builder: b.name)
        let count = try e.call(ImageList.self, params).images.count
        let title = b.kind == .ClusterBuilder ? "ClusterBuilder \"\(b.name)\"" : "Builder \"\(b.namespace ?? namespace)/\(b.name)\""
        return title + (count > 0 ? " (\(count) image\(count == 1 ? "" : "s"))" : "")
    }
}

/// A create, patch, add or remove of a stack, store or builder: its params from kp's flags,
/// and the method of the protocol it is sent with.
struct ResourceWrite {
    let kind: String
    let name: String
    let namespace: String
    /// create, patch, add or remove (a save becomes one of them).
    var verb: String

    /// Whether the object exists (what a save decides by).
    func exists(_ e: EngineSession) throws -> Bool {
        switch kind {
        case "clusterstack": try e.exists(ClusterStackGet.self, NameParams(name: name))
        case "clusterstore": try e.exists(ClusterStoreGet.self, NameParams(name: name))
        case "clusterbuilder": try e.exists(ClusterBuilderGet.self, NameParams(name: name))
        default: try e.exists(BuilderGet.self, NamespacedNameParams(name: name, namespace: namespace))
        }
    }

    func stack(_ a: Arguments) -> StackSpec {
        func reference(_ r: String?) -> String? { r.map { $0.hasPrefix("/") || $0.hasPrefix(".") ? absolute($0) : $0 } }
        return StackSpec(name: name, buildImage: reference(a.value("build-image")), runImage: reference(a.value("run-image")))
    }

    func store(_ a: Arguments) throws -> StoreParams {
        let given = a.values("buildpackage")
        guard !given.isEmpty else { throw Arguments.Failure(message: "at least one buildpackage must be given (-b)") }
        // A path is a folder, archive or layout on this machine; anything else (an id to remove) as it is.
        return StoreParams(name: name, buildpacks: given.map { verb == "remove" || !FileManager.default.fileExists(atPath: absolute($0)) ? $0 : absolute($0) })
    }

    func builder(_ a: Arguments) throws -> BuilderSpec {
        BuilderSpec(name: name, namespace: namespace, stack: a.value("stack"), store: a.value("store"), order: try builderOrder(a),
                    image: a.value("image"), tag: a.value("tag"))
    }

    func clusterBuilder(_ a: Arguments) throws -> ClusterBuilderSpec {
        ClusterBuilderSpec(name: name, stack: a.value("stack"), store: a.value("store"), order: try builderOrder(a), image: a.value("image"),
                           tag: a.value("tag"))
    }

    /// `--dry-run`: the params that would be sent.
    func showParams(_ a: Arguments, _ out: Output) throws {
        switch kind {
        case "clusterstack": try out.resource(stack(a))
        case "clusterstore": try out.resource(try store(a))
        case "clusterbuilder": try out.resource(try clusterBuilder(a))
        default: try out.resource(try builder(a))
        }
    }

    /// Sends the write and shows what the engine answered.
    func send(_ a: Arguments, _ e: EngineSession, _ out: Output) throws {
        let creating = verb == "create"
        switch kind {
        case "clusterstack":
            try out.resource(creating ? try e.call(ClusterStackCreate.self, Creating(stack(a))) : try e.call(ClusterStackPatch.self, stack(a)))
        case "clusterstore":
            let p = try store(a)
            switch verb {
            case "create": try out.resource(try e.call(ClusterStoreCreate.self, p))
            case "remove": try out.resource(try e.call(ClusterStoreRemove.self, p))
            default: try out.resource(try e.call(ClusterStoreAdd.self, p))
            }
        case "clusterbuilder":
            let p = try clusterBuilder(a)
            try out.resource(creating ? try e.call(ClusterBuilderCreate.self, Creating(p)) : try e.call(ClusterBuilderPatch.self, p))
        default:
            let p = try builder(a)
            try out.resource(creating ? try e.call(BuilderCreate.self, Creating(p)) : try e.call(BuilderPatch.self, p))
        }
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
    let a = try Arguments(words, spec: CommandTable.spec("secret", verb))
    let namespace = a.value("namespace") ?? "default"
    switch verb {
    case "create":
        try a.expect(1...1)
        var params = SecretSpec(name: a.positional[0], namespace: namespace)
        if let hub = a.value("dockerhub") {
            params.registry = .init(server: "https://index.docker.io/v1/", username: hub, password: try password("DOCKER_PASSWORD", prompt: "dockerhub password: "))
        } else if let server = a.value("registry") {
            guard let user = a.value("registry-user") else { throw Arguments.Failure(message: "--registry-user is required with --registry") }
            params.registry = .init(server: server, username: user, password: try password("REGISTRY_PASSWORD", prompt: "registry password: "))
        } else if let url = a.value("git-url") {
            if let key = a.value("git-ssh-key") {
                guard let text = try? String(contentsOfFile: absolute(key), encoding: .utf8) else { throw Arguments.Failure(message: "cannot read the ssh key \(key)") }  // said in the thrown message
                params.git = .init(url: url, sshKey: text)
            } else {
                guard let user = a.value("git-user") else { throw Arguments.Failure(message: "--git-user or --git-ssh-key is required with --git-url") }
                params.git = .init(url: url, username: user, password: try password("GIT_PASSWORD", prompt: "git password: "))
            }
        } else {
            throw Arguments.Failure(message: "secret must be one of --registry, --dockerhub or --git-url")
        }
        _ = try engine().call(SecretCreate.self, params)
        emit("Secret \"\(a.positional[0])\" created")
        return 0
    case "list":
        try a.expect(0...0)
        let secrets = try engine().call(SecretList.self, NamespaceParams(namespace: namespace)).secrets
        guard !secrets.isEmpty else { emit("no secrets found"); return 0 }
        emit(KpFormat.table(["NAME", "TARGET"], secrets.map { [$0.name, $0.server ?? $0.url ?? ""] }), terminator: "")
        return 0
    case "delete":
        try a.expect(1...1)
        _ = try engine().call(SecretDelete.self, NamespacedNameParams(name: a.positional[0], namespace: namespace))
        emit("Secret \"\(a.positional[0])\" deleted")
        return 0
    default:
        throw Arguments.Failure(message: "unknown command \"\(verb)\" for \"slipctl secret\"")
    }
}
