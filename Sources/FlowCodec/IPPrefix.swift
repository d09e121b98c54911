/// An IPv4 or IPv6 prefix such as `100.64.0.0/10` or `2001:db8::/32`: subscriber address
/// space, a CGNAT pool, a RADIUS Framed-/Delegated-IPv6-Prefix, a Kea prefix delegation.
///
/// IPv4 prefixes are kept in the IPv4-mapped space of ``IPAddress`` (length + 96), so one
/// `contains` serves both families and an IPv4 prefix never matches an IPv6 address.
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The network address (host bits zero).
    public let network: IPAddress
    /// Prefix length in the 128-bit space (IPv4 /n is stored as 96 + n).
    public let storedLength: Int

    /// The prefix of `length` bits (0–32 for IPv4, 0–128 for IPv6) around `address`.
    public init?(address: IPAddress, length: Int) {
        let max = address.isIPv6 ? 128 : 32
        guard (0...max).contains(length) else { return nil }
        storedLength = address.isIPv6 ? length : length + 96
        network = Self.mask(address, storedLength)
    }

    /// Parses `a.b.c.d/n`, `x::/n`, or a bare address (a host prefix).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        if parts.count == 1 {
            self.init(address: address, length: address.isIPv6 ? 128 : 32)
        } else {
            guard let length = Int(parts[1]) else { return nil }
            self.init(address: address, length: length)
        }
    }

    /// Whether this is an IPv4 prefix.
    public var isIPv4: Bool { storedLength >= 96 && !network.isIPv6 }
    /// The length as written (0–32 for IPv4).
    public var length: Int { isIPv4 ? storedLength - 96 : storedLength }

    @inlinable public func contains(_ address: IPAddress) -> Bool {
        Self.mask(address, storedLength) == network
    }

    public var description: String { "\(network)/\(length)" }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.network, lhs.storedLength) < (rhs.network, rhs.storedLength)
    }

    @usableFromInline static func mask(_ a: IPAddress, _ bits: Int) -> IPAddress {
        let high: UInt64 = bits >= 64 ? a.high : bits == 0 ? 0 : a.high & ~(UInt64.max >> UInt64(bits))
        let low: UInt64 = bits <= 64 ? 0 : bits >= 128 ? a.low : a.low & ~(UInt64.max >> UInt64(bits - 64))
        return IPAddress.v6(high: high, low: low)
    }
}
