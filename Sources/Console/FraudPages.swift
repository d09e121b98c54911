import Foundation
import MamoriCore

/// IP-phone fraud: the destinations blocked at the softswitch and those waiting for approval,
/// each with the figures that justified it and its hourly fraudulent share as a sparkline; the
/// lines found hijacked (their accounts shown only to those who may reveal identities); the rules
/// that ended and why. For those who may control mitigation, the forms that approve and lift
/// (the same steps as `/api/v1/fraud` and `mamori fraud`, audited under their name).
public struct FraudView {
    public struct Rule {
        var id: String
        var scope: String
        var prefix: String
        var destination: String
        var share: String
        var calls: String
        var trend: String
        var approver: String
        var renewal: String
        var applied: String
        var expires: String
        var ended: String
        var endReason: String

        /// Times in ms since 1970; `hourlyShare` oldest first, nil for an hour without calls.
        public init(
            id: String, scope: String, prefix: String, country: String, name: String, share: Double, attempts: Int, fraudulent: Int,
            lines: Int, hourlyShare: [Double?], approver: String?, renewalOf: String?, appliedAt: Int64?, expiresAt: Int64,
            endedAt: Int64?, endReason: String?
        ) {
            self.id = id
            self.scope = scope
            self.prefix = "+" + prefix
            destination = "\(name) (\(country))"
            self.share = "\(Int((share * 100).rounded()))%"
            calls = "\(fraudulent) / \(attempts) · \(lines)"
            trend = Self.sparkline(hourlyShare)
            self.approver = approver ?? "—"
            renewal = renewalOf ?? ""
            applied = appliedAt.map(Format.time) ?? "—"
            expires = Format.time(expiresAt)
            ended = endedAt.map(Format.time) ?? ""
            self.endReason = endReason ?? ""
        }

        /// One block character per hour, its height the fraudulent share; `·` for an hour without calls.
        static func sparkline(_ shares: [Double?]) -> String {
            let blocks = Array("▁▂▃▄▅▆▇█")
            return String(
                shares.map { s in
                    guard let s else { return "·" }
                    return blocks[min(blocks.count - 1, max(0, Int((s * Double(blocks.count - 1)).rounded())))]
                })
        }
    }

    public struct Finding {
        var id: String
        var account: String
        var signals: String
        var calls: Int
        var minutes: Int
        var destinations: String
        var first: String
        var last: String
        var state: String

        public init(
            id: String, account: String?, signals: [String], calls: Int, billedSeconds: Int, ranges: [String], countries: [String],
            firstCall: Int64, lastCall: Int64, ended: Bool
        ) {
            self.id = id
            self.account = account ?? "••••"
            self.signals = signals.joined(separator: ", ")
            self.calls = calls
            minutes = (billedSeconds + 59) / 60
            destinations =
                countries.joined(separator: " ") + (ranges.isEmpty ? "" : " · " + ranges.prefix(3).map { "+\($0)…" }.joined(separator: " "))
            first = Format.time(firstCall)
            last = Format.time(lastCall)
            state = ended ? "ended" : "active"
        }
    }

    /// A followed feed's clock against the server's.
    public struct Clock {
        var feed: String
        var offset: String
        var state: String
        var corrected: Int

        /// `state`: in_step, ahead, behind or unknown, said in `language`.
        public init(feed: String, offsetSeconds: Double?, state: String, corrected: Int, language: ConsoleLanguage) {
            self.feed = feed
            offset = offsetSeconds.map { String(format: "%+.0f s", $0) } ?? "—"
            self.state = language.texts["clock." + state] ?? state
            self.corrected = corrected
        }
    }

    var enabled: Bool
    var status: String
    var clocks: [Clock] = []
    var noClocks: Bool { clocks.isEmpty }
    var active: [Rule]
    var pending: [Rule]
    var dryRun: [Rule]
    var ended: [Rule]
    var findings: [Finding]
    var noActive: Bool
    var noPending: Bool
    var noDryRun: Bool
    var noEnded: Bool
    var noFindings: Bool
    var mayControl: Bool
    var mayReveal: Bool

    public static var off: FraudView {
        FraudView(
            enabled: false, status: "", active: [], pending: [], dryRun: [], ended: [], findings: [], mayControl: false, mayReveal: false)
    }

    public init(
        enabled: Bool, status: String, clocks: [Clock] = [], active: [Rule], pending: [Rule], dryRun: [Rule], ended: [Rule],
        findings: [Finding], mayControl: Bool, mayReveal: Bool
    ) {
        self.enabled = enabled
        self.status = status
        self.clocks = clocks
        self.active = active
        self.pending = pending
        self.dryRun = dryRun
        self.ended = ended
        self.findings = findings
        noActive = active.isEmpty
        noPending = pending.isEmpty
        noDryRun = dryRun.isEmpty
        noEnded = ended.isEmpty
        noFindings = findings.isEmpty
        self.mayControl = mayControl && enabled
        self.mayReveal = mayReveal
    }
}
