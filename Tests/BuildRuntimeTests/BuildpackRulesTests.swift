import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

@Suite struct BuildPlanResolverTests {
    typealias R = PlanOption.Requirement

    @Test func emptyPlansPass() {
        let g = BuildPlanResolver.resolve([DetectedBuildpack(id: "a", optional: false, options: [PlanOption()])])
        #expect(g?.buildpackIDs == ["a"])
    }

    @Test func requiresMustBeProvidedByTheSameOrAnEarlierBuildpack() {
        let node = DetectedBuildpack(id: "node", optional: false, options: [PlanOption(provides: ["node"])])
        let npm = DetectedBuildpack(id: "npm", optional: false, options: [PlanOption(requires: [R(name: "node", metadata: TOMLTable([("version", .string("18"))]))])])
        let g = BuildPlanResolver.resolve([node, npm])
        #expect(g?.buildpackIDs == ["node", "npm"])
        #expect(g?.plans["node"]?.first?.metadata["version"]?.string == "18")
        #expect(g?.plans["npm"] == [])
        // Wrong order: the requirement comes before the provision.
        #expect(BuildPlanResolver.resolve([npm, node]) == nil)
    }

    @Test func provisionsMustBeRequired() {
        let lonely = DetectedBuildpack(id: "a", optional: false, options: [PlanOption(provides: ["x"])])
        #expect(BuildPlanResolver.resolve([lonely]) == nil)
    }

    @Test func orAlternativesAreTriedInOrder() {
        let a = DetectedBuildpack(id: "a", optional: false, options: [PlanOption(provides: ["x"]), PlanOption(provides: ["y"])])
        let b = DetectedBuildpack(id: "b", optional: false, options: [PlanOption(requires: [R(name: "y")])])
        let g = BuildPlanResolver.resolve([a, b])
        #expect(g?.buildpackIDs == ["a", "b"])
        #expect(g?.plans["a"]?.map(\.name) == ["y"])
    }

    @Test func optionalBuildpacksThatDoNotFitAreLeftOut() {
        let a = DetectedBuildpack(id: "a", optional: false, options: [PlanOption()])
        let opt = DetectedBuildpack(id: "opt", optional: true, options: [PlanOption(requires: [R(name: "nothing-provides-this")])])
        #expect(BuildPlanResolver.resolve([a, opt])?.buildpackIDs == ["a"])
        let req = DetectedBuildpack(id: "req", optional: false, options: [PlanOption(requires: [R(name: "nothing-provides-this")])])
        #expect(BuildPlanResolver.resolve([a, req]) == nil)
    }
}

@Suite struct LayerEnvironmentTests {
    @Test func suffixRules() throws {
        let layer = tempDir()
        let d = layer + "/env"
        try write(d + "/PLAIN", "p")
        try write(d + "/OVER.override", "o")
        try write(d + "/DEF.default", "ignored")
        try write(d + "/NEWDEF.default", "nd")
        try write(d + "/PATH.prepend", "/layer/bin")
        try write(d + "/PATH.delim", ":")
        try write(d + "/FLAGS.append", "-O2")
        try write(d + "/FLAGS.delim", " ")
        var env = LayerEnvironment(["OVER": "old", "DEF": "kept", "PATH": "/usr/bin", "FLAGS": "-g"])
        try env.applyEnvDirectory(try ConfinedDirectory(path: layer), "env")
        #expect(env.variables["PLAIN"] == "p")
        #expect(env.variables["OVER"] == "o")
        #expect(env.variables["DEF"] == "kept")
        #expect(env.variables["NEWDEF"] == "nd")
        #expect(env.variables["PATH"] == "/layer/bin:/usr/bin")
        #expect(env.variables["FLAGS"] == "-g -O2")
    }

    /// An env file that is a symlink (to a host file, a secret) or a FIFO is refused, never read.
    @Test func envFilesThatAreNotRegularFilesAreRefused() throws {
        let host = tempDir()
        try write(host + "/secret", "s3cr3t-value")
        for plant in ["symlink", "fifo", "symlinked-folder"] {
            let layer = tempDir()
            try write(layer + "/env/OK", "fine")
            switch plant {
            case "symlink": symlink(host + "/secret", layer + "/env/LEAK")
            case "fifo": mkfifo(layer + "/env/LEAK", 0o644)
            default:
                try FileManager.default.removeItem(atPath: layer + "/env")
                symlink(host, layer + "/env")
            }
            var env = LayerEnvironment([:])
            #expect(throws: ConfinedPathError.self, "\(plant)") { try env.applyEnvDirectory(try ConfinedDirectory(path: layer), "env") }
            #expect(!env.variables.values.contains("s3cr3t-value"))
            #expect(throws: ConfinedPathError.self, "\(plant)") { try LayerEnvironment.checkMetadataFiles(in: try ConfinedDirectory(path: layer)) }
        }
    }

    @Test func launchProcessesFromLaunchTOML() throws {
        let t = try TOMLParser.parse("""
            [[processes]]
            type = "web"
            command = ["node", "server.js"]
            args = ["--port", "8080"]
            default = true
            working-dir = "/workspace/app"

            [[processes]]
            type = "legacy"
            command = "echo hi"
            """)
        // Buildpack API 0.9 and later: a list runs directly and its args are defaults.
        let p = LaunchProcess.parse(t, buildpackID: "x/node", api: "0.10")
        #expect(p.count == 2)
        #expect(p[0] == LaunchProcess(type: "web", command: ["node", "server.js"], args: ["--port", "8080"], isDefault: true,
                                      workingDirectory: "/workspace/app", buildpackID: "x/node", direct: true, argsAreDefaults: true))
        #expect(p[1].command == ["echo hi"] && !p[1].direct)
        // Before 0.9: a string command runs through a shell unless direct, and args are appended to.
        let old = LaunchProcess.parse(try TOMLParser.parse("""
            [[processes]]
            type = "web"
            command = "node"
            args = ["server.js"]
            direct = true
            """), buildpackID: "x/old", api: "0.8")
        #expect(old.first?.direct == true && old.first?.argsAreDefaults == false && old.first?.command == ["node"])
        let conf = LauncherConfiguration(layers: ["/layers/x/a"], processes: p, defaultProcess: "web").encoded()
        let tokens = conf.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        #expect(Array(tokens.prefix(14)) == ["layer", "/layers/x/a", "process", "web", "/workspace/app", "direct", "replace", "2", "node", "server.js",
                                             "2", "--port", "8080", "process"])
    }
}

/// Secrets are scoped to scheme, host and port exactly, and to whole path segments.
@Suite struct CredentialScopeTests {
    func covers(_ secret: String, _ url: String) -> Bool {
        guard let s = CredentialScope(secret), let u = CredentialScope(url) else { return false }
        return s.covers(u)
    }

    @Test func gitSecretsMatchOriginAndWholeSegments() {
        #expect(covers("http://127.0.0.1:8001/", "http://127.0.0.1:8001/private.git"))
        #expect(covers("https://github.com", "https://github.com/org/app.git"))
        #expect(covers("https://github.com/org", "https://github.com/org/app.git"))
        #expect(covers("https://github.com/org/app", "https://github.com/org/app.git"))
        #expect(covers("https://GitHub.com/org", "https://github.com:443/org/x"))
        #expect(covers("git@github.com:org", "ssh://git@github.com/org/x.git"))
        // The prefix attacks of the report, and their relatives.
        #expect(!covers("http://127.0.0.1:800", "http://127.0.0.1:8001/private.git"))
        #expect(!covers("https://github.com", "https://github.com.evil.example/org/x"))
        #expect(!covers("https://github.com/org", "https://github.com/org-evil/x"))
        #expect(!covers("https://github.com/org", "http://github.com/org/x"))
        #expect(!covers("http://127.0.0.1", "http://127.0.0.1:8001/x"))
        #expect(!covers("https://user@github.com", "https://github.com.evil.example"))
        #expect(CredentialScope("file:///srv/repo.git") == nil)
    }

    @Test func registryServersMatchHostAndPort() {
        #expect(CredentialScope.registryServer("127.0.0.1:5000", matches: "127.0.0.1:5000"))
        #expect(CredentialScope.registryServer("https://r.example/v2/", matches: "r.example"))
        #expect(CredentialScope.registryServer("r.example:443", matches: "r.example"))
        #expect(CredentialScope.registryServer("http://127.0.0.1:5000", matches: "127.0.0.1:5000"))
        #expect(!CredentialScope.registryServer("127.0.0.1:500", matches: "127.0.0.1:5000"))
        #expect(!CredentialScope.registryServer("r.example", matches: "r.example.evil.example"))
        #expect(!CredentialScope.registryServer("r.example", matches: "r.example:5000"))
    }
}

@Suite struct RegistryClientTests {
    @Test func httpsUnlessLoopbackOrInsecure() {
        #expect(RegistryClient(host: "registry.example.com", insecure: false, credentials: nil).url("x/manifests/1").absoluteString
                == "https://registry.example.com/v2/x/manifests/1")
        #expect(RegistryClient(host: "127.0.0.1:5000", insecure: true, credentials: nil).url("").scheme == "http")
        // Loopback: https first (a local TLS registry), plain HTTP when the handshake fails.
        let local = RegistryClient(host: "127.0.0.1:5000", insecure: false, credentials: nil)
        #expect(local.url("").scheme == "https" && local.fallsBackToHTTP)
        #expect(!RegistryClient(host: "registry.example.com", insecure: false, credentials: nil).fallsBackToHTTP)
        #expect(RegistryClient.isLoopback("127.0.0.1:5000"))
        #expect(RegistryClient.isLoopback("localhost"))
        #expect(!RegistryClient.isLoopback("10.0.0.1:5000"))
        #expect(!RegistryClient.isLoopback("registry.example.com"))
        // Parsed as addresses: a name that merely starts with "127." is not loopback.
        #expect(!RegistryClient.isLoopback("127.evil.example:5000"))
        #expect(RegistryClient.isLoopback("[::1]:5000"))
        #expect(RegistryClient.isLoopback("127.1.2.3"))
    }

    /// Credentials go only to plain HTTP hosts that are loopback or named insecure.
    @Test func credentialsTravelOverPlainHTTPOnlyToLoopbackOrInsecureHosts() {
        let c = RegistryClient(host: "127.0.0.1:5000", insecure: true, credentials: .init(username: "u", password: "p"), insecureHosts: ["reg.lan:5000"])
        #expect(c.mayCarryCredentials(URL(string: "https://auth.example.com/token")!))
        #expect(c.mayCarryCredentials(URL(string: "http://127.0.0.1:9/token")!))
        #expect(c.mayCarryCredentials(URL(string: "http://reg.lan:5000/token")!))
        #expect(!c.mayCarryCredentials(URL(string: "http://auth.example.com/token")!))
        #expect(!c.mayCarryCredentials(URL(string: "http://reg.lan:5001/token")!))
        #expect(!c.mayCarryCredentials(URL(string: "http://127.evil.example/token")!))
    }

    @Test func bearerChallengeParameters() {
        let p = RegistryClient.parseChallenge(#" realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#)
        #expect(p == ["realm": "https://auth.example.com/token", "service": "registry.example.com", "scope": "repository:a/b:pull,push"])
    }

    @Test func imageReferences() throws {
        #expect(try ImageReference.parse("127.0.0.1:5000/team/app:1.0", field: "t") == .registry(host: "127.0.0.1:5000", repository: "team/app", tag: "1.0", digest: nil))
        #expect(try ImageReference.parse("ubuntu", field: "t") == .registry(host: "docker.io", repository: "library/ubuntu", tag: "latest", digest: nil))
        #expect(try ImageReference.parse("oci:/tmp/layout", field: "t") == .layout(path: "/tmp/layout", tag: "latest"))
        #expect(try ImageReference.parse("oci:/tmp/layout:v2", field: "t") == .layout(path: "/tmp/layout", tag: "v2"))
        #expect(try ImageReference.parse("/srv/rootfs", field: "t") == .rootfs(path: "/srv/rootfs"))
        #expect(throws: RuntimeError.self) { try ImageReference.parse("Upper/Case:1", field: "t") }
        #expect(throws: RuntimeError.self) { try ImageReference.parse("oci:relative", field: "t") }
    }
}
