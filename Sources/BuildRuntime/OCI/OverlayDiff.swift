import CLinuxSyscalls
import Foundation

/// Turns the upper folder of a step's overlay (what the step changed) into an OCI layer: files,
/// folders and symlinks as they are, with owners mapped back from host ids to the ids inside the
/// step's namespace; a deleted path (overlayfs' 0:0 character device) as a `.wh.<name>`
/// whiteout; a folder that replaced a lower one (marked `user.overlay.opaque=y`, as an overlay
/// mounted with `userxattr` marks it) followed by `.wh..wh..opq`. The step wrote the folder, so
/// it is read through descriptors that never follow a symlink; sockets, FIFOs and other devices
/// are left out, and an owner the namespace does not map is written as nobody (65534).
public enum OverlayDiff {
    public static let whiteoutPrefix = ".wh."
    public static let opaqueMarker = ".wh..wh..opq"
    static let nobody = 65534

    /// What a diff held, for the build log.
    public struct Summary: Sendable, Equatable {
        public var entries = 0
        public var whiteouts = 0
        public var opaqueFolders = 0
    }

    /// Writes the layer of `upper` into `tar` (which the caller finishes). A tree past `limits`
    /// fails with `TreeLimitExceeded`.
    @discardableResult
    public static func write(upper: ConfinedDirectory, mapping: IDMapping, into tar: TarWriter, limits: TreeLimits = .default) throws -> Summary {
        var summary = Summary()
        try TreeWalker("the step's changes", limits: limits).walk(upper) { e in
            let mode = Int(e.status.st_mode & 0o7777)
            var into: ConfinedDirectory?
            switch e.type {
            case S_IFCHR where e.status.st_rdev == 0:
                try tar.addFile(String(decoding: e.path.utf8.dropLast(e.name.utf8.count), as: UTF8.self) + whiteoutPrefix + e.name, contents: [], mode: 0o644, owner: .root)
                summary.whiteouts += 1
            case S_IFDIR:
                let sub = try e.folder.openDirectory(e.name)
                try tar.addDirectory(e.path, mode: mode, owner: owner(e.status, mapping))
                if isOpaque(sub.fd) {
                    try tar.addFile(e.path + "/" + opaqueMarker, contents: [], mode: 0o644, owner: .root)
                    summary.opaqueFolders += 1
                }
                into = sub
            case S_IFREG:
                try tar.addFile(e.path, named: e.name, in: e.folder, mode: mode, owner: owner(e.status, mapping))
            case S_IFLNK:
                try tar.addSymlink(e.path, target: try e.folder.readLink(e.name), owner: owner(e.status, mapping))
            default:
                return nil  // sockets, FIFOs, devices: never part of a layer
            }
            summary.entries += 1
            return into
        }
        return summary
    }

    static func owner(_ st: stat, _ mapping: IDMapping) -> TarWriter.Owner {
        TarWriter.Owner(uid: IDMapping.inner(st.st_uid, in: mapping.users).map(Int.init) ?? nobody,
                        gid: IDMapping.inner(st.st_gid, in: mapping.groups).map(Int.init) ?? nobody)
    }

    /// Whether the folder open at `fd` is an opaque overlay folder.
    static func isOpaque(_ fd: Int32) -> Bool {
        var value = [UInt8](repeating: 0, count: 4)
        for name in ["user.overlay.opaque", "trusted.overlay.opaque"] {
            let n = value.withUnsafeMutableBytes { slipway_fgetxattr(fd, name, $0.baseAddress, UInt($0.count)) }
            if n == 1 && value[0] == UInt8(ascii: "y") { return true }
        }
        return false
    }
}
