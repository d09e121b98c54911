import Accounts
import Crypto
import Foundation
import Hummingbird
import Lawful
import Logging
import MamoriCore
import NIOConcurrencyHelpers
import Storage

/// Operator accounts inside `mamori serve`: authenticates each request's credentials, signs
/// operators in and out, and carries out the account workflow's actions — audit entries first (a
/// change the audit trail cannot record is not made), then the store.
final class AccountService: Sendable {
    let store: any AccountStore
    let workflow: AccountWorkflow
    let audit: any AuditTrail
    let clock: any WallClock
    let logger: Logger
    /// Whether the session cookie is marked Secure (the listener serves HTTPS, or says it is
    /// behind a proxy that does).
    let secureCookies: Bool
    private let throttle: NIOLockedValueBox<LoginThrottle>
    /// Recent HTTP Basic successes (``authenticate(basic:client:)``), so that a peer paging through
    /// a collection does not cost a bcrypt check per page: SHA-256 of name and password → the
    /// account and the password hash it matched, until `expires`.
    private let basicCache = NIOLockedValueBox([String: (accountID: String, passwordHash: String, expires: Int64)]())
    static let basicCacheLifetime: Int64 = 300_000
    static let basicCacheEntries = 256
    static let cookieName = "mamori_session"

    init(
        store: any AccountStore, workflow: AccountWorkflow, audit: any AuditTrail, clock: any WallClock, logger: Logger,
        secureCookies: Bool = false
    ) {
        self.store = store
        self.workflow = workflow
        self.audit = audit
        self.clock = clock
        self.logger = logger
        self.secureCookies = secureCookies
        throttle = NIOLockedValueBox(LoginThrottle())
    }

    /// The credentials a request presents, checked: a bearer token first, else the session cookie.
    /// A store that cannot be read counts as no credentials (the route then answers 401).
    func credentials(of request: Request, at now: Int64) async -> RequestCredentials {
        do {
            switch PresentedCredentials(authorization: request.headers[.authorization], cookieHeaders: request.headers[values: .cookie]) {
            case .none: break
            case .malformed: return RequestCredentials(failure: .badCredentials)
            case .token(let presented, let parsed):
                let token = try await store.token(id: parsed.id)
                let creator = if let token { try await store.account(id: token.createdBy) } else { OperatorAccount?.none }
                let step = workflow.authenticate(token: presented, token: token, creator: creator, at: now)
                return try await outcome(step, session: nil)
            case .session(let id, let digest):
                let session = try await store.session(digest: digest)
                let account = if let session { try await store.account(id: session.accountID) } else { OperatorAccount?.none }
                let step = workflow.authenticate(sessionID: id, session: session, account: account, at: now)
                return try await outcome(step, session: session)
            }
        } catch {
            logger.error("operator credentials could not be checked", metadata: ["error": "\(error)"])
        }
        return .none
    }

    private func outcome(_ step: AuthenticationStep<Principal>, session: OperatorSession?) async throws -> RequestCredentials {
        try await perform(step.actions)
        switch step.outcome {
        case .success(let p): return RequestCredentials(principal: p, session: session)
        case .failure(let f): return RequestCredentials(failure: f)
        }
    }

    /// HTTP Basic credentials on a sharing route: the account's name and password, checked as a
    /// login is (throttle, lockout, audit of failures) but making no session. A success is
    /// remembered for five minutes by a digest of name and password, and only while the account
    /// keeps that password hash and is neither disabled nor locked.
    func authenticate(basic: PresentedBasicCredentials, client: String) async -> RequestCredentials {
        let now = clock.milliseconds
        let key = SHA256.hash(data: Data((basic.name + "\u{0}" + basic.password).utf8)).map { String(format: "%02x", $0) }.joined()
        do {
            if let hit = basicCache.withLockedValue({ $0[key] }), hit.expires > now,
                let account = try await store.account(id: hit.accountID),
                account.passwordHash == hit.passwordHash, account.name == basic.name, !account.disabled, !account.isLocked(at: now)
            {
                return RequestCredentials(
                    principal: Principal(
                        accountID: account.id, name: account.name, role: account.role, permissions: account.role.permissions,
                        language: account.language, credential: .password))
            }
            let account = OperatorAccount.isValidName(basic.name) ? try await store.account(named: basic.name) : nil
            let step = await Self.offThePool { [workflow, throttle] in
                throttle.withLockedValue { t in
                    workflow.authenticate(name: basic.name, password: basic.password, from: client, at: now, account: account, throttle: &t)
                }
            }
            try await perform(step.actions)
            switch step.outcome {
            case .failure(let f): return RequestCredentials(failure: f)
            case .success(let p):
                if let account {
                    basicCache.withLockedValue { cache in
                        if cache.count >= Self.basicCacheEntries { cache = cache.filter { $0.value.expires > now } }
                        if cache.count >= Self.basicCacheEntries { cache.removeAll() }
                        cache[key] = (account.id, account.passwordHash, now + Self.basicCacheLifetime)
                    }
                }
                return RequestCredentials(principal: p)
            }
        } catch {
            logger.error("operator credentials could not be checked", metadata: ["error": "\(error)"])
            return .none
        }
    }

    /// A login from the console or the API; the bcrypt check runs on a thread of its own.
    func login(name: String, password: String, client: String, previousSessionID: String?) async throws
        -> Result<LoginSuccess, AuthenticationFailure>
    {
        let now = clock.milliseconds
        let account = OperatorAccount.isValidName(name) ? try await store.account(named: name) : nil
        let previous = previousSessionID.flatMap(OperatorSession.digest(ofPresented:))
        let step = await Self.offThePool { [workflow, throttle] in
            throttle.withLockedValue { t in
                var random = SystemRandomNumberGenerator()
                return workflow.login(
                    name: name, password: password, from: client, at: now, account: account, previousSessionDigest: previous,
                    throttle: &t, using: &random)
            }
        }
        try await perform(step.actions)
        return step.outcome
    }

    func logout(_ session: OperatorSession) async throws {
        let account = try await store.account(id: session.accountID)
        try await perform(workflow.logout(session, account: account, at: clock.milliseconds))
    }

    /// The session cookie for a login: HttpOnly, SameSite=Strict, for the whole site, as long as
    /// the session's absolute lifetime (Secure when the server is reached over TLS).
    func cookie(for success: LoginSuccess) -> Cookie {
        Cookie(
            name: Self.cookieName, value: success.sessionID.revealed,
            maxAge: Int(workflow.configuration.sessions.absoluteLifetime / 1000), path: "/", secure: secureCookies, httpOnly: true,
            sameSite: .strict)
    }

    /// A cookie that removes the session cookie.
    var expiredCookie: Cookie {
        Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    /// Carries out the workflow's actions in order; an audit entry that cannot be written stops the rest.
    func perform(_ actions: [AccountAction]) async throws { try await store.carryOut(actions, audit: audit) }

    /// Runs CPU-bound work (bcrypt) on a thread of its own, not on the cooperative pool that
    /// serves every other request.
    static func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: work()) }
        }
    }
}
