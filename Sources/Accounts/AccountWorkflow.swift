// AccountWorkflow: logins, sessions, tokens and account changes as pure steps, in the manner of
// CaseWorkflow. The caller looks up what a step needs (the account by name, the session by the
// digest of the presented id, the token by the presented id), passes it in with the time, the
// throttle and a random generator, and carries out the returned actions in order: audit entries
// to write, accounts, sessions and tokens to save or delete. No file, clock or socket here.
// Password checks are bcrypt: CPU work that an HTTP handler should run off the cooperative pool.

/// The outcome of an authentication step and what to carry out for it.
public struct AuthenticationStep<Success: Sendable>: Sendable {
    public var outcome: Result<Success, AuthenticationFailure>
    public var actions: [AccountAction]
}

/// A change made by an account operation, and what to carry out for it.
public struct AccountChange<Value: Sendable>: Sendable {
    public var value: Value
    public var actions: [AccountAction]
}

/// A successful login: the principal, the new session, and the two secrets the browser gets
/// (the session id for the cookie, the CSRF token for forms) — shown only here.
public struct LoginSuccess: Sendable {
    public var principal: Principal
    public var session: OperatorSession
    public var sessionID: Secret
    public var csrfToken: Secret
}

/// A machine token just made, with its presented form (shown once).
public struct IssuedToken: Sendable {
    public var token: MachineToken
    public var presented: Secret
}

/// The rules for accounts, logins, sessions and tokens.
public struct AccountWorkflow: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var sessions: SessionPolicy
        public var passwords: PasswordPolicy
        /// Consecutive wrong passwords that lock an account (default 20).
        public var lockoutThreshold: Int
        /// How long a lockout lasts (ms, default one hour); nil: until an admin unlocks the
        /// account (or resets its password). A time limit is the default so that anyone who knows
        /// an admin's name cannot shut every admin out for good.
        public var lockoutDuration: Int64?
        /// The longest a machine token may be valid (ms, default 366 days).
        public var maximumTokenLifetime: Int64

        public init(
            sessions: SessionPolicy = SessionPolicy(), passwords: PasswordPolicy = PasswordPolicy(), lockoutThreshold: Int = 20,
            lockoutDuration: Int64? = 3_600_000, maximumTokenLifetime: Int64 = 366 * 86_400_000
        ) {
            self.sessions = sessions
            self.passwords = passwords
            self.lockoutThreshold = lockoutThreshold
            self.lockoutDuration = lockoutDuration
            self.maximumTokenLifetime = maximumTokenLifetime
        }
    }

    public let configuration: Configuration
    public let hashing: any PasswordHashing

    public init(configuration: Configuration = Configuration(), hashing: any PasswordHashing) {
        self.configuration = configuration
        self.hashing = hashing
    }

    // MARK: - Logging in and out

    /// A login attempt with `name` and `password` from the client `address`.
    ///
    /// - Parameters:
    ///   - account: the account named `name`, if there is one (the caller looks it up).
    ///   - previousSessionDigest: the digest of the session the browser presented, if any: a
    ///     successful login deletes it, and always gets a new session id (rotation).
    /// - Returns: success with the new session, or `badCredentials` (unknown name and wrong
    ///   password alike, with the same bcrypt work done), `throttled`, `locked` or `disabled`.
    public func login(
        name: String, password: String, from address: String, at now: Int64, account: OperatorAccount?,
        previousSessionDigest: String? = nil, throttle: inout LoginThrottle, using generator: inout some RandomNumberGenerator
    ) -> AuthenticationStep<LoginSuccess> {
        login(
            name: name, password: password, from: address, at: now, account: account, previousSessionDigest: previousSessionDigest,
            throttle: &throttle, using: &generator, forSession: true)
    }

    /// The login's checks; `forSession` false for a password presented with a request (HTTP
    /// Basic), where a peer account is welcome.
    func login(
        name: String, password: String, from address: String, at now: Int64, account: OperatorAccount?,
        previousSessionDigest: String? = nil, throttle: inout LoginThrottle, using generator: inout some RandomNumberGenerator,
        forSession: Bool
    ) -> AuthenticationStep<LoginSuccess> {
        var actions: [AccountAction] = []
        let detail = ["client": String(address.prefix(64))]
        func fail(_ f: AuthenticationFailure) -> AuthenticationStep<LoginSuccess> {
            AuthenticationStep(outcome: .failure(f), actions: actions)
        }
        func audit(_ subject: String, _ summary: String, kind: AccountAuditRequest.Kind = .authentication) {
            actions.append(
                .audit(AccountAuditRequest(at: now, kind: kind, actor: subject, subject: subject, summary: summary, detail: detail)))
        }

        if case .throttled = throttle.admit(name: name, address: address, at: now) {
            // Not audited one by one: a flood would fill the log; the throttle itself bounds the failures that are.
            return fail(.throttled)
        }
        let validName = OperatorAccount.isValidName(name)
        guard let account, validName, account.name == name else {
            // Unknown name: the same bcrypt work as a wrong password, the same answer, and the
            // same lockout mimicry, so neither time nor answer says whether the name exists.
            // An account's lock lasts lockoutDuration from the failure that set it and is not
            // extended by refused attempts; the mimicry does the same with the throttle's count.
            if password.utf8.count <= configuration.passwords.maximumBytes { hashing.verifyDummy(password) }
            audit("unknown", "login failed: no such account (name not recorded)")
            if throttle.consecutiveFailures(name: name) >= configuration.lockoutThreshold {
                let over =
                    configuration.lockoutDuration.map { d in throttle.lastFailure(name: name).map { now >= $0 &+ d } ?? true } ?? false
                guard over else { return fail(.locked) }
                throttle.recordSuccess(name: name)
            }
            throttle.recordFailure(name: name, at: now)
            return fail(throttle.consecutiveFailures(name: name) >= configuration.lockoutThreshold ? .locked : .badCredentials)
        }
        let subject = "operator:\(account.name)"
        var a = account
        if a.isLocked(at: now) {
            // The same bcrypt work as any other answer, so a lockout's timing does not tell that the name exists.
            if password.utf8.count <= configuration.passwords.maximumBytes { hashing.verifyDummy(password) }
            audit(subject, "login refused: account locked")
            return fail(.locked)
        }
        if a.lockedUntil != nil {
            // The lockout ran out: a fresh count.
            a.lockedUntil = nil
            a.failedLogins = 0
        }
        // A password longer than any policy allows cannot be right: refused without hashing it.
        let right = password.utf8.count <= configuration.passwords.maximumBytes && hashing.verify(password, against: a.passwordHash)
        guard right else {
            a.failedLogins += 1
            throttle.recordFailure(name: name, at: now)
            audit(subject, "login failed: wrong password (\(a.failedLogins) in a row)")
            if a.failedLogins >= configuration.lockoutThreshold {
                a.lockedUntil = configuration.lockoutDuration.map { now &+ $0 } ?? Int64.max
                a.changedAt = now
                let until = configuration.lockoutDuration.map { "for \($0 / 60_000) min" } ?? "until an admin unlocks it"
                audit(subject, "account locked after \(a.failedLogins) wrong passwords, \(until)")
                actions.append(.saveAccount(a))
                return fail(.locked)
            }
            actions.append(.saveAccount(a))
            return fail(.badCredentials)
        }
        if a.disabled {
            audit(subject, "login refused: account disabled")
            return fail(.disabled)
        }
        if a.role == .peer && forSession {
            // Another carrier: its name and password open the shared (TAXII) collections, with
            // HTTP Basic on those routes only; there is nothing for it in the console or the API.
            audit(subject, "login refused: a peer account is for the shared (TAXII) collections only")
            return fail(.peerAccount)
        }
        throttle.recordSuccess(name: name)
        let needsSave = a != account || a.failedLogins != 0
        a.failedLogins = 0
        audit(subject, "logged in (\(a.role.rawValue))")
        let (session, id) = OperatorSession.make(accountID: a.id, clientAddress: address, at: now, using: &generator)
        if let previousSessionDigest { actions.append(.deleteSession(digest: previousSessionDigest)) }
        if needsSave { actions.append(.saveAccount(a)) }
        actions.append(.saveSession(session))
        let principal = Principal(
            accountID: a.id, name: a.name, role: a.role, permissions: a.role.permissions, language: a.language,
            credential: .session(digest: session.digest))
        return AuthenticationStep(
            outcome: .success(LoginSuccess(principal: principal, session: session, sessionID: id, csrfToken: Secret(session.csrfToken))),
            actions: actions)
    }

    /// The operator logs out: the session is deleted and the logout audited.
    public func logout(_ session: OperatorSession, account: OperatorAccount?, at now: Int64) -> [AccountAction] {
        let subject = account.map { "operator:\($0.name)" } ?? "account:\(session.accountID)"
        return [
            .audit(
                AccountAuditRequest(
                    at: now, kind: .authentication, actor: subject, subject: subject, summary: "logged out",
                    detail: ["client": session.clientAddress])),
            .deleteSession(digest: session.digest),
        ]
    }

    // MARK: - Authenticating requests

    /// A request that presents a session id (from its cookie).
    ///
    /// - Parameters:
    ///   - session: the session stored under ``OperatorSession/digest(ofPresented:)`` of `presented`.
    ///   - account: the session's account.
    /// - Returns: the principal (and a save of the session when its last-seen time is due), or
    ///   `badCredentials` (no such session), `expired` or `disabled` — both with the session's deletion.
    public func authenticate(
        sessionID presented: String, session: OperatorSession?, account: OperatorAccount?, at now: Int64
    ) -> AuthenticationStep<Principal> {
        guard let digest = OperatorSession.digest(ofPresented: presented), var session,
            SecretCoding.constantTimeEqual(digest, session.digest)
        else { return AuthenticationStep(outcome: .failure(.badCredentials), actions: []) }
        if session.expiry(at: now, policy: configuration.sessions) != nil {
            return AuthenticationStep(outcome: .failure(.expired), actions: [.deleteSession(digest: session.digest)])
        }
        guard let account, account.id == session.accountID, !account.disabled else {
            return AuthenticationStep(outcome: .failure(.disabled), actions: [.deleteSession(digest: session.digest)])
        }
        var actions: [AccountAction] = []
        if now - session.lastSeenAt >= configuration.sessions.touchInterval {
            session.lastSeenAt = now
            actions.append(.saveSession(session))
        }
        let principal = Principal(
            accountID: account.id, name: account.name, role: account.role, permissions: account.role.permissions,
            language: account.language, credential: .session(digest: session.digest))
        return AuthenticationStep(outcome: .success(principal), actions: actions)
    }

    /// A request that presents a machine token (`Authorization: Bearer mamori_…`).
    ///
    /// - Parameters:
    ///   - presented: the token as presented; parsed here (any string is safe to pass).
    ///   - token: the token stored under ``PresentedToken/id`` of the parsed form.
    ///   - creator: the account that made the token; the token grants its scope narrowed to what
    ///     that account's role grants now, and nothing once the account is disabled.
    public func authenticate(token presented: String, token: MachineToken?, creator: OperatorAccount?, at now: Int64)
        -> AuthenticationStep<Principal>
    {
        guard let parsed = PresentedToken(presented), let token, token.matches(parsed) else {
            return AuthenticationStep(outcome: .failure(.badCredentials), actions: [])
        }
        if token.revokedAt != nil { return AuthenticationStep(outcome: .failure(.revoked), actions: []) }
        if now >= token.expiresAt { return AuthenticationStep(outcome: .failure(.expired), actions: []) }
        guard let creator, creator.id == token.createdBy, !creator.disabled else {
            return AuthenticationStep(outcome: .failure(.disabled), actions: [])
        }
        let principal = Principal(
            accountID: creator.id, name: creator.name, role: creator.role,
            permissions: token.permissions.intersection(creator.role.permissions),
            language: creator.language, credential: .token(id: token.id))
        return AuthenticationStep(outcome: .success(principal), actions: [])
    }

    // MARK: - Changing accounts

    private func change(_ actor: AccountActor, _ subject: String, _ summary: String, at now: Int64, detail: [String: String] = [:])
        -> AccountAction
    {
        .audit(
            AccountAuditRequest(at: now, kind: .accountChange, actor: actor.auditName, subject: subject, summary: summary, detail: detail))
    }

    /// A new account.
    /// - Parameter existing: the account already named `name`, if any (the caller looks it up).
    public func createAccount(
        name: String, role: Role, password: String, language: OperatorAccount.Language = .ja, existing: OperatorAccount?,
        by actor: AccountActor, at now: Int64, using generator: inout some RandomNumberGenerator
    ) throws(AccountError) -> AccountChange<OperatorAccount> {
        try actor.require(.manageAccounts)
        guard OperatorAccount.isValidName(name) else {
            throw AccountError(.invalidName, "an account name is 1–64 characters of a-z, 0-9, '.', '_' and '-'")
        }
        guard existing == nil else { throw AccountError(.nameTaken, "an account named \(name) exists") }
        if let problem = configuration.passwords.problem(with: password) { throw problem }
        let account = OperatorAccount(
            id: "acct-" + SecretCoding.hex(SecretCoding.randomBytes(8, using: &generator)), name: name, role: role,
            passwordHash: hashing.hash(password), createdAt: now, language: language)
        return AccountChange(
            value: account,
            actions: [
                change(actor, "operator:\(name)", "account \(name) created as \(role.rawValue)", at: now, detail: ["role": role.rawValue]),
                .saveAccount(account),
            ])
    }

    /// A new password. An operator changing their own gives the current one; an admin (or the
    /// console) resetting someone's does not. Either way the account is unlocked and every
    /// session of it ends.
    public func changePassword(
        of account: OperatorAccount, to newPassword: String, current: String?, by actor: AccountActor, at now: Int64
    ) throws(AccountError) -> AccountChange<OperatorAccount> {
        if case .account(let a) = actor, a.id == account.id {
            guard let current, current.utf8.count <= configuration.passwords.maximumBytes,
                hashing.verify(current, against: account.passwordHash)
            else { throw AccountError(.wrongPassword, "the current password is wrong") }
        } else {
            try actor.require(.manageAccounts)
        }
        if let problem = configuration.passwords.problem(with: newPassword) { throw problem }
        var a = account
        a.passwordHash = hashing.hash(newPassword)
        a.failedLogins = 0
        a.lockedUntil = nil
        a.changedAt = now
        return AccountChange(
            value: a,
            actions: [
                change(actor, "operator:\(a.name)", "password of \(a.name) changed; its sessions ended", at: now),
                .saveAccount(a), .deleteSessions(accountID: a.id),
            ])
    }

    /// A new role. Takes effect at the account's next request (sessions look the role up each time).
    ///
    /// - Parameter enabledAdmins: how many enabled admin accounts there are now (this one included):
    ///   the last one is not demoted, so someone can always manage accounts through the API.
    public func setRole(of account: OperatorAccount, to role: Role, enabledAdmins: Int, by actor: AccountActor, at now: Int64)
        throws(AccountError) -> AccountChange<OperatorAccount>
    {
        try actor.require(.manageAccounts)
        if role != .admin { try Self.keepAnAdmin(account, enabledAdmins: enabledAdmins) }
        var a = account
        a.role = role
        a.changedAt = now
        return AccountChange(
            value: a,
            actions: [
                change(
                    actor, "operator:\(a.name)", "role of \(a.name): \(account.role.rawValue) → \(role.rawValue)", at: now,
                    detail: ["from": account.role.rawValue, "to": role.rawValue]),
                .saveAccount(a),
            ])
    }

    /// Disables (or enables again) an account; disabling ends its sessions, and its tokens stop working.
    ///
    /// - Parameter enabledAdmins: how many enabled admin accounts there are now (this one
    ///   included): the last one is not disabled.
    public func setDisabled(_ disabled: Bool, account: OperatorAccount, enabledAdmins: Int, by actor: AccountActor, at now: Int64)
        throws(AccountError) -> AccountChange<OperatorAccount>
    {
        try actor.require(.manageAccounts)
        if disabled { try Self.keepAnAdmin(account, enabledAdmins: enabledAdmins) }
        var a = account
        a.disabled = disabled
        a.changedAt = now
        var actions: [AccountAction] = [
            change(actor, "operator:\(a.name)", "account \(a.name) \(disabled ? "disabled" : "enabled")", at: now), .saveAccount(a),
        ]
        if disabled { actions.append(.deleteSessions(accountID: a.id)) }
        return AccountChange(value: a, actions: actions)
    }

    private static func keepAnAdmin(_ account: OperatorAccount, enabledAdmins: Int) throws(AccountError) {
        guard account.role == .admin, !account.disabled, enabledAdmins <= 1 else { return }
        throw AccountError(.lastAdmin, "\(account.name) is the last enabled admin; make another admin first")
    }

    /// Lifts a lockout before it runs out.
    public func unlock(_ account: OperatorAccount, by actor: AccountActor, at now: Int64) throws(AccountError) -> AccountChange<
        OperatorAccount
    > {
        try actor.require(.manageAccounts)
        var a = account
        a.lockedUntil = nil
        a.failedLogins = 0
        a.changedAt = now
        return AccountChange(
            value: a, actions: [change(actor, "operator:\(a.name)", "account \(a.name) unlocked", at: now), .saveAccount(a)])
    }

    // MARK: - Machine tokens

    /// A new machine token for `creator`, with `permissions` (no more than the creator's role
    /// grants) until `expiresAt`. The presented form is in the result and nowhere else.
    public func createToken(
        name: String, permissions: Set<Permission>, expiresAt: Int64, creator: OperatorAccount, by actor: AccountActor, at now: Int64,
        using generator: inout some RandomNumberGenerator
    ) throws(AccountError) -> AccountChange<IssuedToken> {
        try actor.require(.manageTokens)
        if case .account(let a) = actor, a.id != creator.id {
            throw AccountError(.notPermitted, "a token is made by the account it acts for")
        }
        guard OperatorAccount.isValidName(name) else {
            throw AccountError(.invalidName, "a token name is 1–64 characters of a-z, 0-9, '.', '_' and '-'")
        }
        guard !permissions.isEmpty else { throw AccountError(.emptyScope, "a token needs at least one permission") }
        let beyond = permissions.subtracting(creator.role.permissions)
        guard beyond.isEmpty else {
            throw AccountError(.scopeTooWide, "\(creator.name) (\(creator.role.rawValue)) cannot grant \(Permission.list(beyond))")
        }
        guard !creator.disabled else { throw AccountError(.notPermitted, "\(creator.name) is disabled") }
        guard expiresAt > now, expiresAt - now <= configuration.maximumTokenLifetime else {
            throw AccountError(
                .invalidExpiry, "a token must expire after now and within \(configuration.maximumTokenLifetime / 86_400_000) days")
        }
        let (token, presented) = MachineToken.make(
            name: name, permissions: permissions, createdBy: creator.id, at: now, expiresAt: expiresAt, using: &generator)
        return AccountChange(
            value: IssuedToken(token: token, presented: presented),
            actions: [
                change(
                    actor, "token:\(token.id)", "token \(token.id) (\(name)) created for \(creator.name)", at: now,
                    detail: ["scope": Permission.list(permissions), "expires": String(expiresAt), "creator": creator.name]),
                .saveToken(token),
            ])
    }

    /// Revokes a token; it stops working at once.
    public func revokeToken(_ token: MachineToken, by actor: AccountActor, at now: Int64) throws(AccountError) -> AccountChange<
        MachineToken
    > {
        try actor.require(.manageTokens)
        guard token.revokedAt == nil else { throw AccountError(.alreadyRevoked, "token \(token.id) is already revoked") }
        var t = token
        t.revokedAt = now
        return AccountChange(
            value: t, actions: [change(actor, "token:\(t.id)", "token \(t.id) (\(t.name)) revoked", at: now), .saveToken(t)])
    }
}
