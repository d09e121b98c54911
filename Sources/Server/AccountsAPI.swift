import Accounts
import Foundation
import Hummingbird
import MamoriCore
import Metrics
import NIOCore

/// Signing in and out, and (for admins) accounts and machine tokens, over the JSON API:
///
/// - `POST /api/v1/session` `{"name", "password"}` → the session cookie and `{"operator", "role",
///   "csrf_token"}`; 401 for a wrong name or password alike, 429 when throttled.
/// - `GET /api/v1/session` → who is signed in, with the CSRF token to send in `X-CSRF-Token`.
/// - `DELETE /api/v1/session` → signed out (the session is deleted server-side).
/// - `GET|POST /api/v1/users`, `POST /api/v1/users/{name}/role|disable|enable|unlock|password`.
/// - `GET|POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`: a new token is shown once.
///
/// Every change goes through ``AccountWorkflow`` and is audited before it is made.
struct AccountsAPI: Sendable, JSONAPI {
    let accounts: AccountService
    let invalidRequests: Counter

    func register(on routes: Routes) {
        routes.post("/api/v1/session", .open) { request, context in try await self.login(request, context) }
        routes.get("/api/v1/session", .signedIn) { _, _ in try await self.whoAmI() }
        routes.delete("/api/v1/session", .signedIn) { _, _ in try await self.logout() }
        routes.get("/api/v1/users", .permission(.manageAccounts)) { _, _ in try await self.users() }
        routes.post("/api/v1/users", .permission(.manageAccounts)) { request, _ in try await self.addUser(request) }
        for change in ["role", "disable", "enable", "unlock", "password"] {
            routes.post("/api/v1/users/:name/\(change)", .permission(.manageAccounts)) { request, context in
                try await self.change(change, name: context.parameters.get("name") ?? "", request)
            }
        }
        routes.get("/api/v1/tokens", .permission(.manageTokens)) { _, _ in try await self.tokens() }
        routes.post("/api/v1/tokens", .permission(.manageTokens)) { request, _ in try await self.createToken(request) }
        routes.delete("/api/v1/tokens/:id", .permission(.manageTokens)) { _, context in
            try await self.revokeToken(context.parameters.get("id") ?? "")
        }
    }

    // MARK: Sessions

    func login(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        struct Body: Decodable {
            var name: String
            var password: String
        }
        guard let body: Body = try await decode(request, limit: 8 * 1024) else {
            return bad("send {\"name\": \"…\", \"password\": \"…\"} as JSON")
        }
        let previous = request.cookies[AccountService.cookieName]?.value
        switch try await accounts.login(
            name: body.name, password: body.password, client: context.clientAddress, previousSessionID: previous)
        {
        case .success(let s):
            var response = json(.ok, SessionAnswer(s.principal, csrfToken: s.csrfToken.revealed))
            response.setCookie(accounts.cookie(for: s))
            return response
        case .failure(.throttled):
            return APIRefusal.response(.tooManyRequests, AuthenticationFailure.throttled.description, headers: [.retryAfter: "60"])
        case .failure(let f):
            return APIRefusal.response(.unauthorized, f.description)
        }
    }

    struct SessionAnswer: Encodable {
        var operatorName: String
        var role: String
        var language: String
        var permissions: [String]
        var csrfToken: String?

        init(_ p: Principal, csrfToken: String?) {
            operatorName = p.name
            role = p.role.rawValue
            language = p.language.rawValue
            permissions = p.permissions.sorted().map(\.rawValue)
            self.csrfToken = csrfToken
        }

        enum CodingKeys: String, CodingKey {
            case operatorName = "operator"
            case role, language, permissions
            case csrfToken = "csrf_token"
        }
    }

    func whoAmI() async throws -> Response {
        let c = RequestCredentials.current
        guard let p = c.principal else { return APIRefusal.response(.unauthorized, "not signed in") }
        return json(.ok, SessionAnswer(p, csrfToken: c.session?.csrfToken))
    }

    func logout() async throws -> Response {
        if let session = RequestCredentials.current.session { try await accounts.logout(session) }
        var response = json(.ok, ["signed_out": true])
        response.setCookie(accounts.expiredCookie)
        return response
    }

    // MARK: Accounts

    struct AccountAnswer: Encodable {
        var id: String
        var name: String
        var role: String
        var disabled: Bool
        var locked: Bool
        /// While locked: until when (ms).
        var lockedUntil: Int64?
        var failedLogins: Int
        var language: String
        var createdAt: Int64
        var changedAt: Int64

        enum CodingKeys: String, CodingKey {
            case id, name, role, disabled, locked, language
            case lockedUntil = "locked_until"
            case failedLogins = "failed_logins"
            case createdAt = "created_at"
            case changedAt = "changed_at"
        }

        init(_ a: OperatorAccount, now: Int64) {
            id = a.id
            name = a.name
            role = a.role.rawValue
            disabled = a.disabled
            locked = a.isLocked(at: now)
            lockedUntil = locked ? a.lockedUntil : nil
            failedLogins = a.failedLogins
            language = a.language.rawValue
            createdAt = a.createdAt
            changedAt = a.changedAt
        }
    }

    func users() async throws -> Response {
        let now = accounts.clock.milliseconds
        let all = try await accounts.store.accounts().sorted { $0.name < $1.name }
        return json(.ok, ["accounts": all.map { AccountAnswer($0, now: now) }])
    }

    /// The signed-in operator's own account, as the workflow's actor.
    func actor() async throws -> (AccountActor, OperatorAccount)? {
        guard let p = RequestCredentials.current.principal, let a = try await accounts.store.account(id: p.accountID) else { return nil }
        return (.account(a), a)
    }

    func addUser(_ request: Request) async throws -> Response {
        struct Body: Decodable {
            var name: String
            var role: String
            var password: String
            var language: String?
        }
        guard let body: Body = try await decode(request, limit: 8 * 1024), let role = Role(rawValue: body.role) else {
            return bad("send {\"name\", \"role\": viewer|analyst|admin, \"password\", \"language\": ja|en}")
        }
        guard let language = OperatorAccount.Language(rawValue: body.language ?? "ja") else { return bad("language must be ja or en") }
        guard let (actor, _) = try await actor() else { return APIRefusal.response(.unauthorized, "not signed in") }
        let existing = try await accounts.store.account(named: body.name)
        let workflow = accounts.workflow
        let now = accounts.clock.milliseconds
        let result = await AccountService.offThePool { () -> Result<AccountChange<OperatorAccount>, AccountError> in
            var random = SystemRandomNumberGenerator()
            return Result { () throws(AccountError) in
                try workflow.createAccount(
                    name: body.name, role: role, password: body.password, language: language, existing: existing, by: actor, at: now,
                    using: &random)
            }
        }
        return try await answer(result, status: .created) { AccountAnswer($0, now: now) }
    }

    func change(_ what: String, name: String, _ request: Request) async throws -> Response {
        guard let (actor, _) = try await actor() else { return APIRefusal.response(.unauthorized, "not signed in") }
        guard let account = try await accounts.store.account(named: name) else { return notFound("account \(name)") }
        let workflow = accounts.workflow
        let now = accounts.clock.milliseconds
        let admins = try await accounts.store.enabledAdminCount()
        let result: Result<AccountChange<OperatorAccount>, AccountError>
        switch what {
        case "role":
            struct Body: Decodable { var role: String }
            guard let body: Body = try await decode(request, limit: 1024), let role = Role(rawValue: body.role) else {
                return bad("send {\"role\": viewer|analyst|admin}")
            }
            result = Result { () throws(AccountError) in
                try workflow.setRole(of: account, to: role, enabledAdmins: admins, by: actor, at: now)
            }
        case "disable", "enable":
            result = Result { () throws(AccountError) in
                try workflow.setDisabled(what == "disable", account: account, enabledAdmins: admins, by: actor, at: now)
            }
        case "unlock":
            result = Result { () throws(AccountError) in try workflow.unlock(account, by: actor, at: now) }
        default:
            struct Body: Decodable { var password: String }
            guard let body: Body = try await decode(request, limit: 8 * 1024) else { return bad("send {\"password\": \"…\"}") }
            result = await AccountService.offThePool {
                Result { () throws(AccountError) in
                    try workflow.changePassword(of: account, to: body.password, current: nil, by: actor, at: now)
                }
            }
        }
        return try await answer(result, status: .ok) { AccountAnswer($0, now: now) }
    }

    // MARK: Tokens

    struct TokenAnswer: Encodable {
        var id: String
        var name: String
        var scope: [String]
        /// The id of the account the token acts for, and its name when known.
        var createdBy: String
        var createdByName: String?
        var createdAt: Int64
        var expiresAt: Int64
        var revokedAt: Int64?
        /// Only in the answer that creates it.
        var token: String?

        enum CodingKeys: String, CodingKey {
            case id, name, scope, token
            case createdBy = "created_by"
            case createdByName = "created_by_name"
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case revokedAt = "revoked_at"
        }

        init(_ t: MachineToken, creator: String? = nil, presented: String? = nil) {
            id = t.id
            name = t.name
            scope = t.permissions.sorted().map(\.rawValue)
            createdBy = t.createdBy
            createdByName = creator
            createdAt = t.createdAt
            expiresAt = t.expiresAt
            revokedAt = t.revokedAt
            token = presented
        }
    }

    func tokens() async throws -> Response {
        let all = try await accounts.store.tokens().sorted { $0.createdAt < $1.createdAt }
        let names = Dictionary(try await accounts.store.accounts().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        return json(.ok, ["tokens": all.map { TokenAnswer($0, creator: names[$0.createdBy]) }])
    }

    func createToken(_ request: Request) async throws -> Response {
        struct Body: Decodable {
            var name: String
            var scope: [String]
            var expiresInDays: Int
            enum CodingKeys: String, CodingKey {
                case name, scope
                case expiresInDays = "expires_in_days"
            }
        }
        guard let body: Body = try await decode(request, limit: 8 * 1024), (1...366).contains(body.expiresInDays),
            body.scope.count <= Permission.allCases.count
        else {
            return bad("send {\"name\", \"scope\": [permission…], \"expires_in_days\": 1–366}")
        }
        let permissions = Set(body.scope.compactMap(Permission.init(rawValue:)))
        guard permissions.count == Set(body.scope).count else {
            return bad("scope: unknown permission; known: \(Permission.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // A token acts within its scope: the tokens it makes too. (The workflow bounds a scope by
        // the creator's role; a token of an admin scoped to manage_tokens must not mint one with
        // manage_accounts.)
        if let presenting = RequestCredentials.current.principal, case .token = presenting.credential {
            let beyond = permissions.subtracting(presenting.permissions)
            guard beyond.isEmpty else {
                return APIRefusal.response(
                    .forbidden, "a token cannot make a token wider than its own scope; this one does not grant \(Permission.list(beyond))")
            }
        }
        guard let (actor, creator) = try await actor() else { return APIRefusal.response(.unauthorized, "not signed in") }
        let now = accounts.clock.milliseconds
        var random = SystemRandomNumberGenerator()
        let workflow = accounts.workflow
        let result = Result { () throws(AccountError) in
            try workflow.createToken(
                name: body.name, permissions: permissions, expiresAt: now + Int64(body.expiresInDays) * 86_400_000, creator: creator,
                by: actor, at: now, using: &random)
        }
        return try await answer(result, status: .created) {
            TokenAnswer($0.token, creator: creator.name, presented: $0.presented.revealed)
        }
    }

    func revokeToken(_ id: String) async throws -> Response {
        guard let token = try await accounts.store.token(id: id) else { return notFound("token \(id)") }
        guard let (actor, _) = try await actor() else { return APIRefusal.response(.unauthorized, "not signed in") }
        let now = accounts.clock.milliseconds
        let workflow = accounts.workflow
        let result = Result { () throws(AccountError) in try workflow.revokeToken(token, by: actor, at: now) }
        let creator = try await accounts.store.account(id: token.createdBy)?.name
        return try await answer(result, status: .ok) { TokenAnswer($0, creator: creator) }
    }

    // MARK: Helpers

    /// Carries out a change's actions and answers with its value, or the workflow's refusal.
    func answer<V, A: Encodable>(_ result: Result<AccountChange<V>, AccountError>, status: HTTPResponse.Status, _ encode: (V) -> A)
        async throws -> Response
    {
        switch result {
        case .success(let change):
            try await accounts.perform(change.actions)
            return json(status, encode(change.value))
        case .failure(let e):
            switch e.code {
            case .notPermitted, .scopeTooWide: return APIRefusal.response(.forbidden, e.reason)
            case .nameTaken, .lastAdmin, .alreadyRevoked: return APIRefusal.response(.conflict, e.reason)
            default: return bad(e.reason)
            }
        }
    }

    func decode<T: Decodable>(_ request: Request, limit: Int) async throws -> T? {
        let bytes = try await request.body.collect(upTo: limit)
        return try? JSONDecoder().decode(T.self, from: Data(bytes.readableBytesView))
    }

    func notFound(_ what: String) -> Response { APIRefusal.response(.notFound, "no \(what)") }
}
