import Accounts
import MamoriTesting
import Storage
import Testing

/// The in-memory account store keeps the SQLite store's contract: the same calls, the same answers.
@Suite struct AccountStoreContractTests {
    static func account(_ id: String, _ name: String, role: Role = .viewer) -> OperatorAccount {
        OperatorAccount(id: id, name: name, role: role, passwordHash: "$2b$04$hash-of-\(name)", createdAt: 10, language: .en)
    }

    static func session(_ digest: String, account: String, created: Int64, lastSeen: Int64) -> OperatorSession {
        OperatorSession(
            digest: digest, accountID: account, createdAt: created, lastSeenAt: lastSeen, csrfToken: "csrf-\(digest)",
            clientAddress: "192.0.2.1")
    }

    static func exercise(_ store: any AccountStore) async throws -> [String] {
        var out: [String] = []
        try await store.save(account("a1", "zoe", role: .admin))
        try await store.save(account("a2", "adam"))
        out.append("accounts = \(try await store.accounts().map(\.name))")
        var zoe = try #require(try await store.account(named: "zoe"))
        out.append("zoe = \(zoe.id) \(zoe.role.rawValue) \(zoe.language.rawValue) \(zoe.passwordHash)")
        zoe.failedLogins = 20
        zoe.lockedUntil = 5_000
        zoe.disabled = true
        zoe.changedAt = 99
        try await store.save(zoe)
        let again = try await store.account(id: "a1")
        out.append("saved again equal = \(again == zoe)")
        out.append("unknown = \(try await store.account(named: "nobody") == nil), \(try await store.account(id: "a9") == nil)")
        var duplicateRefused = false
        do { try await store.save(account("a3", "adam")) } catch { duplicateRefused = true }
        out.append("duplicate name refused = \(duplicateRefused), count \(try await store.accounts().count)")

        let t1 = MachineToken(
            id: "00000000000000b2", name: "ci", permissions: [.readFindings, .readCases], createdBy: "a1", createdAt: 30, expiresAt: 90,
            digest: String(repeating: "ab", count: 32))
        let t2 = MachineToken(
            id: "00000000000000a1", name: "grafana", permissions: [.readMetrics], createdBy: "a1", createdAt: 20, expiresAt: 80,
            digest: String(repeating: "cd", count: 32))
        try await store.save(t1)
        try await store.save(t2)
        out.append("tokens = \(try await store.tokens().map(\.id))")
        var revoked = t1
        revoked.revokedAt = 40
        try await store.save(revoked)
        out.append("token round trip = \(try await store.token(id: t1.id) == revoked), \(try await store.token(id: "ffff") == nil)")

        try await store.save(session("s1", account: "a1", created: 0, lastSeen: 0))
        try await store.save(session("s2", account: "a1", created: 0, lastSeen: 1_500_000))
        try await store.save(session("s3", account: "a2", created: 100, lastSeen: 100))
        try await store.save(session("s4", account: "a2", created: 1_000_000, lastSeen: 1_000_000))
        var s4 = try #require(try await store.session(digest: "s4"))
        s4.lastSeenAt = 1_700_000
        try await store.save(s4)
        out.append("s4 = \(try await store.session(digest: "s4") == s4)")
        // At 30 minutes and 1 ms: s1 and s3 idle; s2 and s4 seen recently.
        out.append("expired = \(try await store.deleteExpiredSessions(at: 1_800_101, policy: SessionPolicy()))")
        var left: [String] = []
        for d in ["s1", "s2", "s3", "s4"] {
            if try await store.session(digest: d) != nil { left.append(d) }
        }
        out.append("sessions left = \(left)")
        out.append("a1 sessions deleted = \(try await store.deleteSessions(accountID: "a1"))")
        try await store.deleteSession(digest: "s4")
        try await store.deleteSession(digest: "never")
        out.append("s2 = \(try await store.session(digest: "s2") == nil), s4 = \(try await store.session(digest: "s4") == nil)")
        return out
    }

    @Test("an account store: SQLite and in memory answer alike")
    func accountStores() async throws {
        let sqlite = try await Self.exercise(try SQLiteAccountStore(path: ":memory:"))
        let memory = try await Self.exercise(InMemoryAccountStore())
        #expect(sqlite == memory)
        #expect(sqlite.contains("accounts = [\"adam\", \"zoe\"]"))
        #expect(sqlite.contains("saved again equal = true"))
        #expect(sqlite.contains("duplicate name refused = true, count 2"))
        #expect(sqlite.contains("tokens = [\"00000000000000a1\", \"00000000000000b2\"]"))
        #expect(sqlite.contains("token round trip = true, true"))
        #expect(sqlite.contains("expired = 2"))
        #expect(sqlite.contains("sessions left = [\"s2\", \"s4\"]"))
        #expect(sqlite.contains("a1 sessions deleted = 1"))
        #expect(sqlite.contains("s2 = true, s4 = true"))
    }

    @Test("the account database is a private file (0600) and reopens with what was saved")
    func privateFile() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/accounts.sqlite"
        let store = try SQLiteAccountStore(path: path)
        try await store.save(Self.account("a1", "zoe"))
        #expect(PrivateFiles.mode(of: path) == 0o600)
        let reopened = try SQLiteAccountStore(path: path)
        #expect(try await reopened.account(named: "zoe")?.id == "a1")
    }
}
