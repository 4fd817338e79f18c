import Engine
import SlipwayProtocol

// The build family on the wire (builds, build runs), from the engine's models.

extension ReasonKind {
    init(_ k: BuildReasonKind) {
        switch k {
        case .CONFIG: self = .CONFIG
        case .COMMIT: self = .COMMIT
        case .BUILDER: self = .BUILDER
        case .STACK: self = .STACK
        case .TRIGGER: self = .TRIGGER
        }
    }
}

extension BuildpackVersion {
    init(_ b: BuildpackInfo) { self.init(id: b.id, version: b.version, homepage: b.homepage) }
}

extension SourceInfo {
    /// Where a build's source came from, as its inputs recorded it.
    init(_ inputs: BuildInputs) {
        let local = inputs.sourceType == .local
        self.init(type: inputs.sourceType, url: local ? nil : inputs.sourceURL, revision: local ? nil : inputs.sourceRevision, ref: inputs.sourceRef,
                  path: nil, digest: local ? inputs.sourceRevision : nil, subPath: inputs.subPath)
    }
}

extension BuildRow {
    init(_ b: Build) {
        self.init(namespace: b.namespace, imageName: b.image, number: b.number, status: b.status, image: b.latestImage, started: b.started,
                  finished: b.finished, reasons: b.reasonKinds.map(ReasonKind.init), reasonSummary: BuildReasonCalculator.summary(b.reasonKinds))
    }
}

extension BuildStatusResult {
    init(_ b: Build) {
        self.init(
            namespace: b.namespace, imageName: b.image, number: b.number, image: b.latestImage, imageDigest: b.imageDigest, status: b.status,
            phase: b.currentPhase?.rawValue, reasons: b.reasons.map { BuildReasonDetail(reason: ReasonKind($0.reason), field: $0.field, old: $0.old, new: $0.new) },
            reasonSummary: BuildReasonCalculator.summary(b.reasonKinds), builder: b.builderImage, runImage: b.runImage, stackID: b.stackID,
            source: SourceInfo(b.inputs), buildpacks: b.buildpacks.map(BuildpackVersion.init),
            bases: b.inputs.dockerfile?.bases.map { $0.sorted { $0.key < $1.key }.map { BaseImage(name: $0.key, digest: $0.value) } },
            created: b.created, started: b.started, finished: b.finished, message: b.message)
    }
}

extension BuildRunResult {
    init(_ v: BuildRunView) {
        let b = v.build
        self.init(
            namespace: v.run.namespace, name: v.run.name, image: v.run.standalone ? nil : v.run.image, build: v.run.standalone ? nil : v.run.build,
            standalone: v.run.standalone, status: b.status, phase: b.currentPhase?.rawValue, message: b.message, reasons: b.reasonKinds.map(ReasonKind.init),
            builder: b.builderImage, source: SourceInfo(b.inputs), buildpacks: b.buildpacks.map(BuildpackVersion.init), output: b.latestImage,
            created: v.run.created, started: b.started, finished: b.finished, deleteAt: v.run.deleteAt)
    }
}
