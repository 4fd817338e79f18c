import Foundation

/// A build run as `buildrun/submit`, `get`, `wait`, `cancel` and `list` show it: the run, and
/// the status of the build it is (schema `BuildRun`).
public struct BuildRunResult: Codable, Sendable {
    public var namespace: String
    public var name: String
    /// A run of an image: the image, and the build of it this run is.
    public var image: String?
    public var build: Int?
    /// No build configuration behind it: deleted `--buildrun-ttl-*` after it ends.
    public var standalone: Bool
    public var status: BuildState
    public var phase: String?
    public var message: String?
    public var reasons: [ReasonKind]
    public var builder: String?
    public var source: SourceInfo
    public var buildpacks: [BuildpackVersion]
    /// The image the run made: `oci:<layout>@sha256:…` (a stand-alone run without a tag keeps it
    /// in an OCI layout that goes away with the run), or the pushed `repo@sha256:…`.
    public var output: String?
    public var created: String
    public var started: String?
    public var finished: String?
    /// Stand-alone runs, once ended: when they are deleted.
    public var deleteAt: String?

    public init(namespace: String, name: String, image: String?, build: Int?, standalone: Bool, status: BuildState, phase: String?, message: String?,
                reasons: [ReasonKind], builder: String?, source: SourceInfo, buildpacks: [BuildpackVersion], output: String?, created: String,
                started: String?, finished: String?, deleteAt: String?) {
        self.namespace = namespace
        self.name = name
        self.image = image
        self.build = build
        self.standalone = standalone
        self.status = status
        self.phase = phase
        self.message = message
        self.reasons = reasons
        self.builder = builder
        self.source = source
        self.buildpacks = buildpacks
        self.output = output
        self.created = created
        self.started = started
        self.finished = finished
        self.deleteAt = deleteAt
    }
}

/// `buildrun/list` result.
public struct BuildRunListResult: Codable, Sendable {
    public var buildruns: [BuildRunResult]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?

    public init(buildruns: [BuildRunResult], continue next: String? = nil) {
        self.buildruns = buildruns
        self.continue = next
    }
}

/// `buildrun/logs` result: the lines (without follow), or the final status (with follow).
public struct BuildRunLogsResult: Codable, Sendable {
    public var name: String
    public var status: BuildState
    public var lines: [BuildLogLine]?

    public init(name: String, status: BuildState, lines: [BuildLogLine]? = nil) {
        self.name = name
        self.status = status
        self.lines = lines
    }
}

extension BuildRunListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "buildruns": {"type": "array", "items": {"$ref": "#/components/schemas/BuildRun"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension BuildRunLogsResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "status": {"$ref": "#/components/schemas/BuildState"},
            "lines": {"type": "array", "items": {"$ref": "#/components/schemas/BuildLogLine"}}
          },
          "additionalProperties": false,
          "required": ["name", "status"]
        }
        """#
}

extension BuildRunResult: NamedSchema {
    public static let schemaName = "BuildRun"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "image": {"type": "string", "description": "A run of an image: the image."},
            "build": {"type": "integer", "description": "A run of an image: the build of it this run is."},
            "standalone": {
              "type": "boolean",
              "description": "No build configuration behind it: deleted --buildrun-ttl-* after it ends."
            },
            "status": {"$ref": "#/components/schemas/BuildState"},
            "phase": {"type": "string"},
            "message": {"type": "string"},
            "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/ReasonKind"}},
            "builder": {"type": "string"},
            "source": {"$ref": "#/components/schemas/SourceInfo"},
            "buildpacks": {"type": "array", "items": {"$ref": "#/components/schemas/BuildpackInfo"}},
            "output": {
              "type": "string",
              "description": "The image made: oci:<layout>@sha256:… (a stand-alone run without a tag keeps it in a layout that goes with the run), or the pushed repo@sha256:…"
            },
            "created": {"$ref": "#/components/schemas/Timestamp"},
            "started": {"$ref": "#/components/schemas/Timestamp"},
            "finished": {"$ref": "#/components/schemas/Timestamp"},
            "deleteAt": {
              "$ref": "#/components/schemas/Timestamp",
              "description": "A stand-alone run that ended: when it is deleted."
            }
          },
          "additionalProperties": false,
          "required": ["namespace", "name", "standalone", "status", "created"]
        }
        """#
}
