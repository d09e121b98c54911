import FlowCodec
import MamoriCore

/// An attribution answer as the API and `mamori whois` show it: identifiers as pseudonyms.
public struct AttributionAnswer: Sendable, Hashable, Codable {
    public struct Evidence: Sendable, Hashable, Codable {
        public var source: String
        public var subscriber: String?
        public var matched: String
        public var insideAddress: String?
        public var heldFrom: Int64
        public var heldUntil: Int64?
        public var startInferred: Bool
        public var endInferred: Bool
        public var withinSkewOnly: Bool
        public var confidence: Double

        enum CodingKeys: String, CodingKey {
            case source, subscriber, matched, confidence
            case insideAddress = "inside_address"
            case heldFrom = "held_from"
            case heldUntil = "held_until"
            case startInferred = "start_inferred"
            case endInferred = "end_inferred"
            case withinSkewOnly = "within_skew_only"
        }
    }

    public var outcome: String
    public var subscriber: String?
    public var candidates: [String]
    public var confidence: Double
    public var reason: String
    public var evidence: [Evidence]

    public init(_ a: Attribution, pseudonymizer: SubscriberPseudonymizer) {
        outcome = a.outcome.rawValue
        subscriber = a.subscriber.map(pseudonymizer.pseudonym)
        candidates = a.outcome == .ambiguous ? a.candidates.map(pseudonymizer.pseudonym) : []
        confidence = a.confidence
        reason = a.reason
        evidence = a.evidence.map { e in
            Evidence(
                source: e.source.description, subscriber: e.subscriber.map(pseudonymizer.pseudonym), matched: e.matched,
                insideAddress: e.insideAddress.map { "\($0)" }, heldFrom: e.heldFrom == .min ? 0 : e.heldFrom, heldUntil: e.heldUntil,
                startInferred: e.startInferred, endInferred: e.endInferred, withinSkewOnly: e.withinSkewOnly, confidence: e.confidence)
        }
    }
}
