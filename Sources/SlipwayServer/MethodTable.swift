import Engine
import Foundation
import JSONRPC
import SlipwayProtocol
import Synchronization

/// What every handler shares: the engine, each connection's engine session, and the list of
/// methods (for `initialize`).
public final class ServerContext: Sendable {
    public let engine: Engine
    public let maxMessageSize: Int
    /// `image/get`'s encoded answers, shared by every connection.
    let imageResources = ImageResourceCache()
    private let sessions = Mutex<[Int: EngineSession]>([:])
    private let methods = Mutex<[String]>([])

    public init(engine: Engine, maxMessageSize: Int) {
        self.engine = engine
        self.maxMessageSize = maxMessageSize
    }

    /// Every request method, including those the connection answers itself.
    public var allMethods: [String] { methods.withLock { $0 } }
    func setMethods(_ m: [String]) { methods.withLock { $0 = m.sorted() } }

    /// The engine session of a connection, opened on first use.
    public func session(for connection: Connection) -> EngineSession {
        sessions.withLock { s in
            if let existing = s[connection.id] { return existing }
            let new = engine.openSession()
            s[connection.id] = new
            return new
        }
    }

    public func closeSession(for connection: Connection) async {
        guard let s = sessions.withLock({ $0.removeValue(forKey: connection.id) }) else { return }
        await engine.closeSession(s)
    }

    /// Sends a session's notifications to its connection, in order, until the session closes.
    /// Log lines are read from the log files when a log has grown, in batches, each sent only
    /// when the connection's output has room: a slow client slows its own log, nothing else.
    public func forwardNotifications(of session: EngineSession, to connection: Connection) async {
        for await message in session.messages {
            switch message {
            case .logAvailable(let key):
                let run = engine.runName(of: key)  // the lines of a run of an image carry its name too
                while true {
                    let lines = session.readLog(key)
                    if lines.isEmpty { break }
                    await connection.waitForOutputRoom()
                    for var l in lines {
                        if let run { l.buildrun = run }
                        connection.notify(BuildLogNotification.method, json: l.json)
                    }
                }
            case .notification(let n):
                switch n {
                case .buildStatusChanged(let s): connection.notify(BuildStatusChangedNotification.method, s)
                case .imageStatusChanged(let s): connection.notify(ImageStatusChangedNotification.method, s)
                case .event(let e): connection.notify(EventNotification.method, e)
                }
            case .barrier(let c):
                c.resume()
            }
        }
    }
}

extension BuildLogLine {
    /// The params of `build/log`, built directly (the encoder's way costs several times more,
    /// and a followed build can send a million of them); the same members as the Codable form.
    var json: JSONValue {
        var o = JSONObject([("namespace", .string(namespace))])
        if let image { o["image"] = .string(image) }
        if let build { o["build"] = .int(Int64(build)) }
        if let buildrun { o["buildrun"] = .string(buildrun) }
        for (k, v) in [("seq", JSONValue.int(Int64(seq))), ("phase", .string(phase)), ("stream", .string(stream)), ("line", .string(line)), ("time", .string(time))] {
            o[k] = v
        }
        return .object(o)
    }
}

/// Maps every JSON-RPC method to an engine call, by method type (`SlipwayMethods.all`).
public enum MethodTable {
    static let methodsOwnedByConnection = [Shutdown.method]
    /// The params of a create, patch, save, add, remove or submit: at most 1 MiB (the message
    /// cap stays for everything else).
    static let maxWriteParamsBytes = 1 << 20
    static let clientNotifications = [InitializedNotification.method] + ConnectionNotifications.fromClient

    public static func makeRegistry(_ ctx: ServerContext) -> MethodRegistry {
        var r = MethodRegistry()
        registerLifecycle(&r, ctx)
        registerPlatform(&r, ctx)
        registerSecrets(&r, ctx)
        registerImages(&r, ctx)
        registerBuilds(&r, ctx)
        registerBuildRuns(&r, ctx)
        let served = r.requestMethods + methodsOwnedByConnection
        assert(Set(served) == Set(SlipwayMethods.all.map { $0.method }), "the method table serves exactly the protocol's methods")
        ctx.setMethods(served)
        return r
    }

    // MARK: Lifecycle

    private static func registerLifecycle(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register(Initialize.self, acceptsUnknownParams: true) { _, ctx in
            InitializeResult(
                serverInfo: .init(name: "slipway", version: SlipwayVersion.current),
                capabilities: .init(
                    methods: s.allMethods, clientNotifications: clientNotifications,
                    notifications: NotificationKind.allCases.map(\.rawValue) + ConnectionNotifications.fromServer,
                    framings: [Framing.newlineDelimited.rawValue, Framing.contentLength.rawValue],
                    maxMessageSize: s.maxMessageSize, buildStrategies: BuildStrategy.allCases.map(\.rawValue), sourceTypes: ["local", "git", "blob"]))
        }
        r.registerNotification(InitializedNotification.method) { (_: EmptyParams, _) in }
        // The document is served as it is installed, not re-encoded: its bytes are the spec's.
        r.register(RPCDiscover.method, ordering: RPCDiscover.access.ordering, keys: RequestKeys.of(RPCDiscover.self)) { (_: RPCDiscover.Params, _) -> JSONValue in
            try OpenRPCDocument.load()
        }
        r.register(SessionSubscribe.self) { p, ctx in
            func kinds(_ names: [String]?, _ field: String) throws -> [NotificationKind] {
                try (names ?? []).enumerated().map { i, n in
                    guard let k = NotificationKind(rawValue: n) else {
                        throw EngineError.invalid("'\(n)' is not a notification kind; use one of \(NotificationKind.allCases.map(\.rawValue).joined(separator: ", "))",
                                                  field: "\(field)[\(i)]")
                    }
                    return k
                }
            }
            let enable = try kinds(p.enable, "enable"), disable = try kinds(p.disable, "disable")
            let ns: String?? = p.namespace.map { $0.isEmpty ? nil : $0 }
            let on = s.session(for: ctx.connection).configure(enable: enable, disable: disable, namespace: ns)
            return SubscribeResult(notifications: on.map(\.rawValue), namespace: p.namespace)
        }
    }

    // MARK: Stacks, stores, builders

    private static func registerPlatform(_ r: inout MethodRegistry, _ s: ServerContext) {
        let e = s.engine
        r.register(ClusterStackCreate.self, maxParamsBytes: maxWriteParamsBytes) { p, _ in ClusterStackResource(try await e.createClusterStack(p.spec)) }
        r.register(ClusterStackPatch.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in ClusterStackResource(try await e.patchClusterStack(p, session: s.session(for: ctx.connection))) }
        r.register(ClusterStackRefresh.self) { p, ctx in ClusterStackResource(try await e.refreshClusterStack(p.name, session: s.session(for: ctx.connection))) }
        r.register(ClusterStackGet.self) { p, _ in ClusterStackResource(try await e.clusterStack(p.name)) }
        r.register(ClusterStackStatus.self) { p, _ in ClusterStackResource(try await e.clusterStack(p.name)) }
        r.register(ClusterStackList.self) { p, _ in
            let page = try Paging.page(try await e.clusterStacks(), key: \.name, p)
            return ClusterStackListResult(stacks: page.items.map(ClusterStackResource.init), continue: page.next)
        }
        r.register(ClusterStackDelete.self) { p, _ in
            try await e.deleteClusterStack(p.name)
            return NullResult()
        }

        r.register(ClusterStoreCreate.self, maxParamsBytes: maxWriteParamsBytes) { p, _ in
            ClusterStoreResource(try await e.createClusterStore(name: p.name, buildpacks: p.buildpacks))
        }
        r.register(ClusterStoreAdd.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in
            ClusterStoreResource(try await e.addToClusterStore(name: p.name, buildpacks: p.buildpacks, session: s.session(for: ctx.connection)))
        }
        r.register(ClusterStoreRemove.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in
            ClusterStoreResource(try await e.removeFromClusterStore(name: p.name, buildpacks: p.buildpacks, session: s.session(for: ctx.connection)))
        }
        r.register(ClusterStoreGet.self) { p, _ in ClusterStoreResource(try await e.clusterStore(p.name)) }
        r.register(ClusterStoreStatus.self) { p, _ in
            StoreStatus(try await e.clusterStore(p.name), buildersUsing: try await e.buildersUsing(store: p.name))
        }
        r.register(ClusterStoreList.self) { p, _ in
            let page = try Paging.page(try await e.clusterStores(), key: \.name, p)
            return ClusterStoreListResult(stores: page.items.map(ClusterStoreResource.init), continue: page.next)
        }
        r.register(ClusterStoreDelete.self) { p, _ in
            try await e.deleteClusterStore(p.name)
            return NullResult()
        }

        // ClusterBuilders: no namespace in any param.
        r.register(ClusterBuilderCreate.self, maxParamsBytes: maxWriteParamsBytes) { p, _ in BuilderResource(try await e.createBuilder(p.spec.builderSpec)) }
        r.register(ClusterBuilderPatch.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in BuilderResource(try await e.patchBuilder(p.builderSpec, session: s.session(for: ctx.connection))) }
        r.register(ClusterBuilderGet.self) { p, _ in BuilderResource(try await e.builder(name: p.name, namespace: nil)) }
        r.register(ClusterBuilderStatus.self) { p, _ in BuilderResource(try await e.builder(name: p.name, namespace: nil)) }
        r.register(ClusterBuilderList.self) { p, _ in try await builders(e, namespace: nil, p) }
        r.register(ClusterBuilderDelete.self) { p, _ in
            try await e.deleteBuilder(name: p.name, namespace: nil)
            return NullResult()
        }

        // Builders: in a namespace, "default" when none is given.
        r.register(BuilderCreate.self, maxParamsBytes: maxWriteParamsBytes) { p, _ in
            var spec = p.spec
            spec.namespace = spec.namespace ?? "default"
            return BuilderResource(try await e.createBuilder(spec))
        }
        r.register(BuilderPatch.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in
            var spec = p
            spec.namespace = p.namespace ?? "default"
            return BuilderResource(try await e.patchBuilder(spec, session: s.session(for: ctx.connection)))
        }
        r.register(BuilderGet.self) { p, _ in BuilderResource(try await e.builder(name: p.name, namespace: p.resolvedNamespace)) }
        r.register(BuilderStatus.self) { p, _ in BuilderResource(try await e.builder(name: p.name, namespace: p.resolvedNamespace)) }
        r.register(BuilderList.self) { p, _ in try await builders(e, namespace: p.namespace ?? "default", p) }
        r.register(BuilderDelete.self) { p, _ in
            try await e.deleteBuilder(name: p.name, namespace: p.resolvedNamespace)
            return NullResult()
        }
    }

    /// A page of the builders of a namespace, or of the ClusterBuilders (nil).
    private static func builders(_ e: Engine, namespace: String?, _ p: some PagedParams) async throws -> BuilderListResult {
        let page = try Paging.page(try await e.builders(namespace: namespace), key: \.name, p)
        return BuilderListResult(builders: page.items.map(BuilderResource.init), continue: page.next)
    }

    // MARK: Secrets

    private static func registerSecrets(_ r: inout MethodRegistry, _ s: ServerContext) {
        let e = s.engine
        r.register(SecretCreate.self, maxParamsBytes: maxWriteParamsBytes) { p, _ in try await e.createSecret(p) }
        r.register(SystemGC.self) { p, _ in
            CollectResult(try await e.collectGarbage(dryRun: p.dryRun == true), dryRun: p.dryRun == true)
        }
        r.register(SystemDF.self) { _, _ in DiskUsageResult(try await e.diskUsage()) }
        r.register(QuotaGet.self) { p, _ in
            let ns = p.namespace ?? "default"
            return QuotaResult(namespace: ns, quota: await e.quota, usage: try await e.quotaUsage(namespace: ns))
        }
        r.register(SecretList.self) { p, _ in
            let page = try Paging.page(try e.secrets(namespace: p.namespace ?? "default"), key: \.name, p)
            return SecretListResult(secrets: page.items, continue: page.next)
        }
        r.register(SecretDelete.self) { p, _ in
            try await e.deleteSecret(namespace: p.resolvedNamespace, name: p.name)
            return NullResult()
        }
    }

    // MARK: Images

    private static func registerImages(_ r: inout MethodRegistry, _ s: ServerContext) {
        let e = s.engine
        r.register(ImageCreate.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in
            let c = try await e.createImage(p.spec, session: s.session(for: ctx.connection))
            return CreateImageResult(image: ImageResource(c.image), build: c.build)
        }
        r.register(ImagePatch.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in
            let c = try await e.patchImage(p, session: s.session(for: ctx.connection))
            return PatchImageResult(image: ImageResource(c.image), changed: c.changed, build: c.build)
        }
        r.register(ImageSave.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in
            let c = try await e.saveImage(p, session: s.session(for: ctx.connection))
            return PatchImageResult(image: ImageResource(c.image), changed: c.changed, build: c.build)
        }
        // Answered from the image catalog in memory (the first query of an engine loads it).
        r.registerEncoded(ImageGet.self, answersInline: true) { p, _ in try s.imageResources.resource(of: try await e.image(p.resolvedNamespace, p.name)) }
        r.register(ImageStatusMethod.self) { p, _ in
            ImageStatusResult(try await e.image(p.resolvedNamespace, p.name), cacheBytes: try await e.cacheSize(namespace: p.resolvedNamespace, image: p.name))
        }
        r.register(ImageList.self) { p, _ in
            let ns: String? = p.allNamespaces == true ? nil : (p.namespace ?? "default")
            let page = try await e.listImages(namespace: ns, filter: p.filter, after: try Paging.key(p.continue), limit: try Paging.limit(p.limit))
            return ImageListResult(images: page.rows, continue: page.next.map(Paging.token(after:)))
        }
        r.register(ImageDelete.self) { p, _ in
            try await e.deleteImage(namespace: p.resolvedNamespace, name: p.name)
            return NullResult()
        }
        r.register(ImageTrigger.self) { p, ctx in
            TriggerResult(build: try await e.triggerImage(namespace: p.resolvedNamespace, name: p.name, session: s.session(for: ctx.connection)))
        }
    }

    /// Sends a build's log lines from `since` as `build/log` notifications until it ends (with
    /// LSP progress when asked), every line before the reply; returns the ended build.
    static func follow(_ s: ServerContext, _ ctx: RequestContext, _ key: BuildKey, since: Int, title: String) async throws -> Build {
        let session = s.session(for: ctx.connection)
        ctx.connection.progress(ctx, kind: "begin", title: title)
        do {
            let b = try await s.engine.followLogs(session: session, key: key, since: since)
            await session.flush()  // every line is sent before the reply
            session.unfollow(key)
            ctx.connection.progress(ctx, kind: "end", message: "\(key.standaloneRun.map { "build run \($0)" } ?? "build \(b.number)"): \(b.status.rawValue)")
            return b
        } catch {
            session.unfollow(key)
            throw error
        }
    }

    // MARK: Build runs

    private static func registerBuildRuns(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register(BuildRunSubmit.self, maxParamsBytes: maxWriteParamsBytes) { p, ctx in
            BuildRunResult(try await s.engine.submitBuildRun(p, session: s.session(for: ctx.connection)))
        }
        r.register(BuildRunGet.self) { p, ctx in
            BuildRunResult(try await s.engine.buildRun(namespace: p.namespace ?? "default", name: p.name))
        }
        r.register(BuildRunList.self) { p, ctx in
            let page = try await s.engine.buildRuns(namespace: p.namespace ?? "default", after: try Paging.key(p.continue), limit: try Paging.limit(p.limit))
            return BuildRunListResult(buildruns: page.runs.map(BuildRunResult.init), continue: page.more ? page.runs.last.map { Paging.token(after: $0.run.name) } : nil)
        }
        r.register(BuildRunLogs.self) { p, ctx in
            let ns = p.namespace ?? "default"
            let key = try await s.engine.buildRunKey(namespace: ns, name: p.name)
            let since = max(1, p.since ?? 1)
            guard p.follow == true else {
                let lines = try await s.engine.logs(namespace: ns, image: key.image, number: key.number, since: since)
                return BuildRunLogsResult(name: p.name, status: try await s.engine.buildRun(namespace: ns, name: p.name).build.status, lines: lines)
            }
            let b = try await follow(s, ctx, key, since: since, title: "Following the log of build run \(p.name)")
            return BuildRunLogsResult(name: p.name, status: b.status, lines: nil)
        }
        r.register(BuildRunWait.self) { p, ctx in
            if let t = p.timeout, t < 0 { throw EngineError.invalid("timeout must not be negative", field: "timeout") }
            let ns = p.namespace ?? "default"
            let key = try await s.engine.buildRunKey(namespace: ns, name: p.name)
            ctx.connection.progress(ctx, kind: "begin", title: "Waiting for build run \(p.name)")
            _ = try await s.engine.wait(for: key, timeout: p.timeout)
            let v = try await s.engine.buildRun(namespace: ns, name: p.name)
            ctx.connection.progress(ctx, kind: "end", message: "build run \(p.name): \(v.build.status.rawValue)")
            return BuildRunResult(v)
        }
        r.register(BuildRunCancel.self) { p, ctx in
            BuildRunResult(try await s.engine.cancelBuildRun(namespace: p.namespace ?? "default", name: p.name))
        }
        r.register(BuildRunDelete.self) { p, ctx in
            try await s.engine.deleteBuildRun(namespace: p.namespace ?? "default", name: p.name)
            return NullResult()
        }
        r.register(BuildRunEvents.self) { p, ctx in
            // Also the events of a run that is gone, until they expire.
            let ns = p.namespace ?? "default"
            let page = try await s.engine.events(StateStore.EventQuery(namespace: ns, object: EventObject(kind: "BuildRun", namespace: ns, name: p.name),
                                                                      afterID: try Paging.eventID(p.continue), limit: try Paging.limit(p.limit)))
            return EventListResult(events: page.events, continue: page.more ? page.events.last.map { Paging.token(after: String($0.id)) } : nil)
        }
    }

    // MARK: Builds and events

    private static func registerBuilds(_ r: inout MethodRegistry, _ s: ServerContext) {
        r.register(BuildList.self) { p, ctx in
            let after = try Paging.key(p.continue).map { key -> (image: String, number: Int) in
                let parts = key.split(separator: "/")
                guard parts.count == 2, let n = Int(parts[1]) else { throw EngineError.invalid("continue is not a token of build/list; start again without it", field: "continue") }
                return (String(parts[0]), n)
            }
            let page = try await s.engine.builds(namespace: p.namespace ?? "default", image: p.image, after: after, limit: try Paging.limit(p.limit))
            let next = page.more ? page.builds.last.map { Paging.token(after: "\($0.image)/\($0.number)") } : nil
            return BuildListResult(builds: page.builds.map(BuildRow.init), continue: next)
        }
        r.register(BuildStatus.self) { p, ctx in
            BuildStatusResult(try await s.engine.build(namespace: p.resolvedNamespace, image: p.image, number: p.build))
        }
        r.register(BuildLogs.self) { p, ctx in
            let e = s.engine
            let ns = p.namespace ?? "default"
            let since = max(1, p.since ?? 1)
            guard p.follow == true else {
                let b = try await e.build(namespace: ns, image: p.image, number: p.build)
                let lines = try await e.logs(namespace: ns, image: p.image, number: b.number, since: since)
                return BuildLogsResult(build: b.number, status: b.status, lines: lines)
            }
            let key = try await e.buildKey(namespace: ns, image: p.image, number: p.build)
            let b = try await follow(s, ctx, key, since: since, title: "Following the log of \(p.image)")
            return BuildLogsResult(build: b.number, status: b.status, lines: nil)
        }
        r.register(BuildWait.self) { p, ctx in
            if let t = p.timeout, t < 0 { throw EngineError.invalid("timeout must not be negative", field: "timeout") }
            ctx.connection.progress(ctx, kind: "begin", title: "Waiting for \(p.image)" + (p.build.map { " build \($0)" } ?? ""))
            let b = try await s.engine.wait(namespace: p.namespace ?? "default", image: p.image, number: p.build, timeout: p.timeout)
            ctx.connection.progress(ctx, kind: "end", message: "build \(b.number): \(b.status.rawValue)")
            return BuildStatusResult(b)
        }
        r.register(BuildCancel.self) { p, ctx in
            BuildStatusResult(try await s.engine.cancel(namespace: p.resolvedNamespace, image: p.image, number: p.build))
        }
        r.register(BuildSbom.self) { p, ctx in
            try await s.engine.sboms(namespace: p.resolvedNamespace, image: p.image, number: p.build, format: p.format)
        }
        r.register(EventList.self) { p, ctx in
            let page = try await s.engine.events(StateStore.EventQuery(
                namespace: p.namespace, object: p.object, type: p.type, reason: p.reason, since: try p.since.map { try EventTimes.parsed($0) },
                afterID: try Paging.eventID(p.continue), limit: try Paging.limit(p.limit)))
            return EventListResult(events: page.events, continue: page.more ? page.events.last.map { Paging.token(after: String($0.id)) } : nil)
        }
    }

}

/// The OpenRPC document served by `rpc.discover`: `spec/openrpc.json`, shipped as a resource.
enum OpenRPCDocument {
    static func load() throws -> JSONValue {
        guard let url = Bundle.module.url(forResource: "openrpc", withExtension: "json"), let data = try? Data(contentsOf: url) else {  // unreadable is as good as missing: said below
            throw EngineError(.unavailable, "the OpenRPC document is not installed next to the slipway binary")
        }
        do {
            return try JSONParser.parse(Array(data))
        } catch {
            throw EngineError.internal("the OpenRPC document is not valid JSON: \(error)")
        }
    }
}
