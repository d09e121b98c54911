import FlowCodec

/// Addresses that are never a host on the Internet: multicast, broadcast, link-local, loopback,
/// private, shared, documentation, benchmarking and reserved space — the IANA IPv4 and IPv6
/// Special-Purpose Address Registries (RFC 6890 and its updates) entries whose "Globally
/// Reachable" is false, plus the multicast ranges (RFC 5771, RFC 4291 §2.7).
///
/// No C&C server, scan target or flood victim across a carrier's edge can have one of these
/// addresses, so detection never names one as such: SSDP to 239.255.255.250, mDNS to
/// 224.0.0.251 or ff02::fb, IGMP, DHCP broadcasts and a LAN's own chatter are not contacts with
/// an external service however periodic they are. (A lab or a simulator that plays the Internet
/// in documentation space says so with ``NetworkLayout/laboratoryInternet``.)
///
/// Hand-written as a few comparisons on the address's integer form rather than a prefix table:
/// it is asked about the remote side of every record.
public enum SpecialPurposeAddress {
    /// The registry entry `address` falls in (`"multicast"`, `"private-use"`, …), or nil for an
    /// address that may be a host on the Internet.
    public static func category(of address: IPAddress) -> String? {
        if let v4 = address.ipv4 { return category(v4: v4) }
        return category(v6High: address.high, low: address.low)
    }

    /// Whether `address` is special-purpose (see ``category(of:)``).
    @inlinable public static func contains(_ address: IPAddress) -> Bool { category(of: address) != nil }

    static func category(v4 a: UInt32) -> String? {
        func within(_ network: UInt32, _ length: Int) -> Bool { a >> (32 - length) == network >> (32 - length) }
        switch a >> 24 {
        case 0: return "this-network" // 0.0.0.0/8
        case 10: return "private-use" // 10.0.0.0/8
        case 127: return "loopback" // 127.0.0.0/8
        case 224...239: return "multicast" // 224.0.0.0/4
        case 240...255: return a == 0xFFFF_FFFF ? "limited-broadcast" : "reserved" // 240.0.0.0/4
        default: break
        }
        if within(0x6440_0000, 10) { return "shared-address-space" } // 100.64.0.0/10
        if within(0xA9FE_0000, 16) { return "link-local" } // 169.254.0.0/16
        if within(0xAC10_0000, 12) { return "private-use" } // 172.16.0.0/12
        if within(0xC000_0000, 24) { // 192.0.0.0/24, but for
            return a == 0xC000_0009 || a == 0xC000_000A ? nil : "ietf-protocol-assignments" // .9 and .10 (anycast)
        }
        if within(0xC000_0200, 24) { return "documentation" } // 192.0.2.0/24
        if within(0xC0A8_0000, 16) { return "private-use" } // 192.168.0.0/16
        if within(0xC612_0000, 15) { return "benchmarking" } // 198.18.0.0/15
        if within(0xC633_6400, 24) { return "documentation" } // 198.51.100.0/24
        if within(0xCB00_7100, 24) { return "documentation" } // 203.0.113.0/24
        return nil
    }

    static func category(v6High h: UInt64, low l: UInt64) -> String? {
        func within(_ network: UInt64, _ length: Int) -> Bool { h >> (64 - length) == network >> (64 - length) }
        if h == 0 {
            if l == 0 { return "unspecified" } // ::/128
            if l == 1 { return "loopback" } // ::1/128
            return "reserved" // the rest of ::/64 (IPv4-compatible, deprecated)
        }
        if within(0xFF00_0000_0000_0000, 8) { return "multicast" } // ff00::/8
        if within(0xFE80_0000_0000_0000, 10) { return "link-local" } // fe80::/10
        if within(0xFC00_0000_0000_0000, 7) { return "unique-local" } // fc00::/7
        if within(0x2001_0DB8_0000_0000, 32) { return "documentation" } // 2001:db8::/32
        if within(0x3FFF_0000_0000_0000, 20) { return "documentation" } // 3fff::/20
        if h == 0x0100_0000_0000_0000 { return "discard-only" } // 100::/64
        if within(0x0064_FF9B_0001_0000, 48) { return "local-use-translation" } // 64:ff9b:1::/48
        if within(0x2001_0002_0000_0000, 48) { return "benchmarking" } // 2001:2::/48
        if within(0x5F00_0000_0000_0000, 16) { return "srv6-sids" } // 5f00::/16
        return nil
    }
}
