import Foundation
import JSONRPC
import Testing
import TestSupport

/// What the engine offers and slipctl now says: `build wait|cancel`, `image trigger --wait`,
/// `events`, `quota`, `system df|gc`, `--state-dir`; and flags checked before any request.
@Suite struct SlipctlCommandsTests {
    static func kp(_ words: [String], _ state: String) async throws -> (status: Int32, out: String, err: String) {
        try await KpSeedTests.kp(words, state: state)
    }

    @Test func waitCancelEventsQuotaAndDiskUsage() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("image/create", ["name": "app", "source": ["local": ["path": .string(HelloApp.path)]]])
        let waited = try await Self.kp(["build", "wait", "app", "-b", "1", "--timeout", "2m"], state.path)
        #expect(waited.status == 0 && waited.out.hasPrefix("Build 1 of Image Resource \"app\" succeeded: "), "\(waited)")
        let triggered = try await Self.kp(["image", "trigger", "app", "--wait"], state.path)
        #expect(triggered.status == 0 && triggered.out.hasPrefix("Triggered build for Image Resource \"app\" with Build Number 2\n")
                && triggered.out.contains("Build 2 succeeded"), "\(triggered)")
        let cancel = try await Self.kp(["build", "cancel", "app"], state.path)
        #expect(cancel.status == 1 && !cancel.err.isEmpty, "a build that ended is not canceled: \(cancel)")

        let events = try await Self.kp(["events", "--since", "1h"], state.path)
        let rows = events.out.split(separator: "\n").map(KpSeedTests.words)
        #expect(events.status == 0 && rows.first == "LAST SEEN TYPE REASON OBJECT MESSAGE", "\(events)")
        #expect(rows.contains { $0.range(of: #"^\d+[smhd]( \(x\d+\))? Normal \w+ image/app "#, options: .regularExpression) != nil }, "\(events.out)")
        let future = try await Self.kp(["events", "--since", "2100-01-01T00:00:00Z"], state.path)
        #expect(future.out == "No events found in namespace default\n", "\(future)")
        #expect(try await Self.kp(["events", "--since", "lately"], state.path).err.contains("\"--since\" flag"))

        let quota = try await Self.kp(["quota"], state.path)
        let quotaRows = quota.out.split(separator: "\n").map(KpSeedTests.words)
        #expect(quotaRows.contains("RESOURCE USED LIMIT") && quotaRows.contains { $0.hasPrefix("images 1 ") }, "\(quota)")
        let df = try await Self.kp(["system", "df"], state.path)
        #expect(df.status == 0 && KpSeedTests.words(df.out.split(separator: "\n")[0]) == "TYPE TOTAL SIZE RECLAIMABLE" && df.out.contains("\nimages "), "\(df)")
        let gc = try await Self.kp(["system", "gc", "--dry-run"], state.path)
        #expect(gc.status == 0 && gc.out.contains("Would free: "), "\(gc)")
    }

    /// `--state-dir` names the engine's state directory beside (and before) `$SLIPWAY_HOME`.
    @Test func stateDirFlag() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        _ = try await engine.call("secret/create", ["name": "here", "registry": ["server": "r.example.invalid", "username": "u", "password": "p"]])
        let other = TempDir("other")
        let r = try await sh("SLIPWAY_HOME='\(other.path)' '\(KpSeedTests.slipctl)' secret list --state-dir '\(state.path)'")
        #expect(r.status == 0 && r.out.contains("here"), "\(r)")
    }

    /// `--output xml` is refused before the image is created; `--filter ready=maybe` is refused;
    /// `image create --git` leaves the revision to the remote's default branch.
    @Test func flagsAreCheckedFirstAndGitDefaultsToTheRemotesBranch() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        let xml = try await Self.kp(["image", "create", "x", "--local-path", HelloApp.path, "--output", "xml"], state.path)
        #expect(xml.status == 1 && xml.err.contains("invalid output format \"xml\""), "\(xml)")
        #expect(try await Self.kp(["image", "list"], state.path).out == "no images found\n")
        let maybe = try await Self.kp(["image", "list", "--filter", "ready=maybe"], state.path)
        #expect(maybe.status == 1 && maybe.err.contains("ready=true, ready=false or ready=unknown"), "\(maybe)")

        let work = TempDir("gitdefault")
        let repo = work.path + "/repo"
        let git = "git -c user.email=t@example.invalid -c user.name=t"
        #expect(try await sh("cp -r '\(HelloApp.path)' '\(repo)' && cd '\(repo)' && git init -q -b trunk && \(git) add -A && \(git) commit -qm app").status == 0)
        let created = try await Self.kp(["image", "create", "g", "--git", "file://\(repo)", "--wait"], state.path)
        #expect(created.status == 0, "\(created)")
        let submitted = try await Self.kp(["buildrun", "submit", "--name", "g", "--git", "file://\(repo)", "--wait"], state.path)
        #expect(submitted.status == 0, "\(submitted)")
    }

    /// On a terminal, following an old build's log says the build's own time, not the replay's.
    @Test func theProgressLineOfAnOldBuildSaysItsOwnTime() async throws {
        let state = TempDir("state")
        let engine = try SlipwayClient(stateDir: state.path)
        try await engine.setUpDefaultBuilder()
        _ = try await engine.call("image/create", ["name": "old", "source": ["local": ["path": .string(HelloApp.path)]]])
        let status = try await engine.call("build/wait", ["image": "old", "build": 1])
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let started = try #require(status["started"]?.stringValue.flatMap(iso.date(from:)))
        let finished = try #require(status["finished"]?.stringValue.flatMap(iso.date(from:)))
        let took = finished.timeIntervalSince(started)
        let onTerminal = try await sh("SLIPWAY_HOME='\(state.path)' script -qec \"'\(KpSeedTests.slipctl)' build logs old\" /dev/null")
        #expect(onTerminal.out.contains("✔ SUCCESS\u{1B}[0m in \(String(format: "%.1fs", took))"), "\(took) \(onTerminal.out.debugDescription)")
    }
}
