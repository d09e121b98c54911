import FlowCodec

/// The ground truth of a simulation run, written as JSON by `mamori simulate --labels FILE`.
/// The schema is documented in `docs/simulator-labels.md`. Times are ms since the Unix epoch;
/// addresses are text.
public struct Labels: Sendable, Hashable, Codable {
    public var schema = "mamori-simulator-labels/1"
    public var seed: UInt64
    public var start: Int64
    public var end: Int64
    public var subscribers: Int
    public var exporters: [Exporter]
    public var commandAndControl: [CommandAndControl]
    public var infectedDevices: [InfectedDevice]
    public var attacks: [Attack]
    public var decoys: [Decoy]
    /// How the simulated ISP describes its own network to Mamori (absent in older files).
    public var network: Network?
    /// Where the run's identity data comes from (RADIUS NASes, CGNAT logger, account format).
    public var identity: IdentitySources? = nil

    public struct Exporter: Sendable, Hashable, Codable {
        public var address: String
        public var observationDomain: UInt32
        /// Always "post-cgnat-border" in this version: flows carry public (translated) addresses.
        public var observes: String
    }

    public struct CommandAndControl: Sendable, Hashable, Codable {
        public var family: BotFamily
        /// `server` (a C&C server proper) or `p2p-peer` (a bot elsewhere that the P2P family's bots
        /// gossip with: the family has no central server, these endpoints are its C&C-equivalent).
        public var kind: String
        public var address: String
        public var port: UInt16
        public var `protocol`: String
        public var activeFrom: Int64
        public var activeUntil: Int64
    }

    public struct InfectedDevice: Sendable, Hashable, Codable {
        public var family: BotFamily
        public var subscriberId: UInt32
        public var deviceIndex: Int
        public var deviceKind: DeviceKind
        public var line: LineKind
        /// The address the ISP assigned to the line (100.64.0.0/10 behind CGNAT).
        public var insideAddress: String
        /// The address its IPv4 traffic has at the border.
        public var publicAddress: String
        /// The CGNAT port block on the public address; absent for a line with its own address.
        public var portBlock: PortBlock?
        public var ipv6Prefix: String?
        public var ipv6Address: String?
        public var infectedAt: Int64
        public var cleanedAt: Int64?
        /// Contact period and ± jitter with its C&C, ms.
        public var contactPeriod: Int64
        public var contactJitter: Int64
        /// The subscriber's account in the identity data (RADIUS User-Name, Kea user context).
        public var account: String? = nil
        /// Whether the line's identity is in RADIUS accounting or in the Kea lease files.
        public var provisioning: Provisioning? = nil
        /// Mirai-like infections during the run: who brute-forced the device's telnet 30 s before
        /// `infectedAt` — another infected device of the ISP or a scanner elsewhere.
        public var infectedBy: Infector?
    }

    /// The source of a spreading infection.
    public struct Infector: Sendable, Hashable, Codable {
        /// The infecting device, when it is one of the ISP's (absent for a scanner elsewhere).
        public var subscriberId: UInt32?
        public var deviceIndex: Int?
        /// The address the brute force came from (the infector's public address).
        public var address: String
    }

    public struct Participant: Sendable, Hashable, Codable {
        public var subscriberId: UInt32
        public var deviceIndex: Int
        public var publicAddress: String
        public var portBlock: PortBlock?
        /// Rate-driven attacks (the ICMP flood, the single host's SYN flood): this participant's
        /// packets per second. Absent for the others.
        public var packetsPerSecond: Double? = nil
    }

    public struct Attack: Sendable, Hashable, Codable {
        public var kind: AttackPlan.Kind
        /// "outbound" (from subscribers) or "inbound" (against a subscriber).
        public var direction: String
        public var from: Int64
        public var until: Int64
        public var victimAddress: String
        public var victimPort: UInt16?
        public var victimSubscriberId: UInt32?
        public var participants: [Participant]
        public var sources: [String]
    }

    /// The simulated ISP's address plan as an operator would configure it in Mamori.
    public struct Network: Sendable, Hashable, Codable {
        /// Subscriber lines: the public /15 (CGNAT pool and own-address lines) and 2001:db8::/32.
        public var subscriberPrefixes: [String]
        /// The ISP's own hosts (exporters, resolvers): 198.19.254.0/23.
        public var infrastructurePrefixes: [String]
        public var cgnatPools: [CGNATPool]

        public struct CGNATPool: Sendable, Hashable, Codable {
            public var prefixes: [String]
            public var firstPort: UInt16
            public var portsPerBlock: UInt16
        }
    }

    public struct Decoy: Sendable, Hashable, Codable {
        public var name: String
        public var `protocol`: String
        public var port: UInt16
        public var addresses: [String]
        /// A prefix for services too large to list (the CDN).
        public var prefix: String?
        public var periodic: Bool
        public var summary: String
        /// For behaviours of subscribers that look like a bot's (BitTorrent, game consoles): the
        /// devices doing it — findings about their lines are false positives unless the line is
        /// also infected. Absent for services and in older files.
        public var users: [Participant]? = nil
    }

    /// The devices for which `doing` holds, as participants (address and port block of their line).
    static func users(_ model: ISPModel, doing: (Subscriber, Int) -> Bool) -> [Participant] {
        var out: [Participant] = []
        for s in model.subscribers {
            for d in 0..<Int(s.deviceCount) where doing(s, d) {
                out.append(Participant(subscriberId: s.id, deviceIndex: d, publicAddress: "\(s.publicAddress)", portBlock: s.portBlock))
            }
        }
        return out
    }

    public init(model: ISPModel, threats: ThreatPlan) {
        let c = model.configuration
        seed = c.seed
        start = c.startMilliseconds
        end = c.endMilliseconds
        subscribers = c.subscribers
        exporters = (0..<c.exporters).map {
            Exporter(address: "\(AddressPlan.exporterAddress($0))", observationDomain: UInt32($0 + 1), observes: "post-cgnat-border")
        }
        var cc: [CommandAndControl] = []
        let families = Set(threats.infections.map(\.family))
        if families.contains(.miraiLike) {
            for (a, p) in AddressPlan.miraiCommandAndControl {
                cc.append(
                    .init(
                        family: .miraiLike, kind: "server", address: "\(a)", port: p, protocol: "tcp", activeFrom: start, activeUntil: end))
            }
        }
        if families.contains(.httpsBeacon) {
            for a in AddressPlan.beaconCommandAndControl {
                cc.append(
                    .init(
                        family: .httpsBeacon, kind: "server", address: "\(a)", port: 443, protocol: "tcp", activeFrom: start,
                        activeUntil: end))
            }
        }
        if families.contains(.dgaRotating) {
            let rotation = Int64(c.botnets.dgaRotationSeconds) * 1000
            var e: Int64 = 0
            while start + e * rotation < end {
                let from = start + e * rotation
                cc.append(
                    .init(
                        family: .dgaRotating, kind: "server", address: "\(AddressPlan.dgaCommandAndControl(seed: c.seed, epoch: e))",
                        port: 443, protocol: "tcp", activeFrom: from, activeUntil: min(end, from + rotation)))
                e += 1
            }
        }
        if families.contains(.peerToPeer) {
            for a in AddressPlan.peerToPeerNodes {
                for proto in ["udp", "tcp"] {
                    cc.append(
                        .init(
                            family: .peerToPeer, kind: "p2p-peer", address: "\(a)", port: AddressPlan.peerToPeerPort, protocol: proto,
                            activeFrom: start, activeUntil: end))
                }
            }
        }
        if families.contains(.ircLongLived) {
            for (a, p) in AddressPlan.ircCommandAndControl {
                cc.append(
                    .init(
                        family: .ircLongLived, kind: "server", address: "\(a)", port: p, protocol: "tcp", activeFrom: start,
                        activeUntil: end))
            }
        }
        commandAndControl = cc
        infectedDevices = threats.infections.map { inf in
            let s = model.subscribers[inf.subscriberIndex]
            return InfectedDevice(
                family: inf.family, subscriberId: s.id, deviceIndex: inf.deviceIndex, deviceKind: model.deviceKind(s, inf.deviceIndex),
                line: s.line,
                insideAddress: "\(s.insideAddress)", publicAddress: "\(s.publicAddress)", portBlock: s.portBlock,
                ipv6Prefix: s.ipv6PrefixText,
                ipv6Address: model.deviceIPv6(s, inf.deviceIndex).map { "\($0)" }, infectedAt: inf.infectedAt, cleanedAt: inf.cleanedAt,
                contactPeriod: inf.periodMilliseconds, contactJitter: inf.jitterMilliseconds,
                infectedBy: inf.infectedBy.map { by in
                    let infector = threats.infections[by]
                    return Infector(
                        subscriberId: UInt32(infector.subscriberIndex), deviceIndex: infector.deviceIndex,
                        address: "\(model.subscribers[infector.subscriberIndex].publicAddress)")
                } ?? inf.infectedFrom.map { Infector(subscriberId: nil, deviceIndex: nil, address: "\($0)") })
        }
        attacks = threats.attacks.map { a in
            Attack(
                kind: a.kind, direction: a.outbound ? "outbound" : "inbound", from: a.from, until: a.until, victimAddress: "\(a.victim)",
                victimPort: a.victimPort == 0 ? nil : a.victimPort, victimSubscriberId: a.victimSubscriberIndex.map { UInt32($0) },
                participants: a.participants.enumerated().map { j, i in
                    let inf = threats.infections[i]
                    let s = model.subscribers[inf.subscriberIndex]
                    return Participant(
                        subscriberId: s.id, deviceIndex: inf.deviceIndex, publicAddress: "\(s.publicAddress)", portBlock: s.portBlock,
                        packetsPerSecond: j < a.packetsPerSecond.count ? a.packetsPerSecond[j] : nil)
                },
                sources: a.sources.map { "\($0)" })
        }
        var decoys = ServiceCatalog.all.map { e in
            Decoy(
                name: e.name, protocol: e.ipProtocol == 6 ? "tcp" : "udp", port: e.port, addresses: e.addresses.map { "\($0)" },
                prefix: nil, periodic: e.periodic, summary: e.summary)
        }
        let benign = c.benign
        if benign.bitTorrentSwarm {
            decoys.append(
                Decoy(
                    name: "bittorrent", protocol: "udp+tcp", port: 0, addresses: AddressPlan.dhtBootstrapNodes.map { "\($0)" },
                    prefix: "243.0.0.0/8", periodic: false,
                    summary:
                        "BitTorrent on \(Int((benign.bitTorrentFraction * 100).rounded()))% of PCs while the client runs, as a swarm member (BEP 3, 5, 29): DHT queries over UDP from one listening port to hundreds of random peers and to the bootstrap nodes (the addresses, port 6881) on start-up, uTP and TCP transfers both ways with peers on random high ports (some 6881), short TCP tries to many peers (some unanswered), and on lines with their own address inbound peer connections and DHT queries to the listening port (port 0 = any). The users are listed. A decoy for P2P-botnet, C&C and scan detection.",
                    users: Self.users(model) { s, d in
                        model.deviceKind(s, d) == .pc
                            && StableHash.of(c.seed, Tag.bitTorrent, UInt64(s.id) << 8 | UInt64(d)) % 100
                                < UInt64((benign.bitTorrentFraction * 100).rounded())
                    }))
        } else {
            decoys.append(
                Decoy(
                    name: "bittorrent", protocol: "udp+tcp", port: 0, addresses: [], prefix: "243.0.0.0/8", periodic: false,
                    summary:
                        "BitTorrent on about 5% of PCs while the client runs: DHT queries over UDP from one listening port to many random peers, and a few TCP peer connections, all on random high ports (port 0 = any). A decoy for P2P-botnet detection."
                ))
        }
        decoys.append(
            Decoy(
                name: "cdn-web", protocol: "tcp+udp", port: 443, addresses: [], prefix: "240.16.0.0/12, 3fff:0:10::/48", periodic: false,
                summary: "Web and CDN servers (popularity heavily skewed), HTTPS and QUIC."))
        func decoy(_ e: ServiceCatalogEntry, users: [Participant]? = nil) -> Decoy {
            Decoy(
                name: e.name, protocol: e.ipProtocol == 6 ? "tcp" : "udp", port: e.port, addresses: e.addresses.map { "\($0)" },
                prefix: nil, periodic: e.periodic, summary: e.summary, users: users)
        }
        if benign.publicNTPFraction > 0 { decoys.append(decoy(ServiceCatalog.publicNTP)) }
        if benign.ssdpMDNSFraction > 0 { decoys += [decoy(ServiceCatalog.ssdp), decoy(ServiceCatalog.mdns)] }
        if benign.gameConsoleFraction > 0 {
            let consoles = Self.users(model) { s, d in
                d == 0 && s.line == .broadband && TrafficGenerator.unit(c.seed, Tag.console, UInt64(s.id)) < benign.gameConsoleFraction
            }
            decoys += [decoy(ServiceCatalog.consolePresence, users: consoles), decoy(ServiceCatalog.consoleKeepalive, users: consoles)]
            decoys.append(
                Decoy(
                    name: "console-p2p", protocol: "udp", port: 0, addresses: [], prefix: "245.0.0.0/8", periodic: false,
                    summary:
                        "Game consoles while playing (30-minute slots, mostly in the evening): UDP from the game port 3074 with 3–7 other players on their own high ports (some 3074), 15–45 packets/s each way. The consoles' lines are listed as users (device 0 stands for the console).",
                    users: consoles))
        }
        self.decoys = decoys
        network = Network(
            subscriberPrefixes: ["198.18.0.0/15", "2001:db8::/32"], infrastructurePrefixes: ["198.19.254.0/23"],
            cgnatPools: model.cgnatPoolAddresses == 0
                ? []
                : [
                    Network.CGNATPool(
                        prefixes: AddressPlan.coveringPrefixes(from: AddressPlan.publicBase, count: model.cgnatPoolAddresses),
                        firstPort: AddressPlan.firstBlockPort, portsPerBlock: AddressPlan.portBlockSize)
                ])
        identity = IdentitySources(model: model)
        for i in infectedDevices.indices {
            let id = IdentityPlan.identity(
                of: model.subscribers[Int(infectedDevices[i].subscriberId)], seed: c.seed, start: c.startMilliseconds)
            infectedDevices[i].account = id.account
            infectedDevices[i].provisioning = id.provisioning
        }
    }
}
