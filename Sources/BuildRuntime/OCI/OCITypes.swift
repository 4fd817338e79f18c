import Foundation

/// Media types of OCI image spec 1.1 (and the Docker ones we accept when reading).
public enum MediaType {
    public static let index = "application/vnd.oci.image.index.v1+json"
    public static let manifest = "application/vnd.oci.image.manifest.v1+json"
    public static let config = "application/vnd.oci.image.config.v1+json"
    public static let layer = "application/vnd.oci.image.layer.v1.tar"
    public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let layerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"

    /// The OCI media type of a layer (Docker's layer types name the same bytes).
    public static func ociLayer(_ type: String) -> String {
        switch type {
        case dockerLayerGzip: return layerGzip
        case dockerLayer: return layer
        default: return type
        }
    }

    /// Whether a layer of this type is a plain tar, which a push compresses.
    public static func isUncompressedLayer(_ type: String) -> Bool { type == layer || type == dockerLayer }
}

/// An OCI content descriptor: what a blob is, its digest and size.
public struct OCIDescriptor: Codable, Sendable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var annotations: [String: String]?
    public var platform: OCIPlatform?

    public init(mediaType: String, digest: Digest, size: Int64, annotations: [String: String]? = nil, platform: OCIPlatform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

/// The OS and architecture an image is for.
public struct OCIPlatform: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
}

/// An image manifest: its config and layers.
public struct OCIManifest: Codable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType: String? = MediaType.manifest
    public var config: OCIDescriptor
    public var layers: [OCIDescriptor]
    public var annotations: [String: String]?

    public init(config: OCIDescriptor, layers: [OCIDescriptor], annotations: [String: String]? = nil) {
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index (`index.json` of a layout, or a multi-platform image).
public struct OCIIndex: Codable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType: String? = MediaType.index
    public var manifests: [OCIDescriptor]
    public var annotations: [String: String]?

    public init(manifests: [OCIDescriptor] = []) { self.manifests = manifests }
}

/// The image configuration: what a runtime needs to run the image, and its layers' diff ids.
public struct OCIImageConfig: Codable, Sendable, Equatable {
    /// How to run the image.
    public struct Config: Codable, Sendable, Equatable {
        public var User: String?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var WorkingDir: String?
        public var Labels: [String: String]?
        /// `{"80/tcp": {}}`, as OCI writes sets.
        public var ExposedPorts: [String: EmptyObject]?
        public var Volumes: [String: EmptyObject]?
        public var StopSignal: String?
        /// Not in the OCI spec: Docker's names, which Docker's builder writes (Dockerfile
        /// HEALTHCHECK, ONBUILD and SHELL).
        public var Healthcheck: Healthcheck?
        public var OnBuild: [String]?
        public var Shell: [String]?
        public init() {}
    }

    /// An empty JSON object, the value of the sets above.
    public struct EmptyObject: Codable, Sendable, Equatable {
        public init() {}
    }

    /// Docker's health check: `Test` is `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", command]`;
    /// durations in nanoseconds.
    public struct Healthcheck: Codable, Sendable, Equatable {
        public var Test: [String]
        public var Interval: Int64?
        public var Timeout: Int64?
        public var StartPeriod: Int64?
        public var StartInterval: Int64?
        public var Retries: Int?
        public init(Test: [String]) { self.Test = Test }
    }
    /// The uncompressed digests of the layers, in order.
    public struct RootFS: Codable, Sendable, Equatable {
        public var type = "layers"
        public var diff_ids: [Digest]
        public init(diff_ids: [Digest]) { self.diff_ids = diff_ids }
    }
    /// One history entry per layer.
    public struct History: Codable, Sendable, Equatable {
        public var created: String?
        public var created_by: String?
        public var empty_layer: Bool?
        public init(created_by: String) { self.created = "1980-01-01T00:00:01Z"; self.created_by = created_by }
    }

    public var created: String?
    /// Dockerfile MAINTAINER.
    public var author: String?
    public var architecture: String
    public var os: String
    public var config: Config
    public var rootfs: RootFS
    public var history: [History]?

    public init(architecture: String = OCIImageConfig.hostArchitecture, os: String = "linux", config: Config, diffIDs: [Digest]) {
        self.created = "1980-01-01T00:00:01Z"
        self.architecture = architecture
        self.os = os
        self.config = config
        self.rootfs = RootFS(diff_ids: diffIDs)
    }

    public static var hostArchitecture: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    /// The value of an environment variable in `config.Env`.
    public func env(_ name: String) -> String? {
        for e in config.Env ?? [] where e.hasPrefix(name + "=") { return String(e.dropFirst(name.count + 1)) }
        return nil
    }
}

/// Canonical JSON for content that is hashed: sorted keys, no escaped slashes, so the same
/// value always has the same digest.
public enum CanonicalJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try e.encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw RuntimeError.invalid("\(what) is not valid: \(error)")
        }
    }
}
