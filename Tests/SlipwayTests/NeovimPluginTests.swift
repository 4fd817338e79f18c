import Foundation
import JSONRPC
import Testing
import TestSupport

/// The Neovim plugin (clients/nvim), run headless by Debian's `neovim` against a real slipway
/// (Fixtures/nvim_plugin_check.lua): without a builder it says how to set one; it builds the
/// open folder (state, statusline, the logs buffer labelled by phase, :SlipwayStatus); a build
/// with the builder its project.toml names fails, and its error lines fill the quickfix list.
/// A new session on that state (Fixtures/nvim_plugin_next_session.lua) loads the last builds,
/// completes image names, passes :checkhealth, triggers, points quickfix entries at project
/// files, and cancels. Without slipway on PATH (Fixtures/nvim_plugin_missing_slipway.lua) every
/// command says what to install.
@Suite struct NeovimPluginTests {
    /// Runs `script` in a headless Neovim with the plugin on 'runtimepath' and `env` set; returns
    /// the JSON the script wrote to `env["OUT"]`.
    private func runNeovim(_ script: String, env: [String: String]) async throws -> JSONValue {
        let assignments = env.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        let plugin = Repo.root.appendingPathComponent("clients/nvim").path
        let path = Repo.fixtures.appendingPathComponent(script).path
        let r = try await sh("env \(assignments) /usr/bin/timeout 300 /usr/bin/nvim --headless -u NONE -i NONE --cmd 'set rtp+=\(plugin)' -c 'luafile \(path)'")
        #expect(r.status == 0, "\(r.err)")
        return try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: try #require(env["OUT"])))))
    }

    private var neovimInstalled: Bool {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/nvim") else {
            Issue.record("neovim is not installed: run scripts/setup.sh")
            return false
        }
        return true
    }

    @Test func thePluginBuildsAndFillsTheQuickfixListOnFailure() async throws {
        guard neovimInstalled else { return }
        let work = TempDir("nvim")
        let bad = work.path + "/bad"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try "nothing to build\n".write(toFile: bad + "/README", atomically: true, encoding: .utf8)
        let state = work.path + "/state"
        defer { _ = try? sh("'\(Repo.slipway)' engine stop --state-dir '\(state)'") }  // the engine would stop when idle anyway
        let out = try await runNeovim("nvim_plugin_check.lua", env: [
            "SLIPWAY": Repo.slipway, "STATE": state, "STACK": HostStack.directory, "BUILDPACKS": Repo.buildpacks.path,
            "FIXTURE_BUILDPACKS": Repo.fixtures.appendingPathComponent("buildpacks").path, "APP": HelloApp.path,
            "BAD_APP": bad, "OUT": work.path + "/out.json",
        ])
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

        // A new session on the same state: the last builds load on attach, and the rest.
        let compile = work.path + "/compile", slow = work.path + "/slow"
        let next = try await runNeovim("nvim_plugin_next_session.lua", env: [
            "SLIPWAY": Repo.slipway, "STATE": state, "APP": HelloApp.path, "COMPILE_APP": compile, "SLOW_APP": slow,
            "OUT": work.path + "/next.json",
        ])
        #expect(next["ok"] == true, "\(next)")
        #expect(next["statusline"] == "slipway: ready #1" && next["badStatusline"] == "slipway: failed #1", "\(next)")
        let attachedLog = next["logLines"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(attachedLog.contains("[     build] generated bin/hello") && attachedLog.first == "[   prepare] ===> PREPARE", "\(attachedLog)")

        #expect(next["completion"]?.arrayValue?.compactMap(\.stringValue) == ["bad", "hello-app"], "\(next)")
        #expect(next["cancelCompletion"]?.arrayValue?.compactMap(\.stringValue) == ["hello-app"], "\(next)")

        let health = next["health"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(health.contains { $0.contains("OK") && $0.contains("slipway is installed") }, "\(health)")
        #expect(health.contains { $0.contains("OK") && $0.contains("the engine answers (2 image(s) in namespace default)") }, "\(health)")
        #expect(health.contains { $0.contains("OK") && $0.contains("image hello-app: Ready, latest build 1") }, "\(health)")
        #expect(!health.contains { $0.contains("ERROR") || $0.contains("WARNING") }, "\(health)")

        #expect(next["triggerStatusline"] == "slipway: building #2" && next["afterTrigger"] == "slipway: ready #2", "\(next)")

        #expect(next["compileState"] == "failed", "\(next)")
        let entries = (next["quickfix"]?.arrayValue ?? []).map { e in
            "\(e["file"]?.stringValue ?? "?"):\(e["lnum"]?.doubleValue.map { Int($0) } ?? -1):\(e["col"]?.doubleValue.map { Int($0) } ?? -1) \(e["text"]?.stringValue ?? "?")"
        }
        #expect(entries.contains("\(compile)/main.c:2:0 [build] error: main.c:2: expected ';' before '}' token"), "\(entries)")
        #expect(entries.contains("\(compile)/src/util.c:7:10 [build] error: 'x' undeclared"), "\(entries)")
        #expect(entries.contains { $0.hasPrefix("\(compile)/x.py:3:0 [build]   File \"") }, "\(entries)")
        #expect(entries.contains(":0:0 [build] gone.c:9: error: a file that is not in the project"), "a file not in the project is not pointed at: \(entries)")

        #expect(next["slowState"] == "failed", "\(next)")
        let cancelMessages = next["cancelMessages"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(cancelMessages.contains("slipway: canceled build 1 of slow") && cancelMessages.contains("slipway: build 1 of slow failed: canceled"), "\(cancelMessages)")
    }

    @Test func withoutSlipwayOnPathEveryCommandSaysWhatToInstall() async throws {
        guard neovimInstalled else { return }
        let work = TempDir("nvim-missing")
        let emptyBin = work.path + "/bin", app = work.path + "/my-app"
        for folder in [emptyBin, app] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let out = try await runNeovim("nvim_plugin_missing_slipway.lua", env: ["PATH": emptyBin, "APP": app, "OUT": work.path + "/out.json"])
        #expect(out["ok"] == true, "\(out)")
        let commands = out["commands"]?.arrayValue ?? []
        #expect(commands.count == 5)
        for command in commands {
            let messages = command["messages"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(command["ran"] == true, "\(command)")
            #expect(messages.count == 1, "one message: \(command)")
            #expect(messages.first?.hasPrefix("slipway: slipway was not found on PATH. Install Slipway") == true, "\(command)")
            #expect(messages.first?.contains("cmd = { '/path/to/slipway' }") == true, "\(command)")
        }
        #expect(out["statusline"] == "")
        #expect(out["completion"]?.arrayValue?.compactMap(\.stringValue) == ["my-app"], "only the folder's own image name: \(out)")
        let health = out["health"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(health.contains { $0.contains("ERROR") && $0.contains("slipway was not found on PATH") }, "\(health)")
    }
}
