import Accounts
import Console
import Foundation
import FraudDetection
import HTTPTypes
import Hummingbird
import Telephony

/// The console's fraud page, and its approve and lift forms (through `FraudService`, audited under
/// the signed-in operator's name).
extension ConsoleRoutes {
    func fraudPage(_ request: Request, flash: String?) -> Response {
        guard let fraud else { return html(.ok, page("fraud", "fraud", FraudView.off, request, flash: flash)) }
        let viewer = viewer(request)
        let book = fraud.book
        func row(_ r: BlockRule) -> FraudView.Rule {
            FraudView.Rule(
                id: r.id, scope: r.scope.rawValue, prefix: r.prefix, country: r.country, name: r.name, share: r.figures.share,
                attempts: r.figures.attempts, fraudulent: r.figures.fraudulentAttempts, lines: r.figures.accounts,
                hourlyShare: r.figures.hourlyShare, approver: r.approvedBy, renewalOf: r.renewalOf, appliedAt: r.appliedAt,
                expiresAt: r.expiresAt, endedAt: r.endedAt, endReason: r.endReason)
        }
        func sorted(_ d: [String: BlockRule]) -> [FraudView.Rule] { d.values.sorted { $0.proposedAt > $1.proposedAt }.map(row) }
        let mayReveal = viewer.may(.revealIdentity)
        let findings = ((try? fraud.findings(limit: 200)) ?? []).map { f in
            FraudView.Finding(
                id: f.id, account: mayReveal ? f.account : nil, signals: f.signals.keys.sorted().map(\.rawValue), calls: f.calls,
                billedSeconds: f.billedSeconds, ranges: f.ranges.sorted { $0.value > $1.value }.map(\.key), countries: f.countries,
                firstCall: f.firstCall, lastCall: f.lastCall, ended: f.ended)
        }
        let ended = ((try? fraud.rules(limit: 200)) ?? []).filter { $0.state == .ended }.prefix(50).map(row)
        let s = fraud.status
        let status =
            "\(s.feeds.isEmpty ? "—" : s.feeds.joined(separator: ", ")) · \(s.callsTaken) calls · \(s.linesFollowed) lines · \(s.openFindings) hijacked"
            + (s.publishedTo.map { " · \($0): \(s.publications)" } ?? "") + (s.publishError.map { " · ⚠ \($0)" } ?? "")
        let view = FraudView(
            enabled: true, status: status,
            clocks: s.clocks.map {
                FraudView.Clock(
                    feed: $0.feed, offsetSeconds: $0.offsetSeconds, state: $0.state.rawValue, corrected: $0.recordsCorrected,
                    language: viewer.language)
            },
            active: sorted(book.active), pending: sorted(book.pending), dryRun: sorted(book.dryRuns),
            ended: Array(ended), findings: findings, mayControl: viewer.may(.controlMitigation), mayReveal: mayReveal)
        return html(.ok, page("fraud", "fraud", view, request, flash: flash))
    }

    /// `approve` or `lift` (which also rejects a waiting rule).
    func fraudChange(_ request: Request, _ change: String) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let fraud else { return message(request, .notFound, text("fraudOff", request), back: "/console/fraud") }
        let name = RequestCredentials.current.operatorName
        let rule = (form["rule"] ?? "").trimmingCharacters(in: .whitespaces)
        let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let outcome: FraudService.OperatorOutcome
        if change == "approve" {
            outcome = fraud.approve(rule, by: name)
        } else {
            guard !reason.isEmpty, reason.count <= 300, !reason.contains(where: \.isNewline) else {
                return message(request, .badRequest, "\(text("badRequest", request)): \(text("reason", request))", back: "/console/fraud")
            }
            outcome = fraud.lift(rule, by: name, reason: reason)
        }
        switch outcome {
        case .notFound: return message(request, .notFound, text("noSuchRule", request), back: "/console/fraud")
        case .done(.refused(_, let why)): return message(request, .unprocessableContent, why, back: "/console/fraud")
        case .done: return fraudPage(request, flash: change == "approve" ? "blockApplied.flash" : "blockLifted.flash")
        }
    }
}
