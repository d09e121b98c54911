import DNSWire
import FlowCodec

/// One version of a response policy zone: its apex, its SOA (with the serial) and its other
/// records in a deterministic order (the apex's NS records, then the rest in DNSSEC canonical
/// order, RFC 4034 §6.1).
public struct RPZZone: Hashable, Sendable {
    public let apex: DNSName
    /// The SOA's fields, the serial among them.
    public let soa: DNSSOA
    /// The TTL of the SOA record.
    public let soaTTL: UInt32
    /// Every record but the SOA: NS first, then the policy records.
    public let records: [DNSRecord]

    public init(apex: DNSName, soa: DNSSOA, soaTTL: UInt32, records: [DNSRecord]) {
        self.apex = apex
        self.soa = soa
        self.soaTTL = soaTTL
        self.records = records
    }

    public var serial: DNSSerial { soa.serial }

    /// The SOA record of this version.
    public var soaRecord: DNSRecord { soaRecord(serial: soa.serial) }

    /// The SOA record with another serial (an older version's, in an IXFR answer).
    public func soaRecord(serial: DNSSerial) -> DNSRecord {
        var fields = soa
        fields.serial = serial
        return DNSRecord(name: apex, type: .SOA, ttl: soaTTL, rdata: .soa(fields))
    }

    /// This zone with other records and serial (the SOA's other fields kept).
    func with(records: [DNSRecord], serial: DNSSerial) -> RPZZone {
        var fields = soa
        fields.serial = serial
        return RPZZone(apex: apex, soa: fields, soaTTL: soaTTL, records: records)
    }
}

/// How the zones are written: apexes, SOA fields, name servers, the sinkhole host, wildcards.
public struct RPZZoneConfiguration: Sendable {
    /// The sinkhole zone's apex, e.g. `rpz.mamori.`.
    public var apex: DNSName
    /// The exemption zone's apex, e.g. `exempt.rpz.mamori.`.
    public var exemptionApex: DNSName
    /// Where `.sinkhole` entries point (`CNAME <sinkholeName>`).
    public var sinkholeName: DNSName
    /// The SOA's MNAME and the apex's first NS.
    public var primaryName: DNSName
    /// The SOA's RNAME (the mailbox as a name: `hostmaster.mamori.`).
    public var responsibleName: DNSName
    /// The apex's NS records (RPZ zones are not delegated; one NS is enough).
    public var nameServers: [DNSName]
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// The SOA minimum (negative caching TTL).
    public var minimum: UInt32
    /// The TTL of the SOA and NS records.
    public var ttl: UInt32
    /// The TTL of the exemption records.
    public var exemptionTTL: UInt32
    /// Whether a name trigger also gets `*.<name>` so that subdomains are covered (on by default).
    public var includeWildcards: Bool

    public init(
        apex: DNSName, exemptionApex: DNSName, sinkholeName: DNSName, primaryName: DNSName, responsibleName: DNSName,
        nameServers: [DNSName]? = nil, refresh: UInt32 = 3600, retry: UInt32 = 600, expire: UInt32 = 604_800,
        minimum: UInt32 = 60, ttl: UInt32 = 300, exemptionTTL: UInt32 = 60, includeWildcards: Bool = true
    ) {
        self.apex = apex
        self.exemptionApex = exemptionApex
        self.sinkholeName = sinkholeName
        self.primaryName = primaryName
        self.responsibleName = responsibleName
        self.nameServers = nameServers ?? [primaryName]
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
        self.ttl = ttl
        self.exemptionTTL = exemptionTTL
        self.includeWildcards = includeWildcards
    }
}

/// Writes policies as RPZ zones (draft-vixie-dnsop-dns-rpz, the BIND ARM, Unbound's
/// unbound.conf(5)):
/// - a name trigger `evil.example` is `evil.example.<apex>` and, with wildcards,
///   `*.evil.example.<apex>`;
/// - an address trigger is `<length>.<address reversed>.rpz-ip.<apex>`: `32.4.3.2.1.rpz-ip`
///   for 1.2.3.4/32, and for IPv6 the 16-bit groups in hex without leading zeros, reversed, the
///   longest run of two or more zero groups (the first one on ties, as RFC 5952 and BIND do)
///   written `zz`: `128.1.zz.db8.2001.rpz-ip` for 2001:db8::1/128;
/// - the actions are CNAMEs: to the sinkhole host, to `.` (NXDOMAIN), to `rpz-passthru.`;
/// - an exempted client is `<32|128>.<address reversed>.rpz-client-ip.<exemption apex>. CNAME rpz-passthru.`
///
/// The exemption zone must come first in the resolvers' policy list (BIND `response-policy`,
/// Unbound `rpz:` clauses in order): in both, the first zone that matches decides, and a PASSTHRU
/// match stops the later zones.
public enum RPZRenderer {
    /// `rpz-passthru.`
    public static let passthru = DNSName(labelsUnchecked: ["rpz-passthru"])
    static let rpzIP: [UInt8] = Array("rpz-ip".utf8)
    static let rpzClientIP: [UInt8] = Array("rpz-client-ip".utf8)

    /// The sinkhole zone for a policy.
    public static func sinkholeZone(_ policy: SinkholePolicy, configuration c: RPZZoneConfiguration, serial: DNSSerial)
        -> RPZZone
    {
        var records: [DNSRecord] = []
        records.reserveCapacity(policy.count * (c.includeWildcards ? 2 : 1))
        for entry in policy.entries.values { records += self.records(for: entry, configuration: c) }
        return zone(apex: c.apex, records: records, configuration: c, serial: serial)
    }

    /// The exemption zone for a policy's exempted addresses.
    public static func exemptionZone(_ policy: SinkholePolicy, configuration c: RPZZoneConfiguration, serial: DNSSerial)
        -> RPZZone
    {
        let records = policy.exemptedPrefixes.compactMap { exemptionRecord(for: $0, configuration: c) }
        return zone(apex: c.exemptionApex, records: records, configuration: c, serial: serial)
    }

    /// The records of one entry (empty if its owner name does not fit, which the policy's guard prevents).
    public static func records(for entry: SinkholeEntry, configuration c: RPZZoneConfiguration) -> [DNSRecord] {
        let target: DNSName =
            switch entry.action {
            case .sinkhole: c.sinkholeName
            case .nxdomain: .root
            case .passthru: passthru
            }
        var owners: [DNSName] = []
        switch entry.trigger {
        case .name(let name):
            guard let owner = try? name.appending(c.apex) else { return [] }
            owners.append(owner)
            if c.includeWildcards, let wild = try? owner.prepending([UInt8(ascii: "*")]) { owners.append(wild) }
        case .address(let prefix):
            guard let owner = try? addressOwner(prefix, label: rpzIP, apex: c.apex) else { return [] }
            owners.append(owner)
        }
        return owners.map { DNSRecord(name: $0, type: .CNAME, ttl: entry.ttl, rdata: .cname(target)) }
    }

    /// The PASSTHRU record that exempts one client address or prefix.
    public static func exemptionRecord(for prefix: IPPrefix, configuration c: RPZZoneConfiguration) -> DNSRecord? {
        guard let owner = try? addressOwner(prefix, label: rpzClientIP, apex: c.exemptionApex) else { return nil }
        return DNSRecord(name: owner, type: .CNAME, ttl: c.exemptionTTL, rdata: .cname(passthru))
    }

    /// `<length>.<reversed address>.<label>.<apex>` for an `rpz-ip` or `rpz-client-ip` trigger.
    public static func addressOwner(_ prefix: IPPrefix, label: [UInt8], apex: DNSName) throws(DNSWireError) -> DNSName {
        try DNSName(labels: addressLabels(prefix) + [label]).appending(apex)
    }

    /// The trigger's labels before `rpz-ip`: `["32", "4", "3", "2", "1"]` for 1.2.3.4/32.
    public static func addressLabels(_ prefix: IPPrefix) -> [[UInt8]] {
        var labels: [[UInt8]] = [Array(String(prefix.length).utf8)]
        if let v4 = prefix.network.ipv4 {
            for shift in [0, 8, 16, 24] { labels.append(Array(String((v4 >> UInt32(shift)) & 0xFF).utf8)) }
            return labels
        }
        let (high, low) = prefix.network.ipv6Halves
        let groups: [UInt16] = (0..<8).map { k in
            UInt16(truncatingIfNeeded: (k < 4 ? high : low) >> UInt64(48 - 16 * (k % 4)))
        }
        // The first longest run of 2 or more zero groups (RFC 5952 §4.2).
        var best = (start: -1, length: 0)
        var k = 0
        while k < 8 {
            guard groups[k] == 0 else {
                k += 1
                continue
            }
            var end = k
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - k >= 2 && end - k > best.length { best = (k, end - k) }
            k = end
        }
        var forward: [[UInt8]] = []
        k = 0
        while k < 8 {
            if k == best.start {
                forward.append(Array("zz".utf8))
                k += best.length
            } else {
                forward.append(Array(String(groups[k], radix: 16).utf8))
                k += 1
            }
        }
        return labels + forward.reversed()
    }

    static func zone(apex: DNSName, records: [DNSRecord], configuration c: RPZZoneConfiguration, serial: DNSSerial)
        -> RPZZone
    {
        let soa = DNSSOA(
            mname: c.primaryName, rname: c.responsibleName, serial: serial, refresh: c.refresh, retry: c.retry,
            expire: c.expire, minimum: c.minimum)
        let ns = c.nameServers.map { DNSRecord(name: apex, type: .NS, ttl: c.ttl, rdata: .ns($0)) }
        return RPZZone(apex: apex, soa: soa, soaTTL: c.ttl, records: ns + canonicalOrder(records))
    }

    /// Records sorted by owner name in canonical order (labels compared from the right, in lower
    /// case, as octet strings), then by their target, TTL and type: the same policy always renders
    /// the same.
    public static func canonicalOrder(_ records: [DNSRecord]) -> [DNSRecord] {
        let keyed = records.map { (key: ownerKey($0), record: $0) }
        return keyed.sorted { a, b in
            let order = compare(a.key, b.key)
            if order != 0 { return order < 0 }
            return compareAfterOwner(a.record, b.record) < 0
        }.map(\.record)
    }

    /// The key of the canonical order: the owner's labels lowercased, rightmost first, each
    /// followed by a 0 octet, with the octets 0 and 1 inside labels escaped (0 as 1 1, 1 as 1 2),
    /// so that comparing keys as octet strings compares the names label by label (a label that
    /// is a prefix of another, and a name that is a suffix of another, sort first). One array
    /// per record instead of one per label.
    static func ownerKey(_ record: DNSRecord) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(record.name.wireLength + 4)
        for label in record.name.labels.reversed() {
            for c in label {
                switch c {
                case 0, 1:
                    key.append(1)
                    key.append(c + 1)
                case 65...90: key.append(c | 0x20)
                default: key.append(c)
                }
            }
            key.append(0)
        }
        return key
    }

    /// The canonical order of two records whose owners have keys `keyA` and `keyB`: -1, 0 (for
    /// records equal as `DNSRecord`s are, the class aside) or 1.
    static func compare(_ a: DNSRecord, key keyA: [UInt8], _ b: DNSRecord, key keyB: [UInt8]) -> Int {
        let order = compare(keyA, keyB)
        return order != 0 ? order : compareAfterOwner(a, b)
    }

    /// The order of two records of the same owner: by target, then TTL, then type.
    static func compareAfterOwner(_ a: DNSRecord, _ b: DNSRecord) -> Int {
        let x = targetText(a)
        let y = targetText(b)
        if x != y { return x < y ? -1 : 1 }
        if a.ttl != b.ttl { return a.ttl < b.ttl ? -1 : 1 }
        if a.type != b.type { return a.type.rawValue < b.type.rawValue ? -1 : 1 }
        return 0
    }

    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                for k in 0..<min(x.count, y.count) where x[k] != y[k] { return x[k] < y[k] ? -1 : 1 }
                return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
            }
        }
    }

    static func targetText(_ record: DNSRecord) -> String {
        if case .cname(let target) = record.rdata { return target.lowercased.description }
        return "\(record.type.rawValue)"
    }
}

extension DNSName {
    /// A name from labels known to be valid (constants of this module).
    init(labelsUnchecked labels: [String]) {
        // The constants here are short, valid labels; a failure is a programming error.
        do {
            self = try DNSName(labels: labels.map { Array($0.utf8) })
        } catch {
            preconditionFailure("invalid constant name \(labels)")
        }
    }
}
