import FlowCodec

/// An inclusive range of 16-bit values: ports, packet lengths.
public struct ValueRange: Sendable, Hashable, Codable, CustomStringConvertible {
    public var first: UInt16
    public var last: UInt16

    public init(_ first: UInt16, _ last: UInt16) {
        self.first = min(first, last)
        self.last = max(first, last)
    }

    /// One value.
    public init(_ value: UInt16) { self.init(value, value) }

    public var description: String { first == last ? "\(first)" : "\(first)-\(last)" }
}

/// What a FlowSpec rule (RFC 8955) matches. Every component is optional; an empty list matches
/// anything. A blackhole (RTBH) rule uses only ``destination``.
public struct FlowSpecMatch: Sendable, Hashable, Codable, CustomStringConvertible {
    public var destination: IPPrefix?
    public var source: IPPrefix?
    /// IP protocol numbers (6 TCP, 17 UDP, 1 ICMP …).
    public var protocols: [UInt8]
    public var destinationPorts: [ValueRange]
    public var sourcePorts: [ValueRange]
    /// Total IP packet length, bytes.
    public var packetLength: ValueRange?

    public init(
        destination: IPPrefix? = nil, source: IPPrefix? = nil, protocols: [UInt8] = [], destinationPorts: [ValueRange] = [],
        sourcePorts: [ValueRange] = [], packetLength: ValueRange? = nil
    ) {
        self.destination = destination
        self.source = source
        self.protocols = protocols.sorted()
        self.destinationPorts = destinationPorts.sorted { ($0.first, $0.last) < ($1.first, $1.last) }
        self.sourcePorts = sourcePorts.sorted { ($0.first, $0.last) < ($1.first, $1.last) }
        self.packetLength = packetLength
    }

    /// The prefixes the rule names (destination, then source).
    public var prefixes: [IPPrefix] { [destination, source].compactMap { $0 } }

    /// The components as (label, value), `any` for an open prefix.
    private var components: [(String, String)] {
        var parts = [("dst", destination.map(\.description) ?? "any"), ("src", source.map(\.description) ?? "any")]
        if !protocols.isEmpty { parts.append(("proto", protocols.map(String.init).joined(separator: ","))) }
        if !destinationPorts.isEmpty { parts.append(("dport", destinationPorts.map(\.description).joined(separator: ","))) }
        if !sourcePorts.isEmpty { parts.append(("sport", sourcePorts.map(\.description).joined(separator: ","))) }
        if let packetLength { parts.append(("len", packetLength.description)) }
        return parts
    }

    /// "dst 203.0.113.7/32 src any proto 17 sport 123 len 400-1500": canonical, so it keys the rule id.
    public var description: String { components.map { "\($0) \($1)" }.joined(separator: " ") }

    /// "dst 203.0.113.7/32 proto 17 sport 123 len 400-1500": ``description`` without the parts
    /// that match anything, for people (a rule on nothing at all reads "any").
    public var summary: String {
        let parts = components.filter { $0.1 != "any" }
        return parts.isEmpty ? "any" : parts.map { "\($0) \($1)" }.joined(separator: " ")
    }

    private enum CodingKeys: String, CodingKey {
        case destination, source, protocols
        case destinationPorts = "destination_ports"
        case sourcePorts = "source_ports"
        case packetLength = "packet_length"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func prefix(_ key: CodingKeys) throws -> IPPrefix? {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let p = IPPrefix(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a prefix: \(text)")
            }
            return p
        }
        self.init(
            destination: try prefix(.destination), source: try prefix(.source),
            protocols: try c.decodeIfPresent([UInt8].self, forKey: .protocols) ?? [],
            destinationPorts: try c.decodeIfPresent([ValueRange].self, forKey: .destinationPorts) ?? [],
            sourcePorts: try c.decodeIfPresent([ValueRange].self, forKey: .sourcePorts) ?? [],
            packetLength: try c.decodeIfPresent(ValueRange.self, forKey: .packetLength))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(destination?.description, forKey: .destination)
        try c.encodeIfPresent(source?.description, forKey: .source)
        try c.encode(protocols, forKey: .protocols)
        try c.encode(destinationPorts, forKey: .destinationPorts)
        try c.encode(sourcePorts, forKey: .sourcePorts)
        try c.encodeIfPresent(packetLength, forKey: .packetLength)
    }
}

/// What a FlowSpec rule does to matching traffic (RFC 8955 traffic-rate action).
public enum FlowSpecAction: Sendable, Hashable, Codable, CustomStringConvertible {
    case discard
    /// Police to this rate (a traffic-rate of 0 is a discard).
    case rateLimit(bytesPerSecond: Float)

    public var description: String {
        switch self {
        case .discard: "discard"
        case .rateLimit(let r): "rate-limit \(Int(r)) B/s"
        }
    }
}

/// What started a mitigation: one of the attack findings the planner maps.
public enum MitigationTrigger: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// A flood against a subscriber's address with no reflection signature: RTBH of the victim.
    case inboundFlood = "inbound_flood"
    /// A reflection/amplification flood (UDP from one amplifier port): FlowSpec on that port.
    case inboundReflection = "inbound_reflection"
    /// A subscriber's device flooding an external target: FlowSpec on its source.
    case outboundAttack = "outbound_attack"
    /// A subscriber's device scanning: FlowSpec on its source and the scanned ports.
    case scanning = "scanning"

    /// Whether the filter touches a subscriber's own traffic (and so needs the lawful engine's yes).
    public var isOutbound: Bool { self == .outboundAttack || self == .scanning }

    public var description: String { rawValue }
}

/// A BGP mitigation: an RTBH route or a FlowSpec rule, with why, until when, and where it stands.
public struct MitigationRule: Sendable, Hashable, Codable, Identifiable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Remotely triggered black hole (RFC 7999) of a host route.
        case blackhole
        /// A FlowSpec rule (RFC 8955).
        case flowSpec = "flowspec"
    }

    /// Who asked for it.
    public enum Origin: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Planned from this finding.
        case finding(id: String)
        /// Announced by hand by this operator.
        case manual(operator: String)

        public var description: String {
            switch self {
            case .finding(let id): "finding \(id)"
            case .manual(let op): "by hand (\(op))"
            }
        }
    }

    public enum State: String, Sendable, Hashable, Codable {
        /// Planned, not yet through the rails.
        case proposed
        /// Waiting for an operator's approval.
        case pending
        /// Passed the rails in dry-run mode: logged, never announced.
        case dryRun = "dry_run"
        /// Announced.
        case active
        case withdrawn
        case refused
    }

    /// Derived from kind and match (``id(kind:match:action:)``): the same attack maps to the same rule.
    public var id: String
    public var kind: Kind
    public var match: FlowSpecMatch
    /// `.discard` for a blackhole.
    public var action: FlowSpecAction
    public var trigger: MitigationTrigger?
    /// The finding that caused it (nil for a manual rule).
    public var findingID: String?
    public var reason: String
    /// ms since the Unix epoch.
    public var createdAt: Int64
    public var expiresAt: Int64
    public var origin: Origin
    public var state: State

    public init(
        kind: Kind, match: FlowSpecMatch, action: FlowSpecAction = .discard, trigger: MitigationTrigger?, findingID: String?,
        reason: String, createdAt: Int64, expiresAt: Int64, origin: Origin, state: State = .proposed
    ) {
        self.id = Self.id(kind: kind, match: match)
        self.kind = kind
        self.match = match
        self.action = kind == .blackhole ? .discard : action
        self.trigger = trigger
        self.findingID = findingID
        self.reason = reason
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.origin = origin
        self.state = state
    }

    /// `rtbh:` or `flowspec:` + 16 hex digits of FNV-1a over the canonical match: stable across
    /// runs and machines.
    public static func id(kind: Kind, match: FlowSpecMatch) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in "\(kind.rawValue)|\(match)".utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let hex = String(h, radix: 16)
        return "\(kind == .blackhole ? "rtbh" : "flowspec"):\(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }

    /// "RTBH 203.0.113.7/32" or "FlowSpec dst … : discard".
    public var summary: String {
        switch kind {
        case .blackhole: "RTBH \(match.destination.map(\.description) ?? "?")"
        case .flowSpec: "FlowSpec \(match): \(action)"
        }
    }
}
