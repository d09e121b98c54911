import Logging
import MamoriTesting
import PostgresStorage

/// Starts a real PostgreSQL (``PostgresPeer``), connects a running ``PostgresDatabase`` to it
/// as the `mamori` role with its password file, runs `body`, and stops the server whatever
/// `body` did. `migrate` brings the schema to ``PostgresSchema``'s first.
func withPostgres<T: Sendable>(
    migrate: Bool = true, _ body: (PostgresDatabase, PostgresPeer) async throws -> T
) async throws -> T {
    let server = try await PostgresPeer.start()
    do {
        let database = try PostgresDatabase(configuration: try configuration(for: server))
        let result = try await database.withRunning { database in
            if migrate { try await database.migrate(PostgresSchema.migrations) }
            return try await body(database, server)
        }
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// The configuration Mamori would make from the server's URL and password file.
func configuration(for server: PostgresPeer) throws -> PostgresConfiguration {
    var configuration = try PostgresConfiguration(url: server.url)
    try configuration.readPassword(from: server.passwordFile)
    configuration.connectTimeout = .seconds(30)
    return configuration
}
