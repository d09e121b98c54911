import Lawful
import MamoriCore

// CaseWorkflow: the life cycle of a subscriber's case as a pure step function. A case, an event
// (a finding about the subscriber's device, a notice's outcome, the subscriber's acknowledgement,
// an analyst's verdict) and the time go in; the new case and the actions to carry out come out —
// audit entries to write, the case to save, a notice to send. It imports only Lawful (the case,
// the policy and the legal-basis engine) and MamoriCore (the finding); it opens no file, reads
// no clock and sends nothing. `Server.CaseService` gathers the inputs (the latest case from the
// store, the consent registry's state), calls a step and carries its actions out in order.

/// An audit entry the workflow asks for.
public struct AuditRequest: Sendable, Hashable {
    /// What the entry's `detail` holds.
    public enum Detail: Sendable, Hashable {
        /// `{}`.
        case none
        case transition(CaseTransition)
        case decision(LegalDecision)
        case notice(NoticeDetail)
    }

    /// The detail of a notice entry.
    public struct NoticeDetail: Sendable, Hashable, Encodable {
        public var channel: String
        public var language: String
        public var delivered: Bool
        public var outcome: String
        public var reminder: Int
    }

    public var at: Int64
    public var kind: AuditKind
    public var actor: String
    public var subject: String
    public var summary: String
    public var detail: Detail
    /// Whether the entry may wait for the log (a full disk) instead of stopping what follows: true
    /// only for what has already happened outside (a mail that left).
    public var deferrable = false
}

/// What the server carries out for a step, in order. An audit entry that cannot be written
/// stops the actions after it (a change the log cannot record is not made), unless deferrable.
public enum CaseAction: Sendable, Hashable {
    case audit(AuditRequest)
    /// Save the case.
    case save(LawfulCase)
    /// Send the case's notice now (first notice or reminder): the server stores the case and the
    /// link's token, mails the notice, and reports the outcome with ``CaseWorkflow/noticeAttempted(_:notice:reminder:)``.
    case sendNotice(LawfulCase, at: Int64)
}

/// The case workflow's rules, for one policy.
public struct CaseWorkflow: Sendable {
    public let policy: LawfulPolicy
    public let engine: LegalBasisEngine

    public init(policy: LawfulPolicy) {
        self.policy = policy
        self.engine = LegalBasisEngine(policy: policy)
    }

    /// The finding → subscriber rule: the subscriber (pseudonym) whose case an infected-device
    /// finding belongs to — only when attribution named exactly one.
    public static func subscriber(of f: Finding) -> String? {
        guard f.kind == .infectedDevice, let s = f.subscriber, s.outcome == .attributed else { return nil }
        return s.pseudonym
    }

    /// Infection evidence from an infected-device finding's features (no addresses of anyone reach
    /// a notice: the endpoint only keys the merge of the detector's C&C verdict and an indicator
    /// list's entry for the same server, which the finding reports separately).
    public static func evidence(of f: Finding) -> InfectionEvidence {
        var e = InfectionEvidence(from: f.firstSeen, to: f.lastSeen)
        for (index, feature) in f.evidence.features.enumerated() {
            switch feature.name {
            case .c2Contacts:
                let endpoint = feature.about ?? "c2-\(index)"
                e = e.merged(
                    with: InfectionEvidence(
                        from: e.from, to: e.to, commandAndControl: [.init(endpoint: endpoint, family: nil, contacts: Int(feature.value))]))
            case .indicatorContacts:
                let endpoint = feature.about ?? "indicator-\(index)"
                e = e.merged(
                    with: InfectionEvidence(
                        from: e.from, to: e.to,
                        commandAndControl: [.init(endpoint: endpoint, family: f.family, contacts: Int(feature.value))]))
            case .attackPacketsPerSecond:
                e.attackPacketsPerSecond = max(e.attackPacketsPerSecond ?? 0, feature.value)
                e.attackKind = "flood"
            case let name where name.scanDestinationsPort != nil:
                let minutes = max(1, Double(f.lastSeen - f.firstSeen) / 60_000)
                let rate = feature.value / minutes
                if rate > (e.scanDestinationsPerMinute ?? 0) {
                    e.scanDestinationsPerMinute = rate
                    e.scanPort = name.scanDestinationsPort
                }
            default:
                break
            }
        }
        return e
    }

    /// A step's result: the case as it is now (nil: nothing to keep) and what to carry out.
    public struct Step: Sendable, Hashable {
        public var `case`: LawfulCase?
        public var actions: [CaseAction]
    }

    /// An infected-device finding about `subscriber`'s device.
    ///
    /// - Parameters:
    ///   - latest: the subscriber's newest infection case, if any (an unsaved one first).
    ///   - consent: the consent registry's state for the subscriber at `now` (used only when a
    ///     decision is due).
    ///   - newID: the id a new case gets.
    public func take(_ f: Finding, subscriber: String, latest: LawfulCase?, consent: ConsentState, newID: String, at now: Int64) -> Step {
        let evidence = Self.evidence(of: f)
        var actions: [CaseAction] = []
        var c: LawfulCase
        var original: LawfulCase?
        var grew = true
        switch latest {
        case let latest? where latest.state == .falsePositive && latest.findings.contains(f.id):
            return Step(case: latest, actions: []) // an analyst found this very finding wrong
        case var latest? where latest.state != .falsePositive:
            original = latest
            grew = latest.merge(finding: f.id, evidence: evidence, at: now)
            c = latest
        default:
            c = LawfulCase(
                id: newID, subscriber: subscriber, kind: .infection, device: f.subject.description, finding: f.id, evidence: evidence,
                at: now)
            actions.append(
                .audit(
                    AuditRequest(
                        at: now, kind: .caseTransition, actor: "mamori", subject: c.id,
                        summary: "case \(c.reference) opened for \(subscriber): finding \(f.id)", detail: .none)))
        }
        advance(&c, original: original, grew: grew, actions: &actions, at: now) { c in
            ActionRequest.warnInfection(subscriber: subscriber, consent: consent, evidence: c.evidence)
        }
        return Step(case: c, actions: actions)
    }

    /// The common tail of a step: decide on a new (or reopened) case, again on a held one whose
    /// evidence grew, and again before a reminder to a subscriber whose device kept misbehaving
    /// after the notice; record the transition; send the notice when due, else save a changed case.
    private func advance(
        _ c: inout LawfulCase, original: LawfulCase?, grew: Bool, actions: inout [CaseAction], at now: Int64,
        request: (LawfulCase) -> ActionRequest
    ) {
        let before = c.state
        if c.state == .attributed || (c.state == .held && grew) || c.reconsider(at: now, policy: policy) {
            let request = request(c)
            let decision = engine.decide(request, at: now)
            actions.append(
                .audit(
                    AuditRequest(
                        at: now, kind: .decision, actor: "mamori", subject: c.id,
                        summary: "\(request.action.rawValue): \(decision.permitted ? "permitted" : "not permitted") — \(decision.summary)",
                        detail: .decision(decision))))
            c.record(decision, at: now)
        }
        if c.state != before {
            actions.append(
                .audit(
                    AuditRequest(
                        at: now, kind: .caseTransition, actor: "mamori", subject: c.id,
                        summary: "case \(c.reference): \(before.rawValue) → \(c.state.rawValue)",
                        detail: .transition(c.history.last ?? CaseTransition(at: now, from: before, to: c.state, reason: "")))))
        }
        if c.noticeDue(at: now, policy: policy) {
            actions.append(.sendNotice(c, at: now))
        } else if c != original {
            // Findings are re-reported whenever they are seen again; write only a case that changed.
            actions.append(.save(c))
        }
    }

    /// A report from outside (a scan programme's row, an abuse complaint) about `subscriber`'s
    /// device, as a sighting: one case per subscriber and problem, merged across reports and days.
    ///
    /// - Parameters:
    ///   - latest: the subscriber's newest case of the sighting's kind and problem, if any.
    public func take(
        _ sighting: ReportSighting, subscriber: String, latest: LawfulCase?, consent: ConsentState, newID: String, at now: Int64
    ) -> Step {
        var actions: [CaseAction] = []
        var c: LawfulCase
        var original: LawfulCase?
        var grew = true
        let day = ReportCaseEvidence.day(sighting.time)
        switch latest {
        case let latest? where latest.state == .falsePositive && latest.findings.contains(sighting.id):
            return Step(case: latest, actions: [])
        case var latest? where latest.state != .falsePositive && latest.report != nil:
            original = latest
            grew = latest.report!.merge(sighting.problem, day: day, reportType: sighting.reportType)
            if !latest.findings.contains(sighting.id) {
                latest.findings.append(sighting.id)
                if latest.findings.count > 100 { latest.findings.removeFirst(latest.findings.count - 100) }
            }
            latest.evidence.from = min(latest.evidence.from, sighting.time)
            latest.evidence.to = max(latest.evidence.to, sighting.time)
            latest.updated = now
            if grew {
                latest.lastEvidence = now
                if latest.state == .remediated || latest.state == .closed {
                    latest.move(to: .attributed, at: now, reason: "reported again on \(day) (\(sighting.reportType))")
                }
            }
            c = latest
        default:
            c = LawfulCase(
                id: newID, subscriber: subscriber, kind: sighting.problem.kind, device: sighting.device, finding: sighting.id,
                evidence: InfectionEvidence(from: sighting.time, to: sighting.time), at: now)
            c.report = ReportCaseEvidence(problem: sighting.problem, day: day, reportType: sighting.reportType)
            actions.append(
                .audit(
                    AuditRequest(
                        at: now, kind: .caseTransition, actor: "mamori", subject: c.id,
                        summary:
                            "case \(c.reference) opened for \(subscriber): \(sighting.problem.problem) reported by \(sighting.problem.source) (\(sighting.reportType), \(day))",
                        detail: .none)))
        }
        advance(&c, original: original, grew: grew, actions: &actions, at: now) { c in
            let problem = c.report?.problem ?? sighting.problem
            if c.kind == .vulnerability {
                let text = ReportedProblemText.text(problem, japanese: false)
                return .warnVulnerability(
                    subscriber: subscriber, consent: consent,
                    report: VulnerabilityReport(
                        source: problem.source, vulnerability: text.found.joined(separator: " "),
                        remediation: text.steps.joined(separator: " "), observedAt: c.evidence.to))
            }
            return .warnInfection(subscriber: subscriber, consent: consent, evidence: c.evidence)
        }
        return Step(case: c, actions: actions)
    }

    /// A report of `reportType` for `day` arrived and did not show the device of `c` (a case
    /// opened by that type of report): one more day absent; after `remediateAfter` such days
    /// the case is remediated, with the days that show it. Nil: nothing to change (the case is
    /// finished, was not opened by that type of report, or the day is not after its last sighting).
    public func reportAbsent(_ c: LawfulCase, day: String, reportType: String, remediateAfter: Int, at now: Int64) -> Step? {
        guard !c.state.isFinal, c.state != .falsePositive, var report = c.report, report.reportTypes.contains(reportType),
            let last = report.days.last, day > last, !report.absentDays.contains(day)
        else { return nil }
        var c = c
        report.absentDays.append(day)
        report.absentDays.sort()
        c.report = report
        c.updated = now
        guard report.absentDays.count >= max(1, remediateAfter) else { return Step(case: c, actions: [.save(c)]) }
        let before = c.state
        c.move(
            to: .remediated, at: now,
            reason: "no longer in the \(reportType) reports of \(report.absentDays.joined(separator: ", ")) (last reported \(last))")
        return Step(
            case: c,
            actions: [
                .save(c),
                .audit(
                    AuditRequest(
                        at: now, kind: .caseTransition, actor: "mamori", subject: c.id,
                        summary: "case \(c.reference): \(before.rawValue) → remediated: \(c.history.last?.reason ?? "")", detail: .none)),
            ])
    }

    /// A notice was attempted for `c` (e-mailed, or put in the call-centre export, or failed):
    /// recorded on the case first and saved, whatever happens to the audit entry after it, so a
    /// retry does not mail the subscriber again.
    public func noticeAttempted(_ c: LawfulCase, notice: CaseNotice, reminder: Int) -> Step {
        var c = c
        c.notices.append(notice)
        if notice.delivered {
            c.move(to: .notified, at: notice.at, reason: "notice e-mailed in \(notice.language)")
        }
        // The mail is gone: its entry can no longer be a reason not to act, so it may wait for the log.
        let entry = AuditRequest(
            at: notice.at, kind: .notice, actor: "mamori", subject: c.id,
            summary:
                "notice for case \(c.reference) \(notice.delivered ? "sent" : "not e-mailed") (\(notice.channel), \(notice.language)): \(notice.outcome)",
            detail: .notice(
                .init(
                    channel: notice.channel, language: notice.language, delivered: notice.delivered, outcome: notice.outcome,
                    reminder: reminder)),
            deferrable: true)
        return Step(case: c, actions: [.save(c), .audit(entry)])
    }

    /// The subscriber acknowledged on the notice page. Nil: not a state that can be acknowledged
    /// (``LawfulCase/state`` says whether it already was).
    public func acknowledge(_ c: LawfulCase, at now: Int64) -> Step? {
        guard c.state == .notified || c.state == .basisDecided else { return nil }
        var c = c
        let before = c.state
        c.move(to: .acknowledged, at: now, reason: "acknowledged on the notice page")
        return Step(
            case: c,
            actions: [
                .save(c),
                .audit(
                    AuditRequest(
                        at: now, kind: .caseTransition, actor: "subscriber", subject: c.id,
                        summary: "case \(c.reference): \(before.rawValue) → acknowledged (notice page)", detail: .none)),
            ])
    }

    /// An analyst closes a case, marks it remediated or a false positive. Nil: not such a state.
    public func close(_ c: LawfulCase, as state: CaseState, analyst: String, reason: String, at now: Int64) -> Step? {
        guard [.closed, .falsePositive, .remediated].contains(state) else { return nil }
        var c = c
        let before = c.state
        c.move(to: state, at: now, reason: "\(analyst): \(reason)")
        return Step(
            case: c,
            actions: [
                .save(c),
                .audit(
                    AuditRequest(
                        at: now, kind: .caseTransition, actor: "analyst:\(analyst)", subject: c.id,
                        summary: "case \(c.reference): \(before.rawValue) → \(state.rawValue): \(reason)", detail: .none)),
            ])
    }
}

/// One report from outside about a subscriber's device, as the case workflow takes it (the
/// server has parsed, attributed and de-duplicated it).
public struct ReportSighting: Sendable, Hashable {
    /// Names the report on the case (`report:shadowserver/scan_ntp/2026-12-01/…`); the same
    /// report twice has the same id.
    public var id: String
    public var problem: ReportedProblem
    /// `source/type` (`shadowserver/scan_ntp`).
    public var reportType: String
    /// When the reporter saw it (ms).
    public var time: Int64
    /// The device as the case names it (the reported address and port).
    public var device: String

    public init(id: String, problem: ReportedProblem, reportType: String, time: Int64, device: String) {
        self.id = id
        self.problem = problem
        self.reportType = reportType
        self.time = time
        self.device = device
    }
}
