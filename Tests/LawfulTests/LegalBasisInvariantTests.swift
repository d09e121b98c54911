import Testing

@testable import Lawful

/// Every combination of consent history, evidence, policy and subscriber action, checked against
/// the rules of the legal frame stated independently of the engine's route order.
@Suite struct LegalBasisInvariantTests {
    typealias T = LegalBasisEngineTests

    static let termsChoices: [String?] = [nil, "v1", "v2", "v3", "v9"]
    enum Individual: CaseIterable { case none, given, withdrawn }
    enum OptOut: CaseIterable { case none, optedOut, cancelled }
    static let evidence: [InfectionEvidence] = [
        T.noGround, T.flood, T.weakFlood, T.bitFlood, T.scan, T.slowScan, T.fault, T.mirai, T.miraiOnce, T.unlisted,
    ]
    static let policies: [LawfulPolicy] = [
        T.policy(), T.policy(honourOptOut: false), T.policy(v3Observation: nil), T.policy(sinkholeOptOut: ""),
        T.policy(v3Discloses: []), T.policy(dropV3: true), LawfulPolicy(),
    ]

    static func events(_ terms: String?, _ individual: Individual, _ optOut: OptOut, _ action: LawfulAction) -> [ConsentEvent] {
        var e: [ConsentEvent] = []
        if let terms { e.append(T.accepted(terms, T.ms(2025, 5, 1))) }
        switch individual {
        case .none: break
        case .given: e.append(T.event(.consentGiven, action, T.ms(2025, 6, 1)))
        case .withdrawn: e += [T.event(.consentGiven, action, T.ms(2025, 6, 1)), T.event(.consentWithdrawn, action, T.ms(2025, 7, 1))]
        }
        switch optOut {
        case .none: break
        case .optedOut: e.append(T.event(.optedOut, action, T.ms(2025, 8, 1)))
        case .cancelled: e += [T.event(.optedOut, action, T.ms(2025, 8, 1)), T.event(.optOutCancelled, action, T.ms(2025, 9, 1))]
        }
        return e
    }

    /// Whether the evidence meets a legitimate-business ground under the default thresholds.
    static func burdens(_ e: InfectionEvidence) -> Bool {
        (e.attackPacketsPerSecond ?? 0) >= 10_000 || (e.attackBitsPerSecond ?? 0) >= 100_000_000
            || (e.scanDestinationsPerMinute ?? 0) >= 300 || e.priorNetworkFault != nil
            || e.commandAndControl.contains { ["mirai"].contains($0.family?.lowercased() ?? "") && $0.contacts >= 3 }
    }

    @Test func everyCombinationObeysTheLegalFrame() {
        var counts: [LegalBasis: Int] = [:]
        var combinations = 0
        for policy in Self.policies {
            let engine = LegalBasisEngine(policy: policy)
            let inForce = policy.termsInForce(at: T.now)
            for action in [LawfulAction.warnInfection, .warnVulnerability, .sinkholeDNS] {
                for terms in Self.termsChoices {
                    for individual in Individual.allCases {
                        for optOut in OptOut.allCases {
                            let state = ConsentState(events: Self.events(terms, individual, optOut, action), at: T.now)
                            let evidenceCases: [InfectionEvidence] = action == .warnInfection ? Self.evidence : [T.noGround]
                            for e in evidenceCases {
                                combinations += 1
                                let request: ActionRequest =
                                    switch action {
                                    case .warnInfection: .warnInfection(subscriber: T.subscriber, consent: state, evidence: e)
                                    case .warnVulnerability: .warnVulnerability(subscriber: T.subscriber, consent: state, report: T.report)
                                    default: .sinkholeDNS(subscriber: T.subscriber, consent: state)
                                    }
                                let d = engine.decide(request, at: T.now)
                                counts[d.basis, default: 0] += 1
                                let context = "\(action) terms=\(terms ?? "-") individual=\(individual) optOut=\(optOut) → \(d.summary)"
                                let refused = optOut == .optedOut || individual == .withdrawn
                                let acceptedTerms = terms.flatMap { policy.terms(version: $0) }

                                #expect(d.permitted == (d.basis != .notPermitted), "\(context)")
                                #expect(!d.reasons.isEmpty, "\(context)")
                                // Individual consent in force always wins. An opt-out ends it, and cancelling the
                                // opt-out later does not bring it back.
                                let individualInForce = individual == .given && optOut == .none
                                #expect((d.basis == .individualConsent) == individualInForce, "\(context)")
                                // Comprehensive consent needs accepted terms that disclose the action and no refusal.
                                if d.basis == .comprehensiveConsent {
                                    #expect(acceptedTerms?.discloses.contains(action) == true, "\(context)")
                                    #expect(!refused, "\(context)")
                                }
                                // A refusal closes every consent route; the legitimate route too when the policy says so.
                                if refused && policy.legitimateBusiness.honourOptOut {
                                    #expect(!d.permitted, "\(context)")
                                }
                                // The legitimate business act needs the terms in force to disclose the action,
                                // and for infections a ground (burden, fault, repeated qualifying C&C contact).
                                if d.basis == .legitimateBusinessAct {
                                    #expect(inForce?.discloses.contains(action) == true, "\(context)")
                                    if action == .warnInfection { #expect(Self.burdens(e), "\(context)") }
                                }
                                // Blocking never rests on the legitimate-business route.
                                if action == .sinkholeDNS { #expect(d.basis != .legitimateBusinessAct, "\(context)") }
                                // Nothing but these bases can answer a subscriber action.
                                #expect(
                                    [.individualConsent, .comprehensiveConsent, .legitimateBusinessAct, .notPermitted].contains(d.basis),
                                    "\(context)")
                                // Adding a burden to refused evidence never makes things worse, and is enough on an
                                // open legitimate route.
                                if action == .warnInfection && !Self.burdens(e) {
                                    var worse = e
                                    worse.attackPacketsPerSecond = 500_000
                                    let d2 = engine.decide(
                                        .warnInfection(subscriber: T.subscriber, consent: state, evidence: worse), at: T.now)
                                    if d.permitted { #expect(d2.permitted, "\(context)") }
                                    if inForce?.discloses.contains(.warnInfection) == true
                                        && !(refused && policy.legitimateBusiness.honourOptOut)
                                    {
                                        #expect(d2.permitted, "\(context) with a flood")
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(combinations == 7 * 5 * 3 * 3 * (10 + 1 + 1))
        // Every subscriber basis occurs somewhere in the table.
        for b in [LegalBasis.individualConsent, .comprehensiveConsent, .legitimateBusinessAct, .notPermitted] {
            #expect((counts[b] ?? 0) > 0, "no combination decided \(b)")
        }
    }
}
