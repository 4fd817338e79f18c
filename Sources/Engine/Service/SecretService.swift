import SlipwayProtocol
import BuildRuntime
import Foundation

/// Secrets: their values kept apart from their records, git credentials for a URL, and the
/// redaction of their values.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum SecretService {
    static func secretValuesPath(_ engine: Engine, _ ns: String, _ name: String) -> String { engine.path("secrets", ns, name + ".json") }

    static func createSecret(_ engine: isolated Engine, _ spec: SecretSpec) async throws -> SecretInfo {
        let ns = spec.namespace ?? "default"
        try Validation.namespace(ns)
        try Validation.name(spec.name, field: "name", kind: "secret")
        let given = [spec.registry != nil, spec.dockerConfig != nil, spec.git != nil].filter { $0 }.count
        guard given == 1 else {
            throw EngineError.invalid("a secret needs exactly one of registry, dockerConfig or git (it has \(given))", field: "registry")
        }
        // A docker config file the client names is read off the actor, before anything is
        // checked against the state (which the read's suspension could see change).
        var dockerConfigData: Data?
        if let d = spec.dockerConfig {
            try SourceService.checkAllowed(engine, d.path, field: "dockerConfig.path")
            let path = d.path
            if path.hasPrefix("/") { dockerConfigData = try await BlockingWork.run { FileManager.default.contents(atPath: path) } }
        }
        if try engine.store.object(SecretInfo.self, kind: .secret, namespace: ns, name: spec.name) != nil {
            throw EngineError.alreadyExists("secret", spec.name, namespace: ns)
        }
        var info = SecretInfo(name: spec.name, namespace: ns, type: .registry, created: Timestamp.now())
        var values = SecretValues()
        if let r = spec.registry {
            guard !r.server.isEmpty else { throw EngineError.invalid("registry.server is empty", field: "registry.server") }
            guard !r.username.isEmpty else { throw EngineError.invalid("registry.username is empty", field: "registry.username") }
            if let ca = r.caCert {
                guard ca.utf8.count <= 1 << 20, ca.contains("-----BEGIN CERTIFICATE-----") else {
                    throw EngineError.invalid("registry.caCert must be PEM CA certificates (-----BEGIN CERTIFICATE-----), at most 1 MiB", field: "registry.caCert")
                }
            }
            info.server = r.server
            values.username = r.username
            values.password = r.password
            values.caCert = r.caCert
        } else if spec.dockerConfig != nil {
            guard let data = dockerConfigData, let file = DockerConfigFile.parse(data), file.auths != nil || file.credHelpers != nil
            else {
                throw EngineError.invalid("dockerConfig.path must be an absolute path to a readable docker config.json with 'auths'", field: "dockerConfig.path")
            }
            info.type = .dockerConfig
            values.dockerConfig = String(decoding: data, as: UTF8.self)
        } else if let g = spec.git {
            try engine.mapped { try GitClient.validate(url: g.url, field: "git.url") }
            guard CredentialScope(g.url) != nil else {
                throw EngineError.invalid("git.url '\(PathSyntax.shortened(g.url))' must be an https://, http://, ssh:// or git:// URL, or user@host:path; credentials are sent only to that scheme, host and port",
                                          field: "git.url")
            }
            info.url = g.url
            if let key = g.sshKey {
                guard key.contains("PRIVATE KEY") else { throw EngineError.invalid("git.sshKey must be a private key (PEM or OpenSSH)", field: "git.sshKey") }
                info.type = .gitSSH
                values.sshKey = key
            } else {
                guard let u = g.username, !u.isEmpty, let p = g.password else {
                    throw EngineError.invalid("a git secret needs username and password, or sshKey", field: "git.username")
                }
                info.type = .gitBasic
                values.username = u
                values.password = p
            }
        }
        engine.redactor.add(values.all)  // from now on, nothing Slipway says can show them
        try writeSecretValues(engine, values, ns, spec.name)
        do {
            try engine.change { tx, events in
                guard try engine.store.insert(info, kind: .secret, namespace: ns, name: spec.name, in: tx) else {
                    throw EngineError.alreadyExists("secret", spec.name, namespace: ns)
                }
                events.add(.Normal, "Created", "Secret \(spec.name) created (\(info.type.rawValue))", object: .init(kind: "Secret", namespace: ns, name: spec.name))
            }
        } catch {
            unlink(secretValuesPath(engine, ns, spec.name))  // the secret was not stored, so neither are its values
            throw error
        }
        return info
    }

    static func secrets(_ engine: Engine, namespace: String) throws -> [SecretInfo] {
        try engine.store.objects(SecretInfo.self, kind: .secret, namespace: namespace)
    }

    static func deleteSecret(_ engine: isolated Engine, namespace: String, name: String) throws {
        guard try engine.store.object(SecretInfo.self, kind: .secret, namespace: namespace, name: name) != nil else {
            throw EngineError.notFound("secret", name, namespace: namespace, hint: "list secrets with secret/list")
        }
        try engine.change { tx, events in
            try engine.store.delete(kind: .secret, namespace: namespace, name: name, in: tx)
            events.add(.Normal, "Deleted", "Secret \(name) deleted", object: .init(kind: "Secret", namespace: namespace, name: name))
        }
        guard unlink(secretValuesPath(engine, namespace, name)) == 0 || errno == ENOENT else {
            throw EngineError.internal("secret \(name) was deleted, but its values file could not be removed: \(String(cString: strerror(errno)))")
        }
    }

    /// The credentials of the git secret whose scope covers `url` (the same scheme, host and
    /// port, and a path prefix of whole segments), the most specific one when several do.
    static func gitCredentials(_ engine: isolated Engine, for url: String, namespace: String) throws -> GitCredentials? {
        guard let target = CredentialScope(url) else { return nil }  // file:// and other local remotes take no credentials
        let match = try secrets(engine, namespace: namespace)
            .compactMap { s -> (SecretInfo, CredentialScope)? in
                guard s.type == .gitBasic || s.type == .gitSSH, let scope = s.url.flatMap(CredentialScope.init), scope.covers(target) else { return nil }
                return (s, scope)
            }
            .max { $0.1.path.count < $1.1.path.count }?.0
        guard let match, let v = try readSecretValues(engine, namespace, match.name) else { return nil }
        if let key = v.sshKey { return .sshKey(key) }
        return .basic(username: v.username ?? "", password: v.password ?? "")
    }

    /// Writes a secret's values to a new 0600 file, whole or not at all (a temporary file
    /// renamed into place).
    private static func writeSecretValues(_ engine: isolated Engine, _ v: SecretValues, _ ns: String, _ name: String) throws {
        let dir = engine.path("secrets", ns)
        mkdir(engine.secretsDirectory, 0o700)  // EEXIST is fine; any other failure shows at open below
        mkdir(dir, 0o700)
        let file = secretValuesPath(engine, ns, name)
        let temp = file + ".tmp-" + UUID().uuidString
        func failure() -> EngineError {
            errno == ENOSPC ? engine.noSpace() : EngineError.internal("cannot store the secret: \(String(cString: strerror(errno)))")
        }
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure() }
        defer { close(fd) }
        let data = try JSONEncoder().encode(v)
        guard data.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == data.count, fsync(fd) == 0, rename(temp, file) == 0 else {
            let e = failure()
            unlink(temp)
            throw e
        }
    }

    static func readSecretValues(_ engine: Engine, _ ns: String, _ name: String) throws -> SecretValues? {
        guard let data = FileManager.default.contents(atPath: secretValuesPath(engine, ns, name)) else { return nil }
        return try JSONDecoder().decode(SecretValues.self, from: data)
    }

    /// Loads every stored secret value into the redactor (at start-up).
    static func loadRedactions(_ engine: isolated Engine) throws {
        for info in try engine.store.objects(SecretInfo.self, kind: .secret) {
            guard let v = try readSecretValues(engine, info.namespace, info.name) else {
                engine.report("the values of secret \(info.namespace)/\(info.name) are missing; recreate the secret")
                continue
            }
            engine.redactor.add(v.all)
        }
    }
}
