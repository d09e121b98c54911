import FlowCodec

/// ORIGIN (RFC 4271 §5.1.1).
public enum BGPOrigin: UInt8, Sendable, Hashable {
    case igp = 0
    case egp = 1
    case incomplete = 2
}

/// One AS_PATH segment (RFC 4271 §4.3; confederation types RFC 5065).
public struct BGPASPathSegment: Sendable, Hashable {
    /// 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET.
    public var type: UInt8
    public var asns: [UInt32]

    public init(type: UInt8, asns: [UInt32]) {
        self.type = type
        self.asns = asns
    }

    public static func sequence(_ asns: [UInt32]) -> Self { .init(type: 2, asns: asns) }
}

/// A route's network-layer reachability: an IP prefix or a flow specification.
public enum BGPNLRI: Sendable, Hashable, CustomStringConvertible {
    case prefix(IPPrefix)
    case flowSpec(FlowSpec)

    public var family: BGPFamily {
        switch self {
        case .prefix(let p): p.isIPv4 ? .ipv4Unicast : .ipv6Unicast
        case .flowSpec(let f): f.isIPv6 ? .ipv6FlowSpec : .ipv4FlowSpec
        }
    }

    public var description: String {
        switch self {
        case .prefix(let p): p.description
        case .flowSpec(let f): "flow { \(f) }"
        }
    }

    func encode(into out: inout [UInt8]) {
        switch self {
        case .prefix(let p): writePrefix(p, into: &out)
        case .flowSpec(let f): out += f.encoded()
        }
    }
}

/// MP_REACH_NLRI (RFC 4760 §3).
public struct BGPReach: Sendable, Hashable {
    public var family: BGPFamily
    /// The next hop's octets as sent (empty for FlowSpec; 16 or 32 for IPv6: global and link-local).
    public var nextHop: [UInt8]
    /// Routes of `family`; empty when the family is not one this codec reads (then `raw` holds them).
    public var nlri: [BGPNLRI]
    public var raw: [UInt8]

    public init(family: BGPFamily, nextHop: [UInt8], nlri: [BGPNLRI], raw: [UInt8] = []) {
        self.family = family
        self.nextHop = nextHop
        self.nlri = nlri
        self.raw = raw
    }
}

/// MP_UNREACH_NLRI (RFC 4760 §4). No routes at all is the End-of-RIB marker (RFC 4724).
public struct BGPUnreach: Sendable, Hashable {
    public var family: BGPFamily
    public var withdrawn: [BGPNLRI]
    public var raw: [UInt8]

    public init(family: BGPFamily, withdrawn: [BGPNLRI], raw: [UInt8] = []) {
        self.family = family
        self.withdrawn = withdrawn
        self.raw = raw
    }
}

/// An attribute kept as received (one this codec does not model, such as AGGREGATOR).
public struct BGPRawAttribute: Sendable, Hashable {
    public var flags: UInt8
    public var type: UInt8
    public var value: [UInt8]

    public init(flags: UInt8, type: UInt8, value: [UInt8]) {
        self.flags = flags
        self.type = type
        self.value = value
    }
}

/// An UPDATE's path attributes (RFC 4271 §5), those Mamori writes modelled, the rest kept raw.
public struct BGPPathAttributes: Sendable, Hashable {
    public var origin: BGPOrigin?
    public var asPath: [BGPASPathSegment]?
    /// NEXT_HOP (IPv4 unicast in the classic NLRI field).
    public var nextHop: IPAddress?
    public var multiExitDiscriminator: UInt32?
    public var localPreference: UInt32?
    public var atomicAggregate = false
    public var communities: [BGPCommunity] = []
    public var extendedCommunities: [BGPExtendedCommunity] = []
    public var largeCommunities: [BGPLargeCommunity] = []
    public var reach: BGPReach?
    public var unreach: BGPUnreach?
    public var others: [BGPRawAttribute] = []

    public init(
        origin: BGPOrigin? = nil, asPath: [BGPASPathSegment]? = nil, nextHop: IPAddress? = nil, multiExitDiscriminator: UInt32? = nil,
        localPreference: UInt32? = nil, communities: [BGPCommunity] = [], extendedCommunities: [BGPExtendedCommunity] = [],
        largeCommunities: [BGPLargeCommunity] = [], reach: BGPReach? = nil, unreach: BGPUnreach? = nil
    ) {
        self.origin = origin
        self.asPath = asPath
        self.nextHop = nextHop
        self.multiExitDiscriminator = multiExitDiscriminator
        self.localPreference = localPreference
        self.communities = communities
        self.extendedCommunities = extendedCommunities
        self.largeCommunities = largeCommunities
        self.reach = reach
        self.unreach = unreach
    }

    // Type codes.
    static let originType: UInt8 = 1
    static let asPathType: UInt8 = 2
    static let nextHopType: UInt8 = 3
    static let medType: UInt8 = 4
    static let localPrefType: UInt8 = 5
    static let atomicAggregateType: UInt8 = 6
    static let aggregatorType: UInt8 = 7
    static let communitiesType: UInt8 = 8
    static let mpReachType: UInt8 = 14
    static let mpUnreachType: UInt8 = 15
    static let extendedCommunitiesType: UInt8 = 16
    static let as4PathType: UInt8 = 17
    static let as4AggregatorType: UInt8 = 18
    static let largeCommunitiesType: UInt8 = 32

    static let optional: UInt8 = 0x80
    static let transitive: UInt8 = 0x40
    static let partial: UInt8 = 0x20
    static let extendedLength: UInt8 = 0x10

    /// The optional and transitive bits each attribute this codec knows must carry (RFC 4271 §5,
    /// RFC 4760, RFC 4360, RFC 6793, RFC 8092). A mismatch is an Attribute Flags Error.
    static func expectedFlags(_ type: UInt8) -> UInt8? {
        switch type {
        case originType, asPathType, nextHopType, localPrefType, atomicAggregateType: transitive
        case medType, mpReachType, mpUnreachType: optional
        case aggregatorType, communitiesType, extendedCommunitiesType, as4PathType, as4AggregatorType, largeCommunitiesType:
            optional | transitive
        default: nil
        }
    }

    // MARK: Encoding

    func encode(fourOctetAS: Bool, into out: inout [UInt8]) {
        func attribute(_ flags: UInt8, _ type: UInt8, _ value: [UInt8]) {
            if value.count > 255 {
                out += [flags | Self.extendedLength, type]
                out.put16(UInt16(value.count))
            } else {
                out += [flags, type, UInt8(value.count)]
            }
            out += value
        }
        // Attributes in ascending type order (RFC 4271 §5: SHOULD).
        if let origin { attribute(Self.transitive, Self.originType, [origin.rawValue]) }
        if let asPath {
            attribute(Self.transitive, Self.asPathType, Self.encodePath(asPath, fourOctets: fourOctetAS))
        }
        if let nextHop, let v4 = nextHop.ipv4 {
            var b: [UInt8] = []
            b.put32(v4)
            attribute(Self.transitive, Self.nextHopType, b)
        }
        if let multiExitDiscriminator {
            var b: [UInt8] = []
            b.put32(multiExitDiscriminator)
            attribute(Self.optional, Self.medType, b)
        }
        if let localPreference {
            var b: [UInt8] = []
            b.put32(localPreference)
            attribute(Self.transitive, Self.localPrefType, b)
        }
        if atomicAggregate { attribute(Self.transitive, Self.atomicAggregateType, []) }
        if !communities.isEmpty {
            var b: [UInt8] = []
            for c in communities { b.put32(c.value) }
            attribute(Self.optional | Self.transitive, Self.communitiesType, b)
        }
        if let reach {
            var b: [UInt8] = []
            b.put16(reach.family.afi)
            b.append(reach.family.safi)
            b.append(UInt8(reach.nextHop.count))
            b += reach.nextHop
            b.append(0)
            for n in reach.nlri { n.encode(into: &b) }
            b += reach.raw
            attribute(Self.optional, Self.mpReachType, b)
        }
        if let unreach {
            var b: [UInt8] = []
            b.put16(unreach.family.afi)
            b.append(unreach.family.safi)
            for n in unreach.withdrawn { n.encode(into: &b) }
            b += unreach.raw
            attribute(Self.optional, Self.mpUnreachType, b)
        }
        if !extendedCommunities.isEmpty {
            var b: [UInt8] = []
            for c in extendedCommunities { b.put64(c.value) }
            attribute(Self.optional | Self.transitive, Self.extendedCommunitiesType, b)
        }
        if let asPath, !fourOctetAS, asPath.contains(where: { $0.asns.contains { $0 > 0xFFFF } }) {
            attribute(Self.optional | Self.transitive, Self.as4PathType, Self.encodePath(asPath, fourOctets: true))
        }
        if !largeCommunities.isEmpty {
            var b: [UInt8] = []
            for c in largeCommunities {
                b.put32(c.global)
                b.put32(c.local1)
                b.put32(c.local2)
            }
            attribute(Self.optional | Self.transitive, Self.largeCommunitiesType, b)
        }
        for o in others where !(asPath != nil && !fourOctetAS && o.type == Self.as4PathType) {
            attribute(o.flags & ~Self.extendedLength, o.type, o.value)
        }
    }

    static func encodePath(_ path: [BGPASPathSegment], fourOctets: Bool) -> [UInt8] {
        var b: [UInt8] = []
        for segment in path {
            // A segment holds at most 255 numbers; longer ones are split.
            var rest = segment.asns[...]
            repeat {
                let chunk = rest.prefix(255)
                rest = rest.dropFirst(chunk.count)
                b += [segment.type, UInt8(chunk.count)]
                for asn in chunk {
                    if fourOctets { b.put32(asn) } else { b.put16(asn > 0xFFFF ? 23456 : UInt16(asn)) }
                }
            } while !rest.isEmpty
        }
        return b
    }

    // MARK: Decoding

    /// Reads the path attributes field (RFC 4271 §6.3's checks, in its order of precedence).
    static func decode(_ r: inout WireReader, fourOctetAS: Bool) throws(BGPNotification) -> BGPPathAttributes {
        var a = BGPPathAttributes()
        var seen: Set<UInt8> = []
        while !r.isAtEnd {
            let start = r.offset
            let flags = try r.u8()
            let type = try r.u8()
            let length = flags & extendedLength != 0 ? Int(try r.u16()) : Int(try r.u8())
            guard length <= r.remaining else { throw .malformedAttributeList() }
            var v = try r.sub(length, truncated: .malformedAttributeList())
            let whole = Array(r.bytes[start..<r.offset])
            // A repeated attribute makes the list malformed (RFC 4271 §6.3).
            guard seen.insert(type).inserted else { throw .malformedAttributeList() }
            guard let expected = expectedFlags(type) else {
                // Unknown: an optional one is kept (transitive ones would be passed on, with
                // the partial bit); a well-known one we do not recognise is an error.
                guard flags & optional != 0 else { throw .unrecognizedWellKnownAttribute(whole) }
                a.others.append(BGPRawAttribute(flags: flags, type: type, value: Array(v.bytes[v.offset..<v.end])))
                continue
            }
            let partialAllowed = expected == optional | transitive
            guard flags & (optional | transitive) == expected, partialAllowed || flags & partial == 0 else {
                throw .attributeFlagsError(whole)
            }
            let lengthError = BGPNotification.attributeLengthError(whole)
            switch type {
            case originType:
                guard length == 1 else { throw lengthError }
                guard let o = BGPOrigin(rawValue: try v.u8()) else { throw .invalidOrigin(whole) }
                a.origin = o
            case asPathType:
                a.asPath = try decodePath(&v, fourOctets: fourOctetAS)
            case as4PathType:
                _ = try decodePath(&v, fourOctets: true)
                a.others.append(BGPRawAttribute(flags: flags, type: type, value: Array(whole[(whole.count - length)...])))
            case nextHopType:
                guard length == 4 else { throw lengthError }
                let hop = IPAddress.v4(try v.u32())
                guard hop.ipv4 != 0 else { throw .invalidNextHop(whole) }
                a.nextHop = hop
            case medType:
                guard length == 4 else { throw lengthError }
                a.multiExitDiscriminator = try v.u32()
            case localPrefType:
                guard length == 4 else { throw lengthError }
                a.localPreference = try v.u32()
            case atomicAggregateType:
                guard length == 0 else { throw lengthError }
                a.atomicAggregate = true
            case aggregatorType:
                guard length == (fourOctetAS ? 8 : 6) else { throw lengthError }
                a.others.append(BGPRawAttribute(flags: flags, type: type, value: Array(whole[(whole.count - length)...])))
            case as4AggregatorType:
                guard length == 8 else { throw lengthError }
                a.others.append(BGPRawAttribute(flags: flags, type: type, value: Array(whole[(whole.count - length)...])))
            case communitiesType:
                guard length % 4 == 0, length > 0 else { throw lengthError }
                while !v.isAtEnd { a.communities.append(BGPCommunity(try v.u32())) }
            case extendedCommunitiesType:
                guard length % 8 == 0, length > 0 else { throw lengthError }
                while !v.isAtEnd { a.extendedCommunities.append(BGPExtendedCommunity(try v.u64())) }
            case largeCommunitiesType:
                guard length % 12 == 0, length > 0 else { throw lengthError }
                while !v.isAtEnd { a.largeCommunities.append(BGPLargeCommunity(try v.u32(), try v.u32(), try v.u32())) }
            case mpReachType:
                a.reach = try decodeReach(&v, whole: whole)
            case mpUnreachType:
                a.unreach = try decodeUnreach(&v, whole: whole)
            default:
                break
            }
        }
        return a
    }

    static func decodePath(_ v: inout WireReader, fourOctets: Bool) throws(BGPNotification) -> [BGPASPathSegment] {
        var path: [BGPASPathSegment] = []
        let bad = BGPNotification.malformedASPath()
        while !v.isAtEnd {
            guard v.remaining >= 2 else { throw bad }
            let type = try v.u8()
            let count = Int(try v.u8())
            guard (1...4).contains(type), count > 0, v.remaining >= count * (fourOctets ? 4 : 2) else { throw bad }
            var asns: [UInt32] = []
            asns.reserveCapacity(count)
            for _ in 0..<count { asns.append(fourOctets ? try v.u32() : UInt32(try v.u16())) }
            path.append(BGPASPathSegment(type: type, asns: asns))
        }
        return path
    }

    static func decodeReach(_ v: inout WireReader, whole: [UInt8]) throws(BGPNotification) -> BGPReach {
        let bad = BGPNotification.optionalAttributeError(whole)
        var r = WireReader(v.bytes, from: v.offset, to: v.end, truncated: bad)
        let family = BGPFamily(afi: try r.u16(), safi: try r.u8())
        let hopLength = Int(try r.u8())
        let hop = Array(try r.take(hopLength))
        _ = try r.u8() // reserved
        guard BGPFamily.supported.contains(family) else {
            return BGPReach(family: family, nextHop: hop, nlri: [], raw: Array(r.bytes[r.offset..<r.end]))
        }
        if !family.isFlowSpec {
            guard hopLength == (family.isIPv6 ? 16 : 4) || hopLength == (family.isIPv6 ? 32 : 16) else { throw bad }
        }
        var nlri: [BGPNLRI] = []
        while !r.isAtEnd { nlri.append(try decodeNLRI(&r, family: family, invalid: bad)) }
        return BGPReach(family: family, nextHop: hop, nlri: nlri)
    }

    static func decodeUnreach(_ v: inout WireReader, whole: [UInt8]) throws(BGPNotification) -> BGPUnreach {
        let bad = BGPNotification.optionalAttributeError(whole)
        var r = WireReader(v.bytes, from: v.offset, to: v.end, truncated: bad)
        let family = BGPFamily(afi: try r.u16(), safi: try r.u8())
        guard BGPFamily.supported.contains(family) else {
            return BGPUnreach(family: family, withdrawn: [], raw: Array(r.bytes[r.offset..<r.end]))
        }
        var withdrawn: [BGPNLRI] = []
        while !r.isAtEnd { withdrawn.append(try decodeNLRI(&r, family: family, invalid: bad)) }
        return BGPUnreach(family: family, withdrawn: withdrawn)
    }

    static func decodeNLRI(_ r: inout WireReader, family: BGPFamily, invalid: BGPNotification) throws(BGPNotification) -> BGPNLRI {
        if family.isFlowSpec { return .flowSpec(try FlowSpec.decode(&r, ipv6: family.isIPv6, invalid: invalid)) }
        return .prefix(try readPrefix(&r, ipv6: family.isIPv6, invalid: invalid))
    }
}
