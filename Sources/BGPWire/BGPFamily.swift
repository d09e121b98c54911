import FlowCodec

/// An address family and subsequent address family (RFC 4760): what an UPDATE's routes are.
/// Mamori speaks four: IPv4 and IPv6 unicast (for RTBH) and FlowSpec for each (RFC 8955, 8956).
public struct BGPFamily: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Address Family Identifier: 1 IPv4, 2 IPv6.
    public var afi: UInt16
    /// Subsequent AFI: 1 unicast, 133 flow specification.
    public var safi: UInt8

    public init(afi: UInt16, safi: UInt8) {
        self.afi = afi
        self.safi = safi
    }

    public static let ipv4Unicast = BGPFamily(afi: 1, safi: 1)
    public static let ipv6Unicast = BGPFamily(afi: 2, safi: 1)
    public static let ipv4FlowSpec = BGPFamily(afi: 1, safi: 133)
    public static let ipv6FlowSpec = BGPFamily(afi: 2, safi: 133)
    /// The families Mamori announces, in the order it sends End-of-RIB for them.
    public static let supported: [BGPFamily] = [.ipv4Unicast, .ipv6Unicast, .ipv4FlowSpec, .ipv6FlowSpec]

    public var isIPv6: Bool { afi == 2 }
    public var isFlowSpec: Bool { safi == 133 }

    public var description: String {
        switch self {
        case .ipv4Unicast: "ipv4-unicast"
        case .ipv6Unicast: "ipv6-unicast"
        case .ipv4FlowSpec: "ipv4-flowspec"
        case .ipv6FlowSpec: "ipv6-flowspec"
        default: "afi \(afi)/safi \(safi)"
        }
    }

    public static func < (a: BGPFamily, b: BGPFamily) -> Bool { (a.afi, a.safi) < (b.afi, b.safi) }
}

/// A BGP community (RFC 1997): two 16-bit halves, written `high:low`.
public struct BGPCommunity: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }
    public init(_ high: UInt16, _ low: UInt16) { value = UInt32(high) << 16 | UInt32(low) }

    /// `65535:666` or a well-known name (`no-export`, `no-advertise`, `blackhole`).
    public init?(_ text: some StringProtocol) {
        switch text.lowercased() {
        case "no-export", "no_export": self = .noExport
        case "no-advertise", "no_advertise": self = .noAdvertise
        case "blackhole": self = .blackhole
        default:
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let h = UInt16(parts[0]), let l = UInt16(parts[1]) else { return nil }
            self.init(h, l)
        }
    }

    /// BLACKHOLE (RFC 7999): drop traffic to this prefix.
    public static let blackhole = BGPCommunity(65535, 666)
    /// NO_EXPORT (RFC 1997): not beyond this AS (or confederation).
    public static let noExport = BGPCommunity(0xFFFF_FF01)
    /// NO_ADVERTISE (RFC 1997): to no other peer.
    public static let noAdvertise = BGPCommunity(0xFFFF_FF02)

    public var description: String { "\(value >> 16):\(value & 0xFFFF)" }
    public static func < (a: BGPCommunity, b: BGPCommunity) -> Bool { a.value < b.value }
}

/// A BGP extended community (RFC 4360): eight octets, the first one or two giving its type.
/// FlowSpec actions are extended communities (RFC 8955 §7).
public struct BGPExtendedCommunity: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// traffic-rate-bytes (type 0x80, sub-type 0x06): limit the matching traffic to
    /// `bytesPerSecond` (an IEEE 754 single); 0 means discard it all. `asn` is informational.
    public static func trafficRate(bytesPerSecond: Float, asn: UInt16 = 0) -> BGPExtendedCommunity {
        BGPExtendedCommunity(0x8006 << 48 | UInt64(asn) << 32 | UInt64(bytesPerSecond.bitPattern))
    }

    /// The rate of a traffic-rate-bytes community, nil for any other.
    public var trafficRateBytesPerSecond: Float? {
        value >> 48 == 0x8006 ? Float(bitPattern: UInt32(truncatingIfNeeded: value)) : nil
    }

    public var description: String {
        if let rate = trafficRateBytesPerSecond { return rate == 0 ? "traffic-rate:discard" : "traffic-rate:\(rate)B/s" }
        let hex = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func < (a: BGPExtendedCommunity, b: BGPExtendedCommunity) -> Bool { a.value < b.value }
}

/// A large community (RFC 8092): global administrator (an AS number) and two local values.
public struct BGPLargeCommunity: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var global: UInt32
    public var local1: UInt32
    public var local2: UInt32

    public init(_ global: UInt32, _ local1: UInt32, _ local2: UInt32) {
        self.global = global
        self.local1 = local1
        self.local2 = local2
    }

    /// `global:local1:local2`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let g = UInt32(parts[0]), let a = UInt32(parts[1]), let b = UInt32(parts[2]) else { return nil }
        self.init(g, a, b)
    }

    public var description: String { "\(global):\(local1):\(local2)" }
    public static func < (a: BGPLargeCommunity, b: BGPLargeCommunity) -> Bool {
        (a.global, a.local1, a.local2) < (b.global, b.local1, b.local2)
    }
}
