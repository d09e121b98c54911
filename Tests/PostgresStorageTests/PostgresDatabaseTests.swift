import MamoriTesting
import PostgresNIO
import PostgresStorage
import Testing

/// The database against a real PostgreSQL: versioned migrations (applied in order at start,
/// once; a newer schema refused; a failing migration leaves nothing behind; two nodes starting
/// at once), the connection pool, a wrong password.
@Suite struct PostgresDatabaseTests {
    /// A small schema of its own, so the tests can add versions to it.
    static let steps: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "one", statements: ["CREATE TABLE t1 (n integer)", "INSERT INTO t1 VALUES (1)"]),
        PostgresMigration(version: 2, name: "two", statements: ["CREATE TABLE t2 (n integer)", "INSERT INTO t1 VALUES (2)"]),
    ]

    @Test("a new database is migrated to the last version; migrating again changes nothing")
    func freshAndAgain() async throws {
        try await withPostgres(migrate: false) { database, _ in
            #expect(try await database.schemaVersion() == 0)
            let first = try await database.migrate(Self.steps)
            #expect(first.from == 0 && first.to == 2)
            #expect(try await database.schemaVersion() == 2)
            let again = try await database.migrate(Self.steps)
            #expect(again.from == 2 && again.to == 2)
            // Each migration ran once, in order.
            let rows = try await database.query("SELECT n FROM t1 ORDER BY n")
            #expect(try rows.map { try $0.decode(Int.self) } == [1, 2])
            // A third version is applied on top of the second, alone.
            let three = Self.steps + [PostgresMigration(version: 3, name: "three", statements: ["INSERT INTO t1 VALUES (3)"])]
            let third = try await database.migrate(three)
            #expect(third.from == 2 && third.to == 3)
            #expect(try await database.query("SELECT n FROM t1 ORDER BY n").map { try $0.decode(Int.self) } == [1, 2, 3])
        }
    }

    @Test("Mamori's own schema: the finding and verdict tables exist at its version")
    func mamoriSchema() async throws {
        try await withPostgres { database, _ in
            #expect(try await database.schemaVersion() == PostgresSchema.version)
            let tables = try await database.query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
            #expect(try tables.map { try $0.decode(String.self) } == ["finding", "mamori_schema", "verdict"])
        }
    }

    @Test("a database with a newer schema is refused, naming both versions, and left as it was")
    func newerRefused() async throws {
        try await withPostgres(migrate: false) { database, _ in
            try await database.migrate(Self.steps)
            try await database.query("UPDATE mamori_schema SET version = 7")
            do {
                try await database.migrate(Self.steps)
                Issue.record("migrated a database with a newer schema")
            } catch let error as PostgresStorageError {
                #expect(error.code == .schemaTooNew)
                #expect(error.message == "database schema 7 is newer than this mamori (2): upgrade mamori")
            }
            #expect(try await database.schemaVersion() == 7)
        }
    }

    @Test("a failing migration rolls back entirely: the version and the tables are as before")
    func failingMigrationRollsBack() async throws {
        try await withPostgres(migrate: false) { database, _ in
            try await database.migrate(Self.steps)
            let broken =
                Self.steps + [
                    PostgresMigration(
                        version: 3, name: "half", statements: ["CREATE TABLE t3 (n integer)", "INSERT INTO nowhere VALUES (1)"])
                ]
            do {
                try await database.migrate(broken)
                Issue.record("a broken migration succeeded")
            } catch let error as PostgresStorageError {
                #expect(error.code == .migrationFailed)
                #expect(error.message.contains("migration 3 ('half') failed, the schema stays at version 2"))
                #expect(error.message.contains("relation \"nowhere\" does not exist"), "\(error)")
            }
            #expect(try await database.schemaVersion() == 2)
            let t3 = try await database.query("SELECT to_regclass('t3') IS NULL")
            #expect(try t3.first?.decode(Bool.self) == true, "the table of the failed migration's first statement is gone")
        }
    }

    @Test("migrations must be numbered 1, 2, 3 …")
    func invalidList() async throws {
        try await withPostgres(migrate: false) { database, _ in
            let gap = [Self.steps[0], PostgresMigration(version: 3, name: "three", statements: [])]
            do {
                try await database.migrate(gap)
                Issue.record("accepted a gap")
            } catch let error as PostgresStorageError {
                #expect(error.code == .invalidMigrations)
                #expect(error.message.contains("version 3 where 2 was expected"))
            }
            #expect(try await database.schemaVersion() == 0)
        }
    }

    @Test("two nodes starting at once: one migrates, the other waits on the lock and finds the schema current")
    func concurrentStarts() async throws {
        try await withPostgres(migrate: false) { database, server in
            // A migration slow enough that the second node's transaction starts while the first's runs.
            let slow = [
                PostgresMigration(
                    version: 1, name: "slow",
                    statements: ["CREATE TABLE once (n integer)", "SELECT pg_sleep(1)", "INSERT INTO once VALUES (1)"])
            ]
            let other = try PostgresDatabase(configuration: try configuration(for: server))
            let results = try await other.withRunning { other in
                try await withThrowingTaskGroup(of: (from: Int, to: Int).self) { group in
                    group.addTask { try await database.migrate(slow) }
                    group.addTask { try await other.migrate(slow) }
                    var results: [(from: Int, to: Int)] = []
                    for try await r in group { results.append(r) }
                    return results
                }
            }
            // Without the lock both would run CREATE TABLE once, and one would fail.
            #expect(results.map(\.from).sorted() == [0, 1])
            #expect(results.allSatisfy { $0.to == 1 })
            #expect(try await database.query("SELECT count(*) FROM once").first?.decode(Int.self) == 1)
        }
    }

    @Test("the pool: concurrent statements run on several connections, never more than configured")
    func pool() async throws {
        try await withPostgres(migrate: false) { _, server in
            var c = try configuration(for: server)
            c.maximumConnections = 3
            let database = try PostgresDatabase(configuration: c)
            let pids = try await database.withRunning { database in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<12 {
                        group.addTask {
                            let rows = try await database.query("SELECT pg_backend_pid() FROM pg_sleep(0.2)")
                            return try rows.first?.decode(Int.self) ?? 0
                        }
                    }
                    var pids: Set<Int> = []
                    for try await pid in group { pids.insert(pid) }
                    return pids
                }
            }
            #expect(pids.count >= 2, "the statements ran on one connection only")
            #expect(pids.count <= 3, "\(pids.count) connections with a pool of 3")
            #expect(!pids.contains(0))
        }
    }

    @Test("a wrong password gives an error that says the server refused it, without the password")
    func wrongPassword() async throws {
        let server = try await PostgresPeer.start()
        var c = try configuration(for: server)
        c.password = "not-the-password"
        let database = try PostgresDatabase(configuration: c)
        do {
            try await database.withRunning { database in
                _ = try await database.migrate(PostgresSchema.migrations)
            }
            Issue.record("connected with a wrong password")
        } catch let error as PostgresStorageError {
            #expect(error.code == .database)
            #expect(error.message.contains("password authentication failed for user \"mamori\""), "\(error)")
            #expect(!error.description.contains("not-the-password"))
        }
        await server.stop()
    }
}
