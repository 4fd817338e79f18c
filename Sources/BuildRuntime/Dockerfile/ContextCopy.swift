import Foundation

extension DockerfileLayerStore {
    /// Copies the context's `path` (a folder's contents, or one file under its name), without
    /// what `ignore` leaves out (an ignored folder is still walked when a `!` rule may take back
    /// a path below it, and made only when one does, as BuildKit's fsutil walker sends the
    /// folders above an included path), into a scratch folder under `layersRoot` owned by the step's
    /// root, hashing what it copies (paths, types, modes, link targets, contents) on the way.
    /// Returns the folder's path and that digest. The bytes copied are taken from `budget`
    /// (what the step's copies may hold together); past it, the build fails.
    func copyContext(_ context: ConfinedDirectory, path: [String], ignore: IgnoreRules, budget: ByteBudget) throws -> (ScratchFolder, Digest) {
        let folder = try ScratchFolder(in: layersRoot)
        let out = try ConfinedDirectory(path: folder.path)
        let hasher = SHA256Hasher()
        let (uid, gid) = getuid() == 0 ? (IDMapping.outer(0, in: mapping.users) ?? 0, IDMapping.outer(0, in: mapping.groups) ?? 0) : (getuid(), getgid())
        func give(_ dir: ConfinedDirectory, _ name: String?) {
            // Ownership only makes the copy look like root's inside the step; reading it works
            // either way (hence no check).
            if getuid() == 0 { if let name { _ = fchownat(dir.fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) } else { _ = fchown(dir.fd, uid, gid) } }
        }
        give(out, nil)
        func note(_ parts: String...) { hasher.update(Array((parts.joined(separator: " ") + "\n").utf8)) }
        // Folders still to copy the children of, walked with an explicit stack, each folder's
        // children right after it (the order the digest is taken in); each entry's folder is
        // the child of the one below it. An ignored folder walked for a `!` rule has no copy
        // (`into` nil) until something inside is taken back: `copyOfFolder(at:)` then makes it.
        var stack: [(here: LayerChainView, names: [String], next: Int, into: ConfinedDirectory?, source: [String], mode: mode_t)] = []
        func push(_ layers: [ConfinedDirectory], into dir: ConfinedDirectory?, source: [String], mode: mode_t = 0o755) throws {
            guard stack.count < Self.maxTreeDepth else {
                throw RuntimeError.buildFailed("the build context's \(PathSyntax.shortened(source.joined(separator: "/"))) is more than \(Self.maxTreeDepth) folders deep")
            }
            stack.append((LayerChainView(folders: layers), try LayerChainView.entries(of: layers), 0, dir, source, mode))
        }
        func copyOfFolder(at index: Int) throws -> ConfinedDirectory {
            if let made = stack[index].into { return made }
            let entry = stack[index]
            note("d", entry.source.joined(separator: "/"), String(Int(entry.mode), radix: 8))
            let sub = try copyOfFolder(at: index - 1).makeDirectories(entry.source.last!)
            _ = fchmod(sub.fd, entry.mode)  // as in copy(_:name:into:source:)
            give(sub, nil)
            stack[index].into = sub
            return sub
        }
        func copy(_ node: LayerChainView.Node, name: String, into dir: ConfinedDirectory, source: [String]) throws {
            switch node {
            case .file(let from, let n, let st):
                guard budget.take(Int64(st.st_size)) else {
                    throw RuntimeError.buildFailed("the step's bind mounts of the build context copy more than \(budget.limit) bytes, what its layer may hold (--max-layer-bytes); mount less of the context")
                }
                let mode = Int(st.st_mode & 0o7777)
                note("f", source.joined(separator: "/"), String(mode, radix: 8), String(st.st_size))
                let input = try from.openFile(n, flags: O_RDONLY | O_NONBLOCK)
                defer { close(input) }
                let output = try dir.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode_t(mode))
                defer { close(output) }
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let r = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                    if r < 0 && errno == EINTR { continue }
                    guard r >= 0 else { throw RuntimeError.io("reading \(source.joined(separator: "/")) of the context: \(String(cString: strerror(errno)))") }
                    if r == 0 { break }
                    buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<r])) }
                    var done = 0
                    while done < r {
                        let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, r - done) }
                        guard w > 0 else { throw RuntimeError.io("copying the context for a bind mount: \(String(cString: strerror(errno)))") }
                        done += w
                    }
                }
                _ = fchmod(output, mode_t(mode))  // the umask may have cut it; a failure only narrows it
                give(dir, name)
            case .symlink(let target, _):
                note("l", source.joined(separator: "/"), target)
                guard symlinkat(target, dir.fd, name) == 0 else { throw RuntimeError.io("copying a symlink of the context: \(String(cString: strerror(errno)))") }
                give(dir, name)
            case .directory(let layers, let st):
                note("d", source.joined(separator: "/"), String(Int(st.st_mode & 0o7777), radix: 8))
                let sub = try dir.makeDirectories(name)
                _ = fchmod(sub.fd, st.st_mode & 0o7777)  // as above
                give(sub, nil)
                try push(layers, into: sub, source: source)
            }
        }
        switch try LayerChainView(folders: [context]).node(path.joined(separator: "/")) {
        case .directory(let layers, _)?: try push(layers, into: out, source: path)
        case let node?: try copy(node, name: path.last!, into: out, source: path)
        case nil: break
        }
        while let top = stack.last {
            guard top.next < top.names.count else { stack.removeLast(); continue }
            stack[stack.count - 1].next += 1
            let child = top.names[top.next]
            guard let n = try top.here.node(child) else { continue }
            var isDirectory = false
            if case .directory = n { isDirectory = true }
            guard !ignore.ignores((top.source + [child]).joined(separator: "/"), isDirectory: isDirectory) else {
                if case .directory(let layers, let st) = n, ignore.hasExceptions { try push(layers, into: nil, source: top.source + [child], mode: st.st_mode & 0o7777) }
                continue
            }
            try copy(n, name: child, into: try copyOfFolder(at: stack.count - 1), source: top.source + [child])
        }
        return (folder, hasher.finish())
    }
}

/// The context's ignore rules (`.dockerignore`), which COPY, ADD and context bind mounts apply.
enum ContextIgnoreFile {
    /// The ignore rules of the context: `<Dockerfile>.dockerignore` beside the Dockerfile wins
    /// (as in BuildKit), else `.dockerignore` at the context's root; none when neither exists.
    /// One that is there but cannot be read (a symlink, a folder, over 1 MiB) fails the build:
    /// left unread, it would let in what it leaves out.
    static func text(context: ConfinedDirectory, dockerfile: String) throws -> String {
        for name in [dockerfile + ".dockerignore", ".dockerignore"] {
            do {
                return try context.readText(name, maxBytes: 1 << 20)
            } catch let e as ConfinedPathError where e.kind == .missing {
                continue
            } catch {
                throw RuntimeError.invalid(
                    "the build context's \(name) cannot be read (\(error)); an ignore file left unread would let in what it leaves out: make it a regular file of at most 1 MiB")
            }
        }
        return ""
    }
}
