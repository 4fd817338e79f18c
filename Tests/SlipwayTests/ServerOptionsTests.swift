import Testing
@testable import SlipwayServer

@Suite struct ServerOptionsTests {
    @Test func flagsAndStateDirectoryDefaults() {
        let parsed = ServerOptions.parse(["serve", "--stdio", "--state-dir", "/s", "--git-poll-interval", "5", "--insecure-registry", "reg.local:5000",
                                          "--insecure-registry", "other:80", "--max-concurrent-builds", "3"], environment: [:])
        guard case .serve(let o) = parsed else { Issue.record("expected serve, got \(parsed)"); return }
        #expect(o.stateDirectory == "/s")
        #expect(o.gitPollInterval == 5)
        #expect(o.insecureRegistries == ["reg.local:5000", "other:80"])
        #expect(o.maxConcurrentBuilds == 3)
        guard case .serve(let d) = ServerOptions.parse([], environment: ["XDG_STATE_HOME": "/x", "HOME": "/h"]) else { return }
        #expect(d.stateDirectory == "/x/slipway")
        guard case .serve(let h) = ServerOptions.parse([], environment: ["SLIPWAY_HOME": "/home-override", "XDG_STATE_HOME": "/x"]) else { return }
        #expect(h.stateDirectory == "/home-override")
        guard case .serve(let f) = ServerOptions.parse([], environment: ["HOME": "/h"]) else { return }
        #expect(f.stateDirectory == "/h/.local/state/slipway")
    }

    @Test(arguments: [["--state-dir"], ["--git-poll-interval", "-1"], ["--insecure-registry", "http://x/y"], ["--bogus"], ["--max-concurrent-builds", "0"]])
    func badFlagsAreErrors(_ args: [String]) {
        guard case .error = ServerOptions.parse(args, environment: [:]) else {
            Issue.record("\(args) should be refused")
            return
        }
    }
}
