import Foundation

/// An arbitrary value inside CNB metadata (a layer's `[metadata]`, a project's source), as JSON
/// in labels and as TOML in the files buildpacks read.
public enum MetadataValue: Codable, Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case array([MetadataValue])
    case table([String: MetadataValue])

    public init(_ toml: TOMLValue) {
        switch toml {
        case .string(let s): self = .string(s)
        case .integer(let i): self = .integer(i)
        case .float(let d): self = d.isFinite ? .float(d) : .string(String(describing: d))
        case .boolean(let b): self = .bool(b)
        case .datetime(let d): self = .string(d)
        case .array(let a): self = .array(a.map(MetadataValue.init))
        case .table(let t): self = .table(Dictionary(uniqueKeysWithValues: t.entries.map { ($0.key, MetadataValue($0.value)) }))
        }
    }

    public var toml: TOMLValue {
        switch self {
        case .string(let s): return .string(s)
        case .integer(let i): return .integer(i)
        case .float(let d): return .float(d)
        case .bool(let b): return .boolean(b)
        case .array(let a): return .array(a.map(\.toml))
        case .table(let t): return .table(TOMLTable(t.sorted { $0.key < $1.key }.map { ($0.key, $0.value.toml) }))
        }
    }

    public static func table(_ t: TOMLTable) -> [String: MetadataValue] {
        Dictionary(uniqueKeysWithValues: t.entries.map { ($0.key, MetadataValue($0.value)) })
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Each try? asks whether the value is of one JSON type; when it is not, the next type is
        // tried, and a value of none of them fails as a table below.
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .float(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([MetadataValue].self) { self = .array(a) }
        else { self = .table(try c.decode([String: MetadataValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .integer(let i): try c.encode(i)
        case .float(let d): try c.encode(d)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .table(let t): try c.encode(t)
        }
    }
}

/// The labels an exported image carries, as the platform spec's "Labels" section lists them.
public enum ImageLabels {
    public static let lifecycleMetadata = "io.buildpacks.lifecycle.metadata"
    public static let buildMetadata = "io.buildpacks.build.metadata"
    public static let projectMetadata = "io.buildpacks.project.metadata"
    public static let rebasable = "io.buildpacks.rebasable"
    public static let stackID = "io.buildpacks.stack.id"

    /// JSON with sorted keys, so that the same build gives the same label.
    public static func encode(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    /// The label `text` as `T`; nil when it is missing or not valid, which callers treat as no
    /// metadata (no layer to reuse; a rebase says the image has no run-image metadata).
    public static func decode<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        text.flatMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }  // not valid: as if missing (see above)
    }
}

/// `io.buildpacks.lifecycle.metadata`: which layers are the app, config and launcher, each
/// buildpack's layers with their metadata, and the run image the app sits on.
public struct LifecycleMetadata: Codable, Sendable, Equatable {
    public struct LayerSHA: Codable, Sendable, Equatable {
        public var sha: String
        public init(sha: String) { self.sha = sha }
    }

    /// One layer of a buildpack: its diffID, its `[metadata]`, and its flags.
    public struct LayerInfo: Codable, Sendable, Equatable {
        public var sha: String
        public var data: [String: MetadataValue]?
        public var launch: Bool?
        public var build: Bool?
        public var cache: Bool?
        public init(sha: String, data: [String: MetadataValue]?, launch: Bool?) {
            self.sha = sha
            self.data = data
            self.launch = launch
        }
    }

    public struct BuildpackLayers: Codable, Sendable, Equatable {
        public var key: String
        public var version: String
        public var layers: [String: LayerInfo]
        public init(key: String, version: String, layers: [String: LayerInfo]) {
            self.key = key
            self.version = version
            self.layers = layers
        }
    }

    /// The run image: its top layer's diffID, a reference that identifies it (`repo@digest`, or
    /// an image ID), and the name it was asked for by.
    public struct RunImage: Codable, Sendable, Equatable {
        public var topLayer: String
        public var reference: String
        public var image: String
        public init(topLayer: String, reference: String, image: String) {
            self.topLayer = topLayer
            self.reference = reference
            self.image = image
        }
    }

    public struct Stack: Codable, Sendable, Equatable {
        public struct RunImageName: Codable, Sendable, Equatable { public var image: String }
        public var runImage: RunImageName
        public init(runImage: String) { self.runImage = RunImageName(image: runImage) }
    }

    public var app: [LayerSHA]
    public var config: LayerSHA
    public var launcher: LayerSHA
    public var buildpacks: [BuildpackLayers]
    public var runImage: RunImage
    public var stack: Stack?
    /// The image's launch SBOM layer (`/layers/sbom/launch`), when a buildpack wrote one.
    public var sbom: LayerSHA?

    public init(app: [LayerSHA], config: LayerSHA, launcher: LayerSHA, buildpacks: [BuildpackLayers], runImage: RunImage, stack: Stack?) {
        self.app = app
        self.config = config
        self.launcher = launcher
        self.buildpacks = buildpacks
        self.runImage = runImage
        self.stack = stack
    }

    /// How a run image is referred to: by repository and digest when it came from a registry,
    /// else by its image ID (the digest of its configuration).
    public static func reference(of run: OCIImage, named name: String) -> String {
        // A name that is no registry reference (a local image) is referred to by its image ID.
        if case .registry(let host, let repo, _, _)? = try? ImageReference.parse(name, field: "runImage") {
            return "\(host)/\(repo)@\(run.manifestDigest)"
        }
        return run.manifest.config.digest.string
    }
}

/// `io.buildpacks.build.metadata`: the buildpacks that built the image, its processes, and the
/// launcher in it.
public struct BuildMetadata: Codable, Sendable, Equatable {
    public struct Buildpack: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var api: String
        public var homepage: String?
    }

    public struct Process: Codable, Sendable, Equatable {
        public var type: String
        public var command: [String]
        public var args: [String]
        public var direct: Bool
        public var buildpackID: String
        public var workingDirectory: String?

        enum CodingKeys: String, CodingKey { case type, command, args, direct, buildpackID, workingDirectory = "working-dir" }
    }

    /// The launcher: its version and where its source is.
    public struct Launcher: Codable, Sendable, Equatable {
        public struct Source: Codable, Sendable, Equatable {
            public struct Git: Codable, Sendable, Equatable {
                public var repository: String
                public var commit: String
            }
            public var git: Git
        }
        public var version: String
        public var source: Source
    }

    public var buildpacks: [Buildpack]
    public var processes: [Process]
    public var launcher: Launcher
    public var bom: [MetadataValue]

    public init(buildpacks: [BuildpackDescriptor], processes: [LaunchProcess], launcherVersion: String) {
        self.buildpacks = buildpacks.map { Buildpack(id: $0.id, version: $0.version, api: $0.api, homepage: $0.homepage) }
        self.processes = processes.map {
            Process(type: $0.type, command: $0.command, args: $0.args, direct: $0.direct, buildpackID: $0.buildpackID, workingDirectory: $0.workingDirectory)
        }
        launcher = Launcher(version: launcherVersion, source: .init(git: .init(repository: "https://github.com/slipway/slipway", commit: "")))
        bom = []
    }
}

/// `<layers>/project-metadata.toml` and the `io.buildpacks.project.metadata` label: where the
/// app's source came from, as a platform describes it (`type`: git, blob or local; `version`:
/// what identifies this revision of it; `metadata`: where it is).
public struct ProjectMetadata: Codable, Sendable, Equatable {
    public struct Source: Codable, Sendable, Equatable {
        public var type: String
        public var version: [String: MetadataValue]
        public var metadata: [String: MetadataValue]
        public init(type: String, version: [String: MetadataValue], metadata: [String: MetadataValue]) {
            self.type = type
            self.version = version
            self.metadata = metadata
        }
    }

    public var source: Source?

    public init(source: Source?) { self.source = source }

    public var toml: String {
        var t = TOMLTable()
        if let s = source {
            t["source"] = .table(TOMLTable([("type", .string(s.type)),
                                            ("version", .table(TOMLTable(s.version.sorted { $0.key < $1.key }.map { ($0.key, $0.value.toml) }))),
                                            ("metadata", .table(TOMLTable(s.metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value.toml) })))]))
        }
        return TOMLWriter.write(t)
    }
}
