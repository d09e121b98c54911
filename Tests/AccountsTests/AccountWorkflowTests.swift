import Accounts
import MamoriCore
import Synchronization
import Testing

/// bcrypt at cost 4, counting its calls (to show an unknown name costs the same work as a wrong password).
final class CountingHashing: PasswordHashing {
    let inner = BcryptPasswordHashing(cost: 4)
    let counts = Mutex((verify: 0, dummy: 0))
    func hash(_ password: String) -> String { inner.hash(password) }
    func verify(_ password: String, against hash: String) -> Bool {
        counts.withLock { $0.verify += 1 }
        return inner.verify(password, against: hash)
    }
    func verifyDummy(_ password: String) {
        counts.withLock { $0.dummy += 1 }
        inner.verifyDummy(password)
    }
}

@Suite struct AccountWorkflowTests {
    static let password = "correct horse battery staple"
    let hashing = CountingHashing()
    var workflow: AccountWorkflow { AccountWorkflow(hashing: hashing) }
    /// A throttle that never gets in the way (the lockout is what is tested).
    static var open: LoginThrottle { LoginThrottle(configuration: .init(attemptsPerAddress: 1_000_000, freeFailures: 1_000_000)) }

    func makeAccount(_ name: String = "alice", role: Role = .admin) throws -> OperatorAccount {
        var random = SplitMix64(seed: 3)
        return try workflow.createAccount(
            name: name, role: role, password: Self.password, existing: nil, by: .console, at: 0, using: &random
        )
        .value
    }

    static func text(of actions: [AccountAction]) -> String {
        actions.map { "\($0) \(String(reflecting: $0))" }.joined(separator: "\n")
    }

    static func audits(_ actions: [AccountAction]) -> [AccountAuditRequest] {
        actions.compactMap { if case .audit(let r) = $0 { r } else { nil } }
    }

    @Test("unknown name and wrong password: the same failure, after the same bcrypt work")
    func indistinguishable() throws {
        let alice = try makeAccount()
        var throttle = Self.open
        var random = SplitMix64(seed: 1)
        let unknown = workflow.login(
            name: "mallory", password: "guess guess guess", from: "192.0.2.9", at: 1, account: nil, throttle: &throttle, using: &random)
        let afterUnknown = hashing.counts.withLock { $0 }
        let wrong = workflow.login(
            name: "alice", password: "guess guess guess", from: "192.0.2.9", at: 2, account: alice, throttle: &throttle, using: &random)
        let afterWrong = hashing.counts.withLock { $0 }
        #expect(throws: AuthenticationFailure.badCredentials) { try unknown.outcome.get() }
        #expect(throws: AuthenticationFailure.badCredentials) { try wrong.outcome.get() }
        #expect(afterUnknown.dummy == 1 && afterUnknown.verify == 0)
        #expect(afterWrong.verify == 1 && afterWrong.dummy == 1)
        // Both audited; the unknown name itself is not written (it may be a mistyped password).
        let unknownAudit = try #require(Self.audits(unknown.actions).first)
        #expect(unknownAudit.kind == .authentication && !unknownAudit.summary.contains("mallory") && unknownAudit.subject == "unknown")
        #expect(Self.audits(wrong.actions).first?.summary == "login failed: wrong password (1 in a row)")
    }

    @Test("20 wrong passwords lock the account, audited; the right one is refused until the lock runs out")
    func lockout() throws {
        var alice = try makeAccount()
        var throttle = Self.open
        var random = SplitMix64(seed: 1)
        var last: AuthenticationStep<LoginSuccess>?
        for i in 1...20 {
            let step = workflow.login(
                name: "alice", password: "wrong password \(i)", from: "192.0.2.9", at: Int64(i), account: alice, throttle: &throttle,
                using: &random)
            for case .saveAccount(let a) in step.actions { alice = a }
            #expect(throws: (i < 20 ? AuthenticationFailure.badCredentials : .locked)) { try step.outcome.get() }
            last = step
        }
        #expect(alice.failedLogins == 20 && alice.lockedUntil == 20 + 3_600_000)
        let summaries = Self.audits(last?.actions ?? []).map(\.summary)
        #expect(summaries.contains("account locked after 20 wrong passwords, for 60 min"))
        let refused = workflow.login(
            name: "alice", password: Self.password, from: "192.0.2.9", at: 1_000, account: alice, throttle: &throttle, using: &random)
        #expect(throws: AuthenticationFailure.locked) { try refused.outcome.get() }
        // Refused as locked after the same bcrypt work as any other answer.
        #expect(hashing.counts.withLock { $0.dummy } == 1)
        #expect(Self.audits(refused.actions).map(\.summary) == ["login refused: account locked"])
        // After the hour: the right password works, and the count starts again.
        let later = workflow.login(
            name: "alice", password: Self.password, from: "192.0.2.9", at: 3_600_021, account: alice, throttle: &throttle, using: &random)
        #expect(try later.outcome.get().principal.name == "alice")
        #expect(later.actions.contains { if case .saveAccount(let a) = $0 { a.failedLogins == 0 && a.lockedUntil == nil } else { false } })
    }

    @Test("lockout until an admin unlocks, when configured so")
    func lockoutUntilUnlocked() throws {
        let strict = AccountWorkflow(configuration: .init(lockoutThreshold: 2, lockoutDuration: nil), hashing: hashing)
        var alice = try makeAccount()
        var throttle = Self.open
        var random = SplitMix64(seed: 1)
        for i in 1...2 {
            let step = strict.login(
                name: "alice", password: "nope nope nope", from: "a", at: Int64(i), account: alice, throttle: &throttle, using: &random)
            for case .saveAccount(let a) in step.actions { alice = a }
        }
        #expect(alice.lockedUntil == Int64.max && alice.isLocked(at: Int64.max - 1))
        alice = try strict.unlock(alice, by: .console, at: 10).value
        let step = strict.login(
            name: "alice", password: Self.password, from: "a", at: 11, account: alice, throttle: &throttle, using: &random)
        #expect((try? step.outcome.get()) != nil)
    }

    @Test("unknown names lock alike after 20 failures, so a lockout does not tell that a name exists")
    func unknownNamesLockToo() {
        var throttle = Self.open
        var random = SplitMix64(seed: 1)
        var outcomes: [AuthenticationFailure] = []
        for i in 1...20 {
            let step = workflow.login(
                name: "ghost", password: "x", from: "a", at: Int64(i), account: nil, throttle: &throttle, using: &random)
            if case .failure(let f) = step.outcome { outcomes.append(f) }
        }
        #expect(outcomes == Array(repeating: .badCredentials, count: 19) + [.locked])
        // Refused attempts do not extend it; like an account's lock, it ends an hour after it began.
        let during = workflow.login(
            name: "ghost", password: "x", from: "a", at: 3_600_019, account: nil, throttle: &throttle, using: &random)
        #expect(throws: AuthenticationFailure.locked) { try during.outcome.get() }
        let after = workflow.login(
            name: "ghost", password: "x", from: "a", at: 3_600_020, account: nil, throttle: &throttle, using: &random)
        #expect(throws: AuthenticationFailure.badCredentials) { try after.outcome.get() }
    }

    @Test("the throttle refuses before any bcrypt work")
    func throttled() throws {
        let alice = try makeAccount()
        var throttle = LoginThrottle()
        var random = SplitMix64(seed: 1)
        for i in 0..<10 {
            _ = workflow.login(name: "n\(i)", password: "x", from: "198.51.100.1", at: 0, account: nil, throttle: &throttle, using: &random)
        }
        let before = hashing.counts.withLock { $0 }
        let step = workflow.login(
            name: "alice", password: Self.password, from: "198.51.100.1", at: 1, account: alice, throttle: &throttle, using: &random)
        #expect(throws: AuthenticationFailure.throttled) { try step.outcome.get() }
        #expect(hashing.counts.withLock { $0 } == before)
    }

    @Test("login rotates the session id; the session authenticates, touches, expires; logout deletes it")
    func sessions() throws {
        let alice = try makeAccount(role: .analyst)
        var throttle = Self.open
        var random = SplitMix64(seed: 1)
        let first = try workflow.login(
            name: "alice", password: Self.password, from: "192.0.2.9", at: 0, account: alice, throttle: &throttle, using: &random
        ).outcome.get()
        let second = workflow.login(
            name: "alice", password: Self.password, from: "192.0.2.9", at: 10, account: alice, previousSessionDigest: first.session.digest,
            throttle: &throttle, using: &random)
        let success = try second.outcome.get()
        #expect(success.sessionID != first.sessionID && success.session.digest != first.session.digest)
        #expect(second.actions.contains(.deleteSession(digest: first.session.digest)))
        #expect(success.principal.permissions == Role.analyst.permissions && success.principal.may(.revealIdentity))
        let session = success.session
        let id = success.sessionID.revealed
        let ok = workflow.authenticate(sessionID: id, session: session, account: alice, at: 30_000)
        #expect(try ok.outcome.get().name == "alice")
        #expect(ok.actions.isEmpty) // last seen is saved at most once a minute
        let touched = workflow.authenticate(sessionID: id, session: session, account: alice, at: 70_010)
        #expect(touched.actions.contains { if case .saveSession(let s) = $0 { s.lastSeenAt == 70_010 } else { false } })
        let idle = workflow.authenticate(sessionID: id, session: session, account: alice, at: 10 + 30 * 60_000)
        #expect(throws: AuthenticationFailure.expired) { try idle.outcome.get() }
        #expect(idle.actions == [.deleteSession(digest: session.digest)])
        let wrongID = workflow.authenticate(sessionID: first.sessionID.revealed, session: session, account: alice, at: 20)
        #expect(throws: AuthenticationFailure.badCredentials) { try wrongID.outcome.get() }
        var disabled = alice
        disabled.disabled = true
        #expect(throws: AuthenticationFailure.disabled) {
            try workflow.authenticate(sessionID: id, session: session, account: disabled, at: 20).outcome.get()
        }
        let out = workflow.logout(session, account: alice, at: 40)
        #expect(out.last == .deleteSession(digest: session.digest))
        #expect(Self.audits(out).map(\.summary) == ["logged out"])
    }

    @Test("a disabled account with the right password: refused as disabled; with a wrong one, bad credentials")
    func disabled() throws {
        var alice = try makeAccount()
        alice = try workflow.setDisabled(true, account: alice, enabledAdmins: 2, by: .console, at: 1).value
        var throttle = Self.open
        var random = SplitMix64(seed: 1)
        let right = workflow.login(
            name: "alice", password: Self.password, from: "a", at: 2, account: alice, throttle: &throttle, using: &random)
        let wrong = workflow.login(
            name: "alice", password: "not it at all", from: "a", at: 3, account: alice, throttle: &throttle, using: &random)
        #expect(throws: AuthenticationFailure.disabled) { try right.outcome.get() }
        #expect(throws: AuthenticationFailure.badCredentials) { try wrong.outcome.get() }
    }

    @Test("tokens: scope within the creator's role, narrowed again at use; expiry, revocation, disabled creator")
    func tokens() throws {
        let alice = try makeAccount()
        var random = SplitMix64(seed: 5)
        #expect(throws: AccountError(.scopeTooWide, "")) {
            let bob = try makeAccount("bob", role: .viewer)
            _ = try workflow.createToken(
                name: "t", permissions: [.recordVerdict], expiresAt: 100, creator: bob, by: .console, at: 0, using: &random)
        }
        #expect(throws: AccountError(.invalidExpiry, "")) {
            _ = try workflow.createToken(
                name: "t", permissions: [.readMetrics], expiresAt: 0, creator: alice, by: .console, at: 0, using: &random)
        }
        #expect(throws: AccountError(.emptyScope, "")) {
            _ = try workflow.createToken(name: "t", permissions: [], expiresAt: 10, creator: alice, by: .console, at: 0, using: &random)
        }
        let issued = try workflow.createToken(
            name: "triage", permissions: [.readFindings, .recordVerdict, .manageTokens], expiresAt: 1_000, creator: alice,
            by: .account(alice),
            at: 0, using: &random)
        let presented = issued.value.presented.revealed
        let token = issued.value.token
        let ok = try workflow.authenticate(token: presented, token: token, creator: alice, at: 10).outcome.get()
        #expect(ok.permissions == [.readFindings, .recordVerdict, .manageTokens] && ok.credential == .token(id: token.id))
        // The creator demoted to analyst: the token loses what the role no longer grants.
        var demoted = alice
        demoted.role = .analyst
        #expect(
            try workflow.authenticate(token: presented, token: token, creator: demoted, at: 10).outcome.get().permissions == [
                .readFindings, .recordVerdict,
            ])
        #expect(throws: AuthenticationFailure.expired) {
            try workflow.authenticate(token: presented, token: token, creator: alice, at: 1_000).outcome.get()
        }
        var off = alice
        off.disabled = true
        #expect(throws: AuthenticationFailure.disabled) {
            try workflow.authenticate(token: presented, token: token, creator: off, at: 10).outcome.get()
        }
        let revoked = try workflow.revokeToken(token, by: .account(alice), at: 20)
        #expect(throws: AuthenticationFailure.revoked) {
            try workflow.authenticate(token: presented, token: revoked.value, creator: alice, at: 30).outcome.get()
        }
        #expect(throws: AccountError(.alreadyRevoked, "")) { try workflow.revokeToken(revoked.value, by: .console, at: 40) }
        #expect(throws: AuthenticationFailure.badCredentials) {
            try workflow.authenticate(token: "mamori_nonsense", token: token, creator: alice, at: 10).outcome.get()
        }
        #expect(Self.audits(issued.actions).first?.summary == "token \(token.id) (triage) created for alice")
        #expect(Self.audits(revoked.actions).first?.kind == .accountChange)
    }

    @Test("only an admin manages accounts and tokens; an operator changes their own password with the current one")
    func permissions() throws {
        let viewer = try makeAccount("vera", role: .viewer)
        var random = SplitMix64(seed: 9)
        #expect(throws: AccountError(.notPermitted, "")) {
            try workflow.createAccount(
                name: "eve", role: .admin, password: Self.password, existing: nil, by: .account(viewer), at: 1, using: &random)
        }
        #expect(throws: AccountError(.notPermitted, "")) {
            try workflow.setRole(of: viewer, to: .admin, enabledAdmins: 1, by: .account(viewer), at: 1)
        }
        #expect(throws: AccountError(.wrongPassword, "")) {
            try workflow.changePassword(of: viewer, to: "a brand new password", current: "wrong one", by: .account(viewer), at: 1)
        }
        let changed = try workflow.changePassword(
            of: viewer, to: "a brand new password", current: Self.password, by: .account(viewer), at: 1)
        #expect(hashing.verify("a brand new password", against: changed.value.passwordHash))
        #expect(changed.actions.contains(.deleteSessions(accountID: viewer.id)))
        #expect(throws: AccountError(.nameTaken, "")) {
            try workflow.createAccount(
                name: "vera", role: .admin, password: Self.password, existing: viewer, by: .console, at: 1, using: &random)
        }
        #expect(throws: AccountError(.invalidName, "")) {
            try workflow.createAccount(
                name: "Vera Smith", role: .admin, password: Self.password, existing: nil, by: .console, at: 1, using: &random)
        }
        #expect(throws: AccountError(.passwordTooShort, "")) {
            try workflow.createAccount(name: "vic", role: .admin, password: "short", existing: nil, by: .console, at: 1, using: &random)
        }
        let promoted = try workflow.setRole(of: viewer, to: .analyst, enabledAdmins: 0, by: .console, at: 2)
        #expect(promoted.value.role == .analyst)
        #expect(Self.audits(promoted.actions).map(\.summary) == ["role of vera: viewer → analyst"])
        // The audit entry comes before the save, so a change the log refuses is not made.
        #expect(promoted.actions.first.map { if case .audit = $0 { true } else { false } } == true)
    }

    @Test("the last enabled admin is neither demoted nor disabled")
    func lastAdmin() throws {
        let alice = try makeAccount()
        #expect(throws: AccountError(.lastAdmin, "")) {
            try workflow.setRole(of: alice, to: .analyst, enabledAdmins: 1, by: .console, at: 1)
        }
        #expect(throws: AccountError(.lastAdmin, "")) {
            try workflow.setDisabled(true, account: alice, enabledAdmins: 1, by: .console, at: 1)
        }
        #expect(try workflow.setRole(of: alice, to: .analyst, enabledAdmins: 2, by: .account(alice), at: 1).value.role == .analyst)
        #expect(try workflow.setDisabled(true, account: alice, enabledAdmins: 2, by: .console, at: 1).value.disabled)
        // Promoting, or enabling, is always allowed.
        #expect(try workflow.setRole(of: alice, to: .admin, enabledAdmins: 1, by: .console, at: 1).value.role == .admin)
    }

    @Test("no action, audit entry or error holds a password, a token secret or a session id")
    func noSecrets() throws {
        var alice = try makeAccount()
        var throttle = Self.open
        var random = SplitMix64(seed: 1)
        var texts: [String] = []
        var secrets = [Self.password, "the wrong password"]
        let wrong = workflow.login(
            name: "alice", password: "the wrong password", from: "a", at: 1, account: alice, throttle: &throttle, using: &random)
        texts.append(Self.text(of: wrong.actions))
        let unknown = workflow.login(
            name: "the-wrong-password", password: Self.password, from: "a", at: 1, account: nil,
            throttle: &throttle, using: &random)
        secrets.append("the-wrong-password")
        texts.append(Self.text(of: unknown.actions))
        let login = workflow.login(
            name: "alice", password: Self.password, from: "a", at: 2, account: alice, throttle: &throttle, using: &random)
        let success = try login.outcome.get()
        secrets += [success.sessionID.revealed, success.csrfToken.revealed]
        texts.append(Self.text(of: login.actions))
        texts.append("\(success) \(String(reflecting: success))")
        let issued = try workflow.createToken(
            name: "ci", permissions: [.readFindings], expiresAt: 100, creator: alice, by: .console, at: 3, using: &random)
        secrets += [issued.value.presented.revealed, String(issued.value.presented.revealed.dropFirst(24))]
        texts.append(Self.text(of: issued.actions))
        texts.append("\(issued.value) \(String(reflecting: issued.value))")
        let changed = try workflow.changePassword(of: alice, to: "another long password", current: nil, by: .console, at: 4)
        secrets.append("another long password")
        texts.append(Self.text(of: changed.actions))
        alice = changed.value
        do {
            _ = try workflow.changePassword(of: alice, to: "tiny", current: nil, by: .console, at: 5)
        } catch {
            secrets.append("tiny")
            texts.append("\(error) \(String(reflecting: error))")
        }
        texts.append(Self.text(of: workflow.logout(success.session, account: alice, at: 6)))
        let all = texts.joined(separator: "\n")
        #expect(all.contains("logged in")) // the texts are real
        for s in secrets { #expect(!all.contains(s), "a secret leaked: \(s.prefix(4))…") }
    }
}
