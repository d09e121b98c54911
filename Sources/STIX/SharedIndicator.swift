import FlowCodec

/// What Mamori shares about one external endpoint: the neutral input of the STIX export,
/// made by whoever decides to share (from a finding and the analysts' verdicts). It holds the
/// C&C side only — the endpoint, counts and times — never who talked to it.
public struct SharedIndicator: Sendable, Hashable {
    /// What the endpoint is.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A botnet command-and-control server.
        case commandAndControl = "command-and-control"
        /// A host scanning the carrier's address space.
        case scanner
        /// An open service abused to reflect and amplify attacks.
        case reflector
    }

    /// The endpoint: an address or a domain name.
    public enum Subject: Sendable, Hashable, CustomStringConvertible {
        case address(IPAddress)
        case domain(String)

        public var description: String {
            switch self {
            case .address(let a): a.description
            case .domain(let d): IndicatorMatch.normalised(domain: d)
            }
        }
    }

    public var subject: Subject
    /// The endpoint's (destination) port, when the indicator is about one service.
    public var port: UInt16?
    /// `tcp`, `udp`, … with ``port``.
    public var transport: String?
    public var kind: Kind
    /// The malware family when known (`Mirai`, `Emotet`): a malware object is made for it.
    public var malwareFamily: String?
    /// Malware types of the family (open vocabulary `malware-type-ov`); `bot` by default.
    public var malwareTypes: [String]
    /// The detector's score 0…1, written as `confidence` 0…100.
    public var score: Double
    /// ms since the epoch: when the endpoint was first and last seen.
    public var firstSeen: Int64
    public var lastSeen: Int64
    /// How many times it was seen (contacts, or days with contacts: the sharer's unit).
    public var sightings: Int
    /// ms since the epoch: the indicator's validity.
    public var validFrom: Int64
    public var validUntil: Int64?
    public var tlp: TLP
    /// Free labels (`labels`), e.g. the detector's name.
    public var labels: [String]
    /// ms since the epoch: when this indicator was first exported. Every version of it keeps
    /// this as `created`; it is an input, as only the caller knows it.
    public var firstExported: Int64
    /// An analyst judged it a false positive: the indicator is exported revoked.
    public var revoked: Bool

    public init(
        subject: Subject, port: UInt16? = nil, transport: String? = nil, kind: Kind, malwareFamily: String? = nil,
        malwareTypes: [String] = ["bot"], score: Double, firstSeen: Int64, lastSeen: Int64, sightings: Int, validFrom: Int64,
        validUntil: Int64? = nil, tlp: TLP, labels: [String] = [], firstExported: Int64, revoked: Bool = false
    ) {
        self.subject = subject
        self.port = port
        self.transport = transport
        self.kind = kind
        self.malwareFamily = malwareFamily
        self.malwareTypes = malwareTypes
        self.score = score
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.sightings = sightings
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.tlp = tlp
        self.labels = labels
        self.firstExported = firstExported
        self.revoked = revoked
    }

    /// The STIX pattern: traffic to the endpoint when a port or transport is known, else the
    /// address or the name.
    public var pattern: String {
        switch subject {
        case .address(let a):
            port == nil && transport == nil ? STIXPattern.address(a) : STIXPattern.networkTraffic(to: a, port: port, protocol: transport)
        case .domain(let d):
            STIXPattern.domain(d)
        }
    }

    /// `203.0.113.5:443/tcp`, `[2001:db8::5]:443`, `c2.example.net`.
    public var endpointDescription: String {
        var s = subject.description
        if case .address(let a) = subject, a.isIPv6, port != nil { s = "[\(s)]" }
        if let port { s += ":\(port)" }
        if let transport { s += "/\(transport.lowercased())" }
        return s
    }
}

/// The organisation that shares: the carrier running Mamori, as the STIX identity that creates
/// the objects and sights the indicators.
public struct SharingIdentity: Sendable, Hashable {
    /// The organisation's name as peers know it.
    public var name: String
    /// ms since the epoch: when the identity was first published (its `created`, fixed).
    public var created: Int64

    public init(name: String, created: Int64) {
        self.name = name
        self.created = created
    }

    /// Its id: UUIDv5 of the name, so every export names the same identity.
    public var id: STIXIdentifier { .mamori(type: "identity", key: name) }
}
