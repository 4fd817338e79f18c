import Foundation

/// The paths of a folder whose owners could not be set (ids a user that is not root cannot
/// give away), with the owner (ids inside the namespace) and mode each should have, as the
/// layers extracted into the folder leave it: a later entry, whiteout or replacement of a
/// path drops what was noted for it. `slipway-userns --apply-owners` then sets them from
/// inside the namespace.
///
/// `@unchecked Sendable`: one extraction at a time uses it, on the thread that runs it; it
/// is read when they are all done.
public final class ArchiveOwnerLedger: @unchecked Sendable {
    public struct Owner: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        /// nil for a symlink (its mode means nothing).
        public var mode: mode_t?
    }
    public private(set) var owners: [String: Owner] = [:]
    public init() {}

    func note(_ parts: [String], _ owner: Owner?) {
        let path = parts.joined(separator: "/")
        owners[path] = owner
    }

    /// Notes the hard link `parts` as its target `target` is noted: they share one inode,
    /// and the owner must still be set through the link when the target's name goes.
    func noteLink(_ parts: [String], to target: [String]) {
        owners[parts.joined(separator: "/")] = owners[target.joined(separator: "/")]
    }

    /// Forgets `parts` and everything below it (`keepSelf`: only what is below).
    func forget(_ parts: [String], keepSelf: Bool = false) {
        let path = parts.joined(separator: "/")
        let prefix = path.isEmpty ? "" : path + "/"
        owners = owners.filter { key, _ in !(key.hasPrefix(prefix) || (!keepSelf && key == path)) }
    }

    /// The records `slipway-userns --apply-owners` reads: "UID GID MODE PATH", NUL-ended.
    public var records: [UInt8] {
        var out: [UInt8] = []
        for (path, o) in owners.sorted(by: { $0.key < $1.key }) {
            out += Array("\(o.uid) \(o.gid) \(o.mode.map { String($0, radix: 8) } ?? "-") \(path)".utf8) + [0]
        }
        return out
    }
}
