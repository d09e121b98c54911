/// Which export protocol a record arrived in.
public enum ExportProtocol: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case netflowV5 = 5
    case netflowV9 = 9
    case ipfix = 10
    case sflowV5 = 105

    public var description: String {
        switch self {
        case .netflowV5: return "netflow-v5"
        case .netflowV9: return "netflow-v9"
        case .ipfix: return "ipfix"
        case .sflowV5: return "sflow-v5"
        }
    }
}

/// Direction of a flow relative to the interface that observed it (IPFIX `flowDirection`, IE 61).
public enum FlowDirection: UInt8, Sendable, Hashable, CustomStringConvertible {
    case unknown = 255
    case ingress = 0
    case egress = 1

    public var description: String {
        switch self {
        case .unknown: return "unknown"
        case .ingress: return "ingress"
        case .egress: return "egress"
        }
    }
}

/// NAT fields of a record (RFC 8158 NAT event logging; Cisco NSEL uses the same element IDs).
///
/// Present on a ``FlowRecord`` only when its template carried at least one NAT element.
public struct NATFields: Sendable, Hashable {
    /// `natEvent` (IE 230, IANA "NAT Event Type" registry of RFC 8158 §4.1): 1/2 NAT translation
    /// create/delete (historic; Cisco NSEL), 4/5 NAT44 session create/delete, 6/7 NAT64 session
    /// create/delete, 8–11 NAT44/NAT64 BIB create/delete, 14/15 address binding create/delete,
    /// 16 port block allocation, 17 port block de-allocation (see the constants on this type).
    public var event: UInt8 = 0
    /// `postNATSourceIPv4Address` (225) or `postNATSourceIPv6Address` (281).
    public var postSourceAddress: IPAddress? = nil
    /// `postNATDestinationIPv4Address` (226) or `postNATDestinationIPv6Address` (282).
    public var postDestinationAddress: IPAddress? = nil
    /// `postNAPTSourceTransportPort` (227).
    public var postSourcePort: UInt16 = 0
    /// `postNAPTDestinationTransportPort` (228).
    public var postDestinationPort: UInt16 = 0
    /// `portRangeStart` (361) and `portRangeEnd` (362) of a port block.
    public var portRangeStart: UInt16 = 0
    public var portRangeEnd: UInt16 = 0
    /// `portRangeStepSize` (363) and `portRangeNumPorts` (364).
    public var portRangeStepSize: UInt16 = 0
    public var portRangeNumPorts: UInt16 = 0

    public init() {}
}

/// natEvent values (IE 230) of the IANA "NAT Event Type" registry created by RFC 8158 §4.1.
extension NATFields {
    /// 4: NAT44 session create.
    public static let nat44SessionCreate: UInt8 = 4
    /// 5: NAT44 session delete.
    public static let nat44SessionDelete: UInt8 = 5
    /// 16: Port block allocation.
    public static let portBlockAllocation: UInt8 = 16
    /// 17: Port block de-allocation.
    public static let portBlockDeallocation: UInt8 = 17
}

/// One flow record, normalised across NetFlow v5, v9, IPFIX and sFlow.
///
/// Counters are **already scaled** by the sampling interval the exporter announced (or the
/// configured override); ``samplingInterval`` says which factor was applied. Times are absolute,
/// in milliseconds since the Unix epoch.
///
/// A plain value of 160 bytes with no references, so arrays of records are copied and freed
/// without reference counting. Stored properties are ordered by alignment (16-byte addresses,
/// then 8-, 4-, 2- and 1-byte fields) so that no byte is padding; ``nat`` is kept flattened in
/// the same storage (a present bit and zeros when absent) instead of a 64-byte optional.
public struct FlowRecord: Sendable, Hashable {
    /// Address the export datagram came from.
    public var exporter: IPAddress
    public var sourceAddress: IPAddress
    public var destinationAddress: IPAddress
    @usableFromInline var natPostSourceAddress: IPAddress
    @usableFromInline var natPostDestinationAddress: IPAddress
    /// Octets, scaled by ``samplingInterval``.
    public var bytes: UInt64
    /// Packets, scaled by ``samplingInterval``.
    public var packets: UInt64
    /// First packet of the flow, ms since the Unix epoch.
    public var startMilliseconds: Int64
    /// Last packet of the flow, ms since the Unix epoch.
    public var endMilliseconds: Int64
    /// NetFlow v9 source ID, IPFIX observation domain, or sFlow agent sub-ID.
    public var observationDomain: UInt32
    /// The 1-in-N factor applied to ``bytes`` and ``packets`` (1 = unsampled).
    public var samplingInterval: UInt32
    public var inputInterface: UInt32
    public var outputInterface: UInt32
    public var sourceAS: UInt32
    public var destinationAS: UInt32
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    @usableFromInline var natPostSourcePort: UInt16
    @usableFromInline var natPostDestinationPort: UInt16
    @usableFromInline var natPortRangeStart: UInt16
    @usableFromInline var natPortRangeEnd: UInt16
    @usableFromInline var natPortRangeStepSize: UInt16
    @usableFromInline var natPortRangeNumPorts: UInt16
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6 …).
    public var ipProtocol: UInt8
    /// Cumulative OR of TCP flags (low 8 bits of `tcpControlBits`).
    public var tcpFlags: UInt8
    public var typeOfService: UInt8
    public var exportProtocol: ExportProtocol
    public var direction: FlowDirection
    @usableFromInline var natEvent: UInt8
    /// Which NAT values are present (``NATPresence``); 0 when the record has no NAT fields, and
    /// then every `nat…` property is 0, so equality and hashing see one representation.
    @usableFromInline var natPresence: UInt8

    /// Whether the record carries NAT fields (``nat`` is not nil), without building them: for
    /// scans over every record that want only the NAT events.
    @inlinable public var hasNAT: Bool { natPresence & NATPresence.record != 0 }

    /// NAT fields when the template carried any (CGNAT logs arrive on the same port as flows).
    @inlinable public var nat: NATFields? {
        get {
            guard natPresence & NATPresence.record != 0 else { return nil }
            var n = NATFields()
            n.event = natEvent
            n.postSourceAddress = natPresence & NATPresence.postSource != 0 ? natPostSourceAddress : nil
            n.postDestinationAddress = natPresence & NATPresence.postDestination != 0 ? natPostDestinationAddress : nil
            n.postSourcePort = natPostSourcePort
            n.postDestinationPort = natPostDestinationPort
            n.portRangeStart = natPortRangeStart
            n.portRangeEnd = natPortRangeEnd
            n.portRangeStepSize = natPortRangeStepSize
            n.portRangeNumPorts = natPortRangeNumPorts
            return n
        }
        set {
            let n = newValue ?? NATFields()
            var presence: UInt8 = newValue == nil ? 0 : NATPresence.record
            if n.postSourceAddress != nil { presence |= NATPresence.postSource }
            if n.postDestinationAddress != nil { presence |= NATPresence.postDestination }
            natPresence = presence
            natEvent = n.event
            natPostSourceAddress = n.postSourceAddress ?? NATPresence.absentAddress
            natPostDestinationAddress = n.postDestinationAddress ?? NATPresence.absentAddress
            natPostSourcePort = n.postSourcePort
            natPostDestinationPort = n.postDestinationPort
            natPortRangeStart = n.portRangeStart
            natPortRangeEnd = n.portRangeEnd
            natPortRangeStepSize = n.portRangeStepSize
            natPortRangeNumPorts = n.portRangeNumPorts
        }
    }

    public init(
        exporter: IPAddress = .unspecifiedV4,
        observationDomain: UInt32 = 0,
        exportProtocol: ExportProtocol = .ipfix,
        sourceAddress: IPAddress = .unspecifiedV4,
        destinationAddress: IPAddress = .unspecifiedV4,
        sourcePort: UInt16 = 0,
        destinationPort: UInt16 = 0,
        ipProtocol: UInt8 = 0,
        tcpFlags: UInt8 = 0,
        typeOfService: UInt8 = 0,
        bytes: UInt64 = 0,
        packets: UInt64 = 0,
        samplingInterval: UInt32 = 1,
        startMilliseconds: Int64 = 0,
        endMilliseconds: Int64 = 0,
        inputInterface: UInt32 = 0,
        outputInterface: UInt32 = 0,
        direction: FlowDirection = .unknown,
        sourceAS: UInt32 = 0,
        destinationAS: UInt32 = 0,
        nat: NATFields? = nil
    ) {
        self.exporter = exporter
        self.observationDomain = observationDomain
        self.exportProtocol = exportProtocol
        self.sourceAddress = sourceAddress
        self.destinationAddress = destinationAddress
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.ipProtocol = ipProtocol
        self.tcpFlags = tcpFlags
        self.typeOfService = typeOfService
        self.bytes = bytes
        self.packets = packets
        self.samplingInterval = samplingInterval
        self.startMilliseconds = startMilliseconds
        self.endMilliseconds = endMilliseconds
        self.inputInterface = inputInterface
        self.outputInterface = outputInterface
        self.direction = direction
        self.sourceAS = sourceAS
        self.destinationAS = destinationAS
        self.natPostSourceAddress = NATPresence.absentAddress
        self.natPostDestinationAddress = NATPresence.absentAddress
        self.natPostSourcePort = 0
        self.natPostDestinationPort = 0
        self.natPortRangeStart = 0
        self.natPortRangeEnd = 0
        self.natPortRangeStepSize = 0
        self.natPortRangeNumPorts = 0
        self.natEvent = 0
        self.natPresence = 0
        if let nat { self.nat = nat }
    }
}

/// Bits of ``FlowRecord``'s NAT presence byte.
@usableFromInline
enum NATPresence {
    /// The record has NAT fields (``FlowRecord/nat`` is not `nil`).
    // Computed, not `static let`: a stored constant of another module is read through an
    // accessor on every use (measured: 0.9 % of a collector scanning records for `hasNAT`).
    @inlinable static var record: UInt8 { 1 << 0 }
    @inlinable static var postSource: UInt8 { 1 << 1 }
    @inlinable static var postDestination: UInt8 { 1 << 2 }
    /// What an absent post-NAT address is stored as (all zero bits, not 0.0.0.0).
    @inlinable static var absentAddress: IPAddress { .v6(high: 0, low: 0) }
}
