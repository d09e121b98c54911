import Accounts
import Foundation
import Lawful
import MamoriCore

/// The audit log, newest first, filtered by kind and actor, with the result of a verification.
public struct AuditView {
    struct Row {
        var sequence: UInt64
        var at: String
        var kind: String
        var actor: String
        var subject: String
        var summary: String
    }
    struct Option {
        var value: String
        var selected: Bool
    }
    var rows: [Row]
    var kinds: [Option]
    var actor: String
    var empty: Bool
    var verified: Bool
    var sound: Bool
    var verification: String
    var problems: [String]
    var hasProblems: Bool = false

    /// `verification`: entries, segments and problems of a verification run, when one was asked for.
    public init(
        entries: [AuditLine], kind: AuditKind?, actor: String?, verification: (entries: Int, segments: Int, problems: [String])?
    ) {
        rows = entries.map {
            Row(
                sequence: $0.sequence, at: Format.time($0.record.at), kind: $0.record.kind.rawValue, actor: $0.record.actor,
                subject: $0.record.subject, summary: $0.record.summary)
        }
        kinds = AuditKind.allCases.map { Option(value: $0.rawValue, selected: $0 == kind) }
        self.actor = actor ?? ""
        empty = rows.isEmpty
        verified = verification != nil
        sound = verification?.problems.isEmpty ?? false
        self.verification = verification.map { "\($0.entries) / \($0.segments)" } ?? ""
        problems = verification?.problems ?? []
        hasProblems = !problems.isEmpty
    }
}

/// Operator accounts and machine tokens (admin), with the forms that change them: add an
/// account, change its role, disable, enable, unlock, set a password; create a token (its secret
/// shown in this one answer) and revoke one. No stored secret is ever shown: tokens appear by id.
public struct AccountsView {
    struct Option {
        var value: String
        var selected: Bool
    }
    struct Account {
        var name: String
        var namePath: String
        var role: String
        var roles: [Option]
        var status: String
        var changed: String
        var language: String
        var disabled: Bool
        var locked: Bool
    }
    struct Token {
        var id: String
        var idPath: String
        var name: String
        var scope: String
        var createdBy: String
        var created: String
        var expires: String
        var status: String
        var revocable: Bool
    }
    struct Issued {
        var name: String
        var secret: String
        var expires: String
        var scope: String
    }
    var accounts: [Account]
    var tokens: [Token]
    var roles: [String]
    var permissions: [String]
    var accountNames: [String]
    var issued: Issued?

    /// `issued`: a token just created, with its secret, to show once.
    public init(
        accounts: [OperatorAccount], tokens: [MachineToken], now: Int64, language: ConsoleLanguage,
        issued: (token: MachineToken, secret: String)? = nil
    ) {
        let t = language.texts
        let names = Dictionary(accounts.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        self.accounts = accounts.sorted { $0.name < $1.name }.map { a in
            let locked = a.isLocked(at: now)
            return Account(
                name: a.name, namePath: Format.escapeQuery(a.name), role: a.role.rawValue,
                roles: Role.allCases.map { Option(value: $0.rawValue, selected: $0 == a.role) },
                status: a.disabled ? t["disabled"] ?? "" : locked ? t["locked"] ?? "" : t["active"] ?? "",
                changed: Format.time(a.changedAt), language: a.language.rawValue, disabled: a.disabled, locked: locked)
        }
        self.tokens = tokens.sorted { $0.createdAt > $1.createdAt }.map { k in
            let live = k.revokedAt == nil && k.expiresAt > now
            return Token(
                id: k.id, idPath: Format.escapeQuery(k.id), name: k.name, scope: Permission.list(k.permissions),
                createdBy: names[k.createdBy] ?? k.createdBy, created: Format.time(k.createdAt), expires: Format.time(k.expiresAt),
                status: k.revokedAt != nil ? t["revoked"] ?? "" : k.expiresAt <= now ? t["expired"] ?? "" : t["active"] ?? "",
                revocable: live)
        }
        roles = Role.allCases.map(\.rawValue)
        permissions = Permission.allCases.map(\.rawValue)
        accountNames = self.accounts.map(\.name)
        self.issued = issued.map {
            Issued(
                name: $0.token.name, secret: $0.secret, expires: Format.time($0.token.expiresAt),
                scope: Permission.list($0.token.permissions))
        }
    }
}

/// The effective configuration, as text with its secrets already redacted by the caller.
public struct SettingsView {
    var text: String
    public init(text: String) { self.text = text }
}

/// The sign-in form.
public struct LoginView {
    var error: String?
    var next: String
    public init(error: String?, next: String) {
        self.error = error
        self.next = LoginView.safeNext(next)
    }

    /// Only a path on this server (`/console…`), never another site: an open redirect would let a
    /// link in a phishing mail land an analyst, signed in, on a page of the attacker's.
    public static func safeNext(_ next: String) -> String {
        guard next.hasPrefix("/console"), !next.contains("//"), !next.contains("\\"), next.utf8.count <= 512,
            next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return "/console" }
        return next
    }
}

/// A page that only says something (refused, not found), with a way back.
public struct MessageView {
    var message: String
    var back: String
    public init(message: String, back: String) {
        self.message = message
        self.back = back
    }
}
