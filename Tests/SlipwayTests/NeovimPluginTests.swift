import Foundation
import JSONRPC
import Testing
import TestSupport

/// The Neovim plugin (clients/nvim), run headless by Debian's `neovim` against a real slipway
/// (Fixtures/nvim_plugin_check.lua): without a builder it says how to set one; it builds the
/// open folder (state, statusline, the logs buffer labelled by phase, :SlipwayStatus); a build
/// with the builder its project.toml names fails, and its error lines fill the quickfix list.
@Suite struct NeovimPluginTests {
    @Test func thePluginBuildsAndFillsTheQuickfixListOnFailure() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/nvim") else {
            Issue.record("neovim is not installed: run scripts/setup.sh")
            return
        }
        let work = TempDir("nvim")
        let bad = work.path + "/bad"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try "nothing to build\n".write(toFile: bad + "/README", atomically: true, encoding: .utf8)
        let env = [
            "SLIPWAY": Repo.slipway, "STATE": work.path + "/state", "STACK": HostStack.directory, "BUILDPACKS": Repo.buildpacks.path,
            "FIXTURE_BUILDPACKS": Repo.fixtures.appendingPathComponent("buildpacks").path, "APP": HelloApp.path,
            "BAD_APP": bad, "OUT": work.path + "/out.json",
        ].map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        let plugin = Repo.root.appendingPathComponent("clients/nvim").path
        let script = Repo.fixtures.appendingPathComponent("nvim_plugin_check.lua").path
        let r = try await sh("\(env) timeout 300 /usr/bin/nvim --headless -u NONE -i NONE --cmd 'set rtp+=\(plugin)' -c 'luafile \(script)'")
        _ = try? await sh("'\(Repo.slipway)' engine stop --state-dir '\(work.path)/state'")  // the engine would stop when idle anyway
        #expect(r.status == 0, "\(r.err)")
        let out = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: work.path + "/out.json"))))
        #expect(out["ok"] == true, "\(out)")
        #expect(out["noBuilder"]?.stringValue?.contains("g:slipway_builder") == true, "\(out)")
        #expect(out["buildingStatusline"] == "slipway: building #1")
        #expect(out["state"] == "ready" && out["statusline"] == "slipway: ready #1", "\(out)")
        let logLines = out["logLines"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(logLines.contains("[     build] generated bin/hello") && logLines.first == "[   prepare] ===> PREPARE", "\(logLines)")
        #expect(out["status"]?["ready"] == "Ready")
        #expect(out["badState"] == "failed")
        let quickfix = out["quickfix"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(quickfix.contains("[build] fatal: missing ingredient 'flux capacitor'") && quickfix.contains("[build] warning: something looks off"), "\(quickfix)")
        #expect(quickfix.contains { $0.hasPrefix("[build] ERROR: buildpack test/fail@1.0.0 failed in the build phase") }, "\(quickfix)")
        #expect(!quickfix.contains { $0.contains("compiling the app") && !$0.contains("ERROR") }, "a plain stdout line is no error")
        #expect(out["quickfixTitle"] == "slipway: bad")
    }
}
