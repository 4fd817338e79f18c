import CCrypto
import Foundation

/// A content digest in OCI form (`sha256:<64 hex>`). Everything Slipway stores by content —
/// source snapshots, layers, configs, manifests — is named by one of these.
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let hex: String

    public init?(_ string: String) {
        guard string.hasPrefix("sha256:") else { return nil }
        let hex = String(string.dropFirst(7))
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            return nil
        }
        self.hex = hex
    }

    init(hex: String) { self.hex = hex }

    public var description: String { "sha256:" + hex }
    public var string: String { description }
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let d = Digest(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(s)' is not a sha256 digest"))
        }
        self = d
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// The digest of a byte buffer.
    public static func of(_ bytes: some ContiguousBytes) -> Digest {
        let h = SHA256Hasher()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finish()
    }

    public static func of(_ string: String) -> Digest { of(Array(string.utf8)) }
}

/// Incremental SHA-256 over libcrypto (which uses the CPU's SHA extensions where present).
public final class SHA256Hasher {
    private let ctx: OpaquePointer

    public init() {
        ctx = EVP_MD_CTX_new()
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything given so far; call once.
    public func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &len)
        return Digest(hex: hexString(out))
    }
}

private let hexChars: [UInt8] = Array("0123456789abcdef".utf8)

func hexString(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(hexChars[Int(b >> 4)])
        out.append(hexChars[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}
