import MamoriCore
import Telephony

/// How a kind of block rule is applied.
public enum BlockMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Never proposed.
    case off
    /// Proposed and recorded, never applied.
    case dryRun = "dry_run"
    /// Proposed, then held until an operator approves it.
    case manualApproval = "manual_approval"
    /// Applied as soon as the bars are passed.
    case automatic
}

/// What a rule blocks: one block of numbers, or a whole destination of the number plan (a country,
/// a NANP area code, a satellite network).
public enum BlockScope: String, Sendable, Hashable, Codable, CaseIterable {
    case range
    case destination
}

/// The bars a destination must pass to be blocked, and the rails around blocking.
public struct BlockPolicy: Sendable, Hashable {
    public var modes: [BlockScope: BlockMode] = [.range: .automatic, .destination: .manualApproval]
    /// Proposed when, over the window, at least this share of its calls were fraudulent …
    public var minimumShare = 0.9
    /// … there were at least this many fraudulent calls …
    public var minimumFraudulentCalls = 10
    /// … from at least this many hijacked lines.
    public var minimumAccounts = 1
    public var windowMinutes: Int64 = 60
    /// A whole destination is proposed when this many of its ranges are blocked.
    public var rangesForDestination = 3
    /// Lifted when no fraudulent call has been seen for this long …
    public var quietMinutes: Int64 = 30
    /// … or the share falls below this (with at least ``minimumFraudulentCalls`` calls to judge).
    public var liftShare = 0.5
    /// A rule's period; at its end it is lifted, or renewed as a new decision if the bars still hold.
    public var periodMinutes: Int64 = 360
    /// Rules in force at once, and new rules per hour.
    public var maximumActive = 500
    public var maximumNewPerHour = 60
    /// The carrier's country code: no rule may cover it whole (domestic calls are never blocked).
    public var homeCountryCode = "81"
    /// Prefixes no rule may cover or fall within (the carrier's own ranges, partners' networks).
    public var protected: [String] = []
    /// Rules kept in the history after they end.
    public var maximumHistory = 5_000

    public init() {}

    public func mode(_ scope: BlockScope) -> BlockMode { modes[scope] ?? .manualApproval }
}

/// A temporary block of calls to a range or destination, with the figures it stood on.
public struct BlockRule: Sendable, Hashable, Codable, Identifiable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Waiting for an operator's approval.
        case pending
        /// Recorded in dry-run mode: never applied.
        case dryRun = "dry_run"
        case active
        /// Ended: the fraud subsided, the period ended, an operator lifted or rejected it.
        case ended
    }

    public var id: String
    public var scope: BlockScope
    /// E.164 digits every blocked number starts with.
    public var prefix: String
    public var country: String
    public var name: String
    public var state: State
    public var proposedAt: Int64
    public var appliedAt: Int64?
    /// The end of its period (ms).
    public var expiresAt: Int64
    public var endedAt: Int64?
    public var endReason: String?
    /// What justified it when it was decided.
    public var figures: BlockFigures
    /// `automatic`, or the operator who approved it.
    public var approvedBy: String?
    /// The rule this one renews (a renewal is a new decision).
    public var renewalOf: String?
    /// Always the carrier's own judgment: blocking calls to a destination used almost only for
    /// fraud, for the fraud's period (telecommunications business law guidance, 002's seeds).
    public var legalBasis: String = "carrier_judgment"

    public var summary: String {
        "\(scope == .range ? "range" : "destination") +\(prefix) (\(name), \(country)): \(Int((figures.share * 100).rounded()))% of \(figures.attempts) calls fraudulent from \(figures.accounts) line(s) in \(figures.windowMinutes) min"
    }
}

/// What the book decided; the service audits each and publishes the rules in force.
public enum BlockChange: Sendable, Hashable {
    /// Waiting for approval.
    case proposed(BlockRule)
    case dryRun(BlockRule)
    case applied(BlockRule)
    /// The period ended with the bars still passed: the new rule is in force (or waits for approval).
    case renewed(old: BlockRule, new: BlockRule)
    case lifted(BlockRule)
    /// Not applied: a rail stood in the way.
    case refused(BlockRule, reason: String)

    public var rule: BlockRule {
        switch self {
        case .proposed(let r), .dryRun(let r), .applied(let r), .lifted(let r), .refused(let r, _): r
        case .renewed(_, let r): r
        }
    }
}

/// The block rules: proposed from the ledger's figures, applied by mode, lifted when the fraud
/// subsides or the period ends, whichever comes first. A value: the service keeps it and feeds it
/// the time.
public struct BlockRuleBook: Sendable {
    public var policy: BlockPolicy
    public private(set) var active: [String: BlockRule] = [:]
    public private(set) var pending: [String: BlockRule] = [:]
    public private(set) var dryRuns: [String: BlockRule] = [:]
    public private(set) var history: [BlockRule] = []
    /// Start times of the rules applied in the last hour (the rate rail).
    private var recentApplications: [Int64] = []
    /// A refused proposal is not proposed again for this long.
    private var refusedUntil: [String: Int64] = [:]
    private var sequence = 0

    public init(policy: BlockPolicy = BlockPolicy()) { self.policy = policy }

    /// Every rule waiting, in force or in dry run, for the prefix given.
    func current(_ prefix: String, _ scope: BlockScope) -> BlockRule? {
        let id = Self.key(scope, prefix)
        return active.values.first { Self.key($0.scope, $0.prefix) == id } ?? pending.values.first {
            Self.key($0.scope, $0.prefix) == id
        } ?? dryRuns.values.first { Self.key($0.scope, $0.prefix) == id }
    }

    static func key(_ scope: BlockScope, _ prefix: String) -> String { "\(scope.rawValue):\(prefix)" }

    /// Considers blocking the destinations of a fraudulent call.
    public mutating func consider(_ call: FraudulentCall, ledger: DestinationLedger, now: Int64) -> [BlockChange] {
        guard !call.range.isEmpty else { return [] }
        var changes: [BlockChange] = []
        if let c = consider(scope: .range, prefix: call.range, country: call.country, name: call.destination, ledger: ledger, now: now) {
            changes.append(c)
        }
        let d = call.destinationPrefix
        if !d.isEmpty {
            let blockedRanges = active.values.filter { $0.scope == .range && $0.prefix.hasPrefix(d) }.count
            if blockedRanges >= policy.rangesForDestination,
                let c = consider(scope: .destination, prefix: d, country: call.country, name: call.destination, ledger: ledger, now: now)
            {
                changes.append(c)
            }
        }
        return changes
    }

    private mutating func consider(
        scope: BlockScope, prefix: String, country: String, name: String, ledger: DestinationLedger, now: Int64,
        renewing old: BlockRule? = nil
    ) -> BlockChange? {
        let mode = policy.mode(scope)
        guard mode != .off, old != nil || current(prefix, scope) == nil else { return nil }
        // A destination block covers its ranges' rules; a range under a destination block needs none.
        if scope == .range, active.values.contains(where: { $0.scope == .destination && prefix.hasPrefix($0.prefix) }) { return nil }
        let key: DestinationLedger.Key = scope == .range ? .range(prefix) : .destination(prefix)
        let figures = ledger.figures(key, now: now, windowMinutes: policy.windowMinutes)
        guard figures.fraudulentAttempts >= policy.minimumFraudulentCalls, figures.share >= policy.minimumShare,
            figures.accounts >= policy.minimumAccounts
        else { return nil }
        if old == nil, let until = refusedUntil[Self.key(scope, prefix)], now < until { return nil }
        sequence += 1
        var rule = BlockRule(
            id: "block-\(prefix)-\(now / 1000)-\(sequence)", scope: scope, prefix: prefix, country: country, name: name,
            state: .pending, proposedAt: now, appliedAt: nil, expiresAt: now + policy.periodMinutes * 60_000, endedAt: nil,
            endReason: nil, figures: figures, approvedBy: nil, renewalOf: old?.id)
        if let reason = rail(rule, now: now) {
            rule.state = .ended
            rule.endedAt = now
            rule.endReason = reason
            refusedUntil[Self.key(scope, prefix)] = now + policy.windowMinutes * 60_000
            remember(rule)
            return .refused(rule, reason: reason)
        }
        switch mode {
        case .off: return nil
        case .dryRun:
            rule.state = .dryRun
            dryRuns[rule.id] = rule
            return old.map { .renewed(old: $0, new: rule) } ?? .dryRun(rule)
        case .manualApproval:
            pending[rule.id] = rule
            return old.map { .renewed(old: $0, new: rule) } ?? .proposed(rule)
        case .automatic:
            rule = apply(rule, by: "automatic", now: now)
            return old.map { .renewed(old: $0, new: rule) } ?? .applied(rule)
        }
    }

    /// Why a rule may not be applied, if it may not.
    func rail(_ rule: BlockRule, now: Int64) -> String? {
        let home = policy.homeCountryCode
        if !home.isEmpty, home.hasPrefix(rule.prefix) || rule.prefix.hasPrefix(home) {
            return "covers the carrier's own country (+\(home)): domestic calls are never blocked"
        }
        if let p = policy.protected.first(where: { $0.hasPrefix(rule.prefix) || rule.prefix.hasPrefix($0) }) {
            return "touches the protected prefix +\(p)"
        }
        if active.count >= policy.maximumActive { return "\(policy.maximumActive) rules are already in force" }
        let hourAgo = now - 3_600_000
        if recentApplications.filter({ $0 > hourAgo }).count >= policy.maximumNewPerHour {
            return "\(policy.maximumNewPerHour) rules were applied in the last hour"
        }
        return nil
    }

    private mutating func apply(_ rule: BlockRule, by: String, now: Int64) -> BlockRule {
        var r = rule
        r.state = .active
        r.appliedAt = now
        r.approvedBy = by
        active[r.id] = r
        recentApplications.append(now)
        recentApplications.removeAll { $0 <= now - 3_600_000 }
        return r
    }

    /// An operator approves a pending rule (the rails are checked again).
    public mutating func approve(_ id: String, by op: String, now: Int64) -> BlockChange? {
        guard var rule = pending.removeValue(forKey: id) else { return nil }
        if let reason = rail(rule, now: now) {
            rule.state = .ended
            rule.endedAt = now
            rule.endReason = reason
            remember(rule)
            return .refused(rule, reason: reason)
        }
        // Its period runs from the approval.
        rule.expiresAt = now + policy.periodMinutes * 60_000
        return .applied(apply(rule, by: op, now: now))
    }

    /// An operator rejects a pending rule or lifts one in force (or ends a dry run).
    public mutating func end(_ id: String, by op: String, reason: String, now: Int64) -> BlockChange? {
        guard var rule = active.removeValue(forKey: id) ?? pending.removeValue(forKey: id) ?? dryRuns.removeValue(forKey: id) else {
            return nil
        }
        rule.state = .ended
        rule.endedAt = now
        rule.endReason = "\(reason) (\(op))"
        remember(rule)
        // Not proposed again at once: the operator decided.
        refusedUntil[Self.key(rule.scope, rule.prefix)] = now + policy.periodMinutes * 60_000
        return .lifted(rule)
    }

    /// Lifts rules whose fraud subsided, ends or renews rules whose period is over, drops stale
    /// proposals. Call it every few seconds with the clock.
    public mutating func tick(ledger: DestinationLedger, now: Int64) -> [BlockChange] {
        var changes: [BlockChange] = []
        for id in active.keys.sorted() {
            guard var rule = active[id] else { continue }
            let key: DestinationLedger.Key = rule.scope == .range ? .range(rule.prefix) : .destination(rule.prefix)
            let f = ledger.figures(key, now: now, windowMinutes: policy.windowMinutes)
            let quietSince = max(f.lastFraudulent ?? 0, rule.appliedAt ?? rule.proposedAt)
            var reason: String?
            if now - quietSince >= policy.quietMinutes * 60_000 {
                reason = "fraud subsided: no fraudulent call for \(policy.quietMinutes) min"
            } else if f.attempts >= policy.minimumFraudulentCalls, f.share < policy.liftShare {
                reason = "fraud subsided: \(Int((f.share * 100).rounded()))% of \(f.attempts) calls fraudulent"
            } else if now >= rule.expiresAt {
                reason = "period ended"
            }
            guard let reason else { continue }
            active.removeValue(forKey: id)
            rule.state = .ended
            rule.endedAt = now
            rule.endReason = reason
            remember(rule)
            if reason == "period ended",
                let renewal = consider(
                    scope: rule.scope, prefix: rule.prefix, country: rule.country, name: rule.name, ledger: ledger, now: now,
                    renewing: rule)
            {
                changes.append(renewal)
            } else {
                changes.append(.lifted(rule))
            }
        }
        // Proposals and dry runs last a period too.
        for (id, rule) in pending.merging(dryRuns, uniquingKeysWith: { a, _ in a }) where now >= rule.expiresAt {
            var r = rule
            pending.removeValue(forKey: id)
            dryRuns.removeValue(forKey: id)
            r.state = .ended
            r.endedAt = now
            r.endReason = rule.state == .pending ? "not approved within its period" : "dry run over"
            remember(r)
            changes.append(.lifted(r))
        }
        refusedUntil = refusedUntil.filter { $0.value > now }
        return changes
    }

    private mutating func remember(_ rule: BlockRule) {
        history.append(rule)
        if history.count > policy.maximumHistory { history.removeFirst(history.count - policy.maximumHistory) }
    }

    /// A saved book (rules in force and waiting survive a restart).
    public init(policy: BlockPolicy, restoring rules: [BlockRule], history: [BlockRule]) {
        self.policy = policy
        for r in rules {
            switch r.state {
            case .active: active[r.id] = r
            case .pending: pending[r.id] = r
            case .dryRun: dryRuns[r.id] = r
            case .ended: self.history.append(r)
            }
        }
        self.history += history
        sequence = rules.count + history.count
    }
}
