/// Params of `secret/create`: exactly one of `registry`, `dockerConfig`, `git`.
public struct SecretSpec: Codable, Sendable {
    /// Username and password for a registry server.
    public struct Registry: Codable, Sendable { public var server: String; public var username: String; public var password: String }
    /// A docker config.json whose content is stored.
    public struct DockerConfig: Codable, Sendable { public var path: String }
    /// Credentials for git remotes whose URL starts with `url`.
    public struct Git: Codable, Sendable {
        public var url: String
        public var username: String?
        public var password: String?
        public var sshKey: String?
    }
    public var name: String
    public var namespace: String?
    public var registry: Registry?
    public var dockerConfig: DockerConfig?
    public var git: Git?
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
}

/// The values of a secret, kept in a 0600 file of their own (never in the database).
struct SecretValues: Codable, Sendable {
    var username: String?
    var password: String?
    var sshKey: String?
    var dockerConfig: String?

    /// Every value a redactor must hide.
    var all: [String] { [password, sshKey, dockerConfig].compactMap { $0 }.filter { $0.count >= 3 } }
}
