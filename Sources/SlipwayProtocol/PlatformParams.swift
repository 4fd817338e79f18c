import Foundation

/// `{name}`: get, status and delete of cluster-scoped objects.
public struct NameParams: Codable, Sendable {
    public var name: String

    public init(name: String) {
        self.name = name
    }
}

/// `{name, namespace?}`: objects in a namespace.
public struct NamespacedNameParams: Codable, Sendable {
    public var name: String
    public var namespace: String?
    public var resolvedNamespace: String { namespace ?? "default" }

    public init(name: String, namespace: String? = nil) {
        self.name = name
        self.namespace = namespace
    }
}

/// Params of `builder/list` and `secret/list`: a namespace and a page.
public struct NamespaceParams: Codable, Sendable, PagedParams {
    public var namespace: String?
    /// At most this many items (default 500).
    public var limit: Int?
    /// Where the previous page ended (its `continue`).
    public var `continue`: String?

    public init(namespace: String? = nil, limit: Int? = nil, continue token: String? = nil) {
        self.namespace = namespace
        self.limit = limit
        self.continue = token
    }
}

/// Params of `quota/get`.
public struct QuotaParams: Codable, Sendable {
    public var namespace: String?

    public init(namespace: String? = nil) { self.namespace = namespace }
}

/// Params of a list of cluster-scoped objects: a page.
public struct PageParams: Codable, Sendable, PagedParams {
    /// At most this many items (default 500).
    public var limit: Int?
    /// Where the previous page ended (its `continue`).
    public var `continue`: String?

    public init(limit: Int? = nil, continue token: String? = nil) {
        self.limit = limit
        self.continue = token
    }
}

/// Params of a list method, Kubernetes style: `limit` and `continue`.
public protocol PagedParams {
    var limit: Int? { get }
    var `continue`: String? { get }
}

/// Params of `clusterstack/create` and `/patch`.
public struct StackSpec: Codable, Sendable {
    public var name: String
    public var buildImage: String?
    public var runImage: String?
    public var id: String?

    public init(name: String, buildImage: String? = nil, runImage: String? = nil, id: String? = nil) {
        self.name = name
        self.buildImage = buildImage
        self.runImage = runImage
        self.id = id
    }
}

/// `clusterstore/create`, `/add`, `/remove`.
public struct StoreParams: Codable, Sendable {
    public var name: String
    /// Create/add: absolute paths of buildpack folders or `.tgz` archives. Remove: `id` or `id@version`.
    public var buildpacks: [String]

    public init(name: String, buildpacks: [String]) {
        self.name = name
        self.buildpacks = buildpacks
    }
}

/// Params of `clusterbuilder/*` and `builder/*` create and patch.
public struct BuilderSpec: Codable, Sendable {
    // `namespace` first: clients show the params they would send (`slipctl builder create --dry-run`) in this order.
    public var namespace: String?
    public var name: String
    public var stack: String?
    public var store: String?
    public var order: [OrderGroup]?
    /// A CNB builder image (registry reference or OCI layout) whose stack, buildpacks and order
    /// the builder takes as they are, instead of `stack`, `store` and `order`.
    public var image: String?
    /// Where the builder is published as a CNB builder image (kp's `--tag`): a registry
    /// reference or an OCI layout.
    public var tag: String?

    public init(name: String, namespace: String? = nil, stack: String? = nil, store: String? = nil, order: [OrderGroup]? = nil, image: String? = nil,
                tag: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.stack = stack
        self.store = store
        self.order = order
        self.image = image
        self.tag = tag
    }
}

/// Params of `clusterbuilder/create` and `/patch`: a builder without a namespace.
public struct ClusterBuilderSpec: Codable, Sendable {
    public var name: String
    public var stack: String?
    public var store: String?
    public var order: [OrderGroup]?
    /// A CNB builder image, as `BuilderSpec.image`.
    public var image: String?
    /// Where the builder is published, as `BuilderSpec.tag`.
    public var tag: String?

    public init(name: String, stack: String? = nil, store: String? = nil, order: [OrderGroup]? = nil, image: String? = nil, tag: String? = nil) {
        self.name = name
        self.stack = stack
        self.store = store
        self.order = order
        self.image = image
        self.tag = tag
    }

    /// The same builder, cluster-scoped (no namespace), as the engine takes it.
    public var builderSpec: BuilderSpec { BuilderSpec(name: name, namespace: nil, stack: stack, store: store, order: order, image: image, tag: tag) }
}

/// Params of `secret/create`: exactly one of `registry`, `dockerConfig`, `git`.
public struct SecretSpec: Codable, Sendable {
    /// Username and password for a registry server.
    public struct Registry: Codable, Sendable {
        public var server: String
        public var username: String
        public var password: String
        /// PEM CA certificates to trust for this server besides the system's (a registry
        /// whose certificate a private CA signed).
        public var caCert: String?

        public init(server: String, username: String, password: String, caCert: String? = nil) {
            self.caCert = caCert
            self.server = server
            self.username = username
            self.password = password
        }
    }
    /// A docker config.json whose content is stored.
    public struct DockerConfig: Codable, Sendable {
        public var path: String
        public init(path: String) { self.path = path }
    }
    /// Credentials for git remotes whose URL starts with `url`.
    public struct Git: Codable, Sendable {
        public var url: String
        public var username: String?
        public var password: String?
        public var sshKey: String?

        public init(url: String, username: String? = nil, password: String? = nil, sshKey: String? = nil) {
            self.url = url
            self.username = username
            self.password = password
            self.sshKey = sshKey
        }
    }
    public var name: String
    public var namespace: String?
    public var registry: Registry?
    public var dockerConfig: DockerConfig?
    public var git: Git?

    public init(name: String, namespace: String? = nil, registry: Registry? = nil, dockerConfig: DockerConfig? = nil, git: Git? = nil) {
        self.name = name
        self.namespace = namespace
        self.registry = registry
        self.dockerConfig = dockerConfig
        self.git = git
    }
}

/// A secret as it is listed: what it is for, never its values.
public struct SecretInfo: Codable, Sendable, Equatable {
    /// What a secret is for.
    public enum SecretType: String, Codable, Sendable { case registry, dockerConfig, gitBasic = "git-basic", gitSSH = "git-ssh" }
    public var name: String
    public var namespace: String
    public var type: SecretType
    /// Registry server, or the git URL prefix the secret is for.
    public var server: String?
    public var url: String?
    public var created: String

    public init(name: String, namespace: String, type: SecretType, server: String? = nil, url: String? = nil, created: String) {
        self.name = name
        self.namespace = namespace
        self.type = type
        self.server = server
        self.url = url
        self.created = created
    }
}

/// `system/gc` params.
public struct CollectParams: Codable, Sendable {
    /// Count what would be freed; remove nothing.
    public var dryRun: Bool?

    public init(dryRun: Bool? = nil) { self.dryRun = dryRun }
}

extension StackSpec: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        ParamDescriptor("buildImage", ##"{"$ref": "#/components/schemas/StackImageReference"}"##),
        ParamDescriptor("runImage", ##"{"$ref": "#/components/schemas/StackImageReference"}"##),
        ParamDescriptor("id", ##"{"type": "string"}"##, "Stack id; default the build image's io.buildpacks.stack.id label.")
    ]
}

extension NameParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name
    ]
}

extension PageParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .limit,
        .pageContinue
    ]
}

extension StoreParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        ParamDescriptor("buildpacks", ##"{"type": "array", "items": {"type": "string"}}"##, required: true, "Absolute paths of buildpack folders or .tgz/.tar.gz/.tar archives of one, or buildpackages (OCI images carrying /cnb/buildpacks/<id>/<version>/) as oci:DIR[:TAG], a .cnb file or a registry reference. A composite buildpack ([[order]] in buildpack.toml) expands, in builders, into one group per group of its own.")
    ]
}

extension ClusterBuilderSpec: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        ParamDescriptor("stack", ##"{"$ref": "#/components/schemas/Name"}"##),
        ParamDescriptor("store", ##"{"$ref": "#/components/schemas/Name"}"##),
        ParamDescriptor("order", ##"{"type": "array", "items": {"$ref": "#/components/schemas/OrderGroup"}}"##),
        .builderImage,
        .builderTag
    ]
}

extension BuilderSpec: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace,
        ParamDescriptor("stack", ##"{"$ref": "#/components/schemas/Name"}"##),
        ParamDescriptor("store", ##"{"$ref": "#/components/schemas/Name"}"##),
        ParamDescriptor("order", ##"{"type": "array", "items": {"$ref": "#/components/schemas/OrderGroup"}}"##),
        .builderImage,
        .builderTag
    ]
}

extension NamespacedNameParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace
    ]
}

extension NamespaceParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .namespace,
        .limit,
        .pageContinue
    ]
}

extension QuotaParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .namespace
    ]
}

extension CollectParams: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        ParamDescriptor("dryRun", ##"{"type": "boolean"}"##, "Count what would be freed; remove nothing.")
    ]
}

extension SecretSpec: WireParams {
    public static let paramDescriptors: [ParamDescriptor] = [
        .name,
        .namespace,
        ParamDescriptor("registry", #"""
            {
              "type": "object",
              "properties": {
                "server": {"type": "string"},
                "username": {"type": "string"},
                "password": {"type": "string"},
                "caCert": {
                  "type": "string",
                  "description": "PEM CA certificates trusted for this server besides the system's (a registry whose certificate a private CA signed)."
                }
              },
              "additionalProperties": false,
              "required": ["server", "username", "password"]
            }
            """#),
        ParamDescriptor("dockerConfig", #"""
            {
              "type": "object",
              "properties": {"path": {"type": "string"}},
              "additionalProperties": false,
              "required": ["path"],
              "description": "Absolute path of a docker config.json; its content is stored."
            }
            """#),
        ParamDescriptor("git", #"""
            {
              "type": "object",
              "properties": {
                "url": {"type": "string"},
                "username": {"type": "string"},
                "password": {"type": "string"},
                "sshKey": {"type": "string"}
              },
              "additionalProperties": false,
              "required": ["url"],
              "description": "Used for git sources whose URL starts with `url` (the longest match wins)."
            }
            """#)
    ]
}

extension SecretInfo: NamedSchema {
    public static let schemaName = "SecretInfo"
    public static let definition: JSONSchema = #"""
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "type": {"enum": ["registry", "dockerConfig", "git-basic", "git-ssh"]},
            "server": {"type": "string"},
            "url": {"type": "string"},
            "created": {"$ref": "#/components/schemas/Timestamp"}
          },
          "additionalProperties": false,
          "description": "Never includes the secret's values."
        }
        """#
}
