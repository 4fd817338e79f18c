import Foundation
import Synchronization

/// Credentials for a git remote. They reach git through an askpass helper or an SSH key file
/// in a private (0700) temporary folder — never through argv, the URL or a log line.
public enum GitCredentials: Sendable, Equatable {
    case basic(username: String, password: String)
    case sshKey(String)
}

/// What a git revision resolved to.
public struct GitResolution: Sendable, Equatable {
    /// The branch or tag followed (the remote's default branch when none was given), or the
    /// commit itself for a pinned revision.
    public var ref: String
    public var commit: String
    /// A commit SHA was asked for: it never changes, so it is never polled.
    public var pinned: Bool
}

/// Runs the `git` CLI for sources: resolves branches, tags and commits with `ls-remote`, and
/// fetches one commit into a folder. URLs and revisions are checked against option injection
/// and unsafe transports before git sees them.
public struct GitClient: Sendable {
    public let gitPath: String

    public init() throws {
        guard let git = findExecutable("git") else {
            throw RuntimeError.unavailable("git is not installed; install it with 'apt-get install git' (or run scripts/setup.sh)")
        }
        gitPath = git
    }

    /// Refuses URLs git could misread as options or that use transports that run commands.
    public static func validate(url: String, field: String) throws {
        let lower = url.lowercased()
        guard url.utf8.count <= 4096 else {
            throw RuntimeError.invalid("git URL '\(PathSyntax.shortened(url))' is longer than 4096 bytes", field: field)
        }
        guard !url.isEmpty, !url.hasPrefix("-") else {
            throw RuntimeError.invalid("git URL '\(PathSyntax.shortened(url))' is not valid: it must not start with '-'", field: field)
        }
        guard !lower.contains("::"), !lower.hasPrefix("ext:"), !lower.hasPrefix("fd:") else {
            throw RuntimeError.invalid("git URL '\(PathSyntax.shortened(url))' uses a transport that runs commands; use https://, http://, ssh://, git@host:path or file://", field: field)
        }
        guard url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
            throw RuntimeError.invalid("git URL must not contain spaces or control characters", field: field)
        }
        let schemes = ["https://", "http://", "ssh://", "git://", "file://"]
        let scpLike = url.range(of: #"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]"#, options: .regularExpression) != nil
        guard schemes.contains(where: { lower.hasPrefix($0) }) || scpLike else {
            throw RuntimeError.invalid("git URL '\(PathSyntax.shortened(url))' must be https://, http://, ssh://, git://, file:// or user@host:path", field: field)
        }
        if let u = URL(string: url), u.password != nil {
            throw RuntimeError.invalid("git URL must not contain a password; create a git secret (secret/create) for the remote instead", field: field)
        }
    }

    public static func validate(revision: String, field: String) throws {
        guard !revision.isEmpty, revision.utf8.count <= 255, !revision.hasPrefix("-"),
            revision.range(of: #"^[A-Za-z0-9._/+@-]+$"#, options: .regularExpression) != nil, !revision.contains("..")
        else {
            throw RuntimeError.invalid("git revision '\(PathSyntax.shortened(revision))' is not a branch, tag or commit name", field: field)
        }
    }

    static func isCommitSHA(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Resolves `revision` (a branch, tag or full commit SHA; nil for the default branch).
    public func resolve(url: String, revision: String?, credentials: GitCredentials?) async throws -> GitResolution {
        if let revision, Self.isCommitSHA(revision) {
            return GitResolution(ref: revision, commit: revision, pinned: true)
        }
        let session = try GitSession(credentials: credentials)
        defer { session.close() }
        if revision == nil {
            let out = try await run(["ls-remote", "--symref", "--", url, "HEAD"], session: session, url: url)
            var branch: String?
            var commit: String?
            for line in out.split(separator: "\n") {
                let parts = line.split(separator: "\t")
                if line.hasPrefix("ref: "), parts.count == 2 {
                    branch = String(parts[0].dropFirst(5)).replacingOccurrences(of: "refs/heads/", with: "")
                } else if parts.count == 2, parts[1] == "HEAD" {
                    commit = String(parts[0])
                }
            }
            guard let commit else { throw RuntimeError.notFound("git remote \(url) has no default branch (HEAD); give source.git.revision") }
            return GitResolution(ref: branch ?? "HEAD", commit: commit, pinned: false)
        }
        let rev = revision!
        let out = try await run(["ls-remote", "--", url, "refs/heads/\(rev)", "refs/tags/\(rev)", "refs/tags/\(rev)^{}"], session: session, url: url)
        var refs: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            if parts.count == 2 { refs[String(parts[1])] = String(parts[0]) }
        }
        if let c = refs["refs/heads/\(rev)"] { return GitResolution(ref: rev, commit: c, pinned: false) }
        if let c = refs["refs/tags/\(rev)^{}"] ?? refs["refs/tags/\(rev)"] { return GitResolution(ref: rev, commit: c, pinned: false) }
        throw RuntimeError.notFound("git remote \(url) has no branch or tag '\(rev)' (give a branch, a tag or a full 40-character commit SHA)")
    }

    /// Fetches `commit` from `url` and checks it out in `directory` (which it creates).
    public func checkout(url: String, commit: String, credentials: GitCredentials?, into directory: String) async throws {
        let session = try GitSession(credentials: credentials)
        defer { session.close() }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try await run(["init", "-q", directory], session: session, url: url)
        _ = try await run(["-C", directory, "fetch", "-q", "--depth", "1", "--", url, commit], session: session, url: url)
        _ = try await run(["-C", directory, "checkout", "-q", "--detach", commit], session: session, url: url)
    }

    /// Runs git with a clean, non-interactive environment; returns stdout.
    func run(_ args: [String], session: GitSession, url: String) async throws -> String {
        let lines = OutputLines()
        let argv = [gitPath, "-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never", "-c", "core.hooksPath=/dev/null",
                    "-c", "credential.helper="] + args
        let p = try Subprocess(argv, environment: session.environment) { stream, line in lines.append(stream, line) }
        let code = await p.wait()
        guard code == 0 else {
            let err = lines.stderr.suffix(3).joined(separator: " ").trimmingCharacters(in: .whitespaces)
            if err.contains("Authentication failed") || err.contains("could not read Username") || err.contains("Permission denied") {
                throw RuntimeError(.unavailable, "git remote \(url) refused the credentials (\(err)); check the git secret for it", field: nil)
            }
            throw RuntimeError.unavailable("git \(args.first == "-C" ? args[2] : args[0]) from \(url) failed: \(err.isEmpty ? "exit status \(code)" : err)")
        }
        return lines.stdout.joined(separator: "\n")
    }
}

/// A private temporary folder holding what one git run needs to authenticate.
final class GitSession: Sendable {
    let directory: String
    let environment: [String: String]

    init(credentials: GitCredentials?) throws {
        directory = NSTemporaryDirectory() + "slipway-git-" + UUID().uuidString
        guard mkdir(directory, 0o700) == 0 else { throw RuntimeError.io("cannot create a private folder for git") }
        var env = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": directory, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh", "LC_ALL": "C",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=\(directory)/known_hosts",
        ]
        switch credentials {
        case .basic(let user, let password):
            // The askpass helper reads the answers from 0600 files; they never appear in argv or env.
            try Self.writePrivate(directory + "/username", user)
            try Self.writePrivate(directory + "/password", password)
            let helper = directory + "/askpass"
            try Self.writePrivate(helper, "#!/bin/sh\ncase \"$1\" in\n  Username*) cat '\(directory)/username' ;;\n  *) cat '\(directory)/password' ;;\nesac\n")
            chmod(helper, 0o700)
            env["GIT_ASKPASS"] = helper
        case .sshKey(let key):
            try Self.writePrivate(directory + "/id", key.hasSuffix("\n") ? key : key + "\n")
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o IdentitiesOnly=yes -i \(directory)/id -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=\(directory)/known_hosts"
        case nil:
            env["GIT_ASKPASS"] = "/bin/false"
        }
        environment = env
    }

    static func writePrivate(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RuntimeError.io("cannot write \(path)") }
        defer { Foundation.close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw RuntimeError.io("cannot write \(path)") }
    }

    /// Removes the folder and the credentials in it; one that stays (0700, its files 0600) is
    /// said on stderr (the engine's log), so that it can be removed by hand.
    func close() {
        do {
            try FileManager.default.removeItem(atPath: directory)
        } catch {
            FileHandle.standardError.write(Data("slipway: cannot remove \(directory), which holds git credentials: \(error); remove it\n".utf8))
        }
    }
}

/// Collects a process's output lines by stream.
final class OutputLines: Sendable {
    private let state = Mutex<(out: [String], err: [String])>(([], []))
    func append(_ stream: OutputStream, _ line: String) {
        state.withLock { if stream == .stdout { $0.out.append(line) } else { $0.err.append(line) } }
    }
    var stdout: [String] { state.withLock { $0.out } }
    var stderr: [String] { state.withLock { $0.err } }
}
