import IdentityCodec
import MamoriCore
import Testing

@testable import Lawful

/// The legal frame of DESIGN.md as a decision table: every row, every route, every refusal.
@Suite struct LegalBasisEngineTests {
    static func ms(_ y: Int, _ m: Int, _ d: Int, _ h: Int = 0, _ min: Int = 0) -> Int64 {
        UTCTime(year: y, month: m, day: d, hour: h, minute: min, second: 0).milliseconds!
    }

    static let now = ms(2026, 11, 20, 12)
    static let subscriber = "s:0123456789abcdef"

    /// v1 discloses nothing, v2 warnings, v3 warnings and the sinkhole with its observation statement.
    static func policy(
        honourOptOut: Bool = true, sinkholeOptOut: String = "use a DNS resolver other than the carrier's",
        v3Observation: String? = "DNS queries to known C&C names, at the time of the query",
        v3Discloses: Set<LawfulAction> = [.warnInfection, .warnVulnerability, .sinkholeDNS],
        dropV3: Bool = false
    ) -> LawfulPolicy {
        var terms = [
            LawfulPolicy.Terms(version: "v1", effective: ms(2024, 1, 1), discloses: []),
            LawfulPolicy.Terms(version: "v2", effective: ms(2025, 1, 1), discloses: [.warnInfection, .warnVulnerability]),
        ]
        if !dropV3 {
            terms.append(
                LawfulPolicy.Terms(version: "v3", effective: ms(2025, 4, 1), discloses: v3Discloses, observationStatement: v3Observation))
        }
        var p = LawfulPolicy(terms: terms)
        p.legitimateBusiness.honourOptOut = honourOptOut
        p.sinkhole.optOutMethod = sinkholeOptOut
        return p
    }

    // MARK: Consent helpers

    static func accepted(_ v: String, _ at: Int64 = ms(2025, 4, 1)) -> ConsentEvent {
        ConsentEvent(subscriber: subscriber, kind: .termsAccepted, termsVersion: v, at: at, method: "contract", recordedBy: "test")
    }
    static func event(_ k: ConsentEvent.Kind, _ a: LawfulAction, _ at: Int64, _ method: String = "web form") -> ConsentEvent {
        ConsentEvent(subscriber: subscriber, kind: k, action: a, at: at, method: method, recordedBy: "test")
    }
    static func state(_ events: [ConsentEvent]) -> ConsentState { ConsentState(events: events, at: now) }

    // MARK: Evidence helpers

    static let from = ms(2026, 11, 20, 10, 2)
    static let to = ms(2026, 11, 20, 10, 9)
    static let noGround = InfectionEvidence(
        from: from, to: to, commandAndControl: [.init(endpoint: "198.51.100.7:4444/tcp", family: nil, contacts: 40)])
    static let flood = InfectionEvidence(from: from, to: to, attackPacketsPerSecond: 120_000, attackKind: "UDP flood")
    static let weakFlood = InfectionEvidence(
        from: from, to: to, attackPacketsPerSecond: 2_000, attackBitsPerSecond: 5_000_000, attackKind: "UDP flood")
    static let bitFlood = InfectionEvidence(
        from: from, to: to, attackPacketsPerSecond: 9_000, attackBitsPerSecond: 900_000_000, attackKind: "TCP flood")
    static let scan = InfectionEvidence(from: from, to: to, scanDestinationsPerMinute: 450, scanPort: 23)
    static let slowScan = InfectionEvidence(from: from, to: to, scanDestinationsPerMinute: 40, scanPort: 23)
    static let fault = InfectionEvidence(from: from, to: to, priorNetworkFault: "INC-2026-0042")
    static let mirai = InfectionEvidence(
        from: from, to: to, commandAndControl: [.init(endpoint: "198.51.100.7:23/tcp", family: "Mirai", contacts: 12)])
    static let miraiOnce = InfectionEvidence(
        from: from, to: to, commandAndControl: [.init(endpoint: "198.51.100.7:23/tcp", family: "mirai", contacts: 2)])
    static let unlisted = InfectionEvidence(
        from: from, to: to, commandAndControl: [.init(endpoint: "198.51.100.7:23/tcp", family: "newfamily", contacts: 50)])

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var policy: LawfulPolicy
        var request: ActionRequest
        var basis: LegalBasis
        /// Words that must appear in the reasons (each in some reason).
        var says: [String]
        var testDescription: String { name }
    }

    static func infection(
        _ name: String, _ events: [ConsentEvent], _ e: InfectionEvidence, policy p: LawfulPolicy = policy(),
        _ basis: LegalBasis, _ says: [String]
    ) -> Row {
        Row(
            name: "warn infection: " + name, policy: p,
            request: .warnInfection(subscriber: subscriber, consent: state(events), evidence: e), basis: basis, says: says)
    }

    static let infectionRows: [Row] = [
        infection(
            "individual consent, no terms", [event(.consentGiven, .warnInfection, ms(2026, 1, 5))], noGround,
            .individualConsent, ["individual consent to warnings about infected devices given 2026-01-05 (web form)"]),
        infection(
            "terms v3 accepted, no opt-out", [accepted("v3")], noGround,
            .comprehensiveConsent, ["comprehensive consent: terms v3 accepted 2025-04-01 disclose it, no opt-out"]),
        infection(
            "terms v2 accepted before v3", [accepted("v2", ms(2025, 2, 1))], noGround,
            .comprehensiveConsent, ["terms v2 accepted 2025-02-01"]),
        infection(
            "terms v1 accepted (no disclosure), 120 kpps flood", [accepted("v1")], flood,
            .legitimateBusinessAct,
            [
                "legitimate business act: burdens the network: 120 kpps UDP flood from this device 2026-11-20 10:02 UTC–2026-11-20 10:09 UTC (threshold 10 kpps)",
                "terms v3 in force say in advance",
            ]),
        infection(
            "terms v1 accepted, no ground", [accepted("v1")], noGround,
            .notPermitted,
            ["terms v1 accepted 2025-04-01 do not disclose this action", "the device does not burden the network", "families unknown"]),
        infection("no terms, flood by bit rate", [], bitFlood, .legitimateBusinessAct, ["900 Mbit/s TCP flood"]),
        infection("no terms, flood below both thresholds", [], weakFlood, .notPermitted, ["attack rate is below the thresholds"]),
        infection("no terms, mass scan", [], scan, .legitimateBusinessAct, ["scans 450 destinations/min on port 23"]),
        infection("no terms, slow scan", [], slowScan, .notPermitted, ["scan rate 40/min is below 300/min"]),
        infection("no terms, earlier network fault", [], fault, .legitimateBusinessAct, ["caused a network fault before (INC-2026-0042)"]),
        infection(
            "no terms, repeated Mirai C&C contacts", [], mirai, .legitimateBusinessAct,
            ["repeatedly (12 times) contacted 198.51.100.7:23/tcp, a C&C of qualifying malware mirai"]),
        infection("no terms, Mirai C&C contacted twice", [], miraiOnce, .notPermitted, ["at most 2 contacts", "≥ 3"]),
        infection("no terms, unlisted family", [], unlisted, .notPermitted, ["families newfamily"]),
        infection(
            "no terms, nothing at all", [], InfectionEvidence(from: from, to: to), .notPermitted,
            ["shows no attack, scan, fault or C&C contact"]),
        infection(
            "opted out, flood, policy honours opt-out", [accepted("v3"), event(.optedOut, .warnInfection, ms(2026, 3, 1), "call centre")],
            flood,
            .notPermitted,
            [
                "comprehensive consent: terms v3 accepted 2025-04-01 disclose it, but opted out 2026-03-01 (call centre)",
                "the policy honours opt-outs on this route too",
            ]),
        infection(
            "opted out, flood, policy lets the legitimate route override",
            [accepted("v3"), event(.optedOut, .warnInfection, ms(2026, 3, 1))], flood,
            policy: policy(honourOptOut: false), .legitimateBusinessAct,
            ["opted out 2026-03-01 (web form); the policy does not let opt-outs close this route"]),
        infection(
            "opted out, no ground, policy lets the legitimate route override",
            [accepted("v3"), event(.optedOut, .warnInfection, ms(2026, 3, 1))], noGround,
            policy: policy(honourOptOut: false), .notPermitted, ["does not burden the network"]),
        infection(
            "terms in force do not disclose warnings", [], flood, policy: policy(v3Discloses: []),
            .notPermitted, ["terms v3 in force do not say in advance that warnings about infected devices are sent"]),
        infection(
            "no terms in the policy at all", [], flood, policy: LawfulPolicy(), .notPermitted,
            ["no terms are in force, so nothing says in advance that warnings about infected devices are sent"]),
        infection(
            "individual consent withdrawn, terms v3 accepted",
            [
                accepted("v3"), event(.consentGiven, .warnInfection, ms(2025, 6, 1)),
                event(.consentWithdrawn, .warnInfection, ms(2026, 2, 1)),
            ],
            noGround, .notPermitted,
            ["individual consent: none (withdrew individual consent 2026-02-01 (web form))", "but withdrew individual consent"]),
        infection(
            "opt-out cancelled",
            [accepted("v3"), event(.optedOut, .warnInfection, ms(2026, 3, 1)), event(.optOutCancelled, .warnInfection, ms(2026, 4, 1))],
            noGround, .comprehensiveConsent, ["no opt-out"]),
        infection(
            "individual consent after an opt-out",
            [accepted("v3"), event(.optedOut, .warnInfection, ms(2026, 3, 1)), event(.consentGiven, .warnInfection, ms(2026, 5, 1))],
            noGround, .individualConsent, ["given 2026-05-01"]),
        infection(
            "opt-out after individual consent",
            [event(.consentGiven, .warnInfection, ms(2026, 3, 1)), event(.optedOut, .warnInfection, ms(2026, 5, 1))],
            noGround, .notPermitted, ["individual consent: none (opted out 2026-05-01 (web form))"]),
        infection(
            "accepted terms unknown to the policy", [accepted("v9")], noGround, .notPermitted, ["accepted terms v9 are not in the policy"]),
        infection(
            "consent recorded after the decision time does not count", [event(.consentGiven, .warnInfection, now + 1)], noGround,
            .notPermitted, ["individual consent: none recorded", "no contract terms accepted"]),
        infection(
            "opting out of the sinkhole leaves warnings open", [accepted("v3"), event(.optedOut, .sinkholeDNS, ms(2026, 3, 1))], noGround,
            .comprehensiveConsent, ["no opt-out"]),
    ]

    static let report = VulnerabilityReport(
        source: "NOTICE", vulnerability: "telnet (23/tcp) answers with a default password",
        remediation: "change the device's password and update its firmware", observedAt: ms(2026, 11, 18))

    static func vulnerability(
        _ name: String, _ events: [ConsentEvent], report r: VulnerabilityReport = report, policy p: LawfulPolicy = policy(),
        _ basis: LegalBasis, _ says: [String]
    ) -> Row {
        Row(
            name: "warn vulnerability: " + name, policy: p,
            request: .warnVulnerability(subscriber: subscriber, consent: state(events), report: r), basis: basis, says: says)
    }

    static let vulnerabilityRows: [Row] = [
        vulnerability(
            "individual consent", [event(.consentGiven, .warnVulnerability, ms(2026, 1, 1))], .individualConsent,
            ["individual consent to warnings about vulnerable devices"]),
        vulnerability(
            "terms v3 accepted", [accepted("v3")], .comprehensiveConsent, ["terms v3 accepted 2025-04-01 disclose it, no opt-out"]),
        vulnerability(
            "no terms, NOTICE report", [], .legitimateBusinessAct,
            ["NOTICE reported telnet (23/tcp) answers with a default password on 2026-11-18", "the notice explains the fix"]),
        vulnerability(
            "no terms, untrusted source", [],
            report: VulnerabilityReport(
                source: "a forum post", vulnerability: "open telnet", remediation: "close it", observedAt: ms(2026, 11, 18)),
            .notPermitted, ["the report's source a forum post is not one the policy trusts (notice, shadowserver)"]),
        vulnerability(
            "report without a fix, even with consent", [event(.consentGiven, .warnVulnerability, ms(2026, 1, 1))],
            report: VulnerabilityReport(source: "NOTICE", vulnerability: "open telnet", remediation: " ", observedAt: ms(2026, 11, 18)),
            .notPermitted, ["must explain the vulnerability and its fix", "gives no fix"]),
        vulnerability(
            "opted out", [accepted("v3"), event(.optedOut, .warnVulnerability, ms(2026, 2, 1))], .notPermitted,
            ["but opted out 2026-02-01", "honours opt-outs"]),
        vulnerability(
            "terms in force do not disclose vulnerability warnings", [], policy: policy(v3Discloses: [.warnInfection]),
            .notPermitted, ["terms v3 in force do not say in advance that warnings about vulnerable devices are sent"]),
    ]

    static func sinkhole(_ name: String, _ events: [ConsentEvent], policy p: LawfulPolicy = policy(), _ basis: LegalBasis, _ says: [String])
        -> Row
    {
        Row(
            name: "sinkhole: " + name, policy: p, request: .sinkholeDNS(subscriber: subscriber, consent: state(events)), basis: basis,
            says: says)
    }

    static let sinkholeRows: [Row] = [
        sinkhole(
            "individual consent", [event(.consentGiven, .sinkholeDNS, ms(2026, 1, 1))], .individualConsent,
            ["individual consent to DNS sinkholing"]),
        sinkhole(
            "terms v3 accepted with a real opt-out", [accepted("v3")], .comprehensiveConsent,
            ["they state what is observed and when", "opt-out available (use a DNS resolver other than the carrier's) and not used"]),
        sinkhole(
            "opted out by using another resolver",
            [accepted("v3"), event(.optedOut, .sinkholeDNS, ms(2026, 6, 1), "uses another DNS resolver")],
            .notPermitted, ["opted out 2026-06-01 (uses another DNS resolver)"]),
        sinkhole(
            "individual consent then opt-out",
            [event(.consentGiven, .sinkholeDNS, ms(2026, 1, 1)), event(.optedOut, .sinkholeDNS, ms(2026, 6, 1))],
            .notPermitted, ["opted out 2026-06-01"]),
        sinkhole(
            "terms v2 accepted do not disclose blocking", [accepted("v2", ms(2025, 2, 1))], .notPermitted,
            ["terms v2 accepted 2025-02-01 do not disclose this action", "blocking has no legitimate-business route"]),
        sinkhole(
            "terms do not state what is observed", [accepted("v3")], policy: policy(v3Observation: nil), .notPermitted,
            ["but they do not state what is observed and when"]),
        sinkhole("no real opt-out", [accepted("v3")], policy: policy(sinkholeOptOut: ""), .notPermitted, ["the opt-out is not real"]),
        sinkhole(
            "no consent at all", [], .notPermitted,
            ["no contract terms accepted", "blocking has no legitimate-business route: it needs consent"]),
    ]

    static func analysis(_ name: String, _ p: AnalysisPractice, _ basis: LegalBasis, _ says: [String]) -> Row {
        Row(name: "analyse flows: " + name, policy: policy(), request: .analyseFlows(p), basis: basis, says: says)
    }

    static let analysisRows: [Row] = [
        analysis(
            "mechanical, in memory, 90-day evidence",
            AnalysisPractice(mechanical: true, persistsRawFlows: false, evidenceRetentionDays: 90),
            .legitimateBusinessAct, ["analysis is mechanical and automatic", "evidence is deleted after 90 days (policy limit 180)"]),
        analysis(
            "people read flows", AnalysisPractice(mechanical: false, persistsRawFlows: false, evidenceRetentionDays: 90), .notPermitted,
            ["not mechanical"]),
        analysis(
            "raw flows on disk", AnalysisPractice(mechanical: true, persistsRawFlows: true, evidenceRetentionDays: 90), .notPermitted,
            ["raw flow records of legitimate communications are written to disk"]),
        analysis(
            "no retention limit", AnalysisPractice(mechanical: true, persistsRawFlows: false, evidenceRetentionDays: nil), .notPermitted,
            ["without a retention limit"]),
        analysis(
            "retention past the policy", AnalysisPractice(mechanical: true, persistsRawFlows: false, evidenceRetentionDays: 400),
            .notPermitted, ["kept 400 days, longer than the policy's 180"]),
    ]

    static func share(_ name: String, _ s: IndicatorShare, _ basis: LegalBasis, _ says: [String]) -> Row {
        Row(name: "share indicator: " + name, policy: policy(), request: .shareIndicator(s), basis: basis, says: says)
    }

    static let shareRows: [Row] = [
        share("C&C side only", IndicatorShare(indicator: "198.51.100.7:23/tcp"), .noInfringement, ["C&C side only"]),
        share(
            "with a subscriber pseudonym", IndicatorShare(indicator: "198.51.100.7:23/tcp", subscriberIdentifiers: [subscriber]),
            .notPermitted, ["1 subscriber identifier(s)"]),
        share(
            "with subscriber addresses",
            IndicatorShare(indicator: "198.51.100.7:23/tcp", subscriberAddresses: ["100.64.1.2", "100.64.1.3"]), .notPermitted,
            ["2 subscriber-side address(es)"]),
        share(
            "with per-subscriber counts", IndicatorShare(indicator: "198.51.100.7:23/tcp", countsAreAggregate: false), .notPermitted,
            ["counts per subscriber"]),
    ]

    static func block(_ name: String, change: (inout CallBlockRequest) -> Void = { _ in }, _ basis: LegalBasis, _ says: [String]) -> Row {
        var b = CallBlockRequest(
            destination: "+882", fraudShare: 0.97, fraudFrom: ms(2026, 11, 19), fraudTo: nil,
            blockFrom: ms(2026, 11, 20), blockUntil: ms(2026, 11, 21), tradeTiesWeighed: true, urgentCallsExempt: true,
            victimsNotBilled: true)
        change(&b)
        return Row(name: "block calls: " + name, policy: policy(), request: .blockCallDestination(b), basis: basis, says: says)
    }

    static let blockRows: [Row] = [
        block(
            "almost exclusively fraud, 24 h", .carrierJudgment,
            ["97% of calls to +882 are fraudulent", "trade ties weighed, urgent calls exempt, victims not billed"]),
        block(
            "mostly but not almost exclusively fraud", change: { $0.fraudShare = 0.8 }, .notPermitted,
            ["only 80% of calls to +882 are fraudulent (needs 90%"]),
        block("block outlives the fraud period", change: { $0.fraudTo = ms(2026, 11, 20, 6) }, .notPermitted, ["outside the fraud period"]),
        block("block starts before the fraud", change: { $0.blockFrom = ms(2026, 11, 18) }, .notPermitted, ["outside the fraud period"]),
        block(
            "block too long", change: { $0.blockUntil = ms(2026, 11, 25) }, .notPermitted, ["lasts 120 h, longer than the policy's 72 h"]),
        block("no duration", change: { $0.blockUntil = $0.blockFrom }, .notPermitted, ["no duration"]),
        block("trade ties not weighed", change: { $0.tradeTiesWeighed = false }, .notPermitted, ["trade ties with +882 were not weighed"]),
        block("urgent calls blocked", change: { $0.urgentCallsExempt = false }, .notPermitted, ["urgent calls would be blocked too"]),
        block("victims billed", change: { $0.victimsNotBilled = false }, .notPermitted, ["victims would be billed"]),
    ]

    static func mitigation(
        _ name: String, _ direction: AttackMitigation.Direction, subscriber s: String? = subscriber, events: [ConsentEvent] = [],
        _ e: InfectionEvidence, policy p: LawfulPolicy = policy(), _ basis: LegalBasis, _ says: [String]
    ) -> Row {
        Row(
            name: "mitigate attack: " + name, policy: p,
            request: .mitigateAttack(
                subscriber: s, consent: state(events),
                mitigation: AttackMitigation(direction: direction, rule: "FlowSpec dst 203.0.113.7/32: discard", evidence: e)),
            basis: basis, says: says)
    }

    static let disclosesMitigation = policy(v3Discloses: [.warnInfection, .warnVulnerability, .sinkholeDNS, .mitigateAttack])

    static let mitigationRows: [Row] = [
        mitigation(
            "inbound flood", .inboundToVictim, subscriber: nil, flood, .legitimateBusinessAct,
            ["the carrier filters 120 kpps UDP flood traffic against a subscriber's address", "to protect its network"]),
        mitigation(
            "inbound, no attack in the evidence", .inboundToVictim, subscriber: nil, noGround, .notPermitted,
            ["shows no attack against the subscriber's address"]),
        mitigation(
            "outbound, individual consent", .outboundFromSubscriber, events: [event(.consentGiven, .mitigateAttack, ms(2026, 1, 5))],
            noGround,
            .individualConsent, ["individual consent to filters against attack traffic from subscribers' devices given 2026-01-05"]),
        mitigation(
            "outbound flood, terms in force disclose filtering", .outboundFromSubscriber, events: [accepted("v1")], flood,
            policy: disclosesMitigation, .legitimateBusinessAct,
            [
                "burdens the network: 120 kpps UDP flood",
                "say in advance that filters against attack traffic from subscribers' devices are applied",
                "filter: FlowSpec dst 203.0.113.7/32: discard",
            ]),
        mitigation(
            "outbound mass scan, terms in force disclose filtering", .outboundFromSubscriber, scan, policy: disclosesMitigation,
            .legitimateBusinessAct, ["scans 450 destinations/min on port 23"]),
        mitigation(
            "outbound flood, terms do not disclose filtering", .outboundFromSubscriber, events: [accepted("v1")], flood, .notPermitted,
            ["do not say in advance that filters against attack traffic from subscribers' devices are applied"]),
        mitigation(
            "outbound, a past fault does not justify filtering", .outboundFromSubscriber, fault, policy: disclosesMitigation,
            .notPermitted, ["the device does not burden the network"]),
        mitigation(
            "outbound, C&C contacts alone do not justify filtering", .outboundFromSubscriber, mirai, policy: disclosesMitigation,
            .notPermitted, ["the device does not burden the network"]),
        mitigation(
            "outbound flood, opted out", .outboundFromSubscriber,
            events: [accepted("v3"), event(.optedOut, .mitigateAttack, ms(2026, 3, 1))],
            flood, policy: disclosesMitigation, .notPermitted, ["opted out 2026-03-01"]),
        mitigation(
            "outbound, no subscriber attributed", .outboundFromSubscriber, subscriber: nil, flood, policy: disclosesMitigation,
            .notPermitted, ["no subscriber is attributed"]),
    ]

    static let allRows =
        infectionRows + vulnerabilityRows + sinkholeRows + analysisRows + shareRows + blockRows + mitigationRows

    @Test(arguments: allRows)
    func decisionTable(_ row: Row) {
        let d = LegalBasisEngine(policy: row.policy).decide(row.request, at: Self.now)
        #expect(d.basis == row.basis, "\(row.name): \(d.summary)")
        #expect(d.permitted == (row.basis != .notPermitted))
        #expect(d.action == row.request.action)
        #expect(d.subscriber == row.request.subscriber)
        #expect(!d.reasons.isEmpty)
        for words in row.says {
            #expect(d.reasons.contains { $0.contains(words) }, "\(row.name): expected “\(words)” in \(d.reasons)")
        }
    }

    @Test func everyActionAndEveryBasisHasRows() {
        let actions = Set(Self.allRows.map(\.request.action))
        #expect(actions == Set(LawfulAction.allCases))
        let bases = Set(Self.allRows.map(\.basis))
        #expect(bases == Set(LegalBasis.allCases))
        // Every action has at least one refusal row.
        for a in LawfulAction.allCases {
            #expect(Self.allRows.contains { $0.request.action == a && $0.basis == .notPermitted }, "no refusal row for \(a)")
        }
    }

    @Test func decisionRecordsTheTermsInForce() {
        let d = LegalBasisEngine(policy: Self.policy()).decide(
            .sinkholeDNS(subscriber: Self.subscriber, consent: .none), at: Self.ms(2025, 2, 1))
        #expect(d.termsInForce == "v2")
        #expect(d.decidedAt == Self.ms(2025, 2, 1))
        let before = LegalBasisEngine(policy: Self.policy()).decide(
            .sinkholeDNS(subscriber: Self.subscriber, consent: .none), at: Self.ms(2023, 1, 1))
        #expect(before.termsInForce == nil)
    }
}
