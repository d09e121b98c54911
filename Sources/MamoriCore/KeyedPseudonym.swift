import Crypto

/// A keyed pseudonym: `prefix` + the first 8 bytes of HMAC-SHA256(key, `label`) in hex. The same
/// key and label always give the same pseudonym; without the key it can be neither reversed nor
/// recomputed. Hosts in evidence (`h:`) and subscribers (`s:`) are named this way.
public struct KeyedPseudonym: Sendable {
    private let key: SymmetricKey

    public init(key: [UInt8]) {
        self.key = SymmetricKey(data: key.isEmpty ? [0] : key)
    }

    public func make(prefix: String, label: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: key)
        var out = prefix
        for b in mac.prefix(8) {
            let hex = String(b, radix: 16)
            if hex.count == 1 { out += "0" }
            out += hex
        }
        return out
    }
}
