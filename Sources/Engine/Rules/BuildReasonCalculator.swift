import SlipwayProtocol
/// Decides whether an image needs a build, and why: one pure function from the inputs of the
/// last build (and whether it succeeded) to the current inputs, in the manner of kpack.
///
/// - CONFIG: env, source (other than the git commit), subPath, the builder set on the image, the
///   strategy, or (Dockerfile strategy) the Dockerfile, build args, target or context folder.
/// - COMMIT: a new commit for the same git URL and ref.
/// - BUILDER: a buildpack the last successful build used is no longer in the builder at that
///   version: it has another version, or the builder lost it (kpack's `builderChanged`, which
///   looks at the buildpacks of the last build's metadata, not at the whole builder); or the
///   builder is made from a builder image whose tag now names another image.
/// - STACK: the stack's run image changed, or (Dockerfile strategy) a FROM tag moved.
/// BUILDER and STACK are only reasons after a successful last build; without a last build,
/// the reason is CONFIG.
public enum BuildReasonCalculator {
    /// `lastUsed` is what the last finished build ran (its detected group); for a build recorded
    /// without it, the builder's buildpacks at that build stand in, and only a changed version counts.
    public static func reasons(last: BuildInputs?, lastSucceeded: Bool, lastUsed: [BuildpackInfo], current: BuildInputs) -> [BuildReason] {
        guard let last else { return [BuildReason(.CONFIG)] }
        var out: [BuildReason] = []
        var config: [BuildReason] = []
        if last.builder != current.builder {
            config.append(BuildReason(.CONFIG, field: "builder", old: "\(last.builder.kind.rawValue)/\(last.builder.name)",
                                      new: "\(current.builder.kind.rawValue)/\(current.builder.name)"))
        }
        if last.sourceType != current.sourceType || last.sourceURL != current.sourceURL || last.sourceRef != current.sourceRef {
            config.append(BuildReason(.CONFIG, field: "source", old: describeSource(last), new: describeSource(current)))
        } else if last.sourceType != .git, last.sourceRevision != current.sourceRevision {
            config.append(BuildReason(.CONFIG, field: "source", old: last.sourceRevision, new: current.sourceRevision))
        }
        if last.subPath != current.subPath {
            config.append(BuildReason(.CONFIG, field: "source.subPath", old: last.subPath ?? "", new: current.subPath ?? ""))
        }
        if last.env != current.env {
            config.append(BuildReason(.CONFIG, field: "env", old: describeEnv(last.env), new: describeEnv(current.env)))
        }
        if last.dockerfile?.withoutBases != current.dockerfile?.withoutBases {
            let (o, n) = (last.dockerfile, current.dockerfile)
            if o == nil || n == nil {
                config.append(BuildReason(.CONFIG, field: "strategy", old: o == nil ? "buildpacks" : "dockerfile", new: n == nil ? "buildpacks" : "dockerfile"))
            } else if let o, let n {
                // The bases are compared for STACK below, not as configuration.
                if o.resolvedPath != n.resolvedPath { config.append(BuildReason(.CONFIG, field: "dockerfile", old: o.resolvedPath, new: n.resolvedPath)) }
                if o.resolvedBuildArgs != n.resolvedBuildArgs {
                    config.append(BuildReason(.CONFIG, field: "buildArgs", old: describeEnv(o.resolvedBuildArgs), new: describeEnv(n.resolvedBuildArgs)))
                }
                if o.target != n.target { config.append(BuildReason(.CONFIG, field: "target", old: o.target ?? "", new: n.target ?? "")) }
                if o.contextDir != n.contextDir { config.append(BuildReason(.CONFIG, field: "contextDir", old: o.contextDir ?? "", new: n.contextDir ?? "")) }
            }
        }
        if last.network != current.network {
            config.append(BuildReason(.CONFIG, field: "network", old: last.network?.rawValue ?? "default", new: current.network?.rawValue ?? "default"))
        }
        out += config
        if current.sourceType == .git, last.sourceType == .git, last.sourceURL == current.sourceURL, last.sourceRef == current.sourceRef,
            last.sourceRevision != current.sourceRevision
        {
            out.append(BuildReason(.COMMIT, field: "source.git.revision", old: last.sourceRevision, new: current.sourceRevision))
        }
        if lastSucceeded {
            if let old = last.builderImage, let new = current.builderImage, old != new, last.builder == current.builder {
                out.append(BuildReason(.BUILDER, field: "builderImage", old: old, new: new))
            }
            out += builderChanges(used: lastUsed, builderAtLastBuild: last.buildpacks, now: current.buildpacks)
            if let old = last.runImageDigest, let new = current.runImageDigest, old != new {
                out.append(BuildReason(.STACK, field: "runImage", old: old, new: new))
            }
            // Dockerfile strategy: a FROM image whose tag now names another image.
            if let old = last.dockerfile?.bases, let new = current.dockerfile?.bases {
                for (name, digest) in old.sorted(by: { $0.key < $1.key }) {
                    if let now = new[name], now != digest { out.append(BuildReason(.STACK, field: "FROM " + name, old: digest, new: now)) }
                }
            }
        }
        return out
    }

    /// BUILDER reasons: each buildpack the last build used from its builder (not one the app
    /// brought) that the builder no longer has at that version, as `id old -> id new` or
    /// `id old -> (removed)`.
    static func builderChanges(used: [BuildpackInfo], builderAtLastBuild: [String: String], now: [String: String]) -> [BuildReason] {
        if used.isEmpty {
            return builderAtLastBuild.sorted(by: { $0.key < $1.key }).compactMap { id, version in
                guard let new = now[id], new != version else { return nil }
                return BuildReason(.BUILDER, field: "buildpacks", old: "\(id) \(version)", new: "\(id) \(new)")
            }
        }
        return used.filter { builderAtLastBuild[$0.id] == $0.version }.sorted(by: { $0.id < $1.id }).compactMap { bp in
            guard now[bp.id] != bp.version else { return nil }
            return BuildReason(.BUILDER, field: "buildpacks", old: "\(bp.id) \(bp.version)", new: now[bp.id].map { "\(bp.id) \($0)" } ?? "(removed)")
        }
    }

    /// The one-word summary `kp build list` shows: the highest of CONFIG > COMMIT > BUILDER,
    /// else the first reason, with `+` when there are more (`CONFIG+`).
    public static func summary(_ reasons: [BuildReasonKind]) -> String {
        let distinct = reasons.reduce(into: [BuildReasonKind]()) { if !$0.contains($1) { $0.append($1) } }
        guard let first = distinct.first else { return "" }
        let primary = [BuildReasonKind.CONFIG, .COMMIT, .BUILDER].first(where: distinct.contains) ?? first
        return primary.rawValue + (distinct.count > 1 ? "+" : "")
    }

    static func describeSource(_ i: BuildInputs) -> String {
        i.sourceType.rawValue + " " + i.sourceURL + (i.sourceRef.map { "@" + $0 } ?? "")
    }

    static func describeEnv(_ env: [String: String]) -> String {
        env.keys.sorted().map { "\($0)=\(env[$0]!)" }.joined(separator: " ")
    }
}

/// Which finished builds to delete: all but the newest `keepSucceeded` successful and the
/// newest `keepFailed` failed builds. Queued and running builds are never deleted.
public enum RetentionPolicy {
    public static func buildsToDelete(_ builds: [(number: Int, status: BuildState)], keepSucceeded: Int, keepFailed: Int) -> [Int] {
        let newestFirst = builds.sorted { $0.number > $1.number }
        let succeeded = newestFirst.filter { $0.status == .SUCCESS }.dropFirst(max(0, keepSucceeded))
        let failed = newestFirst.filter { $0.status == .FAILURE }.dropFirst(max(0, keepFailed))
        return (succeeded + failed).map(\.number).sorted()
    }
}
