import Foundation

/// BUILD (lifecycle's `phase/builder.go`): runs the build step of each detected buildpack in
/// order, each with its plan entries and the env of the build layers before it, and reads back
/// the layers, processes, labels and slices it left.
struct BuildpackBuildPhase {
    let runner: StepRunner
    let detected: DetectedGroup
    /// Launch layers of the previous image, which a buildpack may keep without rebuilding them.
    let previous: PreviousLayers
    let log: BuildLogger

    func run() async throws -> BuiltLayers {
        log(BuildPhase.build, .system, "===> BUILD")
        var built = BuiltLayers()
        // Build layers of earlier buildpacks, in order: (the layer folder, its sandbox path).
        var buildLayers: [(ConfinedDirectory, String)] = []
        // Every buildpack's build step in one sandbox, as lifecycle's builder.
        let sandbox = try await runner.startPhase(.build, buildpacks: detected.buildpacks, appWritable: true)
        do {
            try await build(in: sandbox, into: &built, buildLayers: &buildLayers)
            await sandbox.finish()
        } catch {
            await sandbox.finish()
            throw error
        }
        return built
    }

    /// Runs each buildpack's build step in `sandbox`, reading back what it left.
    private func build(in sandbox: PhaseSandbox, into built: inout BuiltLayers, buildLayers: inout [(ConfinedDirectory, String)]) async throws {
        for bp in detected.buildpacks {
            let d = bp.descriptor
            let bpLayers = try confined(d) { try runner.workspace.layers.makeDirectories(d.escapedID) }
            // The buildpack plan: the entries this buildpack is to provide, in a fresh folder.
            var plan = TOMLTable()
            plan["entries"] = .array((detected.plans[d.id] ?? []).map { r in
                .table(TOMLTable([("name", .string(r.name)), ("metadata", .table(r.metadata))]))
            })
            let (ioPath, io) = try runner.workspace.freshIO(d.escapedID + ".build")
            try io.createFile("plan.toml", contents: Array(TOMLWriter.write(plan).utf8))
            let planPath = ioPath + "/plan.toml"

            var layered = LayerEnvironment(runner.environment(for: bp, extra: [
                "CNB_LAYERS_DIR": "/layers/" + d.escapedID, "CNB_BP_PLAN_PATH": planPath,
            ]))
            for (layer, sandboxPath) in buildLayers {
                try layered.applyEnvDirectory(layer, "env")
                try layered.applyEnvDirectory(layer, "env.build")
                try layered.applySearchPaths(layer, sandboxLayer: sandboxPath)
            }
            let env = layered.variables
            let (code, tail) = try await sandbox.run(d, command: [runner.buildpackPath(d) + "/bin/build", "/layers/" + d.escapedID, "/platform", planPath], env: env)
            guard code == 0 else {
                throw RuntimeError.buildFailed(
                    "buildpack \(d.id)@\(d.version) failed in the build phase (exit status \(code))" + (tail.isEmpty ? "" : "; its last output: " + tail.joined(separator: " | ")))
            }
            try confined(d) { try built.collect(of: d, in: bpLayers, buildLayers: &buildLayers, previous: previous) }
        }
    }
}

/// The outcome of the build phase that export needs.
struct BuiltLayers {
    /// Per buildpack id, the layer names to export (launch = true), sorted.
    var launchLayers: [String: [String]] = [:]
    /// Per buildpack id, layer metadata tables by layer name.
    var layerMetadata: [String: [String: TOMLTable]] = [:]
    /// "id:layer" keys of layers to keep in the cache.
    var cachedLayers: Set<String> = []
    var processes: [LaunchProcess] = []
    var labels: [String: String] = [:]
    /// "id:layer" → the previous image's layer, for launch layers kept without being rebuilt.
    var reusedLayers: [String: OCIDescriptor] = [:]
    /// App-layer slices the buildpacks declared, in their order.
    var slices = AppSlices()
    /// The SBOM documents the buildpacks wrote, checked (`SBOMCollector`), in buildpack order.
    var sboms: [SBOMDocument] = []
    /// What the build's SBOM documents may still take (`SBOMDocument.maxTotalBytes` in all).
    var sbomBytesLeft = SBOMDocument.maxTotalBytes

    /// Reads what one buildpack left in its layers folder. Anything that is not a real file or
    /// folder where one belongs fails the build (see `confined`).
    mutating func collect(of d: BuildpackDescriptor, in bpLayers: ConfinedDirectory, buildLayers: inout [(ConfinedDirectory, String)],
                          previous: PreviousLayers) throws
    {
        var launch: [String] = []
        var metadata: [String: TOMLTable] = [:]
        var layerTypes: [String: (launch: Bool, build: Bool)] = [:]
        let names = try bpLayers.entries()
        for name in names where name.hasSuffix(".toml") && !["launch.toml", "build.toml", "store.toml"].contains(name) {
            let layer = String(name.dropLast(5))
            guard PathSyntax.isNormalComponent(layer) else { continue }
            let text = try bpLayers.readText(name, maxBytes: StepRunner.maxMetadataBytes)
            let toml: TOMLTable
            do { toml = try TOMLParser.parse(text) } catch {
                throw RuntimeError.buildFailed("buildpack \(d.id) wrote an invalid \(name): \(error)")
            }
            let types = toml["types"]?.table ?? toml
            let isLaunch = types["launch"]?.bool ?? false
            let isBuild = types["build"]?.bool ?? false
            let isCache = types["cache"]?.bool ?? false
            metadata[layer] = toml["metadata"]?.table ?? TOMLTable()
            layerTypes[layer] = (isLaunch, isBuild)
            guard let st = try bpLayers.status(layer) else {
                // Kept from the previous image: a launch layer whose .toml stayed and whose folder
                // the buildpack did not recreate.
                if isLaunch, let old = previous.layers[d.id]?[layer] {
                    launch.append(layer)
                    reusedLayers[d.id + ":" + layer] = old.descriptor
                }
                continue
            }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ConfinedPathError(.wrongType(ConfinedDirectory.describe(st.st_mode) + ", not a layer folder"), bpLayers.display(layer))
            }
            let layerDir = try bpLayers.openDirectory(layer)
            try LayerEnvironment.checkMetadataFiles(in: layerDir)
            if isLaunch { launch.append(layer) }
            if isCache { cachedLayers.insert(d.id + ":" + layer) }
            if isBuild { buildLayers.append((layerDir, "/layers/\(d.escapedID)/\(layer)")) }
        }
        sboms += try SBOMCollector(buildpack: d, folder: bpLayers).collect(names: names, layerTypes: layerTypes, budget: &sbomBytesLeft)
        // Layer folders without a .toml are not layers (spec: ignored).
        for name in names where !name.hasSuffix(".toml") && metadata[name] == nil {
            try bpLayers.remove(name)
        }
        launchLayers[d.id] = launch
        layerMetadata[d.id] = metadata
        let launchText: String?
        do { launchText = try bpLayers.readText("launch.toml", maxBytes: StepRunner.maxMetadataBytes) } catch let e as ConfinedPathError where e.kind == .missing { launchText = nil }
        if let launchText {
            let launchTOML: TOMLTable
            do { launchTOML = try TOMLParser.parse(launchText) } catch {
                throw RuntimeError.buildFailed("buildpack \(d.id) wrote an invalid launch.toml: \(error)")
            }
            for p in LaunchProcess.parse(launchTOML, buildpackID: d.id, api: d.api) {
                processes.removeAll { $0.type == p.type }
                if p.isDefault { for i in processes.indices { processes[i].isDefault = false } }
                processes.append(p)
            }
            for l in launchTOML["labels"]?.tables ?? [] {
                if let k = l["key"]?.string, let v = l["value"]?.string { labels[k] = v }
            }
            try slices.add(from: launchTOML, buildpack: d)
        }
    }
}
