import Crypto

/// Turns a subscriber identifier into a keyed pseudonym (`s:` + 16 hex digits of HMAC-SHA256),
/// the only form in which a subscriber appears in findings, logs and the API. The same key gives
/// the same pseudonym, so cases about one subscriber join up; without the key it cannot be
/// reversed or recomputed. The real identifier comes back only through an audited reveal.
public struct SubscriberPseudonymizer: Sendable {
    private let key: SymmetricKey

    public init(key: [UInt8]) {
        self.key = SymmetricKey(data: key.isEmpty ? [0] : key)
    }

    public func pseudonym(_ subscriber: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("subscriber|\(subscriber)".utf8), using: key)
        var out = "s:"
        for b in mac.prefix(8) {
            let hex = String(b, radix: 16)
            if hex.count == 1 { out += "0" }
            out += hex
        }
        return out
    }
}
