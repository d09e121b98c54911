import Detection
import FlowCodec
import MamoriCore

/// The `detection:` section of the configuration file.
public struct DetectionSettings: Sendable {
    /// Whether collected flows are analysed at all. Off, `mamori serve` is a collector only:
    /// flows are decoded, counted and NAT events attributed, but no detector sees them (a node
    /// that only collects, or measuring the collector alone beside another collector).
    public var enabled = true
    /// The carrier's subscriber address space. The default is the address plan of
    /// `mamori simulate` (benchmarking and documentation ranges no real network uses), so the
    /// README's demo works out of the box; a carrier sets its own.
    public var subscriberPrefixes: [IPPrefix] = [IPPrefix("198.18.0.0/15")!, IPPrefix("100.64.0.0/10")!, IPPrefix("2001:db8::/32")!]
    public var infrastructurePrefixes: [IPPrefix] = [IPPrefix("198.19.254.0/23")!]
    public var cgnatPools: [CGNATPool] = [CGNATPool(prefix: IPPrefix("198.18.0.0/17")!, firstPort: 1024, portsPerBlock: 1008)]
    /// Special-purpose space that plays the Internet (`detection.laboratory_internet_prefixes`):
    /// by default the simulator's synthetic Internet, so the demo works; empty as soon as a
    /// configuration names its own subscriber prefixes, since on a real network no host on the
    /// Internet has such an address (see ``SpecialPurposeAddress``).
    public var laboratoryInternetPrefixes: [IPPrefix] = DetectionSettings.simulatorInternet
    /// The synthetic Internet of `mamori simulate` (its AddressPlan): 240.0.0.0/4, the three
    /// IPv4 TEST-NETs and 3fff::/20.
    public static let simulatorInternet = ["240.0.0.0/4", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "3fff::/20"].map {
        IPPrefix($0)!
    }
    /// Indicator list file (see `EndpointList`), read at start.
    public var indicatorsFile: String?
    /// Allowlist file, read at start (analyst false-positive verdicts are added to it).
    public var allowlistFile: String?
    /// Findings not seen for this long are deleted.
    public var retentionDays: Int = 90
    /// Whether the subscriber prefixes were left at the demo default (logged as a warning).
    public var usesDemoNetwork = true
    /// The detectors' main limits (`detection.thresholds`).
    public var thresholds = DetectionThresholds()
    /// (host, endpoint) pairs followed at most (`detection.max_pairs`); about 450 bytes each.
    public var maximumPairs = 4_000_000
    /// Analysis threads (`detection.workers`): the subscriber hosts are split into that many
    /// shards analysed in parallel (``ShardedFlowAnalyzer``); 1 analyses on one thread.
    public var workers = 1
    /// Entries at most in each other per-address table (`detection.max_table_entries`).
    public var maximumTableEntries = 500_000
    /// Batches waiting in the collector's queue beyond which the detectors shed whole address
    /// pairs (`detection.shed_after_batches`, ``LoadShedder``). At or above
    /// `collector.queue_capacity` nothing is shed: the collector drops whole batches instead
    /// (counted), which a node that must analyse every record it keeps may prefer.
    public var shedAfterBatches = 256
    /// Whether the detectors evaluate at the record that moves the flows' clock past their next
    /// evaluation (`detection.evaluate_on_flow_clock: true`), or only on the once-a-second timer
    /// (the default). With live traffic both evaluate at the same flow times; with a replay or a
    /// detector node reading a backlog from the bus, only the first makes what is found
    /// independent of how fast the records arrive: every node of a cluster and any node it is
    /// compared with should set it alike.
    public var evaluateOnFlowClock = false

    public init() {}

    public func network() -> NetworkLayout {
        NetworkLayout(
            subscriberPrefixes: subscriberPrefixes, infrastructurePrefixes: infrastructurePrefixes, cgnatPools: cgnatPools,
            laboratoryInternet: laboratoryInternetPrefixes)
    }
}

/// The limits an operator tunes most, as `detection.thresholds` keys; every default is the
/// detectors' own (see docs/findings.md).
public struct DetectionThresholds: Sendable, Hashable {
    public var beaconMinimumContacts: Int
    public var beaconPairScore: Double
    public var commandAndControlScore: Double
    public var popularMinimumHosts: Int
    public var popularShare: Double
    public var scanMinimumDestinations: Int
    public var scanWindowSeconds: Int
    public var outboundPacketsPerSecond: Double
    public var outboundBitsPerSecond: Double
    public var inboundPacketsPerSecond: Double
    public var inboundBitsPerSecond: Double
    /// Ports on which a connection held open with small, even keepalives is an IRC-style C&C
    /// session (empty: that rule is off).
    public var longSessionPorts: [UInt16]

    static let keys = [
        "beacon_minimum_contacts", "beacon_pair_score", "c2_endpoint_score", "popular_minimum_hosts", "popular_share",
        "scan_minimum_destinations", "scan_window_seconds", "outbound_packets_per_second", "outbound_bits_per_second",
        "inbound_packets_per_second", "inbound_bits_per_second", "long_session_ports",
    ]

    /// The detectors' defaults.
    public init() {
        let d = DetectionConfiguration(network: NetworkLayout(subscriberPrefixes: []), pseudonymKey: [])
        beaconMinimumContacts = d.beacon.minimumContacts
        beaconPairScore = d.beacon.pairScore
        commandAndControlScore = d.beacon.endpointScore
        popularMinimumHosts = d.popularity.minimumHosts
        popularShare = d.popularity.share
        scanMinimumDestinations = d.scan.minimumDestinations
        scanWindowSeconds = Int(d.scan.window / 1000)
        outboundPacketsPerSecond = d.outboundAttack.packetsPerSecond
        outboundBitsPerSecond = d.outboundAttack.bitsPerSecond
        inboundPacketsPerSecond = d.inboundAttack.packetsPerSecond
        inboundBitsPerSecond = d.inboundAttack.bitsPerSecond
        longSessionPorts = d.longSession.ports.sorted()
    }

    /// Writes these limits into a detector configuration.
    public func apply(to c: inout DetectionConfiguration) {
        c.beacon.minimumContacts = beaconMinimumContacts
        c.beacon.pairScore = beaconPairScore
        c.beacon.endpointScore = commandAndControlScore
        c.popularity.minimumHosts = popularMinimumHosts
        c.popularity.share = popularShare
        c.scan.minimumDestinations = scanMinimumDestinations
        c.scan.window = Int64(scanWindowSeconds) * 1000
        c.outboundAttack.packetsPerSecond = outboundPacketsPerSecond
        c.outboundAttack.bitsPerSecond = outboundBitsPerSecond
        c.inboundAttack.packetsPerSecond = inboundPacketsPerSecond
        c.inboundAttack.bitsPerSecond = inboundBitsPerSecond
        c.longSession.ports = Set(longSessionPorts)
    }
}
