import MamoriTesting
import PostgresNIO
import PostgresStorage
import Testing

/// TLS to the database against a real PostgreSQL serving a certificate for `localhost` signed by
/// a CA of the test's own: verified when it should be, refused with a clear error when not.
@Suite struct PostgresTLSTests {
    static func configuration(_ server: PostgresPeer, host: String = "localhost", query: String) throws -> PostgresConfiguration {
        var c = try PostgresConfiguration(url: "postgresql://mamori@\(host):\(server.port)/mamori?\(query)")
        try c.readPassword(from: server.passwordFile)
        return c
    }

    /// What `checkConnection` said, or nil when it connected.
    static func failure(_ configuration: PostgresConfiguration) async throws -> PostgresStorageError? {
        let database = try PostgresDatabase(configuration: configuration)
        do {
            try await database.checkConnection()
            return nil
        } catch let error as PostgresStorageError {
            return error
        }
    }

    @Test("sslmode=require with the CA file: the connection is encrypted, the store works over it")
    func verified() async throws {
        let server = try await PostgresPeer.start(tls: true)
        let caFile = try #require(server.caFile)
        let database = try PostgresDatabase(configuration: try Self.configuration(server, query: "sslmode=require&sslrootcert=\(caFile)"))
        let encrypted = try await database.withRunning { database in
            try await database.migrate(PostgresSchema.migrations)
            let rows = try await database.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            return try rows.first?.decode(Bool.self)
        }
        #expect(encrypted == true)
        await server.stop()
    }

    @Test("TLS required, but the server's CA not trusted: refused at the connection check, saying why")
    func untrustedCA() async throws {
        let server = try await PostgresPeer.start(tls: true)
        let error = try await Self.failure(try Self.configuration(server, query: "sslmode=require"))
        #expect(error?.code == .database)
        #expect(
            error?.message.contains("the server's certificate is not signed by a CA Mamori trusts") == true, "\(String(describing: error))")
        #expect(error?.message.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(String(describing: error))")
        await server.stop()
    }

    @Test("TLS required, the certificate names another host than the URL's: refused")
    func wrongName() async throws {
        let server = try await PostgresPeer.start(tls: true)
        let caFile = try #require(server.caFile)
        // The certificate names localhost only; 127.0.0.1 is the same server under another name.
        let error = try await Self.failure(
            try Self.configuration(server, host: "127.0.0.1", query: "sslmode=require&sslrootcert=\(caFile)"))
        #expect(error?.code == .database, "connected to 127.0.0.1 with a certificate for localhost only")
        #expect(
            error?.message.contains("the server's certificate does not name the host of the storage URL") == true,
            "\(String(describing: error))")
        await server.stop()
    }

    @Test("TLS required of a server that does not offer it: refused, saying so")
    func serverWithoutTLS() async throws {
        let server = try await PostgresPeer.start()
        let error = try await Self.failure(try Self.configuration(server, query: "sslmode=require"))
        #expect(error?.message.contains("the server does not offer TLS") == true, "\(String(describing: error))")
        await server.stop()
    }
}
