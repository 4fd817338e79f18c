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
