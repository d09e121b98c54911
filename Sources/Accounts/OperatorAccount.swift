/// A person who operates Mamori: a name, a role, a password's hash and the state of their logins.
///
/// Names are 1–64 characters of `[a-z0-9._-]` (``isValidName(_:)``) and never change; the id is
/// random and is what sessions and tokens refer to.
public struct OperatorAccount: Sendable, Hashable, Codable {
    /// The language the operator's screens are shown in.
    public enum Language: String, Sendable, Hashable, Codable, CaseIterable {
        case ja
        case en
    }

    public var id: String
    public var name: String
    public var role: Role
    /// The password's hash in the form of ``PasswordHashing`` (never the password).
    public var passwordHash: String
    public var disabled: Bool
    /// ms since the epoch.
    public var createdAt: Int64
    /// When the account last changed (role, password, disabled, lock), ms.
    public var changedAt: Int64
    /// Wrong passwords since the last successful login (or unlock).
    public var failedLogins: Int
    /// Until when logins are refused after too many wrong passwords (ms); nil when not locked.
    /// `Int64.max` means until an admin unlocks it.
    public var lockedUntil: Int64?
    public var language: Language

    public init(
        id: String, name: String, role: Role, passwordHash: String, disabled: Bool = false, createdAt: Int64, changedAt: Int64? = nil,
        failedLogins: Int = 0, lockedUntil: Int64? = nil, language: Language = .ja
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
        self.disabled = disabled
        self.createdAt = createdAt
        self.changedAt = changedAt ?? createdAt
        self.failedLogins = failedLogins
        self.lockedUntil = lockedUntil
        self.language = language
    }

    /// Whether logins are refused at `now` for too many wrong passwords.
    public func isLocked(at now: Int64) -> Bool { lockedUntil.map { now < $0 } ?? false }

    /// 1–64 characters, each a lowercase ASCII letter, a digit, `.`, `_` or `-`.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }
}

extension OperatorAccount: CustomStringConvertible {
    /// Name, role and state — never the password hash.
    public var description: String {
        "account \(name) (\(id), \(role.rawValue)\(disabled ? ", disabled" : "")\(lockedUntil != nil ? ", locked" : ""))"
    }
}
