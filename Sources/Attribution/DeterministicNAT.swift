import FlowCodec

/// A deterministic CGNAT pool (RFC 7422): every inside address gets a fixed block of ports on a
/// fixed public address, so the pool's configuration alone maps (public address, port) back to
/// the inside address — no per-allocation log needed.
///
/// The mapping is the one Juniper documents for deterministic NAPT44 ("Understanding the
/// Deterministic NAPT Algorithm": `Pr_Port_Offset = (inside − base_inside) × block_size`, public
/// address `base_public + ⌊offset / ports_per_address⌋`, first port `first_port + offset mod
/// ports_per_address`), with whole blocks per public address: when the block size does not divide
/// the ports per address, the remainder of each address is left unused rather than a block
/// straddling two addresses. Offsets count from the inside prefix's first address (Junos
/// `include-boundary-addresses`).
///
/// ```swift
/// let pool = try DeterministicNAT(inside: IPPrefix("100.64.0.0/20")!, outside: IPPrefix("198.51.100.0/28")!, portsPerSubscriber: 4032)
/// pool.block(of: IPAddress("100.64.0.17")!)   // (198.51.100.1, 5056...9087)
/// ```
public struct DeterministicNAT: Sendable, Hashable {
    public let inside: IPPrefix
    public let outside: IPPrefix
    public let portsPerSubscriber: Int
    /// The lowest port handed out (1024 by default: the well-known ports are not translated).
    public let firstPort: Int
    /// When this layout came into force and when it was replaced, ms (nil: always).
    public var validFrom: Int64?
    public var validUntil: Int64?

    public struct ConfigurationError: Error, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// Checks that the pool is IPv4 (NAT44) and has room: every inside address needs a block.
    public init(
        inside: IPPrefix, outside: IPPrefix, portsPerSubscriber: Int, firstPort: Int = 1024, validFrom: Int64? = nil,
        validUntil: Int64? = nil
    ) throws(ConfigurationError) {
        guard inside.isIPv4, outside.isIPv4 else {
            throw ConfigurationError(description: "deterministic NAT: inside and outside must be IPv4 prefixes (NAT44)")
        }
        guard (1...65535).contains(firstPort) else {
            throw ConfigurationError(description: "deterministic NAT: first port \(firstPort) is not 1–65535")
        }
        guard (1...(65536 - firstPort)).contains(portsPerSubscriber) else {
            throw ConfigurationError(
                description: "deterministic NAT: \(portsPerSubscriber) ports per subscriber do not fit between port \(firstPort) and 65535")
        }
        self.inside = inside
        self.outside = outside
        self.portsPerSubscriber = portsPerSubscriber
        self.firstPort = firstPort
        self.validFrom = validFrom
        self.validUntil = validUntil
        let needed = UInt64(1) << UInt64(32 - inside.length)
        let room = (UInt64(1) << UInt64(32 - outside.length)) * UInt64(blocksPerAddress)
        guard needed <= room else {
            throw ConfigurationError(
                description:
                    "deterministic NAT: \(inside) has \(needed) addresses but \(outside) holds only \(room) blocks of \(portsPerSubscriber) ports"
            )
        }
    }

    /// Blocks on each public address.
    public var blocksPerAddress: Int { (65536 - firstPort) / portsPerSubscriber }

    public func isValid(at time: Int64) -> Bool {
        (validFrom ?? .min) <= time && time < (validUntil ?? .max)
    }

    /// The public address and port block of `insideAddress`, or nil outside the inside prefix.
    public func block(of insideAddress: IPAddress) -> (outside: IPAddress, ports: ClosedRange<UInt16>)? {
        guard inside.contains(insideAddress), let a = insideAddress.ipv4, let base = inside.network.ipv4,
            let publicBase = outside.network.ipv4
        else { return nil }
        let offset = Int(a - base)
        let address = publicBase + UInt32(offset / blocksPerAddress)
        let first = firstPort + (offset % blocksPerAddress) * portsPerSubscriber
        return (.v4(address), UInt16(first)...UInt16(first + portsPerSubscriber - 1))
    }

    /// The inside address that uses `port` on public `address`, or nil when the pair is outside the
    /// pool (another prefix, a well-known port, the unused tail of an address, no such inside address).
    public func insideAddress(for address: IPAddress, port: UInt16) -> IPAddress? {
        guard outside.contains(address), let a = address.ipv4, let publicBase = outside.network.ipv4, let base = inside.network.ipv4,
            Int(port) >= firstPort
        else { return nil }
        let block = (Int(port) - firstPort) / portsPerSubscriber
        guard block < blocksPerAddress else { return nil }
        let offset = UInt64(a - publicBase) * UInt64(blocksPerAddress) + UInt64(block)
        guard offset < UInt64(1) << UInt64(32 - inside.length) else { return nil }
        return .v4(base + UInt32(offset))
    }
}
