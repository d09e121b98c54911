import Accounts
import Foundation
import HTTPTypes
import MamoriCore

/// What an admin changes about operator accounts and machine tokens, shared by the JSON API
/// (``AccountsAPI``) and the console's Accounts page, so that both refuse and audit alike.
///
/// Each operation reads what the ``AccountWorkflow`` needs from the store, lets the workflow
/// decide (it checks the signed-in actor's permission and writes the audit entry among its
/// actions), and carries the actions out only when it agreed. Password hashing runs off the
/// cooperative pool.
struct AccountAdministration: Sendable {
    let accounts: AccountService

    /// Why an operation did not happen: the workflow refused, or there is nothing to change.
    enum Refusal: Error {
        case refused(AccountError)
        case notFound(String)
        case notSignedIn
        /// A token presented as the credential may not make a token wider than its own scope.
        case beyondTokenScope(Set<Permission>)

        /// The HTTP status and the sentence an operator reads, for the API and the console alike.
        var answer: (HTTPResponse.Status, String) {
            switch self {
            case .refused(let e):
                switch e.code {
                case .notPermitted, .scopeTooWide: (.forbidden, e.reason)
                case .nameTaken, .lastAdmin, .alreadyRevoked: (.conflict, e.reason)
                default: (.badRequest, e.reason)
                }
            case .notFound(let what): (.notFound, "no \(what)")
            case .notSignedIn: (.unauthorized, "not signed in")
            case .beyondTokenScope(let beyond):
                (.forbidden, "a token cannot make a token wider than its own scope; this one does not grant \(Permission.list(beyond))")
            }
        }
    }

    /// The changes an admin makes to an existing account.
    enum Change: Sendable, Hashable {
        case role(Role)
        case disable
        case enable
        case unlock
        case password(String)

        /// The path word of each change (`/api/v1/users/{name}/role` …).
        static let names = ["role", "disable", "enable", "unlock", "password"]
    }

    /// The signed-in operator's own account, as the workflow's actor.
    func actor() async throws -> (AccountActor, OperatorAccount)? {
        guard let p = RequestCredentials.current.principal, let a = try await accounts.store.account(id: p.accountID) else { return nil }
        return (.account(a), a)
    }

    func addUser(name: String, role: Role, password: String, language: OperatorAccount.Language) async throws -> Result<
        OperatorAccount, Refusal
    > {
        guard let (actor, _) = try await actor() else { return .failure(.notSignedIn) }
        let existing = try await accounts.store.account(named: name)
        let workflow = accounts.workflow
        let now = accounts.clock.milliseconds
        let result = await AccountService.offThePool { () -> Result<AccountChange<OperatorAccount>, AccountError> in
            var random = SystemRandomNumberGenerator()
            return Result { () throws(AccountError) in
                try workflow.createAccount(
                    name: name, role: role, password: password, language: language, existing: existing, by: actor, at: now,
                    using: &random)
            }
        }
        return try await carryOut(result)
    }

    func change(_ change: Change, name: String) async throws -> Result<OperatorAccount, Refusal> {
        guard let (actor, _) = try await actor() else { return .failure(.notSignedIn) }
        guard let account = try await accounts.store.account(named: name) else { return .failure(.notFound("account \(name)")) }
        let workflow = accounts.workflow
        let now = accounts.clock.milliseconds
        let admins = try await accounts.store.enabledAdminCount()
        let result: Result<AccountChange<OperatorAccount>, AccountError>
        switch change {
        case .role(let role):
            result = Result { () throws(AccountError) in
                try workflow.setRole(of: account, to: role, enabledAdmins: admins, by: actor, at: now)
            }
        case .disable, .enable:
            result = Result { () throws(AccountError) in
                try workflow.setDisabled(change == .disable, account: account, enabledAdmins: admins, by: actor, at: now)
            }
        case .unlock:
            result = Result { () throws(AccountError) in try workflow.unlock(account, by: actor, at: now) }
        case .password(let password):
            result = await AccountService.offThePool {
                Result { () throws(AccountError) in
                    try workflow.changePassword(of: account, to: password, current: nil, by: actor, at: now)
                }
            }
        }
        return try await carryOut(result)
    }

    /// A new machine token, valid for `days` days; its secret is in the result once and nowhere
    /// else (the store keeps a digest).
    func createToken(name: String, permissions: Set<Permission>, days: Int) async throws -> Result<
        (token: IssuedToken, creator: OperatorAccount), Refusal
    > {
        // A token acts within its scope: the tokens it makes too. (The workflow bounds a scope by
        // the creator's role; a token of an admin scoped to manage_tokens must not mint one with
        // manage_accounts.)
        if let presenting = RequestCredentials.current.principal, case .token = presenting.credential {
            let beyond = permissions.subtracting(presenting.permissions)
            guard beyond.isEmpty else { return .failure(.beyondTokenScope(beyond)) }
        }
        guard let (actor, creator) = try await actor() else { return .failure(.notSignedIn) }
        let now = accounts.clock.milliseconds
        var random = SystemRandomNumberGenerator()
        let workflow = accounts.workflow
        let result = Result { () throws(AccountError) in
            try workflow.createToken(
                name: name, permissions: permissions, expiresAt: now + Int64(days) * 86_400_000, creator: creator, by: actor, at: now,
                using: &random)
        }
        return try await carryOut(result).map { ($0, creator) }
    }

    func revokeToken(id: String) async throws -> Result<MachineToken, Refusal> {
        guard let token = try await accounts.store.token(id: id) else { return .failure(.notFound("token \(id)")) }
        guard let (actor, _) = try await actor() else { return .failure(.notSignedIn) }
        let now = accounts.clock.milliseconds
        let workflow = accounts.workflow
        return try await carryOut(Result { () throws(AccountError) in try workflow.revokeToken(token, by: actor, at: now) })
    }

    /// Carries out a change's actions (its audit entry first) when the workflow agreed.
    private func carryOut<V>(_ result: Result<AccountChange<V>, AccountError>) async throws -> Result<V, Refusal> {
        switch result {
        case .success(let change):
            try await accounts.perform(change.actions)
            return .success(change.value)
        case .failure(let e):
            return .failure(.refused(e))
        }
    }
}
