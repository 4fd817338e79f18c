import Foundation

/// Why a build exists, as the wire names it (schema `ReasonKind`).
public enum ReasonKind: String, Codable, Sendable, CaseIterable { case CONFIG, COMMIT, BUILDER, STACK, TRIGGER }

/// One reason of a build, with what changed (`old` → `new`) where that can be said (schema
/// `BuildReason`).
public struct BuildReasonDetail: Codable, Sendable, Equatable {
    public var reason: ReasonKind
    public var field: String?
    public var old: String?
    public var new: String?

    public init(reason: ReasonKind, field: String? = nil, old: String? = nil, new: String? = nil) {
        self.reason = reason
        self.field = field
        self.old = old
        self.new = new
    }
}

/// A buildpack as builds and builders report it: its id, the version used, its homepage
/// (schema `BuildpackInfo`).
public struct BuildpackVersion: Codable, Sendable, Equatable {
    public var id: String
    public var version: String
    public var homepage: String?

    public init(id: String, version: String, homepage: String? = nil) {
        self.id = id
        self.version = version
        self.homepage = homepage
    }
}

/// A row of `build/list`, as `kp build list` shows it.
public struct BuildRow: Codable, Sendable {
    public var namespace: String
    public var imageName: String
    public var number: Int
    public var status: BuildState
    /// The image the build produced (`repo@sha256:…`).
    public var image: String?
    public var started: String?
    public var finished: String?
    public var reasons: [ReasonKind]
    public var reasonSummary: String

    public init(namespace: String, imageName: String, number: Int, status: BuildState, image: String?, started: String?, finished: String?,
                reasons: [ReasonKind], reasonSummary: String) {
        self.namespace = namespace
        self.imageName = imageName
        self.number = number
        self.status = status
        self.image = image
        self.started = started
        self.finished = finished
        self.reasons = reasons
        self.reasonSummary = reasonSummary
    }
}

/// `build/list` result.
public struct BuildListResult: Codable, Sendable {
    public var builds: [BuildRow]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?

    public init(builds: [BuildRow], continue next: String? = nil) {
        self.builds = builds
        self.continue = next
    }
}

/// A FROM image of a Dockerfile build, in its build status.
public struct BaseImage: Codable, Sendable, Equatable {
    public var name: String
    public var digest: String

    public init(name: String, digest: String) {
        self.name = name
        self.digest = digest
    }
}

/// `build/status`: everything `kp build status` shows (schema `BuildStatus`).
public struct BuildStatusResult: Codable, Sendable {
    public var namespace: String
    public var imageName: String
    public var number: Int
    public var image: String?
    public var imageDigest: String?
    public var status: BuildState
    public var phase: String?
    public var reasons: [BuildReasonDetail]
    public var reasonSummary: String
    public var builder: String?
    public var runImage: String?
    public var stackID: String?
    public var source: SourceInfo
    public var buildpacks: [BuildpackVersion]
    /// Dockerfile strategy: every FROM image and the manifest digest it resolved to.
    public var bases: [BaseImage]?
    public var created: String
    public var started: String?
    public var finished: String?
    public var message: String?

    public init(namespace: String, imageName: String, number: Int, image: String?, imageDigest: String?, status: BuildState, phase: String?,
                reasons: [BuildReasonDetail], reasonSummary: String, builder: String?, runImage: String?, stackID: String?, source: SourceInfo,
                buildpacks: [BuildpackVersion], bases: [BaseImage]?, created: String, started: String?, finished: String?, message: String?) {
        self.namespace = namespace
        self.imageName = imageName
        self.number = number
        self.image = image
        self.imageDigest = imageDigest
        self.status = status
        self.phase = phase
        self.reasons = reasons
        self.reasonSummary = reasonSummary
        self.builder = builder
        self.runImage = runImage
        self.stackID = stackID
        self.source = source
        self.buildpacks = buildpacks
        self.bases = bases
        self.created = created
        self.started = started
        self.finished = finished
        self.message = message
    }
}

/// `build/logs` result: the lines (without follow), or the final status (with follow).
public struct BuildLogsResult: Codable, Sendable {
    public var build: Int
    public var status: BuildState
    public var lines: [BuildLogLine]?

    public init(build: Int, status: BuildState, lines: [BuildLogLine]? = nil) {
        self.build = build
        self.status = status
        self.lines = lines
    }
}

/// `event/list` and `buildrun/events` result.
public struct EventListResult: Codable, Sendable {
    public var events: [SystemEvent]
    /// Set while more events remain: pass it as `continue` for the next page.
    public var `continue`: String?

    public init(events: [SystemEvent], continue next: String? = nil) {
        self.events = events
        self.continue = next
    }
}

extension EventListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/SystemEvent"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension BuildListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "builds": {"type": "array", "items": {"$ref": "#/components/schemas/BuildRow"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension BuildLogsResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "build": {"type": "integer"},
            "status": {"$ref": "#/components/schemas/BuildState"},
            "lines": {"type": "array", "items": {"$ref": "#/components/schemas/BuildLogLine"}}
          },
          "additionalProperties": false
        }
        """#
}

extension ReasonKind: NamedSchema {
    public static let schemaName = "ReasonKind"
    public static let definition: JSONSchema = ##"{"enum": ["CONFIG", "COMMIT", "BUILDER", "STACK", "TRIGGER"]}"##
}

extension BuildpackVersion: NamedSchema {
    public static let schemaName = "BuildpackInfo"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "id": {"type": "string"},
            "version": {"type": "string"},
            "homepage": {"type": "string"}
          },
          "additionalProperties": false
        }
        """#
}

extension BuildReasonDetail: NamedSchema {
    public static let schemaName = "BuildReason"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "reason": {"$ref": "#/components/schemas/ReasonKind"},
            "field": {"type": "string"},
            "old": {"type": "string"},
            "new": {"type": "string"}
          },
          "additionalProperties": false
        }
        """#
}

extension BuildRow: NamedSchema {
    public static let schemaName = "BuildRow"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "namespace": {"type": "string"},
            "imageName": {"type": "string"},
            "number": {"type": "integer"},
            "status": {"$ref": "#/components/schemas/BuildState"},
            "image": {"type": "string"},
            "started": {"$ref": "#/components/schemas/Timestamp"},
            "finished": {"$ref": "#/components/schemas/Timestamp"},
            "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/ReasonKind"}},
            "reasonSummary": {
              "type": "string",
              "description": "Highest of CONFIG > COMMIT > BUILDER, else the first; + when more (CONFIG+)."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension BuildStatusResult: NamedSchema {
    public static let schemaName = "BuildStatus"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "namespace": {"type": "string"},
            "imageName": {"type": "string"},
            "number": {"type": "integer"},
            "image": {"type": "string"},
            "imageDigest": {"$ref": "#/components/schemas/Digest"},
            "status": {"$ref": "#/components/schemas/BuildState"},
            "phase": {"type": "string"},
            "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/BuildReason"}},
            "reasonSummary": {"type": "string"},
            "builder": {"type": "string"},
            "runImage": {"type": "string"},
            "bases": {
              "type": "array",
              "description": "Dockerfile strategy: every FROM image and the manifest digest it resolved to.",
              "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "digest": {"$ref": "#/components/schemas/Digest"}},
                "additionalProperties": false,
                "required": ["name", "digest"]
              }
            },
            "stackID": {"type": "string"},
            "source": {"$ref": "#/components/schemas/SourceInfo"},
            "buildpacks": {"type": "array", "items": {"$ref": "#/components/schemas/BuildpackInfo"}},
            "created": {"$ref": "#/components/schemas/Timestamp"},
            "started": {"$ref": "#/components/schemas/Timestamp"},
            "finished": {"$ref": "#/components/schemas/Timestamp"},
            "message": {"type": "string"}
          },
          "additionalProperties": false
        }
        """#
}
