import SlipwayProtocol
import CSQLite
import Foundation
import Synchronization

/// A SQLite database in WAL mode, used from any thread: one connection, serialised by a lock.
/// With WAL and `synchronous=NORMAL`, a committed transaction survives the process being killed
/// (`kill -9`); that is the durability Slipway promises for acknowledged writes.
///
/// The locking mode is EXCLUSIVE (one engine owns its state directory, see `engine.lock`), so
/// WAL needs no shared-memory file: on a full disk the database still opens and answers reads,
/// and a write fails with "no space left on device" (Unavailable) instead of an I/O error.
public final class SQLiteDatabase: Sendable {
    private let handle: Mutex<OpaquePointer?>
    /// The folder holding the database, for messages about space.
    let directory: String

    /// A value bound to or read from a statement.
    public enum Value: Sendable, Equatable {
        case null, integer(Int64), text(String), real(Double)
        var text: String? { if case .text(let s) = self { return s }; return nil }
        var integer: Int64? { if case .integer(let i) = self { return i }; return nil }
        /// A time as stored: `Timestamp.format`'s one fixed form, in which text order is time
        /// order (what SQL comparisons of stored times rely on).
        static func time(_ date: Date) -> Value { .text(Timestamp.format(date)) }
    }

    public init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw EngineError.internal("cannot open the state database \(path): \(message)")
        }
        sqlite3_busy_timeout(db, 5000)
        handle = Mutex(db)
        directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try execute("PRAGMA locking_mode=EXCLUSIVE")
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        _ = handle.withLock { sqlite3_close($0) }
    }

    /// Runs one or more statements that return nothing.
    public func execute(_ sql: String) throws {
        try handle.withLock { db in
            var err: UnsafeMutablePointer<CChar>?
            let rc = sqlite3_exec(db, sql, nil, nil, &err)
            if rc != SQLITE_OK {
                let m = err.map { String(cString: $0) } ?? "unknown"
                sqlite3_free(err)
                throw Self.error(rc, m, directory: directory)
            }
        }
    }

    /// Runs `sql` with `args` and returns every row.
    @discardableResult
    public func query(_ sql: String, _ args: [Value] = []) throws -> [[Value]] {
        try handle.withLock { db in try Self.run(db!, sql, args, directory: directory) }
    }

    /// Runs `body` in one transaction; everything it wrote is committed together or not at all.
    public func transaction<T>(_ body: (Transaction) throws -> T) throws -> T {
        try handle.withLock { db in
            _ = try Self.run(db!, "BEGIN IMMEDIATE", [], directory: directory)
            do {
                let result = try body(Transaction(db: db!, directory: directory))
                _ = try Self.run(db!, "COMMIT", [], directory: directory)
                return result
            } catch {
                // A failed rollback leaves SQLite to roll back itself (it does for a failed commit).
                _ = try? Self.run(db!, "ROLLBACK", [], directory: directory)  // see above: the body's error is the one thrown
                throw error
            }
        }
    }

    /// Statements run inside `transaction`.
    public struct Transaction {
        let db: OpaquePointer
        let directory: String
        @discardableResult
        public func query(_ sql: String, _ args: [Value] = []) throws -> [[Value]] { try SQLiteDatabase.run(db, sql, args, directory: directory) }
    }

    /// The engine's error for a SQLite failure: a full disk is Unavailable and says where.
    static func error(_ rc: Int32, _ message: String, directory: String) -> EngineError {
        if rc & 0xFF == SQLITE_FULL || (rc & 0xFF == SQLITE_IOERR && errno == ENOSPC) {
            return EngineError(.unavailable, "no space left on device in \(directory); free some space there and try again")
        }
        return EngineError.internal("database: \(message)")
    }

    static func run(_ db: OpaquePointer, _ sql: String, _ args: [Value], directory: String) throws -> [[Value]] {
        var stmt: OpaquePointer?
        let prepared = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard prepared == SQLITE_OK, let stmt else {
            throw error(prepared, "\(String(cString: sqlite3_errmsg(db))) in \(sql)", directory: directory)
        }
        defer { sqlite3_finalize(stmt) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, a) in args.enumerated() {
            let idx = Int32(i + 1)
            switch a {
            case .null: sqlite3_bind_null(stmt, idx)
            case .integer(let v): sqlite3_bind_int64(stmt, idx, v)
            case .real(let v): sqlite3_bind_double(stmt, idx, v)
            case .text(let s): sqlite3_bind_text(stmt, idx, s, -1, transient)
            }
        }
        var rows: [[Value]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw error(rc, "\(String(cString: sqlite3_errmsg(db))) in \(sql)", directory: directory)
            }
            let n = sqlite3_column_count(stmt)
            var row: [Value] = []
            row.reserveCapacity(Int(n))
            for c in 0..<n {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(stmt, c)))
                case SQLITE_NULL: row.append(.null)
                default:
                    let p = sqlite3_column_text(stmt, c)
                    let len = Int(sqlite3_column_bytes(stmt, c))
                    row.append(.text(p.map { String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""))
                }
            }
            rows.append(row)
        }
        return rows
    }
}
