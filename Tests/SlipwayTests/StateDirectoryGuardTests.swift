import Foundation
import Testing
@testable import SlipwayServer
import TestSupport

/// The state directory and its socket folder are used only when they are the user's own (issue
/// 27, C1 and C2): the socket never lives outside the state directory, where another user could
/// take its folder first; a state directory of another user, or one other users may write, is
/// refused; nothing is written through a symbolic link planted where the engine writes.
@Suite struct StateDirectoryGuardTests {
    static let imageList = SlipwayPipe.request(1, "image/list")

    /// Quoted for the shell.
    static func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// `slipway ARGS` with one image/list request on stdin, run by `prefix` (an environment,
    /// `setpriv …`); returns what it printed and its exit status.
    static func forward(state: String, _ arguments: String = "", prefix: String = "") async throws -> (status: Int32, out: String, err: String) {
        try await sh("printf '%s\\n' \(q(imageList)) | \(prefix) \(q(Repo.slipway)) --state-dir \(q(state)) --idle-timeout 60s --build-network none \(arguments)")
    }

    /// A path of 200 bytes under `base`: too long for a socket address (107 bytes) with
    /// `/run/engine.sock` after it.
    static func longPath(under base: String) -> String {
        var long = base + "/"
        while long.utf8.count < 200 { long += "d" }
        return long
    }

    static func contents(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    static func chown(_ path: String, _ uid: uid_t) throws {
        try #require(Glibc.chown(path, uid, gid_t(uid)) == 0, "chown \(path): \(String(cString: strerror(errno)))")
    }

    // MARK: The socket (C1)

    /// A state directory whose socket path does not fit a socket address is served all the
    /// same, whatever another user made of the folders the socket used to fall back to
    /// ($XDG_RUNTIME_DIR/slipway): a folder of theirs, or a symbolic link to one. The socket is
    /// in the state directory, reached through a descriptor of its folder; nothing is made in
    /// the runtime directory. (Without root, the folder is the user's own.)
    @Test func aLongStateDirectoryIsServedWhateverAnotherUserMadeOfTheRuntimeDirectory() async throws {
        for squat in ["folder", "symlink"] {
            let base = TempDir("long"), runtime = TempDir("rt"), theirs = TempDir("theirs")
            if getuid() == 0 { try Self.chown(theirs.path, 65534) }
            chmod(theirs.path, 0o700)
            if squat == "folder" {
                try FileManager.default.moveItem(atPath: theirs.path, toPath: runtime.path + "/slipway")
            } else {
                try FileManager.default.createSymbolicLink(atPath: runtime.path + "/slipway", withDestinationPath: theirs.path)
            }
            let before = Self.contents(runtime.path)
            let state = Self.longPath(under: base.path)
            let c = try SlipwayClient(stateDir: state, environment: ["XDG_RUNTIME_DIR": runtime.path])
            #expect(try await c.call("image/list")["images"] == [], "\(squat)")
            var st = stat()
            #expect(lstat(state + "/run/engine.sock", &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK && st.st_mode & 0o777 == 0o600, "\(squat)")
            #expect(lstat(state + "/run", &st) == 0 && st.st_mode & 0o777 == 0o700)
            let status = try await sh("XDG_RUNTIME_DIR=\(Self.q(runtime.path)) \(Self.q(Repo.slipway)) engine status --state-dir \(Self.q(state))")
            #expect(status.status == 0 && status.out.contains("sessions: 1") && status.out.contains("socket: \(state)/run/engine.sock"), "\(squat): \(status)")
            c.closeInput()
            #expect(try await c.waitForExit() == 0)
            #expect(Self.contents(runtime.path) == before, "\(squat): something was made in the runtime directory")
            let stop = try await sh("\(Self.q(Repo.slipway)) engine stop --state-dir \(Self.q(state))")
            #expect(stop.status == 0 && stop.out.contains("stopped"), "\(squat): \(stop)")
            #expect(!FileManager.default.fileExists(atPath: state + "/run/engine.sock"))
        }
    }

    /// The issue's own case: another user made /tmp/slipway-<uid> (where the socket of a long
    /// state directory used to go without $XDG_RUNTIME_DIR); the engine starts and answers.
    /// Run in a mount namespace of its own with a fresh /tmp, so that the machine's
    /// /tmp/slipway-<uid> is not touched.
    @Test(.enabled(if: getuid() == 0, "needs root for a mount namespace and a folder of another user"))
    func aLongStateDirectoryIsServedWhenAnotherUserMadeTheOldTmpFolder() async throws {
        let r = try await sh("""
            REPO=\(Self.q(Repo.root.path)) unshare --mount bash -c '
            set -e
            # A fresh /tmp; the checkout, should it be under /tmp (a CI clone), shown again.
            old=$(mktemp -d /run/slipway-oldtmp.XXXXXX)
            mount --make-rprivate /
            mount --bind /tmp "$old"
            mount -t tmpfs tmpfs /tmp
            case "$REPO" in /tmp/*) mkdir -p "$REPO"; mount --bind "$old/${REPO#/tmp/}" "$REPO";; esac
            squat=/tmp/slipway-$(id -u)
            mkdir -m 700 "$squat" && chown 65534:65534 "$squat"
            state=/tmp/$(printf "d%.0s" $(seq 200))
            unset XDG_RUNTIME_DIR
            printf "%s\\n" \(Self.q(Self.imageList).replacingOccurrences(of: "'", with: "'\\''")) | \(Repo.slipway) --state-dir "$state" --idle-timeout 60s --build-network none
            echo "squat: $(stat -c %u "$squat") $(ls -A "$squat" | wc -l)"
            \(Repo.slipway) engine stop --state-dir "$state" >&2
            '
            rmdir /run/slipway-oldtmp.* 2>/dev/null || true
            """)
        #expect(r.status == 0, "\(r)")
        #expect(r.out.contains("\"images\":[]"), "\(r)")
        #expect(r.out.contains("squat: 65534 0"), "\(r)")
    }

    /// The forwarder (and `engine status`) use `<state>/run` only when it is a real folder of
    /// the user's that no other user may write: a symbolic link (to a folder of the user's
    /// own, even), a folder of another user or a folder anyone may write is refused, naming it
    /// and saying what to do, and no engine is started.
    @Test func aSocketFolderThatIsNotTheUsersOwnIsRefused() async throws {
        let elsewhere = TempDir("elsewhere")
        chmod(elsewhere.path, 0o700)
        var cases: [(String, (String) throws -> Void, String)] = [
            ("symlink", { run in
                try FileManager.default.createSymbolicLink(atPath: run, withDestinationPath: elsewhere.path)
            }, "is a symbolic link or not a folder; remove it and run again"),
            ("writable", { run in
                try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: false)
                chmod(run, 0o777)
            }, "can be written by other users (mode 0777); run 'chmod 700 "),
        ]
        if getuid() == 0 {
            cases.append(("another user's", { run in
                try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: false)
                chmod(run, 0o700)
                try Self.chown(run, 65534)
            }, "belongs to uid 65534, not to this user (uid 0); remove it and run again"))
        }
        for (name, make, message) in cases {
            let state = TempDir("state")
            let run = state.path + "/run"
            try make(run)
            let r = try await Self.forward(state: state.path)
            #expect(r.status == 1 && !r.out.contains("result"), "\(name): \(r)")
            #expect(r.err.contains("slipway: \(run) \(message)"), "\(name): \(r.err)")
            #expect(!SharedEngine.engineLog(state.path).contains("serving"), "\(name): an engine was started")
            #expect(Self.contents(elsewhere.path) == [], "\(name): something was made through the link")
            let status = try await sh("\(Self.q(Repo.slipway)) engine status --state-dir \(Self.q(state.path))")
            #expect(status.status == 1 && status.err.contains("\(run) \(message)"), "\(name): \(status)")
        }
    }

    /// The forwarder talks only to an engine of its own user, also in a socket folder of its
    /// own: a socket root bound there is refused by its peer's uid (SO_PEERCRED).
    @Test(.enabled(if: getuid() == 0, "needs root to run a client as another user"))
    func theForwarderRefusesASocketServedByAnotherUser() async throws {
        let state = TempDir("state")
        chmod(state.path, 0o700)
        let run = state.path + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: false)
        chmod(run, 0o700)
        try Self.chown(state.path, 65534)
        try Self.chown(run, 65534)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var addr = EngineAddress.unixAddress(run + "/engine.sock")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(bound == 0 && listen(listener, 4) == 0 && chmod(run + "/engine.sock", 0o777) == 0)
        let r = try await Self.forward(state: state.path, prefix: "setpriv --reuid 65534 --regid 65534 --clear-groups")
        #expect(r.status == 1 && !r.out.contains("result"), "\(r)")
        #expect(r.err.contains("\(run)/engine.sock is served by uid 0, not this user (uid 65534); refusing to talk to it"), "\(r.err)")
    }

    // MARK: The state directory (C2)

    /// A symbolic link planted at `<state>/engine.log` (pointing at the user's ~/.profile, say)
    /// is not written through: the forwarder refuses it, naming it, and starts no engine.
    @Test func aSymbolicLinkAtEngineLogIsNotWrittenThrough() async throws {
        let state = TempDir("state"), home = TempDir("home")
        let profile = home.path + "/.profile"
        try "export PATH=$HOME/bin:$PATH\n".write(toFile: profile, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: state.path + "/engine.log", withDestinationPath: profile)
        let r = try await Self.forward(state: state.path)
        #expect(r.status == 1 && !r.out.contains("result"), "\(r)")
        #expect(r.err.contains("slipway: \(state.path)/engine.log is a symbolic link; the engine's output goes only to a file of its own there: remove it and run again"), "\(r.err)")
        #expect(try String(contentsOfFile: profile, encoding: .utf8) == "export PATH=$HOME/bin:$PATH\n")
        #expect(!SharedEngine.engineRuns(state.path))
    }

    /// Nor is one at `<state>/engine.lock`, which the engine truncates and writes its pid to:
    /// the engine does not start, and the forwarder says why.
    @Test func aSymbolicLinkAtEngineLockIsNotWrittenThrough() async throws {
        let state = TempDir("state"), home = TempDir("home")
        let profile = home.path + "/.profile"
        try "export PATH=$HOME/bin:$PATH\n".write(toFile: profile, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: state.path + "/engine.lock", withDestinationPath: profile)
        let r = try await Self.forward(state: state.path)
        #expect(r.status == 1 && !r.out.contains("result"), "\(r)")
        #expect(r.err.contains("the engine could not start") && r.err.contains("\(state.path)/engine.lock") && r.err.contains("a symbolic link: remove it and run again"), "\(r.err)")
        #expect(try String(contentsOfFile: profile, encoding: .utf8) == "export PATH=$HOME/bin:$PATH\n")
        let embedded = try await Self.forward(state: state.path, "--embedded")
        #expect(embedded.status == 1 && embedded.err.contains("a symbolic link: remove it and run again"), "\(embedded)")
        #expect(try String(contentsOfFile: profile, encoding: .utf8) == "export PATH=$HOME/bin:$PATH\n")
    }

    /// A state directory of another user is refused — also to root, which must not write into
    /// a folder another user controls — by the forwarder, `--embedded` and `engine` alike,
    /// naming it; nothing is made in it.
    @Test(.enabled(if: getuid() == 0, "needs root to make a folder of another user"))
    func aStateDirectoryOfAnotherUserIsRefused() async throws {
        let state = TempDir("state")
        chmod(state.path, 0o700)
        try Self.chown(state.path, 65534)
        let message = "slipway: \(state.path) belongs to uid 65534, not to this user (uid 0); use a state directory of your own (--state-dir DIR)"
        for arguments in ["", "--embedded"] {
            let r = try await Self.forward(state: state.path, arguments)
            #expect(r.status == 1 && !r.out.contains("result"), "\(arguments): \(r)")
            #expect(r.err.contains(message), "\(arguments): \(r.err)")
        }
        let engine = try await sh("\(Self.q(Repo.slipway)) engine --state-dir \(Self.q(state.path)) --idle-timeout 1s")
        #expect(engine.status == 1 && engine.err.contains(message), "\(engine)")
        #expect(Self.contents(state.path) == [])
    }

    /// A state directory other users may write (its group, everyone, or everyone with the
    /// sticky bit) is refused, naming it and saying to `chmod 700` it or use another; nothing
    /// is made in it. `engine status` refuses it too.
    @Test func aStateDirectoryOthersMayWriteIsRefused() async throws {
        for mode: mode_t in [0o777, 0o770, 0o1777] {
            let state = TempDir("state")
            chmod(state.path, mode)
            let shown = String(mode, radix: 8)
            let message = "slipway: \(state.path) can be written by other users (mode \(String(repeating: "0", count: 4 - shown.count) + shown)); "
                + "run 'chmod 700 \(state.path)' if only you have written there, else use a state directory of your own (--state-dir DIR)"
            for arguments in ["", "--embedded"] {
                let r = try await Self.forward(state: state.path, arguments)
                #expect(r.status == 1 && !r.out.contains("result"), "\(shown) \(arguments): \(r)")
                #expect(r.err.contains(message), "\(shown) \(arguments): \(r.err)")
            }
            let status = try await sh("\(Self.q(Repo.slipway)) engine status --state-dir \(Self.q(state.path))")
            #expect(status.status == 1 && status.err.contains(message), "\(shown): \(status)")
            #expect(Self.contents(state.path) == [], "\(shown)")
            // Once only its user may write it, it is used.
            chmod(state.path, 0o700)
            let ok = try await Self.forward(state: state.path)
            #expect(ok.status == 0 && ok.out.contains("\"images\":[]"), "\(shown): \(ok)")
        }
    }
}
