import BuildRuntime
import Foundation

/// Why a folder of Slipway's state is not used: it is a symbolic link or not a folder, it
/// belongs to another user, or other users may write it. The description names the folder and
/// says what to do.
struct FolderRefused: Error, CustomStringConvertible {
    let description: String
}

/// A folder that passed `StateDirectoryGuard`'s rule, held open, so that what is opened in it
/// afterwards is opened in the folder that was checked.
final class CheckedFolder: Sendable {
    let path: String
    let fd: Int32

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }
}

/// The rule for the folders the engine writes into by name — the state directory and its
/// `run/`: a real folder (never followed through a symbolic link), owned by the effective uid,
/// that no other user may write. Whoever can write where the engine writes by name can plant a
/// symbolic link there (engine.log, engine.lock) or a socket of theirs; root, too, keeps out of
/// a folder another user controls. The C forwarder applies the same rule (`open_own_folder` in
/// Sources/SlipwayForwarder/main.c).
enum StateDirectoryGuard {
    /// The state directory, made (0700, with its missing parents) when `create`; nil when it
    /// does not exist and `create` is false.
    static func stateDirectory(_ given: String, create: Bool) throws(FolderRefused) -> CheckedFolder? {
        if create {
            // mkdir -p, each folder made 0700 (an existing one is left as it is: the rule below
            // judges it). A failure shows below: the folder then has no real path.
            var prefix = given.hasPrefix("/") ? "" : "."
            for part in given.split(separator: "/") {
                prefix += "/" + part
                mkdir(prefix, 0o700)
            }
        }
        guard let real = SourceSnapshotter.realPath(given) else {
            if create { throw FolderRefused(description: "cannot create the state directory \(given); create it, or use another --state-dir") }
            return nil
        }
        return try ownFolder(real, in: AT_FDCWD, path: real, isStateDirectory: true)
    }

    /// `run/` in the state directory, where the engine's socket is, made (0700) when `create`;
    /// nil when it does not exist and `create` is false.
    static func socketFolder(in state: CheckedFolder, create: Bool) throws(FolderRefused) -> CheckedFolder? {
        let path = state.path + "/run"
        if create && mkdirat(state.fd, "run", 0o700) != 0 && errno != EEXIST {
            throw FolderRefused(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return try ownFolder("run", in: state.fd, path: path, isStateDirectory: false)
    }

    /// Opens `name` (relative to `parent`) when it passes the rule; nil when there is nothing
    /// there. `path` names it in messages.
    static func ownFolder(_ name: String, in parent: Int32, path: String, isStateDirectory: Bool) throws(FolderRefused) -> CheckedFolder? {
        let otherwise = isStateDirectory ? "use a state directory of your own (--state-dir DIR)" : "remove it and run again"
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ENOENT: return nil
            case ELOOP, ENOTDIR: throw FolderRefused(description: "\(path) is a symbolic link or not a folder; \(otherwise)")
            case let e: throw FolderRefused(description: "cannot open \(path): \(String(cString: strerror(e)))")
            }
        }
        let folder = CheckedFolder(path: path, fd: fd)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FolderRefused(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        guard st.st_uid == geteuid() else {
            throw FolderRefused(description: "\(path) belongs to uid \(st.st_uid), not to this user (uid \(geteuid())); \(otherwise)")
        }
        guard st.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            let mode = String(st.st_mode & 0o7777, radix: 8)
            throw FolderRefused(description: "\(path) can be written by other users (mode \(String(repeating: "0", count: max(0, 4 - mode.count)) + mode)); "
                + "run 'chmod 700 \(path)' if only you have written there, else \(otherwise)")
        }
        return folder
    }
}
