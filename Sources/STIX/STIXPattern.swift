import FlowCodec

/// STIX patterns (STIX 2.1 §9): the ones Mamori writes, and the evaluation of the ones peers send.
///
/// ```swift
/// STIXPattern.networkTraffic(to: IPAddress("203.0.113.5")!, port: 443, protocol: "tcp")
/// // [network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5'
/// //  AND network-traffic:dst_port = 443 AND network-traffic:protocols[*] = 'tcp']
/// let match = try STIXPattern.evaluate("[ipv4-addr:value ISSUBSET '198.51.100.0/24']")
/// ```
public enum STIXPattern {
    /// Bounds on a peer's pattern: larger or more complex ones are refused, never half-read.
    public struct Limits: Sendable, Hashable {
        /// The most UTF-8 bytes of one pattern (64 KiB).
        public var maximumLength: Int
        /// The deepest nesting of brackets and parentheses.
        public var maximumDepth: Int
        /// The most comparisons, counting each member of an `IN` set.
        public var maximumComparisons: Int
        /// The most alternatives the pattern may expand to (ORs inside ANDs multiply).
        public var maximumAlternatives: Int

        public init(maximumLength: Int = 65_536, maximumDepth: Int = 32, maximumComparisons: Int = 4_096, maximumAlternatives: Int = 1_024)
        {
            self.maximumLength = maximumLength
            self.maximumDepth = maximumDepth
            self.maximumComparisons = maximumComparisons
            self.maximumAlternatives = maximumAlternatives
        }
    }

    // MARK: - Writing

    /// `'…'` with `\` and `'` escaped, the only escapes of a pattern's string literal.
    public static func quoted(_ text: String) -> String {
        var out = "'"
        for c in text.unicodeScalars {
            if c == "\\" || c == "'" { out.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out + "'"
    }

    /// `[ipv4-addr:value = '203.0.113.5']` or `[ipv6-addr:value = '2001:db8::5']`.
    public static func address(_ address: IPAddress) -> String {
        "[\(addressType(address)):value = \(quoted(address.description))]"
    }

    /// `[ipv4-addr:value = '198.51.100.0/24']`; a host prefix is written as an address.
    public static func prefix(_ prefix: IPPrefix) -> String {
        let host = prefix.length == (prefix.isIPv4 ? 32 : 128)
        return "[\(prefix.isIPv4 ? "ipv4-addr" : "ipv6-addr"):value = \(quoted(host ? prefix.network.description : prefix.description))]"
    }

    /// `[domain-name:value = 'c2.example.net']`.
    public static func domain(_ name: String) -> String {
        "[domain-name:value = \(quoted(IndicatorMatch.normalised(domain: name)))]"
    }

    /// Traffic to an endpoint: `[network-traffic:dst_ref.type = 'ipv4-addr' AND
    /// network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443 AND
    /// network-traffic:protocols[*] = 'tcp']`; the port and protocol terms only when given.
    public static func networkTraffic(to address: IPAddress, port: UInt16?, protocol: String?) -> String {
        var terms = [
            "network-traffic:dst_ref.type = \(quoted(addressType(address)))",
            "network-traffic:dst_ref.value = \(quoted(address.description))",
        ]
        if let port { terms.append("network-traffic:dst_port = \(port)") }
        if let p = `protocol` { terms.append("network-traffic:protocols[*] = \(quoted(p.lowercased()))") }
        return "[" + terms.joined(separator: " AND ") + "]"
    }

    static func addressType(_ a: IPAddress) -> String { a.isIPv6 ? "ipv6-addr" : "ipv4-addr" }

    // MARK: - Evaluation

    /// Checks `pattern` against the STIX patterning grammar and turns it into a match.
    ///
    /// Evaluable: comparisons joined by AND and OR inside one observation `[…]`, and OR between
    /// observations; `=`, `!=`, `IN (…)` and their `NOT` forms; `ISSUBSET` (and `NOT ISSUBSET`)
    /// for addresses; on `ipv4-addr:value` and `ipv6-addr:value` (an address or a CIDR prefix),
    /// `domain-name:value`, and `network-traffic:` `dst_ref.value`, `dst_ref.type`, `dst_port`,
    /// `src_port` and `protocols[*]` (`=` and `IN` only).
    /// - Throws: ``STIXError/Code/patternSyntax`` for a pattern that is not STIX;
    ///   ``STIXError/Code/notEvaluable`` for anything else (file hashes, URLs, qualifiers,
    ///   FOLLOWEDBY, AND between observations, LIKE, MATCHES, ordering comparisons, a pattern
    ///   that would match any address or none); ``STIXError/Code/limitExceeded`` past `limits`.
    public static func evaluate(_ pattern: String, limits: Limits = Limits()) throws(STIXError) -> IndicatorMatch {
        var parser = try PatternParser(pattern, limits: limits)
        let tree = try parser.parse()
        let terms = try PatternEvaluator(limits: limits).observations(tree)
        guard !terms.isEmpty else { throw STIXError(.notEvaluable, "the pattern can match nothing") }
        return IndicatorMatch(alternatives: try terms.map { t throws(STIXError) in try t.alternative() })
    }

    /// Whether `pattern` follows the STIX patterning grammar (evaluable or not).
    public static func isValid(_ pattern: String, limits: Limits = Limits()) -> Bool {
        guard var parser = try? PatternParser(pattern, limits: limits) else { return false }
        return (try? parser.parse()) != nil
    }
}

/// One conjunction of constraints on one object type, while the pattern is brought to an OR of
/// such conjunctions.
struct PatternTerm: Hashable, Sendable {
    var objectType: String
    /// IPv6 or not, from `dst_ref.type`.
    var ipv6: Bool?
    var addresses: [IPPrefix]?
    var excludedAddresses: [IPPrefix] = []
    var domains: Set<String>?
    var excludedDomains: Set<String> = []
    var destinationPorts: Set<UInt16>?
    var excludedDestinationPorts: Set<UInt16> = []
    var sourcePorts: Set<UInt16>?
    var excludedSourcePorts: Set<UInt16> = []
    var protocols: Set<String>?

    init(objectType: String) { self.objectType = objectType }

    static func intersect<T>(_ a: Set<T>?, _ b: Set<T>?) -> Set<T>? {
        guard let a else { return b }
        guard let b else { return a }
        return a.intersection(b)
    }

    /// Whether prefix `a` contains all of `b`.
    static func covers(_ a: IPPrefix, _ b: IPPrefix) -> Bool { a.storedLength <= b.storedLength && a.contains(b.network) }

    /// Both terms at once; nil when nothing can satisfy both.
    func and(_ other: PatternTerm) throws(STIXError) -> PatternTerm? {
        guard objectType == other.objectType else {
            throw STIXError(.notEvaluable, "AND across object types (\(objectType), \(other.objectType)) in one observation")
        }
        var t = self
        if let a = other.ipv6 {
            if let b = t.ipv6, a != b { return nil }
            t.ipv6 = a
        }
        if let b = other.addresses {
            if let a = t.addresses {
                var both: [IPPrefix] = []
                for x in a {
                    for y in b {
                        if Self.covers(x, y) { both.append(y) } else if Self.covers(y, x) { both.append(x) }
                    }
                }
                t.addresses = Array(Set(both)).sorted()
            } else {
                t.addresses = b
            }
        }
        t.excludedAddresses += other.excludedAddresses
        t.domains = Self.intersect(t.domains, other.domains)
        t.excludedDomains.formUnion(other.excludedDomains)
        t.destinationPorts = Self.intersect(t.destinationPorts, other.destinationPorts)
        t.excludedDestinationPorts.formUnion(other.excludedDestinationPorts)
        t.sourcePorts = Self.intersect(t.sourcePorts, other.sourcePorts)
        t.excludedSourcePorts.formUnion(other.excludedSourcePorts)
        t.protocols = Self.intersect(t.protocols, other.protocols)
        if let ipv6 = t.ipv6, let a = t.addresses { t.addresses = a.filter { $0.isIPv4 != ipv6 } }
        let empty =
            t.addresses?.isEmpty == true || t.domains?.isEmpty == true || t.destinationPorts?.isEmpty == true
            || t.sourcePorts?.isEmpty == true || t.protocols?.isEmpty == true
        return empty ? nil : t
    }

    func alternative() throws(STIXError) -> IndicatorMatch.Alternative {
        var a: IndicatorMatch.Alternative
        if let addresses {
            a = IndicatorMatch.Alternative(target: .addresses(addresses))
        } else if let domains {
            a = IndicatorMatch.Alternative(target: .domains(domains.sorted()))
        } else {
            throw STIXError(.notEvaluable, "a \(objectType) observation that names no address or domain would match anything")
        }
        a.excludedAddresses = excludedAddresses.sorted()
        a.excludedDomains = excludedDomains.sorted()
        a.destinationPorts = destinationPorts
        a.excludedDestinationPorts = excludedDestinationPorts
        a.sourcePorts = sourcePorts
        a.excludedSourcePorts = excludedSourcePorts
        a.protocols = protocols
        return a
    }
}

/// Brings a syntax tree to an OR of ``PatternTerm``s, or says why it cannot.
struct PatternEvaluator {
    let limits: STIXPattern.Limits

    func observations(_ e: ObservationExpression) throws(STIXError) -> [PatternTerm] {
        switch e {
        case .observation(let c): return try comparisons(c)
        case .or(let a, let b): return try bounded(observations(a) + observations(b))
        case .and: throw STIXError(.notEvaluable, "AND between observations (a correlation of two events)")
        case .followedBy: throw STIXError(.notEvaluable, "FOLLOWEDBY")
        case .qualified(_, let q): throw STIXError(.notEvaluable, "the \(q.name) qualifier")
        }
    }

    func bounded(_ terms: [PatternTerm]) throws(STIXError) -> [PatternTerm] {
        guard terms.count <= limits.maximumAlternatives else {
            throw STIXError(.limitExceeded, "a pattern of more than \(limits.maximumAlternatives) alternatives")
        }
        return terms
    }

    func comparisons(_ e: ComparisonExpression) throws(STIXError) -> [PatternTerm] {
        switch e {
        case .comparison(let c): return try comparison(c)
        case .or(let a, let b): return try bounded(comparisons(a) + comparisons(b))
        case .and(let a, let b):
            let left = try comparisons(a)
            let right = try comparisons(b)
            guard left.count * right.count <= limits.maximumAlternatives else {
                throw STIXError(.limitExceeded, "a pattern of more than \(limits.maximumAlternatives) alternatives")
            }
            var out: [PatternTerm] = []
            for x in left {
                for y in right {
                    if let t = try x.and(y) { out.append(t) }
                }
            }
            return out
        }
    }

    func notEvaluable(_ c: PatternComparison, _ why: String) -> STIXError {
        STIXError(.notEvaluable, "\(c.path) \(c.negated ? "NOT " : "")\(c.op.rawValue): \(why)")
    }

    /// The strings of `=`/`IN`, or the error for anything else.
    func strings(_ c: PatternComparison) throws(STIXError) -> [String] {
        var out: [String] = []
        for v in c.values {
            guard case .string(let s) = v else { throw notEvaluable(c, "a string was expected") }
            out.append(s)
        }
        return out
    }

    func ports(_ c: PatternComparison) throws(STIXError) -> Set<UInt16> {
        var out = Set<UInt16>()
        for v in c.values {
            guard case .integer(let i) = v, let p = UInt16(exactly: i) else { throw notEvaluable(c, "a port 0–65535 was expected") }
            out.insert(p)
        }
        return out
    }

    /// The terms one comparison gives: one term, or none when it can never hold.
    func comparison(_ c: PatternComparison) throws(STIXError) -> [PatternTerm] {
        let type = c.path.objectType
        let property = c.path.property
        var t = PatternTerm(objectType: type)
        switch c.op {
        case .equal, .notEqual, .in, .isSubset: break
        case .like, .matches: throw notEvaluable(c, "pattern matching on text")
        case .isSuperset: throw notEvaluable(c, "ISSUPERSET")
        case .exists: throw notEvaluable(c, "EXISTS")
        case .less, .lessOrEqual, .greater, .greaterOrEqual: throw notEvaluable(c, "ordering comparisons")
        }
        let exclude = c.negated != (c.op == .notEqual)
        switch (type, property) {
        case ("ipv4-addr", "value"), ("ipv6-addr", "value"), ("network-traffic", "dst_ref.value"):
            var prefixes: [IPPrefix] = []
            for s in try strings(c) {
                guard let p = IPPrefix(s) else { throw notEvaluable(c, "not an address or prefix") }
                if type == "ipv4-addr", !p.isIPv4 { throw notEvaluable(c, "not an IPv4 address") }
                if type == "ipv6-addr", p.isIPv4 { throw notEvaluable(c, "not an IPv6 address") }
                prefixes.append(p)
            }
            if exclude { t.excludedAddresses = prefixes } else { t.addresses = prefixes }
        case ("network-traffic", "dst_ref.type"):
            guard !exclude, c.op != .isSubset else { throw notEvaluable(c, "only = and IN") }
            let types = Set(try strings(c))
            guard types.isSubset(of: ["ipv4-addr", "ipv6-addr", "domain-name"]) else { throw notEvaluable(c, "not an address type") }
            if types.contains("domain-name") { throw notEvaluable(c, "traffic to a domain-name object") }
            if types.count == 1 { t.ipv6 = types.contains("ipv6-addr") }
        case ("domain-name", "value"):
            guard c.op != .isSubset else { throw notEvaluable(c, "ISSUBSET on a name") }
            var names = Set<String>()
            for s in try strings(c) {
                let n = IndicatorMatch.normalised(domain: s)
                guard Self.isDomainName(n) else { throw notEvaluable(c, "not a domain name") }
                names.insert(n)
            }
            if exclude { t.excludedDomains = names } else { t.domains = names }
        case ("network-traffic", "dst_port"), ("network-traffic", "src_port"):
            guard c.op != .isSubset else { throw notEvaluable(c, "ISSUBSET on a port") }
            let ports = try ports(c)
            switch (property == "dst_port", exclude) {
            case (true, false): t.destinationPorts = ports
            case (true, true): t.excludedDestinationPorts = ports
            case (false, false): t.sourcePorts = ports
            case (false, true): t.excludedSourcePorts = ports
            }
        case ("network-traffic", "protocols[*]"):
            guard !exclude, c.op != .isSubset else { throw notEvaluable(c, "only = and IN") }
            var protocols = Set<String>()
            for s in try strings(c) {
                let p = s.lowercased()
                guard !p.isEmpty, p.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }) else {
                    throw notEvaluable(c, "not a protocol name")
                }
                protocols.insert(p)
            }
            t.protocols = protocols
        default:
            throw notEvaluable(c, "only addresses, domain names, ports and protocols are evaluated")
        }
        if c.op == .isSubset, c.values.count != 1 { throw notEvaluable(c, "ISSUBSET takes one prefix") }
        return [t]
    }

    /// A plausible DNS name: 1–253 bytes, labels of 1–63 bytes, no white space, `/`, `:`, `@` or `\`.
    static func isDomainName(_ name: String) -> Bool {
        guard (1...253).contains(name.utf8.count) else { return false }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard (1...63).contains(label.utf8.count) else { return false }
            for b in label.utf8 where b <= 0x20 || b == 0x2F || b == 0x3A || b == 0x40 || b == 0x5C || b == 0x7F { return false }
        }
        return true
    }
}
