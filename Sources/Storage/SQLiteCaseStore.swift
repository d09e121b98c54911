import Foundation
import GRDB
import Lawful

/// Cases in the embedded SQLite database: one row per case (the case as JSON beside the columns
/// the queries need), and the digests of notice-page tokens (never the tokens).
public final class SQLiteCaseStore: CaseStore {
    private let database: DatabaseQueue
    private let observer: any StorageObserver

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Opens (creating or migrating) the store at `path`; `":memory:"` for a private one.
    /// WAL with `synchronous = FULL`: a saved case (a notice recorded as sent) survives a power
    /// loss, so the subscriber is not mailed twice (see `SQLiteFile`).
    public init(path: String, observer: any StorageObserver = NoStorageObserver()) throws {
        database = try SQLiteFile.open(path, synchronous: .full)
        self.observer = observer
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: cases and notice tokens") { db in
            try db.execute(
                sql: """
                    CREATE TABLE lawful_case (
                        id TEXT PRIMARY KEY NOT NULL,
                        subscriber TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        state TEXT NOT NULL,
                        updated INTEGER NOT NULL,
                        body TEXT NOT NULL
                    );
                    CREATE INDEX lawful_case_subscriber ON lawful_case(subscriber, kind);
                    CREATE INDEX lawful_case_state ON lawful_case(state, updated);
                    CREATE TABLE notice_token (
                        digest TEXT PRIMARY KEY NOT NULL,
                        case_id TEXT NOT NULL REFERENCES lawful_case(id) ON DELETE CASCADE,
                        language TEXT NOT NULL,
                        expires INTEGER NOT NULL
                    );
                    """)
        }
        try migrator.migrate(database)
    }

    public func save(_ c: LawfulCase) throws {
        let body = String(decoding: try Self.encoder.encode(c), as: UTF8.self)
        try observer.observe("cases") {
            try database.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO lawful_case (id, subscriber, kind, state, updated, body) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated = excluded.updated, body = excluded.body
                        """, arguments: [c.id, c.subscriber, c.kind.rawValue, c.state.rawValue, c.updated, body])
            }
        }
    }

    public func get(_ id: String) throws -> LawfulCase? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM lawful_case WHERE id = ?", arguments: [id]).flatMap(Self.decode)
        }
    }

    /// The newest case of `kind` for `subscriber`, whatever its state.
    public func latest(subscriber: String, kind: NoticeContent.Kind) throws -> LawfulCase? {
        try database.read { db in
            try String.fetchOne(
                db, sql: "SELECT body FROM lawful_case WHERE subscriber = ? AND kind = ? ORDER BY updated DESC LIMIT 1",
                arguments: [subscriber, kind.rawValue]
            ).flatMap(Self.decode)
        }
    }

    /// The cases of `kind` for `subscriber`, newest first.
    public func cases(subscriber: String, kind: NoticeContent.Kind, limit: Int) throws -> [LawfulCase] {
        try database.read { db in
            try String.fetchAll(
                db, sql: "SELECT body FROM lawful_case WHERE subscriber = ? AND kind = ? ORDER BY updated DESC LIMIT ?",
                arguments: [subscriber, kind.rawValue, limit]
            ).compactMap(Self.decode)
        }
    }

    /// Cases, newest first, optionally in one state.
    public func list(state: CaseState?, limit: Int) throws -> [LawfulCase] {
        try database.read { db in
            if let state {
                return try String.fetchAll(
                    db, sql: "SELECT body FROM lawful_case WHERE state = ? ORDER BY updated DESC LIMIT ?",
                    arguments: [state.rawValue, limit]
                ).compactMap(Self.decode)
            }
            return try String.fetchAll(db, sql: "SELECT body FROM lawful_case ORDER BY updated DESC LIMIT ?", arguments: [limit])
                .compactMap(Self.decode)
        }
    }

    /// Remembers a notice-page token by its digest.
    public func addToken(digest: String, caseID: String, language: String, expires: Int64) throws {
        try observer.observe("cases") {
            try database.write { db in
                try db.execute(
                    sql: "INSERT INTO notice_token (digest, case_id, language, expires) VALUES (?, ?, ?, ?)",
                    arguments: [digest, caseID, language, expires])
            }
        }
    }

    /// The case and language a token opens, and when it expires.
    public func token(digest: String) throws -> (caseID: String, language: String, expires: Int64)? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT case_id, language, expires FROM notice_token WHERE digest = ?", arguments: [digest])
                .map { ($0["case_id"], $0["language"], $0["expires"]) }
        }
    }

    /// Deletes finished cases (and their tokens) not updated since `cutoff`, and expired tokens.
    /// Returns the number of cases deleted.
    @discardableResult
    public func sweep(finishedBefore cutoff: Int64, now: Int64) throws -> Int {
        try observer.observe("cases") {
            try database.write { db in
                let finished = Self.sweptStates.map { "'\($0.rawValue)'" }.sorted().joined(separator: ",")
                try db.execute(
                    sql:
                        "DELETE FROM notice_token WHERE expires < ? OR case_id IN (SELECT id FROM lawful_case WHERE state IN (\(finished)) AND updated < ?)",
                    arguments: [now, cutoff])
                try db.execute(sql: "DELETE FROM lawful_case WHERE state IN (\(finished)) AND updated < ?", arguments: [cutoff])
                return db.changesCount
            }
        }
    }

    /// The database's `journal_mode` and `synchronous` level (for tests and diagnostics).
    public func durabilitySettings() throws -> (journalMode: String, synchronous: Int) { try SQLiteFile.settings(of: database) }

    public func count() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM lawful_case") ?? 0 }
    }

    private static func decode(_ body: String) -> LawfulCase? {
        try? JSONDecoder().decode(LawfulCase.self, from: Data(body.utf8))
    }
}
