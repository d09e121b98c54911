import Foundation
import GRDB

/// What the IP-phone fraud side keeps (issue 24), in its own SQLite database: the calls classed
/// fraudulent (the billing system's report: victims are not to pay for them), the findings on
/// hijacked lines, and the block rules with their history. Rows are JSON bodies the service
/// writes, with the columns it looks them up by; the store knows nothing of their shape.
///
/// Fraudulent calls hold an account and the numbers it called: they are kept because the finding
/// needs them (the carrier must not bill them), for `retention` days, then swept. At most
/// ``maximumCalls`` are kept (the oldest go first).
public final class SQLiteFraudStore: Sendable {
    private let database: DatabaseQueue
    public let maximumCalls: Int

    public struct Row: Sendable, Hashable {
        public var key: String
        public var account: String
        public var time: Int64
        public var body: Data
        public init(key: String, account: String, time: Int64, body: Data) {
            self.key = key
            self.account = account
            self.time = time
            self.body = body
        }
    }

    public init(path: String, maximumCalls: Int = 10_000_000) throws {
        database = try SQLiteFile.open(path, synchronous: .normal)
        self.maximumCalls = maximumCalls
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: fraudulent calls, findings, block rules") { db in
            try db.execute(
                sql: """
                    CREATE TABLE fraud_call (
                        n INTEGER PRIMARY KEY AUTOINCREMENT,
                        key TEXT NOT NULL UNIQUE,
                        account TEXT NOT NULL,
                        start INTEGER NOT NULL,
                        body BLOB NOT NULL
                    );
                    CREATE INDEX fraud_call_account ON fraud_call(account, start);
                    CREATE INDEX fraud_call_start ON fraud_call(start);
                    CREATE TABLE fraud_finding (
                        id TEXT PRIMARY KEY NOT NULL,
                        account TEXT NOT NULL,
                        updated INTEGER NOT NULL,
                        body BLOB NOT NULL
                    );
                    CREATE INDEX fraud_finding_updated ON fraud_finding(updated);
                    CREATE TABLE block_rule (
                        id TEXT PRIMARY KEY NOT NULL,
                        state TEXT NOT NULL,
                        updated INTEGER NOT NULL,
                        body BLOB NOT NULL
                    );
                    CREATE INDEX block_rule_updated ON block_rule(updated);
                    """)
        }
        try migrator.migrate(database)
    }

    /// Saves calls classed fraudulent; a row with a key already there replaces it (the record of
    /// a call reported while it was up). Past ``maximumCalls`` the oldest rows go.
    public func saveCalls(_ rows: [Row]) throws {
        guard !rows.isEmpty else { return }
        try database.write { db in
            let upsert = try db.makeStatement(
                sql: """
                    INSERT INTO fraud_call (key, account, start, body) VALUES (?, ?, ?, ?)
                    ON CONFLICT(key) DO UPDATE SET start = excluded.start, body = excluded.body
                    """)
            for r in rows { try upsert.execute(arguments: [r.key, r.account, r.time, r.body]) }
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM fraud_call") ?? 0
            if count > maximumCalls {
                try db.execute(
                    sql: "DELETE FROM fraud_call WHERE n IN (SELECT n FROM fraud_call ORDER BY n LIMIT ?)",
                    arguments: [count - maximumCalls])
            }
        }
    }

    /// Fraudulent calls, oldest first, of one account or all, started in [since, until).
    public func calls(account: String?, since: Int64, until: Int64, limit: Int) throws -> [Data] {
        try database.read { db in
            if let account {
                return try Data.fetchAll(
                    db, sql: "SELECT body FROM fraud_call WHERE account = ? AND start >= ? AND start < ? ORDER BY start, n LIMIT ?",
                    arguments: [account, since, until, limit])
            }
            return try Data.fetchAll(
                db, sql: "SELECT body FROM fraud_call WHERE start >= ? AND start < ? ORDER BY start, n LIMIT ?",
                arguments: [since, until, limit])
        }
    }

    public func saveFinding(_ row: Row) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO fraud_finding (id, account, updated, body) VALUES (?, ?, ?, ?)",
                arguments: [row.key, row.account, row.time, row.body])
        }
    }

    /// Findings, newest change first.
    public func findings(limit: Int) throws -> [Data] {
        try database.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM fraud_finding ORDER BY updated DESC, id LIMIT ?", arguments: [limit])
        }
    }

    /// Saves rules (by id; `account` carries the rule's state).
    public func saveRules(_ rows: [Row]) throws {
        guard !rows.isEmpty else { return }
        try database.write { db in
            for r in rows {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO block_rule (id, state, updated, body) VALUES (?, ?, ?, ?)",
                    arguments: [r.key, r.account, r.time, r.body])
            }
        }
    }

    /// Rules, newest change first, in the given states (all when empty).
    public func rules(states: [String], limit: Int) throws -> [Data] {
        try database.read { db in
            if states.isEmpty {
                return try Data.fetchAll(db, sql: "SELECT body FROM block_rule ORDER BY updated DESC, id LIMIT ?", arguments: [limit])
            }
            let marks = Array(repeating: "?", count: states.count).joined(separator: ",")
            var arguments = StatementArguments(states)
            arguments += [limit]
            return try Data.fetchAll(
                db, sql: "SELECT body FROM block_rule WHERE state IN (\(marks)) ORDER BY updated DESC, id LIMIT ?", arguments: arguments)
        }
    }

    /// Deletes fraudulent calls started, findings last changed and ended rules last changed before `cutoff`.
    @discardableResult
    public func sweep(before cutoff: Int64) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM fraud_call WHERE start < ?", arguments: [cutoff])
            var removed = db.changesCount
            try db.execute(sql: "DELETE FROM fraud_finding WHERE updated < ?", arguments: [cutoff])
            removed += db.changesCount
            try db.execute(sql: "DELETE FROM block_rule WHERE state = 'ended' AND updated < ?", arguments: [cutoff])
            return removed + db.changesCount
        }
    }
}
