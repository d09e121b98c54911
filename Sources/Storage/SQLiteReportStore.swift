import Foundation
import GRDB

/// What the report intake remembers across restarts, in the embedded SQLite database: the keys
/// of reports already taken (to recognise the same report sent again, days later) and the
/// reports no subscriber could be found for (kept for the analyst with the reason). Both hold
/// the carrier's own addresses and nothing about a subscriber; both are bounded and swept after
/// their retention (``sweep(before:)``).
public final class SQLiteReportStore: Sendable {
    private let database: DatabaseQueue
    /// Reports kept for the analyst at most (the oldest deleted first).
    public let maximumUnattributed: Int
    /// Report keys remembered at most (the oldest deleted first).
    public let maximumKeys: Int

    /// A report Mamori could not put to a subscriber, as stored.
    public struct Unattributed: Sendable, Hashable, Codable {
        public var source: String
        public var reportType: String
        public var problem: String
        public var address: String
        public var port: UInt16?
        /// When the reporter saw it and when Mamori took it (ms).
        public var time: Int64
        public var receivedAt: Int64
        public var outcome: String
        public var reason: String

        public init(
            source: String, reportType: String, problem: String, address: String, port: UInt16?, time: Int64, receivedAt: Int64,
            outcome: String, reason: String
        ) {
            self.source = source
            self.reportType = reportType
            self.problem = problem
            self.address = address
            self.port = port
            self.time = time
            self.receivedAt = receivedAt
            self.outcome = outcome
            self.reason = reason
        }
    }

    /// Opens (creating or migrating) the store at `path`; `":memory:"` for a private one.
    public init(path: String, maximumUnattributed: Int = 100_000, maximumKeys: Int = 5_000_000) throws {
        database = try SQLiteFile.open(path, synchronous: .normal)
        self.maximumUnattributed = maximumUnattributed
        self.maximumKeys = maximumKeys
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: report keys and unattributed reports") { db in
            try db.execute(
                sql: """
                    CREATE TABLE report_key (key INTEGER PRIMARY KEY NOT NULL, taken INTEGER NOT NULL);
                    CREATE INDEX report_key_taken ON report_key(taken);
                    CREATE TABLE unattributed_report (
                        n INTEGER PRIMARY KEY AUTOINCREMENT,
                        received INTEGER NOT NULL,
                        body TEXT NOT NULL
                    );
                    CREATE INDEX unattributed_report_received ON unattributed_report(received);
                    """)
        }
        try migrator.migrate(database)
    }

    /// Remembers `keys` taken at `now`; returns, for each, whether it was new (not taken before,
    /// nor earlier in the same list).
    public func remember(_ keys: [Int64], at now: Int64) throws -> [Bool] {
        guard !keys.isEmpty else { return [] }
        return try database.write { db in
            var fresh: [Bool] = []
            fresh.reserveCapacity(keys.count)
            let insert = try db.makeStatement(sql: "INSERT OR IGNORE INTO report_key (key, taken) VALUES (?, ?)")
            for key in keys {
                try insert.execute(arguments: [key, now])
                fresh.append(db.changesCount > 0)
            }
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM report_key") ?? 0
            if count > maximumKeys {
                try db.execute(
                    sql: "DELETE FROM report_key WHERE key IN (SELECT key FROM report_key ORDER BY taken LIMIT ?)",
                    arguments: [count - maximumKeys])
            }
            return fresh
        }
    }

    public func keep(_ reports: [Unattributed]) throws {
        guard !reports.isEmpty else { return }
        let encoder = JSONEncoder()
        try database.write { db in
            for r in reports {
                try db.execute(
                    sql: "INSERT INTO unattributed_report (received, body) VALUES (?, ?)",
                    arguments: [r.receivedAt, String(decoding: try encoder.encode(r), as: UTF8.self)])
            }
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM unattributed_report") ?? 0
            if count > maximumUnattributed {
                try db.execute(
                    sql: "DELETE FROM unattributed_report WHERE n IN (SELECT n FROM unattributed_report ORDER BY n LIMIT ?)",
                    arguments: [count - maximumUnattributed])
            }
        }
    }

    /// The newest first.
    public func unattributed(limit: Int) throws -> [Unattributed] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM unattributed_report ORDER BY n DESC LIMIT ?", arguments: [limit])
                .compactMap { try? JSONDecoder().decode(Unattributed.self, from: Data($0.utf8)) }
        }
    }

    /// Deletes what was taken before `cutoff` (ms); returns the rows deleted.
    @discardableResult
    public func sweep(before cutoff: Int64) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM report_key WHERE taken < ?", arguments: [cutoff])
            var deleted = db.changesCount
            try db.execute(sql: "DELETE FROM unattributed_report WHERE received < ?", arguments: [cutoff])
            deleted += db.changesCount
            return deleted
        }
    }

    public func counts() throws -> (keys: Int, unattributed: Int) {
        try database.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM report_key") ?? 0,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM unattributed_report") ?? 0
            )
        }
    }
}
