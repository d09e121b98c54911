import Foundation
import GRDB
import TAXII

/// The TAXII server's collections and status resources in the embedded SQLite database: one row
/// per object version (the filter columns beside the object's JSON) and one per status resource
/// (its JSON). WAL with `synchronous = FULL`: what was shared with peers, and the status a peer
/// was told, survive a power loss (see `SQLiteFile`).
public final class SQLiteTAXIIObjectStore: TAXIIObjectStore {
    private let database: DatabaseQueue

    /// Opens (creating or migrating) the store at `path`; `":memory:"` for a private one.
    public init(path: String) throws {
        database = try SQLiteFile.open(path, synchronous: .full)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: TAXII object versions and status resources") { db in
            try db.execute(
                sql: """
                    CREATE TABLE taxii_object (
                        collection TEXT NOT NULL,
                        id TEXT NOT NULL,
                        type TEXT NOT NULL,
                        spec_version TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        date_added INTEGER NOT NULL,
                        revoked INTEGER NOT NULL,
                        body BLOB NOT NULL,
                        PRIMARY KEY (collection, date_added)
                    );
                    CREATE UNIQUE INDEX taxii_object_version ON taxii_object(collection, id, version);
                    CREATE TABLE taxii_status (
                        id TEXT PRIMARY KEY NOT NULL,
                        owner TEXT NOT NULL,
                        created INTEGER NOT NULL,
                        body TEXT NOT NULL
                    );
                    CREATE INDEX taxii_status_created ON taxii_status(created);
                    """)
        }
        try migrator.migrate(database)
    }

    public func versions(collection: String) throws -> [TAXIIObjectVersion] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT id, type, spec_version, version, date_added, revoked, body FROM taxii_object WHERE collection = ? ORDER BY date_added",
                arguments: [collection]
            ).map { row in
                TAXIIObjectVersion(
                    id: row["id"], type: row["type"], specVersion: row["spec_version"],
                    version: TAXIITimestamp(microseconds: row["version"]),
                    dateAdded: TAXIITimestamp(microseconds: row["date_added"]), revoked: row["revoked"], json: row["body"])
            }
        }
    }

    public func add(_ versions: [TAXIIObjectVersion], collection: String) throws {
        guard !versions.isEmpty else { return }
        try database.write { db in
            let statement = try db.makeStatement(
                sql:
                    "INSERT INTO taxii_object (collection, id, type, spec_version, version, date_added, revoked, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            )
            for v in versions {
                try statement.execute(arguments: [
                    collection, v.id, v.type, v.specVersion, v.version.microseconds, v.dateAdded.microseconds, v.revoked, v.json,
                ])
            }
        }
    }

    public func deleteObject(_ id: String, collection: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM taxii_object WHERE collection = ? AND id = ?", arguments: [collection, id])
        }
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public func save(_ record: TAXIIStatusRecord) throws {
        let body = String(decoding: try Self.encoder.encode(record.status), as: UTF8.self)
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO taxii_status (id, owner, created, body) VALUES (?, ?, ?, ?)",
                arguments: [record.status.id, record.owner, record.createdAt, body])
        }
    }

    public func status(id: String) throws -> TAXIIStatusRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT owner, created, body FROM taxii_status WHERE id = ?", arguments: [id]).flatMap { row in
                let body: String = row["body"]
                guard let status = try? JSONDecoder().decode(TAXIIStatus.self, from: Data(body.utf8)) else { return nil }
                return TAXIIStatusRecord(status: status, owner: row["owner"], createdAt: row["created"])
            }
        }
    }

    public func sweepStatuses(before cutoff: Int64, keep: Int) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM taxii_status WHERE created < ?", arguments: [cutoff])
            try db.execute(
                sql: "DELETE FROM taxii_status WHERE id NOT IN (SELECT id FROM taxii_status ORDER BY created DESC, id LIMIT ?)",
                arguments: [max(0, keep)])
        }
    }

    /// Status resources held (for tests of the bounds).
    public func statusCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM taxii_status") ?? 0 }
    }
}
