import Foundation

/// A COPY or ADD step of a stage: its sources (the context with its ignore rules, another
/// stage, an image, ADD's URLs and local archives, heredocs) matched and written, with its
/// options, into a layer, which `DockerfileLayerStore.addLayer` keys by its digest.
struct DockerfileCopyStep: Sendable {
    let store: DockerfileLayerStore
    let sources: StepSources

    /// Writes the files `ins` names, with its options, as a layer of `stage` (or reuses the
    /// layer recorded for the same files after the same steps).
    func copy(_ ins: DockerfileInstruction, into stage: inout BuildingStage, words: ShellWords, file: String, log: @escaping BuildLogger) async throws {
        let phase = BuildPhase.build
        let stepSources = sources
        let name = ins.keyword.rawValue.uppercased()
        // --link: the files are copied into an empty folder made a layer of its own, so the
        // folders on the way are that layer's (0755, the --chown owner), not the stage's.
        let linked: Bool
        switch ins.flag("link") {
        case nil, .some("false"): linked = false
        case .some(nil), .some("true"): linked = true
        case .some(.some(let v)): throw RuntimeError.dockerfile(file, ins.line, "--link=\(v) is not true or false")
        }
        for f in ins.flags where !["from", "chown", "chmod", "link", "exclude", "parents", "checksum"].contains(f.name)
            || (ins.keyword == .add && ["from", "parents"].contains(f.name)) {
            throw RuntimeError.dockerfile(file, ins.line, "\(name) --\(f.name) is not supported by Slipway yet")
        }
        // --exclude patterns (.dockerignore syntax) match paths relative to each matched source:
        // a file's name, or a path inside a matched folder.
        let excludes = ins.flagValues("exclude")
        let exclude = excludes.isEmpty ? nil : IgnoreRules(excludes.joined(separator: "\n"), syntax: .dockerignore)
        let keepParents: Bool
        switch ins.flag("parents") {
        case nil, .some("false"): keepParents = false
        case .some(nil), .some("true"): keepParents = true
        case .some(.some(let v)): throw RuntimeError.dockerfile(file, ins.line, "--parents=\(v) is not true or false")
        }
        let lookup: ShellWords.Lookup = { [stage] in stage.lookup($0) }
        var args: [String]
        do {
            switch ins.arguments {
            case .exec(let a): args = try a.map { try words.word($0, lookup) }
            case .shell(let s): args = try words.rawWords(s).map { $0.hasPrefix("<<") ? $0 : try words.word($0, lookup) }
            }
        } catch let e as ShellWords.Failure {
            throw RuntimeError.dockerfile(file, ins.line, e.message)
        }
        let destination = args.removeLast()
        let sources = args
        // Where files come from: the context (ignore rules applied) or another stage.
        let context = stepSources.context
        var view = LayerChainView(folders: [context])
        var ignore: IgnoreRules?
        if case .some(.some(let fromFlag)) = ins.flag("from") {
            let from = try words.word(fromFlag) { [stage] in stage.lookup($0) ?? stepSources.globals[$0] }
            if let j = stepSources.dockerfile.stage(named: from), let other = stepSources.built[j] {
                view = try store.view(other.lowers)
            } else {
                // Not a stage: an image, by name.
                let image = try await stepSources.request.resolveBase(from)
                log(phase, .system, "\(name) --from=\(from) (\(image.manifestDigest))")
                let folder = try await store.baseFolder(image)
                view = try store.view([folder])
            }
        } else {
            ignore = IgnoreRules(try ContextIgnoreFile.text(context: context, dockerfile: file), syntax: .dockerignore)
        }
        // ADD of URLs: downloaded first (by the builder, not in a step), checked against
        // --checksum, and added as files of mode 0600 named after the URL's path.
        var downloads: [String: String] = [:]
        let downloads0Scratch = try ScratchFolder(in: store.layersRoot)
        let downloadFolder = downloads0Scratch.path
        defer { try? ConfinedDirectory.removeTree(atPath: downloadFolder); withExtendedLifetime(downloads0Scratch) {} }  // scratch; a leftover is swept by the next collection
        if ins.keyword == .add {
            let urls = sources.filter { $0.contains("://") }
            if case .some(.some) = ins.flag("checksum"), urls.count != 1 || sources.count != 1 {
                throw RuntimeError.dockerfile(file, ins.line, "ADD --checksum needs exactly one source, a URL")
            }
            if !urls.isEmpty { try FileManager.default.createDirectory(atPath: downloadFolder, withIntermediateDirectories: true) }
            for (i, url) in urls.enumerated() {
                downloads[url] = try await AddURLDownload(fetcher: stepSources.fetcher, content: store.images.content)
                    .fetch(url, to: downloadFolder + "/\(i)", checksum: ins.flag("checksum") ?? nil,
                                                    file: file, line: ins.line, log: log)
            }
        }
        let stageView = try store.view(stage.lowers)
        var owner = TarWriter.Owner.root
        if case .some(.some(let chown)) = ins.flag("chown") {
            let spec = try words.word(chown, lookup)
            let ids = try stageView.user(spec)
            // A user without a group takes the uid's number as gid too, as Docker does.
            owner = TarWriter.Owner(uid: ids.uid, gid: spec.contains(":") ? ids.gid : ids.uid)
        }
        var mode: Int?
        if case .some(.some(let chmod)) = ins.flag("chmod") {
            guard let m = Int(chmod, radix: 8), (0...0o7777).contains(m) else { throw RuntimeError.dockerfile(file, ins.line, "--chmod=\(chmod) is not an octal mode") }
            mode = m
        }
        let workdir = stage.config.config.WorkingDir ?? "/"
        // Cleaned lexically, as BuildKit's file backend does (cleanPath: filepath.Join("/", dest),
        // a trailing `/` or `/.` kept): `/symlink/..` is `/`, whatever /symlink points at.
        let destAbsolute = destination.hasPrefix("/") ? destination : workdir + "/" + destination
        let destParts = PathSyntax.components(PathSyntax.normalizedAbsolute(destAbsolute))
        // Heredoc contents, expanded here (variables of the stage) unless their marker is quoted;
        // one whose expansion fails (`try?`: an unclosed `${`, say) is taken as written, as a shell would print it.
        let heredocs = Dictionary(ins.heredocs.map { doc in
            (doc.name, (name: doc.name, content: doc.expands ? (try? words.word(doc.content, lookup)) ?? doc.content : doc.content))
        }, uniquingKeysWith: { a, _ in a })
        let destIsDirectory = destination.hasSuffix("/") || destination.hasSuffix("/.") || destination == "." || sources.count > 1 || keepParents
        let (view0, ignore0, owner0, mode0, downloads0) = (view, ignore, owner, mode, downloads)

        // The files are read and the layer written on a thread of its own, off the pool.
        let fromContext = ins.flag("from") == nil
        let treeScratch = try ScratchFolder(in: store.layersRoot)
        let treeFolder = treeScratch.path
        // The folder written beside the tar, leased until the layer is recorded: put in place as
        // the layer's folder, or else removed (a leftover is swept with the other .tmp folders).
        defer { try? ConfinedDirectory.removeTree(atPath: treeFolder); withExtendedLifetime(treeScratch) {} }
        let written: (Digest, Int64, String?, ArchiveOwnerLedger)
        do {
        written = try await BlockingWork.run { [self, store] () throws -> (Digest, Int64, String?, ArchiveOwnerLedger) in
        let (view, ignore, owner, mode, downloads) = (view0, ignore0, owner0, mode0, downloads0)
        let w = try store.layerWriter(stepSources.request)
        let tree = try LayerTreeWriter(tar: TarWriter(out: w), folder: treeFolder, mapping: store.mapping, innerIDs: store.runner.innerIDFolders)
        var written = Set<String>()
        // Folders on the way to a copied file: one the stage has keeps its mode and owner; a new
        // one gets 0755 and the --chown owner (root without it), as Docker makes them.
        func parents(of parts: [String]) throws { try folders(Array(parts.dropLast())) }
        // `parts` and every folder above it.
        func folders(_ parts: [String]) throws {
            for i in stride(from: 1, through: parts.count, by: 1) {
                let p = parts[0..<i].joined(separator: "/")
                guard written.insert(p).inserted else { continue }
                if !linked, case .directory(_, let st)? = try stageView.node(p) {
                    let kept = TarWriter.Owner(uid: store.mapping.innerUser(ofDisk: st.st_uid).map(Int.init) ?? 0,
                                               gid: store.mapping.innerGroup(ofDisk: st.st_gid).map(Int.init) ?? 0)
                    try tree.addDirectory(p, mode: Int(st.st_mode & 0o7777), owner: kept)
                } else {
                    try tree.addDirectory(p, mode: 0o755, owner: owner)
                }
            }
        }
        // Whether the context's ignore rules, or --exclude (on the path from component
        // `excludeFrom` on), leave `source` out.
        func ignored(_ source: [String], _ node: LayerChainView.Node, excludeFrom: Int) -> Bool {
            var isDirectory = false
            if case .directory = node { isDirectory = true }
            if let ignore, ignore.ignores(source.joined(separator: "/"), isDirectory: isDirectory) { return true }
            guard let exclude else { return false }
            return exclude.ignores(source.dropFirst(excludeFrom).joined(separator: "/"), isDirectory: isDirectory)
        }
        // Adds `node` at `parts` or, with `childrenOf`, only a folder's contents there (`source`
        // is the path in the context or stage, for ignore rules), without what is ignored or
        // excluded; an ignored folder may still hold paths a `!` rule takes back: those go,
        // with the folders above them, each with its own mode, as BuildKit's fsutil walker sends
        // the folders above an included path. Folders are walked with an explicit stack (a step
        // may have made a tree of any depth), each folder's children right after it; each
        // entry's folder is the child of the one below it.
        func addTree(_ node: LayerChainView.Node?, childrenOf layers: [ConfinedDirectory]? = nil, at parts: [String], source: [String], excludeFrom: Int) throws {
            // `ignoredMode`: the mode of an ignored folder walked for a `!` rule, written only
            // once something inside is taken back.
            var stack: [(here: LayerChainView, names: [String], next: Int, parts: [String], source: [String], ignoredMode: Int?)] = []
            func push(_ layers: [ConfinedDirectory], _ parts: [String], _ source: [String], ignoredMode: Int? = nil) throws {
                guard stack.count < DockerfileLayerStore.maxTreeDepth else {
                    throw RuntimeError.dockerfile(file, ins.line, "\(name) \(PathSyntax.shortened(source.joined(separator: "/"))): the tree is more than \(DockerfileLayerStore.maxTreeDepth) folders deep, more than a layer may hold")
                }
                stack.append((LayerChainView(folders: layers), try LayerChainView.entries(of: layers), 0, parts, source, ignoredMode))
            }
            func add(_ node: LayerChainView.Node, _ parts: [String], _ source: [String]) throws {
                for i in stack.indices {
                    guard let folderMode = stack[i].ignoredMode else { continue }
                    stack[i].ignoredMode = nil
                    try parents(of: stack[i].parts)
                    if written.insert(stack[i].parts.joined(separator: "/")).inserted {
                        try tree.addDirectory(stack[i].parts.joined(separator: "/"), mode: mode ?? folderMode, owner: owner)
                    }
                }
                try parents(of: parts)
                let path = parts.joined(separator: "/")
                guard written.insert(path).inserted else { return }
                switch node {
                case .file(let dir, let n, let st):
                    try tree.addFile(path, from: dir, name: n, status: st, mode: mode ?? Int(st.st_mode & 0o7777), owner: owner, adopt: fromContext)
                case .symlink(let target, _):
                    try tree.addSymlink(path, target: target, owner: owner)
                case .directory(let layers, let st):
                    try tree.addDirectory(path, mode: mode ?? Int(st.st_mode & 0o7777), owner: owner)
                    try push(layers, parts, source)
                }
            }
            if let node { try add(node, parts, source) } else if let layers { try push(layers, parts, source) }
            while let top = stack.last {
                guard top.next < top.names.count else { stack.removeLast(); continue }
                stack[stack.count - 1].next += 1
                let child = top.names[top.next]
                guard let n = try top.here.node(child) else { continue }
                guard ignored(top.source + [child], n, excludeFrom: excludeFrom) else {
                    try add(n, top.parts + [child], top.source + [child])
                    continue
                }
                if case .directory(let inner, let st) = n, ignore?.hasExceptions == true || exclude?.hasExceptions == true {
                    try push(inner, top.parts + [child], top.source + [child], ignoredMode: Int(st.st_mode & 0o7777))
                }
            }
        }
        /// A file or symlink goes to the destination, or into it when it is a folder.
        /// With --parents, its path (from the `/./` pivot on, if any) goes along.
        func copyOne(_ node: LayerChainView.Node, _ relative: [String], kept: [String]) throws {
            var intoFolder = destIsDirectory
            if !intoFolder, case .directory? = try stageView.node(destParts.joined(separator: "/")) { intoFolder = true }
            // A file or symlink source has a name: only a folder (the root included) has none.
            guard let last = relative.last else { throw RuntimeError.dockerfile(file, ins.line, "\(name): the source is not a file") }
            try addTree(node, at: intoFolder ? destParts + (keepParents ? kept : [last]) : destParts, source: relative,
                        excludeFrom: relative.count - 1)
        }
        var matched = 0
        // The last source wins where two give the same path, as in Docker: sources are written
        // last first, and a path written once is not written again.
        for src in sources.reversed() {
            if let doc = heredocs[String(src.drop { $0 == "<" || $0 == "-" }).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))], src.hasPrefix("<<") {
                let content = doc.content
                let target = destIsDirectory ? destParts + [doc.name] : destParts
                try parents(of: target)
                if written.insert(target.joined(separator: "/")).inserted {
                    try tree.addFile(target.joined(separator: "/"), contents: Array(content.utf8), mode: mode ?? 0o644, owner: owner)
                }
                matched += 1
                continue
            }
            if let path = downloads[src] {
                let name = PathSyntax.components(URL(string: src)?.path ?? "").last ?? ""
                let target = destIsDirectory ? destParts + [name] : destParts
                guard !destIsDirectory || PathSyntax.isNormalComponent(name) else {
                    throw RuntimeError.dockerfile(file, ins.line, "ADD \(src): the URL names no file; give a destination file name")
                }
                var intoFolder = false
                if !destIsDirectory, case .directory? = try stageView.node(destParts.joined(separator: "/")) { intoFolder = PathSyntax.isNormalComponent(name) }
                let at = intoFolder ? destParts + [name] : target
                try parents(of: at)
                if written.insert(at.joined(separator: "/")).inserted {
                    let folder = try ConfinedDirectory(path: (path as NSString).deletingLastPathComponent)
                    let fileName = (path as NSString).lastPathComponent
                    guard let st = try folder.status(fileName) else { throw RuntimeError.io("the download of \(src) is gone") }
                    try tree.addFile(at.joined(separator: "/"), from: folder, name: fileName, status: st, mode: mode ?? 0o600, owner: owner, adopt: false)
                }
                matched += 1
                continue
            }
            let srcParts = PathSyntax.components(src)
            guard srcParts.allSatisfy({ PathSyntax.isNormalComponent($0) }) else {
                throw RuntimeError.dockerfile(file, ins.line, "\(name) source \(src) leaves the build context")
            }
            // --parents keeps the source's path below the context (or below a `/./` in it).
            let pivot = src.range(of: "/./").map { PathSyntax.components(String(src[..<$0.lowerBound])).count } ?? 0
            for (relative, found) in try glob(srcParts, in: view, ignore: ignore) {
                // --exclude matches a source by its name; the context's root (`.`) has none.
                if let exclude, let last = relative.last, exclude.ignores(last, isDirectory: { if case .directory = found { return true } else { return false } }()) { continue }
                // A source that is itself a symlink is copied as what it points to (inside the
                // context or stage), as Docker does; symlinks inside a copied folder stay links.
                // A link to nothing, or one that loops, stays a link.
                let node = (try? view.resolve(relative.joined(separator: "/")))?.node ?? found
                let kept = Array(relative.dropFirst(pivot))
                matched += 1
                switch node {
                case .directory(let layers, _):
                    // A folder's contents go into the destination (with --parents, into its path there).
                    let into = destParts + (keepParents ? kept : [])
                    if keepParents { try folders(into) }
                    try addTree(nil, childrenOf: layers, at: into, source: relative, excludeFrom: relative.count)
                case .file(let dir, let n, _) where ins.keyword == .add && ins.flag("from") == nil:
                    // ADD of a local tar archive (plain, gzip, bzip2 or xz): unpacked into the
                    // destination folder, never written outside it. Another file is copied.
                    if try Self.isArchive(dir, n) {
                        try folders(destParts)
                        tree.drop()  // what an archive holds is unpacked from the layer's tar
                        try addArchive(dir, n, at: destParts, written: &written, into: tree.tar, source: src, maxBytes: stepSources.request.maxAddBytes)
                        continue
                    }
                    try copyOne(node, relative, kept: kept)
                default:
                    try copyOne(node, relative, kept: kept)
                }
            }
        }
        guard matched > 0 else { throw RuntimeError.dockerfile(file, ins.line, "\(name) sources \(sources.joined(separator: " ")) match nothing in the build context") }
        try tree.tar.finish()
        let (digest, size) = try w.commit()
        return (digest, size, tree.folder, tree.ledger)
        }
        } catch let e as RuntimeError where e.kind == .buildFailed && !e.message.hasPrefix(file + ":") {
            throw RuntimeError.dockerfile(file, ins.line, e.message)  // over a cap: the line says where
        }
        let (digest, size, folder, ledger) = written
        log(phase, .system, "\(ins.keyword.rawValue.uppercased()) \(ins.shellText.isEmpty ? args.joined(separator: " ") : ins.shellText)")
        try await store.addLayer(digest, size: size, what: "its files", into: &stage,
                                 written: folder.map { .init(path: $0, ledger: ledger, innerIDs: store.runner.innerIDFolders) }, log: log)
    }

    /// Whether a context file is a tar archive, plain or compressed.
    static func isArchive(_ dir: ConfinedDirectory, _ name: String) throws -> Bool {
        let fd = try dir.openFile(name, flags: O_RDONLY | O_NONBLOCK)
        defer { close(fd) }
        return ArchiveExtractor.isTarArchive(at: "/proc/self/fd/\(fd)")
    }

    /// Unpacks a context archive as Docker does (`.addedArchive`: names and `..` kept below the
    /// destination, symlinks kept as written, since they resolve in the container, and never
    /// followed while unpacking) and adds its files under `dest`, with their owners from the archive when Slipway runs as
    /// root (else root's). `--chown` does not apply to them, as buildah and Docker's classic
    /// builder do it.
    func addArchive(_ dir: ConfinedDirectory, _ name: String, at dest: [String], written: inout Set<String>, into tar: TarWriter,
                    source: String, maxBytes: Int64) throws {
        let scratch = try ScratchFolder(in: store.layersRoot)
        let temp = scratch.path
        defer { try? ConfinedDirectory.removeTree(atPath: temp); withExtendedLifetime(scratch) {} }  // scratch: what is left is swept with the other .tmp folders
        let fd = try dir.openFile(name, flags: O_RDONLY)
        defer { close(fd) }
        let identity = IDMapping(users: [.init(inner: 0, outer: 0, count: IDMapping.size)], groups: [.init(inner: 0, outer: 0, count: IDMapping.size)],
                                 viaNewuidmap: false)
        _ = try ArchiveExtractor(policy: .addedArchive, limits: .init(maxTotalBytes: maxBytes), owners: getuid() == 0 ? identity : nil).extract(archiveAt: "/proc/self/fd/\(fd)", into: temp, name: source)
        let root = try ConfinedDirectory(path: temp)
        let prefix = dest.joined(separator: "/")
        for entry in try root.entries() where written.insert(prefix + "/" + entry).inserted {
            let sub = try ConfinedDirectory(path: temp)
            if try sub.isDirectory(entry) {
                guard let st = try sub.status(entry) else { continue }
                try tar.addDirectory(prefix + "/" + entry, mode: Int(st.st_mode & 0o7777),
                                     owner: getuid() == 0 ? .init(uid: Int(st.st_uid), gid: Int(st.st_gid)) : .root)
                try tar.addTree(try sub.openDirectory(entry), prefix: prefix + "/" + entry + "/", owner: getuid() == 0 ? nil : .root)
            } else {
                try tar.addTree(sub, prefix: prefix + "/", owner: getuid() == 0 ? nil : .root) { rel, _ in rel == entry }
            }
        }
    }
    /// The paths (with their nodes) a source pattern matches: each component may hold `*`, `?`
    /// and `[…]`; ignored paths of the context never match (a folder below which a `!` rule
    /// takes paths back does).
    func glob(_ parts: [String], in view: LayerChainView, ignore: IgnoreRules?) throws -> [([String], LayerChainView.Node)] {
        guard let root = try view.node("") else { return [] }  // a stage with no files
        var found: [([String], LayerChainView.Node)] = [([], root)]
        for part in parts {
            var next: [([String], LayerChainView.Node)] = []
            for (path, node) in found {
                guard case .directory(let layers, _) = node else { continue }
                let names = part.contains(where: { "*?[".contains($0) }) ? try LayerChainView.entries(of: layers).filter { fnmatch(part, $0, 0) == 0 } : [part]
                for n in names {
                    let p = path + [n]
                    guard let child = try view.node(p.joined(separator: "/")) else { continue }
                    if let ignore {
                        let isDir: Bool
                        if case .directory = child { isDir = true } else { isDir = false }
                        if ignore.ignores(p.joined(separator: "/"), isDirectory: isDir) && !(isDir && ignore.hasExceptions) { continue }
                    }
                    next.append((p, child))
                }
            }
            found = next
        }
        return found
    }
}
