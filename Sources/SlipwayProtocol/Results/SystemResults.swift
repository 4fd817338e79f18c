import Foundation

/// `system/gc` result: what was freed (or, with dryRun, would be), by kind.
public struct CollectResult: Codable, Sendable {
    /// One kind: how many files or folders, and the bytes given back.
    public struct Row: Codable, Sendable {
        public var kind: String
        public var count: Int
        public var bytes: Int64
        public init(kind: String, count: Int, bytes: Int64) { self.kind = kind; self.count = count; self.bytes = bytes }
    }
    public var dryRun: Bool
    public var freed: [Row]
    public var totalBytes: Int64

    public init(dryRun: Bool, freed: [Row], totalBytes: Int64) {
        self.dryRun = dryRun
        self.freed = freed
        self.totalBytes = totalBytes
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
        public init(kind: String, count: Int, bytes: Int64, reclaimable: Int64) { self.kind = kind; self.count = count; self.bytes = bytes; self.reclaimable = reclaimable }
    }
    public var kinds: [Row]
    public var totalBytes: Int64

    public init(kinds: [Row], totalBytes: Int64) {
        self.kinds = kinds
        self.totalBytes = totalBytes
    }
}

/// `quota/get` result: a namespace's limits (absent: unlimited) and what it holds now.
public struct QuotaResult: Codable, Sendable {
    /// Numbers per resource.
    public struct Amounts: Codable, Sendable {
        public var images: Int64?
        public var buildruns: Int64?
        /// Bytes.
        public var storage: Int64?
        public init(images: Int64?, buildruns: Int64?, storage: Int64?) { self.images = images; self.buildruns = buildruns; self.storage = storage }
    }
    public var namespace: String
    public var limits: Amounts
    public var used: Amounts

    public init(namespace: String, limits: Amounts, used: Amounts) {
        self.namespace = namespace
        self.limits = limits
        self.used = used
    }
}

extension QuotaResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "namespace": {"type": "string"},
            "limits": {
              "type": "object",
              "properties": {
                "images": {"type": "integer"},
                "buildruns": {"type": "integer"},
                "storage": {"type": "integer", "description": "Bytes."}
              },
              "additionalProperties": false,
              "description": "Per resource; a limit that is absent is unlimited."
            },
            "used": {
              "type": "object",
              "properties": {
                "images": {"type": "integer"},
                "buildruns": {"type": "integer"},
                "storage": {"type": "integer", "description": "Bytes."}
              },
              "additionalProperties": false,
              "description": "Per resource; a limit that is absent is unlimited."
            }
          },
          "additionalProperties": false,
          "required": ["namespace", "limits", "used"]
        }
        """#
}

extension CollectResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "dryRun": {"type": "boolean"},
            "freed": {
              "type": "array",
              "items": {
                "type": "object",
                "properties": {
                  "kind": {"enum": ["blobs", "buildpacks", "caches", "dockerfile", "images", "logs", "stacks"]},
                  "count": {"type": "integer"},
                  "bytes": {"type": "integer"}
                },
                "additionalProperties": false,
                "required": ["kind", "count", "bytes"]
              }
            },
            "totalBytes": {"type": "integer"}
          },
          "additionalProperties": false,
          "required": ["dryRun", "freed", "totalBytes"]
        }
        """#
}

extension DiskUsageResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "kinds": {
              "type": "array",
              "items": {
                "type": "object",
                "properties": {
                  "kind": {
                    "enum": [
                      "images",
                      "layers",
                      "sources",
                      "stacks",
                      "buildpacks",
                      "caches",
                      "logs",
                      "unreferenced",
                      "events"
                    ]
                  },
                  "count": {"type": "integer"},
                  "bytes": {"type": "integer"},
                  "reclaimable": {"type": "integer"}
                },
                "additionalProperties": false,
                "required": ["kind", "count", "bytes", "reclaimable"]
              }
            },
            "totalBytes": {"type": "integer"}
          },
          "additionalProperties": false,
          "required": ["kinds", "totalBytes"]
        }
        """#
}
