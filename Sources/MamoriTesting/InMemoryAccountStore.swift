import Accounts

/// Accounts, tokens and sessions kept in memory: the same contract as `Storage.SQLiteAccountStore`
/// (unique names, lists in the same order, the same expiry rule).
public actor InMemoryAccountStore: AccountStore {
    private var accountsByID: [String: OperatorAccount] = [:]
    private var tokensByID: [String: MachineToken] = [:]
    private var sessionsByDigest: [String: OperatorSession] = [:]

    public init() {}

    public func account(id: String) async throws -> OperatorAccount? { accountsByID[id] }

    public func account(named name: String) async throws -> OperatorAccount? { accountsByID.values.first { $0.name == name } }

    public func accounts() async throws -> [OperatorAccount] { accountsByID.values.sorted { $0.name < $1.name } }

    public func save(_ account: OperatorAccount) async throws {
        if accountsByID.values.contains(where: { $0.name == account.name && $0.id != account.id }) {
            throw InMemoryStoreError.duplicate("account name \(account.name)")
        }
        accountsByID[account.id] = account
    }

    public func token(id: String) async throws -> MachineToken? { tokensByID[id] }

    public func tokens() async throws -> [MachineToken] { tokensByID.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }

    public func save(_ token: MachineToken) async throws { tokensByID[token.id] = token }

    public func session(digest: String) async throws -> OperatorSession? { sessionsByDigest[digest] }

    public func save(_ session: OperatorSession) async throws { sessionsByDigest[session.digest] = session }

    public func deleteSession(digest: String) async throws { sessionsByDigest[digest] = nil }

    @discardableResult
    public func deleteSessions(accountID: String) async throws -> Int {
        let gone = sessionsByDigest.values.filter { $0.accountID == accountID }.map(\.digest)
        for d in gone { sessionsByDigest[d] = nil }
        return gone.count
    }

    @discardableResult
    public func deleteExpiredSessions(at now: Int64, policy: SessionPolicy) async throws -> Int {
        let gone = sessionsByDigest.values.filter { $0.expiry(at: now, policy: policy) != nil }.map(\.digest)
        for d in gone { sessionsByDigest[d] = nil }
        return gone.count
    }
}
