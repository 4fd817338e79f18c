import Foundation

/// How an archive entry's path becomes a place below the extraction root: the rules of a
/// policy (`.source` refuses absolute paths, `..` and symlinks on the way; `.imageLayer` and
/// `.addedArchive` resolve them as the container would, clamped at the root), kept apart from the writing so
/// they read, and are used (`SourceSnapshotter` checks a source tree's symlinks), on their own.
struct ArchiveEntryPaths {
    let policy: ArchiveExtractor.Policy
    var stripComponents = 0

    /// The entry's path as components below the root after `stripComponents`, or nil to skip it.
    func normalize(_ raw: String) throws -> [String]? {
        let shown = PathSyntax.shortened(raw, limit: 200)
        if raw.utf8.contains(0) { throw RuntimeError.invalid("archive entry '\(shown)' has a NUL in its name; refusing it") }
        if policy == .source, raw.hasPrefix("/") {
            throw RuntimeError.invalid("archive entry '\(shown)' has an absolute path; refusing to extract it")
        }
        var parts: [String] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if policy == .source {
                    throw RuntimeError.invalid("archive entry '\(shown)' contains '..' and would escape the source root; refusing to extract it")
                }
                _ = parts.popLast()
                continue
            }
            parts.append(String(part))
        }
        guard parts.count > stripComponents else { return nil }
        return Array(parts.dropFirst(stripComponents))
    }

    /// Refuses a symlink of a source tree (at `relative`) whose target leaves the root: an
    /// absolute target, or more `..` than the folders above it.
    func checkSymlinkStaysInside(relative: String, target: String, entryName: String) throws {
        if target.hasPrefix("/") {
            throw RuntimeError.invalid("archive entry '\(entryName)' is a symlink to the absolute path '\(PathSyntax.shortened(target, limit: 200))', outside the source root; refusing it")
        }
        var depth = relative.split(separator: "/").count - 1
        for part in target.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            depth += part == ".." ? -1 : 1
            if depth < 0 {
                throw RuntimeError.invalid("archive entry '\(entryName)' is a symlink to '\(PathSyntax.shortened(target, limit: 200))', which points outside the source root; refusing it")
            }
        }
    }

    /// The symlink-free components of `parts` inside `root`. Source archives may not pass
    /// through a symlink; image layers resolve symlinks the way the container would see them,
    /// clamped at the root (so `/lib -> usr/lib` works and nothing can point outside).
    func resolve(_ parts: [String], in root: ConfinedDirectory, createMissing: Bool, entry: String) throws -> [String] {
        var resolved: [String] = []
        var pending = Array(parts.reversed())
        var hops = 0
        while let part = pending.popLast() {
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = resolved.popLast(); continue }
            let here = (resolved + [part]).joined(separator: "/")
            guard let st = try root.status(here) else {
                guard createMissing else { throw RuntimeError.invalid("'\(entry)' refers to '\(here)', which does not exist in the archive") }
                let parent = resolved.isEmpty ? root : try root.openDirectory(resolved.joined(separator: "/"))
                guard mkdirat(parent.fd, part, 0o755) == 0 || errno == EEXIST else {
                    throw RuntimeError.io("cannot create folder '\(here)': \(String(cString: strerror(errno)))")
                }
                resolved.append(part)
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard policy != .source else {
                    throw RuntimeError.invalid("archive entry path '\(entry)' passes through a symlink; refusing to write through it")
                }
                hops += 1
                if hops > 40 { throw RuntimeError.invalid("too many levels of symlinks resolving '\(entry)'") }
                let target = try root.readLink(here)
                if target.hasPrefix("/") { resolved.removeAll() }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
                continue
            }
            resolved.append(part)
        }
        return resolved
    }
}
