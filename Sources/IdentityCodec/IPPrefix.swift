import FlowCodec

/// An address prefix such as `2001:db8:100::/56` (RADIUS Framed-IPv6-Prefix and
/// Delegated-IPv6-Prefix, a Kea prefix-delegation lease).
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible {
    /// The prefix with all bits past ``length`` cleared.
    public let address: IPAddress
    /// Prefix length in bits (0–128 for IPv6, 0–32 for IPv4).
    public let length: UInt8

    /// Builds a prefix; bits of `address` past `length` are cleared. Nil when `length` is too long.
    public init?(address: IPAddress, length: UInt8) {
        if address.isIPv6 {
            guard length <= 128 else { return nil }
            let l = Int(length)
            let highMask: UInt64 = l >= 64 ? .max : (l == 0 ? 0 : ~(UInt64.max >> l))
            let lowMask: UInt64 = l <= 64 ? 0 : (l == 128 ? .max : ~(UInt64.max >> (l - 64)))
            self.address = .v6(high: address.high & highMask, low: address.low & lowMask)
        } else {
            guard length <= 32, let v4 = address.ipv4 else { return nil }
            let mask: UInt32 = length == 0 ? 0 : ~(UInt32.max >> UInt32(length))
            self.address = .v4(v4 & mask)
        }
        self.length = length
    }

    /// Parses `2001:db8::/56` or `198.18.0.0/15`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPAddress(parts[0]), let l = UInt8(parts[1]) else { return nil }
        self.init(address: a, length: l)
    }

    public var description: String { "\(address)/\(length)" }

    /// Whether `other` lies inside this prefix.
    public func contains(_ other: IPAddress) -> Bool {
        guard other.isIPv6 == address.isIPv6 else { return false }
        return IPPrefix(address: other, length: length)?.address == address
    }
}
