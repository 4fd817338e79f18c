import CLinuxSyscalls
import Foundation

/// Opening a path beneath a folder without following a symlink on any component: `openat2`
/// with RESOLVE_BENEATH where the kernel has it, else one `openat(O_NOFOLLOW)` per component.
/// What `ConfinedDirectory` is built on; apart so the two mechanisms are tested side by side.
enum BeneathPath {
    /// Whether this kernel has `openat2` (Linux 5.6+); probed once.
    static let kernelHasOpenat2: Bool = {
        let fd = slipway_openat2(AT_FDCWD, ".", UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0,
                                 SLIPWAY_RESOLVE_BENEATH | SLIPWAY_RESOLVE_NO_SYMLINKS)
        if fd >= 0 { close(fd); return true }
        return false
    }()

    /// The components of a relative path; refuses absolute paths, `..`, and NUL.
    static func components(_ relative: String) throws -> [String] {
        if relative.hasPrefix("/") || relative.utf8.contains(0) { throw ConfinedPathError(.escapes, relative) }
        var parts: [String] = []
        for part in relative.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw ConfinedPathError(.escapes, relative) }
            parts.append(String(part))
        }
        return parts
    }

    /// Opens `relative` beneath `dirfd` with `flags`, following no symlink on any component.
    /// `useOpenat2` picks the mechanism (tests exercise both).
    static func openBeneath(_ dirfd: Int32, _ relative: String, flags: Int32, mode: mode_t = 0, useOpenat2: Bool = kernelHasOpenat2)
        throws -> Int32
    {
        let parts = try components(relative)
        let path = parts.isEmpty ? "." : parts.joined(separator: "/")
        let allFlags = flags | O_NOFOLLOW | O_CLOEXEC
        let mode = (flags & O_CREAT) != 0 ? mode : 0  // openat2 refuses a mode without O_CREAT
        if useOpenat2 {
            for _ in 0..<16 {
                let fd = slipway_openat2(dirfd, path, UInt64(UInt32(bitPattern: allFlags)), UInt64(mode),
                                         SLIPWAY_RESOLVE_BENEATH | SLIPWAY_RESOLVE_NO_SYMLINKS | SLIPWAY_RESOLVE_NO_MAGICLINKS)
                if fd >= 0 { return fd }
                let e = errno
                if e == EAGAIN || e == EINTR { continue }  // a concurrent rename; resolution is retried
                throw classify(e, dirfd: dirfd, parts: parts, relative: relative)
            }
            throw ConfinedPathError(.io("the path kept changing while it was opened"), relative)
        }
        // Component by component: every folder on the way opened with O_NOFOLLOW.
        var current = dirfd
        var opened: [Int32] = []
        defer { for f in opened { close(f) } }
        for part in parts.dropLast() {
            let next = openat(current, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { throw classify(errno, dirfd: dirfd, parts: parts, relative: relative) }
            opened.append(next)
            current = next
        }
        let fd = openat(current, parts.last ?? ".", allFlags, mode)
        guard fd >= 0 else { throw classify(errno, dirfd: dirfd, parts: parts, relative: relative) }
        return fd
    }

    /// Turns an `open` failure into a typed error, telling a symlink from a plain ELOOP/ENOTDIR.
    static func classify(_ e: Int32, dirfd: Int32, parts: [String], relative: String) -> ConfinedPathError {
        switch e {
        case EXDEV: return ConfinedPathError(.escapes, relative)
        case EEXIST: return ConfinedPathError(.alreadyExists, relative)
        case ENOENT: return ConfinedPathError(.missing, relative)
        case ELOOP: return ConfinedPathError(.symlink, relative)
        case ENOTDIR:
            // Either a component is a symlink (O_NOFOLLOW|O_DIRECTORY on a link) or a file.
            var prefix: [String] = []
            for part in parts {
                prefix.append(part)
                var st = stat()
                if fstatat(dirfd, prefix.joined(separator: "/"), &st, AT_SYMLINK_NOFOLLOW) != 0 { break }
                if (st.st_mode & S_IFMT) == S_IFLNK { return ConfinedPathError(.symlink, relative) }
            }
            return ConfinedPathError(.wrongType("not a folder"), relative)
        default: return ConfinedPathError(.io(String(cString: strerror(e))), relative)
        }
    }
}
