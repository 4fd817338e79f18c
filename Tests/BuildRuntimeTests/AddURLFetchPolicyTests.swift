import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// A build's downloads (ADD of a URL) against a peer on this machine (Fixtures/add_url_peer.py):
/// the engine's host is refused at connect time, by address, name and redirect alike, unless
/// `--allow-add-host` names it; and the source size cap counts a build's downloads together.
@Suite struct AddURLFetchPolicyTests {
    /// A peer, the file it records requests in, and a content store to fetch into.
    struct Fixture {
        let dir = TempDir("add-url")
        let peer: FixtureServer
        let store: ContentStore
        var port: Int { Int(peer.port) ?? 0 }

        init() throws {
            peer = try FixtureServer("add_url_peer.py", [dir.path + "/record"])
            store = try ContentStore(root: URL(fileURLWithPath: dir.path + "/store"))
        }

        /// The paths the peer was asked for so far.
        var requests: [String] {
            ((try? String(contentsOfFile: dir.path + "/record", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        /// Fetches `url` to a new file, as a build's download does.
        func fetch(_ url: String, allowing entries: [String] = [], budget: ByteBudget = ByteBudget(limit: 1 << 20),
                   to target: String = UUID().uuidString) async throws -> FetchedBlob {
            let fetcher = BlobFetcher(budget: budget, addressPolicy: try OutboundAddressPolicy(allowing: entries))
            return try await fetcher.fetch(try #require(URL(string: url)), to: dir.path + "/" + target, through: store)
        }

        /// The message of the error `fetch` throws, which must be an invalid-input RuntimeError,
        /// and checks that nothing was written.
        func refusal(_ url: String, allowing entries: [String] = [], budget: ByteBudget = ByteBudget(limit: 1 << 20)) async throws -> String {
            let target = UUID().uuidString
            do {
                let fetched = try await fetch(url, allowing: entries, budget: budget, to: target)
                Issue.record("\(url) was fetched (\(fetched.bytes) bytes) though it should be refused")
                return ""
            } catch let e as RuntimeError {
                #expect(e.kind == .invalidInput, "\(e)")
                #expect(!FileManager.default.fileExists(atPath: dir.path + "/" + target), "a refused download left a file")
                return e.message
            }
        }
    }

    /// The engine's loopback, by address or by a name resolving to it, is refused before any
    /// byte is sent, naming the address and the flag; the flag with that address and port
    /// allows it, and only on that port.
    @Test func loopbackIsRefusedUnlessAllowed() async throws {
        let f = try Fixture()
        let port = f.port
        for (url, address) in [("http://127.0.0.1:\(port)/bytes/10", "127.0.0.1:\(port)"), ("http://[::1]:\(port)/bytes/10", "[::1]:\(port)"),
                               ("http://[::ffff:127.0.0.1]:\(port)/bytes/10", "127.0.0.1:\(port)"), ("http://localhost:\(port)/bytes/10", ":\(port)")] {
            let why = try await f.refusal(url)
            #expect(why.contains("a build may not fetch from ") && why.contains(address) && why.contains("loopback"), "\(why)")
            #expect(why.contains("--allow-add-host "), "\(why)")
        }
        #expect(try await f.refusal("http://127.0.0.1:\(port)/bytes/10", allowing: ["127.0.0.1:\(port == 65535 ? 1 : port + 1)"]).contains("loopback"))
        #expect(f.requests.isEmpty, "the refused peer was asked \(f.requests)")

        // The typed error, from the client itself.
        let request = HTTPRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/bytes/10")), addressPolicy: OutboundAddressPolicy())
        await #expect(throws: HTTPError.addressRefused(
            "a build may not fetch from 127.0.0.1:\(port): it is a loopback address (the engine's host); an engine started with --allow-add-host 127.0.0.1:\(port) allows it"
        )) { try await HTTPClient().send(request) }

        for allowed in ["127.0.0.1:\(port)", "127.0.0.1", "localhost:\(port)"] {
            let fetched = try await f.fetch("http://127.0.0.1:\(port)/bytes/10", allowing: [allowed])
            #expect(fetched.bytes == 10, "\(allowed)")
        }
    }

    /// An address of one of the host's own interfaces reaches the engine's host as loopback does.
    @Test func theHostsOwnAddressIsRefused() async throws {
        let f = try Fixture()
        let own = try #require(NetworkInterfaces.ownRoutableAddresses().first, "no interface address besides loopback and link-local")
        let host = own.contains(":") ? "[\(own)]" : own
        let why = try await f.refusal("http://\(host):\(f.port)/bytes/10")
        #expect(why.contains("\(host):\(f.port)") && why.contains("an address of the engine's host"), "\(why)")
        #expect(f.requests.isEmpty)
        #expect(try await f.fetch("http://\(host):\(f.port)/bytes/10", allowing: [own]).bytes == 10)
    }

    /// A redirect is checked like the URL it leaves: an allowed peer redirecting to a refused
    /// one gets nothing from it, and nothing is written.
    @Test func aRedirectToARefusedAddressIsRefused() async throws {
        let a = try Fixture(), b = try Fixture()
        let target = "http://127.0.0.1:\(b.port)/bytes/10"
        let url = "http://127.0.0.1:\(a.port)/redirect?to=" + (target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let why = try await a.refusal(url, allowing: ["127.0.0.1:\(a.port)"])
        #expect(why.contains("(redirected to \(target))") && why.contains("a build may not fetch from 127.0.0.1:\(b.port)"), "\(why)")
        #expect(a.requests.count == 1 && b.requests.isEmpty, "asked: \(a.requests) then \(b.requests)")
        // Both allowed: the redirect is followed.
        #expect(try await a.fetch(url, allowing: ["127.0.0.1:\(a.port)", "127.0.0.1:\(b.port)"]).bytes == 10)
        #expect(b.requests == ["/bytes/10"])
    }

    /// One budget for a build's downloads: the second download past it fails naming the cap
    /// and what was left of it; an image's blob source (no budget, no address policy) is
    /// fetched as before.
    @Test func theSourceSizeCapCountsABuildsDownloadsTogether() async throws {
        let f = try Fixture()
        let url = "http://127.0.0.1:\(f.port)/bytes/600"
        let allowed = ["127.0.0.1:\(f.port)"]
        let budget = ByteBudget(limit: 1000)
        #expect(try await f.fetch(url, allowing: allowed, budget: budget).bytes == 600)
        #expect(budget.remaining == 400)
        let why = try await f.refusal(url, allowing: allowed, budget: budget)
        #expect(why.contains("is larger than 400 bytes, what is left of the source size cap (1000 bytes for all of a build's downloads)"), "\(why)")
        #expect(budget.remaining == 400)
        #expect(try await f.fetch("http://127.0.0.1:\(f.port)/bytes/400", allowing: allowed, budget: budget).bytes == 400)
        #expect(budget.remaining == 0)

        let blobSource = BlobFetcher(maxBytes: 1000)
        for _ in 0..<2 {
            #expect(try await blobSource.fetch(try #require(URL(string: url)), to: f.dir.path + "/" + UUID().uuidString, through: f.store).bytes == 600)
        }
        let file = f.dir.path + "/local"
        try Data(repeating: 1, count: 5).write(to: URL(fileURLWithPath: file))
        #expect(try await blobSource.fetch(URL(fileURLWithPath: file), to: f.dir.path + "/copy", through: f.store).bytes == 5)
        // A build's download is http(s) only.
        #expect(try await f.refusal("file://" + file).contains("is not an http(s) URL"))
    }
}
