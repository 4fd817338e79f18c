import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

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

/// Layers unpacked for a Dockerfile step keep their owners (mapped onto the namespace's host
/// ids) and their setuid bits.
@Suite struct MappedLayerExtractionTests {
    static func layer(at path: String) throws {
        let script = """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w") as t:
                def add(name, kind, uid, gid, mode, data=b"", link=""):
                    i = tarfile.TarInfo(name); i.type = kind; i.uid = uid; i.gid = gid; i.mode = mode; i.size = len(data); i.linkname = link
                    t.addfile(i, io.BytesIO(data) if data else None)
                add("home", tarfile.DIRTYPE, 0, 0, 0o755)
                add("home/app", tarfile.DIRTYPE, 1000, 1001, 0o750)
                add("home/app/data", tarfile.REGTYPE, 1000, 1001, 0o640, b"secret")
                add("su", tarfile.REGTYPE, 0, 0, 0o4755, b"#!/bin/sh\\n")
                add("link", tarfile.SYMTYPE, 5, 5, 0o777, link="su")
                add("far", tarfile.REGTYPE, 70000, 70000, 0o644, b"x")
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script, path]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func ownersAndSetuidBitsAreKeptMapped() throws {
        let dir = tempDir()
        try Self.layer(at: dir + "/layer.tar")
        let mapping = try IDMapping.forCurrentUser()
        let summary = try ArchiveExtractor(policy: .imageLayer, owners: mapping).extract(archiveAt: dir + "/layer.tar", into: dir + "/root")
        var st = stat()
        if getuid() != 0 {
            // Ids other than one's own cannot be given away: those entries stay the user's.
            print("MappedLayerExtractionTests: not root (uid \(getuid())): \(summary.unowned) entries keep the extracting user as owner")
            #expect(summary.unowned > 0)
            return
        }
        #expect(summary.unowned == 0)
        #expect(lstat(dir + "/root/home/app", &st) == 0 && st.st_uid == IDMapping.root.users[0].outer + 1000 && st.st_gid == IDMapping.root.groups[0].outer + 1001)
        #expect(st.st_mode & 0o7777 == 0o750)
        #expect(lstat(dir + "/root/home/app/data", &st) == 0 && st.st_uid == IDMapping.root.users[0].outer + 1000 && st.st_mode & 0o7777 == 0o640)
        #expect(lstat(dir + "/root/su", &st) == 0 && st.st_uid == IDMapping.root.users[0].outer && st.st_mode & 0o7777 == 0o4755)
        #expect(lstat(dir + "/root/link", &st) == 0 && st.st_uid == IDMapping.root.users[0].outer + 5)
        // An id outside the namespace's range becomes its nobody.
        #expect(lstat(dir + "/root/far", &st) == 0 && st.st_uid == IDMapping.root.users[0].outer + 65534)

        // Without a mapping (a buildpacks stack): the extracting user's, no setuid bit.
        try ArchiveExtractor(policy: .imageLayer).extract(archiveAt: dir + "/layer.tar", into: dir + "/plain")
        #expect(lstat(dir + "/plain/su", &st) == 0 && st.st_uid == getuid() && st.st_mode & 0o7777 == 0o755)
    }
}
