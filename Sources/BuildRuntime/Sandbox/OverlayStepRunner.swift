import Foundation

/// Runs one Dockerfile RUN step: its command, as the stage's user, in a user namespace of
/// 65,536 ids (`UserNamespaceRunner`), over an overlay whose lower folders are the stage's
/// layers (the base image's root filesystem, then each step's layer folder) and whose upper
/// folder collects what the step changes: the new layer (`OverlayDiff` turns it into a tar).
///
/// Layer folders live under one `layersRoot` and are named relative to it in the mount
/// options, so a long chain fits the kernel's one-page limit and a state path with `:` or `,`
/// still works. A scaffold folder at the bottom holds the sandbox's mount points (`/proc`,
/// `/dev`), so they never appear in a layer.
public struct OverlayStepRunner: Sendable {
    /// How a step's root is made: an overlay of the layers, or (where overlayfs cannot be
    /// mounted) a copy of them compared afterwards (`CopySnapshot`), which keeps owners only as root.
    public enum Snapshots: Sendable { case overlay, copy }

    public let sandbox: SandboxRunner
    public let namespace: UserNamespaceRunner
    public let layersRoot: String
    public let snapshots: Snapshots
    /// What holds the build's steps to its limits; nil for none.
    public let limits: StepEnforcement?
    /// Whether layer folders Slipway writes itself (a COPY's) are kept with the namespace's own
    /// ids, as inner-id folders (named `…` + `innerIDSuffix`) that steps see through an
    /// id-mapped mount: then such a layer hard-links the source snapshot's files, which root
    /// owns, instead of copying them to give them the namespace's host ids. Only as root (only
    /// root may make an id-mapped mount), with overlays, where the kernel takes such a lower.
    public let innerIDFolders: Bool

    public init(sandbox: SandboxRunner, namespace: UserNamespaceRunner, layersRoot: String, snapshots: Snapshots = .overlay, limits: StepEnforcement? = nil,
                innerIDFolders: Bool = false) {
        self.sandbox = sandbox
        self.namespace = namespace
        self.layersRoot = layersRoot
        self.snapshots = snapshots
        self.limits = limits
        self.innerIDFolders = innerIDFolders && snapshots == .overlay && getuid() == 0
    }

    /// How an inner-id layer folder's name ends (`<diffID hex>.inner`).
    public static let innerIDSuffix = ".inner"

    /// Whether the layer folder `name` (under `layersRoot`) holds the namespace's own ids.
    static func holdsInnerIDs(_ name: String) -> Bool { !name.hasPrefix("/") && name.hasSuffix(innerIDSuffix) }

    /// Why an inner-id folder cannot be a step's lower here (nil when it can): the helper
    /// tried, once per process, with an id-mapped lower under `scratch`.
    public func innerIDFoldersUnavailableReason(scratch: String) async -> String? {
        guard getuid() == 0 else { return "only root may make an id-mapped mount" }
        return await namespace.overlayUnavailableReason(scratch: scratch, inPlace: false, idmapped: true, makeFolder: makeFolder)
    }

    /// Why overlayfs cannot be mounted in a step's user namespace here (the helper tried, over
    /// empty folders under `scratch`); nil when it can. Asked once per process.
    public func overlayUnavailableReason(scratch: String) async -> String? {
        await namespace.overlayUnavailableReason(scratch: scratch, inPlace: false, makeFolder: makeFolder)
    }

    /// How `slipway-userns` exits, and starts what it says, when it fails itself.
    static let helperFailed: Int32 = 125
    static let helperPrefix = "slipway-userns: "

    static let scaffold = ".scaffold"
    static let steps = ".steps"

    /// A step's folders, under `layersRoot/.steps/<id>`, leased (`FolderLease`) for as long as
    /// the value (or a copy) lives, so that a collection leaves them alone.
    public struct StepFolders: Sendable {
        public let id: String
        public let root: String
        let lease: FolderLease
        public var upper: String { root + "/upper" }
        var relative: String { OverlayStepRunner.steps + "/" + id }
    }

    /// Makes `path` (a folder Slipway made for the namespace) belong to the namespace's root.
    func giveToNamespaceRoot(_ path: String) throws {
        guard getuid() == 0, let uid = IDMapping.outer(0, in: namespace.mapping.users), let gid = IDMapping.outer(0, in: namespace.mapping.groups) else { return }
        guard chown(path, uid, gid) == 0 else { throw RuntimeError.io("cannot give \(path) to the step's namespace: \(String(cString: strerror(errno)))") }
    }

    /// The same for a folder open by descriptor (made inside a tree a step wrote).
    func giveToNamespaceRoot(_ dir: ConfinedDirectory) throws {
        guard getuid() == 0, let uid = IDMapping.outer(0, in: namespace.mapping.users), let gid = IDMapping.outer(0, in: namespace.mapping.groups) else { return }
        guard fchown(dir.fd, uid, gid) == 0 else { throw RuntimeError.io("cannot give \(dir.displayPath) to the step's namespace: \(String(cString: strerror(errno)))") }
    }

    func makeFolder(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw RuntimeError.io("cannot create \(path): \(String(cString: strerror(errno)))") }
        try giveToNamespaceRoot(path)
    }

    /// What a step sees at `target` besides its root (a `RUN --mount`, the network's
    /// resolv.conf). `target` is an absolute path without symlinks, resolved inside the stage
    /// (`LayerChainView.resolve`); `slipway-userns` places the mount there through descriptors.
    public struct StepMount: Sendable {
        public enum Source: Sendable {
            /// `path` in a host folder, shared: a `type=cache` folder that outlives builds, or the
            /// step's resolv.conf.
            case folder(String, path: String = "")
            /// `path` inside a stack of folders (names under `layersRoot` or absolute paths,
            /// topmost first): another stage's layers or the context, for `type=bind`. The
            /// step's writes land in a folder of its own, and are dropped with it.
            case layers([String], path: String)
            /// An empty tmpfs of at most `bytes` (`type=tmpfs`).
            case tmpfs(bytes: Int64)
        }
        public var source: Source
        public var target: String
        public var writable: Bool
        public init(_ source: Source, at target: String, writable: Bool) {
            self.source = source
            self.target = target
            self.writable = writable
        }
    }

    /// Runs `command` over `lowers` (names of folders under `layersRoot`, topmost first);
    /// returns its exit code and the step's folders, whose `upper` is the new layer. With
    /// `makeWorkingDirectory`, the working directory (missing from the lowers) is made first, in
    /// the upper folder, as Docker makes a WORKDIR that does not exist. With `publicNetwork`,
    /// the step gets outbound access (`StepNetwork`). With `diskLimit`, the step is killed once
    /// what it writes to disk passes it (`StepDiskWatch`), and the run fails with the limit's
    /// refusal, its folders removed.
    public func run(lowers: [String], user: (uid: Int, gid: Int), environment: [String: String], workingDirectory: String,
                    makeWorkingDirectory: Bool = false, mounts stepMounts: [StepMount] = [], publicNetwork: Bool = false,
                    diskLimit: WriteLimit? = nil, command: [String],
                    onLine: @escaping @Sendable (OutputStream, String) -> Void) async throws -> (Int32, StepFolders) {
        try makeFolder(layersRoot)
        let scaffold = layersRoot + "/" + Self.scaffold
        try makeFolder(scaffold)
        for name in ["proc", "dev"] { try makeFolder(scaffold + "/" + name) }
        try makeFolder(layersRoot + "/" + Self.steps)
        let id = UUID().uuidString.lowercased()
        let root = layersRoot + "/" + Self.steps + "/" + id
        try makeFolder(root)
        let step = StepFolders(id: id, root: root, lease: try FolderLease(root))
        for name in ["upper", "work", "merged"] { try makeFolder(step.root + "/" + name) }
        // Without overlayfs: the layers copied into the step's own root, compared afterwards.
        var snapshot: CopySnapshot?
        let copiedRoot = step.root + "/rootfs"
        if snapshots == .copy {
            snapshot = try await copy(lowers + [Self.scaffold], into: copiedRoot)
        }
        if makeWorkingDirectory {
            // The path was resolved inside the stage (no symlink on it), and is made without
            // following one: a copied root holds the stage's own links.
            var dir = try ConfinedDirectory(path: snapshot == nil ? step.upper : copiedRoot)
            for part in PathSyntax.components(workingDirectory) where PathSyntax.isNormalComponent(part) {
                let made = mkdirat(dir.fd, part, 0o755) == 0
                guard made || errno == EEXIST else {
                    throw RuntimeError.io("cannot make the working directory \(workingDirectory): \(String(cString: strerror(errno)))")
                }
                dir = try dir.openDirectory(part)
                if made { try giveToNamespaceRoot(dir) }
            }
        }
        var overlay = UserNamespaceRunner.Overlay(base: layersRoot, lowers: lowers + [Self.scaffold], upper: step.relative + "/upper",
                                                  work: step.relative + "/work", merged: step.relative + "/merged")
        if snapshot != nil { overlay.copiedRoot = step.relative + "/rootfs" }
        var idmapped: [String] = []
        func noteInnerIDs(_ names: [String]) {
            for n in names where Self.holdsInnerIDs(n) && !idmapped.contains(n) { idmapped.append(n) }
        }
        noteInnerIDs(lowers)
        // Every mount is placed by the helper inside the root, through descriptors.
        for m in stepMounts {
            switch m.source {
            case .folder(let host, let path):
                overlay.mounts.append(.init(.folder(host), subPath: path, at: m.target, writable: m.writable))
            case .tmpfs(let bytes):
                overlay.mounts.append(.init(.tmpfs(bytes: bytes), at: m.target, writable: true))
            case .layers(let stack, let path) where snapshots == .copy:
                // A copy of the layers, whose writes are dropped with the step's folders.
                let folder = step.root + "/mount-copy-\(overlay.mounts.count)"
                _ = try await copy(stack, into: folder)
                overlay.mounts.append(.init(.folder(folder), subPath: path, at: m.target, writable: m.writable))
            case .layers(let stack, let path):
                let n = overlay.mounts.count
                let folder = step.root + "/mount-\(n)"
                for name in ["", "/upper", "/work", "/empty"] { try makeFolder(folder + name) }
                let relative = step.relative + "/mount-\(n)"
                overlay.mounts.append(.init(.overlay(upper: relative + "/upper", work: relative + "/work", lowers: stack.isEmpty ? [relative + "/empty"] : stack),
                                            subPath: path, at: m.target, writable: m.writable))
                noteInnerIDs(stack)
            }
        }
        // A copied root (no overlays) never holds inner-id folders: `innerIDFolders` is off.
        if snapshot == nil { overlay.idmapped = idmapped }
        // The public network: bwrap (run by the helper, which passes descriptors on) gets its
        // pipes as descriptors 4 and 5, after the seccomp filter's 3.
        let net = publicNetwork ? try StepNetwork(firstDescriptor: 4, helper: namespace.helper) : nil
        let bwrap = sandbox.stepArguments(user: user, environment: environment, workingDirectory: workingDirectory, network: net, command: command)
        let filter = try SeccompFilter.descriptor()
        defer { close(filter) }
        // What the step writes to disk, measured before it starts and watched while it runs: its
        // folder (its layer or copied root, the upper folders of its bind mounts) and the cache
        // mounts it may write.
        var written: [String] = [step.root]
        for m in stepMounts where m.writable { if case .folder(let host, _) = m.source { written.append(host) } }
        var disk: StepDiskWatch?
        if let diskLimit { disk = try await StepDiskWatch(folders: written, limit: diskLimit) }
        // What the helper said last, should it fail (exit 125) before the step ran; and the last
        // lines on stderr, should the sandbox end before the network is attached (StepNetwork).
        let helperSaid = OutputTail(keep: 1), sandboxSaid = OutputTail(keep: 5)
        let process = try Subprocess(namespace.arguments(overlay: overlay, command: bwrap, limits: limits), environment: ["PATH": "/usr/bin:/bin"],
                                     passing: [filter] + (net?.descriptors ?? [])) { stream, line in
            if stream == .stderr, line.hasPrefix(Self.helperPrefix) { helperSaid.append(String(line.dropFirst(Self.helperPrefix.count))) }
            if stream == .stderr { sandboxSaid.append(line) }
            onLine(stream, line)
        }
        if let net {
            do {
                try await net.attach(to: process, sandboxSaid: sandboxSaid, log: onLine)
            } catch {
                disk?.release()
                try await remove(step)
                throw error
            }
        }
        let watching = disk?.watch(process)
        let code = await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            process.signal(SIGKILL)
        }
        watching?.stop()
        await net?.detach()
        if code == 0 { try await disk?.finalCheck() }
        disk?.release()
        if let disk, let passed = disk.passed {
            try await remove(step)
            throw RuntimeError.buildFailed(disk.refusal(passed))
        }
        if code == Self.helperFailed, let said = helperSaid.lines.last {
            try await remove(step)
            throw RuntimeError.buildFailed("the step's sandbox could not be set up: \(said)")
        }
        if let snapshot, code == 0 {
            if getuid() == 0 {
                try await BlockingWork.run {
                    try snapshot.moveChanges(from: try ConfinedDirectory(path: copiedRoot), into: try ConfinedDirectory(path: step.upper))
                }
            } else {
                let file = step.root + "/snapshot.json"
                try JSONEncoder().encode(snapshot.entries).write(to: URL(fileURLWithPath: file))
                try await runWorker(["diff", file, copiedRoot, step.upper])
            }
        }
        return (code, step)
    }

    /// Copies the merged `stack` (names under `layersRoot`, or absolute paths; topmost first)
    /// into the new folder `folder`: here as root, else by the worker inside the namespace.
    func copy(_ stack: [String], into folder: String) async throws -> CopySnapshot {
        let paths = stack.map { $0.hasPrefix("/") ? $0 : layersRoot + "/" + $0 }
        if getuid() == 0 {
            return try await BlockingWork.run {
                try CopySnapshot.copy(LayerChainView(folders: paths.map { try ConfinedDirectory(path: $0) }), into: try ConfinedDirectory(path: folder, create: true))
            }
        }
        let stackFile = folder + ".stack.json", snapshotFile = folder + ".snapshot.json"
        try JSONEncoder().encode(paths).write(to: URL(fileURLWithPath: stackFile))
        try await runWorker(["copy", stackFile, folder, snapshotFile])
        return CopySnapshot(entries: try JSONDecoder().decode([String: CopySnapshot.Entry].self, from: Data(contentsOf: URL(fileURLWithPath: snapshotFile))))
    }

    /// Runs `CopySnapshot.worker` (`slipway-engine`, beside the helper) as root of the step
    /// namespace, where the ids of the user's range may be given and what they own touched.
    func runWorker(_ arguments: [String]) async throws {
        let engine = URL(fileURLWithPath: namespace.helper).deletingLastPathComponent().appendingPathComponent("slipway-engine").path
        try await namespace.run([engine, CopySnapshot.workerFlag] + arguments, what: "copying the step's layers")
    }

    /// Removes a step's folders. Inside the namespace for a user that is not root: what the
    /// step made belongs to ids of their subordinate range, which only the namespace's root
    /// may remove.
    public func remove(_ step: StepFolders) async throws {
        if getuid() == 0 {
            try ConfinedDirectory.removeTree(atPath: step.root)
            return
        }
        try await namespace.removeTree(step.root)
    }
}
