import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

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
