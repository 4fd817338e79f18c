import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// RUN steps one after another: each over the base image's root filesystem and the layers of
/// the steps before it, each leaving its own layer.
@Suite struct OverlayStepRunnerTests {
    /// A step runner over `layers`, whose layer `base` is the host stack's build image,
    /// unpacked with its owners mapped and given to the namespace's root.
    static func runnerOnTheHostStack(layers: String, work: String) async throws -> (OverlayStepRunner, IDMapping) {
        let mapping = try IDMapping.forCurrentUser()
        let runner = OverlayStepRunner(sandbox: try SandboxRunner(), namespace: UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping),
                                       layersRoot: layers)
        let packed = try await sh("tar -C '\(HostStack.build)' -cf '\(work)/base.tar' .")
        guard packed.status == 0 else { throw TestFailure("tar: \(packed.err)") }
        try FileManager.default.createDirectory(atPath: layers, withIntermediateDirectories: true)
        try ArchiveExtractor(policy: .imageLayer, owners: mapping).extract(archiveAt: work + "/base.tar", into: layers + "/base")
        try runner.giveToNamespaceRoot(layers + "/base")
        return (runner, mapping)
    }

    /// A step whose sandbox cannot start (here the helper cannot open a mount's source) fails
    /// saying why, in the helper's or bwrap's own words and with the exit status, also when it
    /// has the public network (where the sandbox starts in two halves, `StepNetwork`, and the
    /// failure once said only that the sandbox "did not say its pid").
    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun),
          arguments: StepNetwork.unavailableReason() == nil ? [false, true] : [false])  // the public network where this machine gives it
    func aStepThatCannotStartSaysWhy(_ publicNetwork: Bool) async throws {
        let work = TempDir("cannot-start")
        let layers = work.path + "/layers"
        let (runner, _) = try await Self.runnerOnTheHostStack(layers: layers, work: work.path)
        let missing = work.path + "/no-such-cache-folder"
        let lines = LineCollector()
        do {
            _ = try await runner.run(lowers: ["base"], user: (0, 0), environment: ["PATH": "/usr/bin:/bin"], workingDirectory: "/",
                                     mounts: [.init(.folder(missing), at: "/cache", writable: true)], publicNetwork: publicNetwork,
                                     command: ["/bin/true"]) { _, l in lines.add(l) }
            Issue.record("the step ran: \(lines.all)")
        } catch {
            let message = "\(error)"
            #expect(message.contains(missing) && !message.contains("did not say its pid"), "\(message)")
        }
        let steps = (try? FileManager.default.contentsOfDirectory(atPath: layers + "/.steps")) ?? []  // none made: nothing to check
        #expect(steps.isEmpty, "the step's folders stayed: \(steps)")
    }

    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func stepsChainTheirLayers() async throws {
        let work = TempDir("steps")
        let layers = work.path + "/layers:odd,name"  // a path overlay options could not hold as it is
        let (runner, mapping) = try await Self.runnerOnTheHostStack(layers: layers, work: work.path)

        let lines = LineCollector()
        let env = ["PATH": "/usr/bin:/bin", "HOME": "/root"]
        let (one, first) = try await runner.run(lowers: ["base"], user: (0, 0), environment: env, workingDirectory: "/",
                                                command: ["/bin/sh", "-c", "set -e; mkdir -p /srv; echo one > /srv/one; install -d -o 1000 -g 1000 /home/app; id -u"]) { _, l in lines.add(l) }
        #expect(one == 0, "\(lines.all)")
        #expect(lines.all.contains("0"))
        try FileManager.default.moveItem(atPath: first.upper, toPath: layers + "/step1")
        try await runner.remove(first)

        // As user 1000 over step 1 and the base: its home is writable, /etc is not.
        let (two, second) = try await runner.run(lowers: ["step1", "base"], user: (1000, 1000), environment: env, workingDirectory: "/home/app",
                                                 command: ["/bin/sh", "-c", "cat /srv/one; touch mine; id -u; touch /etc/nope || echo refused"]) { _, l in lines.add(l) }
        #expect(two == 0, "\(lines.all)")
        #expect(lines.all.contains("one") && lines.all.contains("1000") && lines.all.contains("refused"), "\(lines.all)")
        let store = try ContentStore(root: URL(fileURLWithPath: work.path + "/store"))
        let w = try store.writer()
        let tar = TarWriter(out: w)
        try OverlayDiff.write(upper: try ConfinedDirectory(path: second.upper), mapping: mapping, into: tar)
        try tar.finish()
        let listing = try await sh("tar -tvf '\(store.path(try w.commit().digest))' --numeric-owner | awk '{print $2, $6}'").out
        #expect(listing.split(separator: "\n").contains("1000/1000 home/app/mine"), "\(listing)")
        #expect(!listing.contains("srv/one") && !listing.contains("etc/nope"), "\(listing)")
        try await runner.remove(second)
        #expect(!FileManager.default.fileExists(atPath: second.root))
    }
}
