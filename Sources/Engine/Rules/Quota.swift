import SlipwayProtocol

/// What a namespace may hold, as a code engine limits a project: images (build
/// configurations), stand-alone build runs, and bytes of stored data. Nil is unlimited.
public struct Quota: Sendable, Equatable {
    /// The resources a quota limits.
    public enum Resource: String, Sendable, CaseIterable { case images, buildruns, storage }

    public var images: Int64? = 100
    public var buildruns: Int64? = 100
    public var storage: Int64?

    public init(images: Int64? = 100, buildruns: Int64? = 100, storage: Int64? = nil) {
        self.images = images
        self.buildruns = buildruns
        self.storage = storage
    }

    public func limit(_ r: Resource) -> Int64? {
        switch r {
        case .images: return images
        case .buildruns: return buildruns
        case .storage: return storage
        }
    }

    /// Parses `images=100,buildruns=50,storage=10G` (any subset; `unlimited` is a value; storage
    /// takes K, M, G, T suffixes) over `base`, or says what is wrong.
    public static func parse(_ text: String, over base: Quota = Quota()) -> Result<Quota, QuotaSyntaxError> {
        var q = base
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, let r = Resource(rawValue: kv[0].trimmingCharacters(in: .whitespaces)) else {
                return .failure(QuotaSyntaxError(text: "'\(part)' is not RESOURCE=VALUE with RESOURCE one of images, buildruns, storage"))
            }
            let v = kv[1].trimmingCharacters(in: .whitespaces)
            var value: Int64?
            if v != "unlimited" {
                guard let n = Self.number(v, bytes: r == .storage), n >= 0 else {
                    return .failure(QuotaSyntaxError(text: "'\(v)' is not a number\(r == .storage ? " of bytes (K, M, G, T suffixes)" : "") or 'unlimited' for \(r.rawValue)"))
                }
                value = n
            }
            switch r {
            case .images: q.images = value
            case .buildruns: q.buildruns = value
            case .storage: q.storage = value
            }
        }
        return .success(q)
    }

    /// A number, with K, M, G, T suffixes when it counts `bytes`; nil when it is not one.
    public static func number(_ v: String, bytes: Bool) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if bytes, let u = v.last.flatMap({ units[$0] }), let n = Int64(v.dropLast()) { return n.multipliedReportingOverflow(by: u).overflow ? nil : n * u }
        return Int64(v)
    }

    /// How a quota is written back (`engine status`, flag comparison).
    public var text: String {
        Resource.allCases.map { r in "\(r.rawValue)=\(limit(r).map(String.init) ?? "unlimited")" }.joined(separator: ",")
    }
}

/// Why a `--quota` value cannot be read.
public struct QuotaSyntaxError: Error, Sendable {
    public let text: String
}
