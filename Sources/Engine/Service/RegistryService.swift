import SlipwayProtocol
import BuildRuntime
import Foundation
import Synchronization

/// Registries: where a build is pushed, with what credentials and trust.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum RegistryService {
    /// The push a build of `image` ends with, or nil when its tag is an OCI layout.
    static func registryPush(_ engine: isolated Engine, for image: Image, build number: Int) throws -> RegistryPush? {
        guard case .registry(let host, let repository, let tag, _) = try SourceService.parseTag(engine, image.tag, field: "tag") else { return nil }
        let baseTag = tag ?? ImageReference.defaultTag
        var tags = [baseTag, Self.buildNumberTag(baseTag, number: number, date: Date())]
        for t in image.additionalTags {
            if case .registry(let h, let r, let extra?, _) = try SourceService.parseTag(engine, t, field: "additionalTags"), h == host, r == repository { tags.append(extra) }
        }
        var mountFrom: [String] = []
        if let b = try BuilderService.builderIfExists(engine, image.builder, namespace: image.namespace), let stack = try BuilderService.resolveStatus(engine, of: b).stack,
            case .registry(let runHost, let runRepo, _, _)? = try? ImageReference.parse(stack.runImage, field: "runImage"), runHost == host  // unparsable: nothing to mount from
        {
            mountFrom.append(runRepo)  // an optimisation only: without a run image to mount from, blobs are uploaded
        }
        return RegistryPush(host: host, namespace: image.namespace, repository: repository, tags: tags, mountFrom: mountFrom)
    }

    /// Asks `docker-credential-<name>` for the credentials of `host` (the docker credential
    /// helper protocol: the server URL on stdin, `{"Username", "Secret"}` on stdout).
    static func credentialHelper(_ name: String, host: String) async throws -> RegistryCredentials {
        guard name.range(of: #"^[A-Za-z0-9._-]+$"#, options: .regularExpression) != nil, let exe = findExecutable("docker-credential-" + name) else {
            throw EngineError(.unavailable, "the docker credential helper docker-credential-\(PathSyntax.shortened(name, limit: 64)) named for \(host) is not installed")
        }
        let output = HelperOutput()
        let p = try Subprocess([exe, "get"], environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/"],
                               input: Array(host.utf8)) { stream, line in
            if stream == .stdout { output.append(line) }
        }
        let code = await p.wait()
        guard code == 0,
            let answer = try? JSONDecoder().decode(CredentialHelperAnswer.self, from: Data(output.text.utf8))  // not the protocol's answer: no credentials, said below
        else {
            throw EngineError(.permissionDenied, "docker-credential-\(name) has no credentials for \(host) (exit status \(code)); log in with it, or create a registry secret for \(host)")
        }
        return RegistryCredentials(username: answer.Username, password: answer.Secret)
    }

    /// A client for `host` with the namespace's credentials for it.
    static func registryClient(_ engine: Engine, host: String, namespace: String) async throws -> RegistryClient {
        let insecure = engine.options.insecureRegistries.contains(host)
        return RegistryClient(host: host, insecure: insecure, credentials: try await registryCredentials(engine, host: host, namespace: namespace),
                              insecureHosts: Set(engine.options.insecureRegistries), trustedCertificates: try await registryTrust(engine, host: host, namespace: namespace))
    }

    /// CA certificates trusted for `host` besides the system's: `--registry-ca`, and the
    /// `caCert` of the namespace's registry secrets for it. Nil when there are none.
    static func registryTrust(_ engine: Engine, host: String, namespace: String) async throws -> Data? {
        var pem = Data()
        if let file = engine.options.registryCAFile {
            guard let d = try await BlockingWork.run({ FileManager.default.contents(atPath: file) }) else {
                throw EngineError(.unavailable, "the --registry-ca file \(file) cannot be read; restore it or restart the engine without it")
            }
            pem += d + Data("\n".utf8)
        }
        for s in try SecretService.secrets(engine, namespace: namespace) where s.type == .registry && CredentialScope.registryServer(s.server ?? "", matches: host) {
            if let ca = try SecretService.readSecretValues(engine, namespace, s.name)?.caCert { pem += Data(ca.utf8) + Data("\n".utf8) }
        }
        return pem.isEmpty ? nil : pem
    }

    /// kpack's BuildNumber tag: `<tag>-b<N>.<YYYYMMDD>.<HHMMSS>` (UTC).
    static func buildNumberTag(_ tag: String, number: Int, date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%@-b%d.%04d%02d%02d.%02d%02d%02d", tag, number, Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                      Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
    }

    /// Credentials for `host`: a registry secret for it, else a docker config secret, else the
    /// server user's ~/.docker/config.json.
    static func registryCredentials(_ engine: Engine, host: String, namespace: String) async throws -> RegistryCredentials? {
        let secrets = try SecretService.secrets(engine, namespace: namespace)
        for s in secrets where s.type == .registry && CredentialScope.registryServer(s.server ?? "", matches: host) {
            if let v = try SecretService.readSecretValues(engine, namespace, s.name), let u = v.username, let p = v.password { return RegistryCredentials(username: u, password: p) }
        }
        var configs: [String] = []
        for s in secrets where s.type == .dockerConfig {
            if let config = try SecretService.readSecretValues(engine, namespace, s.name)?.dockerConfig { configs.append(config) }
        }
        if let home = ProcessInfo.processInfo.environment["HOME"], let d = try await BlockingWork.run({ FileManager.default.contents(atPath: home + "/.docker/config.json") }) {
            configs.append(String(decoding: d, as: UTF8.self))
        }
        for config in configs {
            guard let file = DockerConfigFile.parse(Data(config.utf8)) else { continue }
            if let helpers = file.credHelpers,
                let helper = helpers.keys.sorted().first(where: { CredentialScope.registryServer($0, matches: host) }).flatMap({ helpers[$0] })
            {
                return try await Self.credentialHelper(helper, host: host)
            }
            guard let auths = file.auths,
                let key = auths.keys.sorted().first(where: { CredentialScope.registryServer($0, matches: host) }),
                let found = auths[key]?.credentials
            else { continue }
            return RegistryCredentials(username: found.username, password: found.password)
        }
        return nil
    }
}

/// Pushes a built image from its staging layout to the registry an image's tag names. Made on
/// the engine actor from the image alone (no I/O); credentials are resolved when it runs, off
/// the actor, so a credential helper never blocks a request and its failure fails the build.
struct RegistryPush: Sendable {
    let host: String
    let namespace: String
    let repository: String
    let tags: [String]
    /// Repositories of the same registry that may hold blobs to mount (the run image's).
    let mountFrom: [String]

    /// Pushes and returns `host/repository@digest`.
    func run(engine: Engine, layout: String, digest: Digest, log: @escaping @Sendable (String) -> Void) async throws -> String {
        let client = try await RegistryService.registryClient(engine, host: host, namespace: namespace)
        let image = try await BlockingWork.run {
            try OCIImage.load(digest, from: try OCILayout(path: layout, create: false).store)
        }
        log("Pushing to \(host)/\(repository) (tags: \(tags.joined(separator: ", ")))")
        // Layers travel compressed; one compressed for an earlier push is looked up, not made again.
        let compressor = LayerCompressor(store: engine.images.content, algorithm: engine.options.layerCompression,
                                         level: engine.options.layerCompressionLevel)
        let result = try await client.push(image, repository: repository, tags: tags, mountFrom: mountFrom, compressor: compressor, log: log)
        if compressor.algorithm != .none {
            log("Layers compressed with \(compressor.algorithm.rawValue) (level \(compressor.level)): \(result.compressed) now, the others found from earlier pushes or already compressed")
        }
        log("*** Pushed \(host)/\(repository)@\(result.digest): \(result.uploaded) blob(s) uploaded")
        let pushed = result.digest
        return "\(host)/\(repository)@\(pushed)"
    }
}

/// A credential helper's stdout, collected line by line (at most 64 KiB).
final class HelperOutput: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { if $0.reduce(0, { $0 + $1.utf8.count }) < 64 << 10 { $0.append(line) } } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}
