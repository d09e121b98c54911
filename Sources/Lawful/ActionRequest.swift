/// What is known about a device said to be infected, as the detectors measured it.
public struct InfectionEvidence: Sendable, Hashable, Codable {
    /// A C&C server the device talked to.
    public struct CommandAndControlContact: Sendable, Hashable, Codable {
        /// `address:port/protocol` of the C&C side.
        public var endpoint: String
        /// The malware family, when an indicator list names it.
        public var family: String?
        /// Contacts counted in the window.
        public var contacts: Int

        public init(endpoint: String, family: String?, contacts: Int) {
            self.endpoint = endpoint
            self.family = family
            self.contacts = contacts
        }
    }

    /// Time window of the evidence (ms since the epoch).
    public var from: Int64
    public var to: Int64
    /// Peak outbound attack rate from the device, packets/s (sampling-corrected).
    public var attackPacketsPerSecond: Double?
    /// Peak outbound attack rate from the device, bits/s.
    public var attackBitsPerSecond: Double?
    /// What the attack was, for the record ("UDP flood").
    public var attackKind: String?
    /// Scan rate from the device, distinct destinations per minute.
    public var scanDestinationsPerMinute: Double?
    /// The port scanned.
    public var scanPort: UInt16?
    public var commandAndControl: [CommandAndControlContact]
    /// A network fault this device caused before (incident reference), if the carrier recorded one.
    public var priorNetworkFault: String?

    public init(
        from: Int64, to: Int64, attackPacketsPerSecond: Double? = nil, attackBitsPerSecond: Double? = nil, attackKind: String? = nil,
        scanDestinationsPerMinute: Double? = nil, scanPort: UInt16? = nil, commandAndControl: [CommandAndControlContact] = [],
        priorNetworkFault: String? = nil
    ) {
        self.from = from
        self.to = to
        self.attackPacketsPerSecond = attackPacketsPerSecond
        self.attackBitsPerSecond = attackBitsPerSecond
        self.attackKind = attackKind
        self.scanDestinationsPerMinute = scanDestinationsPerMinute
        self.scanPort = scanPort
        self.commandAndControl = commandAndControl
        self.priorNetworkFault = priorNetworkFault
    }
}

/// A vulnerability report about a subscriber's device (NOTICE-style, Shadowserver CSV …).
public struct VulnerabilityReport: Sendable, Hashable, Codable {
    /// Who reported it ("NOTICE", "Shadowserver").
    public var source: String
    /// What is wrong, in words the notice can use ("telnet with a default password").
    public var vulnerability: String
    /// How to fix it, in words the notice can use. A notice must explain the fix.
    public var remediation: String
    /// When the device was observed (ms since the epoch).
    public var observedAt: Int64

    public init(source: String, vulnerability: String, remediation: String, observedAt: Int64) {
        self.source = source
        self.vulnerability = vulnerability
        self.remediation = remediation
        self.observedAt = observedAt
    }
}

/// What a C&C indicator about to be shared contains.
public struct IndicatorShare: Sendable, Hashable, Codable {
    /// The C&C side: `address:port/protocol` or a domain name.
    public var indicator: String
    /// Subscriber identifiers (accounts, pseudonyms, names) in the object.
    public var subscriberIdentifiers: [String]
    /// Subscriber-side addresses (inside the carrier's address plan) in the object.
    public var subscriberAddresses: [String]
    /// Counts given only as aggregates (number of infected devices …), never per subscriber.
    public var countsAreAggregate: Bool

    public init(
        indicator: String, subscriberIdentifiers: [String] = [], subscriberAddresses: [String] = [], countsAreAggregate: Bool = true
    ) {
        self.indicator = indicator
        self.subscriberIdentifiers = subscriberIdentifiers
        self.subscriberAddresses = subscriberAddresses
        self.countsAreAggregate = countsAreAggregate
    }
}

/// How the flow analysis is run, as the configuration says.
public struct AnalysisPractice: Sendable, Hashable, Codable {
    /// Detectors run on their own, without people reading flows.
    public var mechanical: Bool
    /// Raw flow records are written to disk.
    public var persistsRawFlows: Bool
    /// Evidence retention in days (nil: kept forever).
    public var evidenceRetentionDays: Int?

    public init(mechanical: Bool, persistsRawFlows: Bool, evidenceRetentionDays: Int?) {
        self.mechanical = mechanical
        self.persistsRawFlows = persistsRawFlows
        self.evidenceRetentionDays = evidenceRetentionDays
    }
}

/// A request to stop calls to one destination during revenue share fraud.
public struct CallBlockRequest: Sendable, Hashable, Codable {
    /// The destination (country code or number prefix, "+882").
    public var destination: String
    /// Share of recent calls to the destination that are fraudulent, 0…1.
    public var fraudShare: Double
    /// The fraud period seen (ms since the epoch).
    public var fraudFrom: Int64
    public var fraudTo: Int64?
    /// The requested block (ms since the epoch).
    public var blockFrom: Int64
    public var blockUntil: Int64
    /// The analyst recorded that trade ties with the destination were weighed.
    public var tradeTiesWeighed: Bool
    /// Urgent calls (emergency, maritime …) stay possible during the block.
    public var urgentCallsExempt: Bool
    /// Victims are not billed for the fraudulent calls.
    public var victimsNotBilled: Bool

    public init(
        destination: String, fraudShare: Double, fraudFrom: Int64, fraudTo: Int64?, blockFrom: Int64, blockUntil: Int64,
        tradeTiesWeighed: Bool, urgentCallsExempt: Bool, victimsNotBilled: Bool
    ) {
        self.destination = destination
        self.fraudShare = fraudShare
        self.fraudFrom = fraudFrom
        self.fraudTo = fraudTo
        self.blockFrom = blockFrom
        self.blockUntil = blockUntil
        self.tradeTiesWeighed = tradeTiesWeighed
        self.urgentCallsExempt = urgentCallsExempt
        self.victimsNotBilled = victimsNotBilled
    }
}

/// A BGP filter (RTBH, FlowSpec) about to be announced against an attack.
public struct AttackMitigation: Sendable, Hashable, Codable {
    /// Which way the filtered traffic flows.
    public enum Direction: String, Sendable, Hashable, Codable {
        /// A flood against a subscriber's address: the carrier protects its network and the victim.
        case inboundToVictim = "inbound_to_victim"
        /// Attack or scan traffic from a subscriber's device: the filter touches that subscriber's communications.
        case outboundFromSubscriber = "outbound_from_subscriber"
    }

    public var direction: Direction
    /// The filter in words ("203.0.113.7/32 udp from port 123: discard").
    public var rule: String
    /// The attack as measured (rates, scan rate, window).
    public var evidence: InfectionEvidence

    public init(direction: Direction, rule: String, evidence: InfectionEvidence) {
        self.direction = direction
        self.rule = rule
        self.evidence = evidence
    }
}

/// One question for the legal-basis engine: may Mamori do this, now, on this evidence?
public enum ActionRequest: Sendable, Hashable {
    case analyseFlows(AnalysisPractice)
    case shareIndicator(IndicatorShare)
    case warnInfection(subscriber: String, consent: ConsentState, evidence: InfectionEvidence)
    case warnVulnerability(subscriber: String, consent: ConsentState, report: VulnerabilityReport)
    case sinkholeDNS(subscriber: String, consent: ConsentState)
    case blockCallDestination(CallBlockRequest)
    /// `subscriber`: the pseudonym of the subscriber whose traffic an outbound filter touches
    /// (nil when attribution could not name one, or for an inbound filter).
    case mitigateAttack(subscriber: String?, consent: ConsentState, mitigation: AttackMitigation)

    public var action: LawfulAction {
        switch self {
        case .analyseFlows: .analyseFlows
        case .shareIndicator: .shareIndicator
        case .warnInfection: .warnInfection
        case .warnVulnerability: .warnVulnerability
        case .sinkholeDNS: .sinkholeDNS
        case .blockCallDestination: .blockCallDestination
        case .mitigateAttack: .mitigateAttack
        }
    }

    public var subscriber: String? {
        switch self {
        case .warnInfection(let s, _, _), .warnVulnerability(let s, _, _), .sinkholeDNS(let s, _): s
        case .mitigateAttack(let s, _, _): s
        case .analyseFlows, .shareIndicator, .blockCallDestination: nil
        }
    }
}

/// The engine's answer, recorded in the audit log and on the case.
public struct LegalDecision: Sendable, Hashable, Codable {
    public var action: LawfulAction
    /// Subscriber pseudonym, for subscriber actions.
    public var subscriber: String?
    public var permitted: Bool
    public var basis: LegalBasis
    /// Why, in words: the route taken and its conditions, or every route that was closed and why.
    public var reasons: [String]
    /// When it was decided (ms since the epoch).
    public var decidedAt: Int64
    /// The terms version in force then, if any.
    public var termsInForce: String?

    public init(
        action: LawfulAction, subscriber: String?, permitted: Bool, basis: LegalBasis, reasons: [String], decidedAt: Int64,
        termsInForce: String?
    ) {
        self.action = action
        self.subscriber = subscriber
        self.permitted = permitted
        self.basis = basis
        self.reasons = reasons
        self.decidedAt = decidedAt
        self.termsInForce = termsInForce
    }

    /// "basis: reason; reason".
    public var summary: String {
        "\(basis): " + reasons.joined(separator: "; ")
    }
}
