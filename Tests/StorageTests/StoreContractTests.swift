import Lawful
import MamoriCore
import MamoriTesting
import Storage
import Testing

/// The in-memory stores that tests of the upper layers use keep the same contract as the SQLite
/// stores the server uses: the same calls give the same answers from both.
@Suite struct StoreContractTests {
    static func newCase(_ id: String, subscriber: String, state: CaseState, updated: Int64) -> LawfulCase {
        var c = LawfulCase(
            id: id, subscriber: subscriber, kind: .infection, device: "198.18.1.9", finding: "infected-device:\(id)",
            evidence: InfectionEvidence(from: 0, to: 1), at: updated - 10)
        c.move(to: state, at: updated, reason: "test")
        c.updated = updated
        return c
    }

    /// Everything a case store is asked, and what it answered.
    static func exercise(_ store: any CaseStore) throws -> [String] {
        var out: [String] = []
        try store.save(newCase("a", subscriber: "s:1", state: .notified, updated: 1_000))
        try store.save(newCase("b", subscriber: "s:1", state: .closed, updated: 2_000))
        try store.save(newCase("c", subscriber: "s:2", state: .held, updated: 3_000))
        try store.save(newCase("d", subscriber: "s:3", state: .falsePositive, updated: 9_000))
        out.append("latest s:1 = \(try store.latest(subscriber: "s:1", kind: .infection)?.id ?? "-")")
        out.append("latest s:9 = \(try store.latest(subscriber: "s:9", kind: .infection)?.id ?? "-")")
        out.append("list = \(try store.list().map(\.id))")
        out.append("list held = \(try store.list(state: .held, limit: 10).map(\.id))")
        out.append("list limit 2 = \(try store.list(state: nil, limit: 2).map(\.id))")
        // A save replaces the case.
        var a = try #require(try store.get("a"))
        a.move(to: .acknowledged, at: 4_000, reason: "test")
        try store.save(a)
        out.append("a = \(try store.get("a")?.state.rawValue ?? "-")")
        try store.addToken(digest: "t1", caseID: "b", language: "ja", expires: 5_000)
        try store.addToken(digest: "t2", caseID: "a", language: "en", expires: 50_000)
        try store.addToken(digest: "t3", caseID: "a", language: "en", expires: 1_500)
        out.append("t2 = \(try store.token(digest: "t2").map { "\($0.caseID) \($0.language) \($0.expires)" } ?? "-")")
        out.append("duplicate token refused = \((try? store.addToken(digest: "t2", caseID: "a", language: "en", expires: 1)) == nil)")
        // Finished and held cases not updated since 3,500 go, with their tokens; expired tokens go.
        out.append("swept = \(try store.sweep(finishedBefore: 3_500, now: 2_000))")
        out.append("left = \(try store.list().map(\.id)), count \(try store.count())")
        out.append(
            "t1 = \(try store.token(digest: "t1")?.caseID ?? "-"), t2 = \(try store.token(digest: "t2")?.caseID ?? "-"), t3 = \(try store.token(digest: "t3")?.caseID ?? "-")"
        )
        return out
    }

    @Test("a case store: SQLite and in memory answer alike")
    func caseStores() throws {
        let sqlite = try Self.exercise(try SQLiteCaseStore(path: ":memory:"))
        let memory = try Self.exercise(InMemoryCaseStore())
        #expect(sqlite == memory)
        // And the answers are the contract's, not just equal.
        #expect(sqlite.contains("latest s:1 = b"))
        #expect(sqlite.contains("list = [\"d\", \"c\", \"b\", \"a\"]"))
        #expect(sqlite.contains("swept = 2"))
        #expect(sqlite.contains("left = [\"d\", \"a\"], count 2"))
        #expect(sqlite.contains("t1 = -, t2 = a, t3 = -"))
    }

    static func finding(_ n: Int, kind: FindingKind = .commandAndControl, score: Double, lastSeen: Int64) -> Finding {
        Finding(
            id: "\(kind.rawValue):\(n)", kind: kind,
            subject: FindingSubject(type: .endpoint, address: "192.0.2.\(n)", port: 443, protocol: "tcp", ports: nil),
            score: score, firstSeen: lastSeen - 100, lastSeen: lastSeen, detectedAt: lastSeen, updatedAt: lastSeen, family: nil,
            summary: "finding \(n)",
            evidence: Evidence())
    }

    static func exercise(_ store: any FindingStore) async throws -> [String] {
        var out: [String] = []
        try await store.upsert([
            finding(1, score: 0.9, lastSeen: 1_000), finding(2, score: 0.8, lastSeen: 5_000),
            finding(3, kind: .scanning, score: 0.95, lastSeen: 3_000),
        ])
        out.append("all = \(try await store.findings(matching: FindingQuery()).map(\.id))")
        out.append("c2 since 2000 = \(try await store.findings(matching: FindingQuery(kind: .commandAndControl, since: 2_000)).map(\.id))")
        out.append("score ≥ 0.85, limit 1 = \(try await store.findings(matching: FindingQuery(minimumScore: 0.85, limit: 1)).map(\.id))")
        let fp = Verdict(verdict: .falsePositive, analyst: "aki", note: "lab", at: 6_000)
        out.append("verdict = \(try await store.record(fp, forFinding: "c2-server:1")?.verdict?.analyst ?? "-")")
        out.append("verdict on none = \(try await store.record(fp, forFinding: "nope") == nil)")
        // Reported again: the new report replaces it, the verdict stays.
        var again = finding(1, score: 0.7, lastSeen: 7_000)
        again.summary = "again"
        try await store.upsert([again])
        let one = try await store.finding(id: "c2-server:1")
        out.append("again = \(one?.summary ?? "-") \(one?.score ?? 0) \(one?.verdict?.verdict.rawValue ?? "-")")
        out.append("false positives = \(try await store.falsePositiveEndpoints().map(\.description))")
        out.append("deleted = \(try await store.deleteFindings(lastSeenBefore: 4_000))")
        out.append("left = \(try await store.findings(matching: FindingQuery()).map(\.id))")
        return out
    }

    @Test("a finding store: SQLite and in memory answer alike")
    func findingStores() async throws {
        let sqlite = try await Self.exercise(try SQLiteFindingStore(path: ":memory:"))
        let memory = try await Self.exercise(InMemoryFindingStore())
        #expect(sqlite == memory)
        #expect(sqlite.first == "all = [\"scanning:3\", \"c2-server:1\", \"c2-server:2\"]")
        #expect(sqlite.contains("again = again 0.7 false-positive"))
        #expect(sqlite.contains("false positives = [\"192.0.2.1:443/tcp\"]"))
        #expect(sqlite.contains("deleted = 1"))
    }

    /// Everything a consent registry is asked, and what it answered.
    static func exercise(_ registry: any ConsentRegistry) throws -> [String] {
        var out: [String] = []
        let terms = ConsentEvent(
            subscriber: "s:1", kind: .termsAccepted, termsVersion: "v2", at: 1_000, method: "contract", recordedBy: "t")
        let optOut = ConsentEvent(
            subscriber: "s:1", kind: .optedOut, action: .warnInfection, at: 2_000, method: "web form", recordedBy: "t")
        try registry.record([terms, optOut], recordedAt: 2_500)
        out.append("history s:1 = \(try registry.history(of: "s:1").map(\.kind.rawValue))")
        out.append("opted out at 2000 = \(try registry.state(of: "s:1", at: 2_000).optOuts[.warnInfection] != nil)")
        out.append("opted out at 1999 = \(try registry.state(of: "s:1", at: 1_999).optOuts[.warnInfection] != nil)")
        // A malformed event refuses the whole batch.
        let bad = ConsentEvent(subscriber: "s:2", kind: .termsAccepted, at: 1, method: "x", recordedBy: "t")
        out.append("malformed refused = \((try? registry.record([terms, bad], recordedAt: 3_000)) == nil)")
        out.append("history s:1 after = \(try registry.history(of: "s:1").count)")
        try registry.setContact(SubscriberContact(email: "a@example.jp", language: "ja"), for: "s:3", at: 3_000)
        out.append("contact s:3 = \(try registry.contact(of: "s:3").map { "\($0.email ?? "-") \($0.language ?? "-")" } ?? "-")")
        out.append("contact s:9 = \(try registry.contact(of: "s:9") == nil ? "none" : "some")")
        let file = try CustomerConsentFile.parse(
            """
            account,email,language,terms_version,terms_accepted,warn_infection,warn_vulnerability,sinkhole_dns
            A-1,taro@example.jp,ja,v3,2025-04-01,,,opt_out@2026-03-01
            A-2,,en,v2,2025-02-10,consent@2026-01-05,,
            A-3,broken
            """)
        let summary = try registry.importCustomers(file, pseudonym: { "s:\($0)" }, at: 5_000, source: "test.csv")
        out.append(
            "import = \(summary.lines) lines, \(summary.subscribers) subscribers, \(summary.events) events, \(summary.contacts) contacts, rejected \(summary.rejected.map(\.line))"
        )
        let again = try registry.importCustomers(file, pseudonym: { "s:\($0)" }, at: 6_000, source: "test.csv")
        out.append("again = \(again.events) events, \(again.contacts) contacts")
        out.append("A-2 = \(try registry.history(of: "s:A-2").map(\.kind.rawValue))")
        out.append("subscribers = \(try registry.subscriberCount())")
        return out
    }

    @Test("a consent registry: SQLite and in memory answer alike")
    func consentRegistries() throws {
        let sqlite = try Self.exercise(try SQLiteConsentRegistry(path: ":memory:"))
        let memory = try Self.exercise(InMemoryConsentRegistry())
        #expect(sqlite == memory)
        #expect(sqlite.contains("opted out at 2000 = true"))
        #expect(sqlite.contains("opted out at 1999 = false"))
        #expect(sqlite.contains("malformed refused = true"))
        #expect(sqlite.contains("history s:1 after = 2"))
        #expect(sqlite.contains("again = 0 events, 0 contacts"), "re-importing the same file adds nothing")
        #expect(sqlite.contains("subscribers = 4"))
    }
}
