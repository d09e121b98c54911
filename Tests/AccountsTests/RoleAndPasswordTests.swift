import Accounts
import Testing

@Suite struct RoleTests {
    @Test("the role table: each role grants what the one below grants, and more")
    func table() {
        #expect(Role.peer.permissions == [.readShared, .writeShared], "another carrier: the shared collections only")
        #expect(Role.viewer.permissions == Role.peer.permissions.union([.readFindings, .readCases, .readMetrics]))
        #expect(
            Role.analyst.permissions
                == Role.viewer.permissions.union([
                    .recordVerdict, .actOnCase, .changeConsent, .revealIdentity, .readAudit, .changeSinkhole, .manageSharing,
                    .submitReports,
                ])
        )
        #expect(Role.admin.permissions == Set(Permission.allCases))
        #expect(Role.peer < Role.viewer && Role.viewer < Role.analyst && Role.analyst < Role.admin)
        for p in Permission.allCases {
            // Monotone: a role that grants p is at least the permission's minimum role.
            for r in Role.allCases { #expect(r.grants(p) == (r >= p.minimumRole)) }
        }
        #expect(!Role.analyst.grants(.manageAccounts))
        #expect(!Role.viewer.grants(.revealIdentity))
    }

    @Test("permission lists parse strictly and print sorted")
    func lists() {
        #expect(Permission.parseList("read_findings, read_cases") == [.readFindings, .readCases])
        #expect(Permission.parseList("read_findings,,read_cases") == [.readFindings, .readCases])
        #expect(Permission.parseList("") == nil)
        #expect(Permission.parseList(",") == nil)
        #expect(Permission.parseList("read_findings,root") == nil)
        #expect(Permission.parseList(String(repeating: "read_findings,", count: 10_000)) == nil)
        #expect(Permission.list([.readMetrics, .changeNetwork]) == "change_network,read_metrics")
    }

    @Test("account names: 1–64 of [a-z0-9._-]")
    func names() {
        for good in ["a", "alice", "ops.team-1", "x_y", String(repeating: "a", count: 64)] { #expect(OperatorAccount.isValidName(good)) }
        for bad in ["", "Alice", "a b", "ありす", "a/b", "a\u{0}", String(repeating: "a", count: 65), "alice\n"] {
            #expect(!OperatorAccount.isValidName(bad))
        }
    }
}

@Suite struct PasswordTests {
    let policy = PasswordPolicy()

    @Test("policy: at least 12 characters, at most 1,024 bytes, not blank")
    func policyRules() {
        #expect(policy.problem(with: "correct horse battery") == nil)
        #expect(policy.problem(with: "short") == AccountError(.passwordTooShort, ""))
        #expect(policy.problem(with: "") == AccountError(.passwordBlank, ""))
        #expect(policy.problem(with: String(repeating: " ", count: 20)) == AccountError(.passwordBlank, ""))
        #expect(policy.problem(with: String(repeating: "\t\n", count: 20)) == AccountError(.passwordBlank, ""))
        #expect(policy.problem(with: String(repeating: "x", count: 1_024)) == nil)
        #expect(policy.problem(with: String(repeating: "x", count: 1_025)) == AccountError(.passwordTooLong, ""))
        // Bytes, not characters: 342 three-byte characters are 1,026 bytes.
        #expect(policy.problem(with: String(repeating: "あ", count: 342)) == AccountError(.passwordTooLong, ""))
        #expect(policy.problem(with: String(repeating: "あ", count: 12)) == nil)
        // The error never quotes the password.
        let secret = "hunter2"
        #expect(!"\(policy.problem(with: secret).map { "\($0)" } ?? "")".contains(secret))
    }

    @Test("bcrypt: a hash verifies its password only, salted, every byte counting")
    func bcrypt() {
        let hashing = BcryptPasswordHashing(cost: 4)
        let password = "correct horse battery staple"
        let h = hashing.hash(password)
        #expect(h.hasPrefix("$2b$04$"))
        #expect(!h.contains(password))
        #expect(hashing.verify(password, against: h))
        #expect(!hashing.verify(password + "!", against: h))
        #expect(hashing.hash(password) != h) // a new salt each time
        // bcrypt alone reads 72 bytes; the SHA-256 pre-hash makes byte 100 count.
        let long = String(repeating: "p", count: 99)
        let longHash = hashing.hash(long + "a")
        #expect(hashing.verify(long + "a", against: longHash))
        #expect(!hashing.verify(long + "b", against: longHash))
        // A NUL does not cut the password short.
        let nulHash = hashing.hash("abcdefghijkl\u{0}mnop")
        #expect(!hashing.verify("abcdefghijkl\u{0}xxxx", against: nulHash))
        // Malformed stored hashes fail, never trap.
        for bad in ["", "$2b$", "$2b$04$", "not a hash", String(repeating: "$", count: 200)] {
            #expect(!hashing.verify(password, against: bad))
        }
        #expect(BcryptPasswordHashing(cost: 1).cost == 4)
    }
}

@Suite struct PasswordCredentialTests {
    static let workflow = AccountWorkflow(hashing: BcryptPasswordHashing(cost: 4))

    static func account(_ name: String, role: Role = .viewer) throws -> OperatorAccount {
        var random = SystemRandomNumberGenerator()
        return try workflow.createAccount(
            name: name, role: role, password: "a long test password", existing: nil, by: .console, at: 0, using: &random
        )
        .value
    }

    @Test("name and password per request (HTTP Basic): a principal without a session; failures audited and counted toward the lockout")
    func basic() throws {
        let peer = try Self.account("isac-peer")
        var throttle = LoginThrottle()
        let ok = Self.workflow.authenticate(
            name: "isac-peer", password: "a long test password", from: "192.0.2.1", at: 1_000, account: peer, throttle: &throttle)
        guard case .success(let principal) = ok.outcome else {
            Issue.record("refused: \(ok.outcome)")
            return
        }
        #expect(principal.credential == .password && principal.name == "isac-peer" && principal.may(.readShared))
        #expect(!ok.actions.contains { if case .saveSession = $0 { true } else { false } }, "no session is made")
        #expect(!ok.actions.contains { if case .audit = $0 { true } else { false } }, "a success is not audited")
        let wrong = Self.workflow.authenticate(
            name: "isac-peer", password: "wrong password!!", from: "192.0.2.1", at: 2_000, account: peer, throttle: &throttle)
        #expect(wrong.outcome == .failure(.badCredentials))
        #expect(wrong.actions.contains { if case .audit(let a) = $0 { a.summary.contains("wrong password") } else { false } })
        #expect(wrong.actions.contains { if case .saveAccount(let a) = $0 { a.failedLogins == 1 } else { false } })
        var disabled = peer
        disabled.disabled = true
        let refused = Self.workflow.authenticate(
            name: "isac-peer", password: "a long test password", from: "192.0.2.1", at: 3_000, account: disabled, throttle: &throttle)
        #expect(refused.outcome == .failure(.disabled))
    }

    @Test("a peer account: its name and password open the shared collections (HTTP Basic); it cannot sign in, and the refusal is audited")
    func peerAccount() throws {
        var random = SystemRandomNumberGenerator()
        let peer = try Self.workflow.createAccount(
            name: "isac-hub", role: .peer, password: "a long test password", existing: nil, by: .console, at: 0, using: &random
        ).value
        var throttle = LoginThrottle()
        let basic = Self.workflow.authenticate(
            name: "isac-hub", password: "a long test password", from: "192.0.2.1", at: 1_000, account: peer, throttle: &throttle)
        guard case .success(let principal) = basic.outcome else {
            Issue.record("refused: \(basic.outcome)")
            return
        }
        #expect(principal.permissions == [.readShared, .writeShared])
        let login = Self.workflow.login(
            name: "isac-hub", password: "a long test password", from: "192.0.2.1", at: 2_000, account: peer, throttle: &throttle,
            using: &random)
        guard case .failure(let failure) = login.outcome else {
            Issue.record("a peer signed in")
            return
        }
        #expect(failure == .peerAccount)
        #expect(!login.actions.contains { if case .saveSession = $0 { true } else { false } }, "no session is made")
        #expect(login.actions.contains { if case .audit(let a) = $0 { a.summary.contains("peer account") } else { false } })
    }
}
