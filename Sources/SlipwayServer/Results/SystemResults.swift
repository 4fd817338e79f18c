import Engine
import Foundation
import SlipwayProtocol

/// `system/gc` result: what was freed (or, with dryRun, would be), by kind.
public struct CollectResult: Codable, Sendable {
    /// One kind: how many files or folders, and the bytes given back.
    public struct Row: Codable, Sendable {
        public var kind: String
        public var count: Int
        public var bytes: Int64
    }
    public var dryRun: Bool
    public var freed: [Row]
    public var totalBytes: Int64

    init(_ report: Engine.CollectionReport, dryRun: Bool) {
        self.dryRun = dryRun
        freed = report.freed.sorted { $0.key < $1.key }.map { Row(kind: $0.key, count: $0.value.count, bytes: $0.value.bytes) }
        totalBytes = report.total.bytes
    }
}

/// `system/df` result: what the state directory holds, by kind.
public struct DiskUsageResult: Codable, Sendable {
    /// One kind: how many, their bytes (a file with several links counted once), and how many
    /// of those bytes `system/gc` would give back.
    public struct Row: Codable, Sendable {
        public var kind: String
        public var count: Int
        public var bytes: Int64
        public var reclaimable: Int64
    }
    public var kinds: [Row]
    public var totalBytes: Int64

    init(_ rows: [Engine.UsageRow]) {
        kinds = rows.map { Row(kind: $0.kind, count: $0.count, bytes: $0.bytes, reclaimable: $0.reclaimable) }
        totalBytes = rows.reduce(0) { $0 + $1.bytes }
    }
}
