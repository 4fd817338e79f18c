import Foundation
import SlipwayProtocol


/// The values of a secret, kept in a 0600 file of their own (never in the database).
struct SecretValues: Codable, Sendable {
    var username: String?
    var password: String?
    var sshKey: String?
    var dockerConfig: String?
    /// A registry secret's CA certificates (PEM); not a secret, so not redacted.
    var caCert: String?

    /// Every value a redactor must hide.
    var all: [String] { [password, sshKey, dockerConfig].compactMap { $0 }.filter { $0.count >= 3 } }
}

/// The parts of a docker `config.json` Slipway reads for registry credentials: `auths` (by
/// server: a username and password, or their base64 `user:password` in `auth`) and
/// `credHelpers` (by server: the name of a `docker-credential-<name>` helper). Other keys are
/// ignored.
struct DockerConfigFile: Codable {
    /// One server's entry of `auths`.
    struct Auth: Codable {
        var username: String?
        var password: String?
        var auth: String?

        /// The username and password it holds, from `username`/`password` or else `auth`.
        var credentials: (username: String, password: String)? {
            if let username, let password { return (username, password) }
            guard let auth, let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
                  let colon = decoded.firstIndex(of: ":") else { return nil }
            return (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
        }
    }

    var auths: [String: Auth]?
    var credHelpers: [String: String]?

    /// The config in `data`, or nil when it is not a docker config (JSON of another shape).
    static func parse(_ data: Data) -> DockerConfigFile? {
        try? JSONDecoder().decode(DockerConfigFile.self, from: data)  // nil is the answer: callers say what they need instead
    }
}

/// What `docker-credential-<name> get` writes: the credentials for one server.
struct CredentialHelperAnswer: Decodable {
    var Username: String
    var Secret: String
}
