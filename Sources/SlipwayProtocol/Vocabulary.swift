import Foundation

/// A build's status: QUEUED → BUILDING → SUCCESS | FAILURE.
public enum BuildState: String, Codable, Sendable { case QUEUED, BUILDING, SUCCESS, FAILURE
    public var isFinished: Bool { self == .SUCCESS || self == .FAILURE }
}

/// Whether the image's latest build is usable (`kp image status`).
public enum ReadyState: String, Codable, Sendable { case Ready, NotReady, Building, Unknown }

/// The build strategy of an image.
public enum BuildStrategy: String, Codable, Sendable, CaseIterable { case buildpacks, dockerfile }

/// The network a build's steps get: `none` (a network namespace with only its own loopback)
/// or `public` (outbound access through slirp4netns, the host's loopback unreachable). The
/// engine's `--build-network` is the most an image or build run may ask for, and the default.
public enum BuildNetwork: String, Codable, Sendable, CaseIterable, Comparable {
    case none
    case `public`

    public static func < (a: BuildNetwork, b: BuildNetwork) -> Bool { a == .none && b == .public }
}

/// Which builder an image uses.
public struct BuilderReference: Codable, Sendable, Equatable, Hashable {
    /// A cluster-scoped or a namespaced builder.
    public enum Kind: String, Codable, Sendable { case ClusterBuilder, Builder }
    public var kind: Kind
    public var name: String
    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }
    public static let `default` = BuilderReference(kind: .ClusterBuilder, name: "default")
}

/// One entry of a builder's detection order.
public struct OrderEntry: Codable, Sendable, Equatable {
    public var id: String
    public var version: String?
    public var optional: Bool?

    public init(id: String, version: String? = nil, optional: Bool? = nil) {
        self.id = id
        self.version = version
        self.optional = optional
    }
}

/// One group of a builder's detection order.
public struct OrderGroup: Codable, Sendable, Equatable {
    public var group: [OrderEntry]

    public init(group: [OrderEntry]) {
        self.group = group
    }
}

/// Where an image's source comes from. Exactly one of `git`, `blob`, `local` is set.
public struct SourceSpec: Codable, Sendable, Equatable {
    /// A git repository and the revision to build.
    public struct Git: Codable, Sendable, Equatable {
        public var url: String
        /// A branch, a tag or a full commit SHA; default the remote's default branch.
        public var revision: String?
        /// Whether a branch or tag is polled for new commits (default true; commits never are).
        public var poll: Bool?
        public init(url: String, revision: String? = nil, poll: Bool? = nil) {
            self.url = url
            self.revision = revision
            self.poll = poll
        }
    }
    /// An archive at a URL.
    public struct Blob: Codable, Sendable, Equatable {
        public var url: String
        public var stripComponents: Int?
        public init(url: String, stripComponents: Int? = nil) { self.url = url; self.stripComponents = stripComponents }
    }
    /// A folder or archive on this machine.
    public struct Local: Codable, Sendable, Equatable {
        public var path: String
        /// Rebuild when the folder changes (inotify, in the shared engine).
        public var watch: Bool?
        /// Quiet time after the last change before the rebuild (default 200 ms).
        public var watchDebounceMs: Int?
        public init(path: String, watch: Bool? = nil, watchDebounceMs: Int? = nil) {
            self.path = path
            self.watch = watch
            self.watchDebounceMs = watchDebounceMs
        }
    }
    public var git: Git?
    public var blob: Blob?
    public var local: Local?
    public var subPath: String?
    /// What the source resolved to at create, patch or poll; set by the engine (ignored in params).
    public var resolved: ResolvedSource?

    public init(git: Git? = nil, blob: Blob? = nil, local: Local? = nil, subPath: String? = nil) {
        self.git = git
        self.blob = blob
        self.local = local
        self.subPath = subPath
    }

    public var kind: SourceKind {
        if git != nil { return .git }
        if blob != nil { return .blob }
        return .local
    }
}

/// The kind of source a build is made from, named as kpack names source types (in results and
/// in stored build inputs).
public enum SourceKind: String, Codable, Sendable, CaseIterable {
    case git = "Git"
    case blob = "Blob"
    case local = "Local Source"
}

/// A source as the engine fixed it: the snapshot builds unpack, and for git the ref followed
/// and the commit it pointed at.
public struct ResolvedSource: Codable, Sendable, Equatable {
    public var snapshot: SnapshotSummary
    public var ref: String?
    public var commit: String?
    /// A commit SHA was asked for; it is never polled.
    public var pinned: Bool?
    /// Blob sources: the digest of the archive's bytes.
    public var archiveDigest: String?
    public var time: String

    public init(snapshot: SnapshotSummary, ref: String? = nil, commit: String? = nil, pinned: Bool? = nil, archiveDigest: String? = nil,
                time: String = Timestamp.now()) {
        self.snapshot = snapshot
        self.ref = ref
        self.commit = commit
        self.pinned = pinned
        self.archiveDigest = archiveDigest
        self.time = time
    }
}

/// A source snapshot as the protocol shows it: its content digest (`sha256:…`), files and bytes.
public struct SnapshotSummary: Codable, Sendable, Equatable {
    public var digest: String
    public var files: Int
    public var bytes: Int64

    public init(digest: String, files: Int, bytes: Int64) {
        self.digest = digest
        self.files = files
        self.bytes = bytes
    }
}

/// RFC 3339 timestamps with milliseconds, in UTC.
public enum Timestamp {
    public static func now() -> String { format(Date()) }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, written digit by digit (every log line takes one, and
    /// `String(format:)` cost several microseconds each).
    public static func format(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000)
        var out = [UInt8]()
        out.reserveCapacity(24)
        func put(_ value: Int, _ digits: Int, then separator: UInt8) {
            var v = max(0, value)
            var d = [UInt8](repeating: 0x30, count: digits)
            for i in stride(from: digits - 1, through: 0, by: -1) {
                d[i] = UInt8(0x30 + v % 10)
                v /= 10
            }
            out += d
            out.append(separator)
        }
        put(Int(tm.tm_year) + 1900, 4, then: UInt8(ascii: "-"))
        put(Int(tm.tm_mon) + 1, 2, then: UInt8(ascii: "-"))
        put(Int(tm.tm_mday), 2, then: UInt8(ascii: "T"))
        put(Int(tm.tm_hour), 2, then: UInt8(ascii: ":"))
        put(Int(tm.tm_min), 2, then: UInt8(ascii: ":"))
        put(Int(tm.tm_sec), 2, then: UInt8(ascii: "."))
        put(min(ms, 999), 3, then: UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses what `format` writes (and RFC 3339 without fractions).
    public static func parse(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}

extension ReadyState: NamedSchema {
    public static let schemaName = "ReadyState"
    public static let definition: JSONSchema = ##"{"enum": ["Ready", "NotReady", "Building", "Unknown"]}"##
}

extension BuildState: NamedSchema {
    public static let schemaName = "BuildState"
    public static let definition: JSONSchema = ##"{"enum": ["QUEUED", "BUILDING", "SUCCESS", "FAILURE"]}"##
}

extension BuilderReference: NamedSchema {
    public static let schemaName = "BuilderReference"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "kind": {"enum": ["ClusterBuilder", "Builder"]},
            "name": {"$ref": "#/components/schemas/Name"}
          },
          "additionalProperties": false,
          "required": ["kind", "name"]
        }
        """#
}

extension SourceSpec: NamedSchema {
    public static let schemaName = "SourceSpec"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "git": {
              "type": "object",
              "properties": {
                "url": {"type": "string"},
                "revision": {
                  "type": "string",
                  "description": "A branch, a tag or a full commit SHA; default the remote's default branch."
                },
                "poll": {
                  "type": "boolean",
                  "description": "Poll the branch or tag for new commits (default true; a commit is never polled)."
                }
              },
              "additionalProperties": false,
              "required": ["url"],
              "description": "https://, http://, ssh://, git://, file:// or user@host:path; no credentials in the URL (use a git secret)."
            },
            "blob": {
              "type": "object",
              "properties": {"url": {"type": "string"}, "stripComponents": {"type": "integer"}},
              "additionalProperties": false,
              "required": ["url"],
              "description": "An http://, https:// or file:// URL of a .zip/.jar/.tar/.tar.gz archive; the digest of the archive decides whether a patch is a change."
            },
            "local": {
              "type": "object",
              "properties": {
                "path": {"type": "string"},
                "watch": {
                  "type": "boolean",
                  "description": "Rebuild when the folder changes: the shared engine watches it (inotify, .git and .slipwayignore'd paths excepted), and a change, once quiet for watchDebounceMs, snapshots it again and builds with reason CONFIG if the snapshot changed. A watched image keeps the engine running; an engine that starts builds what changed while none ran."
                },
                "watchDebounceMs": {
                  "type": "integer",
                  "description": "Quiet time after the last change before the rebuild (default 200, 10 to 60000)."
                }
              },
              "additionalProperties": false,
              "required": ["path"],
              "description": "An absolute path to a folder (.git/ skipped, .slipwayignore honoured) or a .zip/.jar/.tar/.tar.gz/.tgz file."
            },
            "subPath": {"type": "string"},
            "resolved": {
              "type": "object",
              "properties": {
                "snapshot": {
                  "type": "object",
                  "description": "The source as snapshotted: digest is that of its file manifest (each folder, file and symlink with type, mode, size, link target and content digest), so an unchanged folder keeps its digest; files and bytes count its regular files.",
                  "properties": {
                    "digest": {"$ref": "#/components/schemas/Digest"},
                    "files": {"type": "integer"},
                    "bytes": {"type": "integer"}
                  },
                  "additionalProperties": false
                },
                "ref": {"type": "string"},
                "commit": {"type": "string"},
                "pinned": {"type": "boolean"},
                "archiveDigest": {"$ref": "#/components/schemas/Digest"},
                "time": {"$ref": "#/components/schemas/Timestamp"}
              },
              "additionalProperties": false,
              "description": "Set by the server: what the source resolved to (ignored in params)."
            }
          },
          "additionalProperties": false,
          "description": "Exactly one of git, blob, local."
        }
        """#
}

extension OrderGroup: NamedSchema {
    public static let schemaName = "OrderGroup"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "group": {
              "type": "array",
              "items": {
                "type": "object",
                "properties": {
                  "id": {"type": "string"},
                  "version": {"type": "string"},
                  "optional": {"type": "boolean"}
                },
                "additionalProperties": false,
                "required": ["id"]
              }
            }
          },
          "additionalProperties": false,
          "required": ["group"]
        }
        """#
}
