/// What a detector concluded. The JSON form is documented in `docs/findings.md`.
public enum FindingKind: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// An external endpoint that is very likely a botnet command-and-control server.
    case commandAndControl = "c2-server"
    /// Subscriber traffic to an endpoint on an indicator list.
    case knownIndicator = "known-indicator"
    /// A subscriber-side host probing many addresses on one port.
    case scanning = "scanning"
    /// Subscriber-side hosts flooding one external target.
    case outboundDDoS = "outbound-ddos"
    /// A volumetric attack against a subscriber address.
    case inboundDDoS = "inbound-ddos"
    /// A subscriber-side host that talks to C&C, scans or joins attacks.
    case infectedDevice = "infected-device"

    public static func < (a: FindingKind, b: FindingKind) -> Bool { a.rawValue < b.rawValue }
}

/// What a finding is about.
public struct FindingSubject: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// An external (address, port, protocol).
        case endpoint
        /// A subscriber-side host: an address, with a CGNAT port range when known.
        case host
        /// A bare address (an attack target outside).
        case address
    }
    public var type: Kind
    public var address: String
    public var port: UInt16?
    public var `protocol`: String?
    public var ports: PortRange?

    public struct PortRange: Sendable, Hashable, Codable {
        public var first: UInt16
        public var last: UInt16

        public init(first: UInt16, last: UInt16) {
            self.first = first
            self.last = last
        }
    }

    public init(type: Kind, address: String, port: UInt16?, protocol: String?, ports: PortRange?) {
        self.type = type
        self.address = address
        self.port = port
        self.`protocol` = `protocol`
        self.ports = ports
    }

    public var description: String {
        switch type {
        case .endpoint: "\(address.contains(":") ? "[\(address)]" : address):\(port ?? 0)/\(`protocol` ?? "?")"
        case .host: ports.map { "\(address):\($0.first)-\($0.last)" } ?? address
        case .address: address
        }
    }
}

/// The name of a measured quantity in a finding's evidence. Every name is defined once, here;
/// its raw string is what the JSON carries (docs/findings.md) and is matched nowhere else.
public struct FeatureName: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let attackPacketsPerSecond = FeatureName("attack_packets_per_second")
    public static let baselinePacketsPerSecond = FeatureName("baseline_packets_per_second")
    public static let beaconingHosts = FeatureName("beaconing_hosts")
    public static let c2Contacts = FeatureName("c2_contacts")
    public static let cohortBotShare = FeatureName("cohort_bot_share")
    public static let cohortShare = FeatureName("cohort_share")
    public static let contacts = FeatureName("contacts")
    public static let distinctDestinations = FeatureName("distinct_destinations")
    public static let distinctHosts = FeatureName("distinct_hosts")
    public static let hosts = FeatureName("hosts")
    public static let indicatorContacts = FeatureName("indicator_contacts")
    public static let meanPacketsPerRecord = FeatureName("mean_packets_per_record")
    public static let meanUpstreamBytes = FeatureName("mean_upstream_bytes")
    public static let medianContacts = FeatureName("median_contacts")
    public static let medianInterval = FeatureName("median_interval")
    public static let observedDestinations = FeatureName("observed_destinations")
    public static let observedProbes = FeatureName("observed_probes")
    public static let participants = FeatureName("participants")
    public static let payloadUniformity = FeatureName("payload_uniformity")
    public static let peakBitsPerSecond = FeatureName("peak_bits_per_second")
    public static let peakPacketsPerSecond = FeatureName("peak_packets_per_second")
    public static let periodicity = FeatureName("periodicity")
    public static let rarity = FeatureName("rarity")
    public static let samplingInterval = FeatureName("sampling_interval")
    public static let servicePoolAddresses = FeatureName("service_pool_addresses")
    public static let servicePoolHosts = FeatureName("service_pool_hosts")
    public static let sessionHosts = FeatureName("session_hosts")
    public static let sessionMinutes = FeatureName("session_minutes")
    public static let sessionRecords = FeatureName("session_records")
    public static let sourcesSeen = FeatureName("sources_seen")
    public static let window = FeatureName("window")
    /// Lookups of sinkholed C&C names by one device (the resolvers' dnstap log).
    public static let sinkholedLookups = FeatureName("sinkholed_lookups")
    /// Connections of one device to the sinkhole listener.
    public static let sinkholeConnections = FeatureName("sinkhole_connections")
    /// Distinct names one device asked for that do not exist (NXDOMAIN), in a window.
    public static let nxdomainNames = FeatureName("nxdomain_names")
    /// Of those, the names that look algorithmically generated (a DGA).
    public static let generatedNames = FeatureName("generated_names")
    /// The share of generated names among them.
    public static let generatedNameShare = FeatureName("generated_name_share")

    /// Distinct destinations a scan reached on one port (a scanning finding).
    public static func destinations(port: UInt16) -> FeatureName { FeatureName("destinations_port_\(port)") }
    /// The same, as an infected device's evidence.
    public static func scanDestinations(port: UInt16) -> FeatureName { FeatureName("scan_destinations_port_\(port)") }
    /// The port of a ``scanDestinations(port:)`` name, nil for any other name.
    public var scanDestinationsPort: UInt16? {
        let prefix = "scan_destinations_port_"
        return rawValue.hasPrefix(prefix) ? UInt16(rawValue.dropFirst(prefix.count)) : nil
    }
}

/// A measured quantity behind a finding.
public struct Feature: Sendable, Hashable, Codable {
    public var name: FeatureName
    public var value: Double
    public var unit: String?
    /// What the quantity is about when a finding has several of one kind: the C&C or indicator
    /// endpoint of a device's `c2_contacts` / `indicator_contacts`, the target of its attack.
    public var about: String?

    public init(_ name: FeatureName, _ value: Double, unit: String? = nil, about: String? = nil) {
        self.name = name
        self.value = value
        self.unit = unit
        self.about = about
    }
}

/// A configured limit and whether the evidence crossed it.
public struct ThresholdCheck: Sendable, Hashable, Codable {
    public var name: String
    public var value: Double
    /// `>=` or `<`.
    public var comparison: String
    public var limit: Double
    public var crossed: Bool

    public static func atLeast(_ name: String, _ value: Double, _ limit: Double) -> ThresholdCheck {
        ThresholdCheck(name: name, value: value, comparison: ">=", limit: limit, crossed: value >= limit)
    }

    public static func below(_ name: String, _ value: Double, _ limit: Double) -> ThresholdCheck {
        ThresholdCheck(name: name, value: value, comparison: "<", limit: limit, crossed: value < limit)
    }
}

/// One flow record kept as evidence. The subscriber side is a pseudonym unless the finding is
/// about that subscriber's own host.
public struct FlowSample: Sendable, Hashable, Codable {
    public var start: Int64
    public var end: Int64
    public var source: String
    public var sourcePort: UInt16
    public var destination: String
    public var destinationPort: UInt16
    public var `protocol`: String
    public var tcpFlags: UInt8
    public var packets: UInt64
    public var bytes: UInt64
    public var samplingInterval: UInt32

    public init(
        start: Int64, end: Int64, source: String, sourcePort: UInt16, destination: String, destinationPort: UInt16,
        protocol: String, tcpFlags: UInt8, packets: UInt64, bytes: UInt64, samplingInterval: UInt32
    ) {
        self.start = start
        self.end = end
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.`protocol` = `protocol`
        self.tcpFlags = tcpFlags
        self.packets = packets
        self.bytes = bytes
        self.samplingInterval = samplingInterval
    }
}

/// Everything an analyst needs to agree or disagree with a finding.
public struct Evidence: Sendable, Hashable, Codable {
    public var features: [Feature] = []
    public var thresholds: [ThresholdCheck] = []
    /// A few flows (at most ``DetectionConfiguration/evidenceFlows``).
    public var flows: [FlowSample] = []
    /// Internal hosts involved, as keyed pseudonyms (at most 64 listed).
    public var cohort: [String] = []
    public var cohortSize: Int = 0
    /// Ids of findings this one rests on or relates to.
    public var related: [String] = []
    /// Why, in words.
    public var reasons: [String] = []
    /// When each of a few cohort hosts made contact (a beacon's heartbeat, for the console's
    /// timeline plot): at most ``ContactTimes/maximumHosts`` hosts, the latest
    /// ``ContactTimes/maximumTimes`` contacts each. Nil in findings stored before it existed.
    public var contacts: [ContactTimes]? = nil

    public init() {}
}

/// One host's contact times with a finding's subject (ms since the Unix epoch, ascending).
public struct ContactTimes: Sendable, Hashable, Codable {
    /// The host, as a keyed pseudonym.
    public var host: String
    public var times: [Int64]

    public static let maximumHosts = 12
    public static let maximumTimes = 64

    public init(host: String, times: [Int64]) {
        self.host = host
        self.times = Array(times.suffix(Self.maximumTimes))
    }
}

/// What attribution can say about an address (and port) at a time: one answer type for the
/// index, the API, findings and cases.
public enum AttributionOutcome: String, Sendable, Hashable, Codable {
    /// Exactly one subscriber's claims cover the time (within the clock-skew allowance).
    case attributed
    /// More than one subscriber's claims cover the time, or a CGNAT address was asked about
    /// without a port: the data cannot decide, and Mamori does not guess.
    case ambiguous
    /// No claim covers the time.
    case unknown
}

/// The subscriber behind a finding's host, as attribution answered it. Only the pseudonym is
/// here: the real identifier comes back through an audited reveal.
public struct FindingSubscriber: Sendable, Hashable, Codable {
    /// What attribution could say about the finding's host.
    public var outcome: AttributionOutcome
    /// The subscriber's pseudonym (`s:` + 16 hex digits) when attributed.
    public var pseudonym: String?
    /// Every candidate's pseudonym when ambiguous.
    public var candidates: [String]
    /// 0…1 (see the attribution rules in docs/attribution.md).
    public var confidence: Double
    /// The strongest evidence's source (`radius`, `dhcp`, `nat-event`, …).
    public var source: String?
    /// The answer in words (addresses and sources, never an identifier).
    public var reason: String
    /// The times looked up (the finding's first and last activity), ms since the Unix epoch.
    public var at: [Int64]

    public init(
        outcome: AttributionOutcome, pseudonym: String?, candidates: [String], confidence: Double, source: String?, reason: String,
        at: [Int64]
    ) {
        self.outcome = outcome
        self.pseudonym = pseudonym
        self.candidates = candidates
        self.confidence = confidence
        self.source = source
        self.reason = reason
        self.at = at
    }
}

/// A detector's conclusion about one subject.
public struct Finding: Sendable, Hashable, Codable, Identifiable {
    /// Stable for a (kind, subject): the same C&C found again updates the same finding.
    public var id: String
    public var kind: FindingKind
    public var subject: FindingSubject
    /// Confidence in [0, 1].
    public var score: Double
    /// Activity window of the evidence, ms since the Unix epoch.
    public var firstSeen: Int64
    public var lastSeen: Int64
    /// When the finding was first reported, and last updated (analyzer clock).
    public var detectedAt: Int64
    public var updatedAt: Int64
    /// Malware family, when an indicator or a label says so.
    public var family: String?
    /// One line in words.
    public var summary: String
    public var evidence: Evidence
    /// The analyst's verdict, if any.
    public var verdict: Verdict? = nil
    /// Who held the subject's address during the finding (host subjects), as a pseudonym; set by
    /// the attribution step as soon as the identity data covers the finding.
    public var subscriber: FindingSubscriber? = nil

    public init(
        id: String, kind: FindingKind, subject: FindingSubject, score: Double, firstSeen: Int64, lastSeen: Int64,
        detectedAt: Int64, updatedAt: Int64, family: String?, summary: String, evidence: Evidence, verdict: Verdict? = nil
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.score = score
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.detectedAt = detectedAt
        self.updatedAt = updatedAt
        self.family = family
        self.summary = summary
        self.evidence = evidence
        self.verdict = verdict
    }

    /// The stable id of the finding about `subject` of `kind`: `kind:` + 16 hex digits.
    public static func id(kind: FindingKind, subject: FindingSubject) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 // FNV-1a, stable across runs and machines
        for b in "\(kind.rawValue)|\(subject.type.rawValue)|\(subject.description)".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let hex = String(h, radix: 16)
        return "\(kind.rawValue):\(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }
}
