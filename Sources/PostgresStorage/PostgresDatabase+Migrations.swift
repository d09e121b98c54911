import Logging
import PostgresNIO

extension PostgresDatabase {
    /// The key of the transaction-scoped advisory lock that migrations hold ("mamori" and 1), so
    /// that of several nodes starting at once one migrates and the others wait, then find the
    /// schema current.
    static let migrationLock: Int64 = 0x6D61_6D6F_7269_0001

    /// Brings the schema to the last of `migrations` at start, in one transaction.
    ///
    /// Checks the connection first (``checkConnection()``), then takes the migration lock (`pg_advisory_xact_lock`), creates `mamori_schema` if the
    /// database is new, reads its version and applies every later migration in order, then
    /// records the new version. A failing statement rolls everything back: the schema stays at
    /// the version it had. A database whose version is newer than the last migration is refused
    /// (an older Mamori must not write to a schema it does not know).
    ///
    /// - Parameter migrations: numbered 1, 2, 3 … in order (``PostgresSchema/migrations``).
    /// - Returns: the version before and after.
    @discardableResult
    public func migrate(_ migrations: [PostgresMigration]) async throws -> (from: Int, to: Int) {
        for (i, m) in migrations.enumerated() where m.version != i + 1 {
            throw PostgresStorageError(
                .invalidMigrations,
                "migration '\(m.name)' has version \(m.version) where \(i + 1) was expected (migrations are numbered 1, 2, 3 …)")
        }
        try await checkConnection()
        let known = migrations.last?.version ?? 0
        let lock = Self.migrationLock
        return try await transaction { connection, logger in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lock))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS mamori_schema (
                    id integer PRIMARY KEY CHECK (id = 1),
                    version integer NOT NULL,
                    migrated_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var current = 0
            for try await version in try await connection.query("SELECT version FROM mamori_schema WHERE id = 1", logger: logger).decode(
                Int.self)
            {
                current = version
            }
            if current > known {
                throw PostgresStorageError(
                    .schemaTooNew, "database schema \(current) is newer than this mamori (\(known)): upgrade mamori")
            }
            for m in migrations where m.version > current {
                for statement in m.statements {
                    do {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    } catch {
                        throw PostgresStorageError(
                            .migrationFailed,
                            "migration \(m.version) ('\(m.name)') failed, the schema stays at version \(current): \(Self.describe(error))")
                    }
                }
            }
            if known > current {
                try await connection.query(
                    """
                    INSERT INTO mamori_schema (id, version) VALUES (1, \(known))
                    ON CONFLICT (id) DO UPDATE SET version = excluded.version, migrated_at = now()
                    """, logger: logger)
                logger.info(
                    "PostgreSQL schema migrated", metadata: ["postgres.schema.from": "\(current)", "postgres.schema.to": "\(known)"])
            }
            return (current, max(current, known))
        }
    }

    /// The schema version the database holds; 0 for a database never migrated.
    public func schemaVersion() async throws -> Int {
        let exists = try await query("SELECT to_regclass('mamori_schema') IS NOT NULL")
        guard let row = exists.first, try row.decode(Bool.self) else { return 0 }
        let rows = try await query("SELECT version FROM mamori_schema WHERE id = 1")
        return try rows.first.map { try $0.decode(Int.self) } ?? 0
    }
}
