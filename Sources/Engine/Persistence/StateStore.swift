import SlipwayProtocol
import Foundation

/// Runs SQL; both the database and a transaction do.
public protocol SQLExecutor {
    @discardableResult
    func query(_ sql: String, _ args: [SQLiteDatabase.Value]) throws -> [[SQLiteDatabase.Value]]
}

extension SQLiteDatabase: SQLExecutor {}
extension SQLiteDatabase.Transaction: SQLExecutor {}

/// The engine's persistent state: objects (stacks, stores, builders, images) as JSON documents
/// keyed by kind, namespace and name; builds keyed by image and number; system events.
/// Cluster-scoped objects have the namespace "".
///
/// Paths inside the state directory are stored relative to it: a value `oci:<state>/…` (the
/// default tag of an image, the image a build made) is written as `oci:$STATE/…` and read back
/// against wherever the state directory is now, so a state directory can be moved (`cp -a`).
public final class StateStore: Sendable {
    public let db: SQLiteDatabase
    static let schemaVersion = 1
    /// `"oci:<state>/` as it appears in a JSON document, and what it is stored as.
    private let absoluteOCIPrefix: String
    static let relativeOCIPrefix = "\"oci:$STATE/"

    /// The kinds of object kept in the objects table.
    public enum Kind: String, Sendable {
        case clusterStack = "ClusterStack", clusterStore = "ClusterStore", clusterBuilder = "ClusterBuilder"
        case builder = "Builder", image = "Image", secret = "Secret"
    }

    public init(path: String, stateDirectory: String) throws {
        let escaped = String(decoding: try Self.encoder.encode(stateDirectory), as: UTF8.self).dropFirst().dropLast()
        absoluteOCIPrefix = "\"oci:" + escaped + "/"
        db = try SQLiteDatabase(path: path)
        // An existing schema is not written again: a full disk must not stop the engine from
        // starting and answering reads.
        if try !db.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name='events'").isEmpty { return }
        try db.execute("""
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS objects(
                kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
                PRIMARY KEY(kind, namespace, name));
            CREATE TABLE IF NOT EXISTS builds(
                namespace TEXT NOT NULL, image TEXT NOT NULL, number INTEGER NOT NULL, status TEXT NOT NULL,
                document TEXT NOT NULL, PRIMARY KEY(namespace, image, number));
            CREATE INDEX IF NOT EXISTS builds_status ON builds(status);
            CREATE TABLE IF NOT EXISTS events(
                id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
                reason TEXT NOT NULL, document TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS events_object ON events(namespace, kind, name);
            INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '\(Self.schemaVersion)');
            """)
    }

    /// The tables of build runs: the runs (with the image and build each is, and when a
    /// stand-alone run goes), and the runs that expired (kept a day, to say so). Made once.
    func upgradeBuildRuns() throws {
        if try !db.query("SELECT 1 FROM meta WHERE key='buildruns' AND value='1'").isEmpty { return }
        try db.transaction { tx in
            try tx.query("""
                CREATE TABLE IF NOT EXISTS buildruns(namespace TEXT NOT NULL, name TEXT NOT NULL, image TEXT NOT NULL, build INTEGER NOT NULL,
                    standalone INTEGER NOT NULL, delete_at TEXT, document TEXT NOT NULL, PRIMARY KEY(namespace, name))
                """, [])
            try tx.query("CREATE INDEX IF NOT EXISTS buildruns_build ON buildruns(namespace, image, build)", [])
            try tx.query("""
                CREATE TABLE IF NOT EXISTS expired_buildruns(namespace TEXT NOT NULL, name TEXT NOT NULL, expired TEXT NOT NULL,
                    ended TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY(namespace, name))
                """, [])
            try tx.query("INSERT OR REPLACE INTO meta(key, value) VALUES('buildruns', '1')", [])
        }
    }

    /// Gives each image stored before incarnations existed one (`Image.incarnation`), and drops
    /// the `build_numbers` table an earlier version kept (it carried a deleted image's build
    /// numbers on to a new image of its name; an image created again now starts at build 1, and
    /// its incarnation tells its builds from the deleted one's). Done once (`meta.incarnations`),
    /// in one transaction.
    func upgradeImageIncarnations() throws {
        if try !db.query("SELECT 1 FROM meta WHERE key='incarnations' AND value='1'").isEmpty { return }
        try db.transaction { tx in
            for var image in try objects(Image.self, kind: .image, in: tx) where image.incarnation == nil {
                image.incarnation = UUID().uuidString
                try put(image, kind: .image, namespace: image.namespace, name: image.name, in: tx)
            }
            try tx.query("DROP TABLE IF EXISTS build_numbers", [])
            try tx.query("INSERT OR REPLACE INTO meta(key, value) VALUES('incarnations', '1')", [])
        }
    }

    // MARK: Build runs

    public func insertBuildRun(_ r: BuildRun, in ex: SQLExecutor? = nil) throws -> Bool {
        let exists = try (ex ?? db).query("SELECT 1 FROM buildruns WHERE namespace=? AND name=?", [.text(r.namespace), .text(r.name)])
        guard exists.isEmpty else { return false }
        try putBuildRun(r, in: ex)
        return true
    }

    public func putBuildRun(_ r: BuildRun, in ex: SQLExecutor? = nil) throws {
        try (ex ?? db).query("INSERT OR REPLACE INTO buildruns(namespace, name, image, build, standalone, delete_at, document) VALUES(?,?,?,?,?,?,?)",
                             [.text(r.namespace), .text(r.name), .text(r.image), .integer(Int64(r.build)), .integer(r.standalone ? 1 : 0),
                              r.deleteAt.map { .text($0) } ?? .null, .text(try encode(r))])
    }

    public func buildRun(namespace: String, name: String, in ex: SQLExecutor? = nil) throws -> BuildRun? {
        try (ex ?? db).query("SELECT document FROM buildruns WHERE namespace=? AND name=?", [.text(namespace), .text(name)])
            .first?.first?.text.map { try decode(BuildRun.self, $0) }
    }

    /// The runs of a namespace by name (all namespaces when nil): those after `after`, at most `limit`.
    public func buildRuns(namespace: String?, after: String?, limit: Int) throws -> (runs: [BuildRun], more: Bool) {
        var sql = "SELECT document FROM buildruns WHERE 1=1"
        var args: [SQLiteDatabase.Value] = []
        if let namespace { sql += " AND namespace=?"; args.append(.text(namespace)) }
        if let after { sql += " AND name > ?"; args.append(.text(after)) }
        sql += " ORDER BY name LIMIT ?"
        args.append(.integer(Int64(limit) + 1))
        var page = try db.query(sql, args).compactMap { try $0.first?.text.map { try decode(BuildRun.self, $0) } }
        let more = page.count > limit
        if more { page.removeLast() }
        return (page, more)
    }

    /// Stand-alone runs of a namespace that exist (for the quota).
    public func standaloneRunCount(namespace: String) throws -> Int64 {
        try db.query("SELECT count(*) FROM buildruns WHERE namespace=? AND standalone=1", [.text(namespace)]).first?.first?.integer ?? 0
    }

    /// The run of a build, if it is one.
    public func buildRun(namespace: String, image: String, build: Int) throws -> BuildRun? {
        try db.query("SELECT document FROM buildruns WHERE namespace=? AND image=? AND build=? LIMIT 1",
                     [.text(namespace), .text(image), .integer(Int64(build))]).first?.first?.text.map { try decode(BuildRun.self, $0) }
    }

    /// Stand-alone runs with no deletion time yet (still running, or just ended).
    public func standaloneRunsWithoutDeadline() throws -> [BuildRun] {
        try db.query("SELECT document FROM buildruns WHERE standalone=1 AND delete_at IS NULL", []).compactMap { try $0.first?.text.map { try decode(BuildRun.self, $0) } }
    }

    /// Stand-alone runs whose deletion time has come.
    public func buildRunsDue(at time: Date) throws -> [BuildRun] {
        try db.query("SELECT document FROM buildruns WHERE delete_at IS NOT NULL AND delete_at <= ?", [.time(time)])
            .compactMap { try $0.first?.text.map { try decode(BuildRun.self, $0) } }
    }

    public func deleteBuildRun(namespace: String, name: String, in ex: SQLExecutor? = nil) throws {
        try (ex ?? db).query("DELETE FROM buildruns WHERE namespace=? AND name=?", [.text(namespace), .text(name)])
    }

    /// The runs of an image's builds that are gone: `numbers` (retention), or all of them (the
    /// image was deleted).
    public func deleteBuildRuns(namespace: String, image: String, numbers: [Int]? = nil, in ex: SQLExecutor? = nil) throws {
        if let numbers {
            for n in numbers {
                try (ex ?? db).query("DELETE FROM buildruns WHERE namespace=? AND image=? AND build=?", [.text(namespace), .text(image), .integer(Int64(n))])
            }
        } else {
            try (ex ?? db).query("DELETE FROM buildruns WHERE namespace=? AND image=?", [.text(namespace), .text(image)])
        }
    }

    /// Remembers, for a day, that a run expired: when, and how it had ended.
    public func noteExpired(_ r: BuildRun, at time: String, ended: String, status: String, in ex: SQLExecutor? = nil) throws {
        try (ex ?? db).query("INSERT OR REPLACE INTO expired_buildruns(namespace, name, expired, ended, status) VALUES(?,?,?,?,?)",
                             [.text(r.namespace), .text(r.name), .text(time), .text(ended), .text(status)])
    }

    public func expiredBuildRun(namespace: String, name: String) throws -> (expired: String, ended: String, status: String)? {
        guard let row = try db.query("SELECT expired, ended, status FROM expired_buildruns WHERE namespace=? AND name=?", [.text(namespace), .text(name)]).first,
              let expired = row[0].text, let ended = row[1].text, let status = row[2].text else { return nil }
        return (expired, ended, status)
    }

    public func forgetExpiredBuildRuns(before time: Date) throws {
        try db.query("DELETE FROM expired_buildruns WHERE expired < ?", [.time(time)])
    }

    /// Gives the events table what aggregation, filters and expiry look up (type, message, the
    /// last time), filled in from each stored event. Done once (`meta.events`), in one
    /// transaction; an engine on a full disk goes on without it until the next start.
    func upgradeEvents() throws {
        if try !db.query("SELECT 1 FROM meta WHERE key='events' AND value='2'").isEmpty { return }
        try db.transaction { tx in
            try tx.query("ALTER TABLE events ADD COLUMN type TEXT NOT NULL DEFAULT 'Normal'", [])
            try tx.query("ALTER TABLE events ADD COLUMN message TEXT NOT NULL DEFAULT ''", [])
            try tx.query("ALTER TABLE events ADD COLUMN last_time TEXT NOT NULL DEFAULT ''", [])
            for row in try tx.query("SELECT id, document FROM events", []) {
                guard let id = row[0].integer, let doc = row[1].text else { continue }
                let e = try decode(SystemEvent.self, doc)
                try tx.query("UPDATE events SET type=?, message=?, last_time=?, document=? WHERE id=?",
                             [.text(e.type.rawValue), .text(e.message), .text(e.lastTime), .text(try encode(e)), .integer(id)])
            }
            try tx.query("CREATE INDEX events_same ON events(namespace, kind, name, reason)", [])
            try tx.query("CREATE INDEX events_last_time ON events(last_time)", [])
            try tx.query("INSERT OR REPLACE INTO meta(key, value) VALUES('events', '2')", [])
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    func encode<T: Encodable>(_ v: T) throws -> String {
        String(decoding: try Self.encoder.encode(v), as: UTF8.self).replacingOccurrences(of: absoluteOCIPrefix, with: Self.relativeOCIPrefix)
    }

    /// A stored document as `t`; one that does not decode is a damaged database (Internal),
    /// named by `what` (for example "ClusterStack 'base'"), never taken for a missing one.
    func decode<T: Decodable>(_ t: T.Type, _ s: String, what: String? = nil) throws -> T {
        do {
            return try JSONDecoder().decode(t, from: Data(s.replacingOccurrences(of: Self.relativeOCIPrefix, with: absoluteOCIPrefix).utf8))
        } catch let e as DecodingError {
            throw EngineError.unreadableDocument(what ?? "\(T.self)", e)
        }
    }

    /// Rewrites every document once so paths inside the state directory are relative (stores
    /// from before this form held them absolute). Done once (`meta.paths`); one transaction.
    func relativizeStoredPaths() throws {
        if try !db.query("SELECT 1 FROM meta WHERE key='paths' AND value='relative'").isEmpty { return }
        try db.transaction { tx in
            for table in ["objects", "builds"] {
                let rows = try tx.query("SELECT rowid, document FROM \(table) WHERE document LIKE ?", [.text("%" + absoluteOCIPrefix.dropFirst() + "%")])
                for r in rows {
                    guard let id = r[0].integer, let doc = r[1].text else { continue }
                    try tx.query("UPDATE \(table) SET document=? WHERE rowid=?",
                                 [.text(doc.replacingOccurrences(of: absoluteOCIPrefix, with: Self.relativeOCIPrefix)), .integer(id)])
                }
            }
            try tx.query("INSERT OR REPLACE INTO meta(key, value) VALUES('paths', 'relative')", [])
        }
    }

    // MARK: Objects

    public func object<T: Decodable>(_ type: T.Type, kind: Kind, namespace: String = "", name: String, in ex: SQLExecutor? = nil) throws -> T? {
        let rows = try (ex ?? db).query("SELECT document FROM objects WHERE kind=? AND namespace=? AND name=?",
                                        [.text(kind.rawValue), .text(namespace), .text(name)])
        return try rows.first?.first?.text.map { try decode(T.self, $0, what: "\(kind.rawValue) '\(namespace.isEmpty ? name : namespace + "/" + name)'") }
    }

    public func objects<T: Decodable>(_ type: T.Type, kind: Kind, namespace: String? = nil, in ex: SQLExecutor? = nil) throws -> [T] {
        let rows: [[SQLiteDatabase.Value]]
        if let namespace {
            rows = try (ex ?? db).query("SELECT document FROM objects WHERE kind=? AND namespace=? ORDER BY name", [.text(kind.rawValue), .text(namespace)])
        } else {
            rows = try (ex ?? db).query("SELECT document FROM objects WHERE kind=? ORDER BY namespace, name", [.text(kind.rawValue)])
        }
        return try rows.compactMap { try $0.first?.text.map { try decode(T.self, $0) } }
    }

    /// Inserts a new object; false if one with the name exists.
    public func insert<T: Encodable>(_ value: T, kind: Kind, namespace: String = "", name: String, in ex: SQLExecutor? = nil) throws -> Bool {
        let ex = ex ?? db
        if try !ex.query("SELECT 1 FROM objects WHERE kind=? AND namespace=? AND name=?", [.text(kind.rawValue), .text(namespace), .text(name)]).isEmpty {
            return false
        }
        try ex.query("INSERT INTO objects(kind, namespace, name, document) VALUES(?,?,?,?)",
                     [.text(kind.rawValue), .text(namespace), .text(name), .text(try encode(value))])
        return true
    }

    public func put<T: Encodable>(_ value: T, kind: Kind, namespace: String = "", name: String, in ex: SQLExecutor? = nil) throws {
        try (ex ?? db).query("INSERT OR REPLACE INTO objects(kind, namespace, name, document) VALUES(?,?,?,?)",
                             [.text(kind.rawValue), .text(namespace), .text(name), .text(try encode(value))])
    }

    @discardableResult
    public func delete(kind: Kind, namespace: String = "", name: String, in ex: SQLExecutor? = nil) throws -> Bool {
        let ex = ex ?? db
        let existed = try !ex.query("SELECT 1 FROM objects WHERE kind=? AND namespace=? AND name=?", [.text(kind.rawValue), .text(namespace), .text(name)]).isEmpty
        try ex.query("DELETE FROM objects WHERE kind=? AND namespace=? AND name=?", [.text(kind.rawValue), .text(namespace), .text(name)])
        return existed
    }

    // MARK: Builds

    public func putBuild(_ b: Build, in ex: SQLExecutor? = nil) throws {
        try (ex ?? db).query("INSERT OR REPLACE INTO builds(namespace, image, number, status, document) VALUES(?,?,?,?,?)",
                             [.text(b.namespace), .text(b.image), .integer(Int64(b.number)), .text(b.status.rawValue), .text(try encode(b))])
    }

    public func build(namespace: String, image: String, number: Int, in ex: SQLExecutor? = nil) throws -> Build? {
        let rows = try (ex ?? db).query("SELECT document FROM builds WHERE namespace=? AND image=? AND number=?",
                                        [.text(namespace), .text(image), .integer(Int64(number))])
        return try rows.first?.first?.text.map { try decode(Build.self, $0) }
    }

    public func latestBuild(namespace: String, image: String, in ex: SQLExecutor? = nil) throws -> Build? {
        let rows = try (ex ?? db).query("SELECT document FROM builds WHERE namespace=? AND image=? ORDER BY number DESC LIMIT 1",
                                        [.text(namespace), .text(image)])
        return try rows.first?.first?.text.map { try decode(Build.self, $0) }
    }

    /// One page of a namespace's builds, by image and number: those after `after`, at most
    /// `limit`, and whether more follow.
    public func builds(namespace: String, image: String?, after: (image: String, number: Int)?, limit: Int) throws -> (builds: [Build], more: Bool) {
        // Not the builds of stand-alone runs' carriers (`run.<name>`): those are listed as runs.
        var sql = "SELECT document FROM builds WHERE namespace=? AND image NOT LIKE 'run.%'"
        var args: [SQLiteDatabase.Value] = [.text(namespace)]
        if let image { sql += " AND image=?"; args.append(.text(image)) }
        if let after { sql += " AND (image, number) > (?, ?)"; args += [.text(after.image), .integer(Int64(after.number))] }
        sql += " ORDER BY image, number LIMIT ?"
        args.append(.integer(Int64(limit) + 1))
        var page = try db.query(sql, args).compactMap { try $0.first?.text.map { try decode(Build.self, $0) } }
        let more = page.count > limit
        if more { page.removeLast() }
        return (page, more)
    }

    public func builds(namespace: String?, image: String?, in ex: SQLExecutor? = nil) throws -> [Build] {
        var sql = "SELECT document FROM builds"
        var args: [SQLiteDatabase.Value] = []
        var conds: [String] = []
        if let namespace { conds.append("namespace=?"); args.append(.text(namespace)) }
        if let image { conds.append("image=?"); args.append(.text(image)) }
        if !conds.isEmpty { sql += " WHERE " + conds.joined(separator: " AND ") }
        sql += " ORDER BY namespace, image, number"
        return try (ex ?? db).query(sql, args).compactMap { try $0.first?.text.map { try decode(Build.self, $0) } }
    }

    public func builds(withStatus status: BuildState, in ex: SQLExecutor? = nil) throws -> [Build] {
        try (ex ?? db).query("SELECT document FROM builds WHERE status=? ORDER BY namespace, image, number", [.text(status.rawValue)])
            .compactMap { try $0.first?.text.map { try decode(Build.self, $0) } }
    }

    public func buildStates(namespace: String, image: String, in ex: SQLExecutor? = nil) throws -> [(number: Int, status: BuildState)] {
        try (ex ?? db).query("SELECT number, status FROM builds WHERE namespace=? AND image=?", [.text(namespace), .text(image)]).compactMap { r in
            guard let n = r[0].integer, let s = r[1].text.flatMap(BuildState.init(rawValue:)) else { return nil }
            return (Int(n), s)
        }
    }

    public func deleteBuilds(namespace: String, image: String, numbers: [Int]? = nil, in ex: SQLExecutor? = nil) throws {
        let ex = ex ?? db
        if let numbers {
            for n in numbers {
                try ex.query("DELETE FROM builds WHERE namespace=? AND image=? AND number=?", [.text(namespace), .text(image), .integer(Int64(n))])
            }
        } else {
            try ex.query("DELETE FROM builds WHERE namespace=? AND image=?", [.text(namespace), .text(image)])
        }
    }

    // MARK: Events

    /// Records an event in the transaction `tx` (the one that makes the change it describes, so
    /// the two are kept or lost together). The same object, type, reason and message as a kept
    /// event bumps that event instead of adding one (as kubectl aggregates): its count and last
    /// time, and it moves to the end (a new id), so lists in id order are in last-time order.
    public func addEvent(type: SystemEvent.EventType, reason: String, message: String, object: EventObject, time: String,
                         in tx: SQLExecutor) throws -> SystemEvent {
        let ns = object.namespace ?? ""
        let same = try tx.query("""
            SELECT id, document FROM events WHERE namespace=? AND kind=? AND name=? AND reason=? AND type=? AND message=?
            ORDER BY id DESC LIMIT 1
            """, [.text(ns), .text(object.kind), .text(object.name), .text(reason), .text(type.rawValue), .text(message)])
        var event = SystemEvent(id: 0, type: type, reason: reason, message: message, object: object, firstTime: time, lastTime: time, count: 1)
        if let row = same.first, let id = row[0].integer, let last = try row[1].text.map({ try decode(SystemEvent.self, $0) }) {
            event.count = last.count + 1
            event.firstTime = last.firstTime
            try tx.query("DELETE FROM events WHERE id=?", [.integer(id)])
        }
        try tx.query("INSERT INTO events(namespace, kind, name, reason, type, message, last_time, document) VALUES(?,?,?,?,?,?,?,?)",
                     [.text(ns), .text(object.kind), .text(object.name), .text(reason), .text(type.rawValue), .text(message), .text(time), .text("{}")])
        event.id = try tx.query("SELECT last_insert_rowid()", [])[0][0].integer ?? 0
        try tx.query("UPDATE events SET document=? WHERE id=?", [.text(try encode(event)), .integer(event.id)])
        return event
    }

    /// Which events a list wants.
    public struct EventQuery: Sendable {
        public var namespace: String?
        public var object: EventObject?
        public var type: SystemEvent.EventType?
        public var reason: String?
        /// Events whose last time is at or after this.
        /// Only events last seen at or after this time.
        public var since: Date?
        /// Events after this id (where the previous page ended).
        public var afterID: Int64 = 0
        public var limit: Int = 500

        public init(namespace: String? = nil, object: EventObject? = nil, type: SystemEvent.EventType? = nil, reason: String? = nil,
                    since: Date? = nil, afterID: Int64 = 0, limit: Int = 500) {
            self.namespace = namespace
            self.object = object
            self.type = type
            self.reason = reason
            self.since = since
            self.afterID = afterID
            self.limit = limit
        }
    }

    /// One page of events in id order (last-time order), and whether more follow.
    public func events(_ q: EventQuery) throws -> (events: [SystemEvent], more: Bool) {
        var sql = "SELECT document FROM events WHERE id > ?"
        var args: [SQLiteDatabase.Value] = [.integer(q.afterID)]
        if let ns = q.namespace { sql += " AND namespace=?"; args.append(.text(ns)) }
        if let o = q.object {
            sql += " AND kind=? AND name=?"
            args += [.text(o.kind), .text(o.name)]
        }
        if let t = q.type { sql += " AND type=?"; args.append(.text(t.rawValue)) }
        if let r = q.reason { sql += " AND reason=?"; args.append(.text(r)) }
        if let since = q.since { sql += " AND last_time >= ?"; args.append(.time(since)) }
        sql += " ORDER BY id LIMIT ?"
        args.append(.integer(Int64(q.limit) + 1))
        var page = try db.query(sql, args).compactMap { try $0.first?.text.map { try decode(SystemEvent.self, $0) } }
        let more = page.count > q.limit
        if more { page.removeLast() }
        return (page, more)
    }

    /// How many events are kept, and the bytes of their documents.
    public func eventUsage() throws -> (count: Int, bytes: Int64) {
        let row = try db.query("SELECT count(*), coalesce(sum(length(document)), 0) FROM events", []).first
        return (Int(row?[0].integer ?? 0), row?[1].integer ?? 0)
    }

    /// Deletes the events last seen before `time`; returns how many.
    @discardableResult
    public func deleteEvents(lastSeenBefore time: Date) throws -> Int {
        try db.transaction { tx in
            try tx.query("DELETE FROM events WHERE last_time < ?", [.time(time)])
            return Int(try tx.query("SELECT changes()", [])[0][0].integer ?? 0)
        }
    }
}
