import Foundation
import Synchronization

/// Waiting for work with a deadline that the work does not have to honour: a stop answers what
/// it can in time and goes on without the rest.
enum Deadline {
    /// Runs `work`; true when it ended within `seconds` (it is left to end by itself otherwise).
    static func within(_ seconds: Double, _ work: @escaping @Sendable () async -> Void) async -> Bool {
        let outcome = Mutex<CheckedContinuation<Bool, Never>?>(nil)
        return await withCheckedContinuation { c in
            outcome.withLock { $0 = c }
            let finish: @Sendable (Bool) -> Void = { value in
                outcome.withLock { c in
                    c?.resume(returning: value)
                    c = nil
                }
            }
            let timer = Task {
                try? await Task.sleep(for: .seconds(seconds))  // cancelled: the work ended first
                finish(false)
            }
            Task {
                await work()
                finish(true)
                timer.cancel()
            }
        }
    }
}

/// What a path is, as the file system tells one file from another made at the same path since:
/// the engine removes only the socket it bound, and sees its state directory replaced.
enum FileIdentity {
    /// Device and inode of what `path` names (relative to `folder`, never through a symbolic
    /// link at its end); nil when there is nothing.
    static func of(_ path: String, in folder: Int32 = AT_FDCWD) -> [UInt64]? {
        var st = stat()
        guard fstatat(folder, path, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return [UInt64(st.st_dev), UInt64(st.st_ino)]
    }
}
