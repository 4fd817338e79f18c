import Foundation

/// A ClusterStack as the wire shows it: its images, its id, and what they resolved to (schema
/// `ClusterStack`).
public struct ClusterStackResource: Codable, Sendable {
    public var name: String
    public var id: String
    public var buildImage: String
    public var runImage: String
    public var status: Status

    /// What the stack's images resolved to.
    public struct Status: Codable, Sendable {
        public var ready: Bool
        public var buildImageDigest: String
        public var runImageDigest: String
        /// `buildImage@sha256:…` and `runImage@sha256:…`.
        public var resolvedBuildImage: String
        public var resolvedRunImage: String
        public var message: String?
        /// The build image's platform.
        public var os: String?
        public var architecture: String?

        public init(ready: Bool, buildImageDigest: String, runImageDigest: String, resolvedBuildImage: String, resolvedRunImage: String, message: String?,
                    os: String?, architecture: String?) {
            self.ready = ready
            self.buildImageDigest = buildImageDigest
            self.runImageDigest = runImageDigest
            self.resolvedBuildImage = resolvedBuildImage
            self.resolvedRunImage = resolvedRunImage
            self.message = message
            self.os = os
            self.architecture = architecture
        }
    }

    public init(name: String, id: String, buildImage: String, runImage: String, status: Status) {
        self.name = name
        self.id = id
        self.buildImage = buildImage
        self.runImage = runImage
        self.status = status
    }
}

/// What a buildpack says about itself in `buildpack.toml`, as the wire shows it (schema
/// `BuildpackDescriptor`).
public struct BuildpackDescriptorResource: Codable, Sendable {
    public var api: String
    public var id: String
    public var version: String
    public var name: String?
    public var homepage: String?
    public var clearEnv: Bool
    public var stacks: [String]
    /// `os/arch` pairs of `[[targets]]`.
    public var targets: [String]?
    /// A composite buildpack's groups.
    public var order: [[CompositeEntry]]?

    /// One entry of a composite buildpack's group.
    public struct CompositeEntry: Codable, Sendable {
        /// A composite buildpack's groups, in its descriptor and in its store's status.
        static let groupsSchema: JSONSchema = #"""
            {
              "type": "array",
              "items": {
                "type": "array",
                "items": {
                  "type": "object",
                  "properties": {"id": {"type": "string"}, "version": {"type": "string"}, "optional": {"type": "boolean"}},
                  "additionalProperties": false
                }
              }
            }
            """#

        public var id: String
        public var version: String?
        public var optional: Bool

        public init(id: String, version: String?, optional: Bool) {
            self.id = id
            self.version = version
            self.optional = optional
        }
    }

    public init(api: String, id: String, version: String, name: String?, homepage: String?, clearEnv: Bool, stacks: [String], targets: [String]?,
                order: [[CompositeEntry]]?) {
        self.api = api
        self.id = id
        self.version = version
        self.name = name
        self.homepage = homepage
        self.clearEnv = clearEnv
        self.stacks = stacks
        self.targets = targets
        self.order = order
    }
}

/// A ClusterStore as the wire shows it: the buildpacks builders choose from (schema
/// `ClusterStore`).
public struct ClusterStoreResource: Codable, Sendable {
    public var name: String
    public var buildpacks: [Buildpack]

    /// A buildpack held in the store.
    public struct Buildpack: Codable, Sendable {
        public var id: String
        public var version: String
        public var api: String
        public var homepage: String?
        public var name: String?
        /// Digest of the buildpack's normalised tar.
        public var digest: String
        /// Where it was added from.
        public var source: String
        public var descriptor: BuildpackDescriptorResource

        public init(id: String, version: String, api: String, homepage: String?, name: String?, digest: String, source: String,
                    descriptor: BuildpackDescriptorResource) {
            self.id = id
            self.version = version
            self.api = api
            self.homepage = homepage
            self.name = name
            self.digest = digest
            self.source = source
            self.descriptor = descriptor
        }
    }

    public init(name: String, buildpacks: [Buildpack]) {
        self.name = name
        self.buildpacks = buildpacks
    }
}

/// A Builder or ClusterBuilder as the wire shows it (schema `Builder`).
public struct BuilderResource: Codable, Sendable {
    public var kind: BuilderReference.Kind
    public var namespace: String?
    public var name: String
    /// Nil for a builder made from a builder image.
    public var stack: String?
    public var store: String?
    /// The builder image it was made from.
    public var image: String?
    /// Where it is published.
    public var tag: String?
    public var order: [OrderGroup]
    public var status: Status

    /// Whether the builder can build (and why not), and what its stack and order resolved to.
    public struct Status: Codable, Sendable {
        public var ready: Bool
        public var message: String?
        public var stackID: String?
        public var runImage: String?
        public var buildImage: String?
        /// The builder image builds name (`REF@sha256:…`): where it was published (`tag`), or
        /// the image it was made from.
        public var latestImage: String?
        /// Every buildpack in the order, resolved to the version the builder uses.
        public var buildpacks: [BuildpackVersion]
        /// The order with every version filled in.
        public var order: [OrderGroup]

        public init(ready: Bool, message: String?, stackID: String?, runImage: String?, buildImage: String?, latestImage: String?,
                    buildpacks: [BuildpackVersion], order: [OrderGroup]) {
            self.ready = ready
            self.message = message
            self.stackID = stackID
            self.runImage = runImage
            self.buildImage = buildImage
            self.latestImage = latestImage
            self.buildpacks = buildpacks
            self.order = order
        }
    }

    public init(kind: BuilderReference.Kind, namespace: String?, name: String, stack: String?, store: String?, image: String?, tag: String?,
                order: [OrderGroup], status: Status) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.stack = stack
        self.store = store
        self.image = image
        self.tag = tag
        self.order = order
        self.status = status
    }
}

/// `clusterstack/list`.
public struct ClusterStackListResult: Codable, Sendable {
    public var stacks: [ClusterStackResource]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(stacks: [ClusterStackResource], continue next: String? = nil) { self.stacks = stacks; self.continue = next }
}

/// `clusterstore/list`.
public struct ClusterStoreListResult: Codable, Sendable {
    public var stores: [ClusterStoreResource]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(stores: [ClusterStoreResource], continue next: String? = nil) { self.stores = stores; self.continue = next }
}

/// `clusterbuilder/list` and `builder/list`.
public struct BuilderListResult: Codable, Sendable {
    public var builders: [BuilderResource]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(builders: [BuilderResource], continue next: String? = nil) { self.builders = builders; self.continue = next }
}

/// `clusterstore/status`: the store's buildpacks, one row each.
public struct StoreStatus: Codable, Sendable {
    /// One buildpack of the store.
    public struct Row: Codable, Sendable {
        public var id: String
        public var version: String
        public var api: String
        public var homepage: String?
        public var digest: String
        /// Composite buildpacks only: their groups.
        public var order: [[BuildpackDescriptorResource.CompositeEntry]]?
        /// The builders (`Kind/namespace/name`) whose order uses this buildpack.
        public var builders: [String]

        public init(id: String, version: String, api: String, homepage: String?, digest: String, order: [[BuildpackDescriptorResource.CompositeEntry]]?,
                    builders: [String]) {
            self.id = id
            self.version = version
            self.api = api
            self.homepage = homepage
            self.digest = digest
            self.order = order
            self.builders = builders
        }
    }
    public var name: String
    public var buildpacks: [Row]

    public init(name: String, buildpacks: [Row]) {
        self.name = name
        self.buildpacks = buildpacks
    }
}

/// `secret/list` result: secrets without their values.
public struct SecretListResult: Codable, Sendable {
    public var secrets: [SecretInfo]
    /// Set while more remain: pass it as `continue` for the next page.
    public var `continue`: String?
    public init(secrets: [SecretInfo], continue next: String? = nil) { self.secrets = secrets; self.continue = next }
}

extension ClusterStackListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "stacks": {"type": "array", "items": {"$ref": "#/components/schemas/ClusterStack"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension StoreStatus: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "buildpacks": {
              "type": "array",
              "items": {
                "type": "object",
                "properties": {
                  "id": {"type": "string"},
                  "version": {"type": "string"},
                  "api": {"type": "string"},
                  "homepage": {"type": "string"},
                  "digest": {"$ref": "#/components/schemas/Digest"},
                  "order": \#(BuildpackDescriptorResource.CompositeEntry.groupsSchema),
                  "builders": {"type": "array", "items": {"type": "string"}}
                },
                "additionalProperties": false
              }
            }
          },
          "additionalProperties": false
        }
        """#
}

extension ClusterStoreListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "stores": {"type": "array", "items": {"$ref": "#/components/schemas/ClusterStore"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension BuilderListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "builders": {"type": "array", "items": {"$ref": "#/components/schemas/Builder"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension SecretListResult: WireSchema {
    public static let schema: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "secrets": {"type": "array", "items": {"$ref": "#/components/schemas/SecretInfo"}},
            "continue": {
              "type": "string",
              "description": "Set while more remain: pass it as `continue` for the next page."
            }
          },
          "additionalProperties": false
        }
        """#
}

extension ClusterStackResource: NamedSchema {
    public static let schemaName = "ClusterStack"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "id": {"type": "string"},
            "buildImage": {"type": "string"},
            "runImage": {"type": "string"},
            "status": {
              "type": "object",
              "properties": {
                "ready": {"type": "boolean"},
                "buildImageDigest": {"$ref": "#/components/schemas/Digest"},
                "runImageDigest": {"$ref": "#/components/schemas/Digest"},
                "resolvedBuildImage": {"type": "string"},
                "resolvedRunImage": {"type": "string"},
                "message": {"type": "string"},
                "os": {"type": "string", "description": "The build image's OS (linux)."},
                "architecture": {
                  "type": "string",
                  "description": "The build image's architecture (amd64, arm64, …)."
                }
              },
              "additionalProperties": false
            }
          },
          "additionalProperties": false
        }
        """#
}

extension ClusterStoreResource: NamedSchema {
    public static let schemaName = "ClusterStore"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "buildpacks": {
              "type": "array",
              "items": {
                "type": "object",
                "properties": {
                  "id": {"type": "string"},
                  "version": {"type": "string"},
                  "api": {"type": "string"},
                  "homepage": {"type": "string"},
                  "name": {"type": "string"},
                  "digest": {"$ref": "#/components/schemas/Digest"},
                  "source": {"type": "string"},
                  "descriptor": {"$ref": "#/components/schemas/BuildpackDescriptor"}
                },
                "additionalProperties": false
              }
            }
          },
          "additionalProperties": false
        }
        """#
}

extension BuildpackDescriptorResource: NamedSchema {
    public static let schemaName = "BuildpackDescriptor"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "api": {"type": "string"},
            "id": {"type": "string"},
            "version": {"type": "string"},
            "name": {"type": "string"},
            "homepage": {"type": "string"},
            "clearEnv": {"type": "boolean", "description": "clear-env: user env is not given to the buildpack."},
            "stacks": {"type": "array", "items": {"type": "string"}},
            "targets": {
              "type": "array",
              "items": {"type": "string"},
              "description": "os/arch pairs ([[targets]])."
            },
            "order": \#(BuildpackDescriptorResource.CompositeEntry.groupsSchema)
          },
          "additionalProperties": false,
          "description": "What the buildpack's buildpack.toml says."
        }
        """#
}

extension BuilderResource: NamedSchema {
    public static let schemaName = "Builder"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "kind": {"type": "string"},
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "stack": {"type": "string"},
            "store": {"type": "string"},
            "image": {"type": "string"},
            "tag": {"type": "string"},
            "order": {"type": "array", "items": {"$ref": "#/components/schemas/OrderGroup"}},
            "status": {
              "type": "object",
              "properties": {
                "ready": {"type": "boolean"},
                "message": {"type": "string"},
                "stackID": {"type": "string"},
                "runImage": {"type": "string"},
                "buildImage": {"type": "string"},
                "latestImage": {"type": "string"},
                "buildpacks": {"type": "array", "items": {"$ref": "#/components/schemas/BuildpackInfo"}},
                "order": {"type": "array", "items": {"$ref": "#/components/schemas/OrderGroup"}}
              },
              "additionalProperties": false
            }
          },
          "additionalProperties": false
        }
        """#
}
