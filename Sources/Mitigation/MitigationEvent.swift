import Lawful

/// The rail that refused a rule.
public enum MitigationRail: String, Sendable, Hashable, Codable, CaseIterable {
    case protectedPrefix = "protected_prefix"
    case minimumLength = "minimum_length"
    case hostRouteOnly = "host_route_only"
    case activeCap = "active_cap"
    case rateCap = "rate_cap"
    case pendingCap = "pending_cap"
    case killSwitch = "kill_switch"
    /// The legal-basis engine did not permit it.
    case lawful
    /// An operator rejected it.
    case rejected
}

/// Why a rule was withdrawn.
public enum MitigationWithdrawReason: String, Sendable, Hashable, Codable {
    case expired
    case attackEnded = "attack_ended"
    case manual
    case killSwitch = "kill_switch"
    case shutdown
}

/// What the audit log needs with every event.
public struct MitigationAudit: Sendable, Hashable, Codable {
    /// When (ms since the Unix epoch).
    public var at: Int64
    /// The finding behind the rule, if any.
    public var findingID: String?
    /// The legal-basis engine's decision, when it was asked.
    public var decision: LegalDecision?
    /// Who decided: the operator, or "automatic by policy <trigger>".
    public var approver: String
    public var expiresAt: Int64

    public init(at: Int64, findingID: String?, decision: LegalDecision?, approver: String, expiresAt: Int64) {
        self.at = at
        self.findingID = findingID
        self.decision = decision
        self.approver = approver
        self.expiresAt = expiresAt
    }

    /// The basis the engine named, if it was asked.
    public var legalBasis: LegalBasis? { decision?.basis }
}

/// What ``MitigationBook`` decided; the adapter turns these into BGP updates and audit entries.
public enum MitigationEvent: Sendable, Hashable, Codable {
    /// Announce the rule now.
    case announce(rule: MitigationRule, audit: MitigationAudit)
    /// Withdraw the (announced) rule now.
    case withdraw(rule: MitigationRule, reason: MitigationWithdrawReason, audit: MitigationAudit)
    /// The rule was not announced.
    case refused(rule: MitigationRule, rail: MitigationRail, reason: String, audit: MitigationAudit)
    /// The rule waits for an operator's approval.
    case pending(rule: MitigationRule, audit: MitigationAudit)
    /// The rule passed the rails in dry-run mode: record it, announce nothing.
    case dryRun(rule: MitigationRule, audit: MitigationAudit)
    /// An announced rule was seen again: its expiry moved (nothing to send to the peers).
    case extended(rule: MitigationRule, audit: MitigationAudit)

    public var rule: MitigationRule {
        switch self {
        case .announce(let r, _), .withdraw(let r, _, _), .refused(let r, _, _, _), .pending(let r, _), .dryRun(let r, _),
            .extended(let r, _):
            r
        }
    }

    public var audit: MitigationAudit {
        switch self {
        case .announce(_, let a), .withdraw(_, _, let a), .refused(_, _, _, let a), .pending(_, let a), .dryRun(_, let a),
            .extended(_, let a):
            a
        }
    }
}

/// One refusal, kept (bounded) for the API.
public struct MitigationRefusal: Sendable, Hashable, Codable {
    public var rule: MitigationRule
    public var rail: MitigationRail
    public var reason: String
    public var at: Int64
}

/// The kill switch while engaged.
public struct MitigationKillSwitch: Sendable, Hashable, Codable {
    public var engagedBy: String
    public var reason: String
    public var at: Int64
}
