/// A token a script presents instead of a password: `mamori_<id>_<secret>`, where the id is 16
/// lowercase hex characters and the secret 32 random bytes in base64url (43 characters).
///
/// Only SHA-256 of the secret is stored (``digest``); the presented form is shown once, when the
/// token is made. A token carries a scope (a set of ``Permission``s, never more than its creator's
/// role grants, checked again at every use), must expire, and can be revoked.
public struct MachineToken: Sendable, Hashable, Codable {
    public var id: String
    /// What the token is for, in the operator's words (same rules as an account name).
    public var name: String
    public var permissions: Set<Permission>
    /// The id of the account that made it; the token never grants more than that account's role.
    public var createdBy: String
    /// ms since the epoch.
    public var createdAt: Int64
    public var expiresAt: Int64
    public var revokedAt: Int64?
    /// SHA-256 (hex) of the secret.
    public var digest: String

    public init(
        id: String, name: String, permissions: Set<Permission>, createdBy: String, createdAt: Int64, expiresAt: Int64,
        revokedAt: Int64? = nil, digest: String
    ) {
        self.id = id
        self.name = name
        self.permissions = permissions
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.digest = digest
    }

    public static let prefix = "mamori_"
    static let idBytes = 8
    static let secretBytes = 32

    /// A new token and its presented form (the only time the secret exists outside the caller).
    public static func make(
        name: String, permissions: Set<Permission>, createdBy: String, at now: Int64, expiresAt: Int64,
        using generator: inout some RandomNumberGenerator
    ) -> (token: MachineToken, presented: Secret) {
        let id = SecretCoding.hex(SecretCoding.randomBytes(idBytes, using: &generator))
        let secret = SecretCoding.randomBytes(secretBytes, using: &generator)
        let token = MachineToken(
            id: id, name: name, permissions: permissions, createdBy: createdBy, createdAt: now, expiresAt: expiresAt,
            digest: SecretCoding.digest(of: secret))
        return (token, Secret(prefix + id + "_" + SecretCoding.base64url(secret)))
    }

    /// Whether `presented`'s secret is this token's (constant time on the digest).
    public func matches(_ presented: PresentedToken) -> Bool {
        presented.id == id && SecretCoding.matches(presented.secret, digest: digest)
    }

    /// Whether the token may be used at `now`: not revoked, not expired.
    public func isActive(at now: Int64) -> Bool { revokedAt == nil && now < expiresAt }
}

extension MachineToken: CustomStringConvertible {
    /// Id, name and scope — never the digest.
    public var description: String {
        "token \(id) \(name) [\(Permission.list(permissions))]\(revokedAt != nil ? " revoked" : "")"
    }
}

/// A token as a client presented it, parsed: the id (to look the token up) and the secret.
public struct PresentedToken: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    public let id: String
    let secret: [UInt8]

    /// Parses `mamori_<16 hex>_<43 base64url>`; nil for anything else. Total: hostile input of any
    /// length or content gives nil, never a trap, and is looked at only up to 100 bytes.
    public init?(_ text: String) {
        let prefix = Array(MachineToken.prefix.utf8)
        let idLength = MachineToken.idBytes * 2
        guard text.utf8.count == prefix.count + idLength + 1 + 43 else { return nil }
        let bytes = Array(text.utf8) // at most 74 bytes, checked above
        guard bytes.starts(with: prefix) else { return nil }
        let idPart = bytes[prefix.count..<prefix.count + idLength]
        let isLowerHex = { (b: UInt8) in
            (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
        }
        guard idPart.allSatisfy(isLowerHex), bytes[prefix.count + idLength] == UInt8(ascii: "_") else { return nil }
        let secretText = String(decoding: bytes[(prefix.count + idLength + 1)...], as: UTF8.self)
        guard let secret = SecretCoding.decodeBase64url(Substring(secretText), count: MachineToken.secretBytes) else { return nil }
        self.id = String(decoding: idPart, as: UTF8.self)
        self.secret = secret
    }

    public var description: String { "presented token \(id)" }
    /// `dump` shows the id only, never the secret's bytes.
    public var customMirror: Mirror { Mirror(self, children: ["id": id]) }
}
