import SlipwayProtocol
import CSlipwayVersion
import Engine
import BuildRuntime
import Foundation

/// The settings of a Slipway process, from its command line. Every flag is one row of
/// `ServerOptions.flags`, which also says whether it is the engine's (one value per shared
/// engine, compared with what each client asks for) or the client's own.
public struct ServerOptions: Sendable, Equatable {
    public var stateDirectory: String
    public var maxConcurrentBuilds = 2
    public var maxMessageSize = 64 << 20
    public var allowedSourceRoots: [String]?
    /// Seconds between polls of followed git branches and tags; 0 turns polling off.
    public var gitPollInterval: Double = 60
    /// Registries reachable over plain HTTP besides loopback ones.
    public var insecureRegistries: [String] = []
    /// Hosts (`HOST[:PORT]`) a build's ADD may fetch from though they are the engine's host,
    /// loopback or link-local (`OutboundAddressPolicy`).
    public var addHostAllowList: [String] = []
    /// Cap on a source download and on what a source expands to.
    public var maxSourceBytes: Int64 = 8 << 30
    public var maxLayerBytes: Int64 = 10 << 30
    /// Cap on one build's log.
    public var maxLogBytes: Int64 = 1 << 30
    /// The most network a build may ask for, and the default.
    public var buildNetwork = BuildNetwork.public
    /// How a buildpacks build gets its /workspace.
    public var workspace = WorkspaceMode.overlay
    /// What each build's steps may use, and how that is enforced.
    public var stepLimits = StepLimits()
    /// Seconds an idle shared engine waits before it stops; 0 is forever.
    public var idleTimeout: Double = 600
    /// Seconds a system event is kept after it last happened.
    public var eventTTL: Double = 3600
    /// What each namespace may hold.
    public var quota = Quota()
    /// Seconds a stand-alone build run is kept after it succeeded, and after it failed.
    public var buildRunTTLSucceeded: Double = 3600
    public var buildRunTTLFailed: Double = 86400
    /// How layers are compressed on push, and at what level (nil: the algorithm's default).
    public var layerCompression = LayerCompression.gzip
    public var layerCompressionLevel: Int?
    /// A PEM file of CA certificates trusted for every registry, besides the system's.
    public var registryCAFile: String?
    /// The flags the command line named, so that a client is compared with the running engine
    /// only on what it asked for.
    public var given: Set<String> = []

    public static let usage = """
        usage: slipway [--state-dir DIR] [engine flags]        JSON-RPC on stdio, through the shared engine
               slipway --embedded [--state-dir DIR] [engine flags]   the engine in this process
               slipway engine [--state-dir DIR] [engine flags]       run the shared engine
               slipway engine status [--state-dir DIR]
               slipway engine stop [--now] [--state-dir DIR]
               slipway --version | --help

        engine flags: --max-concurrent-builds N  --max-message-size BYTES  --git-poll-interval SECONDS
                      --insecure-registry HOST[:PORT]...  --allow-source DIR...  --max-source-bytes BYTES
                      --allow-add-host HOST[:PORT]... (a loopback, link-local or engine host address ADD may fetch from)
                      --max-layer-bytes BYTES (K, M, G, T suffixes; the most one layer a build step makes may hold)
                      --max-log-bytes BYTES  --idle-timeout DURATION (600s; 0 is forever; 30s, 10m, 1h)
                      --event-ttl DURATION (60m: how long a system event is kept)
                      --quota images=N,buildruns=N,storage=BYTES (per namespace; 100, 100, unlimited)
                      --buildrun-ttl-succeeded DURATION (1h)  --buildrun-ttl-failed DURATION (24h)
                      --layer-compression gzip|zstd|none[:LEVEL] (gzip:6; how layers are pushed)
                      --registry-ca FILE (PEM CA certificates trusted for registries, besides the system's)
                      --build-network none|public (public: the most network a build may ask for, and the default)
                      --workspace overlay|unpack (overlay: a buildpacks build's /workspace is an overlay of the
                        source snapshot's shared trees where overlayfs can be mounted; unpack: always unpacked)
                      --step-pids-limit N (4096: processes a build's steps may have at once)
                      --step-memory BYTES (half of the machine's memory: what a build's steps may use,
                        tmpfs included, and the most each tmpfs of a step holds; K, M, G, T suffixes)
                      --step-limits auto|rlimit (auto: a cgroup v1 per build where the engine can make one,
                        else rlimits; rlimit: rlimits only)

        Serves JSON-RPC 2.0 on stdin/stdout (newline-delimited JSON or LSP Content-Length framing,
        detected from the first bytes). One engine serves a state directory: --state-dir, else
        $SLIPWAY_HOME, else $XDG_STATE_HOME/slipway, else ~/.local/state/slipway.
        """

    /// What a flag belongs to: one value for the shared engine, or each client's own.
    public enum Scope: Sendable { case engine, client }

    /// One command-line flag: its name, its scope, how it reads its value, and how its value
    /// is shown (to compare a client's with the engine's).
    public struct Flag: Sendable {
        public let name: String
        public let scope: Scope
        let hint: String
        let apply: @Sendable (inout ServerOptions, String) -> Bool
        let shown: @Sendable (ServerOptions) -> String
    }

    /// Every flag, in one table: a flag that is not here is not accepted.
    public static let flags: [Flag] = [
        Flag(name: "--state-dir", scope: .client, hint: "a directory", apply: { o, v in o.stateDirectory = v; return !v.isEmpty }, shown: { $0.stateDirectory }),
        Flag(name: "--max-concurrent-builds", scope: .engine, hint: "a positive number",
             apply: { o, v in guard let n = Int(v), n > 0 else { return false }; o.maxConcurrentBuilds = n; return true },
             shown: { String($0.maxConcurrentBuilds) }),
        Flag(name: "--max-message-size", scope: .engine, hint: "a number of bytes (at least 1024)",
             apply: { o, v in guard let n = Int(v), n >= 1024 else { return false }; o.maxMessageSize = n; return true },
             shown: { String($0.maxMessageSize) }),
        Flag(name: "--git-poll-interval", scope: .engine, hint: "a number of seconds (0 turns polling off)",
             apply: { o, v in guard let n = Double(v), n >= 0 else { return false }; o.gitPollInterval = n; return true },
             shown: { String($0.gitPollInterval) }),
        Flag(name: "--insecure-registry", scope: .engine, hint: "HOST[:PORT]",
             apply: { o, v in guard !v.isEmpty, !v.contains("/") else { return false }; o.insecureRegistries.append(v); return true },
             shown: { $0.insecureRegistries.joined(separator: ",") }),
        Flag(name: "--allow-add-host", scope: .engine, hint: "HOST[:PORT] (an address, [IPv6]:PORT or a host name)",
             apply: { o, v in guard OutboundAddressPolicy.AllowedHost(parsing: v) != nil else { return false }; o.addHostAllowList.append(v); return true },
             shown: { $0.addHostAllowList.joined(separator: ",") }),
        Flag(name: "--allow-source", scope: .engine, hint: "an absolute directory",
             apply: { o, v in guard v.hasPrefix("/") else { return false }; o.allowedSourceRoots = (o.allowedSourceRoots ?? []) + [v]; return true },
             shown: { $0.allowedSourceRoots?.joined(separator: ",") ?? "" }),
        Flag(name: "--max-layer-bytes", scope: .engine, hint: "a number of bytes (K, M, G, T suffixes; at least 1M)",
             apply: { o, v in guard let n = Quota.number(v, bytes: true), n >= 1 << 20 else { return false }; o.maxLayerBytes = n; return true },
             shown: { String($0.maxLayerBytes) }),
        Flag(name: "--max-source-bytes", scope: .engine, hint: "a number of bytes (at least 1024)",
             apply: { o, v in guard let n = Int64(v), n >= 1024 else { return false }; o.maxSourceBytes = n; return true },
             shown: { String($0.maxSourceBytes) }),
        Flag(name: "--build-network", scope: .engine, hint: "none or public",
             apply: { o, v in guard let n = BuildNetwork(rawValue: v) else { return false }; o.buildNetwork = n; return true },
             shown: { $0.buildNetwork.rawValue }),
        Flag(name: "--workspace", scope: .engine, hint: "overlay or unpack",
             apply: { o, v in guard let m = WorkspaceMode(rawValue: v) else { return false }; o.workspace = m; return true },
             shown: { $0.workspace.rawValue }),
        Flag(name: "--step-pids-limit", scope: .engine, hint: "a number of processes (at least \(StepLimits.minimumPids))",
             apply: { o, v in guard let n = Int(v), n >= StepLimits.minimumPids else { return false }; o.stepLimits.pids = n; return true },
             shown: { String($0.stepLimits.pids) }),
        Flag(name: "--step-memory", scope: .engine, hint: "a number of bytes, at least 16M (K, M, G, T suffixes)",
             apply: { o, v in guard let n = StepLimits.bytes(v), n >= StepLimits.minimumMemoryBytes else { return false }; o.stepLimits.memoryBytes = n; return true },
             shown: { String($0.stepLimits.memoryBytes) }),
        Flag(name: "--step-limits", scope: .engine, hint: "auto or rlimit",
             apply: { o, v in guard let e = StepLimits.Enforcement(rawValue: v) else { return false }; o.stepLimits.enforcement = e; return true },
             shown: { $0.stepLimits.enforcement.rawValue }),
        Flag(name: "--max-log-bytes", scope: .engine, hint: "a number of bytes (at least 1024)",
             apply: { o, v in guard let n = Int64(v), n >= 1024 else { return false }; o.maxLogBytes = n; return true },
             shown: { String($0.maxLogBytes) }),
        Flag(name: "--idle-timeout", scope: .engine, hint: "a duration such as 600, 30s, 10m or 1h (0 is forever)",
             apply: { o, v in guard let d = parseDuration(v) else { return false }; o.idleTimeout = d; return true },
             shown: { String($0.idleTimeout) }),
        Flag(name: "--quota", scope: .engine, hint: "RESOURCE=VALUE,… with images, buildruns or storage, and a number or 'unlimited'",
             apply: { o, v in guard case .success(let q) = Quota.parse(v, over: o.quota) else { return false }; o.quota = q; return true },
             shown: { $0.quota.text }),
        Flag(name: "--buildrun-ttl-succeeded", scope: .engine, hint: "a positive duration such as 1h or 90s",
             apply: { o, v in guard let d = parseDuration(v), d > 0 else { return false }; o.buildRunTTLSucceeded = d; return true },
             shown: { String($0.buildRunTTLSucceeded) }),
        Flag(name: "--buildrun-ttl-failed", scope: .engine, hint: "a positive duration such as 24h or 90s",
             apply: { o, v in guard let d = parseDuration(v), d > 0 else { return false }; o.buildRunTTLFailed = d; return true },
             shown: { String($0.buildRunTTLFailed) }),
        Flag(name: "--layer-compression", scope: .engine, hint: "gzip, zstd or none, optionally with :LEVEL (gzip 1-9, zstd 1-19)",
             apply: { o, v in
                 let parts = v.split(separator: ":", maxSplits: 1).map(String.init)
                 guard let algorithm = LayerCompression(rawValue: parts.first ?? "") else { return false }
                 let level = parts.count == 2 ? Int(parts[1]) : nil
                 if parts.count == 2 { guard let level, algorithm.levels.contains(level) else { return false } }
                 o.layerCompression = algorithm
                 o.layerCompressionLevel = level
                 return true
             },
             shown: { $0.layerCompression.rawValue + ($0.layerCompressionLevel.map { ":\($0)" } ?? "") }),
        Flag(name: "--registry-ca", scope: .engine, hint: "an absolute path to a readable PEM file of CA certificates",
             apply: { o, v in
                 guard v.hasPrefix("/"), let text = try? String(contentsOfFile: v, encoding: .utf8), text.contains("-----BEGIN CERTIFICATE-----") else { return false }  // false: the flag is refused with its hint
                 o.registryCAFile = v
                 return true
             },
             shown: { $0.registryCAFile ?? "" }),
        Flag(name: "--event-ttl", scope: .engine, hint: "a positive duration such as 60m or 90s",
             apply: { o, v in guard let d = parseDuration(v), d > 0 else { return false }; o.eventTTL = d; return true },
             shown: { String($0.eventTTL) }),
    ]

    /// What the command line asks for.
    public enum Mode: Equatable, Sendable {
        /// The engine in this process, serving stdin/stdout (`--embedded`, or no subcommand).
        case embedded
        /// The shared engine, serving its socket (`engine`).
        case engine
        /// Ask the running engine something (`engine status`, `engine stop`).
        case control(EngineCommand)
    }

    /// What `slipway engine status|stop` asks of the running engine. The hello carries it as
    /// `command` (and `now`); the engine reads it back into this type once.
    public enum EngineCommand: Equatable, Sendable {
        /// Print the running engine's state.
        case status
        /// Stop the running engine, now (canceling its builds) or after its builds.
        case stop(now: Bool)

        /// The hello's `command` word.
        var word: String {
            switch self {
            case .status: return "status"
            case .stop: return "stop"
            }
        }

        var now: Bool { if case .stop(let now) = self { return now }; return false }

        /// The command a hello names, or nil when it names none (a client to serve).
        init?(word: String?, now: Bool) {
            switch word {
            case "status": self = .status
            case "stop": self = .stop(now: now)
            default: return nil
            }
        }
    }

    public enum ParseResult: Equatable { case run(Mode, ServerOptions), print(String), error(String) }

    public static func parse(_ args: [String], environment: [String: String]) -> ParseResult {
        var o = ServerOptions(stateDirectory: "")
        var mode = Mode.embedded
        var rest = args[...]
        if rest.first == "engine" {
            rest = rest.dropFirst()
            mode = .engine
            if rest.first == "status" { rest = rest.dropFirst(); mode = .control(.status) }
            else if rest.first == "stop" { rest = rest.dropFirst(); mode = .control(.stop(now: false)) }
        }
        let remaining = Array(rest)
        var i = 0
        while i < remaining.count {
            let a = remaining[i]
            switch a {
            case "--help", "-h": return .print(usage)
            case "--version": return .print("slipway \(SlipwayVersion.current)")
            case "--embedded", "serve", "--stdio": break
            case "--now":
                guard case .control(.stop) = mode else { return .error("--now belongs to 'slipway engine stop'\n\n\(usage)") }
                mode = .control(.stop(now: true))
            default:
                guard let flag = flags.first(where: { $0.name == a }) else { return .error("unknown argument '\(a)'\n\n\(usage)") }
                i += 1
                guard i < remaining.count, flag.apply(&o, remaining[i]) else { return .error("\(a) needs \(flag.hint)") }
                o.given.insert(a)
            }
            i += 1
        }
        if !o.given.contains("--state-dir") { o.stateDirectory = defaultStateDirectory(environment) }
        return .run(mode, o)
    }

    /// Each engine flag this command line gave whose value differs from the running `engine`'s,
    /// as a warning for the client.
    public func differences(from engine: ServerOptions) -> [String] {
        Self.flags.filter { $0.scope == .engine && given.contains($0.name) }.compactMap { f in
            let mine = f.shown(self), theirs = f.shown(engine)
            return mine == theirs ? nil : "\(f.name) is \(theirs.isEmpty ? "unset" : theirs) in the running engine, not \(mine) as asked; stop it (slipway engine stop) to change it"
        }
    }

    /// Seconds from `600`, `30s`, `10m`, `1h` or `1d`.
    static func parseDuration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = text.last, let unit = units[last], let n = Double(text.dropLast()), n >= 0 { return n * unit }
        if let n = Double(text), n >= 0 { return n }
        return nil
    }

    static func defaultStateDirectory(_ env: [String: String]) -> String {
        if let h = env["SLIPWAY_HOME"], !h.isEmpty { return h }
        if let x = env["XDG_STATE_HOME"], !x.isEmpty { return x + "/slipway" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.local/state/slipway"
    }
}

/// The version reported by `--version` and `initialize`, and compared at every handshake: the
/// one in CSlipwayVersion, which the forwarder is built with too.
public enum SlipwayVersion {
    public static let current = String(cString: slipway_version())
}
