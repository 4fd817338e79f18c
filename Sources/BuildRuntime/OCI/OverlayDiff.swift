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

    /// Writes the layer of `upper` into `tar` (which the caller finishes).
    @discardableResult
    public static func write(upper: ConfinedDirectory, mapping: IDMapping, into tar: TarWriter) throws -> Summary {
        var summary = Summary()
        try walk(upper, relative: "", mapping: mapping, tar: tar, summary: &summary)
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

    static func walk(_ dir: ConfinedDirectory, relative: String, mapping: IDMapping, tar: TarWriter, summary: inout Summary) throws {
        for name in try dir.entries() {
            let path = relative.isEmpty ? name : relative + "/" + name
            guard let st = try dir.status(name) else { continue }
            let mode = Int(st.st_mode & 0o7777)
            switch st.st_mode & S_IFMT {
            case S_IFCHR where st.st_rdev == 0:
                let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
                try tar.addFile(String(path[..<slash]) + whiteoutPrefix + name, contents: [], mode: 0o644, owner: .root)
                summary.whiteouts += 1
            case S_IFDIR:
                let sub = try dir.openDirectory(name)
                try tar.addDirectory(path, mode: mode, owner: owner(st, mapping))
                if isOpaque(sub.fd) {
                    try tar.addFile(path + "/" + opaqueMarker, contents: [], mode: 0o644, owner: .root)
                    summary.opaqueFolders += 1
                }
                try walk(sub, relative: path, mapping: mapping, tar: tar, summary: &summary)
            case S_IFREG:
                try tar.addFile(path, named: name, in: dir, mode: mode, owner: owner(st, mapping))
            case S_IFLNK:
                try tar.addSymlink(path, target: try dir.readLink(name), owner: owner(st, mapping))
            default:
                continue  // sockets, FIFOs, devices: never part of a layer
            }
            summary.entries += 1
        }
    }
}
