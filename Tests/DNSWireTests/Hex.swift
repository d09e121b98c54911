import DNSWire

extension [UInt8] {
    /// Octets from hexadecimal text (two digits an octet, nothing else).
    init(hex: String) {
        let digits = Array(hex.utf8).map { c -> UInt8 in
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: preconditionFailure("not a hexadecimal digit")
            }
        }
        precondition(digits.count % 2 == 0)
        self = stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

/// A name from text that is known to be valid (test literals).
func name(_ text: String) -> DNSName {
    do { return try DNSName(text) } catch { preconditionFailure("\(text): \(error)") }
}
