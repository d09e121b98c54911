/// Where accounts, machine tokens and browser sessions are kept: an embedded SQLite file by
/// default (`Storage.SQLiteAccountStore`), in memory in tests (`MamoriTesting.InMemoryAccountStore`).
///
/// Implementations must keep account names unique (a save of a different account under a taken
/// name throws) and must never hold a password, a token secret or a session id: accounts carry a
/// password hash, tokens and sessions their SHA-256 digests.
public protocol AccountStore: Sendable {
    func account(id: String) async throws -> OperatorAccount?
    func account(named name: String) async throws -> OperatorAccount?
    /// Every account, by name.
    func accounts() async throws -> [OperatorAccount]
    /// Inserts or replaces the account with this id.
    func save(_ account: OperatorAccount) async throws

    func token(id: String) async throws -> MachineToken?
    /// Every token, oldest first (then by id).
    func tokens() async throws -> [MachineToken]
    /// Inserts or replaces the token with this id.
    func save(_ token: MachineToken) async throws

    func session(digest: String) async throws -> OperatorSession?
    /// Inserts or replaces the session with this digest.
    func save(_ session: OperatorSession) async throws
    func deleteSession(digest: String) async throws
    /// Ends every session of an account (disabled, password changed); returns how many.
    @discardableResult func deleteSessions(accountID: String) async throws -> Int
    /// Deletes the sessions over at `now` under `policy` (idle or past their lifetime); returns how many.
    @discardableResult func deleteExpiredSessions(at now: Int64, policy: SessionPolicy) async throws -> Int
}

extension AccountStore {
    /// Enabled admin accounts: the workflow keeps at least one (``AccountError/Code/lastAdmin``).
    public func enabledAdminCount() async throws -> Int { try await accounts().filter { $0.role == .admin && !$0.disabled }.count }
}
