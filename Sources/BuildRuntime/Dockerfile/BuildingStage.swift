import Foundation

/// A layer of a stage being built: its blob (in `store`) and, once a RUN needs it, its folder.
struct StageLayer: Sendable {
    var descriptor: OCIDescriptor
    var diffID: Digest
    var store: ContentStore
    /// A folder under `layersRoot` holding it (as an overlay lower); nil for base layers,
    /// which live flattened in the stage's `baseFolder`.
    var folder: String?
}

/// A stage as it is built: its image config, its layers, the ARGs in scope and its cache key so
/// far. The frontend changes its config and key; the solver adds its layers.
struct BuildingStage: Sendable {
    var config: OCIImageConfig
    var baseLayers: [StageLayer] = []
    var layers: [StageLayer] = []
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

    /// The PATH of a stage from scratch, and of a step whose image sets none.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The environment a RUN sees: the image's ENV, the ARGs in scope, and a PATH.
    var runEnvironment: [String: String] {
        var env = args
        for (k, v) in self.env { env[k] = v }
        if env["PATH"] == nil { env["PATH"] = Self.defaultPath }
        return env
    }
}
