import FlowCodec

/// The meaning of one RADIUS Accounting-Request: who (User-Name, Calling-Station-Id), which
/// session, which addresses, when. Built from a packet or a FreeRADIUS detail record, and turned
/// back into attributes.
///
/// ```swift
/// var r = AccountingRecord(status: .start, sessionID: "4f2a0001", eventTime: 1_767_225_600)
/// r.userName = "isp-000042"; r.framedIPAddress = IPAddress("100.64.0.43")
/// let packet = try RADIUSPacket.accountingRequest(identifier: 1, attributes: r.attributes, secret: Array("s3cret".utf8))
/// ```
public struct AccountingRecord: Sendable, Hashable {
    public var status: AccountingStatusType
    /// Acct-Session-Id; empty for Accounting-On/Off, which concern the whole NAS.
    public var sessionID: String
    public var userName: String?
    /// The line's hardware (MAC of the CPE) or number (MSISDN of a phone).
    public var callingStationID: String?
    public var nasIPAddress: IPAddress?
    public var nasIdentifier: String?
    public var framedIPAddress: IPAddress?
    /// Framed-IPv6-Prefix (RFC 3162): the prefix on the link to the user (a mobile /64).
    public var framedIPv6Prefixes: [IPPrefix] = []
    /// Delegated-IPv6-Prefix (RFC 4818): the prefix routed to the user's CPE (a broadband /56).
    public var delegatedIPv6Prefixes: [IPPrefix] = []
    /// Event-Timestamp, seconds since the Unix epoch: when the event happened at the NAS.
    public var eventTime: Int64?
    /// Acct-Session-Time, seconds (Interim-Update and Stop).
    public var sessionTime: UInt32?
    /// Acct-Input-Octets with Acct-Input-Gigawords (RFC 2869 §5.1) folded in.
    public var inputOctets: UInt64?
    public var outputOctets: UInt64?
    public var inputPackets: UInt32?
    public var outputPackets: UInt32?
    /// Acct-Terminate-Cause (RFC 2866 §5.10; 1 User-Request, 2 Lost-Carrier, 4 Idle-Timeout …).
    public var terminateCause: UInt32?
    /// Acct-Delay-Time, seconds the NAS has been trying to send this record.
    public var delayTime: UInt32?
    /// NAS-Port-Type (RFC 2865 §5.41): 5 Virtual (PPPoE), 18 Wireless-Other (mobile) …
    public var nasPortType: UInt32?
    /// Service-Type 2 Framed and Framed-Protocol 1 PPP are written for PPP sessions when set.
    public var framedPPP: Bool = false

    public init(status: AccountingStatusType, sessionID: String = "", eventTime: Int64? = nil) {
        self.status = status
        self.sessionID = sessionID
        self.eventTime = eventTime
    }

    /// Reads the record out of an Accounting-Request. Throws ``IdentityCodecError/Code/unexpectedPacketCode``
    /// for other packets, ``IdentityCodecError/Code/missingField`` without Acct-Status-Type (or without
    /// Acct-Session-Id for Start/Stop/Interim-Update, RFC 2866 §5.5), and
    /// ``IdentityCodecError/Code/badAttributeValue`` for an attribute of the wrong size.
    public init(packet: RADIUSPacket) throws(IdentityCodecError) {
        guard packet.code == .accountingRequest else {
            throw IdentityCodecError(.unexpectedPacketCode, "\(packet.code) is not an Accounting-Request")
        }
        guard let st = packet.first(.acctStatusType) else { throw IdentityCodecError(.missingField, "no Acct-Status-Type") }
        guard let stv = st.integer, let status = AccountingStatusType(rawValue: stv) else {
            throw IdentityCodecError(.badAttributeValue, "Acct-Status-Type \(st.value)")
        }
        self.init(status: status)
        var inputGigawords: UInt64 = 0
        var outputGigawords: UInt64 = 0
        for a in packet.attributes {
            func int() throws(IdentityCodecError) -> UInt32 {
                guard let v = a.integer else {
                    throw IdentityCodecError(
                        .badAttributeValue, "\(RADIUSAttributeType(rawValue: a.type)) of \(a.value.count) octets (4 required)")
                }
                return v
            }
            func ipv4() throws(IdentityCodecError) -> IPAddress {
                guard a.value.count == 4, let v = a.address else {
                    throw IdentityCodecError(
                        .badAttributeValue, "\(RADIUSAttributeType(rawValue: a.type)) of \(a.value.count) octets (4 required)")
                }
                return v
            }
            func prefix() throws(IdentityCodecError) -> IPPrefix {
                guard let p = a.prefix else {
                    throw IdentityCodecError(.badAttributeValue, "\(RADIUSAttributeType(rawValue: a.type)) is not an IPv6 prefix")
                }
                return p
            }
            switch RADIUSAttributeType(rawValue: a.type) {
            case .acctSessionID: sessionID = a.text
            case .userName: userName = a.text
            case .callingStationID: callingStationID = a.text
            case .nasIdentifier: nasIdentifier = a.text
            case .nasIPAddress: nasIPAddress = try ipv4()
            case .framedIPAddress: framedIPAddress = try ipv4()
            case .framedIPv6Prefix: framedIPv6Prefixes.append(try prefix())
            case .delegatedIPv6Prefix: delegatedIPv6Prefixes.append(try prefix())
            case .eventTimestamp: eventTime = Int64(try int())
            case .acctSessionTime: sessionTime = try int()
            case .acctInputOctets: inputOctets = UInt64(try int()) | (inputOctets ?? 0) & ~0xFFFF_FFFF
            case .acctOutputOctets: outputOctets = UInt64(try int()) | (outputOctets ?? 0) & ~0xFFFF_FFFF
            case .acctInputGigawords: inputGigawords = UInt64(try int())
            case .acctOutputGigawords: outputGigawords = UInt64(try int())
            case .acctInputPackets: inputPackets = try int()
            case .acctOutputPackets: outputPackets = try int()
            case .acctTerminateCause: terminateCause = try int()
            case .acctDelayTime: delayTime = try int()
            case .nasPortType: nasPortType = try int()
            case .framedProtocol: framedPPP = (try int()) == 1
            default: break
            }
        }
        if inputGigawords > 0 { inputOctets = (inputOctets ?? 0) | inputGigawords << 32 }
        if outputGigawords > 0 { outputOctets = (outputOctets ?? 0) | outputGigawords << 32 }
        if status != .accountingOn && status != .accountingOff && sessionID.isEmpty {
            throw IdentityCodecError(.missingField, "\(status) without Acct-Session-Id")
        }
    }

    /// The attributes of an Accounting-Request carrying this record, in a stable order.
    public var attributes: [RADIUSAttribute] {
        var a: [RADIUSAttribute] = [.statusType(status)]
        if !sessionID.isEmpty { a.append(.text(.acctSessionID, sessionID)) }
        if let userName { a.append(.userName(userName)) }
        if let callingStationID { a.append(.text(.callingStationID, callingStationID)) }
        if let nasIPAddress { a.append(.nasIPAddress(nasIPAddress)) }
        if let nasIdentifier { a.append(.text(.nasIdentifier, nasIdentifier)) }
        if let nasPortType { a.append(.integer(.nasPortType, nasPortType)) }
        if framedPPP {
            a.append(.integer(.serviceType, 2))
            a.append(.integer(.framedProtocol, 1))
        }
        if let framedIPAddress { a.append(.framedIPAddress(framedIPAddress)) }
        for p in framedIPv6Prefixes { a.append(.prefix(.framedIPv6Prefix, p)) }
        for p in delegatedIPv6Prefixes { a.append(.prefix(.delegatedIPv6Prefix, p)) }
        if let eventTime { a.append(.time(.eventTimestamp, secondsSinceEpoch: eventTime)) }
        if let sessionTime { a.append(.integer(.acctSessionTime, sessionTime)) }
        if let inputOctets {
            a.append(.integer(.acctInputOctets, UInt32(truncatingIfNeeded: inputOctets)))
            if inputOctets >> 32 != 0 { a.append(.integer(.acctInputGigawords, UInt32(truncatingIfNeeded: inputOctets >> 32))) }
        }
        if let outputOctets {
            a.append(.integer(.acctOutputOctets, UInt32(truncatingIfNeeded: outputOctets)))
            if outputOctets >> 32 != 0 { a.append(.integer(.acctOutputGigawords, UInt32(truncatingIfNeeded: outputOctets >> 32))) }
        }
        if let inputPackets { a.append(.integer(.acctInputPackets, inputPackets)) }
        if let outputPackets { a.append(.integer(.acctOutputPackets, outputPackets)) }
        if let terminateCause { a.append(.integer(.acctTerminateCause, terminateCause)) }
        if let delayTime { a.append(.integer(.acctDelayTime, delayTime)) }
        return a
    }
}
