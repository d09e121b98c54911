import FlowCodec

/// The component types of a flow specification (RFC 8955 §4.2.2; RFC 8956 for IPv6).
public enum FlowSpecComponentType: UInt8, Sendable, Hashable, Comparable, CaseIterable {
    case destinationPrefix = 1
    case sourcePrefix = 2
    /// IP protocol (IPv4), last next header (IPv6).
    case ipProtocol = 3
    case port = 4
    case destinationPort = 5
    case sourcePort = 6
    case icmpType = 7
    case icmpCode = 8
    case tcpFlags = 9
    case packetLength = 10
    case dscp = 11
    case fragment = 12
    /// IPv6 only.
    case flowLabel = 13

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// Whether the component's operands are bitmask operations rather than numeric ones.
    public var isBitmask: Bool { self == .tcpFlags || self == .fragment }

    public var name: String {
        switch self {
        case .destinationPrefix: "dst"
        case .sourcePrefix: "src"
        case .ipProtocol: "proto"
        case .port: "port"
        case .destinationPort: "dst-port"
        case .sourcePort: "src-port"
        case .icmpType: "icmp-type"
        case .icmpCode: "icmp-code"
        case .tcpFlags: "tcp-flags"
        case .packetLength: "pkt-len"
        case .dscp: "dscp"
        case .fragment: "fragment"
        case .flowLabel: "flow-label"
        }
    }
}

/// One numeric comparison of a component (RFC 8955 §4.2.1.1): `value` compared with `<`, `>`,
/// `=` or a combination; joined to the previous term by AND or OR.
public struct FlowSpecNumericTerm: Sendable, Hashable {
    /// Joined to the previous term with AND (else OR). The first term's is false.
    public var and: Bool
    public var lessThan: Bool
    public var greaterThan: Bool
    public var equal: Bool
    public var value: UInt64

    public init(and: Bool = false, lessThan: Bool = false, greaterThan: Bool = false, equal: Bool = false, value: UInt64) {
        self.and = and
        self.lessThan = lessThan
        self.greaterThan = greaterThan
        self.equal = equal
        self.value = value
    }

    public static func equals(_ v: UInt64) -> Self { .init(equal: true, value: v) }

    var text: String {
        let op = (lessThan ? "<" : "") + (greaterThan ? ">" : "") + (equal ? "=" : "")
        return (op == "<>" ? "!=" : op.isEmpty ? "false" : op == "<>=" ? "true" : op) + "\(value)"
    }
}

/// One bitmask test of a component (RFC 8955 §4.2.1.2): TCP flags or fragment bits.
public struct FlowSpecBitmaskTerm: Sendable, Hashable {
    public var and: Bool
    /// Negate the test.
    public var not: Bool
    /// All of `value`'s bits set (else: any of them).
    public var match: Bool
    public var value: UInt64

    public init(and: Bool = false, not: Bool = false, match: Bool = false, value: UInt64) {
        self.and = and
        self.not = not
        self.match = match
        self.value = value
    }

    var text: String { (not ? "!" : "") + (match ? "=" : "") + "0x" + String(value, radix: 16) }
}

/// One component of a flow specification.
public enum FlowSpecComponent: Sendable, Hashable {
    /// A destination or source prefix (types 1 and 2). IPv6 carries an offset (RFC 8956), 0 here.
    case prefix(FlowSpecComponentType, IPPrefix)
    /// An IPv6 prefix pattern with a non-zero offset: `length` bits of which the first `offset`
    /// are not compared; kept as received.
    case prefixPattern(FlowSpecComponentType, length: UInt8, offset: UInt8, pattern: [UInt8])
    case numeric(FlowSpecComponentType, [FlowSpecNumericTerm])
    case bitmask(FlowSpecComponentType, [FlowSpecBitmaskTerm])

    public var type: FlowSpecComponentType {
        switch self {
        case .prefix(let t, _), .prefixPattern(let t, _, _, _), .numeric(let t, _), .bitmask(let t, _): t
        }
    }

    public var text: String {
        switch self {
        case .prefix(let t, let p): "\(t.name) \(p)"
        case .prefixPattern(let t, let length, let offset, let pattern):
            "\(t.name) \(pattern.map { String($0, radix: 16) }.joined(separator: ":"))/\(length) offset \(offset)"
        case .numeric(let t, let terms):
            "\(t.name) " + terms.enumerated().map { ($0.offset == 0 ? "" : $0.element.and ? "&" : "|") + $0.element.text }.joined()
        case .bitmask(let t, let terms):
            "\(t.name) " + terms.enumerated().map { ($0.offset == 0 ? "" : $0.element.and ? "&" : "|") + $0.element.text }.joined()
        }
    }
}

/// A flow specification (the NLRI of SAFI 133): components in ascending type order, each type
/// at most once. What Mamori builds; what it decodes from a peer is held to the same rules.
public struct FlowSpec: Sendable, Hashable, CustomStringConvertible {
    public private(set) var components: [FlowSpecComponent]
    public let isIPv6: Bool

    /// The most octets one flow specification may take (a 12-bit length, RFC 8955 §4.1).
    public static let maximumLength = 4095

    /// Nil when the components are not in strictly ascending type order, a prefix is of the
    /// other family, or a component has no terms.
    public init?(ipv6: Bool, _ components: [FlowSpecComponent]) {
        var last: UInt8 = 0
        for c in components {
            guard c.type.rawValue > last else { return nil }
            last = c.type.rawValue
            switch c {
            case .prefix(let t, let p):
                guard t == .destinationPrefix || t == .sourcePrefix, p.isIPv4 != ipv6 else { return nil }
            case .prefixPattern(let t, let length, let offset, let pattern):
                guard ipv6, t == .destinationPrefix || t == .sourcePrefix, length <= 128, offset <= length,
                    pattern.count == (Int(length) - Int(offset) + 7) / 8
                else { return nil }
            case .numeric(let t, let terms):
                guard !t.isBitmask, t != .destinationPrefix, t != .sourcePrefix, !terms.isEmpty, ipv6 || t != .flowLabel else { return nil }
            case .bitmask(let t, let terms):
                guard t.isBitmask, !terms.isEmpty else { return nil }
            }
        }
        guard !components.isEmpty else { return nil }
        self.components = components
        self.isIPv6 = ipv6
    }

    /// A rule from the usual parts of a mitigation; nil if nothing is given, or a prefix is of the other family.
    public init?(
        destination: IPPrefix? = nil, source: IPPrefix? = nil, protocols: [UInt8] = [], destinationPorts: [UInt16] = [],
        sourcePorts: [UInt16] = [], packetLength: ClosedRange<UInt16>? = nil
    ) {
        guard let family = destination ?? source else { return nil }
        var c: [FlowSpecComponent] = []
        if let destination { c.append(.prefix(.destinationPrefix, destination)) }
        if let source { c.append(.prefix(.sourcePrefix, source)) }
        func anyOf(_ values: [UInt64]) -> [FlowSpecNumericTerm] { values.map { .equals($0) } }
        if !protocols.isEmpty { c.append(.numeric(.ipProtocol, anyOf(protocols.map(UInt64.init)))) }
        if !destinationPorts.isEmpty { c.append(.numeric(.destinationPort, anyOf(destinationPorts.map(UInt64.init)))) }
        if !sourcePorts.isEmpty { c.append(.numeric(.sourcePort, anyOf(sourcePorts.map(UInt64.init)))) }
        if let packetLength {
            c.append(
                .numeric(
                    .packetLength,
                    packetLength.lowerBound == packetLength.upperBound
                        ? [.equals(UInt64(packetLength.lowerBound))]
                        : [
                            .init(greaterThan: true, equal: true, value: UInt64(packetLength.lowerBound)),
                            .init(and: true, lessThan: true, equal: true, value: UInt64(packetLength.upperBound)),
                        ]))
        }
        self.init(ipv6: !family.isIPv4, c)
    }

    public func component(_ type: FlowSpecComponentType) -> FlowSpecComponent? { components.first { $0.type == type } }

    /// The destination prefix, if the rule has one with no offset.
    public var destination: IPPrefix? {
        if case .prefix(_, let p)? = component(.destinationPrefix) { return p }
        return nil
    }

    /// The source prefix, if the rule has one with no offset.
    public var source: IPPrefix? {
        if case .prefix(_, let p)? = component(.sourcePrefix) { return p }
        return nil
    }

    public var description: String { components.map(\.text).joined(separator: ", ") }

    // MARK: Wire form

    /// The NLRI: its length (one octet below 240, else two with the high nibble 0xF) and the components.
    public func encoded() -> [UInt8] {
        var body: [UInt8] = []
        for c in components {
            body.append(c.type.rawValue)
            switch c {
            case .prefix(_, let p):
                body.append(UInt8(p.length))
                if isIPv6 { body.append(0) }
                body += p.significantBytes
            case .prefixPattern(_, let length, let offset, let pattern):
                body += [length, offset] + pattern
            case .numeric(_, let terms):
                for (i, t) in terms.enumerated() {
                    let (code, width) = Self.lengthCode(t.value)
                    var op: UInt8 = code << 4
                    if i == terms.count - 1 { op |= 0x80 }
                    if t.and && i > 0 { op |= 0x40 }
                    if t.lessThan { op |= 0x04 }
                    if t.greaterThan { op |= 0x02 }
                    if t.equal { op |= 0x01 }
                    body.append(op)
                    Self.putValue(t.value, width: width, into: &body)
                }
            case .bitmask(_, let terms):
                for (i, t) in terms.enumerated() {
                    let (code, width) = Self.lengthCode(t.value)
                    var op: UInt8 = code << 4
                    if i == terms.count - 1 { op |= 0x80 }
                    if t.and && i > 0 { op |= 0x40 }
                    if t.not { op |= 0x02 }
                    if t.match { op |= 0x01 }
                    body.append(op)
                    Self.putValue(t.value, width: width, into: &body)
                }
            }
        }
        precondition(body.count <= Self.maximumLength, "a flow specification of \(body.count) octets")
        if body.count < 240 { return [UInt8(body.count)] + body }
        return [0xF0 | UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    private static func lengthCode(_ v: UInt64) -> (UInt8, Int) {
        v <= 0xFF ? (0, 1) : v <= 0xFFFF ? (1, 2) : v <= 0xFFFF_FFFF ? (2, 4) : (3, 8)
    }

    private static func putValue(_ v: UInt64, width: Int, into out: inout [UInt8]) {
        for i in stride(from: width - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
    }

    /// Reads one flow specification NLRI. Anything malformed — a length past the data, components
    /// out of order or repeated, an unknown type, a prefix longer than its family, an operator list
    /// without its end bit — throws `invalid`.
    static func decode(_ r: inout WireReader, ipv6: Bool, invalid: BGPNotification) throws(BGPNotification) -> FlowSpec {
        let first = try r.u8()
        var length = Int(first)
        if first >= 0xF0 { length = Int(first & 0x0F) << 8 | Int(try r.u8()) }
        guard length > 0, length <= r.remaining else { throw invalid }
        var n = try r.sub(length, truncated: invalid)
        var components: [FlowSpecComponent] = []
        while !n.isAtEnd {
            guard let type = FlowSpecComponentType(rawValue: try n.u8()) else { throw invalid }
            switch type {
            case .destinationPrefix, .sourcePrefix:
                let bits = try n.u8()
                guard bits <= (ipv6 ? 128 : 32) else { throw invalid }
                if ipv6 {
                    let offset = try n.u8()
                    guard offset <= bits else { throw invalid }
                    let pattern = try n.take((Int(bits) - Int(offset) + 7) / 8)
                    if offset == 0 {
                        guard let p = IPPrefix.from(significant: pattern, length: Int(bits), ipv6: true) else { throw invalid }
                        components.append(.prefix(type, p))
                    } else {
                        components.append(.prefixPattern(type, length: bits, offset: offset, pattern: Array(pattern)))
                    }
                } else {
                    let octets = try n.take((Int(bits) + 7) / 8)
                    guard let p = IPPrefix.from(significant: octets, length: Int(bits), ipv6: false) else { throw invalid }
                    components.append(.prefix(type, p))
                }
            default:
                var numeric: [FlowSpecNumericTerm] = []
                var bitmask: [FlowSpecBitmaskTerm] = []
                var end = false
                // Each term takes at least two octets, so a component has at most length/2 of them.
                while !end {
                    let op = try n.u8()
                    end = op & 0x80 != 0
                    let width = 1 << Int((op >> 4) & 0x3)
                    var value: UInt64 = 0
                    for b in try n.take(width) { value = value << 8 | UInt64(b) }
                    if type.isBitmask {
                        guard op & 0x0C == 0 else { throw invalid }
                        bitmask.append(
                            .init(and: !bitmask.isEmpty && op & 0x40 != 0, not: op & 0x02 != 0, match: op & 0x01 != 0, value: value))
                    } else {
                        guard op & 0x08 == 0 else { throw invalid }
                        numeric.append(
                            .init(
                                and: !numeric.isEmpty && op & 0x40 != 0, lessThan: op & 0x04 != 0, greaterThan: op & 0x02 != 0,
                                equal: op & 0x01 != 0, value: value))
                    }
                }
                components.append(type.isBitmask ? .bitmask(type, bitmask) : .numeric(type, numeric))
            }
        }
        guard let spec = FlowSpec(ipv6: ipv6, components) else { throw invalid }
        return spec
    }
}
