import FlowCodec
import NIOCore

/// A capability advertised in OPEN (RFC 5492).
public enum BGPCapability: Sendable, Hashable {
    /// RFC 4760: the speaker exchanges routes of this family.
    case multiprotocol(BGPFamily)
    /// RFC 2918.
    case routeRefresh
    /// RFC 6793: the speaker's real (4-octet) AS number.
    case fourOctetAS(UInt32)
    /// RFC 4724: the neighbour may keep this speaker's routes while the session is down.
    case gracefulRestart(BGPGracefulRestart)
    /// Any other capability, kept as received.
    case other(code: UInt8, value: [UInt8])

    var code: UInt8 {
        switch self {
        case .multiprotocol: 1
        case .routeRefresh: 2
        case .fourOctetAS: 65
        case .gracefulRestart: 64
        case .other(let code, _): code
        }
    }
}

/// The graceful restart capability (RFC 4724 §3): a speaker that advertises it asks its
/// neighbour to keep the routes it announced, marked stale, when the connection ends without a
/// NOTIFICATION, for up to `restartTime` seconds or until the speaker is back and has sent
/// End-of-RIB — then the stale routes it did not announce again are removed.
public struct BGPGracefulRestart: Sendable, Hashable {
    /// R: the speaker has restarted (its first session since it started).
    public var restarting: Bool
    /// N (RFC 8538): the speaker supports graceful restart after a NOTIFICATION too.
    public var notification: Bool
    /// Seconds the neighbour waits for the session to come back before it removes the routes
    /// (12 bits: at most 4095).
    public var restartTime: UInt16
    /// The families whose routes the neighbour may keep, each with F: whether the speaker kept
    /// the state of that family across the restart. A family missing, or without F, has its
    /// stale routes removed as soon as the session is back.
    public var families: [Family]

    public struct Family: Sendable, Hashable {
        public var family: BGPFamily
        public var forwardingPreserved: Bool

        public init(_ family: BGPFamily, forwardingPreserved: Bool) {
            self.family = family
            self.forwardingPreserved = forwardingPreserved
        }
    }

    public static let maximumRestartTime: UInt16 = 4095

    public init(restarting: Bool, notification: Bool = false, restartTime: UInt16, families: [Family]) {
        self.restarting = restarting
        self.notification = notification
        self.restartTime = min(restartTime, Self.maximumRestartTime)
        self.families = families
    }

    var encoded: [UInt8] {
        var value: [UInt8] = []
        value.put16((restarting ? 0x8000 : 0) | (notification ? 0x4000 : 0) | restartTime & 0x0FFF)
        for f in families {
            value.put16(f.family.afi)
            value += [f.family.safi, f.forwardingPreserved ? 0x80 : 0]
        }
        return value
    }

    /// The capability's value: two octets of flags and time, then four per family.
    static func decode(_ v: inout WireReader, length: Int) throws(BGPNotification) -> BGPGracefulRestart {
        guard length >= 2, (length - 2) % 4 == 0 else { throw BGPNotification(code: 2, subcode: 0) }
        let head = try v.u16()
        var families: [Family] = []
        for _ in 0..<(length - 2) / 4 {
            let afi = try v.u16()
            let safi = try v.u8()
            families.append(Family(BGPFamily(afi: afi, safi: safi), forwardingPreserved: try v.u8() & 0x80 != 0))
        }
        return BGPGracefulRestart(
            restarting: head & 0x8000 != 0, notification: head & 0x4000 != 0, restartTime: head & 0x0FFF, families: families)
    }
}

/// OPEN (RFC 4271 §4.2).
public struct BGPOpen: Sendable, Hashable {
    public var version: UInt8
    /// The AS field: the speaker's AS, or AS_TRANS (23456) when it does not fit two octets.
    public var myAS: UInt16
    public var holdTime: UInt16
    public var identifier: UInt32
    public var capabilities: [BGPCapability]

    public static let asTrans: UInt16 = 23456

    public init(version: UInt8 = 4, myAS: UInt16, holdTime: UInt16, identifier: UInt32, capabilities: [BGPCapability]) {
        self.version = version
        self.myAS = myAS
        self.holdTime = holdTime
        self.identifier = identifier
        self.capabilities = capabilities
    }

    /// Mamori's OPEN: 4-octet AS, route refresh, the families it announces and, when given,
    /// graceful restart.
    public init(
        localAS: UInt32, holdTime: UInt16, identifier: UInt32, families: [BGPFamily] = BGPFamily.supported,
        gracefulRestart: BGPGracefulRestart? = nil
    ) {
        self.init(
            myAS: localAS > 0xFFFF ? Self.asTrans : UInt16(localAS), holdTime: holdTime, identifier: identifier,
            capabilities: families.map { .multiprotocol($0) } + [.routeRefresh, .fourOctetAS(localAS)]
                + (gracefulRestart.map { [.gracefulRestart($0)] } ?? []))
    }

    /// The peer's AS: from the 4-octet capability when present (RFC 6793 §4.1), else the AS field.
    public var autonomousSystem: UInt32 {
        for case .fourOctetAS(let asn) in capabilities { return asn }
        return UInt32(myAS)
    }

    public var supportsFourOctetAS: Bool { capabilities.contains { if case .fourOctetAS = $0 { true } else { false } } }
    public var supportsRouteRefresh: Bool { capabilities.contains(.routeRefresh) }
    /// The graceful restart capability, when advertised.
    public var gracefulRestart: BGPGracefulRestart? {
        for case .gracefulRestart(let g) in capabilities { return g }
        return nil
    }
    /// The families of the multiprotocol capabilities; IPv4 unicast when there are none (RFC 4760 §8).
    public var families: [BGPFamily] {
        let f = capabilities.compactMap { if case .multiprotocol(let f) = $0 { f } else { nil } }
        return f.isEmpty && !capabilities.contains { $0.code == 1 } ? [.ipv4Unicast] : f
    }
}

/// UPDATE (RFC 4271 §4.3): IPv4 unicast withdrawals and routes in their own fields, every other
/// family in MP_REACH_NLRI / MP_UNREACH_NLRI.
public struct BGPUpdate: Sendable, Hashable {
    public var withdrawn: [IPPrefix]
    public var attributes: BGPPathAttributes
    public var nlri: [IPPrefix]

    public init(withdrawn: [IPPrefix] = [], attributes: BGPPathAttributes = BGPPathAttributes(), nlri: [IPPrefix] = []) {
        self.withdrawn = withdrawn
        self.attributes = attributes
        self.nlri = nlri
    }

    /// The End-of-RIB marker of `family` (RFC 4724 §2).
    public static func endOfRIB(_ family: BGPFamily) -> BGPUpdate {
        family == .ipv4Unicast ? BGPUpdate() : BGPUpdate(attributes: BGPPathAttributes(unreach: BGPUnreach(family: family, withdrawn: [])))
    }

    /// The family this UPDATE marks the end of, if it is an End-of-RIB marker.
    public var endOfRIB: BGPFamily? {
        if withdrawn.isEmpty, nlri.isEmpty, attributes == BGPPathAttributes() { return .ipv4Unicast }
        var onlyUnreach = BGPPathAttributes()
        onlyUnreach.unreach = attributes.unreach
        if nlri.isEmpty, withdrawn.isEmpty, let u = attributes.unreach, u.withdrawn.isEmpty, u.raw.isEmpty, attributes == onlyUnreach {
            return u.family
        }
        return nil
    }

    /// Every route this UPDATE announces, of any family.
    public var announced: [BGPNLRI] { nlri.map { .prefix($0) } + (attributes.reach?.nlri ?? []) }
    /// Every route this UPDATE withdraws, of any family.
    public var withdrawnRoutes: [BGPNLRI] { withdrawn.map { .prefix($0) } + (attributes.unreach?.withdrawn ?? []) }
}

/// One BGP message.
/// One step of framing a stream: a whole message, or the NOTIFICATION a bad header calls for.
public enum BGPFrame: Sendable, Hashable {
    case message([UInt8])
    case headerError(BGPNotification)
}

public enum BGPMessage: Sendable, Hashable {
    case open(BGPOpen)
    case update(BGPUpdate)
    case notification(BGPNotification)
    case keepalive
    /// RFC 2918 (subtype 0; RFC 7313's BoRR/EoRR are 1 and 2).
    case routeRefresh(BGPFamily, subtype: UInt8)

    public static let headerLength = 19
    /// The largest message without the extended message capability (RFC 4271 §4.1).
    public static let maximumLength = 4096

    public var typeCode: UInt8 {
        switch self {
        case .open: 1
        case .update: 2
        case .notification: 3
        case .keepalive: 4
        case .routeRefresh: 5
        }
    }

    public var name: String {
        switch self {
        case .open: "OPEN"
        case .update: "UPDATE"
        case .notification: "NOTIFICATION"
        case .keepalive: "KEEPALIVE"
        case .routeRefresh: "ROUTE-REFRESH"
        }
    }

    // MARK: Encoding

    /// The message on the wire. `fourOctetAS`: whether both sides advertised the capability
    /// (it decides the width of AS numbers in AS_PATH).
    ///
    /// An UPDATE larger than 4096 octets cannot be sent: callers keep each UPDATE to one route
    /// or a few (see `BGPRoute`), and this returns nil rather than send a message the peer must reject.
    public func encoded(fourOctetAS: Bool = true) -> [UInt8]? {
        var body: [UInt8] = []
        switch self {
        case .open(let o):
            body.append(o.version)
            body.put16(o.myAS)
            body.put16(o.holdTime)
            body.put32(o.identifier)
            var params: [UInt8] = []
            for c in o.capabilities {
                var value: [UInt8] = []
                switch c {
                case .multiprotocol(let f):
                    value.put16(f.afi)
                    value += [0, f.safi]
                case .routeRefresh: break
                case .fourOctetAS(let asn): value.put32(asn)
                case .gracefulRestart(let g): value = g.encoded
                case .other(_, let v): value = v
                }
                // One capability per optional parameter, as most implementations send them.
                params += [2, UInt8(value.count + 2), c.code, UInt8(value.count)] + value
            }
            guard params.count <= 255 else { return nil }
            body.append(UInt8(params.count))
            body += params
        case .update(let u):
            var withdrawn: [UInt8] = []
            for p in u.withdrawn { writePrefix(p, into: &withdrawn) }
            var attributes: [UInt8] = []
            u.attributes.encode(fourOctetAS: fourOctetAS, into: &attributes)
            guard withdrawn.count <= 0xFFFF, attributes.count <= 0xFFFF else { return nil }
            body.put16(UInt16(withdrawn.count))
            body += withdrawn
            body.put16(UInt16(attributes.count))
            body += attributes
            for p in u.nlri { writePrefix(p, into: &body) }
        case .notification(let n):
            body += [n.code, n.subcode] + n.data
        case .keepalive:
            break
        case .routeRefresh(let f, let subtype):
            body.put16(f.afi)
            body += [subtype, f.safi]
        }
        let length = Self.headerLength + body.count
        guard length <= Self.maximumLength else { return nil }
        var out = [UInt8](repeating: 0xFF, count: 16)
        out.put16(UInt16(length))
        out.append(typeCode)
        return out + body
    }

    // MARK: Decoding

    /// Cuts the next whole message from the front of a TCP stream's bytes (RFC 4271 §4.1): nil
    /// while it is not all there; a bad header's NOTIFICATION, with the rest of the buffer
    /// dropped — the stream is out of step and nothing after it can be framed. The speaker's
    /// framer and the fuzz target both cut the stream with this.
    public static func nextFrame(_ buffer: inout ByteBuffer) -> BGPFrame? {
        let length: Int
        do {
            guard let l = try frameLength(buffer) else { return nil }
            length = l
        } catch {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .headerError(error)
        }
        return buffer.readBytes(length: length).map { .message($0) }
    }

    /// The length of the message at the start of `buffer` once its header is there: nil while
    /// fewer than 19 octets have arrived. Throws the NOTIFICATION a bad header calls for
    /// (RFC 4271 §6.1): a marker not all ones, a length outside 19…4096 or below the type's
    /// minimum, an unknown type.
    public static func frameLength(_ buffer: ByteBuffer) throws(BGPNotification) -> Int? {
        guard buffer.readableBytes >= headerLength, let header = buffer.getBytes(at: buffer.readerIndex, length: headerLength) else {
            return nil
        }
        return try frameLength(header: header[...])
    }

    static func frameLength(header: ArraySlice<UInt8>) throws(BGPNotification) -> Int {
        let h = Array(header)
        guard h[0..<16].allSatisfy({ $0 == 0xFF }) else { throw .connectionNotSynchronized() }
        let length = UInt16(h[16]) << 8 | UInt16(h[17])
        let type = h[18]
        let minimum: Int
        switch type {
        case 1: minimum = 29
        case 2: minimum = 23
        case 3: minimum = 21
        case 4: minimum = 19
        case 5: minimum = 23
        default: throw .badMessageType(type)
        }
        guard Int(length) >= minimum, Int(length) <= maximumLength, type != 4 || length == 19 else { throw .badMessageLength(length) }
        return Int(length)
    }

    /// Decodes one whole message (header included). Throws the NOTIFICATION the error calls for
    /// (RFC 4271 §6, RFC 7313 for ROUTE-REFRESH).
    public static func decode(_ bytes: [UInt8], fourOctetAS: Bool = true) throws(BGPNotification) -> BGPMessage {
        guard bytes.count >= headerLength else { throw .badMessageLength(UInt16(clamping: bytes.count)) }
        let length = try frameLength(header: bytes[0..<headerLength])
        guard length == bytes.count else { throw .badMessageLength(UInt16(clamping: length)) }
        switch bytes[18] {
        case 1: return .open(try decodeOpen(bytes))
        case 2: return .update(try decodeUpdate(bytes, fourOctetAS: fourOctetAS))
        case 3: return .notification(BGPNotification(code: bytes[19], subcode: bytes[20], data: Array(bytes[21...])))
        case 4: return .keepalive
        default:
            guard bytes.count == 23 else {
                // RFC 7313 §5: the data is the message received, cut to what a NOTIFICATION of at
                // most 4096 octets carries (a message of 4076 octets or more would not fit whole).
                let data = Array(bytes.prefix(maximumLength - headerLength - 2))
                throw BGPNotification(code: BGPNotification.routeRefreshMessageError, subcode: 1, data: data)
            }
            return .routeRefresh(BGPFamily(afi: UInt16(bytes[19]) << 8 | UInt16(bytes[20]), safi: bytes[22]), subtype: bytes[21])
        }
    }

    static func decodeOpen(_ bytes: [UInt8]) throws(BGPNotification) -> BGPOpen {
        let bad = BGPNotification.badMessageLength(UInt16(bytes.count))
        var r = WireReader(bytes, from: headerLength, truncated: bad)
        let version = try r.u8()
        guard version == 4 else { throw .unsupportedVersion() }
        let myAS = try r.u16()
        let hold = try r.u16()
        guard hold == 0 || hold >= 3 else { throw .unacceptableHoldTime() }
        let identifier = try r.u32()
        guard identifier != 0 else { throw .badBGPIdentifier() }
        let paramsLength = Int(try r.u8())
        // The parameters must fill the message exactly.
        guard paramsLength == r.remaining else { throw BGPNotification(code: 2, subcode: 0) }
        // A parameter cut short or running past the field is an OPEN Message Error too, not the
        // header's Bad Message Length: the message's length was right.
        var params = try r.sub(paramsLength, truncated: BGPNotification(code: 2, subcode: 0))
        var capabilities: [BGPCapability] = []
        while !params.isAtEnd {
            let type = try params.u8()
            let length = Int(try params.u8())
            var p = try params.sub(length, truncated: BGPNotification(code: 2, subcode: 0))
            guard type == 2 else { throw .unsupportedOptionalParameter() }
            while !p.isAtEnd {
                let code = try p.u8()
                let n = Int(try p.u8())
                var v = try p.sub(n, truncated: BGPNotification(code: 2, subcode: 0))
                switch (code, n) {
                case (1, 4):
                    let afi = try v.u16()
                    _ = try v.u8()
                    capabilities.append(.multiprotocol(BGPFamily(afi: afi, safi: try v.u8())))
                case (2, 0): capabilities.append(.routeRefresh)
                case (65, 4): capabilities.append(.fourOctetAS(try v.u32()))
                case (64, _): capabilities.append(.gracefulRestart(try BGPGracefulRestart.decode(&v, length: n)))
                default: capabilities.append(.other(code: code, value: Array(try v.take(n))))
                }
            }
        }
        return BGPOpen(version: version, myAS: myAS, holdTime: hold, identifier: identifier, capabilities: capabilities)
    }

    static func decodeUpdate(_ bytes: [UInt8], fourOctetAS: Bool) throws(BGPNotification) -> BGPUpdate {
        var r = WireReader(bytes, from: headerLength, truncated: .malformedAttributeList())
        // RFC 4271 §6.3: lengths that do not add up make the attribute list malformed.
        let withdrawnLength = Int(try r.u16())
        guard withdrawnLength + 2 <= r.remaining else { throw .malformedAttributeList() }
        var w = try r.sub(withdrawnLength, truncated: .malformedAttributeList())
        var withdrawn: [IPPrefix] = []
        while !w.isAtEnd { withdrawn.append(try readPrefix(&w, ipv6: false, invalid: .invalidNetworkField())) }
        let attributesLength = Int(try r.u16())
        guard attributesLength <= r.remaining else { throw .malformedAttributeList() }
        var a = try r.sub(attributesLength, truncated: .malformedAttributeList())
        let attributes = try BGPPathAttributes.decode(&a, fourOctetAS: fourOctetAS)
        var nlri: [IPPrefix] = []
        var n = WireReader(bytes, from: r.offset, truncated: .invalidNetworkField())
        while !n.isAtEnd { nlri.append(try readPrefix(&n, ipv6: false, invalid: .invalidNetworkField())) }
        // Well-known mandatory attributes when the UPDATE carries routes (RFC 4271 §5; RFC 4760 §3
        // for MP_REACH_NLRI, where NEXT_HOP is in the attribute itself).
        if !nlri.isEmpty || !(attributes.reach?.nlri.isEmpty ?? true) {
            if attributes.origin == nil { throw .missingWellKnownAttribute(BGPPathAttributes.originType) }
            if attributes.asPath == nil { throw .missingWellKnownAttribute(BGPPathAttributes.asPathType) }
            if !nlri.isEmpty, attributes.nextHop == nil { throw .missingWellKnownAttribute(BGPPathAttributes.nextHopType) }
        }
        return BGPUpdate(withdrawn: withdrawn, attributes: attributes, nlri: nlri)
    }
}
