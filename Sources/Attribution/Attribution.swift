import FlowCodec
import MamoriCore

/// The answer to "who held this address (and port) at this time?", with its evidence.
///
/// The subscriber is the carrier's own identifier (RADIUS User-Name, the account in a DHCP
/// lease's user context, a static assignment's customer id). It is personal data: outside the
/// attribution module it is shown only as a pseudonym (``SubscriberPseudonymizer``) unless an
/// audited reveal asks for it.
public struct Attribution: Sendable, Hashable {
    /// The outcome type is the core's, shared with findings and cases.
    public typealias Outcome = AttributionOutcome

    public var outcome: Outcome
    /// The subscriber, when ``outcome`` is ``Outcome/attributed``.
    public var subscriber: String?
    /// 0…1: how sure the answer is (see ``AttributionIndex`` for the rules); 0 unless attributed.
    public var confidence: Double
    /// The answer in words, for analysts and audit.
    public var reason: String
    /// Every claim that covered the time, strongest first.
    public var evidence: [AttributionEvidence]

    public init(outcome: Outcome, subscriber: String?, confidence: Double, reason: String, evidence: [AttributionEvidence]) {
        self.outcome = outcome
        self.subscriber = subscriber
        self.confidence = confidence
        self.reason = reason
        self.evidence = evidence
    }

    /// The distinct subscribers the evidence names, in evidence order.
    public var candidates: [String] {
        var seen = Set<String>()
        return evidence.compactMap { e in e.subscriber.flatMap { seen.insert($0).inserted ? $0 : nil } }
    }
}

/// One claim behind an answer: which source said what, for which interval.
public struct AttributionEvidence: Sendable, Hashable {
    public var source: AttributionSource
    /// The subscriber this claim (or, behind a CGNAT, the claim on the inside address) names;
    /// `nil` when a CGNAT translation leads to an inside address nobody is known to hold.
    public var subscriber: String?
    /// What the claim covers: `198.18.0.7`, `2001:db8:100::/56`, `198.18.0.0:1024-2031`.
    public var matched: String
    /// Behind a CGNAT: the inside (pre-NAT) address the public address and port led to.
    public var insideAddress: IPAddress?
    /// The claim's interval, ms since the Unix epoch; `heldUntil` is nil while it is open.
    public var heldFrom: Int64
    public var heldUntil: Int64?
    /// The start is not known; `heldFrom` is the earliest the source could have begun.
    public var startInferred: Bool
    /// The end was inferred (the next claim on the address began, or the claim went silent).
    public var endInferred: Bool
    /// The time lies outside the claim itself but within the clock-skew allowance.
    public var withinSkewOnly: Bool
    /// This claim's own confidence (before combining).
    public var confidence: Double

    public init(
        source: AttributionSource, subscriber: String?, matched: String, insideAddress: IPAddress? = nil,
        heldFrom: Int64, heldUntil: Int64?, startInferred: Bool = false, endInferred: Bool = false,
        withinSkewOnly: Bool = false, confidence: Double
    ) {
        self.source = source
        self.subscriber = subscriber
        self.matched = matched
        self.insideAddress = insideAddress
        self.heldFrom = heldFrom
        self.heldUntil = heldUntil
        self.startInferred = startInferred
        self.endInferred = endInferred
        self.withinSkewOnly = withinSkewOnly
        self.confidence = confidence
    }
}
