import Foundation
import Testing
@testable import BuildRuntime

@Suite struct RegistryClientTests {
    @Test func httpsUnlessLoopbackOrInsecure() {
        #expect(RegistryClient(host: "registry.example.com", insecure: false, credentials: nil).url("x/manifests/1").absoluteString
                == "https://registry.example.com/v2/x/manifests/1")
        #expect(RegistryClient(host: "127.0.0.1:5000", insecure: true, credentials: nil).url("").scheme == "http")
        // Loopback: https first (a local TLS registry), plain HTTP when the handshake fails.
        let local = RegistryClient(host: "127.0.0.1:5000", insecure: false, credentials: nil)
        #expect(local.url("").scheme == "https" && local.transport.fallsBackToHTTP)
        #expect(!RegistryClient(host: "registry.example.com", insecure: false, credentials: nil).transport.fallsBackToHTTP)
        #expect(RegistryClient.isLoopback("127.0.0.1:5000"))
        #expect(RegistryClient.isLoopback("localhost"))
        #expect(!RegistryClient.isLoopback("10.0.0.1:5000"))
        #expect(!RegistryClient.isLoopback("registry.example.com"))
        // Parsed as addresses: a name that merely starts with "127." is not loopback.
        #expect(!RegistryClient.isLoopback("127.evil.example:5000"))
        #expect(RegistryClient.isLoopback("[::1]:5000"))
        #expect(RegistryClient.isLoopback("127.1.2.3"))
    }

    /// Credentials go only to plain HTTP hosts that are loopback or named insecure.
    @Test func credentialsTravelOverPlainHTTPOnlyToLoopbackOrInsecureHosts() {
        let c = RegistryClient(host: "127.0.0.1:5000", insecure: true, credentials: .init(username: "u", password: "p"), insecureHosts: ["reg.lan:5000"])
        #expect(c.transport.mayCarryCredentials(URL(string: "https://auth.example.com/token")!))
        #expect(c.transport.mayCarryCredentials(URL(string: "http://127.0.0.1:9/token")!))
        #expect(c.transport.mayCarryCredentials(URL(string: "http://reg.lan:5000/token")!))
        #expect(!c.transport.mayCarryCredentials(URL(string: "http://auth.example.com/token")!))
        #expect(!c.transport.mayCarryCredentials(URL(string: "http://reg.lan:5001/token")!))
        #expect(!c.transport.mayCarryCredentials(URL(string: "http://127.evil.example/token")!))
    }

    @Test func bearerChallengeParameters() {
        let p = RegistryTransport.parseChallenge(#" realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#)
        #expect(p == ["realm": "https://auth.example.com/token", "service": "registry.example.com", "scope": "repository:a/b:pull,push"])
    }

    @Test func imageReferences() throws {
        #expect(try ImageReference.parse("127.0.0.1:5000/team/app:1.0", field: "t") == .registry(host: "127.0.0.1:5000", repository: "team/app", tag: "1.0", digest: nil))
        #expect(try ImageReference.parse("ubuntu", field: "t") == .registry(host: "docker.io", repository: "library/ubuntu", tag: "latest", digest: nil))
        #expect(try ImageReference.parse("oci:/tmp/layout", field: "t") == .layout(path: "/tmp/layout", tag: "latest"))
        #expect(try ImageReference.parse("oci:/tmp/layout:v2", field: "t") == .layout(path: "/tmp/layout", tag: "v2"))
        #expect(try ImageReference.parse("/srv/rootfs", field: "t") == .rootfs(path: "/srv/rootfs"))
        #expect(throws: RuntimeError.self) { try ImageReference.parse("Upper/Case:1", field: "t") }
        #expect(throws: RuntimeError.self) { try ImageReference.parse("oci:relative", field: "t") }
    }
}
