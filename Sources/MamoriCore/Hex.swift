/// Lower-case hex for digests, keys and tokens, and back. Written here (a few lines) because
/// `String(format: "%02x")` goes through Foundation's formatter once per byte.
extension Sequence<UInt8> {
    /// The bytes as lower-case hex, two digits each.
    public var hexEncoded: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension [UInt8] {
    /// The bytes of a hex string (either case, an even number of digits); nil if it is not one.
    public init?(hex: some StringProtocol) {
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let h = it.next() {
            guard let l = it.next(), let hv = hexDigit(h), let lv = hexDigit(l) else { return nil }
            out.append(hv << 4 | lv)
        }
        self = out
    }
}

private func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: c - 0x30
    case 0x61...0x66: c - 0x61 + 10
    case 0x41...0x46: c - 0x41 + 10
    default: nil
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (not newlines: CSV fields and config values
    /// are trimmed after the line is split).
    public var trimmingSpaces: SubSequence {
        var s = self[...]
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
