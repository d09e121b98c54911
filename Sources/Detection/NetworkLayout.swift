import FlowCodec
import MamoriCore

/// A CGNAT pool whose public addresses are split into fixed port blocks, one per subscriber at
/// a time (RFC 7422 deterministic NAT, or port-block allocation with a fixed block size).
///
/// Knowing the layout lets detection tell apart the up to 64 subscribers who share one public
/// address: an internal host behind the pool is (public address, block index).
public struct CGNATPool: Sendable, Hashable {
    /// The public side of the pool.
    public var prefix: IPPrefix
    /// First port of block 0.
    public var firstPort: UInt16
    /// Ports per block.
    public var portsPerBlock: UInt16

    public init(prefix: IPPrefix, firstPort: UInt16 = 1024, portsPerBlock: UInt16) {
        self.prefix = prefix
        self.firstPort = firstPort
        self.portsPerBlock = max(1, portsPerBlock)
    }

    /// The block a port falls in, or nil below the first block (well-known ports are not NATed).
    @inlinable func block(of port: UInt16) -> UInt16? {
        guard port >= firstPort else { return nil }
        return (port - firstPort) / portsPerBlock
    }

    /// The ports of block `index`.
    public func ports(ofBlock index: UInt16) -> ClosedRange<UInt16> {
        let first = Int(firstPort) + Int(index) * Int(portsPerBlock)
        let last = min(Int(UInt16.max), first + Int(portsPerBlock) - 1)
        return UInt16(min(first, Int(UInt16.max)))...UInt16(last)
    }
}

/// One device or household on the subscriber side, as flows let us tell them apart.
///
/// - IPv4 with its own address: the address.
/// - IPv4 behind a known CGNAT pool: the public address and the port block.
/// - IPv6: the /64 (a household's LAN, or a mobile line), since interface identifiers rotate.
public struct InternalHost: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let address: IPAddress
    /// CGNAT port block index, or ``InternalHost/wholeAddress``.
    public let block: UInt16
    /// For hosts behind CGNAT: the ports of the block (a subject for attribution needs them).
    public let ports: ClosedRange<UInt16>?

    public static let wholeAddress = UInt16.max

    public init(address: IPAddress, block: UInt16 = InternalHost.wholeAddress, ports: ClosedRange<UInt16>? = nil) {
        self.address = address
        self.block = block
        self.ports = ports
    }

    public static func == (a: InternalHost, b: InternalHost) -> Bool { a.address == b.address && a.block == b.block }
    public func hash(into h: inout Hasher) {
        h.combine(address)
        h.combine(block)
    }
    public static func < (a: InternalHost, b: InternalHost) -> Bool { (a.address, a.block) < (b.address, b.block) }

    /// A well-mixed 64-bit hash, stable across runs (for sketches and pseudonyms).
    @inlinable var stableHash: UInt64 {
        mix64(address.high ^ mix64(address.low ^ UInt64(block) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// `198.18.0.5`, `198.18.0.5:1024-2031`, or `2001:db8:0:100::/64`.
    public var description: String {
        if let ports { return "\(address):\(ports.lowerBound)-\(ports.upperBound)" }
        if address.isIPv6 { return "\(address)/64" }
        return "\(address)"
    }
}

/// An external service: address, port and IP protocol.
public struct Endpoint: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let address: IPAddress
    public let port: UInt16
    public let ipProtocol: UInt8

    public init(address: IPAddress, port: UInt16, ipProtocol: UInt8) {
        self.address = address
        self.port = port
        self.ipProtocol = ipProtocol
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool { (a.address, a.port, a.ipProtocol) < (b.address, b.port, b.ipProtocol) }

    /// `192.0.2.23:23/tcp`, `[3fff::1]:443/udp`.
    public var description: String {
        let a = address.isIPv6 ? "[\(address)]" : "\(address)"
        return "\(a):\(port)/\(protocolName(ipProtocol))"
    }
}

func protocolName(_ p: UInt8) -> String {
    switch p {
    case 6: "tcp"
    case 17: "udp"
    case 1: "icmp"
    case 58: "icmpv6"
    default: "\(p)"
    }
}

/// Where the carrier's subscribers are. Detection needs it to tell the subscriber side of a
/// flow from the Internet side; nothing is analysed without it.
public struct NetworkLayout: Sendable, Hashable {
    /// Addresses of subscriber lines: public pools, CGNAT pools, IPv6 delegations.
    public var subscriberPrefixes: PrefixSet
    /// The carrier's own infrastructure (resolvers, mail, portals): never an endpoint of
    /// interest and never a subscriber.
    public var infrastructurePrefixes: PrefixSet
    /// CGNAT pools with a fixed block layout (inside `subscriberPrefixes`).
    public var cgnatPools: [CGNATPool]
    /// Special-purpose space (documentation, benchmarking, reserved) that plays the Internet in a
    /// laboratory or a simulator — `mamori simulate`'s world lives in TEST-NETs, 240.0.0.0/4 and
    /// 3fff::/20. Empty for a real network: there a remote address in any
    /// ``SpecialPurposeAddress`` range is not a host on the Internet, and flows to or from it
    /// are not analysed (multicast, broadcast, link-local, private, documentation…).
    public var laboratoryInternet: PrefixSet

    public init(
        subscriberPrefixes: [IPPrefix], infrastructurePrefixes: [IPPrefix] = [], cgnatPools: [CGNATPool] = [],
        laboratoryInternet: [IPPrefix] = []
    ) {
        self.subscriberPrefixes = PrefixSet(subscriberPrefixes)
        self.infrastructurePrefixes = PrefixSet(infrastructurePrefixes)
        self.cgnatPools = cgnatPools
        self.laboratoryInternet = PrefixSet(laboratoryInternet)
    }

    /// Which way a flow crosses the carrier's edge.
    public enum Crossing: Sendable, Hashable {
        /// Subscriber → Internet.
        case outbound(host: InternalHost, remote: IPAddress, localPort: UInt16, remotePort: UInt16)
        /// Internet → subscriber.
        case inbound(host: InternalHost, remote: IPAddress, localPort: UInt16, remotePort: UInt16)
        /// Both ends inside (subscriber ↔ resolver), transit, or infrastructure: not analysed.
        case other
        /// A subscriber with a remote address that is no host on the Internet (multicast,
        /// broadcast, link-local, private, documentation…: ``SpecialPurposeAddress``): not analysed.
        case specialPurpose
    }

    @inlinable public func isSubscriber(_ a: IPAddress) -> Bool {
        subscriberPrefixes.contains(a) && !infrastructurePrefixes.contains(a)
    }

    /// Classifies one flow record.
    public func crossing(of r: FlowRecord) -> Crossing {
        switch (side(of: r.sourceAddress), side(of: r.destinationAddress)) {
        case (.subscriber, .outside):
            isInternet(r.destinationAddress)
                ? .outbound(
                    host: host(r.sourceAddress, port: r.sourcePort), remote: r.destinationAddress, localPort: r.sourcePort,
                    remotePort: r.destinationPort)
                : .specialPurpose
        case (.outside, .subscriber):
            isInternet(r.sourceAddress)
                ? .inbound(
                    host: host(r.destinationAddress, port: r.destinationPort), remote: r.sourceAddress, localPort: r.destinationPort,
                    remotePort: r.sourcePort)
                : .specialPurpose
        default:
            .other
        }
    }

    /// Whether a remote address can be a host on the Internet.
    @inlinable public func isInternet(_ a: IPAddress) -> Bool {
        !SpecialPurposeAddress.contains(a) || (!laboratoryInternet.isEmpty && laboratoryInternet.contains(a))
    }

    private enum Side { case subscriber, infrastructure, outside }

    /// Each address is looked up once per record: infrastructure first (it may sit inside the
    /// subscriber space), then the subscriber space.
    private func side(of a: IPAddress) -> Side {
        if infrastructurePrefixes.contains(a) { return .infrastructure }
        return subscriberPrefixes.contains(a) ? .subscriber : .outside
    }

    /// How many subscribers can share an address: the port blocks of its CGNAT pool, else 1.
    public func sharing(_ address: IPAddress) -> Int {
        for pool in cgnatPools where pool.prefix.contains(address) {
            return max(1, (65_536 - Int(pool.firstPort)) / Int(pool.portsPerBlock))
        }
        return 1
    }

    /// The internal host for a subscriber-side address and port.
    public func host(_ address: IPAddress, port: UInt16) -> InternalHost {
        if address.isIPv6 {
            return InternalHost(address: .v6(high: address.high, low: 0))
        }
        for pool in cgnatPools where pool.prefix.contains(address) {
            if let b = pool.block(of: port) { return InternalHost(address: address, block: b, ports: pool.ports(ofBlock: b)) }
        }
        return InternalHost(address: address)
    }
}

/// SplitMix64's finaliser: a fast, well-distributed 64-bit mix.
@inlinable @usableFromInline func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
