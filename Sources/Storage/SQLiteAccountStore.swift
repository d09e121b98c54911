import Accounts
import Foundation
import GRDB

/// Operator accounts, machine tokens and browser sessions in the embedded SQLite database
/// (`<data-dir>/accounts.sqlite`, mode 0600). Accounts hold a bcrypt hash, tokens and sessions
/// the SHA-256 of their secrets: a copy of the file opens no session and presents no token.
///
/// WAL with `synchronous = FULL` (see `SQLiteFile`): a lockout, a revocation or a disabled
/// account that was saved must survive a power loss.
public final class SQLiteAccountStore: AccountStore {
    private let database: DatabaseQueue

    /// Opens (creating or migrating) the store at `path`; `":memory:"` for a private one.
    public init(path: String) throws {
        database = try SQLiteFile.open(path, synchronous: .full)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: accounts, tokens and sessions") { db in
            try db.execute(
                sql: """
                    CREATE TABLE operator_account (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL UNIQUE,
                        role TEXT NOT NULL,
                        password_hash TEXT NOT NULL,
                        disabled INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        changed_at INTEGER NOT NULL,
                        failed_logins INTEGER NOT NULL,
                        locked_until INTEGER,
                        language TEXT NOT NULL
                    );
                    CREATE TABLE machine_token (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        permissions TEXT NOT NULL,
                        created_by TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        revoked_at INTEGER,
                        digest TEXT NOT NULL
                    );
                    CREATE TABLE operator_session (
                        digest TEXT PRIMARY KEY NOT NULL,
                        account_id TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        last_seen_at INTEGER NOT NULL,
                        csrf_token TEXT NOT NULL,
                        client_address TEXT NOT NULL
                    );
                    CREATE INDEX operator_session_account ON operator_session(account_id);
                    """)
        }
        try migrator.migrate(database)
    }

    // MARK: accounts

    private static let accountColumns =
        "id, name, role, password_hash, disabled, created_at, changed_at, failed_logins, locked_until, language"

    /// A row → an account; nil for a row whose role or language this version does not know.
    private static func account(_ row: Row) -> OperatorAccount? {
        guard let role = Role(rawValue: row["role"]), let language = OperatorAccount.Language(rawValue: row["language"]) else { return nil }
        return OperatorAccount(
            id: row["id"], name: row["name"], role: role, passwordHash: row["password_hash"], disabled: row["disabled"],
            createdAt: row["created_at"], changedAt: row["changed_at"], failedLogins: row["failed_logins"],
            lockedUntil: row["locked_until"], language: language)
    }

    public func account(id: String) async throws -> OperatorAccount? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.accountColumns) FROM operator_account WHERE id = ?", arguments: [id]).flatMap(
                Self.account)
        }
    }

    public func account(named name: String) async throws -> OperatorAccount? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.accountColumns) FROM operator_account WHERE name = ?", arguments: [name])
                .flatMap(Self.account)
        }
    }

    public func accounts() async throws -> [OperatorAccount] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.accountColumns) FROM operator_account ORDER BY name").compactMap(Self.account)
        }
    }

    public func save(_ a: OperatorAccount) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO operator_account (\(Self.accountColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, password_hash = excluded.password_hash,
                        disabled = excluded.disabled, changed_at = excluded.changed_at, failed_logins = excluded.failed_logins,
                        locked_until = excluded.locked_until, language = excluded.language
                    """,
                arguments: [
                    a.id, a.name, a.role.rawValue, a.passwordHash, a.disabled, a.createdAt, a.changedAt, a.failedLogins, a.lockedUntil,
                    a.language.rawValue,
                ])
        }
    }

    // MARK: tokens

    private static let tokenColumns = "id, name, permissions, created_by, created_at, expires_at, revoked_at, digest"

    /// A row → a token; nil when its scope names a permission this version does not know (a
    /// token is never read as granting less, or more, than it was made with).
    private static func token(_ row: Row) -> MachineToken? {
        guard let permissions = Permission.parseList(row["permissions"]) else { return nil }
        return MachineToken(
            id: row["id"], name: row["name"], permissions: permissions, createdBy: row["created_by"], createdAt: row["created_at"],
            expiresAt: row["expires_at"], revokedAt: row["revoked_at"], digest: row["digest"])
    }

    public func token(id: String) async throws -> MachineToken? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.tokenColumns) FROM machine_token WHERE id = ?", arguments: [id]).flatMap(Self.token)
        }
    }

    public func tokens() async throws -> [MachineToken] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.tokenColumns) FROM machine_token ORDER BY created_at, id").compactMap(Self.token)
        }
    }

    public func save(_ t: MachineToken) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO machine_token (\(Self.tokenColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, permissions = excluded.permissions,
                        expires_at = excluded.expires_at, revoked_at = excluded.revoked_at, digest = excluded.digest
                    """,
                arguments: [t.id, t.name, Permission.list(t.permissions), t.createdBy, t.createdAt, t.expiresAt, t.revokedAt, t.digest])
        }
    }

    // MARK: sessions

    private static let sessionColumns = "digest, account_id, created_at, last_seen_at, csrf_token, client_address"

    private static func session(_ row: Row) -> OperatorSession {
        OperatorSession(
            digest: row["digest"], accountID: row["account_id"], createdAt: row["created_at"], lastSeenAt: row["last_seen_at"],
            csrfToken: row["csrf_token"], clientAddress: row["client_address"])
    }

    public func session(digest: String) async throws -> OperatorSession? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.sessionColumns) FROM operator_session WHERE digest = ?", arguments: [digest])
                .map(Self.session)
        }
    }

    public func save(_ s: OperatorSession) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO operator_session (\(Self.sessionColumns)) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(digest) DO UPDATE SET last_seen_at = excluded.last_seen_at
                    """,
                arguments: [s.digest, s.accountID, s.createdAt, s.lastSeenAt, s.csrfToken, s.clientAddress])
        }
    }

    public func deleteSession(digest: String) async throws {
        try await database.write { db in try db.execute(sql: "DELETE FROM operator_session WHERE digest = ?", arguments: [digest]) }
    }

    @discardableResult
    public func deleteSessions(accountID: String) async throws -> Int {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM operator_session WHERE account_id = ?", arguments: [accountID])
            return db.changesCount
        }
    }

    @discardableResult
    public func deleteExpiredSessions(at now: Int64, policy: SessionPolicy) async throws -> Int {
        try await database.write { db in
            // The same rule as OperatorSession.expiry(at:policy:): idle, or past the absolute lifetime.
            try db.execute(
                sql: "DELETE FROM operator_session WHERE created_at + ? <= ? OR last_seen_at + ? <= ?",
                arguments: [policy.absoluteLifetime, now, policy.idleTimeout, now])
            return db.changesCount
        }
    }
}
