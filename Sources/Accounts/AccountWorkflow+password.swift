extension AccountWorkflow {
    /// A request that presents an account's name and password with it (HTTP Basic, which the
    /// server accepts on its sharing routes only, for TAXII clients that know no other way).
    ///
    /// The same checks as ``login(name:password:from:at:account:previousSessionDigest:throttle:using:)``
    /// — the throttle, the lockout and its mimicry for unknown names, the bcrypt work, a disabled
    /// account — and the same audit entries for failures; but no session is made, and a success is
    /// not audited (a peer polling a collection would fill the log).
    ///
    /// - Returns: the principal (credential ``Principal/Credential/password``, the role's
    ///   permissions), or the failure; and the actions to carry out (audits, the account's saves).
    public func authenticate(
        name: String, password: String, from address: String, at now: Int64, account: OperatorAccount?, throttle: inout LoginThrottle
    ) -> AuthenticationStep<Principal> {
        var random = NoSessionRandom()
        let step = login(
            name: name, password: password, from: address, at: now, account: account, throttle: &throttle, using: &random,
            forSession: false)
        let actions = step.actions.filter { action in
            switch action {
            case .saveSession, .deleteSession: false
            case .audit(let a): !a.summary.hasPrefix("logged in")
            default: true
            }
        }
        switch step.outcome {
        case .failure(let f): return AuthenticationStep(outcome: .failure(f), actions: actions)
        case .success(let s):
            var principal = s.principal
            principal.credential = .password
            return AuthenticationStep(outcome: .success(principal), actions: actions)
        }
    }
}

/// The session a password check makes is thrown away unsaved, so its id needs no real randomness.
private struct NoSessionRandom: RandomNumberGenerator {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return state
    }
}
