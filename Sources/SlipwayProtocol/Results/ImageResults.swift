import Foundation

/// An image as `image/get`, `create`, `patch` and `save` show it: its build configuration and
/// its status (schema `Image`). The engine stores more; this is what the wire carries.
public struct ImageResource: Codable, Sendable {
    public var namespace: String
    public var name: String
    /// Where builds go (`oci:DIR:TAG` or a registry reference).
    public var tag: String
    public var additionalTags: [String]
    public var builder: BuilderReference
    public var source: SourceSpec
    public var env: [String: String]
    public var strategy: BuildStrategy
    public var dockerfile: String?
    /// Dockerfile strategy: build args, the target stage, the context's folder in the source.
    public var buildArgs: [String: String]?
    public var target: String?
    public var contextDir: String?
    /// Seconds; absent for no limit.
    public var buildTimeout: Int?
    /// The network build steps get; absent for the engine's `--build-network`.
    public var network: BuildNetwork?
    public var successBuildHistoryLimit: Int
    public var failedBuildHistoryLimit: Int
    public var created: String
    public var status: Status
    /// A random id made when the image was created: tells it from an earlier image of the name.
    public var incarnation: String?

    /// The image's status, as `kp image status` shows it.
    public struct Status: Codable, Sendable {
        public var ready: ReadyState
        public var message: String?
        public var latestImage: String?
        public var latestBuild: Int?
        public var latestReason: String?
        public var lastSuccessfulBuild: BuildSummary?
        public var lastFailedBuild: BuildSummary?
        /// Dockerfile strategy: what the FROM images of the last successful build resolve to now.
        public var dockerfileBases: [String: String]?
        /// The next build number the image hands out.
        public var nextBuildNumber: Int

        public init(ready: ReadyState, message: String?, latestImage: String?, latestBuild: Int?, latestReason: String?, lastSuccessfulBuild: BuildSummary?,
                    lastFailedBuild: BuildSummary?, dockerfileBases: [String: String]?, nextBuildNumber: Int) {
            self.ready = ready
            self.message = message
            self.latestImage = latestImage
            self.latestBuild = latestBuild
            self.latestReason = latestReason
            self.lastSuccessfulBuild = lastSuccessfulBuild
            self.lastFailedBuild = lastFailedBuild
            self.dockerfileBases = dockerfileBases
            self.nextBuildNumber = nextBuildNumber
        }
    }

    public init(namespace: String, name: String, tag: String, additionalTags: [String], builder: BuilderReference, source: SourceSpec, env: [String: String],
                strategy: BuildStrategy, dockerfile: String?, buildArgs: [String: String]?, target: String?, contextDir: String?, buildTimeout: Int?,
                network: BuildNetwork?, successBuildHistoryLimit: Int, failedBuildHistoryLimit: Int, created: String, status: Status,
                incarnation: String?) {
        self.namespace = namespace
        self.name = name
        self.tag = tag
        self.additionalTags = additionalTags
        self.builder = builder
        self.source = source
        self.env = env
        self.strategy = strategy
        self.dockerfile = dockerfile
        self.buildArgs = buildArgs
        self.target = target
        self.contextDir = contextDir
        self.buildTimeout = buildTimeout
        self.network = network
        self.successBuildHistoryLimit = successBuildHistoryLimit
        self.failedBuildHistoryLimit = failedBuildHistoryLimit
        self.created = created
        self.status = status
        self.incarnation = incarnation
    }
}

/// A build number and its reason summary.
public struct BuildSummary: Codable, Sendable, Equatable {
    public var number: Int
    public var reason: String

    public init(number: Int, reason: String) {
        self.number = number
        self.reason = reason
    }
}

/// `image/create` result.
public struct CreateImageResult: Codable, Sendable {
    public var image: ImageResource
    /// The number of the build it started (absent on dryRun).
    public var build: Int?

    public init(image: ImageResource, build: Int? = nil) {
        self.image = image
        self.build = build
    }
}

/// `image/patch` and `image/save` result.
public struct PatchImageResult: Codable, Sendable {
    public var image: ImageResource
    /// False when no build input changed; then no build was started.
    public var changed: Bool
    public var build: Int?

    public init(image: ImageResource, changed: Bool, build: Int? = nil) {
        self.image = image
        self.changed = changed
        self.build = build
    }
}

/// `image/status`: what `kp image status` shows.
public struct ImageStatusResult: Codable, Sendable {
    public var name: String
    public var namespace: String
    public var tag: String
    public var ready: ReadyState
    public var message: String?
    public var latestImage: String?
    public var latestBuild: Int?
    public var latestReason: String?
    public var lastSuccessfulBuild: BuildSummary?
    public var lastFailedBuild: BuildSummary?
    public var source: SourceInfo
    public var builder: BuilderReference
    /// Bytes in the image's build cache.
    public var cacheBytes: Int64?

    public init(name: String, namespace: String, tag: String, ready: ReadyState, message: String?, latestImage: String?, latestBuild: Int?,
                latestReason: String?, lastSuccessfulBuild: BuildSummary?, lastFailedBuild: BuildSummary?, source: SourceInfo, builder: BuilderReference,
                cacheBytes: Int64?) {
        self.name = name
        self.namespace = namespace
        self.tag = tag
        self.ready = ready
        self.message = message
        self.latestImage = latestImage
        self.latestBuild = latestBuild
        self.latestReason = latestReason
        self.lastSuccessfulBuild = lastSuccessfulBuild
        self.lastFailedBuild = lastFailedBuild
        self.source = source
        self.builder = builder
        self.cacheBytes = cacheBytes
    }
}

/// Where a build's or image's source came from.
public struct SourceInfo: Codable, Sendable {
    public var type: SourceKind
    public var url: String?
    /// Git: the commit SHA built.
    public var revision: String?
    /// Git: the branch or tag followed (or the pinned commit).
    public var ref: String?
    public var path: String?
    public var digest: String?
    public var subPath: String?

    public init(type: SourceKind, url: String? = nil, revision: String? = nil, ref: String? = nil, path: String? = nil, digest: String? = nil, subPath: String? = nil) {
        self.type = type
        self.url = url
        self.revision = revision
        self.ref = ref
        self.path = path
        self.digest = digest
        self.subPath = subPath
    }
}

/// `image/list` result.
public struct ImageListResult: Codable, Sendable {
    public var images: [ImageRow]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?

    public init(images: [ImageRow], continue next: String? = nil) {
        self.images = images
        self.continue = next
    }
}

/// `image/trigger` result.
public struct TriggerResult: Codable, Sendable {
    public var build: Int

    public init(build: Int) {
        self.build = build
    }
}

extension CreateImageResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {"image": {"$ref": "#/components/schemas/Image"}, "build": {"type": "integer"}},
          "additionalProperties": false
        }
        """#
}

extension PatchImageResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "image": {"$ref": "#/components/schemas/Image"},
            "changed": {"type": "boolean"},
            "build": {"type": "integer"}
          },
          "additionalProperties": false,
          "description": "changed:false (and no build) when no build input changed; otherwise the build carrying the change."
        }
        """#
}

extension ImageListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "images": {"type": "array", "items": {"$ref": "#/components/schemas/ImageRow"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension TriggerResult: WireSchema {
    public static let schema: JSONSchema = ##"{"type": "object", "properties": {"build": {"type": "integer"}}, "additionalProperties": false}"##
}

extension ImageResource: NamedSchema {
    public static let schemaName = "Image"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "tag": {"type": "string"},
            "additionalTags": {"type": "array", "items": {"type": "string"}},
            "builder": {"$ref": "#/components/schemas/BuilderReference"},
            "source": {"$ref": "#/components/schemas/SourceSpec"},
            "env": {"type": "object"},
            "strategy": {"type": "string"},
            "dockerfile": {"type": "string", "description": "Dockerfile strategy: the Dockerfile's path in the context."},
            "buildArgs": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Dockerfile strategy: ARG values."},
            "target": {"type": "string", "description": "Dockerfile strategy: the stage built (absent: the last)."},
            "contextDir": {"type": "string", "description": "Dockerfile strategy: the context's folder in the source."},
            "buildTimeout": {"type": "integer"},
            "network": {
              "type": "string",
              "enum": ["none", "public"],
              "description": "The network build steps get; absent: the engine's --build-network."
            },
            "successBuildHistoryLimit": {"type": "integer"},
            "failedBuildHistoryLimit": {"type": "integer"},
            "created": {"$ref": "#/components/schemas/Timestamp"},
            "incarnation": {
              "type": "string",
              "description": "A random id made when the image is created (as a Kubernetes object's metadata.uid): an image deleted and created again under the same name has another. Its builds start again at 1; the deleted image's builds, even one still ending, are never taken for the new image's."
            },
            "status": {
              "type": "object",
              "properties": {
                "ready": {"$ref": "#/components/schemas/ReadyState"},
                "message": {"type": "string"},
                "latestImage": {"type": "string"},
                "latestBuild": {"type": "integer"},
                "latestReason": {"type": "string"},
                "lastSuccessfulBuild": {"$ref": "#/components/schemas/BuildSummary"},
                "lastFailedBuild": {"$ref": "#/components/schemas/BuildSummary"},
                "dockerfileBases": {
                  "type": "object",
                  "additionalProperties": {"type": "string"},
                  "description": "Dockerfile strategy: the digest each FROM image of the last successful build resolves to now, as polling last found it."
                },
                "nextBuildNumber": {"type": "integer"}
              },
              "additionalProperties": false
            }
          },
          "additionalProperties": false
        }
        """#
}

extension BuildSummary: NamedSchema {
    public static let schemaName = "BuildSummary"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {"number": {"type": "integer"}, "reason": {"type": "string"}},
          "additionalProperties": false
        }
        """#
}

extension ImageStatusResult: NamedSchema {
    public static let schemaName = "ImageStatusResult"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "tag": {"type": "string"},
            "ready": {"$ref": "#/components/schemas/ReadyState"},
            "message": {"type": "string"},
            "latestImage": {"type": "string", "description": "repo@sha256:… of the latest successful build"},
            "latestBuild": {"type": "integer"},
            "latestReason": {"type": "string"},
            "lastSuccessfulBuild": {"$ref": "#/components/schemas/BuildSummary"},
            "lastFailedBuild": {"$ref": "#/components/schemas/BuildSummary"},
            "source": {"$ref": "#/components/schemas/SourceInfo"},
            "builder": {"$ref": "#/components/schemas/BuilderReference"},
            "cacheBytes": {"type": "integer", "description": "Bytes in the image's build cache."}
          },
          "additionalProperties": false
        }
        """#
}

extension SourceInfo: NamedSchema {
    public static let schemaName = "SourceInfo"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "type": {"enum": ["Git", "Blob", "Local Source"]},
            "url": {"type": "string"},
            "revision": {"type": "string", "description": "Git: the commit SHA."},
            "ref": {"type": "string", "description": "Git: the branch or tag followed."},
            "path": {"type": "string"},
            "digest": {"type": "string"},
            "subPath": {"type": "string"}
          },
          "additionalProperties": false
        }
        """#
}
