import Foundation

/// A RUN step of a stage: its mounts prepared (`RunMounts`), its cache key taken (the
/// environment, what the mounts show, the network), and, on a miss, the command run in the
/// sandbox over the stage's layers, its writes made a layer and recorded under the key.
struct DockerfileRunStep: Sendable {
    let store: DockerfileLayerStore
    let sources: StepSources

    /// The most `--mount` flags a RUN takes (the helper places at most 24 mounts, the step's
    /// resolv.conf among them).
    static let maxMounts = 16

    func run(_ ins: DockerfileInstruction, in stage: inout BuildingStage, file: String, log: @escaping BuildLogger, label: String) async throws {
        let phase = BuildPhase.build
        for f in ins.flags where f.name != "mount" {
            throw RuntimeError.dockerfile(file, ins.line, "RUN --\(f.name) is not supported by Slipway yet")
        }
        var prepared: [PreparedMount] = []
        defer {
            // Copies of the context for bind mounts: removed here, or swept with the other .tmp
            // folders by the next garbage collection.
            for folder in prepared.compactMap(\.scratch) { try? ConfinedDirectory.removeTree(atPath: folder.path) }
        }
        let specs = ins.flagValues("mount")
        guard specs.count <= Self.maxMounts else {
            throw RuntimeError.dockerfile(file, ins.line, "RUN has \(specs.count) --mount flags; a step takes at most \(Self.maxMounts)")
        }
        // What this step's copies of the context (for bind mounts) may hold together: what its
        // layer may.
        let copies = ByteBudget(limit: DockerfileLayerStore.layerLimit(sources.request).bytes)
        for spec in specs {
            do {
                prepared.append(try await prepareMount(spec, copies: copies, file: file, line: ins.line))
            } catch let e as RuntimeError where e.kind == .buildFailed && !e.message.hasPrefix(file + ":") {
                throw RuntimeError.dockerfile(file, ins.line, e.message)  // over a cap: the line says where
            }
        }
        // With the public network, the step's /etc/resolv.conf names slirp4netns's DNS server.
        let publicNetwork = sources.request.publicNetwork
        if publicNetwork {
            _ = try StepNetwork.resolvConfFile(in: store.layersRoot + "/" + DockerfileLayerStore.networkFolder)
            prepared.append(PreparedMount(mount: .init(.folder(store.layersRoot + "/" + DockerfileLayerStore.networkFolder, path: "resolv.conf"), at: "/etc/resolv.conf", writable: false),
                                          sourceIsFile: true, key: ""))
        }
        let mountKeys = prepared.map(\.key).filter { !$0.isEmpty }
        // A bind mount is an input of the step: what it shows is in the key; and so is the
        // network (a step with none may make something else than one with public).
        let env = stage.runEnvironment
        stage.key = StepCacheKey.run(stage.key, environment: env, mounts: mountKeys, publicNetwork: sources.request.publicNetwork)
        log(phase, .system, "\(label) RUN \(ins.shellText.isEmpty ? "\(ins.arguments)" : ins.shellText)")
        if let cached = store.cachedLayer(stage.key) {
            log(phase, .system, "  CACHED (layer \(cached.diffID.short))")
            stage.layers.append(cached)
            stage.reused += 1
            return
        }
        log(phase, .system, "  not cached: no layer for this step after the steps before it (key \(stage.key.short))")
        var command: [String]
        switch ins.arguments {
        case .exec(let argv): command = argv
        case .shell(let s):
            if let doc = ins.heredocs.first, ins.heredocs.count == 1, s.trimmingCharacters(in: .whitespaces).hasPrefix("<<") {
                command = stage.shell + [doc.content]
            } else {
                command = stage.shell + [([s] + ins.heredocs.map { $0.content + $0.name }).joined(separator: "\n")]
            }
        }
        let view = try store.view(stage.lowers)
        let user = try stage.config.config.User.map { try view.user($0) } ?? (0, 0)
        // The working directory as the container resolves it, symlinks followed inside the
        // stage; made (in the step's own folders) where it is missing.
        let workdir: String, missing: Bool
        do {
            let r = try view.resolve(stage.config.config.WorkingDir ?? "/")
            switch r.node {
            case nil, .directory?: break
            default: throw RuntimeError.dockerfile(file, ins.line, "the working directory \(stage.config.config.WorkingDir ?? "/") is not a folder in the stage")
            }
            workdir = r.absolute
            missing = r.node == nil
        } catch let e as LayerChainView.ResolutionError {
            throw RuntimeError.dockerfile(file, ins.line, "the working directory \(e.path) \(e.why)")
        }
        // Targets resolved inside the stage; a mount inside another's target goes after it.
        let placed = try prepared.map { try placeMount($0, in: view, file: file, line: ins.line) }
            .enumerated().sorted { ($0.element.1.components.count, $0.offset) < ($1.element.1.components.count, $1.offset) }.map(\.element)
        let mounts = placed.map(\.0)
        let code: Int32, step: OverlayStepRunner.StepFolders
        // What the step may write to disk while it runs: what its layer may hold.
        let diskLimit = DockerfileLayerStore.layerLimit(sources.request)
        do {
            (code, step) = try await store.runner.run(lowers: stage.lowers, user: user, environment: env, workingDirectory: workdir,
                                                makeWorkingDirectory: missing, mounts: mounts, publicNetwork: publicNetwork,
                                                diskLimit: diskLimit, command: command) { stream, line in
                log(phase, stream == .stdout ? .stdout : .stderr, line)
            }
        } catch let e as RuntimeError where e.kind == .buildFailed {
            throw RuntimeError.dockerfile(file, ins.line, e.message)
        }
        guard code == 0 else {
            try await store.runner.remove(step)
            throw RuntimeError.dockerfile(file, ins.line, "RUN exited with status \(code)")
        }
        // The folders (and a file's empty file) made only to mount on, missing from the stage,
        // leave with the mounts, as BuildKit removes its mount stubs, when nothing else was
        // written in them.
        let stubs = placed.map { (target: $0.1.components, first: $0.1.existing + 1) }
        try await BlockingWork.run {
            let upper = try ConfinedDirectory(path: step.upper)
            for (target, first) in stubs.reversed() where first <= target.count {
                for end in stride(from: target.count, through: first, by: -1) {
                    let parent: ConfinedDirectory
                    do { parent = end == 1 ? upper : try upper.openDirectory(target[0..<(end - 1)].joined(separator: "/")) } catch { break }
                    let name = target[end - 1]
                    if end == target.count, let st = try parent.status(name), (st.st_mode & S_IFMT) == S_IFREG {
                        guard st.st_size == 0, unlinkat(parent.fd, name, 0) == 0 else { break }
                        continue
                    }
                    guard unlinkat(parent.fd, name, AT_REMOVEDIR) == 0 else { break }  // not empty: the step wrote there
                }
            }
        }
        let request = sources.request
        // The step's layer folder, leased until its record names it (a collection would take a
        // layer folder no record names).
        let upperLease = try FolderLease(step.upper)
        defer { withExtendedLifetime(upperLease) {} }
        let layer: StageLayer
        do {
            layer = try await BlockingWork.run { [store] () throws -> StageLayer in
                let w = try store.layerWriter(request)
                let tar = TarWriter(out: w)
                try OverlayDiff.write(upper: try ConfinedDirectory(path: step.upper), mapping: store.mapping, into: tar)
                try tar.finish()
                let (digest, size) = try w.commit()
                let folder = store.layersRoot + "/" + digest.hex
                if access(folder, F_OK) != 0 && rename(step.upper, folder) != 0 {
                    throw RuntimeError.io("cannot keep the step's layer folder: \(String(cString: strerror(errno)))")
                }
                return StageLayer(descriptor: OCIDescriptor(mediaType: MediaType.layer, digest: digest, size: size), diffID: digest, store: store.images.content,
                             folder: digest.hex)
            }
        } catch {
            // Over a cap, or unreadable: nothing of the step stays.
            try? await store.runner.remove(step)  // a leftover step folder is swept by the next collection
            if let e = error as? RuntimeError, e.kind == .buildFailed { throw RuntimeError.dockerfile(file, ins.line, e.message) }
            if let e = error as? TreeLimitExceeded { throw RuntimeError.dockerfile(file, ins.line, e.description) }
            throw error
        }
        try await store.runner.remove(step)
        try store.record(stage.key, layer)
        stage.layers.append(layer)
        stage.added += 1
        log(phase, .system, "  layer \(layer.diffID.short) (\(layer.descriptor.size) bytes)")
    }
}
