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
        case .failure(.peerAccount):
            return APIRefusal.response(.forbidden, AuthenticationFailure.peerAccount.description)
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

    var administration: AccountAdministration { AccountAdministration(accounts: accounts) }

    func addUser(_ request: Request) async throws -> Response {
        struct Body: Decodable {
            var name: String
            var role: String
            var password: String
            var language: String?
        }
        guard let body: Body = try await decode(request, limit: 8 * 1024), let role = Role(rawValue: body.role) else {
            return bad("send {\"name\", \"role\": peer|viewer|analyst|admin, \"password\", \"language\": ja|en}")
        }
        guard let language = OperatorAccount.Language(rawValue: body.language ?? "ja") else { return bad("language must be ja or en") }
        let now = accounts.clock.milliseconds
        let result = try await administration.addUser(name: body.name, role: role, password: body.password, language: language)
        return answer(result, status: .created) { AccountAnswer($0, now: now) }
    }

    func change(_ what: String, name: String, _ request: Request) async throws -> Response {
        let change: AccountAdministration.Change
        switch what {
        case "role":
            struct Body: Decodable { var role: String }
            guard let body: Body = try await decode(request, limit: 1024), let role = Role(rawValue: body.role) else {
                return bad("send {\"role\": peer|viewer|analyst|admin}")
            }
            change = .role(role)
        case "disable": change = .disable
        case "enable": change = .enable
        case "unlock": change = .unlock
        default:
            struct Body: Decodable { var password: String }
            guard let body: Body = try await decode(request, limit: 8 * 1024) else { return bad("send {\"password\": \"…\"}") }
            change = .password(body.password)
        }
        let now = accounts.clock.milliseconds
        return answer(try await administration.change(change, name: name), status: .ok) { AccountAnswer($0, now: now) }
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
        let result = try await administration.createToken(name: body.name, permissions: permissions, days: body.expiresInDays)
        return answer(result, status: .created) {
            TokenAnswer($0.token.token, creator: $0.creator.name, presented: $0.token.presented.revealed)
        }
    }

    func revokeToken(_ id: String) async throws -> Response {
        let result = try await administration.revokeToken(id: id)
        let creator: String? =
            if case .success(let t) = result { try await accounts.store.account(id: t.createdBy)?.name } else { nil }
        return answer(result, status: .ok) { TokenAnswer($0, creator: creator) }
    }

    // MARK: Helpers

    /// The value of a change that was made, or why it was not.
    func answer<V, A: Encodable>(_ result: Result<V, AccountAdministration.Refusal>, status: HTTPResponse.Status, _ encode: (V) -> A)
        -> Response
    {
        switch result {
        case .success(let value): return json(status, encode(value))
        case .failure(let refusal):
            let (status, message) = refusal.answer
            return APIRefusal.response(status, message)
        }
    }

    func decode<T: Decodable>(_ request: Request, limit: Int) async throws -> T? {
        let bytes = try await request.body.collect(upTo: limit)
        return try? JSONDecoder().decode(T.self, from: Data(bytes.readableBytesView))
    }

}
