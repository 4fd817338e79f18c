import Foundation
import JSONRPC
import Synchronization
import Testing
import TestSupport

/// What real clients and a fuzzer found at the protocol's edges: back-pressure, refused
/// messages, silent drops, Neovim's `[]`, a full disk, big ids, huge echoes, unknown params,
/// secrets in traces.
@Suite struct ProtocolRobustnessTests {
    /// Runs slipway on `input` (raw bytes) to the end; returns stdout lines, stderr and the exit code.
    /// A client that sends 2,000 rpc.discover (80 KB answers, 10 KB requests) and does not read:
    /// Slipway stops reading it while 8 MiB of output wait, so its memory stays small; every
    /// answer comes once the client reads.
    @Test func aClientThatDoesNotReadIsNotBufferedWithoutBound() async throws {
        let state = TempDir("state")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Repo.slipway)
        p.arguments = ["--state-dir", state.path, "--idle-timeout", "60s"]
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let count = 2000
        let written = Atomic<Int>(0)
        let writer = Thread {
            let line = Data((SlipwayPipe.request("1", "rpc.discover") + String(repeating: " ", count: 10_000) + "\n").utf8)
            for _ in 0..<count {
                inPipe.fileHandleForWriting.write(line)
                written.add(1, ordering: .relaxed)
            }
            try? inPipe.fileHandleForWriting.close()  // end of input; closing twice is harmless
        }
        writer.start()
        // Wait until Slipway stops reading (or reads everything): its read count stops moving.
        func bytesRead() -> Int {
            let io = (try? String(contentsOfFile: "/proc/\(p.processIdentifier)/io", encoding: .utf8)) ?? ""
            return Int(io.split(separator: "\n").first { $0.hasPrefix("rchar:") }?.split(separator: " ").last ?? "") ?? 0
        }
        let deadline = Date().addingTimeInterval(60)
        var last = -1, stableSince = Date()
        while Date() < deadline {
            let now = bytesRead()
            if now != last { last = now; stableSince = Date() }
            if Date().timeIntervalSince(stableSince) > 1.5 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        func peakRSS(_ pid: String) throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            return (Int(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        #expect(written.load(ordering: .relaxed) < count, "the server read every request while nobody read its output")
        // Neither the forwarder nor the engine behind it holds what the client does not read.
        let enginePID = try String(contentsOfFile: state.path + "/engine.lock", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        for pid in ["\(p.processIdentifier)", enginePID] {
            let rss = try peakRSS(pid)
            #expect(rss < 100 << 20, "peak RSS of \(pid) \(rss >> 20) MB while the client did not read")
        }
        // Now read: every request is answered.
        var replies = 0
        var pending = Data()
        let out = outPipe.fileHandleForReading
        while replies < count {
            let d = out.availableData
            if d.isEmpty { break }
            pending.append(d)
            while let nl = pending.firstIndex(of: 0x0A) {
                replies += 1
                pending.removeSubrange(..<pending.index(after: nl))
            }
        }
        #expect(replies == count)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    /// A message refused for its charset does not swallow the next; a BOM is skipped; junk
    /// before JSON gets -32700; a body cut short at the end is reported and exits 1.
    @Test func noMessageIsDroppedSilently() async throws {
        let state = TempDir("state")
        let charset = SlipwayPipe.lsp(SlipwayPipe.request("1", "image/list"), contentType: "application/json; charset=latin1") + SlipwayPipe.lsp(SlipwayPipe.request("2", "image/list"))
        var r = try await SlipwayPipe.run(Array(charset.utf8), state: state.path)
        #expect(r.code == 0)
        #expect(r.lines.joined().contains("\"code\":-32700"))
        #expect(r.lines.joined().contains("\"id\":2,\"result\""))

        // A Content-Length that is no number: answered -32700, and the messages after it are read.
        let badLength = "Content-Length: twelve\r\n\r\n" + SlipwayPipe.request("1", "image/list") + SlipwayPipe.lsp(SlipwayPipe.request("2", "image/list"))
            + SlipwayPipe.lsp(SlipwayPipe.request("3", "image/list"))
        r = try await SlipwayPipe.run(Array(badLength.utf8), state: state.path)
        #expect(r.code == 0)
        #expect(r.lines.joined().contains("\"code\":-32700"))
        #expect(r.lines.joined().contains("\"id\":2,\"result\"") && r.lines.joined().contains("\"id\":3,\"result\""), "\(r.lines)")

        r = try await SlipwayPipe.run([0xEF, 0xBB, 0xBF] + Array((SlipwayPipe.request("1", "image/list") + "\n").utf8), state: state.path)
        #expect(r.lines.count == 1)
        #expect(r.lines.first?.contains("\"id\":1,\"result\"") == true)

        r = try await SlipwayPipe.run(Array(("hello there\n" + SlipwayPipe.request("1", "image/list") + "\n").utf8), state: state.path)
        #expect(r.lines.count == 2)
        #expect(r.lines.first?.contains("\"code\":-32700") == true)
        #expect(r.lines.last?.contains("\"id\":1,\"result\"") == true)

        let cut = SlipwayPipe.lsp(SlipwayPipe.request("1", "image/list")) + "Content-Length: 200\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":2"
        r = try await SlipwayPipe.run(Array(cut.utf8), state: state.path)
        #expect(r.code == 1)
        #expect(r.err.contains("cut short"))
        let all = r.lines.joined(separator: "\n")
        #expect(all.contains("\"id\":1,\"result\""))
        #expect(all.contains("window/logMessage") && all.contains("200 bytes"))

        r = try await SlipwayPipe.run(Array((SlipwayPipe.request("1", "image/list") + "\n{\"jsonrpc\":\"2.0\",\"id\":2,\"meth").utf8), state: state.path)
        #expect(r.code == 1)
        #expect(r.lines.contains { $0.contains("-32700") })
    }

    /// Neovim sends `{}` as `[]`; ids come back exactly as sent, however big.
    @Test func emptyArrayParamsAndExactIds() async throws {
        let state = TempDir("state")
        let input = [SlipwayPipe.request("1", "image/list", "[]"), SlipwayPipe.request("2", "image/list", "[1]"),
                     SlipwayPipe.request("123456789012345678901234567890", "image/list"), SlipwayPipe.request("1.50", "image/list"),
                     SlipwayPipe.request("-7e3", "image/list"), SlipwayPipe.request("\"s\"", "image/list"),
                     SlipwayPipe.request("-0", "image/list"), SlipwayPipe.request("1e400", "image/list")].joined(separator: "\n") + "\n"
        let r = try await SlipwayPipe.run(Array(input.utf8), state: state.path)
        let all = r.lines.joined(separator: "\n")
        #expect(r.lines.first { $0.contains("\"id\":1,") }?.contains("\"result\"") == true)
        #expect(r.lines.first { $0.contains("\"id\":2,") }?.contains("-32602") == true)
        for id in ["123456789012345678901234567890", "1.50", "-7e3", "\"s\"", "-0", "1e400"] {
            #expect(all.contains("\"id\":\(id),\"result\""), "id \(id) not echoed exactly: \(all)")
        }
    }

    /// Names are checked on every method, reads included, and no reply echoes more than a
    /// few hundred bytes of what it was sent.
    @Test func hugeValuesAreRefusedWithoutBeingEchoed() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let huge = String(repeating: "a", count: 10 << 20)
        let large = String(repeating: "a", count: 100 << 10)
        let cases: [(String, JSONValue, String)] = [
            ("image/get", ["name": .string(huge)], "name"),
            ("image/status", ["name": "ok", "namespace": .string(huge)], "namespace"),
            ("build/status", ["image": .string(huge)], "image"),
            ("build/logs", ["image": .string(huge)], "image"),
            ("clusterstack/get", ["name": .string(huge)], "name"),
            ("builder/get", ["name": .string(huge)], "name"),
            ("event/list", ["object": ["kind": "Image", "name": .string(huge)]], "object.name"),
            // Under the 1 MiB cap on a write's params, each field is checked; over it, the params are.
            ("image/create", ["name": "ok", "tag": .string(large), "source": ["local": ["path": "/tmp"]]], "tag"),
            ("image/create", ["name": "ok", "source": ["git": ["url": .string("https://" + large)]]], "source.git.url"),
            ("image/create", ["name": "ok", "source": ["blob": ["url": .string("https://x/" + large)]]], "source.blob.url"),
            ("image/create", ["name": "ok", "source": ["local": ["path": .string("/" + large)]]], "source.local.path"),
            ("image/create", ["name": "ok", "source": ["local": ["path": .string("/" + huge)]]], "params"),
            (String(repeating: "m", count: 1 << 20), [:], ""),
        ]
        for (method, params, field) in cases {
            let r = try await c.request(method, params)
            let text = JSONWriter.string(r)
            #expect(text.utf8.count < 4096, "\(method) echoed \(text.utf8.count) bytes")
            #expect(r["error"]?["code"] != nil, "\(method): \(text.prefix(300))")
            if !field.isEmpty { #expect(r["error"]?["data"]?["field"] == .string(field), "\(method): \(text.prefix(300))") }
        }
    }

    /// A misspelt param is refused, naming it and the known ones; LSP's own fields are fine.
    @Test func unknownParamsAreRefused() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        let init_ = try await c.request("initialize", ["processId": 1, "rootUri": "file:///tmp", "capabilities": ["window": ["workDoneProgress": true]],
                                                       "clientInfo": ["name": "Neovim", "version": "0.7.2"], "trace": "off",
                                                       "workspaceFolders": .null, "locale": "en"])
        #expect(init_["result"]?["serverInfo"] != nil, "\(JSONWriter.string(init_))")
        let typo = try await c.request("image/create", ["name": "x", "buildTimout": 5, "source": ["local": ["path": "/tmp"]]])
        #expect(typo["error"]?["code"] == -32602)
        #expect(typo["error"]?["data"]?["field"] == "buildTimout")
        #expect(typo["error"]?["data"]?["known"]?.arrayValue?.contains("buildTimeout") == true)
        #expect(typo["error"]?["message"]?.stringValue?.contains("buildTimout") == true)
        let nested = try await c.request("image/create", ["name": "x", "source": ["local": ["pathh": "/tmp"]]])
        // The misspelt field is named, not the missing one it was meant to be.
        #expect(nested["error"]?["data"]?["field"] == "source.local.pathh", "\(JSONWriter.string(nested))")
        let tokens = try await c.request("image/list", ["workDoneToken": "t1", "partialResultToken": 7])
        #expect(tokens["result"] != nil, "\(JSONWriter.string(tokens))")
        #expect(try await c.call("image/list")["images"] == [])
    }

    /// `$/setTrace verbose` shows params, never a secret in them.
    @Test func tracesNeverShowSecrets() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)
        c.send(["jsonrpc": "2.0", "method": "$/setTrace", "params": ["value": "verbose"]])
        let password = "trace-\(UUID().uuidString)"
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-\(UUID().uuidString)\n-----END OPENSSH PRIVATE KEY-----"
        _ = try await c.call("secret/create", ["name": "reg", "registry": ["server": "r.example", "username": "u", "password": .string(password)]])
        _ = try await c.call("secret/create", ["name": "ssh", "git": ["url": "ssh://git@example.com/x.git", "sshKey": .string(key)]])
        _ = try await c.call("secret/list", ["namespace": "default"])
        let traces = c.notifications("$/logTrace").map { JSONWriter.string($0) }
        #expect(traces.contains { $0.contains("secret/create") && $0.contains("***") })
        for t in traces {
            #expect(!t.contains(password))
            #expect(!t.contains("key-"))
        }
    }

    /// On a full disk Slipway starts, reads work, and writes get Unavailable saying so.
    @Test func aFullDiskAnswersReadsAndRefusesWrites() async throws {
        let mount = TempDir("full"), rootfs = TempDir("rootfs")
        let state = mount.path + "/state"
        let script = """
            set -e
            mount -t tmpfs -o size=4m tmpfs '\(mount.path)'
            printf '%s\\n' '\(SlipwayPipe.request("1", "secret/create", #"{"name":"before","registry":{"server":"x","username":"u","password":"p"}}"#))' | "$0" "$@" >/dev/null
            dd if=/dev/zero of='\(mount.path)/fill' bs=16k 2>/dev/null || true
            exec "$0" "$@"
            """
        let wrapper = ["unshare", "--mount"] + (getuid() == 0 ? [] : ["--map-root-user"]) + ["bash", "-c", script]
        let input = [SlipwayPipe.request("1", "secret/list"), SlipwayPipe.request("2", "event/list"),
                     SlipwayPipe.request("3", "secret/create", #"{"name":"after","registry":{"server":"x","username":"u","password":"p"}}"#),
                     SlipwayPipe.request("4", "clusterstack/create", #"{"name":"s","buildImage":"\#(rootfs.path)","runImage":"\#(rootfs.path)"}"#)].joined(separator: "\n") + "\n"
        // In one process, so that it is Slipway starting on the full disk that is tested.
        let r = try await SlipwayPipe.run(Array(input.utf8), state: state, arguments: ["--embedded"], wrapper: wrapper)
        #expect(r.code == 0, "\(r.err)")
        let byID = Dictionary(uniqueKeysWithValues: r.lines.compactMap { l -> (Int, JSONValue)? in
            guard let v = try? JSONParser.parse(Array(l.utf8)), let id = v["id"]?.int else { return nil }
            return (id, v)
        })
        #expect(byID[1]?["result"]?["secrets"]?.arrayValue?.count == 1, "\(r.lines)")
        #expect(byID[2]?["result"] != nil)
        for id in [3, 4] {
            #expect(byID[id]?["error"]?["code"] == 1006, "\(r.lines)")
            #expect(byID[id]?["error"]?["message"]?.stringValue?.contains("no space left on device in \(state)") == true, "\(r.lines)")
        }
    }
}
