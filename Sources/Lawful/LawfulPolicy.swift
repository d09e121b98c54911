/// The carrier's own terms and thresholds: what its contract terms disclose, which malware
/// families and which rates make the legitimate-business route open, how often a subscriber is
/// re-notified. Read from the policy file (`policy:` YAML, see docs/lawful-action.md); the
/// defaults follow DESIGN.md and disclose nothing, so with no policy only individual consent and
/// the non-subscriber rows of the legal frame are open.
public struct LawfulPolicy: Sendable, Hashable {
    /// One version of the contract terms and the actions it tells subscribers about in advance.
    public struct Terms: Sendable, Hashable {
        public var version: String
        /// When this version came into force (ms since the epoch).
        public var effective: Int64
        /// Actions these terms disclose (comprehensive consent covers only these).
        public var discloses: Set<LawfulAction>
        /// For the DNS sinkhole: what the terms say is observed and when. Blocking on
        /// comprehensive consent needs it stated.
        public var observationStatement: String?

        public init(version: String, effective: Int64, discloses: Set<LawfulAction>, observationStatement: String? = nil) {
            self.version = version
            self.effective = effective
            self.discloses = discloses
            self.observationStatement = observationStatement
        }
    }

    /// When the legitimate-business route is open for warning a subscriber.
    public struct LegitimateBusiness: Sendable, Hashable {
        /// Malware families whose C&C contact qualifies (lower case).
        public var qualifyingFamilies: Set<String> = [
            "mirai", "mozi", "gafgyt", "bashlite", "hajime", "emotet", "qakbot", "icedid", "trickbot", "xorddos", "tsunami", "moobot",
        ]
        /// Contacts with a qualifying C&C that count as "repeatedly".
        public var repeatedContacts: Int = 3
        /// Outbound attack rate that burdens the network (packets/s, after sampling correction).
        public var attackPacketsPerSecond: Double = 10_000
        /// Outbound attack rate that burdens the network (bits/s).
        public var attackBitsPerSecond: Double = 100_000_000
        /// Scan rate that burdens the network (distinct destinations per minute).
        public var scanDestinationsPerMinute: Double = 300
        /// Whether an opt-out from a warning also closes the legitimate-business route. The law
        /// does not need consent there, but a carrier may promise more; default: honoured.
        public var honourOptOut: Bool = true

        public init() {}
    }

    /// Conditions on warnings about vulnerable devices.
    public struct Vulnerability: Sendable, Hashable {
        /// Report sources the carrier trusts (case-insensitive): national programmes, Shadowserver.
        public var trustedSources: Set<String> = ["notice", "shadowserver"]
        public init() {}
    }

    /// Conditions on the DNS sinkhole.
    public struct Sinkhole: Sendable, Hashable {
        /// How a subscriber opts out, in words shown to them. Empty: no real opt-out, so no sinkhole.
        public var optOutMethod: String = ""
        public init() {}
    }

    /// Conditions on normal-time flow analysis.
    public struct Analysis: Sendable, Hashable {
        /// Longest evidence retention that still counts as "only what is needed is kept".
        public var maximumEvidenceRetentionDays: Int = 180
        public init() {}
    }

    /// Limits on blocking calls to a destination during IP-phone fraud.
    public struct CallFraud: Sendable, Hashable {
        /// Share of calls to the destination that must be fraudulent ("almost exclusively").
        public var exclusiveFraudShare: Double = 0.9
        /// Longest block, in hours, before it must be decided again.
        public var maximumBlockHours: Int = 72
        public init() {}
    }

    /// How notices are sent.
    public struct Notices: Sendable, Hashable {
        /// Hours before the same case is notified again.
        public var renotifyAfterHours: Int = 168
        /// Notices after which continued misbehaviour escalates the case to an analyst.
        public var escalateAfterNotices: Int = 2
        /// Languages notices are written in; the first is the default.
        public var languages: [String] = ["ja", "en"]
        /// Days a notice page link stays valid.
        public var linkValidDays: Int = 30
        /// How to reach support, printed in every notice.
        public var support: String = ""
        public init() {}
    }

    public var terms: [Terms] = []
    public var legitimateBusiness = LegitimateBusiness()
    public var vulnerability = Vulnerability()
    public var sinkhole = Sinkhole()
    public var analysis = Analysis()
    public var callFraud = CallFraud()
    public var notices = Notices()

    public init(terms: [Terms] = []) {
        self.terms = terms
    }

    /// The terms version in force at `at`: the latest effective at or before it.
    public func termsInForce(at: Int64) -> Terms? {
        terms.filter { $0.effective <= at }.max { $0.effective < $1.effective }
    }

    /// A terms version by name.
    public func terms(version: String) -> Terms? {
        terms.first { $0.version == version }
    }
}
