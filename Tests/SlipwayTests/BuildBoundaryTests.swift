import Foundation
import JSONRPC
import Testing
import TestSupport

/// The host side of the build boundary, attacked by a buildpack (Fixtures/buildpacks/hostile)
/// that plants symlinks to host paths, and FIFOs, wherever the host reads or writes what a
/// step made: env files, layer folders, layer metadata, launch.toml, exec.d, its plan output,
/// another buildpack's layers folder. None may be followed: each fails the build with a
/// message naming the buildpack and the path, and no host content reaches the logs, the
/// content store or the image; no host file is written.
@Suite struct BuildBoundaryTests {
    /// The attacks that must fail the build, and the path the message must name.
    static let refused: [(attack: String, path: String)] = [
        ("env-symlink", "/layers/test_hostile/evil/env/LEAK"),
        ("env-folder-symlink", "/layers/test_hostile/evil/env"),
        ("launch-layer-symlink", "/layers/test_hostile/evil"),
        ("cache-layer-symlink", "/layers/test_hostile/evil"),
        ("toml-symlink", "/layers/test_hostile/evil.toml"),
        ("toml-fifo", "/layers/test_hostile/evil.toml"),
        ("launch-toml-symlink", "/layers/test_hostile/launch.toml"),
        ("execd-symlink", "/layers/test_hostile/evil/exec.d/run"),
        ("plan-symlink", "/tmp/cnb-io/test_hostile.detect/plan.toml"),
        ("plan-fifo", "/tmp/cnb-io/test_hostile.detect/plan.toml"),
        ("layers-folder-symlink", "/layers/test_printer"),
    ]

    @Test func symlinksAndFIFOsAStepPlantsAreNeverFollowed() async throws {
        let state = TempDir("state")
        let host = TempDir("host")
        let marker = "HOST-MARKER-" + UUID().uuidString
        let hostFile = host.path + "/secret"
        try marker.write(toFile: hostFile, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: host.path + "/folder", withIntermediateDirectories: true)
        try marker.write(toFile: host.path + "/folder/LEAK", atomically: false, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(
            extraBuildpacks: ["hostile", "printer"].map { Repo.fixtures.appendingPathComponent("buildpacks/" + $0).path },
            order: [["group": [["id": "test/hostile"], ["id": "test/printer"]]]])
        // Slipway's own secret files are the obvious target.
        _ = try await c.call("secret/create", ["name": "reg", "registry": ["server": "r.example", "username": "u", "password": .string("pw-" + marker)]])
        let secretFile = state.path + "/secrets/default/reg.json"

        let apps = TempDir("apps")
        var writeTargets: [String] = []
        for (i, (attack, _)) in Self.refused.enumerated() {
            let app = apps.path + "/\(attack)"
            try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
            let target: String
            switch attack {
            case "env-symlink": target = secretFile
            case "plan-symlink":
                target = host.path + "/written-by-the-host"
                writeTargets.append(target)
            case "launch-toml-symlink", "toml-symlink", "execd-symlink": target = hostFile
            default: target = host.path + "/folder"
            }
            try attack.write(toFile: app + "/ATTACK", atomically: false, encoding: .utf8)
            try target.write(toFile: app + "/TARGET", atomically: false, encoding: .utf8)
            _ = try await c.call("image/create", ["name": .string("attack-\(i)"), "source": ["local": ["path": .string(app)]]])
        }
        for (i, (attack, path)) in Self.refused.enumerated() {
            let b = try await c.call("build/wait", ["image": .string("attack-\(i)"), "build": 1])
            #expect(b["status"] == "FAILURE", "\(attack) was not refused")
            let message = b["message"]?.stringValue ?? ""
            #expect(message.contains("test/hostile@1.0.0") || message.contains("test/printer@1.0.0"), "\(attack): \(message)")
            #expect(message.contains("'\(path)'"), "\(attack): \(message)")
            let lines = try await c.call("build/logs", ["image": .string("attack-\(i)"), "build": 1])["lines"]?.arrayValue ?? []
            #expect(!lines.contains { $0["line"]?.stringValue?.contains(marker) == true }, "\(attack) leaked host content into the log")
            #expect(!lines.contains { $0["line"]?.stringValue?.contains("\"username\"") == true }, "\(attack) leaked a secret file")
        }
        // Nothing was written through a planted link, and no host content is in the content store.
        for t in writeTargets { #expect(!FileManager.default.fileExists(atPath: t), "the host wrote through a symlink to \(t)") }
        let grep = try await sh("grep -rl '\(marker)' '\(state.path)/blobs' '\(state.path)/layouts' '\(state.path)/cache' 2>/dev/null || true")
        #expect(grep.out.isEmpty, "host content reached the state directory: \(grep.out)")
        #expect(try String(contentsOfFile: hostFile, encoding: .utf8) == marker)
    }

    /// Symlinks inside a launch layer and the app are exported as symlinks, never followed.
    @Test func symlinksInsideLayersAreExportedAsSymlinks() async throws {
        let state = TempDir("state")
        let host = TempDir("host")
        let marker = "HOST-MARKER-" + UUID().uuidString
        try marker.write(toFile: host.path + "/secret", atomically: false, encoding: .utf8)
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(
            extraBuildpacks: ["hostile", "printer"].map { Repo.fixtures.appendingPathComponent("buildpacks/" + $0).path },
            order: [["group": [["id": "test/hostile"], ["id": "test/printer"]]]])
        let app = TempDir("app")
        try "inner-symlink".write(toFile: app.path + "/ATTACK", atomically: false, encoding: .utf8)
        try (host.path + "/secret").write(toFile: app.path + "/TARGET", atomically: false, encoding: .utf8)
        _ = try await c.call("image/create", ["name": "inner", "source": ["local": ["path": .string(app.path)]]])
        let b = try await c.call("build/wait", ["image": "inner", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let layout = state.path + "/layouts/default/inner"
        let bundle = try await UnpackedImage(layout: layout)
        let rootfs = bundle.rootfs
        for p in ["/layers/test_hostile/evil/hostfile", "/workspace/hostfile"] {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: rootfs + p) == host.path + "/secret")
        }
        let grep = try await sh("grep -rl '\(marker)' '\(state.path)/blobs' '\(layout)' 2>/dev/null || true")
        #expect(grep.out.isEmpty, "host content reached the image: \(grep.out)")
    }

    /// One sandbox runs a phase's steps (`PhaseSandbox`): a step's processes end with it, so
    /// nothing it started runs on into the next buildpack's step or while the host reads what
    /// it left; and a step cannot reach the driver's descriptors to forge another step's
    /// status (the driver is not dumpable, so its /proc/PID/fd is closed to the step's user), or
    /// kill it (`kill -9 1 -1`: it is the namespace's first process).
    @Test func aPhasesStepsCannotOutliveTheirStepOrReachTheDriver() async throws {
        let state = TempDir("state")
        let bps = TempDir("phase-bps")
        for (id, build) in [
            ("leaver", #"(while true; do date +%s%N >> /workspace/leftover.txt; sleep 0.01; done) & echo $! > /tmp/leftover.pid; echo "leaver: started $(cat /tmp/leftover.pid)""#),
            ("checker", #"""
                pid=$(cat /tmp/leftover.pid); if kill -0 "$pid" 2>/dev/null; then echo "checker: leftover alive"; else echo "checker: leftover gone"; fi
                (echo 0 > /proc/$PPID/fd/7) 2>/dev/null && echo "checker: forged" || echo "checker: driver closed"
                ls /proc/self/fd | tr '\n' ' ' | sed 's/^/checker: fds /'; echo
                kill -9 1 -1 2>/dev/null; echo "checker: still here"
                printf '[[processes]]\ntype = "web"\ncommand = ["true"]\ndefault = true\n' > "$1/launch.toml"
                """#),
        ] {
            let dir = bps.path + "/" + id
            try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
            try "api = \"0.10\"\n[buildpack]\nid = \"test/\(id)\"\nversion = \"1.0.0\"\n".write(toFile: dir + "/buildpack.toml", atomically: true, encoding: .utf8)
            try "#!/usr/bin/env bash\nexit 0\n".write(toFile: dir + "/bin/detect", atomically: true, encoding: .utf8)
            try "#!/usr/bin/env bash\n\(build)\n".write(toFile: dir + "/bin/build", atomically: true, encoding: .utf8)
            for f in ["detect", "build"] { chmod(dir + "/bin/" + f, 0o755) }
        }
        let c = try SlipwayClient(stateDir: state.path)
        try await c.setUpDefaultBuilder(extraBuildpacks: [bps.path + "/leaver", bps.path + "/checker"],
                                        order: [["group": [["id": "test/leaver"], ["id": "test/checker"]]]])
        _ = try await c.call("image/create", ["name": "phase", "source": ["local": ["path": .string(HelloApp.path)]]])
        let b = try await c.call("build/wait", ["image": "phase", "build": 1])
        #expect(b["status"] == "SUCCESS", "\(JSONWriter.string(b))")
        let lines = try await c.call("build/logs", ["image": "phase", "build": 1])["lines"]?.arrayValue?.compactMap { $0["line"]?.stringValue } ?? []
        #expect(lines.contains { $0.hasPrefix("leaver: started ") }, "\(lines)")
        #expect(lines.contains("checker: leftover gone"), "\(lines)")
        #expect(lines.contains("checker: driver closed") && lines.contains("checker: still here"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("checker: fds ") && $0.split(separator: " ").count <= 6 }, "a step holds more than stdio: \(lines)")
    }
}
