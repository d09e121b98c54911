/// How long a browser session lasts: it ends after ``idleTimeout`` without a request, and after
/// ``absoluteLifetime`` whatever happens.
public struct SessionPolicy: Sendable, Hashable {
    /// ms; default 30 minutes.
    public var idleTimeout: Int64
    /// ms; default 12 hours.
    public var absoluteLifetime: Int64
    /// A session's last-seen time is saved again only when it is at least this old (ms, default
    /// one minute), so that every request is not a database write.
    public var touchInterval: Int64

    public init(idleTimeout: Int64 = 30 * 60_000, absoluteLifetime: Int64 = 12 * 3_600_000, touchInterval: Int64 = 60_000) {
        self.idleTimeout = idleTimeout
        self.absoluteLifetime = absoluteLifetime
        self.touchInterval = touchInterval
    }
}

/// A server-side browser session. The browser holds the session id (32 random bytes, base64url,
/// in a cookie); the server keeps only its SHA-256 (``digest``), so a copy of the database opens
/// no session. Logging in always makes a new session id (rotation), never reuses the one presented.
public struct OperatorSession: Sendable, Hashable, Codable {
    /// SHA-256 (hex) of the session id.
    public var digest: String
    public var accountID: String
    /// ms since the epoch.
    public var createdAt: Int64
    public var lastSeenAt: Int64
    /// The token every state-changing form and request of this session must carry (base64url of
    /// 32 random bytes); compare with ``acceptsCSRF(_:)``.
    public var csrfToken: String
    /// The client's address at login (for the audit log and the operator's list of sessions).
    public var clientAddress: String

    public init(digest: String, accountID: String, createdAt: Int64, lastSeenAt: Int64, csrfToken: String, clientAddress: String) {
        self.digest = digest
        self.accountID = accountID
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.csrfToken = csrfToken
        self.clientAddress = clientAddress
    }

    static let idBytes = 32

    /// A new session and its id (the only time the id exists outside the browser).
    public static func make(
        accountID: String, clientAddress: String, at now: Int64, using generator: inout some RandomNumberGenerator
    ) -> (session: OperatorSession, id: Secret) {
        let id = SecretCoding.randomBytes(idBytes, using: &generator)
        let csrf = SecretCoding.base64url(SecretCoding.randomBytes(32, using: &generator))
        let session = OperatorSession(
            digest: SecretCoding.digest(of: id), accountID: accountID, createdAt: now, lastSeenAt: now, csrfToken: csrf,
            clientAddress: String(clientAddress.prefix(64)))
        return (session, Secret(SecretCoding.base64url(id)))
    }

    /// The digest to look a presented session id up by; nil when it cannot be a session id (a
    /// wrong length or alphabet). Total on any input.
    public static func digest(ofPresented id: String) -> String? {
        guard id.utf8.count <= 64, let bytes = SecretCoding.decodeBase64url(Substring(id), count: idBytes) else { return nil }
        return SecretCoding.digest(of: bytes)
    }

    /// Why the session is over at `now`, or nil while it lasts.
    public func expiry(at now: Int64, policy: SessionPolicy) -> Expiry? {
        if now >= createdAt &+ policy.absoluteLifetime { return .absolute }
        if now >= lastSeenAt &+ policy.idleTimeout { return .idle }
        return nil
    }

    public enum Expiry: String, Sendable, Hashable {
        case idle
        case absolute
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    public func acceptsCSRF(_ presented: String) -> Bool {
        presented.utf8.count == csrfToken.utf8.count && SecretCoding.constantTimeEqual(presented, csrfToken)
    }
}

extension OperatorSession: CustomStringConvertible {
    /// The account, times and address — never the CSRF token or the digest.
    public var description: String { "session of \(accountID) from \(clientAddress) since \(createdAt)" }
}
