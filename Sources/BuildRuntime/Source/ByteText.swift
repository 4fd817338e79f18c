/// Numbers written into and read from byte buffers as ASCII text, without a `String` per field:
/// the snapshot manifest, the stat index and the app chunks' keys hold thousands of them, and
/// these run on every edit. The text is what `String(value)` / `String(value, radix:)` gives.
extension Array where Element == UInt8 {
    mutating func appendNumber(_ value: Int64, radix: Int64 = 10) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendNumber(UInt64(value.magnitude), radix: UInt64(radix))
        } else {
            appendNumber(UInt64(value), radix: UInt64(radix))
        }
    }

    /// `radix` is at most 10 (decimal or octal).
    mutating func appendNumber(_ value: UInt64, radix: UInt64 = 10) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { digits in
            var n = 0
            var v = value
            repeat {
                digits[n] = UInt8(truncatingIfNeeded: v % radix) + UInt8(ascii: "0")
                v /= radix
                n += 1
            } while v > 0
            while n > 0 {
                n -= 1
                append(digits[n])
            }
        }
    }
}

/// Reads an unsigned or negative decimal number from a slice of ASCII digits; nil for anything
/// else (empty, a sign alone, another byte, an overflow).
func parseDecimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
    var i = bytes.startIndex
    let negative = i < bytes.endIndex && bytes[i] == UInt8(ascii: "-")
    if negative { i += 1 }
    guard i < bytes.endIndex else { return nil }
    var value: Int64 = 0
    while i < bytes.endIndex {
        let c = bytes[i]
        guard c >= 0x30 && c <= 0x39 else { return nil }
        let (m, o1) = value.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(Int64(c - 0x30))
        guard !o1, !o2 else { return nil }
        value = a
        i += 1
    }
    return negative ? -value : value
}
