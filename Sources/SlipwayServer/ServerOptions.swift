import Foundation

/// The `slipway` command line.
public struct ServerOptions: Sendable, Equatable {
    public var stateDirectory: String
    public var maxConcurrentBuilds = 2
    public var maxMessageSize = 64 << 20
    public var allowedSourceRoots: [String]?
    /// Seconds between polls of followed git branches and tags; 0 turns polling off.
    public var gitPollInterval: Double = 60
    /// Registries reachable over plain HTTP besides loopback ones.
    public var insecureRegistries: [String] = []
    /// Cap on a source download and on what a source expands to.
    public var maxSourceBytes: Int64 = 8 << 30
    /// Cap on one build's log.
    public var maxLogBytes: Int64 = 1 << 30

    public static let usage = """
        usage: slipway [serve --stdio] [--state-dir DIR] [--max-concurrent-builds N] [--max-message-size BYTES]
                       [--git-poll-interval SECONDS] [--insecure-registry HOST[:PORT]]... [--allow-source DIR]...
                       [--max-source-bytes BYTES] [--max-log-bytes BYTES]
               slipway --version | --help

        Serves JSON-RPC 2.0 on stdin/stdout (newline-delimited JSON or LSP Content-Length framing,
        detected from the first byte). State lives in --state-dir, else $SLIPWAY_HOME, else
        $XDG_STATE_HOME/slipway, else ~/.local/state/slipway.
        """

    /// What the command line asks for.
    public enum ParseResult: Equatable { case serve(ServerOptions), print(String), error(String) }

    public static func parse(_ args: [String], environment: [String: String]) -> ParseResult {
        var stateDir: String?
        var o = ServerOptions(stateDirectory: "")
        var i = 0
        func value() -> String? {
            i += 1
            return i < args.count ? args[i] : nil
        }
        /// The next argument as a byte count of at least 1 KiB.
        func bytes() -> Int64? { value().flatMap { Int64($0) }.flatMap { $0 >= 1024 ? $0 : nil } }
        while i < args.count {
            let a = args[i]
            switch a {
            case "serve", "--stdio": break
            case "--help", "-h": return .print(usage)
            case "--version": return .print("slipway \(SlipwayVersion.current)")
            case "--state-dir":
                guard let v = value() else { return .error("--state-dir needs a directory") }
                stateDir = v
            case "--max-concurrent-builds":
                guard let v = value(), let n = Int(v), n > 0 else { return .error("--max-concurrent-builds needs a positive number") }
                o.maxConcurrentBuilds = n
            case "--max-message-size":
                guard let n = bytes() else { return .error("--max-message-size needs a number of bytes (at least 1024)") }
                o.maxMessageSize = Int(n)
            case "--git-poll-interval":
                guard let v = value(), let n = Double(v), n >= 0 else { return .error("--git-poll-interval needs a number of seconds (0 turns polling off)") }
                o.gitPollInterval = n
            case "--insecure-registry":
                guard let v = value(), !v.isEmpty, !v.contains("/") else { return .error("--insecure-registry needs HOST[:PORT]") }
                o.insecureRegistries.append(v)
            case "--max-source-bytes", "--max-log-bytes":
                guard let n = bytes() else { return .error("\(a) needs a number of bytes (at least 1024)") }
                if a == "--max-source-bytes" { o.maxSourceBytes = n } else { o.maxLogBytes = n }
            case "--allow-source":
                guard let v = value(), v.hasPrefix("/") else { return .error("--allow-source needs an absolute directory") }
                o.allowedSourceRoots = (o.allowedSourceRoots ?? []) + [v]
            default:
                return .error("unknown argument '\(a)'\n\n\(usage)")
            }
            i += 1
        }
        o.stateDirectory = stateDir ?? defaultStateDirectory(environment)
        return .serve(o)
    }

    static func defaultStateDirectory(_ env: [String: String]) -> String {
        if let h = env["SLIPWAY_HOME"], !h.isEmpty { return h }
        if let x = env["XDG_STATE_HOME"], !x.isEmpty { return x + "/slipway" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.local/state/slipway"
    }
}

/// The version reported by `--version` and `initialize`.
public enum SlipwayVersion {
    public static let current = "0.1.0"
}
