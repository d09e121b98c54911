import FlowCodec
import MamoriCore

/// Every threshold of the detectors, with defaults chosen on the simulator and the CTU capture
/// (see EVALUATION.md). Times are milliseconds.
public struct DetectionConfiguration: Sendable, Hashable {
    public var network: NetworkLayout
    /// Secret for the pseudonyms of internal hosts in evidence (HMAC-SHA256).
    public var pseudonymKey: [UInt8]
    public var beacon = Beacon()
    public var popularity = Popularity()
    public var scan = Scan()
    public var outboundAttack = OutboundAttack()
    public var inboundAttack = InboundAttack()
    public var infectedDevice = InfectedDevice()
    public var longSession = LongSession()
    public var peerToPeer = PeerToPeer()
    /// Endpoints never reported as C&C (file entries and analyst verdicts).
    public var allowlist = EndpointList()
    /// Known-bad endpoints (indicator feeds).
    public var indicators = EndpointList()
    /// The most indicators kept, from the file and every sharing source together: a peer's feed
    /// cannot grow the matcher without bound.
    public var maximumIndicators = 1_000_000
    /// Evaluate detectors every this much analyzer time.
    public var evaluationInterval: Int64 = 10_000
    /// Flows kept as evidence per finding.
    public var evidenceFlows = 5
    /// Cap on (host, endpoint) pairs followed for periodicity; the least recently active are
    /// dropped beyond it (counted in ``AnalyzerStatistics/pairsEvicted``).
    public var maximumPairs = 4_000_000
    /// Cap on each of the other tables that grow per address or endpoint (external endpoints,
    /// scanning hosts, attack targets, flood victims, beacon series, indicator contacts, device
    /// evidence): beyond it the least recently seen tenth is dropped (counted in
    /// ``AnalyzerStatistics/tableEvictions``). Spoofed sources can name any number of them.
    public var maximumTableEntries = 500_000

    public init(network: NetworkLayout, pseudonymKey: [UInt8]) {
        self.network = network
        self.pseudonymKey = pseudonymKey
    }

    /// Periodic contact with an external endpoint (RITA-style beacon scoring).
    public struct Beacon: Sendable, Hashable {
        /// Contacts (connections) a pair needs before it is scored.
        public var minimumContacts = 5
        /// Records closer than this to the previous contact are the same contact (both directions
        /// of one exchange, or several records of one connection).
        public var contactMergeGap: Int64 = 1_000
        /// A record of the same 5-tuple starting within this of the previous record's end continues
        /// one long connection (active-timeout exports), not a new contact.
        public var continuationGap: Int64 = 30_000
        /// A connection that opens within this of the contact before it, while a connection of
        /// that contact is still open, belongs to the same contact (one check-in, two connections).
        public var visitSpan: Int64 = 60_000
        /// Pair score at which a host is part of an endpoint's beaconing cohort.
        public var pairScore = 0.80
        /// Endpoint score at which a C&C finding is reported.
        public var endpointScore = 0.75
        /// Beaconing hosts an endpoint needs.
        public var minimumCohort = 1
        /// Pairs idle longer than this are forgotten …
        public var idleTimeout: Int64 = 3 * 3_600_000
        /// … unless they came back at least once: a pair with two or more contacts is kept this
        /// long after its last one, so a beacon that checks in every few hours (a real one in the
        /// corpus does every 6 h) is still followed. The longest period seen is about this.
        public var slowIdleTimeout: Int64 = 25 * 3_600_000
        /// Periodicity is rescored this often (it changes slowly; scans and floods are checked every
        /// ``DetectionConfiguration/evaluationInterval``).
        public var evaluationInterval: Int64 = 60_000
        /// Records larger than this (upstream bytes) are bulk transfers, not beacons.
        public var maximumContactBytes: UInt64 = 65_536
        /// Endpoints whose beaconing pairs move this many bytes per contact, both directions
        /// (median over the cohort of each pair's mean), serve content, not check-ins: not C&C.
        /// A real 6-hour HTTP beacon in the corpus moves ~39 kB per check-in; a desktop fetching
        /// media every 18 s ~130 kB.
        public var bulkBytesPerContact = 96_000.0
    }

    /// The guard against flagging popular services (NTP pools, push, CDNs).
    public struct Popularity: Sendable, Hashable {
        /// An endpoint used by at least this many internal hosts …
        public var minimumHosts = 20
        /// … and by at least this share of all internal hosts of its address family is popular
        /// and never reported as C&C (unless most of its users are confirmed bots).
        public var share = 0.005
        /// Share of an endpoint's cohort with other bot evidence (scanning, attacks, indicators)
        /// above which popularity does not protect it.
        public var botCohortOverride = 0.5
        /// Sibling addresses in one prefix of this length (IPv4 /24, IPv6 /48) beaconed to on the
        /// same port and protocol at a similar period are one service spread over several addresses
        /// (round-robin DNS, a load-balanced pool): its popularity is that of the whole pool.
        public var servicePoolLengthV4 = 24
        public var servicePoolLengthV6 = 48
        /// Siblings whose cohorts' median contact intervals differ by at most this factor are one pool.
        public var servicePoolIntervalRatio = 1.5
    }

    /// Probes from one internal host to many addresses on one port.
    public struct Scan: Sendable, Hashable {
        /// Length of a scan window (unsampled; sampled exports get up to 6× as long): an hour, so
        /// a slow scanner (one probe a second or less) adds up; a finding is made as soon as the
        /// count is reached, not at the window's end.
        public var window: Int64 = 3_600_000
        /// Distinct unanswered destinations on the host's most probed ports in one window,
        /// estimated (sampled probes × interval).
        public var minimumDestinations = 50
        /// The ports counted together (a bot scans a few: 23 and 2323, or 23, 2323, 8080, 9527).
        public var portsPerScan = 4
        /// A port counts only if at least this share of its distinct destinations went unanswered.
        public var minimumUnansweredShare = 0.8
        /// Distinct destinations actually observed before anything is claimed (guards against 1:N
        /// scaling of one packet, and against a flood at one target looking like a scan).
        public var minimumObserved = 5
    }

    /// Floods from subscribers to one external target.
    public struct OutboundAttack: Sendable, Hashable {
        /// Rate bucket length.
        public var bucket: Int64 = 10_000
        /// Packets/s to one target (all participants) that make an attack.
        public var packetsPerSecond = 5_000.0
        /// Bits/s to one target (all participants) that make an attack.
        public var bitsPerSecond = 100_000_000.0
        /// Packets/s from one host to the target to count it as a participant.
        public var participantPacketsPerSecond = 200.0
        /// Unanswered connection attempts (SYN without ACK) per second from one host to one target
        /// that make an attack on their own, whatever the total — summed over the bucket, also from
        /// one-packet records: no client retries one address twenty times a second for ten seconds
        /// unanswered, while a real flood from one bot (70 connections a second) stays far below
        /// the total thresholds.
        public var synFloodHostPacketsPerSecond = 20.0
        /// ICMP packets per second from one host to one target that make an attack on their own
        /// (ping sends one a second); as observed, at least `synFloodHostPacketsPerSecond`.
        public var icmpFloodHostPacketsPerSecond = 100.0
        /// A flow record is attack-shaped from this packet rate (lower-rate records are skipped).
        public var flowPacketsPerSecond = 50.0
    }

    /// Volumetric attacks against a subscriber address (FastNetMon-style per-host thresholds
    /// plus a learned baseline).
    public struct InboundAttack: Sendable, Hashable {
        /// Absolute per-host limits.
        public var packetsPerSecond = 20_000.0
        public var bitsPerSecond = 1_000_000_000.0
        /// Or: this many times the host's learned baseline, and at least `baselineMinimumPacketsPerSecond`.
        public var baselineFactor = 20.0
        public var baselineMinimumPacketsPerSecond = 5_000.0
        /// Smoothing of the baseline (per second of data).
        public var baselineSmoothing = 0.01
        /// Packets in one second, summed over low-rate records (one packet from each of thousands
        /// of spoofed sources), from which an address's inbound rate is followed second by second.
        public var tallyPacketsPerSecond = 500.0
        /// Or: a distributed flood — at least this many unsolicited packets per second (SYN-only,
        /// UDP, ICMP) to one address in at least `distributedFlowsPerSecond` flows that second.
        /// Thousands of spoofed sources send one packet each: no per-source rule sees them, and a
        /// home line never draws so many unsolicited flows at once. (Scaled by the subscribers
        /// sharing a CGNAT address.)
        public var distributedPacketsPerSecond = 2_000.0
        public var distributedFlowsPerSecond = 200.0
    }

    /// C&C held as one long-lived connection (IRC-style bots), see `evaluateLongSessions`.
    public struct LongSession: Sendable, Hashable {
        /// Ports IRC botnets use: 6660–6669 and 7000 (IRC), 6697 (IRC over TLS). Empty: off.
        public var ports: Set<UInt16> = Set(6660...6669).union([6697, 7000])
        /// The session must be held at least this long …
        public var minimumDuration: Int64 = 15 * 60_000
        /// … and exported as at least this many records after its first (a PING every 90–180 s).
        public var minimumRecords = 6
        /// Records carry a keepalive or two: mean packets per record at most this …
        public var maximumMeanPackets = 6.0
        /// … with a standard deviation at most this times the mean (even records) …
        public var maximumPacketVariation = 1.0
        /// … and few bytes.
        public var maximumBytesPerRecord = 2_000.0
    }

    /// What makes a host a peer-to-peer application's host (BitTorrent, Gnutella, eMule and their
    /// like), see `FlowAnalyzer+PeerToPeer.swift`: many peers on high ports that answer, a port
    /// of its own that many of them share, and content moved. Its contacts with peers on high
    /// ports are not C&C evidence for that alone; a P2P botnet's bots talk to peers too but move
    /// no content, so they are still judged.
    public struct PeerToPeer: Sendable, Hashable {
        /// Distinct remote addresses heard from (records from their high port to one of the host's)
        /// that make "many peers". A BitTorrent download in the corpus hears from 15 in 15 s.
        public var minimumPeers = 8
        /// A local high port that this many distinct remote addresses exchange packets with is the
        /// host's own listening port (a DHT or uTP socket, an inbound peer port). A client's
        /// ephemeral ports each see one server.
        public var minimumListeningPeers = 3
        /// One record with a peer (high ports both sides, either direction) of at least this many
        /// bytes is content moved.
        public var contentBytes: UInt64 = 96_000
        /// A host's peer activity is forgotten after this long without a record with a peer.
        public var idleTimeout: Int64 = 3 * 3_600_000
    }

    /// When a host becomes an infected-device finding.
    public struct InfectedDevice: Sendable, Hashable {
        /// Contacts with reported C&C endpoints (summed over them) that make a host infected:
        /// "repeatedly", so two.
        public var minimumContacts = 2
        /// Contacts with an indicator endpoint.
        public var minimumIndicatorContacts = 2
    }
}

/// A list of endpoints: whole addresses, prefixes, or address:port/protocol, each with a note
/// (a family for indicators, a reason for allowlist entries).
///
/// File format, one entry per line, `#` comments:
/// ```
/// 192.0.2.23                 mirai     # any port
/// 198.51.100.0/24            beacon
/// 203.0.113.7:443/tcp        dga
/// [2001:db8::1]:8443/tcp     example
/// ```
public struct EndpointList: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var prefix: IPPrefix
        public var port: UInt16?
        public var ipProtocol: UInt8?
        public var note: String
        /// Where an indicator comes from (a sharing peer, a feed); nil: the configured file.
        public var source: String?
        /// How much the source trusts it, 0…1 (STIX `confidence` / 100); nil: fully.
        public var confidence: Double?
        /// Until when it holds (ms since 1970; STIX `valid_until`); nil: while it is listed.
        public var validUntil: Int64?

        public init(
            prefix: IPPrefix, port: UInt16? = nil, ipProtocol: UInt8? = nil, note: String = "", source: String? = nil,
            confidence: Double? = nil, validUntil: Int64? = nil
        ) {
            self.prefix = prefix
            self.port = port
            self.ipProtocol = ipProtocol
            self.note = note
            self.source = source
            self.confidence = confidence.map { $0.isFinite ? min(1, max(0, $0)) : 1 }
            self.validUntil = validUntil
        }

        public func matches(_ e: Endpoint) -> Bool {
            prefix.contains(e.address) && (port == nil || port == e.port) && (ipProtocol == nil || ipProtocol == e.ipProtocol)
        }

        /// Whether the entry still holds at `t` (ms): an expired indicator stops matching.
        public func isValid(at t: Int64) -> Bool { validUntil.map { t < $0 } ?? true }
    }

    public private(set) var entries: [Entry] = []
    private var exactAddresses: [IPAddress: [Int]] = [:]
    private var wider: [Int] = []

    public init(_ entries: [Entry] = []) {
        for e in entries { append(e) }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public mutating func append(_ e: Entry) {
        let i = entries.count
        entries.append(e)
        if e.prefix.storedLength == 128 { exactAddresses[e.prefix.network, default: []].append(i) } else { wider.append(i) }
    }

    /// The first entry matching an endpoint.
    public func match(_ e: Endpoint) -> Entry? {
        if let list = exactAddresses[e.address] {
            for i in list where entries[i].matches(e) { return entries[i] }
        }
        for i in wider where entries[i].matches(e) { return entries[i] }
        return nil
    }

    /// The first entry matching an endpoint that still holds at `t` (ms).
    public func match(_ e: Endpoint, at t: Int64) -> Entry? {
        if let list = exactAddresses[e.address] {
            for i in list where entries[i].matches(e) && entries[i].isValid(at: t) { return entries[i] }
        }
        for i in wider where entries[i].matches(e) && entries[i].isValid(at: t) { return entries[i] }
        return nil
    }

    /// The list without the entries `remove` picks (rebuilt: the indexes are positions).
    public func removingAll(where remove: (Entry) -> Bool) -> EndpointList {
        EndpointList(entries.filter { !remove($0) })
    }

    /// A line that could not be read.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Reads the file format above. Every bad line is reported; good lines are kept.
    public static func parse(_ text: String) -> (EndpointList, [ParseError]) {
        var list = EndpointList()
        var errors: [ParseError] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            guard let first = fields.first else { continue }
            let note = fields.dropFirst().joined(separator: " ")
            if let e = parseEndpoint(first, note: note) {
                list.append(e)
            } else {
                errors.append(ParseError(line: n + 1, reason: "'\(first)' is not an address, prefix or address:port/protocol"))
            }
        }
        return (list, errors)
    }

    static func parseEndpoint(_ text: Substring, note: String) -> Entry? {
        var rest = text
        var proto: UInt8? = nil
        if let slash = rest.lastIndex(of: "/"),
            let p = ["tcp": UInt8(6), "udp": 17, "icmp": 1][rest[rest.index(after: slash)...].lowercased()]
        {
            proto = p
            rest = rest[..<slash]
        }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            guard let a = IPAddress(rest[rest.index(after: rest.startIndex)..<close]) else { return nil }
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":"), let port = UInt16(after.dropFirst()) else { return nil }
            return Entry(prefix: IPPrefix(address: a, length: 128)!, port: port, ipProtocol: proto, note: note)
        }
        if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            guard let a = IPAddress(rest[..<colon]), let port = UInt16(rest[rest.index(after: colon)...]) else { return nil }
            return Entry(prefix: IPPrefix(address: a, length: 32)!, port: port, ipProtocol: proto, note: note)
        }
        guard proto == nil, let prefix = IPPrefix(rest) else { return nil }
        return Entry(prefix: prefix, note: note)
    }
}
