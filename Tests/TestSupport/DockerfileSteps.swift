import BuildRuntime
import Foundation
import Testing

/// Whether Dockerfile steps can run here, for suites that need them (`.enabled(if:)`).
public enum DockerfileSteps {
    /// As root, or as a user with a subordinate id range.
    public static let canRun = (try? IDMapping.forCurrentUser()) != nil
    public static let cannotRun: Comment = "Dockerfile steps need root or a subordinate id range of this user's in /etc/subuid and /etc/subgid"

    /// Whether a user other than the owner may reach `path`: every folder on the way searchable
    /// by others, and `path` readable by them.
    public static func othersCanRead(_ path: String) -> Bool {
        var st = stat()
        var prefix = ""
        for part in PathSyntax.components(path).dropLast() {
            prefix += "/" + part
            guard stat(prefix, &st) == 0, st.st_mode & S_IXOTH != 0 else { return false }
        }
        return stat(path, &st) == 0 && st.st_mode & S_IROTH != 0
    }
}
