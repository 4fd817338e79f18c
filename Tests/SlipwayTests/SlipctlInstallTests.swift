import Foundation
import Testing
import TestSupport

/// `scripts/install.sh PREFIX` (what `make install PREFIX=…` runs after the release build) puts
/// slipway, the engine, its helpers and slipctl where they find each other, and slipctl found
/// through PATH (a symlink named `kp`, or a copy) reaches the engine, or says what to install:
/// never a crash.
@Suite struct SlipctlInstallTests {
    @Test func slipctlThroughPathFindsSlipwayOrSaysWhatToInstall() async throws {
        let prefix = TempDir("prefix"), elsewhere = TempDir("bin"), copies = TempDir("copy"), state = TempDir("state")
        let installed = try await sh("'\(Repo.root.path)/scripts/install.sh' '\(prefix.path)' '\(Repo.binDir.path)'")
        #expect(installed.status == 0, "\(installed)")
        for program in ["slipway", "slipway-engine", "slipway-launcher", "slipway-userns", "slipctl", "Slipway_SlipwayServer.resources"] {
            #expect(FileManager.default.fileExists(atPath: "\(prefix.path)/libexec/slipway/\(program)"), "\(program)")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: prefix.path + "/bin/slipctl") == "../libexec/slipway/slipctl")

        // A symlink named kp in another folder on PATH, a copy named kp in a third.
        #expect(symlink(prefix.path + "/bin/slipctl", elsewhere.path + "/kp") == 0)
        #expect(try await sh("cp '\(prefix.path)/libexec/slipway/slipctl' '\(copies.path)/kp'").status == 0)
        func kp(_ path: String) async throws -> (status: Int32, out: String, err: String) {
            try await sh("cd / && PATH='\(path)' SLIPWAY_HOME='\(state.path)' kp clusterstack list")
        }
        let system = "/usr/local/bin:/usr/bin:/bin"
        for path in ["\(elsewhere.path):\(system)", "\(elsewhere.path):\(prefix.path)/bin:\(system)", "\(copies.path):\(prefix.path)/bin:\(system)"] {
            let r = try await kp(path)
            #expect(r.status == 0 && r.out == "no clusterstacks found\n" && r.err.isEmpty, "PATH=\(path): \(r)")
        }
        // The copy with no slipway beside it nor on PATH: what to do, exit 1.
        let alone = try await kp("\(copies.path):\(system)")
        #expect(alone.status == 1 && alone.out.isEmpty, "\(alone)")
        #expect(alone.err == "Error: slipway not found beside \(copies.path)/kp or on PATH; install it with make install PREFIX=<dir> (in the Slipway checkout) and put <dir>/bin on PATH\n",
                "\(alone.err)")
        // The engine the installed slipway started is the installed one.
        let pid = try #require(SharedEngine.enginePID(state.path))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe") == "\(prefix.path)/libexec/slipway/slipway-engine")
        _ = try? await sh("'\(prefix.path)/bin/slipway' engine stop --state-dir '\(state.path)'")  // it would stop when idle anyway
    }

    @Test func installRefusesWithoutABuild() async throws {
        let prefix = TempDir("prefix"), empty = TempDir("empty")
        let r = try await sh("'\(Repo.root.path)/scripts/install.sh' '\(prefix.path)' '\(empty.path)'")
        #expect(r.status == 1 && r.err.hasPrefix("install: \(empty.path)/slipway is missing; build first"), "\(r)")
    }
}
