import MamoriCore

/// Turns a subscriber identifier into a keyed pseudonym (`s:` + 16 hex digits of HMAC-SHA256),
/// the only form in which a subscriber appears in findings, logs and the API. The same key gives
/// the same pseudonym, so cases about one subscriber join up; without the key it cannot be
/// reversed or recomputed. The real identifier comes back only through an audited reveal.
public struct SubscriberPseudonymizer: Sendable {
    private let keyed: KeyedPseudonym

    public init(key: [UInt8]) {
        keyed = KeyedPseudonym(key: key)
    }

    public func pseudonym(_ subscriber: String) -> String {
        keyed.make(prefix: "s:", label: "subscriber|\(subscriber)")
    }
}
