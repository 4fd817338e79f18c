import Foundation
import JSONRPC
import Testing
import TestSupport

/// Build steps' network, for both strategies, inside a network namespace the test makes
/// (`netns_wrapper.sh` under `unshare -n`: a private address 10.213.0.1 with an HTTP server,
/// and one on 127.0.0.1), so no traffic leaves the machine: with `public`, a RUN step and a
/// buildpack reach the server on the private address through slirp4netns and reach nothing on
/// the host's loopback; with `none`, they reach nothing. The engine's `--build-network` caps
/// what an image may ask for.
@Suite struct BuildNetworkTests {
    /// Bash's /dev/tcp: the page at ADDRESS:PORT, or "ADDRESS unreachable".
    static func fetch(_ address: String, _ port: String) -> String {
        #"(exec 3<>/dev/tcp/\#(address)/\#(port) && printf 'GET /page HTTP/1.0\r\n\r\n' >&3 && tail -n 1 <&3) 2>/dev/null || echo "\#(address) unreachable""#
    }

    /// A project.toml whose one group is an inline bash script buildpack `id` running `script`.
    static func scriptProject(id: String, _ script: String) -> String {
        """
        [_]
        schema-version = "0.2"
        [[io.buildpacks.group]]
        id = "\(id)"
        version = "0.0.1"
          [io.buildpacks.group.script]
          api = "0.10"
          shell = "/bin/bash"
          inline = '''
        \(script)
        '''
        """
    }

    @Test(.enabled(if: getuid() == 0, "making a network namespace with an interface (unshare -n, ip) needs root here"))
    func publicStepsReachTheNetworkAndNeverTheHostLoopback() async throws {
        let work = TempDir("netns")
        let ports = work.path + "/ports"
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--build-network", "public"] + Repo.hostPathArguments,
                                  wrapper: ["/usr/bin/unshare", "-n", "--", "/bin/sh", Repo.fixtures.appendingPathComponent("netns_wrapper.sh").path, ports, "--"])
        _ = try await c.call("image/list")  // the wrapper has written the ports before the engine answers
        let p = try String(contentsOfFile: ports, encoding: .utf8).split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let (publicPort, loopbackPort) = (p[0], p[1])

        // A Dockerfile image.
        try await HostStack.ociLayout(at: work.path + "/base", stackID: "io.slipway.test")
        let app = TempDir("netapp")
        try """
            FROM oci:\(work.path)/base:build
            RUN bash -c '\(Self.fetch("10.213.0.1", publicPort).replacingOccurrences(of: "'", with: "'\\''"))' > /public.txt
            RUN bash -c '\(Self.fetch("127.0.0.1", loopbackPort).replacingOccurrences(of: "'", with: "'\\''")); \(Self.fetch("10.0.2.2", loopbackPort).replacingOccurrences(of: "'", with: "'\\''"))' > /loopback.txt
            """.write(toFile: app.path + "/Dockerfile", atomically: true, encoding: .utf8)
        func build(_ name: String, network: String?) async throws -> UnpackedImage {
            var spec: JSONValue = ["name": .string(name), "strategy": "dockerfile", "source": ["local": ["path": .string(app.path)]]]
            if let network, case .object(var o) = spec { o["network"] = .string(network); spec = .object(o) }
            _ = try await c.call("image/create", spec)
            let b = try await c.call("build/wait", ["image": .string(name), "build": 1])
            #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
            return try await UnpackedImage(layout: state.path + "/layouts/default/" + name)
        }
        let open = try await build("open", network: nil)  // the engine's default: public
        #expect(try String(contentsOfFile: open.rootfs + "/public.txt", encoding: .utf8) == "served from the public address\n")
        #expect(try String(contentsOfFile: open.rootfs + "/loopback.txt", encoding: .utf8) == "127.0.0.1 unreachable\n10.0.2.2 unreachable\n")
        #expect(!FileManager.default.fileExists(atPath: open.rootfs + "/etc/resolv.conf"), "the step's resolv.conf is in no layer")
        let closed = try await build("closed", network: "none")
        #expect(try String(contentsOfFile: closed.rootfs + "/public.txt", encoding: .utf8) == "10.213.0.1 unreachable\n")

        // Buildpacks: a project.toml script buildpack fetches the page in its build step.
        try await c.setUpDefaultBuilder()
        let bpApp = TempDir("netbp")
        try Self.scriptProject(id: "example/fetch", """
            { \(Self.fetch("10.213.0.1", publicPort)); } | sed 's/^/fetched: /'
            { \(Self.fetch("10.0.2.2", loopbackPort)); } | sed 's/^/fetched: /'
            """).write(toFile: bpApp.path + "/project.toml", atomically: true, encoding: .utf8)
        try "hello\n".write(toFile: bpApp.path + "/README", atomically: true, encoding: .utf8)
        for (name, network, expected) in [("bp-open", "public", ["fetched: served from the public address", "fetched: 10.0.2.2 unreachable"]),
                                          ("bp-closed", "none", ["fetched: 10.213.0.1 unreachable", "fetched: 10.0.2.2 unreachable"])] {
            _ = try await c.call("image/create", ["name": .string(name), "network": .string(network), "source": ["local": ["path": .string(bpApp.path)]]])
            let b = try await c.call("build/wait", ["image": .string(name), "build": 1])
            #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
            let lines = try await c.call("build/logs", ["image": .string(name)])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
            #expect(lines.filter { $0.hasPrefix("fetched: ") } == expected, "\(lines)")
        }
    }

    /// A buildpack step's public network is made before the step (`StepNetworkPool`) and
    /// serves that step only: the build steps of two builds each see a network namespace of
    /// their own, not the engine's, with the loopback up (its local route is in the table).
    /// No step sends traffic anywhere.
    @Test(.enabled(if: StepNetworkProbe.slirpUsable, "slirp4netns and /dev/net/tun are needed for the public network"))
    func eachBuildpackStepGetsANetworkOfItsOwn() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path, arguments: ["--build-network", "public"] + Repo.hostPathArguments)
        try await c.setUpDefaultBuilder()
        let app = TempDir("netns-app")
        try Self.scriptProject(id: "example/probe", """
            echo "netns: $(readlink /proc/self/ns/net)"
            grep -A1 -w 127.0.0.1 /proc/self/net/fib_trie | grep -q 'host LOCAL' && echo "loopback: up" || echo "loopback: down"
            """).write(toFile: app.path + "/project.toml", atomically: true, encoding: .utf8)
        var namespaces: [String] = []
        for name in ["one", "two"] {
            _ = try await c.call("image/create", ["name": .string(name), "network": "public", "source": ["local": ["path": .string(app.path)]]])
            let b = try await c.call("build/wait", ["image": .string(name), "build": 1])
            #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
            let lines = try await c.call("build/logs", ["image": .string(name)])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
            namespaces += lines.filter { $0.hasPrefix("netns: ") }
            let loopback = lines.filter { $0.hasPrefix("loopback: ") }
            #expect(loopback == ["loopback: up"], "\(lines)")
        }
        let engine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(try #require(SharedEngine.enginePID(state.path)))/ns/net")
        #expect(namespaces.count == 2 && Set(namespaces).count == 2, "\(namespaces)")
        #expect(!namespaces.contains("netns: " + engine), "\(namespaces) \(engine)")
    }

    /// `--build-network none` is the most an image may ask for: asking more is refused, and
    /// changing the network is a CONFIG reason.
    @Test func theEngineCapsTheNetwork() async throws {
        let state = TempDir("state")
        let c = try SlipwayClient(stateDir: state.path)  // tests run with --build-network none
        try await c.setUpDefaultBuilder()
        let app = HelloApp.path
        let refused = try await c.request("image/create", ["name": "n", "network": "public", "source": ["local": ["path": .string(app)]]])
        #expect(refused["error"]?["code"] == -32602 && refused["error"]?["data"]?["field"] == "network", "\(refused)")
        #expect(refused["error"]?["message"]?.stringValue?.contains("--build-network none") == true)
        #expect(try await c.call("image/list")["images"] == [])
        let wrong = try await c.request("image/create", ["name": "n", "network": "host", "source": ["local": ["path": .string(app)]]])
        #expect(wrong["error"]?["code"] == -32602, "\(wrong)")
        _ = try await c.call("image/create", ["name": "n", "network": "none", "source": ["local": ["path": .string(app)]]])
        #expect(try await c.call("build/wait", ["image": "n", "build": 1])["status"] == "SUCCESS")
        let patched = try await c.call("image/patch", ["name": "n", "network": "none"])
        #expect(patched["build"] == nil && patched["changed"] == false, "the same network is no change: \(patched)")
    }
}

/// Whether this machine can give a step the public network.
enum StepNetworkProbe {
    static var slirpUsable: Bool {
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return FileManager.default.isExecutableFile(atPath: "/usr/bin/slirp4netns")
    }
}
