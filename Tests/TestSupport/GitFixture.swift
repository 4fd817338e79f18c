import Foundation

/// A bare repository made by the test, with commits pushed from a work tree.
public final class GitFixture: Sendable {
    public let dir: TempDir
    public var bare: String { dir.path + "/remote.git" }
    public var work: String { dir.path + "/work" }
    public var url: String { "file://" + bare }

    public init() throws {
        dir = TempDir("git")
        let r = try sh("""
            set -e
            git init -q --bare -b main '\(dir.path)/remote.git'
            git clone -q '\(dir.path)/remote.git' '\(dir.path)/work' 2>/dev/null
            cd '\(dir.path)/work'
            git config user.email t@example.com; git config user.name test
            cp -r '\(Repo.examples.appendingPathComponent("hello-app").path)/.' .
            mkdir -p services/hello && cp -r '\(Repo.examples.appendingPathComponent("hello-app").path)/.' services/hello/
            git add -A && git commit -qm first && git tag v1 && git push -q origin main v1
            """)
        guard r.status == 0 else { throw TestFailure("git fixture: \(r.err)") }
    }

    public func head() throws -> String { try sh("git -C '\(work)' rev-parse HEAD").out.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Pushes a new commit to main and returns its SHA.
    public func pushCommit(_ file: String = "CHANGELOG") throws -> String {
        let r = try sh("cd '\(work)' && echo \(UUID().uuidString) >> \(file) && git add -A && git commit -qm change && git push -q origin main")
        guard r.status == 0 else { throw TestFailure(r.err) }
        return try head()
    }
}
