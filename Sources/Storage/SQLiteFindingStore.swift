import Detection
import Foundation
import GRDB
import MamoriCore

/// Findings in an embedded SQLite database (GRDB), one row per finding id plus its verdict.
///
/// The finding itself is stored as JSON (the documented schema) next to indexed columns for the
/// queries the API offers. Only findings are kept — never flow records beyond the few a finding
/// carries as evidence.
public final class SQLiteFindingStore: FindingStore {
    private let database: DatabaseQueue
    private let observer: any StorageObserver

    /// Opens (and creates or migrates) the database at `path`; `":memory:"` for a private in-memory one.
    /// WAL with `synchronous = NORMAL`: findings are written every second and found again from
    /// the traffic, so a power loss that rolls back the last commits costs little (see `SQLiteFile`).
    public init(path: String, observer: any StorageObserver = NoStorageObserver()) throws {
        database = try SQLiteFile.open(path, synchronous: .normal)
        self.observer = observer
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: findings and verdicts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE finding (
                        id TEXT PRIMARY KEY NOT NULL,
                        kind TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        score REAL NOT NULL,
                        first_seen INTEGER NOT NULL,
                        last_seen INTEGER NOT NULL,
                        detected_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        body TEXT NOT NULL
                    );
                    CREATE INDEX finding_kind_last_seen ON finding(kind, last_seen);
                    CREATE INDEX finding_last_seen ON finding(last_seen);
                    CREATE TABLE verdict (
                        finding_id TEXT PRIMARY KEY NOT NULL REFERENCES finding(id) ON DELETE CASCADE,
                        verdict TEXT NOT NULL,
                        analyst TEXT NOT NULL,
                        note TEXT,
                        at INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        subject TEXT NOT NULL
                    );
                    """)
        }
        try migrator.migrate(database)
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public func upsert(_ findings: [Finding]) async throws {
        guard !findings.isEmpty else { return }
        let rows: [(Finding, String)] = try findings.map { f in
            var stored = f
            stored.verdict = nil // kept in its own table
            return (f, String(decoding: try Self.encoder.encode(stored), as: UTF8.self))
        }
        try await observer.observe("findings") {
            try await database.write { db in
                for (f, body) in rows {
                    try db.execute(
                        sql: """
                            INSERT INTO finding (id, kind, subject, score, first_seen, last_seen, detected_at, updated_at, body)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT(id) DO UPDATE SET score = excluded.score, first_seen = min(first_seen, excluded.first_seen),
                                last_seen = max(last_seen, excluded.last_seen), updated_at = excluded.updated_at, body = excluded.body
                            """,
                        arguments: [
                            f.id, f.kind.rawValue, f.subject.description, f.score, f.firstSeen, f.lastSeen, f.detectedAt, f.updatedAt, body,
                        ])
                }
            }
        }
    }

    public func findings(matching q: FindingQuery) async throws -> [Finding] {
        var sql = "SELECT f.body, v.verdict, v.analyst, v.note, v.at FROM finding f LEFT JOIN verdict v ON v.finding_id = f.id WHERE 1"
        var arguments: StatementArguments = []
        if let k = q.kind {
            sql += " AND f.kind = ?"
            arguments += [k.rawValue]
        }
        if let s = q.since {
            sql += " AND f.last_seen >= ?"
            arguments += [s]
        }
        if let u = q.until {
            sql += " AND f.first_seen <= ?"
            arguments += [u]
        }
        if let m = q.minimumScore {
            sql += " AND f.score >= ?"
            arguments += [m]
        }
        sql += " ORDER BY f.score DESC, f.last_seen DESC LIMIT ?"
        arguments += [max(1, min(q.limit, 10_000))]
        let sqlText = sql
        let args = arguments
        return try await database.read { db in
            try Row.fetchAll(db, sql: sqlText, arguments: args).map(Self.finding(from:))
        }
    }

    public func finding(id: String) async throws -> Finding? {
        try await database.read { db in
            try Row.fetchOne(
                db,
                sql:
                    "SELECT f.body, v.verdict, v.analyst, v.note, v.at FROM finding f LEFT JOIN verdict v ON v.finding_id = f.id WHERE f.id = ?",
                arguments: [id]
            )
            .map(Self.finding(from:))
        }
    }

    public func record(_ verdict: Verdict, forFinding id: String) async throws -> Finding? {
        let exists = try await observer.observe("findings") {
            try await database.write { db -> Bool in
                guard let row = try Row.fetchOne(db, sql: "SELECT kind, subject FROM finding WHERE id = ?", arguments: [id]) else {
                    return false
                }
                try db.execute(
                    sql: """
                        INSERT INTO verdict (finding_id, verdict, analyst, note, at, kind, subject) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(finding_id) DO UPDATE SET verdict = excluded.verdict, analyst = excluded.analyst, note = excluded.note, at = excluded.at
                        """,
                    arguments: [
                        id, verdict.verdict.rawValue, verdict.analyst, verdict.note, verdict.at, row["kind"] as String,
                        row["subject"] as String,
                    ])
                return true
            }
        }
        return exists ? try await finding(id: id) : nil
    }

    public func deleteFindings(lastSeenBefore time: Int64) async throws -> Int {
        try await observer.observe("findings") {
            try await database.write { db in
                try db.execute(
                    sql: "DELETE FROM verdict WHERE finding_id IN (SELECT id FROM finding WHERE last_seen < ?)", arguments: [time])
                try db.execute(sql: "DELETE FROM finding WHERE last_seen < ?", arguments: [time])
                return db.changesCount
            }
        }
    }

    public func falsePositiveEndpoints() async throws -> [FindingSubject] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT f.body FROM verdict v JOIN finding f ON f.id = v.finding_id WHERE v.verdict = ? AND v.kind = ?",
                arguments: [Verdict.Kind.falsePositive.rawValue, FindingKind.commandAndControl.rawValue]
            )
            .map { try Self.finding(from: $0).subject }
        }
    }

    /// The database's `journal_mode` and `synchronous` level (for tests and diagnostics).
    public func durabilitySettings() throws -> (journalMode: String, synchronous: Int) { try SQLiteFile.settings(of: database) }

    /// Number of stored findings (for metrics and tests).
    public func count() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM finding") ?? 0 }
    }

    private static func finding(from row: Row) throws -> Finding {
        let body: String = row["body"]
        var f = try JSONDecoder().decode(Finding.self, from: Data(body.utf8))
        if let v: String = row["verdict"], let kind = Verdict.Kind(rawValue: v) {
            f.verdict = Verdict(verdict: kind, analyst: row["analyst"], note: row["note"], at: row["at"])
        }
        return f
    }
}
