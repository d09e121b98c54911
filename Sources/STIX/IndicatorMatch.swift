import FlowCodec

/// What an imported pattern matches, in a form a matcher can use without the pattern: a list
/// of alternatives (any one matching is a match), each an address set or a domain name set,
/// narrowed by ports and protocols.
///
/// ```swift
/// let match = try STIXPattern.evaluate("[network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443]")
/// match.matches(address: IPAddress("203.0.113.5")!, destinationPort: 443, protocol: "tcp")  // true
/// match.matches(address: IPAddress("203.0.113.5")!)                                          // false: the port is unknown
/// ```
/// An alternative that names ports or protocols matches only when the caller knows them: an
/// unknown port is never taken as a match.
public struct IndicatorMatch: Sendable, Hashable {
    public struct Alternative: Sendable, Hashable {
        public enum Target: Sendable, Hashable {
            /// Any address in one of these prefixes (a host is a /32 or /128).
            case addresses([IPPrefix])
            /// One of these names (lowercase, no trailing dot); subdomains are not included.
            case domains([String])
        }
        public var target: Target
        /// Addresses taken out of ``target`` (`!=`, `NOT IN`, `NOT ISSUBSET`).
        public var excludedAddresses: [IPPrefix] = []
        public var excludedDomains: [String] = []
        /// The remote (destination) ports, nil for any.
        public var destinationPorts: Set<UInt16>?
        public var excludedDestinationPorts: Set<UInt16> = []
        /// The subscriber-side (source) ports, nil for any.
        public var sourcePorts: Set<UInt16>?
        public var excludedSourcePorts: Set<UInt16> = []
        /// Transport protocols (`tcp`, `udp`, …), nil for any.
        public var protocols: Set<String>?

        public init(target: Target) { self.target = target }

        /// Whether traffic to `address` (on those ports, with that protocol) matches.
        public func matches(address: IPAddress, destinationPort: UInt16? = nil, sourcePort: UInt16? = nil, protocol: String? = nil)
            -> Bool
        {
            guard case .addresses(let prefixes) = target, prefixes.contains(where: { $0.contains(address) }),
                !excludedAddresses.contains(where: { $0.contains(address) })
            else { return false }
            return portsMatch(destinationPort: destinationPort, sourcePort: sourcePort, protocol: `protocol`)
        }

        /// Whether a lookup or connection to `domain` (on those ports, with that protocol) matches.
        public func matches(domain: String, destinationPort: UInt16? = nil, sourcePort: UInt16? = nil, protocol: String? = nil) -> Bool {
            let name = IndicatorMatch.normalised(domain: domain)
            guard case .domains(let names) = target, names.contains(name), !excludedDomains.contains(name) else { return false }
            return portsMatch(destinationPort: destinationPort, sourcePort: sourcePort, protocol: `protocol`)
        }

        func portsMatch(destinationPort: UInt16?, sourcePort: UInt16?, protocol: String?) -> Bool {
            if destinationPorts != nil || !excludedDestinationPorts.isEmpty {
                guard let p = destinationPort, destinationPorts?.contains(p) ?? true, !excludedDestinationPorts.contains(p) else {
                    return false
                }
            }
            if sourcePorts != nil || !excludedSourcePorts.isEmpty {
                guard let p = sourcePort, sourcePorts?.contains(p) ?? true, !excludedSourcePorts.contains(p) else { return false }
            }
            if let protocols {
                guard let p = `protocol`?.lowercased(), protocols.contains(p) else { return false }
            }
            return true
        }
    }

    public var alternatives: [Alternative]

    public init(alternatives: [Alternative]) { self.alternatives = alternatives }

    public func matches(address: IPAddress, destinationPort: UInt16? = nil, sourcePort: UInt16? = nil, protocol: String? = nil) -> Bool {
        alternatives.contains {
            $0.matches(address: address, destinationPort: destinationPort, sourcePort: sourcePort, protocol: `protocol`)
        }
    }

    public func matches(domain: String, destinationPort: UInt16? = nil, sourcePort: UInt16? = nil, protocol: String? = nil) -> Bool {
        alternatives.contains { $0.matches(domain: domain, destinationPort: destinationPort, sourcePort: sourcePort, protocol: `protocol`) }
    }

    /// Every prefix any alternative matches (before exclusions), for a block list.
    public var prefixes: [IPPrefix] {
        Array(
            Set(
                alternatives.flatMap { a -> [IPPrefix] in
                    if case .addresses(let p) = a.target { return p }
                    return []
                })
        ).sorted()
    }

    /// Every domain name any alternative matches (before exclusions), for a sinkhole.
    public var domains: [String] {
        Array(
            Set(
                alternatives.flatMap { a -> [String] in
                    if case .domains(let d) = a.target { return d }
                    return []
                })
        ).sorted()
    }

    /// Lowercase, without a trailing dot.
    static func normalised(domain: String) -> String {
        var d = domain.lowercased()
        if d.hasSuffix(".") { d.removeLast() }
        return d
    }
}
