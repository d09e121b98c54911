import Accounts
import BGPSpeaker
import Console
import Foundation
import HTTPTypes
import Hummingbird
import Lawful
import MamoriCore
import Mitigation

/// The console's BGP page: the sessions, the kill switch and the rules, and for those who may
/// control mitigation the approve, reject, withdraw and kill-switch forms, which go through
/// `MitigationService` as `/api/v1/bgp` and `mamori bgp` do (audited under the signed-in
/// operator's name).
extension ConsoleRoutes {
    func bgpPage(_ request: Request, flash: String?, status: HTTPResponse.Status = .ok) -> Response {
        guard let mitigation else { return html(status, page("bgp", "bgp", MitigationView.off, request, flash: flash)) }
        let book = mitigation.snapshot
        func rules(_ entries: [String: MitigationBook.Entry]) -> [MitigationView.Rule] {
            entries.values.sorted { ($0.rule.createdAt, $0.rule.id) < ($1.rule.createdAt, $1.rule.id) }.map { e in
                MitigationView.Rule(
                    id: e.rule.id, kind: e.rule.kind.rawValue, summary: "\(e.rule.match.summary) \(e.rule.action)",
                    trigger: e.rule.trigger?.rawValue, findingID: e.rule.findingID, reason: e.rule.reason,
                    origin: e.rule.origin.description, approver: e.approver, legalBasis: e.decision?.basis.rawValue,
                    createdAt: e.rule.createdAt, expiresAt: e.rule.expiresAt)
            }
        }
        let view = MitigationView(
            localAS: mitigation.settings.localAS,
            neighbors: mitigation.speaker.status().map {
                .init(
                    name: $0.name, address: $0.address, port: $0.port, peerAS: $0.peerAS, state: $0.state, since: $0.since,
                    families: $0.families, routes: $0.routesAdvertised, lastError: $0.lastError)
            },
            killSwitch: book.killSwitch.map { .init(engagedBy: $0.engagedBy, reason: $0.reason, at: $0.at) },
            active: rules(book.active), pending: rules(book.pending), dryRun: rules(book.dryRuns),
            refusals: book.refusals.suffix(20).reversed().map {
                .init(summary: "\($0.rule.match.summary) \($0.rule.action)", rail: $0.rail.rawValue, reason: $0.reason, at: $0.at)
            },
            mayControl: viewer(request).may(.controlMitigation))
        return html(status, page("bgp", "bgp", view, request, flash: flash))
    }

    /// One of the page's forms: `approve`, `reject`, `withdraw`, `kill` or `release`.
    func bgpChange(_ request: Request, _ change: String) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let mitigation else { return message(request, .notFound, text("bgpOff", request), back: "/console/bgp") }
        let name = RequestCredentials.current.operatorName
        let rule = (form["rule"] ?? "").trimmingCharacters(in: .whitespaces)
        let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        func badReason() -> Response {
            message(request, .badRequest, "\(text("badRequest", request)): \(text("reason", request))", back: "/console/bgp")
        }
        let reasonOK = !reason.isEmpty && reason.count <= 300 && !reason.contains(where: \.isNewline)
        let outcome: MitigationService.Outcome
        switch change {
        case "approve": outcome = mitigation.approve(ruleID: rule, operator: name)
        case "reject":
            guard reasonOK else { return badReason() }
            outcome = mitigation.reject(ruleID: rule, operator: name, reason: reason)
        case "withdraw": outcome = mitigation.withdraw(ruleID: rule, operator: name)
        case "kill":
            guard reasonOK else { return badReason() }
            mitigation.engageKillSwitch(operator: name, reason: reason)
            return bgpPage(request, flash: "killEngaged.flash")
        default:
            mitigation.releaseKillSwitch(operator: name)
            return bgpPage(request, flash: "killReleased.flash")
        }
        switch outcome {
        case .done:
            let flash = ["approve": "ruleApproved.flash", "reject": "ruleRejected.flash"][change] ?? "ruleWithdrawn.flash"
            return bgpPage(request, flash: flash)
        case .notFound(let why): return message(request, .notFound, why, back: "/console/bgp")
        case .refused(let rail, let why): return message(request, .unprocessableContent, "\(rail.rawValue): \(why)", back: "/console/bgp")
        }
    }
}
