/// Path arithmetic on strings that come from outside (a client's path, an archive entry, a
/// URL), done on bytes by rules of our own. Foundation's path helpers are never given such
/// names: some of them trap on short names (a one-character name crashed the server).
public enum PathSyntax {
    /// The non-empty components of `path`, with `.` dropped (`..` kept as it is).
    public static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }.map(String.init)
    }

    /// An absolute path with `.`, `..` (clamped at `/`) and repeated slashes resolved lexically,
    /// without looking at the file system.
    public static func normalizedAbsolute(_ path: String) -> String {
        var out: [String] = []
        for part in components(path) {
            if part == ".." {
                _ = out.popLast()
            } else {
                out.append(part)
            }
        }
        return "/" + out.joined(separator: "/")
    }

    /// The last component of `path` ("" for `/` or an empty path).
    public static func lastComponent(_ path: String) -> String { components(path).last ?? "" }

    /// `path` shortened to at most `limit` bytes (on a character boundary) with "…" when cut,
    /// so a hostile value never makes a reply or a log line large.
    public static func shortened(_ value: String, limit: Int = 256) -> String {
        guard value.utf8.count > limit else { return value }
        var out = ""
        var used = 0
        for ch in value {
            let n = ch.utf8.count
            if used + n > limit { break }
            out.append(ch)
            used += n
        }
        return out + "…"
    }

    /// One name a folder can hold: not empty, not `.` or `..`, no `/` and no NUL.
    public static func isNormalComponent(_ s: String) -> Bool {
        !s.isEmpty && s != "." && s != ".." && !s.utf8.contains(UInt8(ascii: "/")) && !s.utf8.contains(0)
    }
}
