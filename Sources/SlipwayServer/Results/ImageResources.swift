import Engine
import SlipwayProtocol

// The image family on the wire, from the engine's models: the one place an `Image`
// becomes what a client sees.

extension ImageResource {
    init(_ i: Image) {
        self.init(
            namespace: i.namespace, name: i.name, tag: i.tag, additionalTags: i.additionalTags, builder: i.builder, source: i.source, env: i.env,
            strategy: i.strategy, dockerfile: i.dockerfile?.path, buildArgs: i.dockerfile?.buildArgs, target: i.dockerfile?.target,
            contextDir: i.dockerfile?.contextDir, buildTimeout: i.buildTimeout,
            network: i.network, successBuildHistoryLimit: i.successBuildHistoryLimit, failedBuildHistoryLimit: i.failedBuildHistoryLimit, created: i.created,
            status: Status(
                ready: i.status.ready, message: i.status.message, latestImage: i.status.latestImage, latestBuild: i.status.latestBuild,
                latestReason: i.status.latestReason, lastSuccessfulBuild: i.status.lastSuccessfulBuild.map(BuildSummary.init),
                lastFailedBuild: i.status.lastFailedBuild.map(BuildSummary.init), dockerfileBases: i.status.dockerfileBases,
                nextBuildNumber: i.status.nextBuildNumber),
            incarnation: i.incarnation)
    }
}

extension BuildSummary {
    init(_ s: ImageStatus.BuildSummary) { self.init(number: s.number, reason: s.reason) }
}

extension ImageStatusResult {
    init(_ i: Image, cacheBytes: Int64? = nil) {
        self.init(
            name: i.name, namespace: i.namespace, tag: i.tag, ready: i.status.ready, message: i.status.message, latestImage: i.status.latestImage,
            latestBuild: i.status.latestBuild, latestReason: i.status.latestReason, lastSuccessfulBuild: i.status.lastSuccessfulBuild.map(BuildSummary.init),
            lastFailedBuild: i.status.lastFailedBuild.map(BuildSummary.init),
            source: SourceInfo(type: i.source.kind, url: i.source.git?.url ?? i.source.blob?.url, revision: i.source.resolved?.commit,
                               ref: i.source.resolved?.ref, path: i.source.local?.path, digest: i.source.resolved?.snapshot.digest, subPath: i.source.subPath),
            builder: i.builder, cacheBytes: cacheBytes)
    }
}
