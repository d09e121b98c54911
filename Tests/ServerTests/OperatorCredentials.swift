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
        let account: OperatorAccount
        if let existing = try await accountStore.account(named: accountName) {
            account = existing // a server started again on the same data directory
        } else {
            account = try workflow.createAccount(
                name: accountName, role: role, password: "a long test password", existing: nil, by: .console, at: now, using: &random
            ).value
            try await accountStore.save(account)
        }
        let issued = try workflow.createToken(
            name: "test", permissions: scope ?? role.permissions, expiresAt: now + 86_400_000, creator: account, by: .console, at: now,
            using: &random
        ).value
        try await accountStore.save(issued.token)
        return [.authorization: "Bearer \(issued.presented.revealed)"]
    }
}
