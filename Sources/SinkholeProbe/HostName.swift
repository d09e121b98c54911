/// DNS host names as the sinkhole reports them.
public enum HostName {
    /// The longest name, in characters, without the trailing dot (RFC 1035 §2.3.4: 255 octets on
    /// the wire).
    public static let maximumLength = 253
    /// The longest label.
    public static let maximumLabelLength = 63

    /// `bytes` as a DNS name: lower-cased, one trailing dot removed, at most 253 characters,
    /// labels of 1–63 letters, digits, `-` or `_`. Nil for anything else (empty, the root alone,
    /// empty labels, other characters).
    public static func normalise(_ bytes: some Collection<UInt8>) -> String? {
        guard !bytes.isEmpty, bytes.count <= maximumLength + 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var label = 0
        for b in bytes {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.append(b)
                label += 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                out.append(b | 0x20)
                label += 1
            case UInt8(ascii: "."):
                guard label > 0 else { return nil }
                out.append(b)
                label = 0
            default:
                return nil
            }
            guard label <= maximumLabelLength else { return nil }
        }
        if out.last == UInt8(ascii: ".") { out.removeLast() }
        guard !out.isEmpty, out.count <= maximumLength, out.last != UInt8(ascii: ".") else { return nil }
        return String(decoding: out, as: UTF8.self)
    }
}
