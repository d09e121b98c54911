import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// The shared PostgreSQL database: a pool of connections (postgres-nio's `PostgresClient`) to the
/// server a ``PostgresConfiguration`` names, with transactions and the schema's migrations.
///
/// The pool works only while ``run()`` runs: add the database to the server's `ServiceGroup`
/// (before the services that use it), or scope its use with ``withRunning(_:)``:
/// ```swift
/// let database = try PostgresDatabase(configuration: configuration, logger: logger)
/// try await database.withRunning { database in
///     try await database.migrate(PostgresSchema.migrations)
///     let findings = PostgresFindingStore(database: database)
///     …
/// }
/// ```
/// A connection that breaks (the server restarted) is dropped and the pool opens a new one
/// for the next statement; a statement that was on the broken connection fails.
public final class PostgresDatabase: Service, Sendable {
    public let configuration: PostgresConfiguration
    let client: PostgresClient
    let logger: Logger
    /// TLS for the connections, nil when disabled.
    let tlsConfiguration: TLSConfiguration?

    /// Makes the pool; no connection is opened before ``run()`` runs and a statement needs one.
    /// Throws when the TLS settings cannot be used (a CA file that is missing).
    public init(configuration: PostgresConfiguration, logger: Logger = Logger(label: "mamori.postgres")) throws(PostgresStorageError) {
        self.configuration = configuration
        self.logger = logger
        let tls: PostgresClient.Configuration.TLS
        switch configuration.tls {
        case .disable:
            tls = .disable
            tlsConfiguration = nil
        case .require(let caFile):
            var t = TLSConfiguration.makeClientConfiguration()
            t.certificateVerification = .fullVerification
            t.minimumTLSVersion = .tlsv12
            if let caFile {
                guard FileManager.default.isReadableFile(atPath: caFile) else {
                    throw PostgresStorageError(.tls, "cannot read the CA file \(caFile) (sslrootcert)")
                }
                t.trustRoots = .file(caFile)
            }
            tls = .require(t)
            tlsConfiguration = t
        }
        var c = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.user, password: configuration.password,
            database: configuration.database, tls: tls)
        c.options.maximumConnections = max(1, configuration.maximumConnections)
        c.options.connectTimeout = configuration.connectTimeout
        c.options.tlsServerName = Self.isAddress(configuration.host) ? nil : configuration.host
        client = PostgresClient(configuration: c, backgroundLogger: logger)
    }

    /// Runs the pool until the task is cancelled or the service group shuts down.
    public func run() async throws { await client.run() }

    /// Runs the pool while `body` runs, then closes it.
    public func withRunning<T: Sendable>(_ body: (PostgresDatabase) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            defer { group.cancelAll() }
            return try await body(self)
        }
    }

    /// Opens one connection outside the pool, runs `SELECT 1` and closes it: at start, so that a
    /// wrong password, a refused connection or a failed TLS handshake is reported at once with
    /// the server's reason (the pool keeps retrying a failing connection for a minute before it
    /// gives up, and then without the reason).
    public func checkConnection() async throws {
        let tls: PostgresConnection.Configuration.TLS
        if let tlsConfiguration {
            do {
                tls = .require(try NIOSSLContext(configuration: tlsConfiguration))
            } catch {
                throw PostgresStorageError(.tls, "cannot set up TLS for \(configuration): \(error)")
            }
        } else {
            tls = .disable
        }
        var c = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.user, password: configuration.password,
            database: configuration.database, tls: tls)
        c.options.connectTimeout = .seconds(max(1, configuration.connectTimeout.components.seconds))
        c.options.tlsServerName = Self.isAddress(configuration.host) ? nil : configuration.host
        do {
            let connection = try await PostgresConnection.connect(configuration: c, id: 0, logger: logger)
            do {
                try await connection.query("SELECT 1", logger: logger)
            } catch {
                try? await connection.close().get()
                throw error
            }
            try await connection.close().get()
        } catch {
            throw PostgresStorageError(.database, "cannot use the database \(configuration): \(Self.describe(error))")
        }
    }

    /// Runs one statement on a connection of the pool and returns its rows. Server errors become
    /// a ``PostgresStorageError`` with the server's message.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await client.withConnection { connection in
                try await connection.query(query, logger: self.logger).collect()
            }
        } catch {
            throw Self.wrap(error)
        }
    }

    /// Runs `body` in one transaction on one connection: committed when it returns, rolled back
    /// when it throws (and its error rethrown as it was).
    public func transaction<T: Sendable>(_ body: (PostgresConnection, Logger) async throws -> T) async throws -> T {
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                let value: T
                do {
                    value = try await body(connection, logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
                try await connection.query("COMMIT", logger: logger)
                return value
            }
        } catch let e as PostgresStorageError {
            throw e
        } catch {
            throw Self.wrap(error)
        }
    }

    /// An error of postgres-nio as a ``PostgresStorageError`` that says what the server said,
    /// or why it could not be reached (postgres-nio's own description hides both).
    static func wrap(_ error: any Error) -> PostgresStorageError {
        if let e = error as? PostgresStorageError { return e }
        return PostgresStorageError(.database, describe(error))
    }

    /// What a postgres-nio error means, with the server's message and SQLSTATE when there is one.
    static func describe(_ error: any Error) -> String {
        guard let e = error as? PSQLError else { return "\(error)" }
        if let info = e.serverInfo, let message = info[.message] {
            var s = "the server said: \(message)"
            if let detail = info[.detail] { s += " (\(detail))" }
            if let state = info[.sqlState] { s += " [SQLSTATE \(state)]" }
            return s
        }
        switch e.code {
        case .connectionError:
            if let tls = e.underlying as? NIOSSLExtraError, tls == .failedToValidateHostname {
                return "TLS: the server's certificate does not name the host of the storage URL (\(tls))"
            }
            if let tls = e.underlying as? NIOSSLError, case .handshakeFailed = tls, "\(tls)".contains("CERTIFICATE_VERIFY_FAILED") {
                return "TLS: the server's certificate is not signed by a CA Mamori trusts (set sslrootcert to the CA's PEM file): \(tls)"
            }
            return "cannot connect: \(e.underlying.map { "\($0)" } ?? "connection failed")"
        case .serverClosedConnection, .uncleanShutdown:
            return "the server closed the connection"
        case .poolClosed, .clientClosedConnection:
            return "the connection pool is closed (is the database's run() running?)"
        case .sslUnsupported:
            return "the server does not offer TLS, and the storage URL requires it (sslmode)"
        case .failedToAddSSLHandler:
            return "TLS could not be set up: \(e.underlying.map { "\($0)" } ?? "unknown reason")"
        default:
            return "\(e.code)\(e.underlying.map { ": \($0)" } ?? "")"
        }
    }

    private static func isAddress(_ host: String) -> Bool {
        host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
    }
}
