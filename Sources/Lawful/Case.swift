/// Where a case stands. A case is opened when a finding about a subscriber's device is attributed,
/// and moves on as the law and the subscriber allow.
public enum CaseState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Found, not yet tied to a subscriber.
    case detected
    /// Tied to a subscriber (pseudonym).
    case attributed
    /// The legal basis for warning was decided and permits it; the notice is due.
    case basisDecided = "basis_decided"
    /// A notice went out.
    case notified
    /// The subscriber acknowledged the notice (notice page).
    case acknowledged
    /// The device stopped misbehaving after the notice.
    case remediated
    /// Closed by an analyst.
    case closed
    /// No legal ground to warn: held, with the reasons on the case.
    case held = "held_not_permitted"
    /// An analyst found the finding wrong.
    case falsePositive = "false_positive"

    /// States in which the case is finished.
    public var isFinal: Bool { [.remediated, .closed, .falsePositive].contains(self) }
}

/// One change of state, with why.
public struct CaseTransition: Sendable, Hashable, Codable {
    public var at: Int64
    public var from: CaseState?
    public var to: CaseState
    public var reason: String

    public init(at: Int64, from: CaseState?, to: CaseState, reason: String) {
        self.at = at
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// A notice sent (or withheld) for a case.
public struct CaseNotice: Sendable, Hashable, Codable {
    public var at: Int64
    /// "email", "csv" (call centre / letter).
    public var channel: String
    public var language: String
    /// SHA-256 (hex) of the notice page token; the token itself is only in the notice.
    public var tokenDigest: String
    public var expires: Int64
    /// What the SMTP server answered, or why it failed.
    public var outcome: String
    public var delivered: Bool

    public init(at: Int64, channel: String, language: String, tokenDigest: String, expires: Int64, outcome: String, delivered: Bool) {
        self.at = at
        self.channel = channel
        self.language = language
        self.tokenDigest = tokenDigest
        self.expires = expires
        self.outcome = outcome
        self.delivered = delivered
    }
}

/// Everything Mamori knows and decided about one subscriber's device misbehaving.
public struct LawfulCase: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var subscriber: String
    public var kind: NoticeContent.Kind
    /// The device as the finding names it (an internal address, or public address and port range).
    public var device: String
    public var findings: [String]
    public var evidence: InfectionEvidence
    public var state: CaseState
    public var decision: LegalDecision?
    public var notices: [CaseNotice]
    public var history: [CaseTransition]
    public var opened: Int64
    public var updated: Int64
    /// When new evidence last arrived (ms).
    public var lastEvidence: Int64
    /// Misbehaviour continued after this many notices: an analyst should look.
    public var escalated: Bool
    /// For a case opened by reports from outside (vulnerable device, abuse report): what they say.
    public var report: ReportCaseEvidence?

    /// A short reference the subscriber can quote ("M-3F2A9C1B").
    public var reference: String { "M-" + String(id.suffix(8)).uppercased() }

    public init(
        id: String, subscriber: String, kind: NoticeContent.Kind, device: String, finding: String, evidence: InfectionEvidence, at: Int64
    ) {
        self.id = id
        self.subscriber = subscriber
        self.kind = kind
        self.device = device
        self.findings = [finding]
        self.evidence = evidence
        self.state = .attributed
        self.notices = []
        self.history = [CaseTransition(at: at, from: nil, to: .attributed, reason: "finding \(finding) attributed to \(subscriber)")]
        self.opened = at
        self.updated = at
        self.lastEvidence = at
        self.escalated = false
    }

    /// Moves to `state`, recording why (no-op when already there).
    public mutating func move(to state: CaseState, at: Int64, reason: String) {
        guard state != self.state else { return }
        history.append(CaseTransition(at: at, from: self.state, to: state, reason: reason))
        self.state = state
        updated = at
    }

    /// Merges a finding about the same device: evidence grows (peak rates, more contacts), and a
    /// finished case reopens when the device misbehaves again. Returns whether the evidence grew.
    @discardableResult
    public mutating func merge(finding: String, evidence new: InfectionEvidence, at: Int64) -> Bool {
        if !findings.contains(finding) { findings.append(finding) }
        let merged = evidence.merged(with: new)
        guard merged != evidence else { return false }
        evidence = merged
        lastEvidence = at
        updated = at
        if state == .remediated || state == .closed {
            move(to: .attributed, at: at, reason: "the device misbehaves again (finding \(finding))")
        }
        return true
    }

    /// Records the legal-basis decision and moves to basis-decided or held.
    public mutating func record(_ decision: LegalDecision, at: Int64) {
        self.decision = decision
        if decision.permitted {
            move(to: .basisDecided, at: at, reason: decision.summary)
        } else {
            move(to: .held, at: at, reason: decision.summary)
        }
    }

    /// Whether a notice is due now: the first one once the basis is decided, a reminder when the
    /// device kept misbehaving after the last notice and the re-notification interval has passed.
    public func noticeDue(at now: Int64, policy: LawfulPolicy) -> Bool {
        switch state {
        case .basisDecided:
            let renotify = Int64(policy.notices.renotifyAfterHours) * 3_600_000
            if let last = notices.last, !last.delivered {
                // The last attempt was not e-mailed. A notice in the call-centre export stands until
                // a reminder would be due; a failed e-mail is tried again after a wait that doubles
                // from 5 minutes with each failure in a row (capped at the reminder interval), so a
                // broken relay is not hammered each time the finding is reported again.
                if last.channel != "email" { return now - last.at >= renotify }
                let failures = notices.reversed().prefix { !$0.delivered && $0.channel == "email" }.count
                return now - last.at >= min(renotify, Self.retryBase << Int64(min(failures - 1, 20)))
            }
            guard let last = notices.last(where: \.delivered) else { return true }
            return now - last.at >= renotify
        case .notified, .acknowledged:
            return false
        default:
            return false
        }
    }

    /// The first wait before an e-mail that failed is tried again, ms.
    public static let retryBase: Int64 = 300_000

    /// After evidence grew on a notified case: decide again (the caller records the new decision),
    /// and escalate when misbehaviour continues after `escalateAfterNotices` notices.
    public mutating func reconsider(at now: Int64, policy: LawfulPolicy) -> Bool {
        guard state == .notified || state == .acknowledged, let last = notices.last(where: \.delivered), lastEvidence > last.at else {
            return false
        }
        let delivered = notices.filter(\.delivered).count
        if delivered >= policy.notices.escalateAfterNotices && !escalated {
            escalated = true
            history.append(
                CaseTransition(at: now, from: state, to: state, reason: "escalated: misbehaviour continues after \(delivered) notice(s)"))
        }
        return now - last.at >= Int64(policy.notices.renotifyAfterHours) * 3_600_000
    }

    /// Number of notices delivered so far.
    public var deliveredNotices: Int { notices.filter(\.delivered).count }

    /// What the case's notice may say: the traffic seen, and what was reported.
    public var behaviours: [NoticeContent.Behaviour] {
        evidence.behaviours + (report.map { [.reported($0.problem)] } ?? [])
    }
}

extension InfectionEvidence {
    /// Both pieces of evidence together: the wider window, the peak rates, the most contacts per C&C.
    public func merged(with o: InfectionEvidence) -> InfectionEvidence {
        func peak(_ a: Double?, _ b: Double?) -> Double? {
            switch (a, b) {
            case (let x?, let y?): max(x, y)
            default: a ?? b
            }
        }
        var contacts: [String: CommandAndControlContact] = [:]
        for c in commandAndControl + o.commandAndControl {
            if let old = contacts[c.endpoint] {
                contacts[c.endpoint] = CommandAndControlContact(
                    endpoint: c.endpoint, family: old.family ?? c.family, contacts: max(old.contacts, c.contacts))
            } else {
                contacts[c.endpoint] = c
            }
        }
        return InfectionEvidence(
            from: min(from, o.from), to: max(to, o.to),
            attackPacketsPerSecond: peak(attackPacketsPerSecond, o.attackPacketsPerSecond),
            attackBitsPerSecond: peak(attackBitsPerSecond, o.attackBitsPerSecond),
            attackKind: attackKind ?? o.attackKind,
            scanDestinationsPerMinute: peak(scanDestinationsPerMinute, o.scanDestinationsPerMinute),
            scanPort: scanPort ?? o.scanPort,
            commandAndControl: contacts.values.sorted { $0.endpoint < $1.endpoint },
            priorNetworkFault: priorNetworkFault ?? o.priorNetworkFault)
    }

    /// What a notice may say about this evidence (no addresses of anyone).
    public var behaviours: [NoticeContent.Behaviour] {
        var out: [NoticeContent.Behaviour] = []
        for c in commandAndControl { out.append(.commandAndControl(family: c.family, contacts: c.contacts)) }
        if let scan = scanDestinationsPerMinute { out.append(.scanning(port: scanPort, destinationsPerMinute: Int(scan.rounded()))) }
        if let pps = attackPacketsPerSecond { out.append(.attack(kind: attackKind ?? "flood", packetsPerSecond: pps)) }
        return out
    }
}
