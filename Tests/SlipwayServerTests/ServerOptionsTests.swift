import BuildRuntime
import Foundation
import Testing
@testable import SlipwayServer
import TestSupport

@Suite struct ServerOptionsTests {
    @Test func flagsAndStateDirectoryDefaults() {
        let parsed = ServerOptions.parse(["serve", "--stdio", "--state-dir", "/s", "--git-poll-interval", "5", "--insecure-registry", "reg.local:5000",
                                          "--insecure-registry", "other:80", "--max-concurrent-builds", "3",
                                          "--allow-add-host", "127.0.0.1:8080", "--allow-add-host", "[::1]:8080", "--allow-add-host", "mirror.lan",
                                          "--max-layer-bytes", "16M"], environment: [:])
        guard case .run(.embedded, let o) = parsed else { Issue.record("expected embedded, got \(parsed)"); return }
        #expect(o.stateDirectory == "/s")
        #expect(o.gitPollInterval == 5)
        #expect(o.insecureRegistries == ["reg.local:5000", "other:80"])
        #expect(o.addHostAllowList == ["127.0.0.1:8080", "[::1]:8080", "mirror.lan"])
        #expect(o.maxConcurrentBuilds == 3)
        #expect(o.maxLayerBytes == 16 << 20)
        #expect(o.layerCompression == .gzip && o.layerCompressionLevel == nil)
        guard case .run(_, let z) = ServerOptions.parse(["--layer-compression", "zstd:9"], environment: ["HOME": "/h"]) else { return }
        #expect(z.layerCompression == .zstd && z.layerCompressionLevel == 9)
        guard case .run(_, let d) = ServerOptions.parse([], environment: ["XDG_STATE_HOME": "/x", "HOME": "/h"]) else { return }
        #expect(d.stateDirectory == "/x/slipway")
        guard case .run(_, let h) = ServerOptions.parse([], environment: ["SLIPWAY_HOME": "/home-override", "XDG_STATE_HOME": "/x"]) else { return }
        #expect(h.stateDirectory == "/home-override")
        guard case .run(_, let f) = ServerOptions.parse([], environment: ["HOME": "/h"]) else { return }
        #expect(f.stateDirectory == "/h/.local/state/slipway")
    }

    @Test(arguments: [["--state-dir"], ["--git-poll-interval", "-1"], ["--insecure-registry", "http://x/y"], ["--allow-add-host", "http://x/y"], ["--allow-add-host", "x:0"], ["--bogus"], ["--max-concurrent-builds", "0"],
                      ["--max-layer-bytes", "1000"], ["--max-layer-bytes", "10X"],
                      ["--layer-compression", "lz4"], ["--layer-compression", "gzip:10"], ["--layer-compression", "zstd:x"],
                      ["--registry-ca", "relative.pem"], ["--registry-ca", "/no/such/ca.pem"], ["--registry-ca", "/etc/hostname"],
                      ["--step-pids-limit", "0"], ["--step-pids-limit", "lots"], ["--step-memory", "1M"], ["--step-memory", "64Q"], ["--step-memory", "99999999999T"],
                      ["--step-limits", "cgroup2"]])
    func badFlagsAreErrors(_ args: [String]) {
        guard case .error = ServerOptions.parse(args, environment: [:]) else {
            Issue.record("\(args) should be refused")
            return
        }
    }

    /// Step limits: 4096 processes and half of the machine's memory unless given; memory with
    /// K, M, G, T suffixes; rlimits only when asked.
    @Test func stepLimitFlags() {
        let defaults = parsedOptions([])
        #expect(defaults.stepLimits.pids == 4096 && defaults.stepLimits.enforcement == .auto)
        let halfOfMemory = Int64(sysconf(Int32(_SC_PHYS_PAGES))) * Int64(sysconf(Int32(_SC_PAGESIZE))) / 2
        #expect(defaults.stepLimits.memoryBytes == halfOfMemory)
        let o = parsedOptions(["--step-pids-limit", "64", "--step-memory", "512M", "--step-limits", "rlimit"])
        #expect(o.stepLimits == StepLimits(pids: 64, memoryBytes: 512 << 20, enforcement: .rlimit))
        for (text, bytes) in [("2G", Int64(2) << 30), ("16777216", 16 << 20), ("1T", 1 << 40), ("65536K", 64 << 20)] {
            #expect(parsedOptions(["--step-memory", text]).stepLimits.memoryBytes == bytes, "\(text)")
        }
    }

    @Test func modesAndDurations() {
        #expect(ServerOptions.parse(["engine", "--state-dir", "/s"], environment: [:]) == .run(.engine, parsedOptions(["--state-dir", "/s"])))
        #expect(ServerOptions.parse(["engine", "status", "--state-dir", "/s"], environment: [:]) == .run(.control(.status), parsedOptions(["--state-dir", "/s"])))
        #expect(ServerOptions.parse(["engine", "stop", "--now", "--state-dir", "/s"], environment: [:]) == .run(.control(.stop(now: true)), parsedOptions(["--state-dir", "/s"])))
        guard case .run(.control(.stop(now: false)), let home) = ServerOptions.parse(["engine", "stop"], environment: ["SLIPWAY_HOME": "/s"]) else {
            Issue.record("engine stop should parse"); return
        }
        #expect(home.stateDirectory == "/s" && home.given.isEmpty)
        guard case .error = ServerOptions.parse(["--now"], environment: [:]) else { Issue.record("--now outside 'engine stop' should be refused"); return }
        for (text, seconds) in [("600", 600.0), ("30s", 30), ("10m", 600), ("1h", 3600), ("0", 0), ("1.5s", 1.5)] {
            #expect(parsedOptions(["--idle-timeout", text]).idleTimeout == seconds, "\(text)")
        }
        for bad in ["-1", "ten", "5x", ""] {
            guard case .error = ServerOptions.parse(["--idle-timeout", bad], environment: [:]) else { Issue.record("--idle-timeout \(bad) should be refused"); continue }
        }
    }

    /// A client is compared with the running engine only on the engine flags it named: one
    /// warning for each that differs, none for the flags it left out or for its own flags.
    @Test func differencesNameOnlyTheEngineFlagsAClientGave() {
        let engine = parsedOptions(["--state-dir", "/a", "--max-concurrent-builds", "4", "--git-poll-interval", "5"])
        #expect(parsedOptions(["--state-dir", "/b"]).differences(from: engine).isEmpty)
        #expect(parsedOptions(["--max-concurrent-builds", "4"]).differences(from: engine).isEmpty)
        let warnings = parsedOptions(["--max-concurrent-builds", "2", "--insecure-registry", "r:5000", "--git-poll-interval", "5"]).differences(from: engine)
        #expect(warnings.count == 2)
        #expect(warnings.contains { $0.hasPrefix("--max-concurrent-builds is 4 in the running engine, not 2") && $0.contains("slipway engine stop") })
        #expect(warnings.contains { $0.hasPrefix("--insecure-registry is unset in the running engine, not r:5000") })
    }

    /// Every flag of the engine is in the one table with the engine's scope; the state directory
    /// is the only client flag.
    @Test func theFlagTableSaysWhoseEachFlagIs() {
        let engineFlags = Set(ServerOptions.flags.filter { $0.scope == .engine }.map(\.name))
        #expect(engineFlags == ["--max-concurrent-builds", "--max-message-size", "--git-poll-interval", "--insecure-registry", "--allow-add-host", "--allow-source",
                                "--max-source-bytes", "--max-layer-bytes", "--max-log-bytes", "--idle-timeout", "--event-ttl", "--quota",
                                "--buildrun-ttl-succeeded", "--buildrun-ttl-failed", "--layer-compression", "--registry-ca", "--build-network", "--workspace",
                                "--step-pids-limit", "--step-memory", "--step-limits"])
        #expect(ServerOptions.flags.filter { $0.scope == .client }.map(\.name) == ["--state-dir"])
        for flag in ServerOptions.flags { #expect(ServerOptions.usage.contains(flag.name), "\(flag.name) is missing from the usage text") }
    }

    private func parsedOptions(_ args: [String]) -> ServerOptions {
        guard case .run(_, let o) = ServerOptions.parse(args, environment: [:]) else { return ServerOptions(stateDirectory: "?") }
        return o
    }
}
