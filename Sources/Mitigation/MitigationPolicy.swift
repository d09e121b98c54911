import FlowCodec
import MamoriCore

/// How one trigger is handled.
public enum MitigationMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Not planned at all.
    case off
    /// Planned and checked against the rails, logged, never announced.
    case dryRun = "dry_run"
    /// Planned and checked, then held until an operator approves it.
    case manualApproval = "manual_approval"
    /// Announced as soon as it passes the rails.
    case automatic
}

/// What happens to announced rules when Mamori stops.
public enum MitigationShutdownPolicy: String, Sendable, Hashable, Codable {
    /// Withdraw every rule before the sessions close.
    case withdrawAll = "withdraw_all"
    /// Leave them: the speaker closes the sessions without a NOTIFICATION and the routers keep
    /// the rules by graceful restart (RFC 4724) until Mamori is back or the restart time ends.
    case leave
}

/// The safety rails and the mapping of triggers to rules: a value, read from the configuration.
public struct MitigationPolicy: Sendable, Hashable {
    /// How one trigger maps to a rule.
    public struct TriggerSettings: Sendable, Hashable, Codable {
        public var mode: MitigationMode
        /// Lifetime of a new rule, and the extension when the attack is seen again (ms).
        public var ttlMilliseconds: Int64
        /// The FlowSpec action (ignored for a blackhole).
        public var action: FlowSpecAction

        public init(mode: MitigationMode, ttlMilliseconds: Int64, action: FlowSpecAction = .discard) {
            self.mode = mode
            self.ttlMilliseconds = ttlMilliseconds
            self.action = action
        }
    }

    /// Prefixes no rule may touch: the carrier's infrastructure, resolvers, peers' sessions. A
    /// rule is refused when one of its prefixes lies inside a protected one or contains one.
    public var protected: PrefixSet = PrefixSet()
    /// The shortest destination or source prefix a rule may name, per family.
    public var minimumIPv4Length: Int = 24
    public var minimumIPv6Length: Int = 48
    /// Rules announced at once.
    public var maximumActive: Int = 500
    /// New rules announced in any rolling minute (an extension is not new).
    public var maximumNewPerMinute: Int = 30
    /// Rules waiting for approval; more are refused.
    public var maximumPending: Int = 200
    /// Dry-run rules remembered (for the API), and refusals kept in the history.
    public var maximumDryRun: Int = 500
    public var maximumRefusals: Int = 1_000
    /// The longest a rule lives from its creation, however often it is extended (ms).
    public var maximumLifetimeMilliseconds: Int64 = 24 * 3_600_000
    public var shutdown: MitigationShutdownPolicy = .withdrawAll
    public var triggers: [MitigationTrigger: TriggerSettings] = [
        .inboundFlood: TriggerSettings(mode: .manualApproval, ttlMilliseconds: 30 * 60_000),
        .inboundReflection: TriggerSettings(mode: .automatic, ttlMilliseconds: 30 * 60_000),
        .outboundAttack: TriggerSettings(mode: .manualApproval, ttlMilliseconds: 60 * 60_000),
        .scanning: TriggerSettings(mode: .dryRun, ttlMilliseconds: 60 * 60_000),
    ]
    /// UDP source ports of amplification services: a flood mostly from one of them is a reflection.
    public var reflectionPorts: [UInt16: String] = Self.amplifiers
    /// The share of a flood's sampled packets that must come from one amplifier port.
    public var reflectionMinimumShare: Double = 0.8
    /// Match the packet length too when every sampled flow's mean packet is at least this long
    /// (amplified answers are large; 0 disables the length match).
    public var reflectionMinimumPacketLength: Int = 200

    public init() {}

    /// The settings of a trigger (off when not configured).
    public func settings(_ trigger: MitigationTrigger) -> TriggerSettings {
        triggers[trigger] ?? TriggerSettings(mode: .off, ttlMilliseconds: 0)
    }

    /// Well-known amplification services (US-CERT TA14-017A and later reports).
    public static let amplifiers: [UInt16: String] = [
        19: "chargen", 53: "DNS", 111: "portmap", 123: "NTP", 137: "NetBIOS", 161: "SNMP", 389: "CLDAP", 1900: "SSDP",
        3283: "ARD", 3702: "WS-Discovery", 5683: "CoAP", 10001: "Ubiquiti discovery", 11211: "memcached", 17: "QOTD",
        27015: "Steam", 37810: "DVR discovery",
    ]

    // MARK: Rails on the rule's shape

    /// Why the rule's shape is refused, or nil: protected prefixes (both ways), minimum lengths,
    /// host routes only for RTBH, a FlowSpec rule must name a prefix.
    func shapeRefusal(_ rule: MitigationRule) -> (rail: MitigationRail, reason: String)? {
        let m = rule.match
        if rule.kind == .blackhole {
            guard let d = m.destination, m.source == nil else {
                return (.hostRouteOnly, "a blackhole names exactly one destination host route")
            }
            if d.length != (d.isIPv4 ? 32 : 128) {
                return (.hostRouteOnly, "a blackhole must be a host route (/32 or /128), not \(d)")
            }
        }
        if m.prefixes.isEmpty { return (.minimumLength, "a FlowSpec rule must name a destination or source prefix") }
        for p in m.prefixes {
            let minimum = p.isIPv4 ? minimumIPv4Length : minimumIPv6Length
            if p.length < minimum {
                return (.minimumLength, "\(p) is shorter than the minimum /\(minimum) for IPv\(p.isIPv4 ? 4 : 6)")
            }
            for q in protected.prefixes where Self.overlap(p, q) {
                return (.protectedPrefix, "\(p) overlaps protected \(q)")
            }
        }
        return nil
    }

    /// Whether one prefix contains the other (same family).
    static func overlap(_ a: IPPrefix, _ b: IPPrefix) -> Bool {
        guard a.isIPv4 == b.isIPv4 else { return false }
        return (a.storedLength <= b.storedLength && a.contains(b.network))
            || (b.storedLength <= a.storedLength && b.contains(a.network))
    }
}
