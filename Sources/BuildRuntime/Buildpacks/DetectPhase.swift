import Foundation

/// DETECT (lifecycle's `phase/detector.go`): runs the detect step of each buildpack of a group,
/// group after group in the order, until one passes and its build plans resolve; a group whose
/// required buildpack fails or errs is skipped. No group passing fails the build.
struct DetectPhase {
    let runner: StepRunner
    /// The groups to try, in order: the builder's, or project.toml's group in their place.
    let order: [[BuildpackRef]]
    let log: BuildLogger

    func run() async throws -> DetectedGroup {
        log(BuildPhase.detect, .system, "===> DETECT")
        // Every group's buildpacks in one sandbox (each mounted once), as lifecycle's detector.
        var all: [BuildpackRef] = []
        for bp in order.joined() where !all.contains(where: { $0.directory == bp.directory }) { all.append(bp) }
        let sandbox = try await runner.startPhase(.detect, buildpacks: all, appWritable: false)
        do {
            let group = try await detect(in: sandbox)
            await sandbox.finish()
            return group
        } catch {
            await sandbox.finish()
            throw error
        }
    }

    /// The first group that passes, its steps run in `sandbox`.
    private func detect(in sandbox: PhaseSandbox) async throws -> DetectedGroup {
        var report: [String] = []
        for group in order {
            var detected: [DetectedBuildpack] = []
            var failed = false
            for bp in group {
                let (ioPath, io) = try runner.workspace.freshIO(bp.descriptor.escapedID + ".detect")
                let planPath = ioPath + "/plan.toml"
                let env = runner.environment(for: bp, extra: ["CNB_BUILD_PLAN_PATH": planPath])
                let (code, _) = try await sandbox.run(bp.descriptor, command: [runner.buildpackPath(bp.descriptor) + "/bin/detect", "/platform", planPath], env: env)
                let name = "\(bp.descriptor.id)@\(bp.descriptor.version)"
                switch code {
                case 0:
                    var options = [PlanOption()]
                    let text: String? = try confined(bp.descriptor) {
                        do { return try io.readText("plan.toml", maxBytes: StepRunner.maxMetadataBytes) } catch let e as ConfinedPathError where e.kind == .missing { return nil }
                    }
                    if let text {
                        do {
                            options = PlanOption.options(fromPlan: try TOMLParser.parse(text))
                        } catch {
                            report.append("err:  \(name) (its build plan is not valid TOML: \(error))")
                            failed = !bp.optional
                            continue
                        }
                    }
                    detected.append(DetectedBuildpack(id: bp.descriptor.id, optional: bp.optional, options: options))
                    report.append("pass: \(name)")
                case 100:
                    report.append(bp.optional ? "skip: \(name)" : "fail: \(name)")
                    failed = failed || !bp.optional
                default:
                    report.append("err:  \(name) (\(code))")
                    failed = failed || !bp.optional
                }
                if failed { break }
            }
            if failed { continue }
            if let resolved = BuildPlanResolver.resolve(detected) {
                let chosen = resolved.buildpackIDs.compactMap { id in group.first { $0.descriptor.id == id } }
                let total = order.reduce(0) { $0 + $1.count }
                log(BuildPhase.detect, .system, "\(chosen.count) of \(total) buildpacks participating")
                for bp in chosen { log(BuildPhase.detect, .system, "\(bp.descriptor.id) \(bp.descriptor.version)") }
                return DetectedGroup(buildpacks: chosen, plans: resolved.plans)
            }
            report.append("group \(order.firstIndex(of: group).map { $0 + 1 } ?? 0): no combination of build plans fits")
        }
        for line in report { log(BuildPhase.detect, .system, line) }
        throw RuntimeError.buildFailed("No buildpack groups passed detection (\(report.joined(separator: "; "))). Check that the source has what the builder's buildpacks look for.")
    }
}

/// What detect gives build: the buildpacks that take part, in order, and the plan entries each
/// is to provide (by buildpack id).
struct DetectedGroup {
    var buildpacks: [BuildpackRef]
    var plans: [String: [PlanOption.Requirement]]
}
