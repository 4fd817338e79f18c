import Foundation
import Synchronization
import Testing
@testable import BuildRuntime
import TestSupport

/// What a child of the engine (bwrap, and through it a build step) inherits: its standard
/// streams and the descriptors it is given, nothing else the process holds.
@Suite struct SubprocessTests {
    @Test func aChildGetsOnlyTheDescriptorsItIsGiven() async throws {
        let leaked = open("/dev/null", O_RDONLY)  // no O_CLOEXEC, as a library might leave one
        let given = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(leaked); close(given) }
        let lines = Mutex<[String]>([])
        let p = try Subprocess(["/bin/sh", "-c", "exec ls /proc/self/fd"], environment: ["PATH": "/usr/bin:/bin"], passing: [given]) { _, l in
            lines.withLock { $0.append(l) }
        }
        #expect(await p.wait() == 0)
        // ls holds one more, for the folder it lists.
        let fds = Set(lines.withLock { $0 }.compactMap { Int32($0) })
        #expect(fds.isSuperset(of: [0, 1, 2, 3]) && fds.count <= 5, "\(fds)")
        #expect(!fds.contains(leaked) || leaked <= 4, "descriptor \(leaked), left without close-on-exec, reached the child: \(fds)")
    }
}
