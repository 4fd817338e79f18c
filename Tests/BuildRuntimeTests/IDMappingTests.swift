import Foundation
import Testing
@testable import BuildRuntime

/// The id maps of a Dockerfile step's user namespace, and the helper's command line.
@Suite struct IDMappingTests {
    @Test func rootMapsAWholeRangeNoAccountUses() {
        let m = IDMapping.root
        #expect(m.users == [.init(inner: 0, outer: 2_147_418_112, count: 65536)] && m.groups == m.users && !m.viaNewuidmap)
        #expect(IDMapping.outer(1000, in: m.users) == 2_147_419_112)
        #expect(IDMapping.inner(2_147_419_112, in: m.users) == 1000)
        #expect(IDMapping.inner(0, in: m.users) == nil && IDMapping.outer(65536, in: m.users) == nil)
    }

    @Test func aUserMapsRootOntoThemselvesAndTheRestOntoTheirRange() throws {
        let m = try IDMapping.forUser(uid: 1001, name: "dev", gid: 1001, groupName: "dev",
                                      subuid: "other:100000:65536\ndev:165536:10\ndev:200000:65536\n", subgid: "1001:300000:70000\n")
        #expect(m.viaNewuidmap)
        #expect(m.users == [.init(inner: 0, outer: 1001, count: 1), .init(inner: 1, outer: 200000, count: 65535)])
        #expect(m.groups == [.init(inner: 0, outer: 1001, count: 1), .init(inner: 1, outer: 300000, count: 65535)])
        #expect(IDMapping.outer(0, in: m.users) == 1001 && IDMapping.outer(1000, in: m.users) == 200999)
        #expect(IDMapping.inner(1001, in: m.users) == 0 && IDMapping.inner(200999, in: m.users) == 1000)
    }

    @Test func noRangeSaysHowToAddOne() {
        #expect {
            try IDMapping.forUser(uid: 1001, name: "dev", gid: 1001, groupName: "dev", subuid: "dev:100000:100\n", subgid: "dev:100000:65536\n")
        } throws: { e in
            let m = (e as? RuntimeError)?.message ?? ""
            return m.contains("/etc/subuid") && m.contains("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 dev")
        }
    }

    @Test func helperArguments() {
        let runner = UserNamespaceRunner(helper: "/bin/slipway-userns", mapping: IDMapping(
            users: [.init(inner: 0, outer: 5, count: 1), .init(inner: 1, outer: 100, count: 9)],
            groups: [.init(inner: 0, outer: 6, count: 1)], viaNewuidmap: true))
        #expect(runner.arguments(overlay: .init(base: "/l", lowers: ["b", "a"], upper: "u", work: "w", merged: "/m"), command: ["bwrap", "x"]) == [
            "/bin/slipway-userns", "--newuidmap", "--uid-map", "0:5:1", "--uid-map", "1:100:9", "--gid-map", "0:6:1",
            "--chdir", "/l", "--lower", "b", "--lower", "a", "--upper", "u", "--work", "w", "--merged", "/m", "--", "bwrap", "x",
        ])
        #expect(runner.arguments(overlay: nil, command: ["id"]).suffix(2) == ["--", "id"])
    }
}
