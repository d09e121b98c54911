import DNSWire
import FlowCodec

/// What an entry matches: a query name (and, in the zone, its subdomains), or an address or
/// prefix found in a response (RPZ's `rpz-ip` trigger: names that resolve into it).
public enum SinkholeTrigger: Hashable, Sendable, CustomStringConvertible {
    /// A query name; the zone also gets `*.name` unless wildcards are turned off.
    case name(DNSName)
    /// A response address: an IPv4 or IPv6 prefix (a single address is a /32 or /128).
    case address(IPPrefix)

    public var description: String {
        switch self {
        case .name(let name): "name \(name)"
        case .address(let prefix): "address \(prefix)"
        }
    }
}

/// What the resolvers do when an entry matches.
///
/// `.sinkhole` is written as a CNAME to the configured sinkhole host name, which is what RPZ
/// feeds usually do: the resolver then answers with the sinkhole host's own A and AAAA records,
/// so the sinkhole's addresses live in one place (its ordinary zone) and both address families
/// work, instead of every entry carrying local-data A/AAAA records.
public enum SinkholeAction: Hashable, Sendable, CustomStringConvertible {
    /// Answer with a CNAME to the sinkhole host (`CNAME <sinkhole name>`).
    case sinkhole
    /// Answer NXDOMAIN (`CNAME .`).
    case nxdomain
    /// Do not rewrite (`CNAME rpz-passthru.`): a hole in a broader entry.
    case passthru

    public var description: String {
        switch self {
        case .sinkhole: "sinkhole"
        case .nxdomain: "nxdomain"
        case .passthru: "passthru"
        }
    }
}

/// Where an entry came from, for the audit record.
public enum SinkholeSource: Hashable, Sendable {
    /// An indicator of a threat-intelligence feed, by the feed's name.
    case indicator(feed: String)
    /// Added by hand, by the operator's account name.
    case analyst(operator: String)
    /// A detection finding, by its id.
    case finding(id: String)
    /// A name learned from a finding (the name the infected hosts looked up), by the finding's id.
    case learnedName(findingID: String)
}

/// One policy entry: a trigger, an action, why and until when.
public struct SinkholeEntry: Hashable, Sendable {
    public var trigger: SinkholeTrigger
    public var action: SinkholeAction
    public var source: SinkholeSource
    /// Free text for the audit record and the console.
    public var reason: String
    /// Seconds since 1970.
    public var addedAt: Int64
    /// Seconds since 1970, or nil for an entry that stays until removed.
    public var expiresAt: Int64?
    /// The TTL of the entry's records in the zone (how long resolvers may cache the rewrite).
    public var ttl: UInt32

    public init(
        trigger: SinkholeTrigger, action: SinkholeAction = .sinkhole, source: SinkholeSource, reason: String,
        addedAt: Int64, expiresAt: Int64?, ttl: UInt32 = 300
    ) {
        self.trigger = trigger
        self.action = action
        self.source = source
        self.reason = reason
        self.addedAt = addedAt
        self.expiresAt = expiresAt
        self.ttl = ttl
    }

    /// Whether the entry has expired at `now` (its expiry is `now` or earlier).
    public func isExpired(at now: Int64) -> Bool {
        guard let expiresAt else { return false }
        return expiresAt <= now
    }
}

/// Why the policy refused an entry. Every refusal is returned to the caller, to be logged and
/// audited; none is silent.
public enum SinkholeRefusal: Hashable, Sendable, CustomStringConvertible {
    /// The name is a protected name, below one, or above one (a parent would cover it with its
    /// wildcard); the protected name that matched.
    case protectedName(DNSName)
    /// The name has fewer labels than the minimum (a TLD, or the root): never sinkholed.
    case tooFewLabels(Int)
    /// The caller's popularity check says the name is too popular to sinkhole.
    case popular
    /// The prefix overlaps a protected prefix (the resolvers', the sinkhole's …); the one matched.
    case protectedAddress(IPPrefix)
    /// The prefix is shorter than the configured minimum for its family.
    case prefixTooBroad(minimumLength: Int)
    /// The policy holds its maximum number of entries.
    case full(maximum: Int)
    /// The entry's expiry is already past.
    case alreadyExpired
    /// The name with the zone apex (and `*.`) would be longer than 255 octets.
    case nameTooLong
    /// The name is inside the policy's own zones, where it would rewrite the policy.
    case insidePolicyZone

    public var description: String {
        switch self {
        case .protectedName(let name): "protected name \(name)"
        case .tooFewLabels(let n): "fewer than \(n) labels (a top-level domain)"
        case .popular: "popular name"
        case .protectedAddress(let prefix): "protected address \(prefix)"
        case .prefixTooBroad(let length): "prefix shorter than /\(length)"
        case .full(let maximum): "the policy is full (\(maximum) entries)"
        case .alreadyExpired: "expiry already past"
        case .nameTooLong: "name too long for the zone"
        case .insidePolicyZone: "name inside the policy zone"
        }
    }
}

/// What one operation on the policy did, for the caller's audit record.
public enum SinkholeChange: Hashable, Sendable {
    /// A new entry.
    case added(SinkholeEntry)
    /// The trigger was there with the same action: only its expiry moved (to the later of the
    /// two; nil, never, wins). The zone does not change.
    case extended(previous: SinkholeEntry, current: SinkholeEntry)
    /// The trigger was there with another action, TTL or source: the new entry replaced it.
    case replaced(previous: SinkholeEntry, current: SinkholeEntry)
    /// The entry was removed (by request).
    case removed(SinkholeEntry)
    /// The entry was removed because it expired.
    case expired(SinkholeEntry)
    /// There was no entry for the trigger to remove.
    case notFound(SinkholeTrigger)
    /// The entry was refused.
    case refused(SinkholeEntry, SinkholeRefusal)

    /// Whether the change alters the rendered zone.
    public var altersZone: Bool {
        switch self {
        case .added, .replaced, .removed, .expired: true
        case .extended, .notFound, .refused: false
        }
    }
}
