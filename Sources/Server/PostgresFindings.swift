import Logging
import MamoriCore
import NIOConcurrencyHelpers
import PostgresStorage
import ServiceLifecycle
import Storage

/// The findings and verdicts in PostgreSQL (`storage.engine: postgresql`): the database's pool
/// as a service of the server, its schema migrated when the service starts, and the finding
/// store on it.
///
/// `buildApplication` is synchronous and the pool works only while its service runs, so the
/// migration runs at the start of ``run()``. Until it is done the store's calls wait (the
/// detection service and the API never meet a database without its tables); when it fails —
/// the database cannot be reached, its schema is newer than this mamori — ``run()`` throws
/// the reason, which stops the server with it, and the waiting calls throw it too.
///
/// Added to the application before every other service, it stops after them: the detection
/// service stores its last findings before the pool closes.
final class PostgresFindings: FindingStore, Service {
    let database: PostgresDatabase
    private let store: PostgresFindingStore
    private let observer: any StorageObserver
    private let logger: Logger
    /// Nil while the migration runs; then success, or the error that stopped it.
    private let migrated = NIOLockedValueBox<Result<Void, any Error>?>(nil)

    init(configuration: PostgresConfiguration, observer: any StorageObserver, logger: Logger) throws(PostgresStorageError) {
        database = try PostgresDatabase(configuration: configuration, logger: logger)
        store = PostgresFindingStore(database: database)
        self.observer = observer
        self.logger = logger
    }

    /// Runs the pool, migrates the schema, then keeps the pool until the server shuts this
    /// service down (or cancels it).
    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.database.run() }
            do {
                let (from, to) = try await database.migrate(PostgresSchema.migrations)
                migrated.withLockedValue { $0 = .success(()) }
                logger.info(
                    "findings store: PostgreSQL ready",
                    metadata: [
                        "postgres.url": "\(database.configuration)", "postgres.schema.from": "\(from)", "postgres.schema.to": "\(to)",
                    ])
            } catch {
                migrated.withLockedValue { $0 = .failure(error) }
                throw error
            }
            _ = try await group.next()
        }
    }

    /// Waits until the schema is migrated; throws when the migration failed, or when the task
    /// is cancelled while waiting.
    private func ready() async throws {
        while true {
            switch migrated.withLockedValue({ $0 }) {
            case .success: return
            case .failure(let error): throw error
            case nil: try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Runs a write, telling the storage health how it went (reported by /healthz).
    private func write<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            observer.writeSucceeded(store: "findings")
            return value
        } catch {
            observer.writeFailed(store: "findings", error: error)
            throw error
        }
    }

    func upsert(_ findings: [Finding]) async throws {
        try await ready()
        try await write { try await store.upsert(findings) }
    }

    func findings(matching query: FindingQuery) async throws -> [Finding] {
        try await ready()
        return try await store.findings(matching: query)
    }

    func finding(id: String) async throws -> Finding? {
        try await ready()
        return try await store.finding(id: id)
    }

    func record(_ verdict: Verdict, forFinding id: String) async throws -> Finding? {
        try await ready()
        return try await write { try await store.record(verdict, forFinding: id) }
    }

    func deleteFindings(lastSeenBefore time: Int64) async throws -> Int {
        try await ready()
        return try await write { try await store.deleteFindings(lastSeenBefore: time) }
    }

    func falsePositiveEndpoints() async throws -> [FindingSubject] {
        try await ready()
        return try await store.falsePositiveEndpoints()
    }
}
