import MamoriCore
import MamoriTesting
import PostgresNIO
import PostgresStorage
import Testing

/// The PostgreSQL finding store as a cluster uses it: several nodes on one database, and a
/// database server that restarts under a running node.
@Suite struct PostgresFindingStoreTests {
    @Test("two nodes share the findings: one reports, the other records the verdict, both read the same")
    func twoNodes() async throws {
        try await withPostgres { database, server in
            let other = try PostgresDatabase(configuration: try configuration(for: server))
            try await other.withRunning { other in
                try await other.migrate(PostgresSchema.migrations)
                let a = PostgresFindingStore(database: database)
                let b = PostgresFindingStore(database: other)
                try await a.upsert([FindingStoreContractTests.finding(1, score: 0.9, lastSeen: 1_000)])
                let verdict = Verdict(verdict: .falsePositive, analyst: "aki", at: 2_000)
                #expect(try await b.record(verdict, forFinding: "c2-server:1")?.verdict == verdict)
                #expect(try await a.finding(id: "c2-server:1")?.verdict == verdict)
                #expect(try await a.falsePositiveEndpoints().map(\.description) == ["192.0.2.1:443/tcp"])
                // Both nodes report at once, in batches that overlap: every finding is there once.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (store, offset) in [(a, 0), (b, 50)] {
                        group.addTask {
                            for batch in 0..<10 {
                                let n = offset + batch * 10
                                try await store.upsert(
                                    (n..<(n + 10)).map { FindingStoreContractTests.finding($0 + 100, score: 0.5, lastSeen: 3_000) })
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await a.count() == 151)
                #expect(try await b.finding(id: "c2-server:1")?.verdict == verdict, "the verdict survived the other node's reports")
            }
        }
    }

    @Test("a batch is written whole or not at all: one finding PostgreSQL refuses, and none of the batch is kept")
    func batchIsAtomic() async throws {
        try await withPostgres { database, _ in
            let store = PostgresFindingStore(database: database)
            try await store.upsert([FindingStoreContractTests.finding(1, score: 0.9, lastSeen: 1_000)])
            var refused = FindingStoreContractTests.finding(3, score: 0.5, lastSeen: 1_000)
            refused.id = "c2-server:\u{0}" // text cannot hold NUL
            var updated = FindingStoreContractTests.finding(1, score: 0.1, lastSeen: 9_000)
            updated.summary = "updated"
            do {
                try await store.upsert([updated, FindingStoreContractTests.finding(2, score: 0.8, lastSeen: 2_000), refused])
                Issue.record("PostgreSQL stored an id with NUL")
            } catch let error as PostgresStorageError {
                #expect(error.code == .database)
                #expect(error.message.contains("the server said:"), "\(error)")
            }
            #expect(try await store.count() == 1)
            #expect(try await store.finding(id: "c2-server:1")?.summary == "finding 1", "the update in the failed batch was rolled back")
        }
    }

    @Test("PostgreSQL restarts under a running store: the pool reconnects and writes succeed again")
    func reconnectsAfterRestart() async throws {
        try await withPostgres { database, server in
            let store = PostgresFindingStore(database: database)
            try await store.upsert([FindingStoreContractTests.finding(1, score: 0.9, lastSeen: 1_000)])
            // A statement running when the server goes down fails (it does not hang).
            let inFlight = Task { try await database.query("SELECT pg_sleep(120)") }
            var running = false
            for _ in 0..<200 where !running {
                let count = try await server.psql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)'")
                running = count == "1\n"
                if !running { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(running, "the long statement never showed in pg_stat_activity")
            try await server.restart()
            #expect(server.log.contains("database system is shut down"), "the first server stopped")
            switch await inFlight.result {
            case .success: Issue.record("a statement survived the server's shutdown")
            case .failure(let error):
                #expect((error as? PostgresStorageError)?.code == .database, "\(error)")
                #expect("\(error)".contains("terminating connection") || "\(error)".contains("closed the connection"), "\(error)")
            }
            // The pool's connection ended with the old server: a statement may fail while the
            // pool notices and connects again, and must succeed within a bounded time.
            let deadline = ContinuousClock.now + .seconds(60)
            var attempts = 0
            var failures: [String] = []
            var written = false
            while !written && ContinuousClock.now < deadline {
                attempts += 1
                do {
                    try await store.upsert([FindingStoreContractTests.finding(2, score: 0.8, lastSeen: 2_000)])
                    written = true
                } catch {
                    failures.append("\(error)")
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(
                written, "no write succeeded within 60 s after the restart: \(failures.suffix(3)); server log:\n\(server.log.suffix(1_000))"
            )
            #expect(attempts <= 20, "\(attempts) attempts: \(failures.suffix(3))")
            // The finding written before the restart is still there, and the new one too.
            #expect(try await store.findings(matching: FindingQuery()).map(\.id) == ["c2-server:1", "c2-server:2"])
        }
    }
}
