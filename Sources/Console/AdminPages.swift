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

/// Operator accounts and machine tokens (admin). No secret is shown: tokens appear by id.
public struct AccountsView {
    struct Account {
        var name: String
        var role: String
        var status: String
        var changed: String
        var language: String
    }
    struct Token {
        var id: String
        var name: String
        var scope: String
        var createdBy: String
        var created: String
        var expires: String
        var status: String
    }
    var accounts: [Account]
    var tokens: [Token]

    public init(accounts: [OperatorAccount], tokens: [MachineToken], now: Int64, language: ConsoleLanguage) {
        let t = language.texts
        let names = Dictionary(accounts.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        self.accounts = accounts.sorted { $0.name < $1.name }.map { a in
            Account(
                name: a.name, role: a.role.rawValue,
                status: a.disabled ? t["disabled"] ?? "" : a.isLocked(at: now) ? t["locked"] ?? "" : t["active"] ?? "",
                changed: Format.time(a.changedAt), language: a.language.rawValue)
        }
        self.tokens = tokens.sorted { $0.createdAt > $1.createdAt }.map { k in
            Token(
                id: k.id, name: k.name, scope: Permission.list(k.permissions), createdBy: names[k.createdBy] ?? k.createdBy,
                created: Format.time(k.createdAt), expires: Format.time(k.expiresAt),
                status: k.revokedAt != nil ? t["revoked"] ?? "" : k.expiresAt <= now ? t["expires"] ?? "" : t["active"] ?? "")
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
