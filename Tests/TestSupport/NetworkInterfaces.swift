import Foundation

/// This machine's own addresses, for tests that tell them from other hosts'.
public enum NetworkInterfaces {
    /// The addresses of this machine's interfaces that are neither loopback nor link-local
    /// (read here with getifaddrs, apart from the code under test).
    public static func ownRoutableAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var found: [String] = []
        var entry = list
        while let e = entry {
            entry = e.pointee.ifa_next
            guard let a = e.pointee.ifa_addr, [AF_INET, AF_INET6].contains(Int32(a.pointee.sa_family)) else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = socklen_t(Int32(a.pointee.sa_family) == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            guard getnameinfo(a, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("127.") || text == "::1" || text.lowercased().hasPrefix("fe80") || text.hasPrefix("169.254.") { continue }
            found.append(text)
        }
        return found
    }
}
