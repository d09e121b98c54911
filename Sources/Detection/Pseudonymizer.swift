import MamoriCore

/// Turns an internal host into a keyed pseudonym (`h:` + 16 hex digits of HMAC-SHA256), so
/// evidence can show that the same host recurs without showing who it is. Without the key the
/// pseudonym cannot be reversed or recomputed; the attribution step (with its audit) is the only
/// way back to an address.
public struct Pseudonymizer: Sendable {
    private let keyed: KeyedPseudonym

    public init(key: [UInt8]) {
        keyed = KeyedPseudonym(key: key)
    }

    public func pseudonym(_ host: InternalHost) -> String {
        keyed.make(prefix: "h:", label: "host|\(host)")
    }
}
