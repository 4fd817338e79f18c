import Foundation
import BuildRuntime
import Engine
import SlipwayProtocol

// The platform family on the wire (stacks, stores, builders) and the system results, from the
// engine's models.

extension ClusterStackResource {
    init(_ s: ClusterStack) {
        self.init(
            name: s.name, id: s.id, buildImage: s.buildImage, runImage: s.runImage,
            status: Status(ready: s.status.ready, buildImageDigest: s.status.buildImageDigest.string, runImageDigest: s.status.runImageDigest.string,
                           resolvedBuildImage: s.status.resolvedBuildImage, resolvedRunImage: s.status.resolvedRunImage, message: s.status.message,
                           os: s.status.os, architecture: s.status.architecture))
    }
}

extension BuildpackDescriptorResource {
    init(_ d: BuildpackDescriptor) {
        self.init(api: d.api, id: d.id, version: d.version, name: d.name, homepage: d.homepage, clearEnv: d.clearEnv, stacks: d.stacks, targets: d.targets,
                  order: d.order.map(Self.groups))
    }

    /// A composite buildpack's groups.
    static func groups(_ order: [[BuildpackDescriptor.CompositeEntry]]) -> [[CompositeEntry]] {
        order.map { $0.map { CompositeEntry(id: $0.id, version: $0.version, optional: $0.optional) } }
    }
}

extension ClusterStoreResource {
    init(_ s: ClusterStore) {
        self.init(name: s.name, buildpacks: s.buildpacks.map {
            Buildpack(id: $0.id, version: $0.version, api: $0.api, homepage: $0.homepage, name: $0.name, digest: $0.digest.string, source: $0.source,
                      descriptor: BuildpackDescriptorResource($0.descriptor))
        })
    }
}

extension BuilderResource {
    init(_ b: Builder) {
        self.init(
            kind: b.kind, namespace: b.namespace, name: b.name, stack: b.stack, store: b.store, image: b.image, tag: b.tag, order: b.order,
            status: Status(ready: b.status.ready, message: b.status.message, stackID: b.status.stackID, runImage: b.status.runImage,
                           buildImage: b.status.buildImage, latestImage: b.status.latestImage, buildpacks: b.status.buildpacks.map(BuildpackVersion.init), order: b.status.order))
    }
}

extension StoreStatus {
    init(_ s: ClusterStore, buildersUsing: [String: [String]]) {
        self.init(name: s.name, buildpacks: s.buildpacks.map {
            Row(id: $0.id, version: $0.version, api: $0.api, homepage: $0.homepage, digest: $0.digest.string,
                order: $0.descriptor.order.map(BuildpackDescriptorResource.groups), builders: (buildersUsing["\($0.id)@\($0.version)"] ?? []).sorted())
        })
    }
}

extension QuotaResult {
    init(namespace: String, quota: Quota, usage: QuotaUsage) {
        self.init(namespace: namespace, limits: Amounts(images: quota.images, buildruns: quota.buildruns, storage: quota.storage),
                  used: Amounts(images: usage.images, buildruns: usage.buildruns, storage: usage.storage))
    }
}

extension CollectResult {
    init(_ report: CollectionReport, dryRun: Bool) {
        self.init(dryRun: dryRun, freed: report.freed.sorted { $0.key < $1.key }.map { Row(kind: $0.key, count: $0.value.count, bytes: $0.value.bytes) },
                  totalBytes: report.total.bytes)
    }
}

extension DiskUsageResult {
    init(_ rows: [UsageRow]) {
        self.init(kinds: rows.map { Row(kind: $0.kind, count: $0.count, bytes: $0.bytes, reclaimable: $0.reclaimable) }, totalBytes: rows.reduce(0) { $0 + $1.bytes })
    }
}

/// Times in event params.
enum EventTimes {
    /// The time `since` names, or InvalidParams.
    static func parsed(_ text: String) throws -> Date {
        guard let date = Timestamp.parse(text) else {
            throw EngineError.invalid("since must be an RFC 3339 time such as 2026-11-29T10:00:00Z", field: "since")
        }
        return date
    }
}
