import MamoriCore
import MamoriTesting
import PostgresStorage
import Storage
import Testing

/// The finding store contract across engines: the same calls, asked of the in-memory store, the
/// embedded SQLite store and the PostgreSQL store, give the same answers (the pattern of
/// `StorageTests/StoreContractTests`, extended to PostgreSQL against a real server).
@Suite struct FindingStoreContractTests {
    static func finding(_ n: Int, kind: FindingKind = .commandAndControl, score: Double, lastSeen: Int64) -> Finding {
        Finding(
            id: "\(kind.rawValue):\(n)", kind: kind,
            subject: FindingSubject(type: .endpoint, address: "192.0.2.\(n)", port: 443, protocol: "tcp", ports: nil),
            score: score, firstSeen: lastSeen - 100, lastSeen: lastSeen, detectedAt: lastSeen, updatedAt: lastSeen, family: nil,
            summary: "finding \(n)",
            evidence: Evidence())
    }

    /// Everything every finding store is asked, and what it answered.
    static func exercise(_ store: any FindingStore) async throws -> [String] {
        var out: [String] = []
        try await store.upsert([
            finding(1, score: 0.9, lastSeen: 1_000), finding(2, score: 0.8, lastSeen: 5_000),
            finding(3, kind: .scanning, score: 0.95, lastSeen: 3_000),
        ])
        out.append("all = \(try await store.findings(matching: FindingQuery()).map(\.id))")
        out.append("c2 since 2000 = \(try await store.findings(matching: FindingQuery(kind: .commandAndControl, since: 2_000)).map(\.id))")
        out.append("until 950 = \(try await store.findings(matching: FindingQuery(until: 950)).map(\.id))")
        out.append("since 3000 until 4900 = \(try await store.findings(matching: FindingQuery(since: 3_000, until: 4_900)).map(\.id))")
        out.append("score ≥ 0.85, limit 1 = \(try await store.findings(matching: FindingQuery(minimumScore: 0.85, limit: 1)).map(\.id))")
        out.append("score ≥ 0.99 = \(try await store.findings(matching: FindingQuery(minimumScore: 0.99)).map(\.id))")
        out.append("none = \(try await store.finding(id: "nope") == nil)")
        let fp = Verdict(verdict: .falsePositive, analyst: "aki", note: "lab", at: 6_000)
        out.append("verdict = \(try await store.record(fp, forFinding: "c2-server:1")?.verdict?.analyst ?? "-")")
        out.append("verdict on none = \(try await store.record(fp, forFinding: "nope") == nil)")
        let tp = Verdict(verdict: .truePositive, analyst: "ken", at: 6_100)
        out.append(
            "true positive = \(try await store.record(tp, forFinding: "scanning:3")?.verdict.map { "\($0.verdict.rawValue) \($0.analyst) \($0.note ?? "-")" } ?? "-")"
        )
        // Reported again: the new report replaces it, the verdict stays.
        var again = finding(1, score: 0.7, lastSeen: 7_000)
        again.summary = "again"
        try await store.upsert([again])
        let one = try await store.finding(id: "c2-server:1")
        out.append("again = \(one?.summary ?? "-") \(one?.score ?? 0) \(one?.verdict?.verdict.rawValue ?? "-") \(one?.lastSeen ?? 0)")
        out.append("false positives = \(try await store.falsePositiveEndpoints().map(\.description).sorted())")
        out.append("deleted = \(try await store.deleteFindings(lastSeenBefore: 4_000))")
        out.append("left = \(try await store.findings(matching: FindingQuery()).map(\.id))")
        out.append("scanning verdict gone = \(try await store.record(tp, forFinding: "scanning:3") == nil)")
        out.append("deleted none = \(try await store.deleteFindings(lastSeenBefore: 0))")
        return out
    }

    /// What the two database engines are asked beyond that: the window columns that only grow
    /// while the report is replaced, a batch that reports one id twice, hostile text, limits,
    /// and whole findings compared field by field.
    static func exerciseEngines(_ store: any FindingStore) async throws -> [String] {
        var out: [String] = []
        var f = finding(10, score: 0.5, lastSeen: 10_000)
        f.family = "mirai"
        f.summary = "NUL \u{0} quote ' dquote \" backslash \\ 守り 🛡️ \u{202E}rtl"
        f.evidence = Evidence()
        try await store.upsert([f])
        out.append("hostile = \(try await store.finding(id: f.id).map { "\($0)" } ?? "-")")
        out.append("hostile equal = \(try await store.finding(id: f.id) == f)")
        // The same id twice in one batch: the later report wins.
        var first = finding(11, score: 0.1, lastSeen: 11_000)
        first.summary = "first"
        var second = finding(11, score: 0.2, lastSeen: 11_500)
        second.summary = "second"
        try await store.upsert([first, second])
        out.append("twice = \(try await store.finding(id: first.id).map { "\($0.summary) \($0.score) \($0.lastSeen)" } ?? "-")")
        // …and the window it is found by spans both reports.
        out.append("twice until 10950 = \(try await store.findings(matching: FindingQuery(until: 10_950)).map(\.id))")
        // A report with a narrower window: the filter columns keep the widest window.
        var narrow = finding(10, score: 0.6, lastSeen: 9_000)
        narrow.firstSeen = 9_950
        narrow.detectedAt = 9_990
        try await store.upsert([narrow])
        out.append("narrow = \(try await store.finding(id: f.id).map { "\($0)" } ?? "-")")
        out.append("until 9925 = \(try await store.findings(matching: FindingQuery(until: 9_925)).map(\.id))")
        out.append("since 9500 = \(try await store.findings(matching: FindingQuery(since: 9_500)).map(\.id))")
        out.append("limit 0 = \(try await store.findings(matching: FindingQuery(limit: 0)).map(\.id))")
        out.append("limit -5 = \(try await store.findings(matching: FindingQuery(limit: -5)).map(\.id))")
        // A verdict with no note, then replaced by one with a note; hostile analyst text.
        let v1 = Verdict(verdict: .truePositive, analyst: "a'; DROP TABLE finding; --", at: 1)
        out.append("verdict 1 = \(try await store.record(v1, forFinding: f.id)?.verdict.map { "\($0)" } ?? "-")")
        let v2 = Verdict(verdict: .falsePositive, analyst: "b", note: "守り", at: 2)
        out.append("verdict 2 = \(try await store.record(v2, forFinding: f.id)?.verdict.map { "\($0)" } ?? "-")")
        out.append("false positives = \(try await store.falsePositiveEndpoints().map(\.description).sorted())")
        // An id no one wrote, with SQL in it.
        out.append("injected id = \(try await store.finding(id: "x' OR '1'='1") == nil)")
        // Many findings in one batch.
        try await store.upsert((100..<400).map { finding($0, score: Double($0) / 1_000, lastSeen: Int64(20_000 + $0)) })
        out.append("many = \(try await store.findings(matching: FindingQuery(minimumScore: 0.3, limit: 10_000)).count)")
        out.append("top 3 = \(try await store.findings(matching: FindingQuery(limit: 3)).map(\.id))")
        out.append("everything = \(try await store.findings(matching: FindingQuery(limit: 100_000)).map { "\($0)" })")
        out.append("deleted = \(try await store.deleteFindings(lastSeenBefore: 20_200))")
        out.append("left = \(try await store.findings(matching: FindingQuery(limit: 10_000)).count)")
        return out
    }

    @Test("in memory, SQLite and PostgreSQL answer alike")
    func threeEngines() async throws {
        let memory = try await Self.exercise(InMemoryFindingStore())
        let sqlite = try await Self.exercise(try SQLiteFindingStore(path: ":memory:"))
        let postgres = try await withPostgres { database, _ in try await Self.exercise(PostgresFindingStore(database: database)) }
        #expect(postgres == sqlite)
        #expect(sqlite == memory)
        // And the answers are the contract's, not just equal.
        #expect(postgres.first == "all = [\"scanning:3\", \"c2-server:1\", \"c2-server:2\"]")
        #expect(postgres.contains("until 950 = [\"c2-server:1\"]"))
        #expect(postgres.contains("since 3000 until 4900 = [\"scanning:3\", \"c2-server:2\"]"))
        #expect(postgres.contains("again = again 0.7 false-positive 7000"))
        #expect(postgres.contains("true positive = true-positive ken -"))
        #expect(postgres.contains("false positives = [\"192.0.2.1:443/tcp\"]"))
        #expect(postgres.contains("deleted = 1"))
        #expect(postgres.contains("scanning verdict gone = true"))
    }

    @Test("SQLite and PostgreSQL answer alike: windows, repeated ids, hostile text, limits, whole findings")
    func databaseEngines() async throws {
        let sqlite = try await Self.exerciseEngines(try SQLiteFindingStore(path: ":memory:"))
        let postgres = try await withPostgres { database, _ in
            let store = PostgresFindingStore(database: database)
            var out = try await Self.exerciseEngines(store)
            out.append("count = \(try await store.count())")
            return out
        }
        #expect(Array(postgres.dropLast()) == sqlite)
        for (s, p) in zip(sqlite, postgres) where s != p { Issue.record("SQLite: \(s.prefix(400))\nPostgreSQL: \(p.prefix(400))") }
        #expect(postgres.contains("hostile equal = true"))
        #expect(postgres.contains("twice = second 0.2 11500"))
        #expect(postgres.contains("twice until 10950 = [\"c2-server:10\", \"c2-server:11\"]"))
        // The report is replaced, but the window columns only grow: still found before 9,925.
        #expect(postgres.contains("until 9925 = [\"c2-server:10\"]"))
        #expect(postgres.contains("limit 0 = [\"c2-server:10\"]"))
        #expect(postgres.contains("many = 101"))
        #expect(postgres.contains("deleted = 102"))
        #expect(postgres.contains("top 3 = [\"c2-server:10\", \"c2-server:399\", \"c2-server:398\"]"))
        #expect(postgres.last == "count = 200")
    }
}
