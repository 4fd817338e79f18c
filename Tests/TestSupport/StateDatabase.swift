import Foundation

/// The state directory's SQLite database, changed behind the engine's back as a crash or an
/// older version would leave it.
public enum StateDatabase {
    /// Stops the engine of the state directory holding `db`, then runs `sql` on it.
    public static func sqlite(_ db: String, _ sql: String) async throws {
        let stop = try await sh("'\(Repo.slipway)' engine stop --state-dir '\(URL(fileURLWithPath: db).deletingLastPathComponent().path)'")
        guard stop.status == 0 else { throw TestFailure("engine stop: \(stop.err)") }
        let r = try await sh("python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' '\(db)' \"\(sql)\"")
        guard r.status == 0 else { throw TestFailure("sqlite: \(r.err)") }
    }
}
