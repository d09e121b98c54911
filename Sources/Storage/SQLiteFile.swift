import Foundation
import GRDB

/// How Mamori opens its SQLite databases: in WAL mode, with the `synchronous` level each store
/// needs, and with files only their owner can read.
///
/// - `journal_mode = WAL`: a write appends to `<file>-wal`; a crash (even `kill -9` in the middle
///   of a transaction) leaves the database as of its last commit, and readers never block writers.
/// - `synchronous` per store (<https://www.sqlite.org/pragma.html#pragma_synchronous>):
///   - ``Synchronous/normal`` for findings: with WAL, a commit survives a crash of the process,
///     and the database is never corrupted; a power loss can roll back the last commits since the
///     latest checkpoint. Findings are written every second and are derived from traffic the
///     detectors see again, so the fsync per commit is not worth it.
///   - ``Synchronous/full`` for cases and the consent registry: the WAL is fsynced at every commit,
///     so a commit that returned survives a power loss too. These are few, and each is a legal
///     record (an opt-out the subscriber was told is recorded) or stops a notice being mailed twice.
/// - The database file is created with mode 0600 before SQLite opens it; SQLite gives its `-wal`
///   and `-shm` files the database file's mode.
enum SQLiteFile {
    enum Synchronous: String {
        case normal = "NORMAL"
        case full = "FULL"
    }

    /// Opens `path` (`":memory:"` for a private in-memory database).
    static func open(_ path: String, synchronous: Synchronous) throws -> DatabaseQueue {
        guard path != ":memory:" else { return try DatabaseQueue() }
        try PrivateFiles.touch(path)
        var configuration = Configuration()
        configuration.journalMode = .wal
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        // Per connection, and a DatabaseQueue has one; set after GRDB's own WAL setup (which sets NORMAL).
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)") }
        return queue
    }

    /// The `journal_mode` and `synchronous` (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA) of an open database, for tests and diagnostics.
    static func settings(of database: DatabaseQueue) throws -> (journalMode: String, synchronous: Int) {
        try database.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
        }
    }
}

/// A storage error in a few words for `/healthz` and logs: SQLite's result code and message
/// (never the statement or its arguments), or the error's own description.
public enum StorageErrorText {
    public static func of(_ error: any Error) -> String {
        if let e = error as? DatabaseError {
            return "SQLite error \(e.extendedResultCode.rawValue): \(e.message ?? "\(e.resultCode)")"
        }
        return "\(error)"
    }
}
