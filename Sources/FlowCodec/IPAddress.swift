/// An IPv4 or IPv6 address held inline (no allocation), as flow records carry them.
///
/// ```swift
/// let a = IPAddress.v4(0xC000_0201)        // 192.0.2.1
/// print(a)                                  // "192.0.2.1"
/// IPAddress("2001:db8::1")?.isIPv6          // true
/// ```
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// First 8 bytes of the address as IPv6 (IPv4 addresses are held IPv4-mapped, `::ffff:a.b.c.d`).
    public var high: UInt64
    /// Last 8 bytes.
    public var low: UInt64

    /// 16 bytes, no tag: IPv4 is stored as an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2), which
    /// keeps flow records small and hashing cheap on the hot path.
    @inlinable init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address given in host byte order.
    @inlinable public static func v4(_ address: UInt32) -> IPAddress {
        IPAddress(high: 0, low: 0x0000_FFFF_0000_0000 | UInt64(address))
    }

    /// An IPv6 address as two 64-bit halves in host byte order (`high` holds the first 8 bytes).
    @inlinable public static func v6(high: UInt64, low: UInt64) -> IPAddress {
        IPAddress(high: high, low: low)
    }

    /// 0.0.0.0, used where a record carries no address.
    public static let unspecifiedV4 = IPAddress.v4(0)

    /// Whether this is an IPv6 address (IPv4-mapped addresses count as IPv4).
    @inlinable public var isIPv6: Bool { !(high == 0 && low >> 32 == 0xFFFF) }

    /// The IPv4 address in host byte order, or `nil` for IPv6.
    @inlinable public var ipv4: UInt32? { isIPv6 ? nil : UInt32(truncatingIfNeeded: low) }

    /// The address as an IPv6 address (IPv4 addresses are mapped to ::ffff:a.b.c.d).
    public var ipv6Halves: (high: UInt64, low: UInt64) { (high, low) }

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
        if let a = ipv4 {
            return [UInt8(a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)]
        }
        return ipv6Bytes
    }

    /// The address as 16 bytes in network order (IPv4 as IPv4-mapped IPv6).
    public var ipv6Bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: high >> UInt64(s))) }
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: low >> UInt64(s))) }
        return out
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
        if let a = ipv4 {
            return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
        }
        let h = high
        let l = low
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
                if e - k > bestLength && e - k >= 2 {
                    bestStart = k
                    bestLength = e - k
                }
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

    /// IPv4 addresses sort before IPv6 ones, then by value.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        let l6 = lhs.isIPv6
        let r6 = rhs.isIPv6
        if l6 != r6 { return !l6 }
        return (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}
