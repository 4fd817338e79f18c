import Foundation
import Testing
@testable import BuildRuntime
import TestSupport

/// What a build's ADD may connect to: not the engine's host (loopback, its interfaces' own
/// addresses), not link-local, unspecified, multicast or broadcast addresses, unless an
/// `--allow-add-host` entry names the address (and port); public and LAN addresses are fine.
@Suite struct OutboundAddressPolicyTests {
    func refusal(_ address: String, port: Int = 80, allowing entries: [String] = []) throws -> String? {
        let ip = try #require(IPAddress(address), "\(address) should parse")
        return try OutboundAddressPolicy(allowing: entries).refusal(connectingTo: ip, port: port)
    }

    @Test(arguments: [
        ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("::ffff:169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("255.255.255.255", "broadcast"), ("::127.0.0.1", "IPv4-compatible"),
    ])
    func refusesTheHostLinkLocalAndNonUnicastAddresses(_ address: String, _ what: String) throws {
        let why = try #require(try refusal(address, port: 8080), "\(address) should be refused")
        #expect(why.contains(what), "\(why)")
        let shown = try #require(IPAddress(address)).withPort(8080)
        #expect(why.contains("a build may not fetch from \(shown)") && why.contains("--allow-add-host \(shown)"), "\(why)")
    }

    /// Public addresses and a LAN's private ones are reached as before.
    @Test func allowsPublicAndPrivateAddresses() throws {
        let own = Set(NetworkInterfaces.ownRoutableAddresses().compactMap(IPAddress.init))
        for address in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "10.1.2.3", "172.16.5.4", "192.168.77.10", "fd12:3456::1"]
        where !own.contains(try #require(IPAddress(address))) {
            #expect(try refusal(address) == nil, "\(address) should be allowed")
        }
    }

    /// An address of one of the engine host's own interfaces (not loopback) reaches the host as
    /// surely as 127.0.0.1 does.
    @Test func refusesTheHostsOwnInterfaceAddresses() throws {
        let own = NetworkInterfaces.ownRoutableAddresses()
        try #require(!own.isEmpty, "this machine has no interface address besides loopback and link-local ones")
        for address in own {
            let why = try #require(try refusal(address), "\(address), this machine's own, should be refused")
            #expect(why.contains("an address of the engine's host"), "\(why)")
            #expect(try refusal(address, allowing: [address]) == nil)
        }
    }

    @Test func allowEntriesNameAnAddressOrANameAndMaybeAPort() throws {
        #expect(try refusal("127.0.0.1", port: 8080, allowing: ["127.0.0.1"]) == nil)
        #expect(try refusal("127.0.0.1", port: 8080, allowing: ["127.0.0.1:8080"]) == nil)
        #expect(try refusal("127.0.0.1", port: 8081, allowing: ["127.0.0.1:8080"]) != nil)
        #expect(try refusal("127.0.0.2", port: 8080, allowing: ["127.0.0.1:8080"]) != nil)
        #expect(try refusal("::ffff:127.0.0.1", port: 8080, allowing: ["127.0.0.1:8080"]) == nil)
        #expect(try refusal("::1", port: 443, allowing: ["::1"]) == nil)
        #expect(try refusal("::1", port: 8080, allowing: ["[::1]:8080"]) == nil)
        #expect(try refusal("::1", port: 8081, allowing: ["[::1]:8080"]) != nil)
        #expect(try refusal("169.254.169.254", port: 80, allowing: ["127.0.0.1", "169.254.169.254:80"]) == nil)
        // A name allows what it resolves to (here, from /etc/hosts), and only that.
        #expect(try refusal("127.0.0.1", port: 8080, allowing: ["LocalHost:8080"]) == nil)
        #expect(try refusal("169.254.169.254", port: 8080, allowing: ["localhost:8080"]) != nil)
        #expect(try refusal("127.0.0.1", port: 8080, allowing: ["no-such-host.invalid:8080"]) != nil)
    }

    @Test(arguments: ["", "http://127.0.0.1/", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x", "host:", "[::1", "[::1]8080",
                      "[127.0.0.1]:80", "a b", "host:1:2", "-leading.example", "/etc/hosts"])
    func malformedAllowEntriesAreRefused(_ entry: String) {
        #expect(OutboundAddressPolicy.AllowedHost(parsing: entry) == nil, "\(entry)")
        #expect(throws: RuntimeError.self) { try OutboundAddressPolicy(allowing: [entry]) }
    }

    @Test func addressesParseAndPrint() throws {
        #expect(IPAddress("::ffff:10.0.0.1") == IPAddress("10.0.0.1"))
        #expect(try #require(IPAddress("::ffff:10.0.0.1")).description == "10.0.0.1")
        #expect(try #require(IPAddress("2001:DB8::1")).withPort(443) == "[2001:db8::1]:443")
        #expect(IPAddress("localhost") == nil && IPAddress("1.2.3") == nil && IPAddress(bytes: [1, 2, 3]) == nil)
    }
}
