import Foundation

/// A `RUN --mount` flag as written, checked before anything is read: its type (bind, cache or
/// tmpfs; `secret` and `ssh` are refused), an absolute target below `/` with no `..`, and its
/// other options by lower-case name (a bare option, `rw`, is `"true"`).
struct MountSpec: Sendable, Equatable {
    enum Kind: String, Sendable {
        case bind, cache, tmpfs
    }

    var kind: Kind
    var target: String
    var options: [String: String]

    init(parsing spec: String, file: String, line: Int) throws {
        var options: [String: String] = [:]
        for part in spec.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            options[kv[0].lowercased()] = kv.count == 2 ? kv[1] : "true"
        }
        let type = options["type"] ?? "bind"
        guard let kind = Kind(rawValue: type) else {
            throw RuntimeError.dockerfile(file, line, "RUN --mount=type=\(type) is not supported by Slipway yet (bind, cache and tmpfs are)")
        }
        guard let target = options["target"] ?? options["dst"] ?? options["destination"], target.hasPrefix("/"),
            PathSyntax.components(target).allSatisfy(PathSyntax.isNormalComponent), PathSyntax.components(target).count > 0
        else { throw RuntimeError.dockerfile(file, line, "RUN --mount=type=\(type) needs an absolute target=PATH below /") }
        self.kind = kind
        self.target = target
        self.options = options
    }
}

extension DockerfileRunStep {
    /// A `RUN --mount` (or the step's resolv.conf) as the step gets it: the mount, whether its
    /// source is a file, what of it goes into the step's cache key, and a scratch folder of
    /// the builder's (leased while the step runs) to remove after the step.
    struct PreparedMount {
        var mount: OverlayStepRunner.StepMount
        var sourceIsFile: Bool
        var key: String
        var scratch: ScratchFolder?
    }

    /// A `RUN --mount`: what the step sees there, and what of it goes into the step's cache key.
    /// - `type=cache,target=…[,id=…][,uid=…][,gid=…][,mode=…]`: a folder of the namespace's,
    ///   keyed by `id` (default: the target), that outlives builds, made (owned as asked,
    ///   inside the step's namespace) on first use;
    /// - `type=bind,target=…[,from=STAGE|IMAGE][,source=…][,rw]`: a path of another stage, of an
    ///   image, or of the context (ignore rules applied), read-only unless `rw`, whose writes
    ///   are dropped after the step. `source` is resolved inside what it names as a container
    ///   would (a symlink to `/` is that stage's root, never the host's);
    /// - `type=tmpfs,target=…[,size=BYTES]`: an empty tmpfs, at most `maxTmpfsBytes`.
    /// `secret` and `ssh` are refused. The target is resolved later, inside the stage (`run`).
    func prepareMount(_ spec: String, copies: ByteBudget, file: String, line: Int) async throws -> PreparedMount {
        let parsed = try MountSpec(parsing: spec, file: file, line: line)
        let (options, target) = (parsed.options, parsed.target)
        switch parsed.kind {
        case .tmpfs:
            let limit = sources.request.maxTmpfsBytes
            var bytes = limit
            if let text = options["size"] ?? options["tmpfs-size"] {
                guard let n = Int64(text), n > 0 else { throw RuntimeError.dockerfile(file, line, "RUN --mount=type=tmpfs,size=\(text): the size is a number of bytes") }
                guard n <= limit else { throw RuntimeError.dockerfile(file, line, "RUN --mount=type=tmpfs,size=\(text) is over \(limit) bytes, the most a step's tmpfs may hold (--step-memory)") }
                bytes = n
            }
            return PreparedMount(mount: .init(.tmpfs(bytes: bytes), at: target, writable: true), sourceIsFile: false, key: "tmpfs \(target) \(bytes)")
        case .bind:
            let source = options["source"] ?? options["src"] ?? "/"
            let path = PathSyntax.components(source)
            guard path.allSatisfy(PathSyntax.isNormalComponent) else {
                throw RuntimeError.dockerfile(file, line, "RUN --mount=type=bind,source=\(source) leaves what it mounts")
            }
            let writable = options["rw"] == "true" || options["readwrite"] == "true"
            // The source as a container sees it: symlinks followed inside what it names.
            func resolve(_ view: LayerChainView, in what: String) throws -> LayerChainView.Resolution {
                let r: LayerChainView.Resolution
                do { r = try view.resolve(path.joined(separator: "/")) } catch let e as LayerChainView.ResolutionError {
                    throw RuntimeError.dockerfile(file, line, "RUN --mount=type=bind,source=\(source): \(e.why) in \(what)")
                }
                guard r.node != nil else { throw RuntimeError.dockerfile(file, line, "RUN --mount=type=bind,source=\(source): no such file or folder in \(what)") }
                return r
            }
            func isFile(_ r: LayerChainView.Resolution) -> Bool { if case .directory? = r.node { return false } else { return true } }
            let what = "bind \(target) rw=\(writable)"
            if let from = options["from"] {
                if let j = sources.dockerfile.stage(named: from), let other = sources.built[j] {
                    let r = try resolve(try store.view(other.lowers), in: "stage \(from)")
                    let sub = r.components.joined(separator: "/")
                    return PreparedMount(mount: .init(.layers(other.lowers, path: sub), at: target, writable: writable), sourceIsFile: isFile(r),
                                         key: what + " source=\(sub) stage " + other.key.string)
                }
                let image = try await sources.request.resolveBase(from)
                let folder = try await store.baseFolder(image)
                let r = try resolve(try store.view([folder]), in: "image \(from)")
                let sub = r.components.joined(separator: "/")
                return PreparedMount(mount: .init(.layers([folder], path: sub), at: target, writable: writable), sourceIsFile: isFile(r),
                                     key: what + " source=\(sub) image " + image.manifestDigest.string)
            }
            // The context: its files below the resolved `source`, ignore rules applied, copied
            // into a folder of the step's, whose digest goes into the key.
            let r = try resolve(LayerChainView(folders: [sources.context]), in: "the build context")
            let (folder, digest) = try await BlockingWork.run { [self] in
                try store.copyContext(sources.context, path: r.components, ignore: IgnoreRules(try ContextIgnoreFile.text(context: sources.context, dockerfile: file), syntax: .dockerignore),
                                budget: copies)
            }
            // A file is copied under its name; a folder's contents are the copy.
            let fileName = isFile(r) ? r.components.last ?? "" : ""
            return PreparedMount(mount: .init(.layers([folder.path], path: fileName), at: target, writable: writable), sourceIsFile: isFile(r),
                                 key: what + " source=\(r.components.joined(separator: "/")) context " + digest.string, scratch: folder)
        case .cache:
            guard let mountCache = sources.request.mountCacheDirectory else {
                throw RuntimeError.dockerfile(file, line, "RUN --mount=type=cache needs a build of an image (its cache keeps the folder)")
            }
            func number(_ key: String, radix: Int, below limit: UInt32, default value: UInt32) throws -> UInt32 {
                guard let text = options[key] else { return value }
                guard let n = UInt32(text, radix: radix), n < limit else { throw RuntimeError.dockerfile(file, line, "--mount \(key)=\(text) is out of range") }
                return n
            }
            let uid = try number("uid", radix: 10, below: IDMapping.size, default: 0)
            let gid = try number("gid", radix: 10, below: IDMapping.size, default: 0)
            let mode = mode_t(try number("mode", radix: 8, below: 0o10000, default: 0o755))
            let host = mountCache + "/" + Digest.of(Data((options["id"] ?? target).utf8)).hex
            try FileManager.default.createDirectory(atPath: mountCache, withIntermediateDirectories: true)
            if mkdir(host, mode) == 0 {
                // A user that is not root cannot give ids of their range away: the folder stays
                // theirs (root inside the step).
                if getuid() == 0, let u = IDMapping.outer(uid, in: store.mapping.users), let g = IDMapping.outer(gid, in: store.mapping.groups) { _ = chown(host, u, g) }
                _ = chmod(host, mode)
            } else if errno != EEXIST {
                throw RuntimeError.io("cannot make the cache mount folder \(host): \(String(cString: strerror(errno)))")
            }
            // A cache folder's contents are not part of the key: it is a cache.
            return PreparedMount(mount: .init(.folder(host), at: target, writable: true), sourceIsFile: false, key: "cache " + target)
        }
    }

    /// Where a mount goes in the step's root: its target resolved inside the stage as a
    /// container resolves it (symlinks followed there, never on the host), refused under
    /// `/proc` and `/dev` (the sandbox's own) and where a file stands for a folder or the
    /// reverse; the components the helper will make (missing from the stage) are
    /// `components[existing...]`.
    func placeMount(_ prepared: PreparedMount, in view: LayerChainView, file: String, line: Int) throws -> (OverlayStepRunner.StepMount, LayerChainView.Resolution) {
        var mount = prepared.mount
        let r: LayerChainView.Resolution
        do { r = try view.resolve(mount.target) } catch let e as LayerChainView.ResolutionError {
            throw RuntimeError.dockerfile(file, line, "RUN --mount target=\(mount.target): \(e.why) in the stage")
        }
        guard let first = r.components.first, !["proc", "dev"].contains(first) else {
            throw RuntimeError.dockerfile(file, line, "RUN --mount target=\(mount.target) is \(r.components.isEmpty ? "the root" : "under /\(r.components[0])"), which the sandbox mounts itself; mount somewhere else")
        }
        switch r.node {
        case .directory? where prepared.sourceIsFile:
            throw RuntimeError.dockerfile(file, line, "RUN --mount target=\(mount.target) is a folder in the stage, and the mount's source is a file")
        case .file? where !prepared.sourceIsFile:
            throw RuntimeError.dockerfile(file, line, "RUN --mount target=\(mount.target) is a file in the stage, and the mount's source is a folder")
        default: break
        }
        mount.target = r.absolute
        return (mount, r)
    }
}
