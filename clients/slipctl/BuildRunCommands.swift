import Foundation
import SlipwayProtocol

// `slipctl buildrun submit|list|get|logs|events|cancel|delete`, in a code engine's grammar
// (`ibmcloud ce buildrun submit`): `--name`/`-n` names the run, `--build` a build
// configuration (a Slipway image), `--image`/`-i` the image reference the run writes,
// `--source` a git URL or a local folder.

/// The build run a command names: `--name` or the first argument.
func runName(_ a: Arguments) throws -> String {
    if let n = a.value("name") { return n }
    guard let first = a.positional.first else { throw Arguments.Failure(message: "required flag \"name\" not set") }
    return first
}

/// Whether a `--source` is a git repository by its shape (`https://`, `http://`, `git@`,
/// `ssh://`, `git://`, `file://` or a `.git` ending), as a code engine tells a git source from
/// a local folder; anything else is a folder on this machine.
func isGitSource(_ source: String) -> Bool {
    ["https://", "http://", "git@", "ssh://", "git://", "file://"].contains { source.hasPrefix($0) } || source.hasSuffix(".git")
}

/// Seconds from `--timeout` or `--wait-timeout`: a number of seconds, or a duration with a unit
/// (`90s`, `10m`, `1h`), as a code engine takes them.
func seconds(_ text: String, flag: String) throws -> Int {
    let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
    var digits = Substring(text), unit = 1
    if let last = text.last, let u = units[last] { digits = text.dropLast(); unit = u }
    guard let n = Int(digits), n > 0 else {
        throw Arguments.Failure(message: "invalid argument \"\(text)\" for \"--\(flag)\" flag: give a positive number of seconds, or a duration such as 90s, 10m or 1h")
    }
    return n * unit
}

/// The registry host of an image reference (`docker.io` when it names none), as a registry
/// secret's server is matched to it.
func registryHost(ofReference reference: String) -> String {
    let first = reference.split(separator: "/", maxSplits: 1).first.map(String.init) ?? reference
    guard reference.contains("/"), first.contains(".") || first.contains(":") || first == "localhost" else { return "docker.io" }
    return first == "index.docker.io" ? "docker.io" : first
}

/// The registry host of a secret's server (`https://index.docker.io/v1/` is `docker.io`).
func registryHost(ofServer server: String) -> String {
    var s = Substring(server)
    if let scheme = s.range(of: "://") { s = s[scheme.upperBound...] }
    let host = String(s.split(separator: "/", maxSplits: 1).first ?? s)
    return host == "index.docker.io" ? "docker.io" : host
}

/// The flags of `buildrun`'s verbs: a code engine's, and slipctl's older ones kept where they do
/// not clash (`--git`, `--git-revision`, `--tag`, `--builder`, `--cluster-builder`, `--env`).
let buildRunFlags: Arguments.Spec = {
    var spec = Arguments.Spec(values: ["name", "namespace", "build", "image", "source", "commit", "context-dir", "dockerfile", "strategy",
                                       "registry-secret", "timeout", "wait-timeout", "git", "git-revision", "builder", "cluster-builder", "tag",
                                       "env", "output"],
                              booleans: ["wait", "follow"])
    spec.short = ["n": "name", "i": "image", "b": "build", "e": "env", "f": "follow", "w": "wait", "o": "output"]
    return spec
}()

/// What `buildrun submit` asks for, checked before any request: the params of buildrun/submit,
/// and the registry secret it names (checked against the namespace's secrets).
struct BuildRunSubmission {
    var params: BuildRunSpec
    var registrySecret: String?
    var waitTimeout: Double?

    init(_ a: Arguments, namespace: String) throws {
        params = BuildRunSpec(name: a.value("name"), namespace: namespace)
        // The image reference the run writes: `--image` (a code engine's), or `--tag` (slipctl's older flag).
        if let image = a.value("image"), let tag = a.value("tag"), image != tag {
            throw Arguments.Failure(message: "--image and --tag both name the output image and differ (\(image), \(tag)): give one")
        }
        let output = a.value("image") ?? a.value("tag")
        registrySecret = a.value("registry-secret")
        if let w = a.value("wait-timeout") {
            guard a.bool("wait") else { throw Arguments.Failure(message: "--wait-timeout goes with --wait") }
            waitTimeout = Double(try seconds(w, flag: "wait-timeout"))
        }
        if let build = a.value("build") {
            // A run of a build configuration builds what the image is configured with.
            let standalone = ["image", "tag", "source", "git", "commit", "git-revision", "context-dir", "dockerfile", "strategy", "registry-secret",
                              "timeout", "builder", "cluster-builder", "env"].filter { a.has($0) }
            if let flag = standalone.first {
                throw Arguments.Failure(message: "--\(flag) does not go with --build: a run of build configuration '\(build)' builds what the image '\(build)' is configured with "
                                        + "(change it with 'slipctl image patch \(build)'), or leave out --build to submit a run from --source")
            }
            params.image = build
            return
        }
        params.tag = output
        params.source = try Self.source(a)
        if let s = a.value("strategy") {
            // A code engine's older names: kaniko (dockerfile) and buildpacks-v3.
            let aliases = ["kaniko": BuildStrategy.dockerfile, "buildpacks-v3": .buildpacks]
            guard let strategy = BuildStrategy(rawValue: s) ?? aliases[s] else {
                throw Arguments.Failure(message: "invalid argument \"\(s)\" for \"--strategy\" flag: use \(BuildStrategy.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            params.strategy = strategy
        }
        if let dockerfile = a.value("dockerfile") {
            guard params.strategy != .buildpacks else { throw Arguments.Failure(message: "--dockerfile goes with --strategy dockerfile, not buildpacks") }
            params.strategy = .dockerfile
            params.dockerfile = dockerfile
        }
        let builders = ["builder", "cluster-builder"].filter { a.has($0) }
        guard builders.count <= 1 else { throw Arguments.Failure(message: "give one of --builder or --cluster-builder") }
        if let flag = builders.first {
            guard params.strategy != .dockerfile else { throw Arguments.Failure(message: "--\(flag) goes with --strategy buildpacks: a Dockerfile build has no builder") }
            params.builder = BuilderReference(kind: flag == "builder" ? .Builder : .ClusterBuilder, name: a.value(flag)!)
        }
        if let t = a.value("timeout") { params.timeout = try seconds(t, flag: "timeout") }
        if a.has("env") { params.env = try envObject(a.values("env")) }
        if registrySecret != nil, output == nil || output!.hasPrefix("oci:") {
            throw Arguments.Failure(message: "--registry-secret goes with --image REGISTRY/REPOSITORY[:TAG]: the secret is for the registry the image is pushed to")
        }
    }

    /// The source from `--source` (a git URL or a folder, by its shape) or `--git`, with
    /// `--commit` and `--context-dir`. Without `--commit`, a git source builds the remote's
    /// default branch (as kp and `image create --git` do).
    private static func source(_ a: Arguments) throws -> SourceSpec {
        let given = ["source", "git"].filter { a.has($0) }
        guard given.count == 1 else {
            throw Arguments.Failure(message: given.isEmpty
                ? "give --source (a git URL or a local folder) for what to build, or --build NAME to run an image's configuration "
                    + "(--image is the image reference the run writes; it no longer names a Slipway image: use --build)"
                : "give one of --source or --git")
        }
        if let commit = a.value("commit"), let revision = a.value("git-revision"), commit != revision {
            throw Arguments.Failure(message: "--commit and --git-revision both name the revision and differ: give one")
        }
        let revision = a.value("commit") ?? a.value("git-revision")
        var source: SourceSpec
        if let git = a.value("git") ?? a.value("source").flatMap({ isGitSource($0) ? $0 : nil }) {
            source = SourceSpec(git: .init(url: git, revision: revision))
        } else {
            let folder = a.value("source")!
            if revision != nil { throw Arguments.Failure(message: "--commit goes with a git source; \(folder) is a local folder") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: absolute(folder), isDirectory: &isDirectory), isDirectory.boolValue else {
                throw Arguments.Failure(message: "--source \(folder) is neither a git URL (https://, git@, ssh://, *.git) nor a folder on this machine")
            }
            source = SourceSpec(local: .init(path: absolute(folder)))
        }
        // The folder of the source the build starts from, as a code engine's context directory.
        if let dir = a.value("context-dir") {
            guard !dir.hasPrefix("/"), !dir.split(separator: "/").contains("..") else {
                throw Arguments.Failure(message: "--context-dir \(dir) must be a folder inside the source (relative, without ..)")
            }
            source.subPath = dir
        }
        return source
    }

    /// Refuses a `--registry-secret` that is not a registry secret of the namespace for the
    /// output image's registry (the engine picks a namespace's credentials by registry).
    func checkRegistrySecret(_ e: EngineSession) throws {
        guard let name = registrySecret, let output = params.tag else { return }
        let namespace = params.namespace ?? "default"
        let secrets = try e.call(SecretList.self, NamespaceParams(namespace: namespace, limit: 500)).secrets
        guard let secret = secrets.first(where: { $0.name == name }) else {
            throw Arguments.Failure(message: "registry secret \"\(name)\" not found in namespace \(namespace): create it with 'slipctl secret create \(name) --registry SERVER --registry-user USER'")
        }
        guard [.registry, .dockerConfig].contains(secret.type) else {
            throw Arguments.Failure(message: "secret \"\(name)\" is a \(secret.type.rawValue) secret, not a registry secret")
        }
        if secret.type == .registry, let server = secret.server, registryHost(ofServer: server) != registryHost(ofReference: output) {
            throw Arguments.Failure(message: "registry secret \"\(name)\" is for \(registryHost(ofServer: server)), and --image \(output) goes to \(registryHost(ofReference: output))")
        }
    }
}

func runBuildRun(_ verb: String, _ words: [String], _ engine: () throws -> EngineSession) throws -> Int32 {
    let a = try Arguments(words, spec: buildRunFlags)
    let namespace = a.value("namespace") ?? "default"
    let out = try Output(a.value("output"))
    switch verb {
    case "submit":
        try a.expect(0...0)
        let submission = try BuildRunSubmission(a, namespace: namespace)
        let e = try engine()
        try submission.checkRegistrySecret(e)
        let run = try e.call(BuildRunSubmit.self, submission.params)
        let name = run.name
        out.say("Submitting build run '\(name)' in namespace '\(namespace)'...")
        try out.resource(run)
        if a.bool("wait") {
            let done = try e.call(BuildRunWait.self, BuildRunWaitParams(name: name, namespace: namespace, timeout: submission.waitTimeout))
            switch done.status {
            case .SUCCESS: out.say("Build run '\(name)' succeeded")
            case .FAILURE: out.say("Build run '\(name)' failed: \(done.message ?? "")")
            default: out.say("Build run '\(name)' is still \(done.status.rawValue) after the wait timeout: 'slipctl buildrun get -n \(name)' shows it")
            }
            return done.status == .SUCCESS ? 0 : 1
        }
        out.say("Run 'slipctl buildrun get -n \(name)' to check the build run status.")
        return 0
    case "list":
        try a.expect(0...0)
        let runs = try engine().call(BuildRunList.self, NamespaceParams(namespace: namespace)).buildruns
        if out.structured != nil { try out.resource(runs); return 0 }
        guard !runs.isEmpty else { emit("No build runs found"); return 0 }
        // Image: the image the run wrote; Build: the build configuration (image) and its build number.
        emit(KpFormat.table(["Name", "Status", "Image", "Build", "Age"], runs.map {
            [$0.name, $0.status.rawValue, $0.output ?? "--", buildColumn($0), KpFormat.age($0.created)]
        }), terminator: "")
        return 0
    case "get":
        let r = try engine().call(BuildRunGet.self, BuildRunRef(name: try runName(a), namespace: namespace))
        if out.structured != nil { try out.resource(r); return 0 }
        let source = r.source.url.map { url in r.source.revision.map { "\(url) @ \($0)" } ?? url }
        let rows: [(String, String?)] = [("Name", r.name), ("Namespace", r.namespace), ("Build", r.standalone ? nil : buildColumn(r)), ("Image", r.output),
                                         ("Status", r.status.rawValue), ("Phase", r.phase), ("Reason", r.message), ("Source", source),
                                         ("Age", KpFormat.age(r.created)), ("Created", r.created)]
        for (label, value) in rows {
            emit("\(label + ":")".padding(toLength: 12, withPad: " ", startingAt: 0) + (value ?? "--"))
        }
        return 0
    case "logs":
        let e = try engine()
        let name = try runName(a)
        e.onLog = { line in if line.buildrun == name { emit(line.line) } }
        let r = try e.call(BuildRunLogs.self, BuildRunLogsParams(name: name, namespace: namespace, follow: a.bool("follow")))
        for line in r.lines ?? [] { emit(line.line) }
        // As `build logs`: a run that failed exits 1.
        return r.status == .FAILURE ? 1 : 0
    case "events":
        let events = try engine().call(BuildRunEvents.self, BuildRunEventsParams(name: try runName(a), namespace: namespace)).events
        emit(KpFormat.table(["Type", "Reason", "Age", "Message"], events.map { [$0.type.rawValue, $0.reason, KpFormat.age($0.lastTime), $0.message] }), terminator: "")
        return 0
    case "cancel":
        let name = try runName(a)
        let r = try engine().call(BuildRunCancel.self, BuildRunRef(name: name, namespace: namespace))
        out.say("Build run '\(name)' canceled")
        try out.resource(r)
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

/// A run's build configuration and build number (`app #3`), or `--` for a stand-alone run.
func buildColumn(_ r: BuildRunResult) -> String {
    guard !r.standalone, let image = r.image else { return "--" }
    return r.build.map { "\(image) #\($0)" } ?? image
}
