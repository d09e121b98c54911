import Lawful

/// The rules Mamori announces, behind the safety rails: a state machine. Every method takes the
/// time and returns the events to carry out (announce, withdraw) and to audit (refusals, pending,
/// dry runs, extensions). Pure: no clock, no I/O; the adapter calls ``expire(now:)`` on a timer.
///
/// ```swift
/// var book = MitigationBook(policy: policy)
/// for p in planner.plan(finding, now: now) {
///     events += book.submit(p, engine: engine, consent: consent(p.subscriber), now: now)
/// }
/// ```
public struct MitigationBook: Sendable {
    /// A rule with the decision that let it through and who approved it.
    public struct Entry: Sendable, Hashable, Codable {
        public var rule: MitigationRule
        public var decision: LegalDecision?
        public var approver: String
    }

    public var policy: MitigationPolicy
    /// Announced rules by id.
    public private(set) var active: [String: Entry] = [:]
    /// Rules waiting for an operator (manual-approval mode), by id.
    public private(set) var pending: [String: Entry] = [:]
    /// Rules that passed the rails in dry-run mode, by id (at most ``MitigationPolicy/maximumDryRun``).
    public private(set) var dryRuns: [String: Entry] = [:]
    /// The latest refusals, oldest first (at most ``MitigationPolicy/maximumRefusals``).
    public private(set) var refusals: [MitigationRefusal] = []
    /// Set while the kill switch is engaged: nothing is announced until it is released.
    public private(set) var killSwitch: MitigationKillSwitch?
    /// When each new rule of the last minute was announced.
    private var recentAnnouncements: [Int64] = []

    public init(policy: MitigationPolicy) {
        self.policy = policy
    }

    // MARK: Automatic

    /// A planned rule: extended when the same rule is already known, else through the rails,
    /// the legal-basis engine and the trigger's mode.
    /// - Parameters:
    ///   - consent: the consent state of the proposal's subscriber (outbound rules); `.none` when unknown.
    public mutating func submit(
        _ proposal: MitigationProposal, engine: LegalBasisEngine, consent: ConsentState = .none, now: Int64
    ) -> [MitigationEvent] {
        let settings = policy.settings(proposal.trigger)
        guard settings.mode != .off else { return [] }
        let id = proposal.rule.id
        let automatic = "automatic by policy \(proposal.trigger)"
        if let e = active[id] {
            let extended = extend(e, ttl: settings.ttlMilliseconds, now: now)
            active[id] = extended
            return [.extended(rule: extended.rule, audit: audit(extended, now: now))]
        }
        if let e = pending[id] {
            pending[id] = extend(e, ttl: settings.ttlMilliseconds, now: now)
            return []
        }
        if let e = dryRuns[id] {
            dryRuns[id] = extend(e, ttl: settings.ttlMilliseconds, now: now)
            return []
        }
        var entry = Entry(rule: proposal.rule, decision: nil, approver: automatic)
        if let k = killSwitch {
            return [refuse(entry, .killSwitch, "the kill switch is engaged (\(k.engagedBy): \(k.reason))", now: now)]
        }
        if let refusal = policy.shapeRefusal(entry.rule) {
            return [refuse(entry, refusal.rail, refusal.reason, now: now)]
        }
        let decision = engine.decide(proposal.request(consent: consent), at: now)
        entry.decision = decision
        guard decision.permitted else {
            return [refuse(entry, .lawful, "the legal-basis engine did not permit it: \(decision.summary)", now: now)]
        }
        switch settings.mode {
        case .off:
            return []
        case .dryRun:
            entry.rule.state = .dryRun
            if dryRuns.count >= policy.maximumDryRun, let oldest = dryRuns.values.min(by: { $0.rule.expiresAt < $1.rule.expiresAt }) {
                dryRuns[oldest.rule.id] = nil
            }
            dryRuns[id] = entry
            return [.dryRun(rule: entry.rule, audit: audit(entry, now: now))]
        case .manualApproval:
            guard pending.count < policy.maximumPending else {
                return [
                    refuse(entry, .pendingCap, "\(pending.count) rules already wait for approval (cap \(policy.maximumPending))", now: now)
                ]
            }
            entry.rule.state = .pending
            entry.approver = "pending operator approval (policy \(proposal.trigger))"
            pending[id] = entry
            return [.pending(rule: entry.rule, audit: audit(entry, now: now))]
        case .automatic:
            return [admit(entry, now: now)]
        }
    }

    /// Withdraws the rules of a finding whose attack is over (and forgets its pending and dry-run rules).
    public mutating func attackEnded(findingID: String, now: Int64) -> [MitigationEvent] {
        pending = pending.filter { $0.value.rule.findingID != findingID }
        dryRuns = dryRuns.filter { $0.value.rule.findingID != findingID }
        return withdrawAll(.attackEnded, by: "automatic: the attack of finding \(findingID) ended", now: now) {
            $0.rule.findingID == findingID
        }
    }

    /// Withdraws the rules whose time is up; forgets expired pending and dry-run rules.
    public mutating func expire(now: Int64) -> [MitigationEvent] {
        pending = pending.filter { $0.value.rule.expiresAt > now }
        dryRuns = dryRuns.filter { $0.value.rule.expiresAt > now }
        return withdrawAll(.expired, by: "automatic: time to live elapsed", now: now) { $0.rule.expiresAt <= now }
    }

    // MARK: Operators

    /// Announces a pending rule on an operator's approval (the rails still apply).
    public mutating func approve(ruleID: String, operator name: String, now: Int64) -> [MitigationEvent] {
        guard var entry = pending[ruleID] else { return [] }
        guard entry.rule.expiresAt > now else {
            pending[ruleID] = nil // its time ran out while it waited
            return []
        }
        entry.approver = name
        if let k = killSwitch {
            return [refuse(entry, .killSwitch, "the kill switch is engaged (\(k.engagedBy): \(k.reason))", now: now)]
        }
        pending[ruleID] = nil
        if let refusal = policy.shapeRefusal(entry.rule) {
            return [refuse(entry, refusal.rail, refusal.reason, now: now)]
        }
        let event = admit(entry, now: now)
        if case .refused = event { pending[ruleID] = entry } // a cap: the operator may try again later
        return [event]
    }

    /// Drops a pending rule on an operator's word.
    public mutating func reject(ruleID: String, operator name: String, reason: String, now: Int64) -> [MitigationEvent] {
        guard var entry = pending.removeValue(forKey: ruleID) else { return [] }
        entry.approver = name
        return [refuse(entry, .rejected, "rejected by \(name): \(reason)", now: now)]
    }

    /// Announces a rule an operator wrote. It obeys the same rails as planned rules (kill switch,
    /// protected prefixes, minimum lengths, host routes for RTBH, both caps); the same rule
    /// announced again is extended.
    public mutating func announce(
        kind: MitigationRule.Kind, match: FlowSpecMatch, action: FlowSpecAction = .discard, reason: String, ttlMilliseconds: Int64,
        operator name: String, now: Int64
    ) -> [MitigationEvent] {
        let rule = MitigationRule(
            kind: kind, match: match, action: action, trigger: nil, findingID: nil, reason: reason, createdAt: now,
            expiresAt: now + ttlMilliseconds, origin: .manual(operator: name))
        if let e = active[rule.id] {
            var extended = extend(e, ttl: ttlMilliseconds, now: now)
            extended.approver = name
            active[rule.id] = extended
            return [.extended(rule: extended.rule, audit: audit(extended, now: now))]
        }
        let entry = Entry(rule: rule, decision: nil, approver: name)
        if let k = killSwitch {
            return [refuse(entry, .killSwitch, "the kill switch is engaged (\(k.engagedBy): \(k.reason))", now: now)]
        }
        if let refusal = policy.shapeRefusal(rule) {
            return [refuse(entry, refusal.rail, refusal.reason, now: now)]
        }
        return [admit(entry, now: now)]
    }

    /// Withdraws one announced rule on an operator's word.
    public mutating func withdraw(ruleID: String, operator name: String, now: Int64) -> [MitigationEvent] {
        withdrawAll(.manual, by: name, now: now) { $0.rule.id == ruleID }
    }

    /// Withdraws everything and announces nothing more until ``releaseKillSwitch(operator:now:)``.
    public mutating func engageKillSwitch(operator name: String, reason: String, now: Int64) -> [MitigationEvent] {
        if killSwitch == nil { killSwitch = MitigationKillSwitch(engagedBy: name, reason: reason, at: now) }
        return withdrawAll(.killSwitch, by: name, now: now) { _ in true }
    }

    /// Lets rules be announced again. Nothing withdrawn comes back by itself: attacks still going
    /// on are proposed again by their next findings.
    public mutating func releaseKillSwitch(operator name: String, now: Int64) -> [MitigationEvent] {
        killSwitch = nil
        return []
    }

    /// What to do with announced rules when Mamori stops (``MitigationPolicy/shutdown``).
    public mutating func shutdown(now: Int64) -> [MitigationEvent] {
        switch policy.shutdown {
        case .leave: []
        case .withdrawAll: withdrawAll(.shutdown, by: "automatic: shutdown policy withdraw_all", now: now) { _ in true }
        }
    }

    // MARK: Restart

    /// What a restart needs to carry on: the announced and waiting rules and the kill switch.
    public struct Saved: Sendable, Hashable, Codable {
        public var active: [Entry]
        public var pending: [Entry]
        public var killSwitch: MitigationKillSwitch?

        public init(active: [Entry] = [], pending: [Entry] = [], killSwitch: MitigationKillSwitch? = nil) {
            self.active = active
            self.pending = pending
            self.killSwitch = killSwitch
        }
    }

    public var saved: Saved {
        Saved(
            active: active.values.sorted { $0.rule.id < $1.rule.id }, pending: pending.values.sorted { $0.rule.id < $1.rule.id },
            killSwitch: killSwitch)
    }

    /// Takes back the rules saved before a restart: those whose time is not up and whose shape the
    /// current policy still allows (a prefix protected since is refused) — within the caps. The
    /// returned events are the announcements to make again and the refusals; nothing counts
    /// toward the per-minute cap, the rules are not new.
    public mutating func restore(_ saved: Saved, now: Int64) -> [MitigationEvent] {
        killSwitch = saved.killSwitch
        var events: [MitigationEvent] = []
        for var entry in saved.active where entry.rule.expiresAt > now && active[entry.rule.id] == nil {
            if killSwitch != nil { continue }
            if let refusal = policy.shapeRefusal(entry.rule) {
                events.append(refuse(entry, refusal.rail, refusal.reason, now: now))
                continue
            }
            guard active.count < policy.maximumActive else {
                events.append(refuse(entry, .activeCap, "\(active.count) rules are active (cap \(policy.maximumActive))", now: now))
                continue
            }
            entry.rule.state = .active
            active[entry.rule.id] = entry
            events.append(.announce(rule: entry.rule, audit: audit(entry, now: now)))
        }
        for entry in saved.pending.prefix(policy.maximumPending) where entry.rule.expiresAt > now && pending.count < policy.maximumPending {
            pending[entry.rule.id] = entry
        }
        return events
    }

    // MARK: Inside

    /// The caps, then the announcement.
    private mutating func admit(_ entry: Entry, now: Int64) -> MitigationEvent {
        guard active.count < policy.maximumActive else {
            return refuse(entry, .activeCap, "\(active.count) rules are active (cap \(policy.maximumActive))", now: now)
        }
        recentAnnouncements.removeAll { $0 <= now - 60_000 }
        guard recentAnnouncements.count < policy.maximumNewPerMinute else {
            return refuse(
                entry, .rateCap, "\(recentAnnouncements.count) new rules in the last minute (cap \(policy.maximumNewPerMinute))", now: now)
        }
        recentAnnouncements.append(now)
        var entry = entry
        entry.rule.state = .active
        active[entry.rule.id] = entry
        return .announce(rule: entry.rule, audit: audit(entry, now: now))
    }

    private mutating func refuse(_ entry: Entry, _ rail: MitigationRail, _ reason: String, now: Int64) -> MitigationEvent {
        var entry = entry
        entry.rule.state = .refused
        refusals.append(MitigationRefusal(rule: entry.rule, rail: rail, reason: reason, at: now))
        if refusals.count > policy.maximumRefusals { refusals.removeFirst(refusals.count - policy.maximumRefusals) }
        return .refused(rule: entry.rule, rail: rail, reason: reason, audit: audit(entry, now: now))
    }

    private mutating func withdrawAll(
        _ reason: MitigationWithdrawReason, by: String, now: Int64, where matches: (Entry) -> Bool
    ) -> [MitigationEvent] {
        var events: [MitigationEvent] = []
        for id in active.keys.sorted() {
            guard var entry = active[id], matches(entry) else { continue }
            active[id] = nil
            entry.rule.state = .withdrawn
            entry.approver = by
            events.append(.withdraw(rule: entry.rule, reason: reason, audit: audit(entry, now: now)))
        }
        return events
    }

    /// The later of the current expiry and now + ttl, within the rule's longest lifetime.
    private func extend(_ entry: Entry, ttl: Int64, now: Int64) -> Entry {
        var e = entry
        let limit = e.rule.createdAt + policy.maximumLifetimeMilliseconds
        e.rule.expiresAt = max(e.rule.expiresAt, min(limit, now + ttl))
        return e
    }

    private func audit(_ e: Entry, now: Int64) -> MitigationAudit {
        MitigationAudit(at: now, findingID: e.rule.findingID, decision: e.decision, approver: e.approver, expiresAt: e.rule.expiresAt)
    }
}
