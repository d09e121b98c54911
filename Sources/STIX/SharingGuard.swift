import FlowCodec
import MamoriCore

/// The one way out: every object Mamori shares passes this guard, which refuses — and counts —
/// any object that holds something of a subscriber's.
///
/// It walks every member name, string and number of each object at any depth (custom
/// properties, extensions and patterns included) and refuses the object when it finds:
/// - an address or CIDR prefix (IPv4 or IPv6, anywhere in any string: in a pattern, a
///   description, `host:port`, `[v6]:port`, glued to other letters, defanged as `[.]`, written
///   with dashes as in a PTR name `198-51-100-23.pool…`, or as an `in-addr.arpa`/`ip6.arpa`
///   name) that falls in or overlaps the subscriber prefixes, a CGNAT pool or the inside
///   (private) space; an integer of 2^24 or more read as an IPv4 address, likewise;
/// - a CGNAT port: a `src_port` value (as a property, or in a pattern's `src_port` comparison)
///   inside a pool's port range;
/// - a pseudonym in Mamori's form (`h:` or `s:` and 16 hex digits, ``KeyedPseudonym``);
/// - an e-mail address (`[at]` and `(at)` read as `@`);
/// - one of the configured account names (operators, subscribers' logins), as a word;
/// - a TLP marking above the configured ceiling.
/// An object that refers (`*_ref`, `*_refs`, at any depth) to a refused object is refused as
/// well, until nothing more changes: a sighting or relationship never leaves without what it
/// points at. One bad object never stops the others.
///
/// ``GuardedBundle`` can only be made here: a function that sends STIX takes a `GuardedBundle`,
/// so the type system proves that what it sends passed the guard.
public struct SharingGuard: Sendable {
    /// A CGNAT pool: its public prefix and the ports it hands out to subscribers.
    public struct CGNATPool: Sendable, Hashable {
        public var prefix: IPPrefix
        public var ports: ClosedRange<UInt16>

        public init(prefix: IPPrefix, ports: ClosedRange<UInt16> = 1024...65535) {
            self.prefix = prefix
            self.ports = ports
        }
    }

    public struct Configuration: Sendable, Hashable {
        /// The carrier's subscriber address space (public pools, IPv6 delegations).
        public var subscriberPrefixes: PrefixSet
        public var cgnatPools: [CGNATPool]
        /// Addresses subscribers use inside (behind CGNAT, in their homes): RFC 1918, RFC 6598
        /// shared space, IPv6 unique local and link-local by default.
        public var insidePrefixes: PrefixSet
        /// The prefixes of Mamori's keyed pseudonyms (hosts `h:`, subscribers `s:`).
        public var pseudonymPrefixes: [String]
        /// Names that must never leave (operators' and subscribers' account names), matched as
        /// whole words, case-insensitively.
        public var accounts: [String]
        /// The most restrictive TLP that may be shared.
        public var ceiling: TLP

        public static let defaultInside = PrefixSet(
            ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10"].compactMap { IPPrefix($0) })

        public init(
            subscriberPrefixes: PrefixSet, cgnatPools: [CGNATPool] = [], insidePrefixes: PrefixSet = Configuration.defaultInside,
            pseudonymPrefixes: [String] = ["h:", "s:"], accounts: [String] = [], ceiling: TLP = .amber
        ) {
            self.subscriberPrefixes = subscriberPrefixes
            self.cgnatPools = cgnatPools
            self.insidePrefixes = insidePrefixes
            self.pseudonymPrefixes = pseudonymPrefixes
            self.accounts = accounts
            self.ceiling = ceiling
        }
    }

    /// Why an object was refused.
    public enum Reason: String, Sendable, Hashable, CaseIterable, Comparable {
        case subscriberAddress = "subscriber_address"
        case cgnatAddress = "cgnat_address"
        case insideAddress = "inside_address"
        case cgnatPort = "cgnat_port"
        case pseudonym = "pseudonym"
        case emailAddress = "email_address"
        case account = "account"
        case marking = "marking_above_ceiling"
        /// It refers to a refused object.
        case refersToRefused = "refers_to_refused"

        public static func < (a: Reason, b: Reason) -> Bool { a.rawValue < b.rawValue }
    }

    public let configuration: Configuration
    let accounts: [String]

    public init(configuration: Configuration) {
        self.configuration = configuration
        accounts = configuration.accounts.map { $0.lowercased() }.filter { !$0.isEmpty }
    }

    /// Screens `objects` and makes the bundle of those allowed (in their order).
    public func screen(_ objects: [STIXObject]) -> GuardedBundle {
        var refused: [STIXIdentifier: Reason] = [:]
        var reasons: [Int: Reason] = [:]
        for (i, o) in objects.enumerated() {
            if let r = check(o) {
                reasons[i] = r
                if refused[o.id] == nil { refused[o.id] = r }
            }
        }
        // Refusal spreads along references until nothing changes.
        var changed = true
        let references = objects.map(\.references)
        while changed {
            changed = false
            for (i, o) in objects.enumerated() where reasons[i] == nil {
                if refused[o.id] != nil || !references[i].isDisjoint(with: refused.keys) {
                    reasons[i] = .refersToRefused
                    if refused[o.id] == nil { refused[o.id] = .refersToRefused }
                    changed = true
                }
            }
        }
        var report = SharingReport()
        var allowed: [STIXObject] = []
        for (i, o) in objects.enumerated() {
            if let r = reasons[i] {
                report.refusals[r, default: 0] += 1
                report.refused.append(RefusedObject(id: o.id, reason: r))
            } else {
                allowed.append(o)
            }
        }
        report.allowed = allowed.count
        return GuardedBundle(objects: allowed, report: report)
    }

    /// Why `object` alone may not be shared, or nil when it may (its references aside).
    public func check(_ object: STIXObject) -> Reason? {
        if let tlp = object.tlp, !tlp.mayBeShared(under: configuration.ceiling) { return .marking }
        for key in object.properties.keys.sorted() {
            if let r = check(string: key, key: nil) ?? check(object.properties[key]!, key: key, depth: 0) { return r }
        }
        return nil
    }

    func check(_ value: JSONValue, key: String, depth: Int) -> Reason? {
        switch value {
        case .null, .bool: return nil
        case .string(let s): return check(string: s, key: key)
        case .integer(let i): return check(number: i, key: key)
        case .number(let d): return d.rounded() == d && abs(d) < 9e18 ? check(number: Int64(d), key: key) : nil
        case .array(let a):
            for e in a {
                if let r = check(e, key: key, depth: depth + 1) { return r }
            }
            return nil
        case .object(let o):
            for k in o.keys.sorted() {
                if let r = check(string: k, key: nil) ?? check(o[k]!, key: k, depth: depth + 1) { return r }
            }
            return nil
        }
    }

    func isSourcePortKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return k.hasSuffix("src_port") || k.contains("source_port") || k.contains("sourceport")
    }

    func check(number: Int64, key: String) -> Reason? {
        if isSourcePortKey(key), let port = UInt16(exactly: number), configuration.cgnatPools.contains(where: { $0.ports.contains(port) }) {
            return .cgnatPort
        }
        if number >= 1 << 24, let v4 = UInt32(exactly: number) {
            let a = IPAddress.v4(v4)
            if let prefix = IPPrefix(address: a, length: 32) { return check(prefix: prefix) }
        }
        return nil
    }

    /// The reason an address or prefix may not be shared: it lies in or overlaps a CGNAT pool,
    /// the subscriber space or the inside space.
    func check(prefix p: IPPrefix) -> Reason? {
        func overlaps(_ q: IPPrefix) -> Bool { PatternTerm.covers(p, q) || PatternTerm.covers(q, p) }
        if configuration.cgnatPools.contains(where: { overlaps($0.prefix) }) { return .cgnatAddress }
        if configuration.subscriberPrefixes.prefixes.contains(where: overlaps) { return .subscriberAddress }
        if configuration.insidePrefixes.prefixes.contains(where: overlaps) { return .insideAddress }
        return nil
    }

    func check(string s: String, key: String?) -> Reason? {
        // Defanged spellings (`198.51.100[.]23`, `name[at]example.jp`) are read as what they stand for.
        let bytes = Self.refanged(Array(s.utf8))
        if let key, isSourcePortKey(key), let n = Int64(s), let r = check(number: n, key: key) { return r }
        for prefix in Self.addresses(in: bytes) {
            if let r = check(prefix: prefix) { return r }
        }
        if !configuration.cgnatPools.isEmpty {
            for port in Self.sourcePortsInPattern(bytes) where configuration.cgnatPools.contains(where: { $0.ports.contains(port) }) {
                return .cgnatPort
            }
        }
        if containsPseudonym(bytes) { return .pseudonym }
        if Self.containsEmail(bytes) { return .emailAddress }
        if !accounts.isEmpty, containsAccount(String(decoding: bytes, as: UTF8.self)) { return .account }
        return nil
    }

    static func isHex(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x66).contains(b) || (0x41...0x46).contains(b) }
    static func isAlnum(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x7A).contains(b) || (0x41...0x5A).contains(b) }

    /// Ports of `src_port` comparisons in a pattern: `src_port = 2048`, `src_port IN (2048, 2049)`.
    static func sourcePortsInPattern(_ bytes: [UInt8]) -> [UInt16] {
        let needle = Array("src_port".utf8)
        var out: [UInt16] = []
        var i = 0
        while i + needle.count <= bytes.count {
            guard bytes[i..<(i + needle.count)].elementsEqual(needle) else {
                i += 1
                continue
            }
            var j = i + needle.count
            // The operator and an optional `(`: up to 24 bytes, then numbers separated by `,`.
            var budget = 24
            while j < bytes.count, budget > 0, !(0x30...0x39).contains(bytes[j]), bytes[j] != 0x5D {
                j += 1
                budget -= 1
            }
            while j < bytes.count, (0x30...0x39).contains(bytes[j]) {
                var n = 0
                while j < bytes.count, (0x30...0x39).contains(bytes[j]), n <= 65_535 {
                    n = n * 10 + Int(bytes[j] - 0x30)
                    j += 1
                }
                if let p = UInt16(exactly: n) { out.append(p) }
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x2C { j += 1 }
            }
            i += needle.count
        }
        return out
    }

    /// A pseudonym: a configured prefix and 16 hex digits, not inside a longer word.
    func containsPseudonym(_ bytes: [UInt8]) -> Bool {
        for prefix in configuration.pseudonymPrefixes {
            let p = Array(prefix.utf8)
            guard !p.isEmpty, bytes.count >= p.count + 16 else { continue }
            for i in 0...(bytes.count - p.count - 16) where bytes[i..<(i + p.count)].elementsEqual(p) {
                if i > 0, Self.isAlnum(bytes[i - 1]) { continue }
                let digits = bytes[(i + p.count)..<(i + p.count + 16)]
                guard digits.allSatisfy(Self.isHex) else { continue }
                let end = i + p.count + 16
                if end < bytes.count, Self.isAlnum(bytes[end]) { continue }
                return true
            }
        }
        return false
    }

    /// `local@domain.tld`: a word before `@`, a dotted name after it.
    static func containsEmail(_ bytes: [UInt8]) -> Bool {
        func isLocal(_ b: UInt8) -> Bool { isAlnum(b) || [0x2E, 0x5F, 0x25, 0x2B, 0x2D, 0x21, 0x27, 0x7E].contains(b) || b >= 0x80 }
        func isDomain(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x2E || b == 0x2D || b >= 0x80 }
        for (i, b) in bytes.enumerated() where b == 0x40 {
            guard i > 0, isLocal(bytes[i - 1]) else { continue }
            var j = i + 1
            var dots = 0
            var label = 0
            var ok = false
            while j < bytes.count, isDomain(bytes[j]) {
                if bytes[j] == 0x2E {
                    if label > 0 { dots += 1 }
                    label = 0
                } else {
                    label += 1
                    if dots > 0 { ok = true }
                }
                j += 1
            }
            if ok { return true }
        }
        return false
    }

    /// A configured account name as a whole word (not inside a longer name).
    func containsAccount(_ s: String) -> Bool {
        let lower = Array(s.lowercased().utf8)
        func isWord(_ b: UInt8) -> Bool { Self.isAlnum(b) || b == 0x5F || b == 0x2D || b == 0x2E || b >= 0x80 }
        for account in accounts {
            let a = Array(account.utf8)
            guard lower.count >= a.count else { continue }
            for i in 0...(lower.count - a.count) where lower[i..<(i + a.count)].elementsEqual(a) {
                let before = i == 0 || !isWord(lower[i - 1])
                let after = i + a.count == lower.count || !isWord(lower[i + a.count])
                if before && after { return true }
            }
        }
        return false
    }
}

/// One refused object and why.
public struct RefusedObject: Sendable, Hashable {
    public var id: STIXIdentifier
    public var reason: SharingGuard.Reason
}

/// What the guard did to one batch: how many objects passed, and each refusal with its reason.
public struct SharingReport: Sendable, Hashable {
    public var allowed = 0
    /// Refused objects by reason (one object counts once, under the first reason found).
    public var refusals: [SharingGuard.Reason: Int] = [:]
    public var refused: [RefusedObject] = []

    public var refusedCount: Int { refused.count }
}

/// A STIX 2.1 bundle that passed the ``SharingGuard``: the only bundle Mamori sends. Its
/// initialiser is private to this file, so only ``SharingGuard/screen(_:)`` makes one.
public struct GuardedBundle: Sendable, Hashable {
    public let id: STIXIdentifier
    public let objects: [STIXObject]
    public let report: SharingReport

    fileprivate init(objects: [STIXObject], report: SharingReport) {
        self.objects = objects
        self.report = report
        // Name-based too: the same objects (ids and versions) make the same bundle.
        let key = objects.map { "\($0.id)@\($0["modified"]?.stringValue ?? "")" }.joined(separator: ",")
        id = .mamori(type: "bundle", key: key)
    }

    /// `{"type": "bundle", "id": …, "objects": [...]}`.
    public var json: JSONValue {
        .object(["type": .string("bundle"), "id": .string(id.description), "objects": .array(objects.map(\.json))])
    }

    /// The bundle as UTF-8 JSON, as it is sent or written.
    public func encoded(pretty: Bool = false) -> [UInt8] { json.encoded(pretty: pretty) }
}
