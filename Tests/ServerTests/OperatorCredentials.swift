import Accounts
import Foundation
import Hummingbird
import Server

extension MamoriServices {
    /// A fresh operator account of `role` and a machine token with everything the role grants,
    /// put straight into the account store (test setup: not audited, unlike `mamori user add`).
    /// Returns the header that presents the token.
    func operatorHeaders(role: Role = .admin, name: String? = nil, scope: Set<Permission>? = nil) async throws -> HTTPFields {
        let workflow = AccountWorkflow(hashing: BcryptPasswordHashing(cost: 4))
        var random = SystemRandomNumberGenerator()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let accountName = name ?? "test-\(role.rawValue)"
        // Reused when a server starts again on the same data directory.
        let existing = try await accountStore.account(named: accountName)
        let account = if let existing { existing } else { try await addAccount(accountName, role: role, password: "a long test password") }
        let issued = try workflow.createToken(
            name: "test", permissions: scope ?? role.permissions, expiresAt: now + 86_400_000, creator: account, by: .console, at: now,
            using: &random
        ).value
        try await accountStore.save(issued.token)
        return [.authorization: "Bearer \(issued.presented.revealed)"]
    }

    /// A new operator account of `role` with `password`, straight into the account store.
    @discardableResult
    func addAccount(_ name: String, role: Role, password: String) async throws -> OperatorAccount {
        var random = SystemRandomNumberGenerator()
        let account = try AccountWorkflow(hashing: BcryptPasswordHashing(cost: 4)).createAccount(
            name: name, role: role, password: password, existing: nil, by: .console, at: Int64(Date().timeIntervalSince1970 * 1000),
            using: &random
        ).value
        try await accountStore.save(account)
        return account
    }
}
