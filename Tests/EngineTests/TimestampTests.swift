import Foundation
import SlipwayProtocol
import Testing

/// Timestamps of log lines, events and builds: RFC 3339 in UTC with milliseconds, as
/// `String(format:)` wrote them before they were written digit by digit.
@Suite struct TimestampTests {
    @Test func timestampsAreRFC3339WithMilliseconds() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0.5)) == "1970-01-01T00:00:00.500Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_765_000_000.5)) == "2025-12-06T05:46:40.500Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400.25)) == "2000-02-29T00:00:00.250Z")
        let now = Date()
        #expect(Timestamp.parse(Timestamp.format(now)).map { abs($0.timeIntervalSince(now)) < 0.002 } == true)
    }
}
