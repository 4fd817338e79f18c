import Foundation
import JSONRPC
import Testing
@testable import SlipwayServer
import TestSupport

/// One shared engine per state directory: `slipway` forwards to it, starting it when none runs;
/// builds outlive their clients; the engine stops when idle, on `engine stop`, or is replaced.
@Suite struct SharedEngineTests {
    static func enginesServing(_ state: String) -> Int {
        SharedEngine.engineLog(state).split(separator: "\n").filter { $0.contains("serving") }.count
    }

    // MARK: Sharing

    /// An editor (LSP framing, connected throughout, following logs) and 20 shell pipelines use
    /// one engine at once. Each pipeline gets complete results: it ends after the build it
    /// started, and only that build; a pipeline that started none ends while another session's
    /// build still runs. Every session sees every build's status.
    @Test func anEditorAndTwentyPipelinesShareOneEngine() async throws {
        let state = TempDir("state")
        let editor = try await SharedEngine.clientWithSlowBuilder(state.path, arguments: ["--max-concurrent-builds", "4"], framing: .lsp, initialize: true)
        try await SharedEngine.createSlowImage(editor, "long", seconds: 120)

        // A pipeline that starts no build is not held up by the editor's.
        let reader = try await SlipwayPipe.run(Array((SlipwayPipe.request(1, "image/list") + "\n").utf8), state: state.path)
        #expect(reader.code == 0, "\(reader.err)")
        #expect(reader.lines.first?.contains("\"long\"") == true)
        #expect(try await editor.call("build/status", ["image": "long", "build": 1])["status"] == "BUILDING")

        let results = try await withThrowingTaskGroup(of: (Int, [String], Int32).self) { group in
            for i in 0..<20 {
                group.addTask {
                    let input = [SlipwayPipe.request(1, "image/create", "{\"name\":\"p\(i)\",\"source\":{\"local\":{\"path\":\"\(HelloApp.path)\"}}}"),
                                 SlipwayPipe.request(2, "image/get", "{\"name\":\"p\(i)\"}")].joined(separator: "\n") + "\n"
                    let r = try await SlipwayPipe.run(Array(input.utf8), state: state.path)
                    return (i, r.lines, r.code)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = ($1.1, $1.2) }
        }
        for i in 0..<20 {
            let (lines, code) = try #require(results[i])
            #expect(code == 0)
            let replies = lines.compactMap { try? JSONParser.parse(Array($0.utf8)) }
            #expect(replies.first { $0["id"] == 1 }?["result"]?["build"] == 1, "\(lines)")
            // The pipeline's session saw its own build end before it closed.
            #expect(replies.contains { $0["method"] == "build/statusChanged" && $0["params"]?["image"] == .string("p\(i)") && $0["params"]?["status"] == "SUCCESS" },
                    "pipeline \(i) ended before its build: \(lines.suffix(3))")
            #expect(try await editor.call("build/status", ["image": .string("p\(i)"), "build": 1])["status"] == "SUCCESS")
        }
        #expect(Self.enginesServing(state.path) == 1)
        // The editor's session saw all of them, and is still connected with its build running.
        for i in 0..<20 {
            #expect(editor.notifications("build/statusChanged").contains { $0["image"] == .string("p\(i)") && $0["status"] == "SUCCESS" })
        }
        #expect(try await editor.call("build/status", ["image": "long", "build": 1])["status"] == "BUILDING")
        _ = try await editor.call("build/cancel", ["image": "long", "build": 1])
        _ = try await editor.call("shutdown")
        editor.send(.object(JSONObject([("jsonrpc", "2.0"), ("method", "exit")])))
        #expect(try await editor.waitForExit() == 0)
    }

    /// Sessions that follow one build each get every log line, in seq order, once.
    @Test func everyFollowerGetsEveryLineInOrder() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [Repo.fixtures.appendingPathComponent("buildpacks/chatty").path],
                                        order: [["group": [["id": "test/chatty"], ["id": "slipway/procfile"]]]])
        let followers = try (0..<3).map { _ in try SlipwayClient(stateDir: state.path) }
        _ = try await c.call("image/create", ["name": "chatty", "env": ["LINES_TO_PRINT": "3000"], "source": ["local": ["path": .string(HelloApp.path)]]])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for f in followers {
                group.addTask {
                    let result = try await f.call("build/logs", ["image": "chatty", "build": 1, "follow": true])
                    #expect(result["status"] == "SUCCESS")
                }
            }
            try await group.waitForAll()
        }
        for f in followers {
            let lines = f.notifications("build/log").filter { $0["image"] == "chatty" }
            #expect(lines.map { $0["seq"]?.int ?? 0 } == Array(1...max(1, lines.count)))
            let printed = lines.compactMap { $0["line"]?.stringValue }.filter { $0.hasPrefix("line ") }
            #expect(printed == (1...3000).map { "line \($0)" })
        }
    }

    /// Twenty clients started at once on a fresh state directory make exactly one engine.
    @Test func twentySimultaneousFirstStartsMakeOneEngine() async throws {
        let state = TempDir("state")
        let out = TempDir("out")
        let r = try await sh("""
            for i in $(seq 20); do
              ( printf '%s\\n' '\(SlipwayPipe.request(1, "image/list"))' | '\(Repo.slipway)' --state-dir '\(state.path)' --idle-timeout 60s > '\(out.path)'/out.$i 2>&1
                echo $? > '\(out.path)'/rc.$i ) &
            done
            wait
            cat '\(out.path)'/rc.* | sort | uniq -c
            """)
        #expect(r.out.trimmingCharacters(in: .whitespacesAndNewlines) == "20 0", "\(r.out)")
        for i in 1...20 {
            let text = try String(contentsOfFile: out.path + "/out.\(i)", encoding: .utf8)
            #expect(text.contains("\"result\":{\"images\":[]"), "client \(i): \(text)")
        }
        #expect(Self.enginesServing(state.path) == 1, "\(SharedEngine.engineLog(state.path))")
        let engines = try await sh("pgrep -f '[s]lipway-engine engine --state-dir \(state.path)' | wc -l")
        #expect(engines.out.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }

    // MARK: Lifetimes

    /// A client that says `exit`, and one killed with SIGKILL, leave their builds running.
    @Test func buildsSurviveExitAndAKilledClient() async throws {
        let state = TempDir("state")
        let first = try await SharedEngine.clientWithSlowBuilder(state.path)
        try await SharedEngine.createSlowImage(first, "left", seconds: 2)
        first.send(.object(JSONObject([("jsonrpc", "2.0"), ("method", "exit")])))
        #expect(try await first.waitForExit() == 1)  // exit without shutdown, as an LSP server does

        let second = try SlipwayClient(stateDir: state.path)
        try await SharedEngine.createSlowImage(second, "killed", seconds: 2)
        kill(second.process.processIdentifier, SIGKILL)
        _ = try await second.waitForExit()

        let third = try SlipwayClient(stateDir: state.path)
        for name in ["left", "killed"] {
            let b = try await third.call("build/wait", ["image": .string(name), "build": 1])
            #expect(b["status"] == "SUCCESS", "\(name): \(b)")
            let lines = try await third.call("build/logs", ["image": .string(name), "build": 1])["lines"]?.arrayValue ?? []
            #expect(lines.contains { $0["line"] == "done sleeping" })
        }
        #expect(Self.enginesServing(state.path) == 1)
    }

    /// The engine killed with SIGKILL mid-build: its clients fail at once with a clear error;
    /// the next client starts a new engine, which marks the running build interrupted, runs the
    /// queued one, and has everything that was acknowledged.
    @Test func aKilledEngineIsReplacedByTheNextClient() async throws {
        let state = TempDir("state")
        let c = try await SharedEngine.clientWithSlowBuilder(state.path, arguments: ["--max-concurrent-builds", "1"])
        let watcher = try SlipwayClient(stateDir: state.path)
        _ = try await watcher.call("image/list")
        try await SharedEngine.createSlowImage(c, "slow", seconds: 120)
        let queued = try await c.call("image/create", ["name": "next", "source": ["local": ["path": .string(HelloApp.path)]]])
        #expect(queued["build"] == 1)
        #expect(try await c.call("build/status", ["image": "next", "build": 1])["status"] == "QUEUED")
        let old = try #require(SharedEngine.enginePID(state.path))
        kill(old, SIGKILL)
        for client in [c, watcher] {
            #expect(try await client.waitForExit(timeout: 20) == 1)
            #expect(client.stderr.contains("the engine stopped unexpectedly"), "\(client.stderr)")
        }

        let next = try SlipwayClient(stateDir: state.path)
        let names = try await next.call("image/list")["images"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.sorted()
        #expect(names == ["next", "slow"])
        #expect(SharedEngine.enginePID(state.path) != old)
        let slow = try await next.call("build/status", ["image": "slow", "build": 1])
        #expect(slow["status"] == "FAILURE")
        #expect(slow["message"]?.stringValue?.contains("interrupted") == true)
        _ = try await next.waitFor { $0["method"] == "window/logMessage" && $0["params"]?["message"]?.stringValue?.contains("build 1 of image default/slow was interrupted") == true }
        #expect(try await next.call("build/wait", ["image": "next", "build": 1])["status"] == "SUCCESS")
    }

    /// With no client, the engine stops after --idle-timeout, but not while a build runs: the
    /// build a client left behind finishes first.
    @Test func anIdleEngineStopsAfterItsBuildsEnd() async throws {
        let state = TempDir("state")
        let c = try await SharedEngine.clientWithSlowBuilder(state.path, arguments: ["--idle-timeout", "1s"])
        try await SharedEngine.createSlowImage(c, "left", seconds: 3)
        c.closeInput()  // the session waits for the build it started, then ends
        #expect(try await c.waitForExit() == 0)
        try await waitUntil("the idle engine stops") { !SharedEngine.engineRuns(state.path) }
        #expect(SharedEngine.engineLog(state.path).contains("idle for 1s; stopping"))
        let after = try SlipwayClient(stateDir: state.path)
        #expect(try await after.call("build/status", ["image": "left", "build": 1])["status"] == "SUCCESS")
    }

    /// A git source it polls keeps the engine up with no client; an engine that starts polls
    /// every git source at once, catching up on what changed while none ran.
    @Test func gitPollingRunsInTheEngineWithNoClient() async throws {
        let state = TempDir("state")
        let repo = TempDir("repo")
        let setup = try await sh("""
            set -e
            cp -r '\(HelloApp.path)'/. '\(repo.path)'
            cd '\(repo.path)' && git init -q -b main && git add -A && git -c user.name=t -c user.email=t@x commit -qm one
            """)
        try #require(setup.status == 0, "\(setup.err)")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--idle-timeout", "1s", "--git-poll-interval", "0.5"])
        try await c.setUpDefaultBuilder()
        _ = try await c.call("image/create", ["name": "polled", "source": ["git": ["url": .string("file://" + repo.path), "revision": "main"]]])
        #expect(try await c.call("build/wait", ["image": "polled", "build": 1])["status"] == "SUCCESS")
        c.closeInput()
        #expect(try await c.waitForExit() == 0)
        let engine = SharedEngine.enginePID(state.path)

        // No client is connected: the engine polls and builds the new commit.
        _ = try await sh("cd '\(repo.path)' && echo two > two.txt && git add -A && git -c user.name=t -c user.email=t@x commit -qm two")
        try await waitUntil("the engine builds the new commit") { FileManager.default.fileExists(atPath: state.path + "/logs/default/polled/2.log") }
        #expect(SharedEngine.engineRuns(state.path))
        #expect(SharedEngine.enginePID(state.path) == engine)
        #expect(Self.enginesServing(state.path) == 1)

        // Stopped, then started with a poll interval of an hour: the first poll is at start.
        #expect(try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'").status == 0)
        #expect(!SharedEngine.engineRuns(state.path))
        _ = try await sh("cd '\(repo.path)' && echo three > three.txt && git add -A && git -c user.name=t -c user.email=t@x commit -qm three")
        let later = try SlipwayClient(stateDir: state.path, arguments: ["--git-poll-interval", "3600"])
        try await waitUntil("the new engine polls at start") { FileManager.default.fileExists(atPath: state.path + "/logs/default/polled/3.log") }
        #expect(try await later.call("build/wait", ["image": "polled", "build": 3], timeout: 60)["status"] == "SUCCESS")
    }

    // MARK: Control

    /// `engine status` names the engine, its sessions and running builds; `engine stop` waits for
    /// running builds and tells connected clients; `--now` cancels them.
    @Test func engineStatusAndStop() async throws {
        let state = TempDir("state")
        let none = try await sh("'\(Repo.slipway)' engine status --state-dir '\(state.path)'")
        #expect(none.status == 1 && none.out.contains("no engine runs"), "\(none)")

        let c = try await SharedEngine.clientWithSlowBuilder(state.path)
        try await SharedEngine.createSlowImage(c, "long", seconds: 600)
        let status = try await sh("'\(Repo.slipway)' engine status --state-dir '\(state.path)'")
        #expect(status.status == 0, "\(status.err)")
        let pid = try #require(SharedEngine.enginePID(state.path))
        for expected in ["pid: \(pid)", "version: \(SlipwayVersion.current)", "sessions: 1", "client pid \(c.process.processIdentifier)",
                         "running builds: 1", "default/long build 1 ("] {
            #expect(status.out.contains(expected), "missing \(expected) in \(status.out)")
        }
        _ = try await c.call("build/cancel", ["image": "long", "build": 1])

        // A stop waits for the build that runs (if the machine is slow, it may have ended first).
        try await SharedEngine.createSlowImage(c, "a", seconds: 3)
        let stop = try await sh("'\(Repo.slipway)' engine stop --state-dir '\(state.path)'")
        #expect(stop.status == 0 && stop.out.contains("stopped"), "\(stop)")
        #expect(!SharedEngine.engineRuns(state.path))
        #expect(try await c.waitForExit(timeout: 20) == 1)
        #expect(c.stderr.contains("was stopped"), "\(c.stderr)")

        let d = try SlipwayClient(stateDir: state.path)
        #expect(try await d.call("build/status", ["image": "a", "build": 1])["status"] == "SUCCESS")
        // A build that runs until it is canceled, however slow the machine.
        _ = try await d.call("image/patch", ["name": "a", "env": ["SLEEP_SECONDS": "600"]])
        _ = try await d.waitFor { $0["method"] == "build/statusChanged" && $0["params"]?["build"] == 2 && $0["params"]?["status"] == "BUILDING" }
        let now = try await sh("'\(Repo.slipway)' engine stop --now --state-dir '\(state.path)'")
        #expect(now.status == 0, "\(now)")
        let e = try SlipwayClient(stateDir: state.path)
        let canceled = try await e.call("build/status", ["image": "a", "build": 2])
        #expect(canceled["status"] == "FAILURE")
        #expect(canceled["message"]?.stringValue?.contains("stopped with --now") == true, "\(canceled)")
    }

    /// A client whose engine flags differ from the running engine's is warned, flag by flag; a
    /// client that gives none is not.
    @Test func differingEngineFlagsAreNamed() async throws {
        let state = TempDir("state")
        let first = try SlipwayClient(stateDir: state.path, arguments: ["--max-concurrent-builds", "3"])
        _ = try await first.call("image/list")
        let second = try SlipwayClient(stateDir: state.path, arguments: ["--max-concurrent-builds", "1", "--git-poll-interval", "60"])
        _ = try await second.call("image/list")
        let warnings = second.notifications("window/logMessage").compactMap { $0["message"]?.stringValue }.filter { $0.contains("running engine") }
        #expect(warnings == ["--max-concurrent-builds is 3 in the running engine, not 1 as asked; stop it (slipway engine stop) to change it"])
        let third = try SlipwayClient(stateDir: state.path)
        _ = try await third.call("image/list")
        #expect(!third.notifications("window/logMessage").contains { $0["message"]?.stringValue?.contains("running engine") == true })
        // A bad flag is refused as in one process: exit 2, naming it.
        let bad = try await sh("printf '' | '\(Repo.slipway)' --state-dir '\(state.path)' --max-concurrent-builds zero")
        #expect(bad.status == 2 && bad.err.contains("--max-concurrent-builds needs a positive number"), "\(bad)")
    }

    // MARK: Versions

    /// A client never talks to an engine of another version: a busy one refuses it, naming
    /// `slipway engine stop`; an idle one makes way for it.
    @Test func anEngineOfAnotherVersionIsReplacedOnlyWhenIdle() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("image/list")
        let real = URL(fileURLWithPath: state.path).resolvingSymlinksInPath().path
        let socket = real + "/run/engine.sock"
        func helloFromAnotherVersion() throws -> String {
            let channel = try #require(EngineControl.connect(socket))
            #expect(channel.send(EngineFrame.hello, "{\"version\":\"0.0.1-other\",\"pid\":1,\"args\":[]}"))
            let reply = try #require(channel.read())
            #expect(reply.type == EngineFrame.welcome)
            return String(decoding: reply.payload, as: UTF8.self)
        }
        let busy = try helloFromAnotherVersion()
        #expect(busy.hasPrefix("fail 1 ") && busy.contains("slipway engine stop") && busy.contains("0.0.1-other"), "\(busy)")
        #expect(SharedEngine.engineRuns(state.path))

        c.closeInput()
        #expect(try await c.waitForExit() == 0)
        let idle = try helloFromAnotherVersion()
        #expect(idle.hasPrefix("retry "), "\(idle)")
        try await waitUntil("the old engine makes way") { !SharedEngine.engineRuns(state.path) }
        #expect(SharedEngine.engineLog(state.path).contains("a client of version 0.0.1-other connected; stopping"))
    }

    // MARK: Boundaries

    /// Only the engine's own user may use it: the socket folder is 0700, the socket 0600, and a
    /// peer of another uid that gets through anyway is refused by SO_PEERCRED.
    @Test(.enabled(if: getuid() == 0, "needs root to run a client as another user"))
    func aClientOfAnotherUserIsRefused() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        _ = try await c.call("image/list")
        var st = stat()
        #expect(stat(state.path + "/run", &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(state.path + "/run/engine.sock", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let input = "printf '%s\\n' '\(SlipwayPipe.request(1, "image/list"))'"
        // With CAP_DAC_OVERRIDE the modes do not stop another user; the engine refuses it.
        let asNobody = "setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps +dac_override --ambient-caps +dac_override"
        let raw = try await sh("""
            \(asNobody) python3 -c '
            import socket, struct, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            hello = b"{\\"version\\":\\"\(SlipwayVersion.current)\\",\\"args\\":[]}"
            s.sendall(b"H" + struct.pack(">I", len(hello)) + hello)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk: break
                data += chunk
            print(data[5:].decode())
            ' '\(state.path)/run/engine.sock'
            """)
        #expect(raw.status == 0, "\(raw.err)")
        #expect(raw.out.hasPrefix("fail 1 ") && raw.out.contains("serves uid 0 only, not uid 65534"), "\(raw)")
        #expect(SharedEngine.engineLog(state.path).contains("refused a client of uid 65534"))
        // The forwarder, for its part, uses only a state directory of its own user (and talks
        // only to an engine of its own user: StateDirectoryGuardTests).
        let past = try await sh("\(input) | \(asNobody) '\(Repo.slipway)' --state-dir '\(state.path)'")
        #expect(past.status == 1, "\(past)")
        #expect(past.err.contains("\(state.path) belongs to uid 0, not to this user (uid 65534)"), "\(past.err)")
        #expect(!past.out.contains("result"))
        // Without it, the folder's mode keeps it out.
        let plain = try await sh("\(input) | setpriv --reuid 65534 --regid 65534 --clear-groups '\(Repo.slipway)' --state-dir '\(state.path)'")
        #expect(plain.status == 1 && !plain.out.contains("result"), "\(plain)")
        #expect(Self.enginesServing(state.path) == 1)
    }

    /// The same malformed and edge-case inputs get the same bytes, stderr and exit code through
    /// the forwarder as from the engine in one process.
    @Test func theForwarderAnswersExactlyAsOneProcessDoes() async throws {
        let shared = TempDir("shared"), embedded = TempDir("embedded")
        let big = String(repeating: "9", count: 40)
        let inputs: [(String, String)] = [
            ("ndjson", SlipwayPipe.request(1, "image/list") + "\n"),
            ("lsp", SlipwayPipe.lsp(SlipwayPipe.request(1, "image/list"))),
            ("junk", "hello there\n" + SlipwayPipe.request(2, "image/list") + "\n"),
            ("bom", "\u{FEFF}" + SlipwayPipe.request(3, "image/list") + "\n"),
            ("huge ids", "{\"jsonrpc\":\"2.0\",\"id\":\(big),\"method\":\"image/list\"}\n{\"jsonrpc\":\"2.0\",\"id\":\"\(String(repeating: "x", count: 300))\",\"method\":\"nope\"}\n"),
            ("truncated ndjson", SlipwayPipe.request(4, "image/list") + "\n{\"jsonrpc\":\"2.0\",\"id\":5,\"meth"),
            ("truncated lsp body", "Content-Length: 200\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":6"),
            ("bad header", "Content-Length: abc\r\n\r\n{}"),
            ("refused charset", SlipwayPipe.lsp(SlipwayPipe.request(7, "image/list"), contentType: "application/json; charset=latin1")
                + SlipwayPipe.lsp(SlipwayPipe.request(8, "image/list"))),
            ("batch", "[]\n[1,2]\n[" + SlipwayPipe.request(9, "image/list") + "]\n"),
            // (A request still running at `exit` may or may not be answered, in either mode.)
            ("exit without shutdown", "{\"jsonrpc\":\"2.0\",\"method\":\"initialized\"}\n{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}\n"),
            ("shutdown and exit", SlipwayPipe.request(11, "shutdown") + "\n{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}\n" + SlipwayPipe.request(12, "image/list") + "\n"),
            ("empty", ""),
        ]
        for (name, input) in inputs {
            let a = try await SlipwayPipe.run(Array(input.utf8), state: shared.path)
            let b = try await SlipwayPipe.run(Array(input.utf8), state: embedded.path, arguments: ["--embedded"])
            // Answers to different requests may come in any order, in one process as here.
            #expect(a.lines.sorted() == b.lines.sorted(), "\(name): stdout differs")
            #expect(a.err == b.err, "\(name): stderr differs")
            #expect(a.code == b.code, "\(name): exit \(a.code) through the forwarder, \(b.code) in one process")
        }
    }
}
