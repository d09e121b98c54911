import MamoriCore

/// The carrier's customer-system export, one subscriber per line, as Mamori imports it into the
/// consent registry (`mamori consent import FILE`, `POST /api/v1/consent/import`).
///
/// ```
/// account,email,language,terms_version,terms_accepted,warn_infection,warn_vulnerability,sinkhole_dns
/// A-0001,taro@example.jp,ja,v3,2025-04-01,,,opt_out@2026-03-01
/// A-0002,anna@example.com,en,v2,2025-02-10,consent@2026-01-05,,
/// ```
/// `account` is pseudonymised on import and never stored. Per action column: empty (nothing
/// said), `consent`, `withdrawn`, `opt_out` or `no_opt_out` (cancels an opt-out), each optionally
/// `@DATE` (RFC 3339 or `YYYY-MM-DD`; default: the import time). Fields may be double-quoted.
/// A bad line is reported with its number and skipped; every good line is kept.
public struct CustomerConsentRow: Sendable, Hashable {
    public var line: Int
    public var account: String
    public var email: String?
    public var language: String?
    /// The terms version the subscriber accepted, and when (nil: the import time).
    public var termsVersion: String?
    public var termsAccepted: Int64?
    /// What the line says per action.
    public var statements: [Statement] = []

    /// One action column: the statement and its date (nil: the import time).
    public struct Statement: Sendable, Hashable {
        public var action: LawfulAction
        public var kind: ConsentEvent.Kind
        public var at: Int64?

        public init(action: LawfulAction, kind: ConsentEvent.Kind, at: Int64?) {
            self.action = action
            self.kind = kind
            self.at = at
        }
    }

    /// The events that bring `current` (this subscriber's state now) to what the line says.
    /// Re-importing the same file adds nothing.
    public func events(subscriber: String, current: ConsentState, importedAt: Int64, source: String) -> [ConsentEvent] {
        var out: [ConsentEvent] = []
        if let version = termsVersion, current.terms?.version != version {
            out.append(
                ConsentEvent(
                    subscriber: subscriber, kind: .termsAccepted, termsVersion: version, at: termsAccepted ?? importedAt,
                    method: "contract terms \(version)", recordedBy: source))
        }
        for s in statements {
            let holds: Bool =
                switch s.kind {
                case .consentGiven: current.consents[s.action] != nil
                case .consentWithdrawn: current.consents[s.action] == nil && current.withdrawals[s.action] != nil
                case .optedOut: current.optOuts[s.action] != nil
                case .optOutCancelled: current.optOuts[s.action] == nil
                case .termsAccepted: true
                }
            if !holds {
                out.append(
                    ConsentEvent(
                        subscriber: subscriber, kind: s.kind, action: s.action, at: s.at ?? importedAt,
                        method: "customer system", recordedBy: source))
            }
        }
        return out
    }
}

/// The result of parsing a customer export: the good lines and why each bad one was refused.
public struct CustomerConsentFile: Sendable {
    public var rows: [CustomerConsentRow] = []
    public var rejected: [(line: Int, reason: String)] = []

    public static let actionColumns: [LawfulAction] = LawfulAction.allCases.filter(\.concernsSubscriber)

    /// Parses the file. Throws only when the header is unusable (nothing can be read then).
    public static func parse(_ text: String) throws(CustomerConsentFileError) -> CustomerConsentFile {
        var file = CustomerConsentFile()
        var columns: [String: Int] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = n + 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy(\.isWhitespace) || line.first == "#" { continue }
            guard let fields = Self.fields(line) else {
                if columns.isEmpty { throw CustomerConsentFileError(line: lineNumber, reason: "unbalanced quotes in the header") }
                file.rejected.append((lineNumber, "unbalanced quotes"))
                continue
            }
            if columns.isEmpty {
                for (i, name) in fields.enumerated() { columns[name.lowercased()] = i }
                guard columns["account"] != nil else {
                    throw CustomerConsentFileError(
                        line: lineNumber,
                        reason:
                            "the header must name the column account (and any of email, language, terms_version, terms_accepted, \(actionColumns.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                continue
            }
            func field(_ name: String) -> String? {
                guard let i = columns[name], i < fields.count, !fields[i].isEmpty else { return nil }
                return fields[i]
            }
            do {
                file.rows.append(try row(lineNumber, field))
            } catch {
                file.rejected.append((lineNumber, error.reason))
            }
        }
        if columns.isEmpty { throw CustomerConsentFileError(line: 1, reason: "the file is empty: no header line") }
        return file
    }

    private static func row(_ line: Int, _ field: (String) -> String?) throws(CustomerConsentFileError) -> CustomerConsentRow {
        guard let account = field("account") else { throw CustomerConsentFileError(line: line, reason: "no account") }
        var row = CustomerConsentRow(line: line, account: account)
        if let email = field("email") {
            guard email.contains("@"), !email.contains(" "), !email.hasPrefix("@"), !email.hasSuffix("@") else {
                throw CustomerConsentFileError(line: line, reason: "'\(email)' is not an e-mail address")
            }
            row.email = email
        }
        if let language = field("language")?.lowercased() {
            guard language.count >= 2, language.count <= 8, language.allSatisfy({ $0.isLetter || $0 == "-" }) else {
                throw CustomerConsentFileError(line: line, reason: "'\(language)' is not a language tag such as ja or en")
            }
            row.language = language
        }
        if let version = field("terms_version") {
            row.termsVersion = version
            if let accepted = field("terms_accepted") {
                guard let ms = date(accepted) else {
                    throw CustomerConsentFileError(line: line, reason: "terms_accepted '\(accepted)' is not a date such as 2025-04-01")
                }
                row.termsAccepted = ms
            }
        } else if field("terms_accepted") != nil {
            throw CustomerConsentFileError(line: line, reason: "terms_accepted without terms_version")
        }
        for action in actionColumns {
            guard let value = field(action.rawValue) else { continue }
            // Kept empty: "@2026-03-01" (no statement) and "consent@" (no date) are refused below.
            let parts = value.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let kind: ConsentEvent.Kind
            switch parts[0].lowercased() {
            case "consent": kind = .consentGiven
            case "withdrawn": kind = .consentWithdrawn
            case "opt_out", "opt-out", "optout": kind = .optedOut
            case "no_opt_out": kind = .optOutCancelled
            default:
                throw CustomerConsentFileError(
                    line: line, reason: "\(action.rawValue) '\(value)' is not consent, withdrawn, opt_out or no_opt_out (optionally @DATE)")
            }
            var at: Int64?
            if parts.count == 2 {
                guard let ms = date(parts[1]) else {
                    throw CustomerConsentFileError(
                        line: line, reason: "\(action.rawValue) date '\(parts[1])' is not a date such as 2026-03-01")
                }
                at = ms
            }
            row.statements.append(.init(action: action, kind: kind, at: at))
        }
        return row
    }

    /// `2025-04-01` (midnight UTC) or an RFC 3339 time.
    public static func date(_ s: String) -> Int64? {
        if let ms = UTCTime.milliseconds(rfc3339: Substring(s)) { return ms }
        let p = s.split(separator: "-")
        guard p.count == 3, p[0].count == 4, let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]), (1...12).contains(m),
            (1...31).contains(d)
        else { return nil }
        return UTCTime(year: y, month: m, day: d, hour: 0, minute: 0, second: 0).milliseconds
    }

    /// Splits one CSV line (RFC 4180 quoting within the line); nil when a quote is left open.
    static func fields(_ line: Substring) -> [String]? {
        var out: [String] = []
        var current = ""
        var quoted = false
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c == "\"" {
                    let next = line.index(after: i)
                    if next < line.endIndex && line[next] == "\"" {
                        current.append("\"")
                        i = next
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                out.append(String(current.trimmingSpaces))
                current = ""
            } else {
                current.append(c)
            }
            i = line.index(after: i)
        }
        if quoted { return nil }
        out.append(String(current.trimmingSpaces))
        return out
    }
}

/// The customer export cannot be read at all.
public struct CustomerConsentFileError: Error, CustomStringConvertible {
    public let line: Int
    public let reason: String
    public var description: String { "line \(line): \(reason)" }
}
