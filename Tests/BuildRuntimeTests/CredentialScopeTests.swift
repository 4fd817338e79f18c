import Foundation
import Testing
@testable import BuildRuntime

/// Secrets are scoped to scheme, host and port exactly, and to whole path segments.
@Suite struct CredentialScopeTests {
    func covers(_ secret: String, _ url: String) -> Bool {
        guard let s = CredentialScope(secret), let u = CredentialScope(url) else { return false }
        return s.covers(u)
    }

    @Test func gitSecretsMatchOriginAndWholeSegments() {
        #expect(covers("http://127.0.0.1:8001/", "http://127.0.0.1:8001/private.git"))
        #expect(covers("https://github.com", "https://github.com/org/app.git"))
        #expect(covers("https://github.com/org", "https://github.com/org/app.git"))
        #expect(covers("https://github.com/org/app", "https://github.com/org/app.git"))
        #expect(covers("https://GitHub.com/org", "https://github.com:443/org/x"))
        #expect(covers("git@github.com:org", "ssh://git@github.com/org/x.git"))
        // The prefix attacks of the report, and their relatives.
        #expect(!covers("http://127.0.0.1:800", "http://127.0.0.1:8001/private.git"))
        #expect(!covers("https://github.com", "https://github.com.evil.example/org/x"))
        #expect(!covers("https://github.com/org", "https://github.com/org-evil/x"))
        #expect(!covers("https://github.com/org", "http://github.com/org/x"))
        #expect(!covers("http://127.0.0.1", "http://127.0.0.1:8001/x"))
        #expect(!covers("https://user@github.com", "https://github.com.evil.example"))
        #expect(CredentialScope("file:///srv/repo.git") == nil)
    }

    @Test func registryServersMatchHostAndPort() {
        #expect(CredentialScope.registryServer("127.0.0.1:5000", matches: "127.0.0.1:5000"))
        #expect(CredentialScope.registryServer("https://r.example/v2/", matches: "r.example"))
        #expect(CredentialScope.registryServer("r.example:443", matches: "r.example"))
        #expect(CredentialScope.registryServer("http://127.0.0.1:5000", matches: "127.0.0.1:5000"))
        #expect(!CredentialScope.registryServer("127.0.0.1:500", matches: "127.0.0.1:5000"))
        #expect(!CredentialScope.registryServer("r.example", matches: "r.example.evil.example"))
        #expect(!CredentialScope.registryServer("r.example", matches: "r.example:5000"))
    }
}
