import DNSWire
import FlowCodec

/// The sinkhole's policy: its entries, the guards every new entry passes, and the opt-out
/// exemptions. A value; every operation returns what it changed, so the caller can audit each
/// decision. No clock: the time is an argument.
///
/// The guards, each a `SinkholeRefusal`:
/// - **protected names**: a protected name, any name below it, and any name above it (whose
///   wildcard would cover it) are refused; the sinkhole host and the policy zones' apexes are
///   always protected;
/// - **too few labels**: a name of fewer than `minimumLabels` (2) labels — a TLD, or a
///   public-suffix-like name — is never sinkholed;
/// - **popular names**: the caller's `isPopular` check (a top-sites list, the resolvers' own
///   query counts) refuses;
/// - **protected prefixes**: a prefix that overlaps a protected one (the resolvers', the
///   sinkhole's, the carrier's own services); prefixes shorter than the minimum per family;
/// - **the cap**: beyond `maximumEntries` each refusal is counted (`fullRefusals`), never silent.
///
/// A trigger that is already present is not added twice: with the same action, TTL and source
/// its expiry is extended; otherwise the new entry replaces it.
///
/// Opt-out: subscribers who opted out of the sinkhole (the consent frame's real opt-out) are
/// exempted by their current addresses, kept per subscriber pseudonym; they become the
/// `rpz-client-ip` PASSTHRU records of the exemption zone.
public struct SinkholePolicy: Sendable {
    /// The guards' settings.
    public struct Configuration: Sendable {
        /// The most entries the policy holds.
        public var maximumEntries: Int
        /// Names never sinkholed, nor anything below or above them.
        public var protectedNames: Set<DNSName>
        /// Prefixes never sinkholed, nor any that overlaps them: the resolvers' addresses, the
        /// sinkhole's, the carrier's own services.
        public var protectedPrefixes: [IPPrefix]
        /// The fewest labels a name trigger may have.
        public var minimumLabels: Int
        /// The shortest IPv4 prefix allowed.
        public var minimumPrefixLengthV4: Int
        /// The shortest IPv6 prefix allowed.
        public var minimumPrefixLengthV6: Int
        /// The caller's popularity check (true refuses the name).
        public var isPopular: @Sendable (DNSName) -> Bool
        /// The sinkhole zone's apex: name triggers must fit below it (with `*.`).
        public var zoneApex: DNSName
        /// The exemption zone's apex.
        public var exemptionApex: DNSName
        /// The sinkhole host name that `.sinkhole` entries point at.
        public var sinkholeName: DNSName

        public init(
            zoneApex: DNSName, exemptionApex: DNSName, sinkholeName: DNSName, maximumEntries: Int = 100_000,
            protectedNames: Set<DNSName> = [], protectedPrefixes: [IPPrefix] = [], minimumLabels: Int = 2,
            minimumPrefixLengthV4: Int = 24, minimumPrefixLengthV6: Int = 48,
            isPopular: @escaping @Sendable (DNSName) -> Bool = { _ in false }
        ) {
            self.zoneApex = zoneApex
            self.exemptionApex = exemptionApex
            self.sinkholeName = sinkholeName
            self.maximumEntries = maximumEntries
            self.protectedNames = protectedNames
            self.protectedPrefixes = protectedPrefixes
            self.minimumLabels = minimumLabels
            self.minimumPrefixLengthV4 = minimumPrefixLengthV4
            self.minimumPrefixLengthV6 = minimumPrefixLengthV6
            self.isPopular = isPopular
        }
    }

    /// One operation of a batch (`apply`).
    public enum Operation: Sendable {
        case add(SinkholeEntry)
        case remove(SinkholeTrigger)
        case expire
    }

    /// What replacing a subscriber's exempted addresses changed.
    public struct ExemptionChange: Hashable, Sendable {
        public var pseudonym: String
        /// Addresses or prefixes newly exempted for this subscriber.
        public var added: [IPPrefix]
        /// Addresses or prefixes no longer exempted for this subscriber.
        public var removed: [IPPrefix]

        /// Whether anything changed.
        public var isEmpty: Bool { added.isEmpty && removed.isEmpty }
    }

    public let configuration: Configuration
    /// The entries, by trigger.
    public private(set) var entries: [SinkholeTrigger: SinkholeEntry] = [:]
    /// The exempted client addresses and prefixes (an IPv6 delegation is one /56, say), by
    /// subscriber pseudonym.
    public private(set) var exemptions: [String: Set<IPPrefix>] = [:]
    /// How many entries were refused because the policy was full.
    public private(set) var fullRefusals = 0
    /// The recent changes that alter the sinkhole zone, for `RPZPublication`'s incremental publish.
    private(set) var changeLog = SinkholeChangeLog()

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The number of entries.
    public var count: Int { entries.count }

    /// Every exempted address and prefix (the union over subscribers).
    public var exemptedPrefixes: Set<IPPrefix> {
        exemptions.values.reduce(into: Set<IPPrefix>()) { $0.formUnion($1) }
    }

    /// Adds an entry, or extends or replaces the entry of the same trigger, unless a guard refuses it.
    public mutating func add(_ entry: SinkholeEntry, now: Int64) -> SinkholeChange {
        if entry.isExpired(at: now) { return .refused(entry, .alreadyExpired) }
        if let refusal = check(entry.trigger) { return .refused(entry, refusal) }
        if let previous = entries[entry.trigger] {
            if previous.action == entry.action && previous.ttl == entry.ttl && previous.source == entry.source {
                var current = previous
                if let old = previous.expiresAt, let new = entry.expiresAt {
                    current.expiresAt = max(old, new)
                } else {
                    current.expiresAt = nil
                }
                entries[entry.trigger] = current
                return .extended(previous: previous, current: current)
            }
            entries[entry.trigger] = entry
            changeLog.record(entry.trigger, before: previous)
            return .replaced(previous: previous, current: entry)
        }
        guard entries.count < configuration.maximumEntries else {
            fullRefusals += 1
            return .refused(entry, .full(maximum: configuration.maximumEntries))
        }
        entries[entry.trigger] = entry
        changeLog.record(entry.trigger, before: nil)
        return .added(entry)
    }

    /// Removes the entry of a trigger. `now` is for the caller's audit record and symmetry; the
    /// removal does not depend on it.
    public mutating func remove(trigger: SinkholeTrigger, now: Int64) -> SinkholeChange {
        guard let entry = entries.removeValue(forKey: trigger) else { return .notFound(trigger) }
        changeLog.record(trigger, before: entry)
        return .removed(entry)
    }

    /// Removes every entry whose expiry is `now` or earlier, in a deterministic order (by trigger text).
    public mutating func expire(now: Int64) -> [SinkholeChange] {
        let gone = entries.values.filter { $0.isExpired(at: now) }.sorted { $0.trigger.description < $1.trigger.description }
        for entry in gone {
            entries[entry.trigger] = nil
            changeLog.record(entry.trigger, before: entry)
        }
        return gone.map { .expired($0) }
    }

    /// Applies a batch of operations in order: one batch is one new zone version.
    public mutating func apply(_ operations: [Operation], now: Int64) -> [SinkholeChange] {
        var changes: [SinkholeChange] = []
        for operation in operations {
            switch operation {
            case .add(let entry): changes.append(add(entry, now: now))
            case .remove(let trigger): changes.append(remove(trigger: trigger, now: now))
            case .expire: changes += expire(now: now)
            }
        }
        return changes
    }

    /// Replaces the exempted client prefixes of one subscriber (an empty set ends the
    /// exemption): what the subscriber holds now, from attribution — an address as a /32 or
    /// /128, a delegated IPv6 prefix as itself.
    public mutating func setExemption(pseudonym: String, prefixes: Set<IPPrefix>) -> ExemptionChange {
        let previous = exemptions[pseudonym] ?? []
        exemptions[pseudonym] = prefixes.isEmpty ? nil : prefixes
        return ExemptionChange(
            pseudonym: pseudonym, added: prefixes.subtracting(previous).sorted(), removed: previous.subtracting(prefixes).sorted())
    }

    /// ``setExemption(pseudonym:prefixes:)`` for single addresses (host prefixes, /32 and /128).
    public mutating func setExemption(pseudonym: String, addresses: Set<IPAddress>) -> ExemptionChange {
        setExemption(pseudonym: pseudonym, prefixes: Set(addresses.compactMap { IPPrefix(address: $0, length: $0.isIPv6 ? 128 : 32) }))
    }

    /// The guard that refuses a trigger, or nil when it may be added (the cap aside).
    public func check(_ trigger: SinkholeTrigger) -> SinkholeRefusal? {
        switch trigger {
        case .name(let name): check(name)
        case .address(let prefix): check(prefix)
        }
    }

    func check(_ name: DNSName) -> SinkholeRefusal? {
        let c = configuration
        if name.labelCount < c.minimumLabels { return .tooFewLabels(c.minimumLabels) }
        if name.isSubdomain(of: c.zoneApex) || name.isSubdomain(of: c.exemptionApex) { return .insidePolicyZone }
        // Below the apex with "*." (2 octets) must fit 255 octets.
        if name.wireLength - 1 + c.zoneApex.wireLength + 2 > DNSName.maxWireLength { return .nameTooLong }
        for protected in [c.sinkholeName, c.zoneApex, c.exemptionApex]
        where name.isSubdomain(of: protected) || protected.isSubdomain(of: name) {
            return .protectedName(protected)
        }
        // The name or one of its parents is protected (a lookup per label), or a protected name
        // is below it (a scan: protected lists are short).
        for k in 0..<name.labelCount {
            if let parent = try? DNSName(labels: Array(name.labels[k...])), c.protectedNames.contains(parent) {
                return .protectedName(parent)
            }
        }
        for protected in c.protectedNames where protected.isSubdomain(of: name) { return .protectedName(protected) }
        if c.isPopular(name) { return .popular }
        return nil
    }

    func check(_ prefix: IPPrefix) -> SinkholeRefusal? {
        let c = configuration
        let minimum = prefix.isIPv4 ? c.minimumPrefixLengthV4 : c.minimumPrefixLengthV6
        // RPZ prefix lengths start at 1 (BIND rejects 0), whatever the minimum says.
        if prefix.length < max(1, minimum) { return .prefixTooBroad(minimumLength: max(1, minimum)) }
        for protected in c.protectedPrefixes where Self.overlap(prefix, protected) {
            return .protectedAddress(protected)
        }
        return nil
    }

    /// Whether two prefixes share an address: the shorter contains the longer's network.
    static func overlap(_ a: IPPrefix, _ b: IPPrefix) -> Bool {
        a.storedLength <= b.storedLength ? a.contains(b.network) : b.contains(a.network)
    }
}
