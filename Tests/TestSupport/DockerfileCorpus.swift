import Foundation

/// The Dockerfile corpus in Fixtures/dockerfiles (one folder a case), and the listing of a file
/// tree that conformance checks compare.
public enum DockerfileCorpus {
    public static let folder = Repo.fixtures.appendingPathComponent("dockerfiles").path

    /// One line a path of the tree at `root` (type, path, link target, size, mode, owner,
    /// content digest; no times), from Fixtures/tree_listing.py.
    public static func listing(_ root: String) async throws -> [String] {
        let r = try await sh("python3 '\(Repo.fixtures.path)/tree_listing.py' '\(root)'")
        guard r.status == 0 else { throw TestFailure("listing \(root): \(r.err)") }
        return r.out.split(separator: "\n").map(String.init)
    }
}
