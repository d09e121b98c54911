import Collector
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import PostgresStorage
import Server
import Testing

/// `mamori serve` with `storage: {engine: postgresql}` against a real PostgreSQL
/// (``PostgresPeer``): the findings and verdicts go to the database, nothing to findings.sqlite;
/// a database with a newer schema stops the start with the reason.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PostgresServeTests {
    /// A configuration file naming the server's database, loaded as `mamori serve` loads it;
    /// the listeners on ports the kernel chooses.
    static func configuration(_ server: PostgresPeer, dataDirectory: String) throws -> MamoriConfiguration {
        let path = dataDirectory + "/mamori.yaml"
        try """
        data_directory: \(dataDirectory)
        log_level: info
        storage:
          engine: postgresql
          url: \(server.url)
          password_file: \(server.passwordFile)
          pool_size: 4
        """.write(toFile: path, atomically: false, encoding: .utf8)
        var c = try MamoriConfiguration.load(path: path)
        c.http = SocketEndpoint(host: "127.0.0.1", port: 0)
        c.collector.listen = [SocketEndpoint(host: "127.0.0.1", port: 0)]
        return c
    }

    /// The database as a second node would see it.
    static func withStore<T: Sendable>(_ server: PostgresPeer, _ body: (PostgresFindingStore, PostgresDatabase) async throws -> T)
        async throws -> T
    {
        var configuration = try PostgresConfiguration(url: server.url)
        try configuration.readPassword(from: server.passwordFile)
        return try await PostgresDatabase(configuration: configuration).withRunning { database in
            try await body(PostgresFindingStore(database: database), database)
        }
    }

    @Test("findings reported and their verdicts are in PostgreSQL, read back through the API; findings.sqlite is never made")
    func findingsInPostgres() async throws {
        let server = try await PostgresPeer.start()
        do {
            let dir = try TemporaryDirectory()
            let logs = LogStore()
            let (app, services) = try buildApplication(
                configuration: try Self.configuration(server, dataDirectory: dir.path),
                dependencies: ApplicationDependencies(logger: logs.logger(level: .info)))
            #expect(
                logs.entries.contains {
                    $0.message == "findings in PostgreSQL; cases, consent, accounts and the audit log in \(dir.path)"
                        && $0.metadata["postgres.url"] == "postgresql://mamori@127.0.0.1:\(server.port)/mamori?sslmode=disable"
                }, "\(logs.entries.map(\.message))")
            let auth = try await services.operatorHeaders()
            let c2 = FindingsAPITests.c2
            let device = FindingsAPITests.device
            try await app.test(.router) { client in
                // The detectors' way in: attributed, stored (once the schema is migrated), handed on.
                await services.detection.report([c2, device])
                #expect(services.detection.unstoredCount == 0)
                try await client.execute(uri: "/api/v1/findings", method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    let body = String(buffer: response.body)
                    #expect(body.contains(c2.id) && body.contains(device.id), "\(body)")
                }
                try await client.execute(
                    uri: "/api/v1/findings/\(c2.id)/verdict", method: .post, headers: auth,
                    body: ByteBuffer(string: #"{"verdict":"true-positive","analyst":"alice","note":"confirmed"}"#)
                ) { response in
                    #expect(response.status == .ok, "\(String(buffer: response.body))")
                }
            }
            // No write failed, the last ones at shutdown included (the pool stops after detection).
            #expect(services.storage.failures.isEmpty, "\(services.storage.failures)")
            #expect(services.detection.unstoredCount == 0)
            #expect(logs.entries.contains { $0.message == "findings store: PostgreSQL ready" })
            // The services have stopped; another node reads what this one wrote.
            try await Self.withStore(server) { store, database in
                #expect(try await database.schemaVersion() == PostgresSchema.version)
                #expect(try await store.count() == 2)
                let stored = try #require(try await store.finding(id: c2.id))
                #expect(stored.kind == c2.kind && stored.subject == c2.subject && stored.score == c2.score)
                #expect(stored.verdict?.verdict == .truePositive)
                #expect(stored.verdict?.note == "confirmed")
                #expect(try await store.finding(id: device.id) != nil)
            }
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/findings.sqlite"), "nothing written to SQLite")
            // Everything else stays in the data directory for now.
            #expect(FileManager.default.fileExists(atPath: dir.path + "/cases.sqlite"))
            #expect(FileManager.default.fileExists(atPath: dir.path + "/accounts.sqlite"))
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }

    @Test("a database whose schema is newer than this mamori stops the start, saying so")
    func newerSchemaRefused() async throws {
        let server = try await PostgresPeer.start()
        do {
            let newer = PostgresSchema.version + 1
            _ = try await Self.withStore(server) { _, database in try await database.migrate(PostgresSchema.migrations) }
            try await server.psql("UPDATE mamori_schema SET version = \(newer)", database: "mamori")
            let dir = try TemporaryDirectory()
            let (app, _) = try buildApplication(
                configuration: try Self.configuration(server, dataDirectory: dir.path),
                dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
            do {
                try await withTimeLimit(.seconds(60), "the application on a newer schema") { try await app.runService() }
                Issue.record("the server started on a database with a newer schema")
            } catch let error as PostgresStorageError {
                #expect(error.code == .schemaTooNew)
                #expect(
                    error.description
                        == "PostgreSQL store: database schema \(newer) is newer than this mamori (\(PostgresSchema.version)): upgrade mamori"
                )
            }
            // Left as it was.
            let version = try await Self.withStore(server) { _, database in try await database.schemaVersion() }
            #expect(version == newer)
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }

    @Test("an unreadable password file or CA file stops buildApplication, naming the key")
    func startRefusals() async throws {
        let dir = try TemporaryDirectory()
        var c = MamoriConfiguration()
        c.dataDirectory = dir.path
        c.storage = try MamoriConfiguration.parse(
            yaml: """
                storage:
                  engine: postgresql
                  url: postgresql://mamori@127.0.0.1:9/mamori?sslmode=require&sslrootcert=\(dir.path)/missing-ca.pem
                  password_file: \(dir.path)/missing-password
                """
        ).storage
        let unreadable = #expect(throws: ConfigurationError.self) {
            _ = try buildApplication(configuration: c, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        }
        #expect(
            unreadable?.reason.hasPrefix("storage.password_file: cannot read the password file \(dir.path)/missing-password") == true,
            "\(String(describing: unreadable))")
        try "pw\n".write(toFile: dir.path + "/missing-password", atomically: false, encoding: .utf8)
        let noCA = #expect(throws: ConfigurationError.self) {
            _ = try buildApplication(configuration: c, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        }
        #expect(
            noCA?.reason == "storage.url: cannot read the CA file \(dir.path)/missing-ca.pem (sslrootcert)", "\(String(describing: noCA))")
    }
}
