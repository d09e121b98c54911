import FlowCodec

/// Where every simulated address comes from. Only documentation and reserved ranges are used,
/// so simulated traffic can never be mistaken for (or leak towards) real networks:
///
/// | range | RFC | used for |
/// |---|---|---|
/// | 100.64.0.0/10 | 6598 shared address space | subscriber lines behind CGNAT (the "inside" address) |
/// | 198.18.0.0/15 | 2544 benchmarking | the ISP's public IPv4: the CGNAT pool in 198.18.0.0/17, subscribers with their own public address from 198.18.128.0 |
/// | 198.19.254.0/24 | (top of the above) | the exporting routers (flow export source addresses) |
/// | 198.19.255.0/24 | (top of the above) | ISP infrastructure: DNS resolvers 198.19.255.53 and .54 |
/// | 2001:db8::/32 | 3849 documentation | subscriber IPv6: a /56 per broadband line, a /64 per mobile line |
/// | 240.0.0.0/4 | 1112 reserved ("class E") | the synthetic Internet: benign services, scan targets, DDoS victims and reflectors, BitTorrent peers (243/8), telnet scanners (244/8), game-console players (245/8) |
/// | 239.255.255.250, 224.0.0.251, ff02::fb | UPnP, 6762 | the SSDP and mDNS groups (link-local chatter, never forwarded) |
/// | 3fff::/20 | 9637 documentation | the synthetic Internet's IPv6 services |
/// | 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 | 5737 TEST-NET-1/2/3 | C&C servers (Mirai-like, HTTPS beaconing, IRC, DGA-like) and the P2P botnet's external peers (192.0.2.128–151) |
///
/// AS numbers are private (RFC 6996): the ISP is AS 64512, synthetic Internet hosts 64600 and up.
public enum AddressPlan {
    /// 100.64.0.0/10: inside addresses of CGNAT subscribers (address 1 + CGNAT index).
    public static let cgnatInsideBase: UInt32 = 0x6440_0000
    public static let cgnatInsideCapacity = (1 << 22) - 2
    /// 198.18.0.0/15: the ISP's public IPv4 space.
    public static let publicBase: UInt32 = 0xC612_0000
    /// The CGNAT pool is 198.18.0.0/17 (from its start upwards) …
    public static let cgnatPoolCapacity = 1 << 15
    /// … and lines with their own address start at 198.18.128.0 (up to 198.19.253.255; the top
    /// /23 is infrastructure). Two fixed ranges, as an ISP would plan them, so the operator can
    /// tell Mamori where the port-block pool is (`mamori serve`'s demo default does).
    public static let ownAddressBase: UInt32 = 0xC612_8000
    public static let ownAddressCapacity = (1 << 17) - (1 << 15) - 512
    /// Subscribers sharing one CGNAT public address (deterministic NAT, RFC 7422).
    public static let subscribersPerCGNATAddress = 64
    /// Ports per CGNAT port block; blocks start at port 1024 (64 × 1008 = 64512 ports).
    public static let portBlockSize: UInt16 = 1008
    public static let firstBlockPort: UInt16 = 1024
    /// 198.19.254.1 + n: exporter n.
    public static func exporterAddress(_ index: Int) -> IPAddress { .v4(0xC613_FE01 + UInt32(index)) }
    /// The ISP's DNS resolvers.
    public static let resolvers: [IPAddress] = [.v4(0xC613_FF35), .v4(0xC613_FF36)]
    /// Where exports are addressed in a written pcap (a collector in the ISP's management range).
    public static let collectorAddress = IPAddress.v4(0xC613_FEC8) // 198.19.254.200
    public static let ispAS: UInt32 = 64512

    /// The fewest CIDR prefixes covering `count` consecutive IPv4 addresses from `first`.
    public static func coveringPrefixes(from first: UInt32, count: Int) -> [String] {
        var out: [String] = []
        var a = UInt64(first)
        let end = UInt64(first) + UInt64(count)
        while a < end {
            var size: UInt64 = a == 0 ? 1 << 32 : UInt64(1) << UInt64(UInt32(truncatingIfNeeded: a).trailingZeroBitCount)
            while a + size > end { size >>= 1 }
            out.append("\(IPAddress.v4(UInt32(a)))/\(32 - size.trailingZeroBitCount)")
            a += size
        }
        return out
    }

    /// 2001:db8::/32: broadband /56 n is 2001:db8:XXXX:XX00::/56 with XXXXXX = subscriber id + 1.
    static func broadbandPrefix(subscriber id: UInt32) -> UInt64 { 0x2001_0DB8_0000_0000 | UInt64(id + 1) << 8 }
    /// Mobile /64s come from the upper half of 2001:db8::/32 (2001:db8:8000::/33).
    static func mobilePrefix(subscriber id: UInt32) -> UInt64 { 0x2001_0DB8_8000_0000 | UInt64(id + 1) }

    /// 240.S.0.0/16 holds the servers of service S in the synthetic Internet; 240.16.0.0/12 the CDN.
    static func serviceV4(_ service: UInt32, _ host: UInt32) -> IPAddress { .v4(0xF000_0000 | service << 16 | (host + 1)) }
    /// 3fff:0:S::h for the IPv6 side of service S.
    static func serviceV6(_ service: UInt32, _ host: UInt32) -> IPAddress {
        .v6(high: 0x3FFF_0000_0000_0000 | UInt64(service) << 16, low: UInt64(host + 1))
    }
    /// CDN web servers: 240.16.0.0/12, host i at 240.16.0.0 + i + 1.
    static func cdnV4(_ host: UInt32) -> IPAddress { .v4(0xF010_0000 + host + 1) }
    static let cdnServers: UInt32 = 20_000
    /// Scan targets: uniform in 240.128.0.0/9 (never a catalogued service).
    static func scanTarget(_ r: UInt64) -> IPAddress { .v4(0xF080_0000 | UInt32(truncatingIfNeeded: r) & 0x007F_FFFF) }
    /// Victims of outbound attacks: 241.0.0.0/8. Reflectors of inbound attacks: 242.0.0.0/8.
    static func outboundVictim(_ r: UInt64) -> IPAddress { .v4(0xF100_0000 | (UInt32(truncatingIfNeeded: r) & 0x00FF_FFFE | 1)) }
    static func reflector(_ r: UInt64) -> IPAddress { .v4(0xF200_0000 | (UInt32(truncatingIfNeeded: r) & 0x00FF_FFFE | 1)) }
    /// BitTorrent peers (DHT nodes and swarm members) of the synthetic Internet: 243.0.0.0/8.
    static func bitTorrentPeer(_ r: UInt64) -> IPAddress { .v4(0xF300_0000 | (UInt32(truncatingIfNeeded: r) & 0x00FF_FFFE | 1)) }
    /// Infected hosts elsewhere on the Internet that brute-force telnet (the first infectors): 244.0.0.0/8.
    static func telnetScanner(_ r: UInt64) -> IPAddress { .v4(0xF400_0000 | (UInt32(truncatingIfNeeded: r) & 0x00FF_FFFE | 1)) }
    /// Players elsewhere that a game console plays with peer to peer: 245.0.0.0/8.
    static func gamePeer(_ r: UInt64) -> IPAddress { .v4(0xF500_0000 | (UInt32(truncatingIfNeeded: r) & 0x00FF_FFFE | 1)) }
    /// Stand-ins for the DHT bootstrap nodes (router.bittorrent.com 67.215.246.10,
    /// router.utorrent.com 82.221.103.244, dht.transmissionbt.com): 240.12.0.1–3, port 6881.
    static let dhtBootstrapNodes: [IPAddress] = ServiceCatalog.hosts(12, 3)
    /// SSDP (UPnP Device Architecture 1.1 §1.1.2) and mDNS (RFC 6762 §3) multicast groups.
    static let ssdpGroup = IPAddress.v4(0xEFFF_FFFA) // 239.255.255.250
    static let mdnsGroupV4 = IPAddress.v4(0xE000_00FB) // 224.0.0.251
    static let mdnsGroupV6 = IPAddress.v6(high: 0xFF02_0000_0000_0000, low: 0xFB) // ff02::fb
    /// C&C servers in the three TEST-NETs.
    // 192.0.2.23:23, 192.0.2.66:2323
    static let miraiCommandAndControl: [(IPAddress, UInt16)] = [(.v4(0xC000_0217), 23), (.v4(0xC000_0242), 2323)]
    static let beaconCommandAndControl: [IPAddress] = [.v4(0xC633_6414), .v4(0xC633_6415), .v4(0xC633_6479)] // 198.51.100.20, .21, .121
    /// IRC C&C servers on the plain, TLS and alternative IRC ports: 198.51.100.67:6667, .68:6697, .70:7000.
    static let ircCommandAndControl: [(IPAddress, UInt16)] = [(.v4(0xC633_6443), 6667), (.v4(0xC633_6444), 6697), (.v4(0xC633_6446), 7000)]
    /// P2P botnet: the bots elsewhere on the Internet that the ISP's bots gossip with (192.0.2.128–151),
    /// all on one fixed high port, UDP and TCP. They stand in for the family's C&C.
    static let peerToPeerNodes: [IPAddress] = (0..<24).map { .v4(0xC000_0280 + $0) }
    static let peerToPeerPort: UInt16 = 47_283
    /// DGA-like family: epoch e's C&C is 203.0.113.(1 + hash(seed, e) mod 250), port 443.
    static func dgaCommandAndControl(seed: UInt64, epoch: Int64) -> IPAddress {
        .v4(0xCB00_7100 | UInt32(1 + StableHash.of(seed, 0xD6A, UInt64(bitPattern: epoch)) % 250))
    }
}

/// A benign service of the synthetic Internet (or of the ISP) that subscribers use.
public struct ServiceCatalogEntry: Sendable, Hashable {
    public var name: String
    public var ipProtocol: UInt8
    public var port: UInt16
    public var addresses: [IPAddress]
    /// Whether devices contact it on a timer: these are the decoys a naive C&C detector flags.
    public var periodic: Bool
    public var summary: String
}

/// The benign services of the simulated world (fixed; addresses from ``AddressPlan``).
public enum ServiceCatalog {
    static func hosts(_ service: UInt32, _ count: UInt32) -> [IPAddress] { (0..<count).map { AddressPlan.serviceV4(service, $0) } }

    public static let dns = ServiceCatalogEntry(
        name: "isp-dns", ipProtocol: 17, port: 53, addresses: AddressPlan.resolvers, periodic: false,
        summary: "The ISP's recursive resolvers; every web session and every DGA bot asks them.")
    public static let ntp = ServiceCatalogEntry(
        name: "ntp-pool", ipProtocol: 17, port: 123, addresses: hosts(1, 24), periodic: true,
        summary: "An NTP pool; PCs, TVs, cameras and home routers poll every 64 s to 1 h.")
    public static let pushA = ServiceCatalogEntry(
        name: "push-5223", ipProtocol: 6, port: 5223, addresses: hosts(2, 4), periodic: true,
        summary: "Push-notification keepalives (5223/tcp) from about 30% of phones, every ~28 min.")
    public static let pushG = ServiceCatalogEntry(
        name: "push-5228", ipProtocol: 6, port: 5228, addresses: hosts(3, 4), periodic: true,
        summary: "Push-notification keepalives (5228/tcp) from about 70% of phones, every ~28 min.")
    public static let update = ServiceCatalogEntry(
        name: "os-update", ipProtocol: 6, port: 443, addresses: hosts(4, 8), periodic: true,
        summary: "OS and firmware update checks: PCs and TVs hourly, cameras every 6 h, home routers every 12 h.")
    public static let cameraCloud = ServiceCatalogEntry(
        name: "camera-cloud", ipProtocol: 6, port: 8883, addresses: hosts(5, 8), periodic: true,
        summary: "IoT camera cloud heartbeats (MQTT over TLS) every 60 s.")
    public static let messaging = ServiceCatalogEntry(
        name: "messaging", ipProtocol: 6, port: 443, addresses: hosts(6, 8), periodic: true,
        summary:
            "Messaging apps on most phones and some PCs: one long-lived connection to one of 8 servers (renewed hourly), a keepalive every ~4.5 min, messages in between."
    )
    public static let video = ServiceCatalogEntry(
        name: "video", ipProtocol: 6, port: 443, addresses: hosts(7, 256), periodic: false,
        summary: "Video streaming, mostly TVs in the evening.")
    public static let games = ServiceCatalogEntry(
        name: "online-games", ipProtocol: 17, port: 3074, addresses: hosts(8, 64), periodic: false,
        summary: "Online games over UDP from PCs.")

    /// Public NTP servers popular across the base (stand-ins for time.google.com, ntp.nict.jp …).
    public static let publicNTP = ServiceCatalogEntry(
        name: "ntp-public", ipProtocol: 17, port: 123, addresses: hosts(9, 3), periodic: true,
        summary:
            "Three public NTP servers polled by half of the home routers and PCs (by default), each at a fixed 64–1024 s (RFC 5905 poll 6–10), one 76-byte packet each way; ntpd on routers from port 123."
    )
    /// A game-console vendor's presence service and its NAT-keepalive (STUN) servers.
    public static let consolePresence = ServiceCatalogEntry(
        name: "console-presence", ipProtocol: 6, port: 443, addresses: hosts(10, 8), periodic: true,
        summary:
            "Game consoles (12% of broadband households by default): one presence connection per hour to the vendor's service, a keepalive every 300 s."
    )
    public static let consoleKeepalive = ServiceCatalogEntry(
        name: "console-keepalive", ipProtocol: 17, port: 3478, addresses: hosts(11, 4), periodic: true,
        summary: "Game consoles: a STUN binding request from the game port (3074) to the vendor every 60 s, keeping the NAT binding open.")
    /// The link-local groups; periodic announcements from about a quarter of broadband households.
    public static let ssdp = ServiceCatalogEntry(
        name: "ssdp-multicast", ipProtocol: 17, port: 1900, addresses: [AddressPlan.ssdpGroup], periodic: true,
        summary:
            "SSDP from 25% of broadband households (by default): NOTIFY ssdp:alive bursts (6–15 messages) every 120 s from port 1900, and M-SEARCH (3 copies) when an app looks for a TV. Link-local; seen where the export sees the access side."
    )
    public static let mdns = ServiceCatalogEntry(
        name: "mdns-multicast", ipProtocol: 17, port: 5353, addresses: [AddressPlan.mdnsGroupV4, AddressPlan.mdnsGroupV6], periodic: true,
        summary: "mDNS from the same households: queries and announcements from 5353 to 5353 every ~120 s (RFC 6762), IPv4 and IPv6.")

    /// Every catalogued service except the CDN (which is a /12 listed in the labels as a prefix).
    public static let all: [ServiceCatalogEntry] = [dns, ntp, pushA, pushG, update, cameraCloud, messaging, video, games]
    /// Service number S of the entry in the 240.S.0.0/16 plan (for its IPv6 twin 3fff:0:S::).
    static let videoService: UInt32 = 7
    static let messagingService: UInt32 = 6
    static let pushAService: UInt32 = 2
    static let pushGService: UInt32 = 3
    static let cdnService: UInt32 = 16
}
