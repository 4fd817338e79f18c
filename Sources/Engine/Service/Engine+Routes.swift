import SlipwayProtocol
import BuildRuntime
import Foundation

/// The public calls of the engine, each routed to the service that does it.
extension Engine {
    // MARK: BuildRunService
    public func submitBuildRun(_ spec: BuildRunSpec, session: EngineSession? = nil) async throws -> BuildRunView { try await BuildRunService.submitBuildRun(self, spec, session: session) }
    public func buildRun(namespace: String, name: String) throws -> BuildRunView { try BuildRunService.buildRun(self, namespace: namespace, name: name) }
    public func buildRuns(namespace: String, after: String?, limit: Int) throws -> (runs: [BuildRunView], more: Bool) { try BuildRunService.buildRuns(self, namespace: namespace, after: after, limit: limit) }
    public func buildRunKey(namespace: String, name: String) throws -> BuildKey { try BuildRunService.buildRunKey(self, namespace: namespace, name: name) }
    public func cancelBuildRun(namespace: String, name: String) throws -> BuildRunView { try BuildRunService.cancelBuildRun(self, namespace: namespace, name: name) }
    public func deleteBuildRun(namespace: String, name: String) async throws { try await BuildRunService.deleteBuildRun(self, namespace: namespace, name: name) }
    /// Deletes the stand-alone runs whose time has come (run by the expiry loop; tests call it).
    func expireBuildRuns() async { await BuildRunService.expireBuildRuns(self) }

    // MARK: BuildService
    public func builds(namespace: String, image: String?) throws -> [Build] { try BuildService.builds(self, namespace: namespace, image: image) }
    public func builds(namespace: String, image: String?, after: (image: String, number: Int)?, limit: Int) throws -> (builds: [Build], more: Bool) { try BuildService.builds(self, namespace: namespace, image: image, after: after, limit: limit) }
    public func build(namespace: String, image: String, number: Int?) throws -> Build { try BuildService.build(self, namespace: namespace, image: image, number: number) }
    public func buildKey(namespace: String, image: String, number: Int?) throws -> BuildKey { try BuildService.buildKey(self, namespace: namespace, image: image, number: number) }
    public func logs(namespace: String, image: String, number: Int?, since: Int) async throws -> [BuildLogLine] { try await BuildService.logs(self, namespace: namespace, image: image, number: number, since: since) }
    public func followLogs(session: EngineSession, key: BuildKey, since: Int) async throws -> Build { try await BuildService.followLogs(self, session: session, key: key, since: since) }
    public func wait(for key: BuildKey, timeout: Double?) async throws -> Build { try await BuildService.wait(self, for: key, timeout: timeout) }
    public func wait(namespace: String, image: String, number: Int?, timeout: Double?) async throws -> Build { try await BuildService.wait(self, namespace: namespace, image: image, number: number, timeout: timeout) }
    public func cancel(namespace: String, image: String, number: Int?) throws -> Build { try BuildService.cancel(self, namespace: namespace, image: image, number: number) }
    public func sboms(namespace: String, image: String, number: Int?, format: SBOMFormatName?) async throws -> BuildSBOMResult { try await SBOMService.sboms(self, namespace: namespace, image: image, number: number, format: format) }

    // MARK: CollectionService
    public func collectGarbage(dryRun: Bool) async throws -> CollectionReport { try await CollectionService.collectGarbage(self, dryRun: dryRun) }
    public func diskUsage() async throws -> [UsageRow] { try await CollectionService.diskUsage(self) }

    // MARK: SourceWatchService
    public func pollDockerfileBases() async { await SourceWatchService.pollDockerfileBases(self) }
    public func pollGitSources() async { await SourceWatchService.pollGitSources(self) }
    public func pollBuilderImages() async { await SourceWatchService.pollBuilderImages(self) }

    // MARK: ImageService
    public func saveImage(_ spec: ImageSpec, session: EngineSession? = nil) async throws -> ImageChange { try await ImageService.saveImage(self, spec, session: session) }
    public func createImage(_ spec: ImageSpec, session: EngineSession? = nil) async throws -> ImageChange { try await ImageService.createImage(self, spec, session: session) }
    public func patchImage(_ spec: ImageSpec, session: EngineSession? = nil) async throws -> ImageChange { try await ImageService.patchImage(self, spec, session: session) }
    public func triggerImage(namespace: String, name: String, session: EngineSession? = nil) async throws -> Int { try await ImageService.triggerImage(self, namespace: namespace, name: name, session: session) }
    public func listImages(namespace: String?, filter: ImageFilter?, after: String?, limit: Int) throws -> (rows: [ImageRow], next: String?) { try ImageService.listImages(self, namespace: namespace, filter: filter, after: after, limit: limit) }
    public func deleteImage(namespace: String, name: String) async throws { try await ImageService.deleteImage(self, namespace: namespace, name: name) }
    public nonisolated func cacheSize(namespace: String, image: String) async throws -> Int64 { try await ImageService.cacheSize(self, namespace: namespace, image: image) }

    // MARK: PlatformService
    public func createClusterStack(_ spec: StackSpec) async throws -> ClusterStack { try await PlatformService.createClusterStack(self, spec) }
    public func patchClusterStack(_ spec: StackSpec, session: EngineSession? = nil) async throws -> ClusterStack { try await PlatformService.patchClusterStack(self, spec, session: session) }
    public func refreshClusterStack(_ name: String, session: EngineSession? = nil) async throws -> ClusterStack { try await PlatformService.refreshClusterStack(self, name, session: session) }
    public func clusterStack(_ name: String) throws -> ClusterStack { try PlatformService.clusterStack(self, name) }
    public func clusterStacks() throws -> [ClusterStack] { try PlatformService.clusterStacks(self) }
    public func deleteClusterStack(_ name: String) throws { try PlatformService.deleteClusterStack(self, name) }
    public func createClusterStore(name: String, buildpacks: [String]) async throws -> ClusterStore { try await PlatformService.createClusterStore(self, name: name, buildpacks: buildpacks) }
    public func addToClusterStore(name: String, buildpacks: [String], session: EngineSession? = nil) async throws -> ClusterStore { try await PlatformService.addToClusterStore(self, name: name, buildpacks: buildpacks, session: session) }
    public func removeFromClusterStore(name: String, buildpacks: [String], session: EngineSession? = nil) async throws -> ClusterStore { try await PlatformService.removeFromClusterStore(self, name: name, buildpacks: buildpacks, session: session) }
    public func clusterStore(_ name: String) throws -> ClusterStore { try PlatformService.clusterStore(self, name) }
    public func buildersUsing(store name: String) throws -> [String: [String]] { try PlatformService.buildersUsing(self, store: name) }
    public func clusterStores() throws -> [ClusterStore] { try PlatformService.clusterStores(self) }
    public func deleteClusterStore(_ name: String) throws { try PlatformService.deleteClusterStore(self, name) }

    // MARK: BuilderService
    /// Buildpack versions compared as a builder resolves them (tests use it through the engine).
    static func versionLess(_ a: String, _ b: String) -> Bool { BuilderService.versionLess(a, b) }
    public func createBuilder(_ spec: BuilderSpec) async throws -> Builder { try await BuilderService.createBuilder(self, spec) }
    public func patchBuilder(_ spec: BuilderSpec, session: EngineSession? = nil) async throws -> Builder { try await BuilderService.patchBuilder(self, spec, session: session) }
    public func builder(name: String, namespace: String?) throws -> Builder { try BuilderService.builder(self, name: name, namespace: namespace) }
    public func builders(namespace: String?) throws -> [Builder] { try BuilderService.builders(self, namespace: namespace) }
    public func deleteBuilder(name: String, namespace: String?) throws { try BuilderService.deleteBuilder(self, name: name, namespace: namespace) }

    // MARK: QuotaService
    public func quotaUsage(namespace: String) async throws -> QuotaUsage { try await QuotaService.quotaUsage(self, namespace: namespace) }

    // MARK: SecretService
    public func createSecret(_ spec: SecretSpec) async throws -> SecretInfo { try await SecretService.createSecret(self, spec) }
    public nonisolated func secrets(namespace: String) throws -> [SecretInfo] { try SecretService.secrets(self, namespace: namespace) }
    public func deleteSecret(namespace: String, name: String) throws { try SecretService.deleteSecret(self, namespace: namespace, name: name) }

    // MARK: EngineShutdown
    public func waitForIdle() async { await EngineShutdown.waitForIdle(self) }
    public func waitForBuilds(_ keys: Set<BuildKey>) async { await EngineShutdown.waitForBuilds(self, keys) }
    public func activity() -> EngineActivity { EngineShutdown.activity(self) }
    public func stopScheduling(cancelRunning: Bool) { EngineShutdown.stopScheduling(self, cancelRunning: cancelRunning) }
    public func waitForRunningBuilds() async { await EngineShutdown.waitForRunningBuilds(self) }

    // MARK: EventService
    public func events(_ query: StateStore.EventQuery) throws -> (events: [SystemEvent], more: Bool) { try EventService.events(self, query) }
}
