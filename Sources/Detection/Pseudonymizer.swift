import Crypto

/// Turns an internal host into a keyed pseudonym (`h:` + 16 hex digits of HMAC-SHA256), so
/// evidence can show that the same host recurs without showing who it is. Without the key the
/// pseudonym cannot be reversed or recomputed; the attribution step (with its audit) is the only
/// way back to an address.
public struct Pseudonymizer: Sendable {
    private let key: SymmetricKey

    public init(key: [UInt8]) {
        self.key = SymmetricKey(data: key.isEmpty ? [0] : key)
    }

    public func pseudonym(_ host: InternalHost) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("host|\(host)".utf8), using: key)
        var out = "h:"
        for b in mac.prefix(8) {
            let hex = String(b, radix: 16)
            if hex.count == 1 { out += "0" }
            out += hex
        }
        return out
    }
}
