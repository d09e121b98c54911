/// A zone's SOA serial number with RFC 1982 serial number arithmetic (SERIAL_BITS = 32).
///
/// `s1 < s2` holds when s2 is ahead of s1 by 1 … 2³¹−1 steps, wrapping. Two serials exactly
/// 2³¹ apart are neither less nor greater than each other (the comparison is undefined there):
/// `<` and `>` are both false, and `compare` returns nil. So `DNSSerial` is not `Comparable`:
/// it cannot be sorted.
public struct DNSSerial: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }

    /// The serial after this one: +1 wrapping at 2³², skipping 0 (which some software takes
    /// for "no serial"), so `DNSSerial(0xFFFF_FFFF).next` is 1.
    public var next: DNSSerial {
        let n = rawValue &+ 1
        return DNSSerial(n == 0 ? 1 : n)
    }

    /// This serial plus `n` (0 … 2³¹−1, RFC 1982 §3.1), wrapping.
    public func adding(_ n: UInt32) -> DNSSerial {
        precondition(n <= 0x7FFF_FFFF, "RFC 1982 addition is defined for 0 … 2^31-1 only")
        return DNSSerial(rawValue &+ n)
    }

    /// -1, 0 or 1 as `self` is before, equal to or after `other`; nil when they are exactly
    /// 2³¹ apart (undefined in RFC 1982).
    public func compare(_ other: DNSSerial) -> Int? {
        if rawValue == other.rawValue { return 0 }
        let d = other.rawValue &- rawValue
        if d == 0x8000_0000 { return nil }
        return d < 0x8000_0000 ? -1 : 1
    }

    /// Whether `lhs` is before `rhs` (false also where the order is undefined).
    public static func < (lhs: DNSSerial, rhs: DNSSerial) -> Bool { lhs.compare(rhs) == -1 }
    /// Whether `lhs` is after `rhs` (false also where the order is undefined).
    public static func > (lhs: DNSSerial, rhs: DNSSerial) -> Bool { lhs.compare(rhs) == 1 }

    public var description: String { String(rawValue) }
}
