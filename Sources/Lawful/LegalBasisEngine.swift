import MamoriCore

/// Decides, for one action on one piece of evidence, whether the law lets Mamori act and on
/// which ground — the legal frame of DESIGN.md as code. Pure: the consent state, the policy and
/// the time are given; the answer names the basis and says why in words an auditor can check.
///
/// Routes are tried in the order the law prefers them: individual consent (the principle),
/// comprehensive consent through the contract terms, then the legitimate business act. A refusal
/// lists why every route was closed.
public struct LegalBasisEngine: Sendable {
    public var policy: LawfulPolicy

    public init(policy: LawfulPolicy) {
        self.policy = policy
    }

    public func decide(_ request: ActionRequest, at now: Int64) -> LegalDecision {
        let inForce = policy.termsInForce(at: now)
        let (basis, reasons): (LegalBasis, [String])
        switch request {
        case .analyseFlows(let practice):
            (basis, reasons) = analysis(practice)
        case .shareIndicator(let share):
            (basis, reasons) = sharing(share)
        case .warnInfection(_, let consent, let evidence):
            (basis, reasons) = warning(.warnInfection, consent: consent, inForce: inForce) {
                infectionGrounds(evidence)
            }
        case .warnVulnerability(_, let consent, let report):
            if let problem = unexplainable(report) {
                (basis, reasons) = (.notPermitted, [problem])
            } else {
                (basis, reasons) = warning(.warnVulnerability, consent: consent, inForce: inForce) {
                    vulnerabilityGrounds(report)
                }
            }
        case .sinkholeDNS(_, let consent):
            (basis, reasons) = sinkhole(consent)
        case .blockCallDestination(let block):
            (basis, reasons) = callBlock(block)
        case .mitigateAttack(let subscriber, let consent, let mitigation):
            (basis, reasons) = attackFilter(mitigation, subscriber: subscriber, consent: consent, inForce: inForce)
        }
        return LegalDecision(
            action: request.action, subscriber: request.subscriber, permitted: basis != .notPermitted,
            basis: basis, reasons: reasons, decidedAt: now, termsInForce: inForce?.version)
    }

    // MARK: Rows of the legal frame

    /// Normal-time analysis: a legitimate business act only while mechanical, keeping only what is needed.
    private func analysis(_ p: AnalysisPractice) -> (LegalBasis, [String]) {
        var failed: [String] = []
        if !p.mechanical { failed.append("the analysis is not mechanical and automatic: people read flow records") }
        if p.persistsRawFlows { failed.append("raw flow records of legitimate communications are written to disk") }
        let limit = policy.analysis.maximumEvidenceRetentionDays
        switch p.evidenceRetentionDays {
        case nil: failed.append("evidence is kept without a retention limit")
        case let d? where d > limit: failed.append("evidence is kept \(d) days, longer than the policy's \(limit)")
        default: break
        }
        if !failed.isEmpty { return (.notPermitted, failed) }
        return (
            .legitimateBusinessAct,
            [
                "analysis is mechanical and automatic",
                "raw flow records live in memory for the analysis window only",
                "evidence is deleted after \(p.evidenceRetentionDays ?? 0) days (policy limit \(limit))",
            ]
        )
    }

    /// Sharing with the ISAC: no infringement only when nothing in it points at a subscriber.
    private func sharing(_ s: IndicatorShare) -> (LegalBasis, [String]) {
        var failed: [String] = []
        if !s.subscriberIdentifiers.isEmpty {
            failed.append("it names \(s.subscriberIdentifiers.count) subscriber identifier(s)")
        }
        if !s.subscriberAddresses.isEmpty {
            failed.append("it carries \(s.subscriberAddresses.count) subscriber-side address(es)")
        }
        if !s.countsAreAggregate { failed.append("it gives counts per subscriber, not aggregates") }
        if !failed.isEmpty {
            return (.notPermitted, ["sharing \(s.indicator) would disclose subscriber data: " + failed.joined(separator: ", ")])
        }
        return (.noInfringement, ["\(s.indicator) is the C&C side only, with aggregate counts and no subscriber identity or address"])
    }

    /// Warnings (infection, vulnerability): individual consent, comprehensive consent, or a
    /// legitimate business act on the given grounds — and either way the terms disclose warnings.
    private func warning(
        _ action: LawfulAction, consent: ConsentState, inForce: LawfulPolicy.Terms?,
        grounds: () -> (met: [String], unmet: String)
    ) -> (LegalBasis, [String]) {
        var closed: [String] = []
        let what =
            switch action {
            case .warnInfection: "warnings about infected devices"
            case .mitigateAttack: "filters against attack traffic from subscribers' devices"
            default: "warnings about vulnerable devices"
            }
        let done = action == .mitigateAttack ? "applied" : "sent"

        // 1. Individual consent.
        if let c = consent.consents[action] {
            return (.individualConsent, ["individual consent to \(what) given \(Self.day(c.at)) (\(c.method))"])
        }
        let refusal = optOut(action, consent)
        closed.append(refusal.map { "individual consent: none (\($0))" } ?? "individual consent: none recorded")

        // 2. Comprehensive consent through the accepted terms, with no opt-out used.
        switch comprehensive(action, consent) {
        case .success(let reason):
            if let refusal {
                closed.append("comprehensive consent: \(reason), but \(refusal)")
            } else {
                return (.comprehensiveConsent, ["comprehensive consent: \(reason), no opt-out"])
            }
        case .failure(let why):
            closed.append("comprehensive consent: \(why.text)")
        }

        // 3. Legitimate business act: the terms in force say in advance that warnings are sent,
        //    and the evidence meets the grounds.
        guard let inForce, inForce.discloses.contains(action) else {
            closed.append(
                "legitimate business act: "
                    + (inForce.map { "terms \($0.version) in force do not say in advance that \(what) are \(done)" }
                        ?? "no terms are in force, so nothing says in advance that \(what) are \(done)"))
            return (.notPermitted, closed)
        }
        if let refusal, policy.legitimateBusiness.honourOptOut {
            closed.append("legitimate business act: \(refusal), and the policy honours opt-outs on this route too")
            return (.notPermitted, closed)
        }
        let g = grounds()
        guard !g.met.isEmpty else {
            closed.append("legitimate business act: \(g.unmet)")
            return (.notPermitted, closed)
        }
        var reasons = ["legitimate business act: " + g.met.joined(separator: "; ")]
        reasons.append("terms \(inForce.version) in force say in advance that \(what) are \(done)")
        if let refusal { reasons.append("\(refusal); the policy does not let opt-outs close this route") }
        return (.legitimateBusinessAct, reasons)
    }

    /// The infection grounds for the legitimate-business route.
    private func infectionGrounds(_ e: InfectionEvidence) -> (met: [String], unmet: String) {
        let lb = policy.legitimateBusiness
        var met: [String] = []
        let window = "\(Self.minute(e.from))–\(Self.minute(e.to))"
        if let pps = e.attackPacketsPerSecond, pps >= lb.attackPacketsPerSecond {
            met.append(
                "burdens the network: \(Self.rate(pps))pps \(e.attackKind ?? "attack") from this device \(window) (threshold \(Self.rate(lb.attackPacketsPerSecond))pps)"
            )
        } else if let bps = e.attackBitsPerSecond, bps >= lb.attackBitsPerSecond {
            met.append(
                "burdens the network: \(Self.rate(bps))bit/s \(e.attackKind ?? "attack") from this device \(window) (threshold \(Self.rate(lb.attackBitsPerSecond))bit/s)"
            )
        }
        if let scan = e.scanDestinationsPerMinute, scan >= lb.scanDestinationsPerMinute {
            let port = e.scanPort.map { " on port \($0)" } ?? ""
            met.append(
                "burdens the network: scans \(Int(scan.rounded())) destinations/min\(port) \(window) (threshold \(Int(lb.scanDestinationsPerMinute))/min)"
            )
        }
        if let fault = e.priorNetworkFault {
            met.append("caused a network fault before (\(fault))")
        }
        for c in e.commandAndControl {
            guard let family = c.family?.lowercased(), lb.qualifyingFamilies.contains(family), c.contacts >= lb.repeatedContacts else {
                continue
            }
            met.append("repeatedly (\(c.contacts) times) contacted \(c.endpoint), a C&C of qualifying malware \(family), \(window)")
        }
        var unmet: [String] = []
        if e.attackPacketsPerSecond != nil || e.attackBitsPerSecond != nil {
            unmet.append(
                "its attack rate is below the thresholds (\(Self.rate(lb.attackPacketsPerSecond))pps, \(Self.rate(lb.attackBitsPerSecond))bit/s)"
            )
        }
        if let scan = e.scanDestinationsPerMinute {
            unmet.append("its scan rate \(Int(scan.rounded()))/min is below \(Int(lb.scanDestinationsPerMinute))/min")
        }
        if !e.commandAndControl.isEmpty {
            let families = Set(e.commandAndControl.map { $0.family?.lowercased() ?? "unknown" }).sorted()
            let most = e.commandAndControl.map(\.contacts).max() ?? 0
            unmet.append(
                "its C&C contacts (families \(families.joined(separator: ", ")); at most \(most) contacts) are not repeated contacts (≥ \(lb.repeatedContacts)) with a qualifying family"
            )
        }
        if unmet.isEmpty { unmet.append("the evidence shows no attack, scan, fault or C&C contact") }
        return (
            met,
            "the device does not burden the network and has no qualifying ground: " + unmet.joined(separator: "; ")
                + "; no network fault on record"
        )
    }

    /// Vulnerability reports: a trusted source is the ground for the legitimate-business route.
    private func vulnerabilityGrounds(_ r: VulnerabilityReport) -> (met: [String], unmet: String) {
        guard policy.vulnerability.trustedSources.contains(r.source.lowercased()) else {
            return (
                [],
                "the report's source \(r.source) is not one the policy trusts (\(policy.vulnerability.trustedSources.sorted().joined(separator: ", ")))"
            )
        }
        return (["\(r.source) reported \(r.vulnerability) on \(Self.day(r.observedAt)); the notice explains the fix"], "")
    }

    private func unexplainable(_ r: VulnerabilityReport) -> String? {
        if r.vulnerability.allSatisfy(\.isWhitespace) || r.remediation.allSatisfy(\.isWhitespace) {
            return
                "a vulnerability notice must explain the vulnerability and its fix; the report from \(r.source) gives \(r.vulnerability.allSatisfy(\.isWhitespace) ? "no vulnerability" : "no fix")"
        }
        return nil
    }

    /// The DNS sinkhole: consent only (individual, or the terms with a real opt-out); no
    /// legitimate-business route for blocking.
    private func sinkhole(_ consent: ConsentState) -> (LegalBasis, [String]) {
        if let refusal = optOut(.sinkholeDNS, consent) {
            return (.notPermitted, [refusal])
        }
        if let c = consent.consents[.sinkholeDNS] {
            return (.individualConsent, ["individual consent to DNS sinkholing given \(Self.day(c.at)) (\(c.method))"])
        }
        var closed = ["individual consent: none recorded"]
        switch comprehensive(.sinkholeDNS, consent) {
        case .success(let reason):
            let terms = consent.terms.flatMap { policy.terms(version: $0.version) }
            if (terms?.observationStatement ?? "").isEmpty {
                closed.append("comprehensive consent: \(reason), but they do not state what is observed and when")
            } else if policy.sinkhole.optOutMethod.isEmpty {
                closed.append("comprehensive consent: \(reason), but the policy names no way to opt out, so the opt-out is not real")
            } else {
                return (
                    .comprehensiveConsent,
                    [
                        "comprehensive consent: \(reason); they state what is observed and when",
                        "opt-out available (\(policy.sinkhole.optOutMethod)) and not used",
                    ]
                )
            }
        case .failure(let why):
            closed.append("comprehensive consent: \(why.text)")
        }
        closed.append("blocking has no legitimate-business route: it needs consent")
        return (.notPermitted, closed)
    }

    /// BGP filters against an attack. Inbound (a flood against a subscriber's address): a
    /// legitimate business act of the carrier protecting its network and the victim's service,
    /// as long as the evidence shows an attack. Outbound (traffic from a subscriber's device): the
    /// routes of a warning — individual consent, comprehensive consent, or a legitimate business
    /// act when the device burdens the network now (attack or scan rate; a past fault or C&C
    /// contacts alone do not justify filtering its traffic).
    private func attackFilter(
        _ m: AttackMitigation, subscriber: String?, consent: ConsentState, inForce: LawfulPolicy.Terms?
    ) -> (LegalBasis, [String]) {
        let e = m.evidence
        switch m.direction {
        case .inboundToVictim:
            let rate: String? =
                if let pps = e.attackPacketsPerSecond, pps > 0 {
                    "\(Self.rate(pps))pps"
                } else if let bps = e.attackBitsPerSecond, bps > 0 {
                    "\(Self.rate(bps))bit/s"
                } else { nil }
            guard let rate else {
                return (.notPermitted, ["the evidence shows no attack against the subscriber's address: nothing to filter"])
            }
            return (
                .legitimateBusinessAct,
                [
                    "legitimate business act: the carrier filters \(rate) \(e.attackKind ?? "attack") traffic against a subscriber's address \(Self.minute(e.from))–\(Self.minute(e.to)) to protect its network and the victim's service",
                    "filter: \(m.rule)",
                ]
            )
        case .outboundFromSubscriber:
            guard subscriber != nil else {
                return (.notPermitted, ["no subscriber is attributed to the filtered traffic, so no consent or terms can be checked"])
            }
            var burden = e
            burden.commandAndControl = []
            burden.priorNetworkFault = nil
            var (basis, reasons) = warning(.mitigateAttack, consent: consent, inForce: inForce) { infectionGrounds(burden) }
            if basis != .notPermitted { reasons.append("filter: \(m.rule)") }
            return (basis, reasons)
        }
    }

    /// IP-phone fraud: the carrier's judgment within the limits DESIGN.md sets.
    private func callBlock(_ b: CallBlockRequest) -> (LegalBasis, [String]) {
        let limits = policy.callFraud
        var failed: [String] = []
        let share = Int((b.fraudShare * 100).rounded())
        if b.fraudShare < limits.exclusiveFraudShare {
            failed.append(
                "only \(share)% of calls to \(b.destination) are fraudulent (needs \(Int(limits.exclusiveFraudShare * 100))%: almost exclusively fraud)"
            )
        }
        if b.blockFrom < b.fraudFrom || (b.fraudTo.map { b.blockUntil > $0 } ?? false) {
            failed.append("the block reaches outside the fraud period")
        }
        let hours = (b.blockUntil - b.blockFrom) / 3_600_000
        if b.blockUntil <= b.blockFrom {
            failed.append("the block has no duration")
        } else if hours > Int64(limits.maximumBlockHours) {
            failed.append("the block lasts \(hours) h, longer than the policy's \(limits.maximumBlockHours) h")
        }
        if !b.tradeTiesWeighed { failed.append("trade ties with \(b.destination) were not weighed") }
        if !b.urgentCallsExempt { failed.append("urgent calls would be blocked too") }
        if !b.victimsNotBilled { failed.append("victims would be billed for the fraudulent calls") }
        if !failed.isEmpty { return (.notPermitted, failed) }
        return (
            .carrierJudgment,
            [
                "\(share)% of calls to \(b.destination) are fraudulent since \(Self.minute(b.fraudFrom))",
                "blocked \(Self.minute(b.blockFrom))–\(Self.minute(b.blockUntil)), within the fraud period",
                "trade ties weighed, urgent calls exempt, victims not billed",
            ]
        )
    }

    // MARK: Shared conditions

    /// Why the subscriber refused this action (opt-out or withdrawn consent), or nil.
    private func optOut(_ action: LawfulAction, _ consent: ConsentState) -> String? {
        if let o = consent.optOuts[action] { return "opted out \(Self.day(o.at)) (\(o.method))" }
        if let w = consent.withdrawals[action] { return "withdrew individual consent \(Self.day(w.at)) (\(w.method))" }
        return nil
    }

    private struct Closed: Error { let text: String }

    /// Whether the terms the subscriber accepted disclose the action.
    private func comprehensive(_ action: LawfulAction, _ consent: ConsentState) -> Result<String, Closed> {
        guard let accepted = consent.terms else { return .failure(Closed(text: "no contract terms accepted")) }
        guard let terms = policy.terms(version: accepted.version) else {
            return .failure(Closed(text: "accepted terms \(accepted.version) are not in the policy"))
        }
        guard terms.discloses.contains(action) else {
            return .failure(Closed(text: "terms \(terms.version) accepted \(Self.day(accepted.mark.at)) do not disclose this action"))
        }
        return .success("terms \(terms.version) accepted \(Self.day(accepted.mark.at)) disclose it")
    }

    // MARK: Words

    static func day(_ ms: Int64) -> String {
        let t = UTCTime(milliseconds: ms)
        return "\(t.year)-\(pad(t.month))-\(pad(t.day))"
    }

    static func minute(_ ms: Int64) -> String {
        let t = UTCTime(milliseconds: ms)
        return "\(day(ms)) \(pad(t.hour)):\(pad(t.minute)) UTC"
    }

    private static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// 120000 → "120 k", 2.5e6 → "2.5 M".
    static func rate(_ v: Double) -> String {
        func trim(_ x: Double) -> String {
            let r = (x * 10).rounded() / 10
            return r == r.rounded() ? String(Int(r)) : String(r)
        }
        if v >= 1e9 { return trim(v / 1e9) + " G" }
        if v >= 1e6 { return trim(v / 1e6) + " M" }
        if v >= 1e3 { return trim(v / 1e3) + " k" }
        return trim(v) + " "
    }
}
