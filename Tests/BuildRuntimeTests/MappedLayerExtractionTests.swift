import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

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
