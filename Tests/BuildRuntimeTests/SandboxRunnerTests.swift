import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// The bwrap arguments a step runs with, checked without running a step.
@Suite struct SandboxRunnerTests {
    /// Every tmpfs of a buildpack step and of a Dockerfile step has a size, and /dev (bwrap's,
    /// which cannot have one) is read-only.
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func everyTmpfsOfAStepHasASize() throws {
        let sandbox = try SandboxRunner(tmpfsBytes: 32 << 20)
        let rootfs = TempDir("rootfs")
        try FileManager.default.createDirectory(atPath: rootfs.path + "/usr", withIntermediateDirectories: true)
        let buildpack = try sandbox.arguments(rootfs: rootfs.path, mounts: [], scratch: ["/home/cnb"], environment: [:], workingDirectory: "/", command: ["true"])
        let dockerfile = sandbox.stepArguments(user: (1000, 1000), environment: [:], workingDirectory: "/", command: ["true"])
        for args in [buildpack, dockerfile] {
            let flags = args.prefix { $0 != "--" }
            let sized = flags.indices.filter { flags[$0] == "--tmpfs" }.map { (flags[$0 + 1], flags[$0 - 2] == "--size" ? Int64(flags[$0 - 1]) : nil) }
            #expect(sized.allSatisfy { $0.1 != nil }, "\(sized)")
            #expect(sized.contains { $0.0 == "/dev/shm" && $0.1 == 32 << 20 }, "\(sized)")
            // /dev is read-only once bwrap made it and placed what goes in it.
            let dev = flags.firstIndex(of: "--dev")
            let sealed = flags.indices.first { flags[$0] == "--remount-ro" && flags[$0 + 1] == "/dev" }
            #expect(dev != nil && sealed != nil && sealed! > dev!, "\(flags)")
            #expect(!flags.indices.contains { $0 > (sealed ?? 0) && flags[$0].hasPrefix("/dev/") && flags[$0] != "/dev/shm" }, "\(flags)")
        }
        #expect(buildpack.contains("/tmp") && buildpack.indices.contains { buildpack[$0] == "--tmpfs" && buildpack[$0 + 1] == "/home/cnb" && buildpack[$0 - 1] == String(32 << 20) })
    }
}
