import Foundation
import GRDB
import Lawful

/// The consent registry: every consent event ever recorded per subscriber pseudonym (full
/// history, never updated in place), and the contact a notice goes to.
///
/// Subscribers appear only as pseudonyms; the contact (e-mail address, language) is kept because
/// notices need it, and only for subscribers the carrier's customer system lists.
public final class SQLiteConsentRegistry: ConsentRegistry, Sendable {
    private let database: DatabaseQueue
    private let observer: any StorageObserver

    public typealias Contact = SubscriberContact
    public typealias ImportSummary = ConsentImportSummary

    /// Opens (creating or migrating) the registry at `path`; `":memory:"` for a private one.
    /// WAL with `synchronous = FULL`: an acknowledged consent change survives a power loss (see `SQLiteFile`).
    public init(path: String, observer: any StorageObserver = NoStorageObserver()) throws {
        database = try SQLiteFile.open(path, synchronous: .full)
        self.observer = observer
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: consent events and contacts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE consent_event (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        subscriber TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        action TEXT,
                        terms_version TEXT,
                        at INTEGER NOT NULL,
                        method TEXT NOT NULL,
                        recorded_by TEXT NOT NULL,
                        recorded_at INTEGER NOT NULL
                    );
                    CREATE INDEX consent_event_subscriber ON consent_event(subscriber, at);
                    CREATE TABLE contact (
                        subscriber TEXT PRIMARY KEY NOT NULL,
                        email TEXT,
                        language TEXT,
                        updated_at INTEGER NOT NULL
                    );
                    """)
        }
        try migrator.migrate(database)
    }

    /// The database's `journal_mode` and `synchronous` level (for tests and diagnostics).
    public func durabilitySettings() throws -> (journalMode: String, synchronous: Int) { try SQLiteFile.settings(of: database) }

    /// Records events (each must be well formed: ``ConsentEvent/problem``).
    public func record(_ events: [ConsentEvent], recordedAt: Int64) throws {
        for e in events {
            if let problem = e.problem { throw ConsentRegistryError(problem) }
        }
        guard !events.isEmpty else { return }
        try observer.observe("consent") { try database.write { db in try Self.insert(events, recordedAt: recordedAt, db) } }
    }

    private static func insert(_ events: [ConsentEvent], recordedAt: Int64, _ db: Database) throws {
        for e in events {
            try db.execute(
                sql: """
                    INSERT INTO consent_event (subscriber, kind, action, terms_version, at, method, recorded_by, recorded_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [e.subscriber, e.kind.rawValue, e.action?.rawValue, e.termsVersion, e.at, e.method, e.recordedBy, recordedAt])
        }
    }

    /// Every event for `subscriber`, in the order recorded.
    public func history(of subscriber: String) throws -> [ConsentEvent] {
        try database.read { db in try Self.history(of: subscriber, db) }
    }

    private static func history(of subscriber: String, _ db: Database) throws -> [ConsentEvent] {
        try Row.fetchAll(db, sql: "SELECT * FROM consent_event WHERE subscriber = ? ORDER BY id", arguments: [subscriber]).compactMap(
            Self.event)
    }

    public func setContact(_ contact: Contact, for subscriber: String, at: Int64) throws {
        try observer.observe("consent") { try database.write { db in try Self.setContact(contact, for: subscriber, at: at, db) } }
    }

    private static func setContact(_ contact: Contact, for subscriber: String, at: Int64, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO contact (subscriber, email, language, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(subscriber) DO UPDATE SET email = excluded.email, language = excluded.language, updated_at = excluded.updated_at
                """, arguments: [subscriber, contact.email, contact.language, at])
    }

    public func contact(of subscriber: String) throws -> Contact? {
        try database.read { db in try Self.contact(of: subscriber, db) }
    }

    private static func contact(of subscriber: String, _ db: Database) throws -> Contact? {
        try Row.fetchOne(db, sql: "SELECT email, language FROM contact WHERE subscriber = ?", arguments: [subscriber])
            .map { Contact(email: $0["email"], language: $0["language"]) }
    }

    /// Subscribers with any event or contact.
    public func subscriberCount() throws -> Int {
        try database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT subscriber FROM consent_event UNION SELECT subscriber FROM contact)")
                ?? 0
        }
    }

    /// Subscribers with an event about `action`, at most `limit`.
    public func subscribers(withEventsFor action: LawfulAction, limit: Int) throws -> [String] {
        try database.read { db in
            try String.fetchAll(
                db, sql: "SELECT DISTINCT subscriber FROM consent_event WHERE action = ? ORDER BY subscriber LIMIT ?",
                arguments: [action.rawValue, limit])
        }
    }

    /// Imports a customer export: pseudonymises each account, records the events that bring the
    /// registry to what the line says, updates the contact. Bad lines are reported, good ones kept.
    public func importCustomers(_ file: CustomerConsentFile, pseudonym: (String) -> String, at: Int64, source: String) throws
        -> ImportSummary
    {
        var summary = ImportSummary(
            lines: file.rows.count + file.rejected.count, subscribers: 0, events: 0, contacts: 0,
            rejected: file.rejected.map { ConsentImportSummary.RejectedLine(line: $0.line, reason: $0.reason) })
        // One transaction for the whole file: a file of a million lines is one commit (one fsync),
        // and an import that fails midway leaves the registry as it was.
        try observer.observe("consent") {
            try database.write { db in
                for row in file.rows {
                    let subscriber = pseudonym(row.account)
                    let events = row.events(
                        subscriber: subscriber, current: ConsentState(events: try Self.history(of: subscriber, db), at: .max),
                        importedAt: at, source: source)
                    if let problem = events.lazy.compactMap(\.problem).first { throw ConsentRegistryError(problem) }
                    try Self.insert(events, recordedAt: at, db)
                    summary.events += events.count
                    summary.subscribers += 1
                    // The stored contact is read only for lines that say something about it.
                    if row.email != nil || row.language != nil, let new = row.contact(updating: try Self.contact(of: subscriber, db)) {
                        try Self.setContact(new, for: subscriber, at: at, db)
                        summary.contacts += 1
                    }
                }
            }
        }
        return summary
    }

    private static func event(_ row: Row) -> ConsentEvent? {
        guard let kind = ConsentEvent.Kind(rawValue: row["kind"]) else { return nil }
        let action: LawfulAction? = (row["action"] as String?).flatMap(LawfulAction.init(rawValue:))
        return ConsentEvent(
            subscriber: row["subscriber"], kind: kind, action: action, termsVersion: row["terms_version"], at: row["at"],
            method: row["method"], recordedBy: row["recorded_by"])
    }
}

/// A consent event was refused.
public struct ConsentRegistryError: StorageInputError, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
