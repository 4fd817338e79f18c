import Foundation

/// An IPv4 or IPv6 address as its bytes: what a connection-time address check compares. An
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is kept as its IPv4 address, so both spellings
/// of one address are one value.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), in network order.
    public let bytes: [UInt8]

    /// nil unless `bytes` holds 4 or 16 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff]
        self.bytes = bytes.count == 16 && bytes.starts(with: mappedPrefix) ? Array(bytes[12...]) : bytes
    }

    /// An address literal (`192.0.2.1`, `2001:db8::1`, `::ffff:127.0.0.1`); nil for anything else.
    public init?(_ text: String) {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
        } else {
            return nil
        }
    }

    public var isIPv4: Bool { bytes.count == 4 }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        bytes.withUnsafeBytes { _ = inet_ntop(isIPv4 ? AF_INET : AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address with `port`, as a URL writes it (`[::1]:80` for IPv6).
    func withPort(_ port: Int) -> String { isIPv4 ? "\(self):\(port)" : "[\(self)]:\(port)" }

    /// Whether the first `bits` bits are those of `prefix` (bytes of the same family).
    func isIn(_ prefix: [UInt8], bits: Int) -> Bool {
        guard prefix.count == bytes.count else { return false }
        for i in 0..<(bits / 8) where bytes[i] != prefix[i] { return false }
        let rest = bits % 8
        guard rest > 0 else { return true }
        let mask = UInt8(0xff) << (8 - rest)
        return bytes[bits / 8] & mask == prefix[bits / 8] & mask
    }

    /// The addresses of the engine host's own network interfaces, all of them (up or down),
    /// read now.
    static func hostAddresses() -> Set<IPAddress> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var found = Set<IPAddress>()
        var entry = list
        while let e = entry {
            if let a = e.pointee.ifa_addr, let address = IPAddress(socketAddress: a) { found.insert(address) }
            entry = e.pointee.ifa_next
        }
        return found
    }

    /// The addresses `name` resolves to now; none when it does not resolve.
    static func resolving(_ name: String) -> Set<IPAddress> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var found = Set<IPAddress>()
        var entry = list
        while let e = entry {
            if let a = e.pointee.ai_addr, let address = IPAddress(socketAddress: a) { found.insert(address) }
            entry = e.pointee.ai_next
        }
        return found
    }

    /// The address in an IPv4 or IPv6 socket address; nil for any other family.
    init?(socketAddress a: UnsafePointer<sockaddr>) {
        switch Int32(a.pointee.sa_family) {
        case AF_INET:
            var v4 = a.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
        case AF_INET6:
            var v6 = a.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
        default:
            return nil
        }
    }
}

/// Which addresses the engine may connect to when it fetches something on a build's behalf
/// (ADD of a URL, with the public network): a build must not reach the engine's host through
/// the engine (a loopback address, or any address of the host's own interfaces), nor a
/// link-local service (a cloud's metadata service at 169.254.169.254), nor an unspecified,
/// multicast, broadcast or reserved address, unless an `--allow-add-host HOST[:PORT]` entry
/// names it. Other addresses, private (RFC 1918, fc00::/7) ones included, are allowed: a build
/// may fetch from a server of its LAN.
///
/// `HTTPClient` applies it when a connection is opened, to the address actually connected to
/// (after name resolution, for every attempt and every redirect), so neither a name that
/// resolves or rebinds to such an address nor a redirect gets around it. The host's own
/// addresses are read at each check (interfaces come and go), and so are the addresses a
/// name in the allow list resolves to (a name is looked up only when an address would
/// otherwise be refused).
public struct OutboundAddressPolicy: Sendable {
    /// One `--allow-add-host` entry: an address or a name, and a port (without one, every port).
    public struct AllowedHost: Sendable, Equatable {
        /// What an entry names.
        public enum Host: Sendable, Equatable {
            case address(IPAddress)
            /// A host name, lowercased: it allows the addresses it resolves to when checked.
            case name(String)
        }
        public let host: Host
        public let port: Int?

        /// `HOST`, `HOST:PORT`, an IPv6 literal alone (`::1`) or bracketed with a port
        /// (`[::1]:8080`); nil for anything else (a URL, a path, a port out of range).
        public init?(parsing text: String) {
            var hostText = text
            var portText: Substring?
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return nil }
                hostText = String(text[text.index(after: text.startIndex)..<close])
                let rest = text[text.index(after: close)...]
                if !rest.isEmpty {
                    guard rest.hasPrefix(":") else { return nil }
                    portText = rest.dropFirst()
                }
                guard hostText.contains(":") else { return nil }  // brackets are for IPv6 only
            } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
                hostText = String(text[..<colon])
                portText = text[text.index(after: colon)...]
            }
            if let portText {
                guard let p = Int(portText), (1...65535).contains(p) else { return nil }
                port = p
            } else {
                port = nil
            }
            if let address = IPAddress(hostText) {
                host = .address(address)
            } else {
                let name = hostText.lowercased()
                guard !name.isEmpty, name.utf8.count <= 253, !name.hasPrefix("-"), !name.hasPrefix("."),
                    name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") })
                else { return nil }
                host = .name(name)
            }
        }

        /// Whether the entry names `address` (a name: one of the addresses it resolves to now)
        /// and `port`.
        func allows(_ address: IPAddress, port: Int) -> Bool {
            if let p = self.port, p != port { return false }
            switch host {
            case .address(let a): return a == address
            case .name(let n): return IPAddress.resolving(n).contains(address)
            }
        }
    }

    public let allowed: [AllowedHost]

    public init(allowing allowed: [AllowedHost] = []) { self.allowed = allowed }

    /// A policy from `--allow-add-host` values; an entry that is not `HOST[:PORT]` is an error.
    public init(allowing entries: [String]) throws {
        self.allowed = try entries.map {
            guard let entry = AllowedHost(parsing: $0) else {
                throw RuntimeError.invalid("--allow-add-host \($0) is not HOST[:PORT] (an address, [IPv6]:PORT, or a host name)")
            }
            return entry
        }
    }

    /// nil when a build may connect to `address` on `port`; else why not, naming the address
    /// and the flag that would allow it.
    public func refusal(connectingTo address: IPAddress, port: Int) -> String? {
        guard let what = Self.restriction(of: address) else { return nil }
        if allowed.contains(where: { $0.allows(address, port: port) }) { return nil }
        let target = address.withPort(port)
        return "a build may not fetch from \(target): it is \(what); an engine started with --allow-add-host \(target) allows it"
    }

    /// What makes `address` one a build may not reach unless allowed; nil for any other.
    static func restriction(of address: IPAddress) -> String? {
        let b = address.bytes
        if address.isIPv4 {
            if address.isIn([0, 0, 0, 0], bits: 8) { return "an unspecified address (this host)" }
            if address.isIn([127, 0, 0, 0], bits: 8) { return "a loopback address (the engine's host)" }
            if address.isIn([169, 254, 0, 0], bits: 16) { return "a link-local address (such as a cloud's metadata service)" }
            if address.isIn([224, 0, 0, 0], bits: 4) { return "a multicast address" }
            if address.isIn([240, 0, 0, 0], bits: 4) { return "a broadcast or reserved address" }
        } else {
            let zero = [UInt8](repeating: 0, count: 16)
            if address.isIn(zero, bits: 120) && b[15] == 0 { return "the unspecified address (this host)" }
            if address.isIn(zero, bits: 120) && b[15] == 1 { return "the loopback address (the engine's host)" }
            // ::a.b.c.d, deprecated; some stacks still route them as IPv4.
            if address.isIn(zero, bits: 96) { return "an IPv4-compatible address" }
            if address.isIn([0xfe, 0x80] + zero.dropFirst(2), bits: 10) { return "a link-local address" }
            if address.isIn([0xff] + zero.dropFirst(1), bits: 8) { return "a multicast address" }
        }
        if IPAddress.hostAddresses().contains(address) { return "an address of the engine's host" }
        return nil
    }
}
