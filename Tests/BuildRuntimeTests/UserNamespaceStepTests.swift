import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// `slipway-userns` with the real kernel, overlayfs and bwrap: a step runs as root of a
/// namespace of 65,536 ids over an overlay of a layer; what it changes lands in the upper
/// folder with ids shifted into the mapped range, deletions as whiteouts and replaced folders
/// marked opaque.
@Suite struct UserNamespaceStepTests {
    /// A lower layer from the host stack, owned by the namespace's root.
    static func overlayFolders() async throws -> (TempDir, IDMapping) {
        let dir = TempDir("ovl")
        let mapping = try IDMapping.forCurrentUser()
        let owner = IDMapping.outer(0, in: mapping.users)!, group = IDMapping.outer(0, in: mapping.groups)!
        let r = try await sh("""
            set -e
            cd '\(dir.path)'
            mkdir upper work merged
            cp -a '\(HostStack.build)' lower
            mkdir -p lower/srv/keep lower/srv/replace lower/proc lower/dev && echo a > lower/srv/replace/old && echo k > lower/srv/keep/k
            \(getuid() == 0 ? "chown -R \(owner):\(group) ." : "true")
            """)
        guard r.status == 0 else { throw TestFailure("preparing the overlay: \(r.err)") }
        return (dir, mapping)
    }

    /// bwrap over the merged folder, where the helper mounts it for the command (/tmp/slipway-root).
    static func step(_ dir: TempDir, _ mapping: IDMapping, _ script: String) async throws -> (status: Int32, out: String, err: String) {
        let runner = UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping)
        let bwrap = ["bwrap", "--bind", "/tmp/slipway-root", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                     "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
                     "--", "sh", "-c", script]
        let args = runner.arguments(overlay: .init(base: dir.path, lowers: ["lower"], upper: "upper", work: "work", merged: dir.path + "/merged"),
                                    command: bwrap)
        return try await sh(args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " "))
    }

    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func aStepGetsAWholeIDRangeAndItsChangesLandInTheUpperFolder() async throws {
        let (dir, mapping) = try await Self.overlayFolders()
        let r = try await Self.step(dir, mapping, """
            set -e
            id -u
            install -d -o 1000 -g 1001 /home/app
            echo new > /srv/new
            rm /etc/passwd
            rm -r /srv/replace && mkdir /srv/replace && echo b > /srv/replace/fresh
            ln -s /etc/shadow /srv/link
            cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'
            """)
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "0")
        #expect(lines.contains("0 \(IDMapping.outer(0, in: mapping.users)!) \(mapping.users[0].count)"), "\(r.out)")

        let upper = dir.path + "/upper"
        var st = stat()
        // Ownership: inner 1000:1001 is the mapped host ids.
        #expect(lstat(upper + "/home/app", &st) == 0)
        #expect(st.st_uid == IDMapping.outer(1000, in: mapping.users) && st.st_gid == IDMapping.outer(1001, in: mapping.groups))
        // A deleted file is a 0:0 character device.
        #expect(lstat(upper + "/etc/passwd", &st) == 0)
        #expect((st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0)
        // A replaced folder is opaque (user.overlay.opaque, as userxattr overlays mark it).
        let opaque = try await sh("python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], \"user.overlay.opaque\", follow_symlinks=False).decode())' '\(upper)/srv/replace'")
        #expect(opaque.out == "y\n", "\(opaque)")
        #expect(FileManager.default.fileExists(atPath: upper + "/srv/new") && !FileManager.default.fileExists(atPath: upper + "/srv/keep"))
        // The lower layer is untouched.
        #expect(FileManager.default.fileExists(atPath: dir.path + "/lower/etc/passwd") && FileManager.default.fileExists(atPath: dir.path + "/lower/srv/replace/old"))
        // The upper folder as an OCI layer: owners mapped back, whiteouts, opaque folders,
        // symlinks as symlinks (never followed).
        let store = try ContentStore(root: URL(fileURLWithPath: dir.path + "/store"))
        let w = try store.writer()
        let tar = TarWriter(out: w)
        let summary = try OverlayDiff.write(upper: try ConfinedDirectory(path: upper), mapping: mapping, into: tar)
        try tar.finish()
        let (digest, _) = try w.commit()
        #expect(summary.whiteouts == 1 && summary.opaqueFolders == 1)
        let listing = try await sh("tar -tvf '\(store.path(digest))' --numeric-owner | awk '{print $1, $2, $6, $7, $8}'").out
        let entries = listing.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(entries.contains("drwxr-xr-x 1000/1001 home/app/"), "\(listing)")
        #expect(entries.contains("-rw-r--r-- 0/0 etc/.wh.passwd"), "\(listing)")
        #expect(entries.contains("-rw-r--r-- 0/0 srv/replace/.wh..wh..opq"), "\(listing)")
        #expect(entries.contains("-rw-r--r-- 0/0 srv/replace/fresh") && entries.contains("-rw-r--r-- 0/0 srv/new"), "\(listing)")
        #expect(entries.contains("lrwxrwxrwx 0/0 srv/link -> /etc/shadow"), "\(listing)")
        #expect(!entries.contains { $0.hasSuffix(" etc/passwd") || $0.contains("srv/keep") })
        // The sandbox's mount points were in the lower layer, so they are not in the diff.
        #expect(!entries.contains { $0.hasSuffix(" proc/") || $0.hasSuffix(" dev/") }, "\(listing)")

        // Files of ids other than one's own can be removed only inside the namespace (for a
        // user that is not root).
        let runner = UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping)
        let removed = try await sh(runner.arguments(overlay: nil, command: ["rm", "-rf", dir.path + "/upper", dir.path + "/work"]).map { "'\($0)'" }.joined(separator: " "))
        #expect(removed.status == 0 && !FileManager.default.fileExists(atPath: upper), "\(removed)")
    }

    @Test func theHelperRefusesWhatItCannotPassOn() async throws {
        let bad = try await sh("'\(Repo.userNamespaceHelper)' --uid-map 0:1:1 --gid-map 0:1:1 --lower 'a,upperdir=/etc' --upper u --work w --merged m -- true")
        #expect(bad.status == 125 && bad.err.contains("may not hold ','"), "\(bad)")
        let noMap = try await sh("'\(Repo.userNamespaceHelper)' -- true")
        #expect(noMap.status == 125 && noMap.err.contains("--uid-map"), "\(noMap)")
    }

    /// An id-mapped folder (`--idmapped`, a COPY's layer of the snapshot's own files as root)
    /// is a name in --chdir, and mounted read-only, without setuid or devices, so no process of
    /// the namespace could write through it to the files it shares with the snapshot (and the
    /// helper's tmpfs over /tmp already hides this one); the overlay over it takes the writes,
    /// copied up as the namespace root's.
    @Test(.enabled(if: getuid() == 0, "only root may make an id-mapped mount")) func anIDMappedFolderIsANameAndReadOnly() async throws {
        let mapping = IDMapping.root
        for name in ["../etc", "a/b", "..", "/etc"] {
            let bad = try await sh("'\(Repo.userNamespaceHelper)' --uid-map 0:\(IDMapping.rootBase):65536 --gid-map 0:\(IDMapping.rootBase):65536 --chdir /tmp --idmapped '\(name)' --lower x --upper u --work w --merged m -- true")
            #expect(bad.status == 125 && bad.err.contains("--idmapped"), "\(name): \(bad)")
        }
        let dir = TempDir("idmapped")
        let r = try await sh("""
            set -e
            cd '\(dir.path)'
            chmod 755 .
            mkdir shared upper work merged
            echo snapshot > shared/f && chmod 600 shared/f
            chown \(IDMapping.rootBase):\(IDMapping.rootBase) upper work merged
            """)
        try #require(r.status == 0, "\(r)")
        var overlay = UserNamespaceRunner.Overlay(base: dir.path, lowers: ["shared"], upper: "upper", work: "work", merged: "merged")
        overlay.idmapped = ["shared"]
        let args = UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping).arguments(overlay: overlay, command: ["/bin/sh", "-c",
            "ls -ln /tmp/slipway-root/f | tr -s ' ' | cut -d' ' -f1,3,4; cat /tmp/slipway-root/f; echo changed > /tmp/slipway-root/f && echo overlay-written; "
                + "grep -F ' \(dir.path)/shared ' /proc/self/mountinfo | grep -q ' ro,nosuid,nodev,[a-z,]*idmapped ' && echo read-only; true"])
        let out = try await sh(args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " "))
        #expect(out.out == "-rw------- 0 0\nsnapshot\noverlay-written\nread-only\n", "\(out)")
        #expect(try String(contentsOfFile: dir.path + "/shared/f", encoding: .utf8) == "snapshot\n")
        #expect(try String(contentsOfFile: dir.path + "/upper/f", encoding: .utf8) == "changed\n")
        var st = stat()
        #expect(lstat(dir.path + "/upper/f", &st) == 0 && st.st_uid == IDMapping.rootBase, "the copy-up is the namespace root's")
    }

    @Test(.enabled(if: DockerfileSteps.canRun, DockerfileSteps.cannotRun)) func theHelperPassesOnTheCommandsExitStatus() async throws {
        let mapping = try IDMapping.forCurrentUser()
        let runner = UserNamespaceRunner(helper: Repo.userNamespaceHelper, mapping: mapping)
        let exit = try await sh(runner.arguments(overlay: nil, command: ["sh", "-c", "exit 7"]).map { "'\($0)'" }.joined(separator: " "))
        #expect(exit.status == 7, "the command's status is the helper's: \(exit)")
    }

    /// A user with no subordinate ids: the helper (through newuidmap) fails, saying how to add
    /// a range. Needs root to make that user; skipped otherwise, saying so.
    @Test(.enabled(if: getuid() == 0, "making a user needs root")) func aUserWithoutARangeIsToldHowToAddOne() async throws {
        let user = "slipway-norange"
        #expect(try await sh("id -u \(user) >/dev/null 2>&1 || useradd -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 \(user)").status == 0)
        let uid = try await sh("id -u \(user)").out.trimmingCharacters(in: .whitespacesAndNewlines)
        let r = try await sh("runuser -u \(user) -- '\(Repo.userNamespaceHelper)' --newuidmap --uid-map 0:\(uid):1 --uid-map 1:300000:65535 --gid-map 0:\(uid):1 -- true")
        #expect(r.status == 125, "\(r)")
        #expect(r.err.contains("usermod --add-subuids"), "\(r.err)")
    }
}
