/// An audit entry the account workflow asks for. Its text names accounts, tokens by id, roles and
/// client addresses — never a password, a token secret or a session id (an unknown login name is
/// not quoted either: operators type passwords into the name field).
public struct AccountAuditRequest: Sendable, Hashable {
    /// The `AuditKind` the entry is written under (the raw values are `Lawful.AuditKind`'s).
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A login, a failed login, a lockout, a logout.
        case authentication
        /// An account made, its role, password, lock or state changed; a token made or revoked.
        case accountChange = "account_change"
    }

    public var at: Int64
    public var kind: Kind
    public var actor: String
    public var subject: String
    public var summary: String
    /// Structured detail, written as a JSON object.
    public var detail: [String: String]

    public init(at: Int64, kind: Kind, actor: String, subject: String, summary: String, detail: [String: String] = [:]) {
        self.at = at
        self.kind = kind
        self.actor = actor
        self.subject = subject
        self.summary = summary
        self.detail = detail
    }
}

/// What the caller carries out for a step of ``AccountWorkflow``, in order. An audit entry that
/// cannot be written should stop the actions after it (a change the log cannot record is not made).
public enum AccountAction: Sendable, Hashable {
    case audit(AccountAuditRequest)
    case saveAccount(OperatorAccount)
    case saveToken(MachineToken)
    case saveSession(OperatorSession)
    case deleteSession(digest: String)
    /// End every session of the account (disabled, password changed).
    case deleteSessions(accountID: String)
}

/// Who asks for a change: an operator (whose role must grant it) or the console — `mamori user`
/// and `mamori token` run offline by someone who can already read the data directory, the root
/// of trust that bootstraps the first admin.
public enum AccountActor: Sendable, Hashable {
    case console
    case account(OperatorAccount)

    /// As the audit log names it: `console`, or `operator:NAME`.
    public var auditName: String {
        switch self {
        case .console: "console"
        case .account(let a): "operator:\(a.name)"
        }
    }

    func require(_ permission: Permission) throws(AccountError) {
        guard case .account(let a) = self else { return }
        guard !a.disabled, a.role.grants(permission) else {
            throw AccountError(.notPermitted, "\(a.name) (\(a.role.rawValue)) may not \(permission.rawValue)")
        }
    }
}

/// Why an authentication failed. Which of these a caller shows is up to it; ``badCredentials``
/// covers an unknown name and a wrong password alike.
public enum AuthenticationFailure: String, Error, Sendable, Hashable, CustomStringConvertible {
    case badCredentials = "bad_credentials"
    case locked
    case throttled
    case expired
    case revoked
    case disabled
    /// A `peer` account signing in: it may use the TAXII routes only.
    case peerAccount = "peer_account"

    public var description: String {
        switch self {
        case .peerAccount: "a peer account reads and writes the shared TAXII collections only; it cannot sign in"
        case .badCredentials: "wrong name or password"
        case .locked: "account locked after too many wrong passwords"
        case .throttled: "too many attempts; try again later"
        case .expired: "expired"
        case .revoked: "revoked"
        case .disabled: "account disabled"
        }
    }
}

/// Who a request is made by, once authenticated, and what they may do.
public struct Principal: Sendable, Hashable {
    public enum Credential: Sendable, Hashable {
        /// A browser session, by its digest.
        case session(digest: String)
        /// A machine token, by its id.
        case token(id: String)
        /// The account's name and password, presented with the request (HTTP Basic: accepted by
        /// the server's sharing routes only).
        case password
    }

    public var accountID: String
    public var name: String
    public var role: Role
    /// For a session, the role's permissions; for a token, its scope narrowed to its creator's role now.
    public var permissions: Set<Permission>
    public var language: OperatorAccount.Language
    public var credential: Credential

    public init(
        accountID: String, name: String, role: Role, permissions: Set<Permission>, language: OperatorAccount.Language,
        credential: Credential
    ) {
        self.accountID = accountID
        self.name = name
        self.role = role
        self.permissions = permissions
        self.language = language
        self.credential = credential
    }

    public func may(_ permission: Permission) -> Bool { permissions.contains(permission) }
}
