/// An IPv4 or IPv6 address held inline (no allocation), as flow records carry them.
///
/// ```swift
/// let a = IPAddress.v4(0xC000_0201)        // 192.0.2.1
/// print(a)                                  // "192.0.2.1"
/// IPAddress("2001:db8::1")?.isIPv6          // true
/// ```
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// An IPv4 address in host byte order.
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves in host byte order (`high` holds the first 8 bytes).
    case v6(high: UInt64, low: UInt64)

    /// 0.0.0.0, used where a record carries no address.
    public static let unspecifiedV4 = IPAddress.v4(0)

    public var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }

    /// The address as an IPv6 address (IPv4 addresses are mapped to ::ffff:a.b.c.d).
    public var ipv6Halves: (high: UInt64, low: UInt64) {
        switch self {
        case .v4(let a): return (0, 0x0000_FFFF_0000_0000 | UInt64(a))
        case .v6(let h, let l): return (h, l)
        }
    }

    /// Builds an address from 4 or 16 bytes in network order; `nil` for any other length.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            var v: UInt32 = 0
            for b in bytes { v = v << 8 | UInt32(b) }
            self = .v4(v)
        case 16:
            var h: UInt64 = 0
            var l: UInt64 = 0
            for (i, b) in bytes.enumerated() {
                if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            }
            self = .v6(high: h, low: l)
        default:
            return nil
        }
    }

    /// The address in network byte order (4 or 16 bytes).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a):
            return [UInt8(a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)]
        case .v6(let h, let l):
            var out = [UInt8]()
            out.reserveCapacity(16)
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: h >> UInt64(s))) }
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: l >> UInt64(s))) }
            return out
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 text IPv6 (with `::` compression and an optional
    /// embedded IPv4 tail). Hand-written because Foundation's `inet_pton` is not available without
    /// Glibc in this I/O-free module.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        if !s.contains(":") {
            guard let v = IPAddress.parseV4(Substring(s)) else { return nil }
            self = .v4(v)
            return
        }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3 || s == "::" || parts.count >= 2 else { return nil }
        var i = 0
        var groups: [Substring] = Array(parts)
        // Leading or trailing "::" produce empty parts; normalise them.
        if groups.first == "" && groups.count > 1 && groups[1] == "" { groups.removeFirst() }
        if groups.last == "" && groups.count > 1 && groups[groups.count - 2] == "" { groups.removeLast() }
        while i < groups.count {
            let g = groups[i]
            if g.isEmpty {
                if sawGap { return nil }
                sawGap = true
            } else if g.contains(".") {
                guard i == groups.count - 1, let v4 = IPAddress.parseV4(g) else { return nil }
                let hi = UInt16(v4 >> 16)
                let lo = UInt16(truncatingIfNeeded: v4)
                if sawGap { tail += [hi, lo] } else { head += [hi, lo] }
            } else {
                guard g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                if sawGap { tail.append(v) } else { head.append(v) }
            }
            i += 1
        }
        let total = head.count + tail.count
        guard sawGap ? total <= 7 : total == 8 else { return nil }
        let words = head + Array(repeating: 0, count: 8 - total) + tail
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (k, w) in words.enumerated() {
            if k < 4 { h = h << 16 | UInt64(w) } else { l = l << 16 | UInt64(w) }
        }
        self = .v6(high: h, low: l)
    }

    private static func parseV4(_ s: Substring) -> UInt32? {
        let octets = s.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var v: UInt32 = 0
        for o in octets {
            guard !o.isEmpty, o.count <= 3, let n = UInt8(o) else { return nil }
            v = v << 8 | UInt32(n)
        }
        return v
    }

    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
        case .v6(let h, let l):
            if h == 0 && (l >> 32) == 0xFFFF {
                return "::ffff:" + IPAddress.v4(UInt32(truncatingIfNeeded: l)).description
            }
            let words: [UInt16] = (0..<8).map { k in
                let half = k < 4 ? h : l
                return UInt16(truncatingIfNeeded: half >> UInt64(48 - 16 * (k % 4)))
            }
            // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on ties.
            var bestStart = -1
            var bestLength = 0
            var k = 0
            while k < 8 {
                if words[k] == 0 {
                    var e = k
                    while e < 8 && words[e] == 0 { e += 1 }
                    if e - k > bestLength && e - k >= 2 { bestStart = k; bestLength = e - k }
                    k = e
                } else {
                    k += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                range.map { String(words[$0], radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case (.v6(let ah, let al), .v6(let bh, let bl)): return (ah, al) < (bh, bl)
        }
    }
}
