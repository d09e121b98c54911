/// Where a claim that "this address (and port range) belonged to that subscriber" came from.
public enum AttributionSource: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible, Codable {
    /// RADIUS accounting (Start / Interim-Update / Stop), live or from a FreeRADIUS detail file.
    case radius = 1
    /// A DHCPv4 lease or DHCPv6 address/prefix delegation (ISC Kea memfile).
    case dhcp = 2
    /// An IPFIX NAT event (RFC 8158): port block allocation/de-allocation or NAT44 session.
    case natEvent = 3
    /// A CGNAT port-block syslog line (Juniper `JSERVICES_NAT_PORT_BLOCK_*`).
    case natSyslog = 4
    /// Deterministic CGNAT (RFC 7422), computed from configuration alone.
    case deterministicNAT = 5
    /// A static assignment (business lines) from the carrier's CSV.
    case staticAssignment = 6

    public var description: String {
        switch self {
        case .radius: "radius"
        case .dhcp: "dhcp"
        case .natEvent: "nat-event"
        case .natSyslog: "nat-syslog"
        case .deterministicNAT: "deterministic-nat"
        case .staticAssignment: "static"
        }
    }

    /// Whether claims of this source say which *inside* address used a public address and port
    /// (the first step behind a CGNAT) rather than which subscriber held an address.
    public var isTranslation: Bool { self == .natEvent || self == .natSyslog || self == .deterministicNAT }
}
