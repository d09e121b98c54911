import FlowCodec

/// One RADIUS attribute: Type, and the Value without its Type and Length octets (RFC 2865 §5).
///
/// Values are raw octets; the typed constructors and accessors below encode and decode the data
/// types of RFC 2865 §5 (text, string, address, integer, time) and RFC 3162 §2.3 (IPv6 prefix).
///
/// ```swift
/// let a = RADIUSAttribute.framedIPAddress(IPAddress("100.64.0.1")!)
/// a.address   // 100.64.0.1
/// ```
public struct RADIUSAttribute: Sendable, Hashable {
    /// The Type octet (``RADIUSAttributeType`` names the ones Mamori uses).
    public var type: UInt8
    /// The Value octets: at most 253 (Length is one octet and counts Type and Length).
    public var value: [UInt8]

    /// An attribute with a raw value; throws ``IdentityCodecError/Code/tooLong`` past 253 octets.
    public init(type: UInt8, value: [UInt8]) throws(IdentityCodecError) {
        guard value.count <= 253 else { throw IdentityCodecError(.tooLong, "attribute \(type) value of \(value.count) octets (at most 253)") }
        self.type = type
        self.value = value
    }

    init(unchecked type: UInt8, _ value: [UInt8]) {
        self.type = type
        self.value = value
    }

    /// A `text`/`string` attribute (RFC 2865 §5: UTF-8, 1–253 octets). Longer text is cut at 253 octets.
    public static func text(_ type: RADIUSAttributeType, _ text: String) -> RADIUSAttribute {
        RADIUSAttribute(unchecked: type.rawValue, Array(Array(text.utf8).prefix(253)))
    }

    /// A 32-bit unsigned `integer` attribute (network byte order).
    public static func integer(_ type: RADIUSAttributeType, _ value: UInt32) -> RADIUSAttribute {
        RADIUSAttribute(unchecked: type.rawValue, [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
    }

    /// An `address` attribute: 4 octets for IPv4 (NAS-IP-Address, Framed-IP-Address), 16 for IPv6 (NAS-IPv6-Address).
    public static func address(_ type: RADIUSAttributeType, _ address: IPAddress) -> RADIUSAttribute {
        RADIUSAttribute(unchecked: type.rawValue, address.ipv4 != nil ? Array(address.bytes.suffix(4)) : address.bytes)
    }

    /// A `time` attribute: seconds since 1970-01-01 UTC as a 32-bit integer (RFC 2869 §5.3 Event-Timestamp).
    public static func time(_ type: RADIUSAttributeType, secondsSinceEpoch: Int64) -> RADIUSAttribute {
        integer(type, UInt32(clamping: secondsSinceEpoch))
    }

    /// An `ipv6prefix` attribute (RFC 3162 §2.3, RFC 4818 §3): Reserved (0), Prefix-Length,
    /// then only the octets the prefix length needs.
    public static func prefix(_ type: RADIUSAttributeType, _ prefix: IPPrefix) -> RADIUSAttribute {
        let octets = (Int(prefix.length) + 7) / 8
        return RADIUSAttribute(unchecked: type.rawValue, [0, prefix.length] + prefix.address.bytes.prefix(octets))
    }

    public static func userName(_ name: String) -> RADIUSAttribute { text(.userName, name) }
    public static func framedIPAddress(_ a: IPAddress) -> RADIUSAttribute { address(.framedIPAddress, a) }
    public static func nasIPAddress(_ a: IPAddress) -> RADIUSAttribute { address(.nasIPAddress, a) }
    public static func statusType(_ s: AccountingStatusType) -> RADIUSAttribute { integer(.acctStatusType, s.rawValue) }

    /// The value as UTF-8 text (invalid sequences are replaced, never trapped on).
    public var text: String { String(decoding: value, as: UTF8.self) }

    /// The value as a 32-bit integer; nil unless it has exactly 4 octets.
    public var integer: UInt32? {
        guard value.count == 4 else { return nil }
        return UInt32(value[0]) << 24 | UInt32(value[1]) << 16 | UInt32(value[2]) << 8 | UInt32(value[3])
    }

    /// The value as an address; nil unless it has 4 or 16 octets.
    public var address: IPAddress? { IPAddress(bytes: value) }

    /// The value as an RFC 3162 prefix; nil unless 2–18 octets with a length ≤ 128 that the octets cover.
    public var prefix: IPPrefix? {
        guard value.count >= 2, value.count <= 18, value[1] <= 128 else { return nil }
        let octets = Array(value[2...])
        guard octets.count * 8 >= Int(value[1]) else { return nil }
        return IPAddress(bytes: octets + Array(repeating: 0, count: 16 - octets.count)).flatMap { IPPrefix(address: $0, length: value[1]) }
    }
}

/// RADIUS attribute types used for accounting (IANA "RADIUS Attribute Types").
public struct RADIUSAttributeType: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// RFC 2865 §5.1 (text).
    public static let userName = Self(rawValue: 1)
    /// RFC 2865 §5.4 (address).
    public static let nasIPAddress = Self(rawValue: 4)
    /// RFC 2865 §5.5 (integer).
    public static let nasPort = Self(rawValue: 5)
    /// RFC 2865 §5.6 (integer; 2 = Framed).
    public static let serviceType = Self(rawValue: 6)
    /// RFC 2865 §5.7 (integer; 1 = PPP).
    public static let framedProtocol = Self(rawValue: 7)
    /// RFC 2865 §5.8 (address).
    public static let framedIPAddress = Self(rawValue: 8)
    /// RFC 2865 §5.25 (string).
    public static let `class` = Self(rawValue: 25)
    /// RFC 2865 §5.30 (string): the number or MAC the user called to.
    public static let calledStationID = Self(rawValue: 30)
    /// RFC 2865 §5.31 (string): the MAC of a broadband CPE, the MSISDN of a mobile phone.
    public static let callingStationID = Self(rawValue: 31)
    /// RFC 2865 §5.32 (string).
    public static let nasIdentifier = Self(rawValue: 32)
    /// RFC 2866 §5.1 (integer): Start, Stop, Interim-Update, Accounting-On/Off.
    public static let acctStatusType = Self(rawValue: 40)
    /// RFC 2866 §5.2 (integer, seconds).
    public static let acctDelayTime = Self(rawValue: 41)
    /// RFC 2866 §5.3 (integer).
    public static let acctInputOctets = Self(rawValue: 42)
    /// RFC 2866 §5.4 (integer).
    public static let acctOutputOctets = Self(rawValue: 43)
    /// RFC 2866 §5.5 (text).
    public static let acctSessionID = Self(rawValue: 44)
    /// RFC 2866 §5.6 (integer; 1 = RADIUS).
    public static let acctAuthentic = Self(rawValue: 45)
    /// RFC 2866 §5.7 (integer, seconds).
    public static let acctSessionTime = Self(rawValue: 46)
    /// RFC 2866 §5.8 (integer).
    public static let acctInputPackets = Self(rawValue: 47)
    /// RFC 2866 §5.9 (integer).
    public static let acctOutputPackets = Self(rawValue: 48)
    /// RFC 2866 §5.10 (integer).
    public static let acctTerminateCause = Self(rawValue: 49)
    /// RFC 2866 §5.11 (text).
    public static let acctMultiSessionID = Self(rawValue: 50)
    /// RFC 2869 §5.1 (integer): overflows of Acct-Input-Octets past 2^32.
    public static let acctInputGigawords = Self(rawValue: 52)
    /// RFC 2869 §5.2 (integer).
    public static let acctOutputGigawords = Self(rawValue: 53)
    /// RFC 2869 §5.3 (time).
    public static let eventTimestamp = Self(rawValue: 55)
    /// RFC 2865 §5.41 (integer; 5 = Virtual, 18 = Wireless-Other, 15 = Ethernet …).
    public static let nasPortType = Self(rawValue: 61)
    /// RFC 2869 §5.19 (text).
    public static let nasPortID = Self(rawValue: 87)
    /// RFC 3162 §2.1 (address, 16 octets).
    public static let nasIPv6Address = Self(rawValue: 95)
    /// RFC 3162 §2.3 (ipv6prefix): the prefix of the link to the user.
    public static let framedIPv6Prefix = Self(rawValue: 97)
    /// RFC 4818 §3 (ipv6prefix): the prefix delegated to the user's router.
    public static let delegatedIPv6Prefix = Self(rawValue: 123)
    /// RFC 2869 §5.14 (string, 16 octets): HMAC-MD5 over the packet.
    public static let messageAuthenticator = Self(rawValue: 80)

    /// The dictionary name FreeRADIUS uses (the names of RFC 2865/2866/2869/3162/4818), or `Attr-N`.
    public var name: String { Self.names[rawValue] ?? "Attr-\(rawValue)" }
    public var description: String { name }

    static let names: [UInt8: String] = [
        1: "User-Name", 4: "NAS-IP-Address", 5: "NAS-Port", 6: "Service-Type", 7: "Framed-Protocol", 8: "Framed-IP-Address",
        25: "Class", 30: "Called-Station-Id", 31: "Calling-Station-Id", 32: "NAS-Identifier", 40: "Acct-Status-Type",
        41: "Acct-Delay-Time", 42: "Acct-Input-Octets", 43: "Acct-Output-Octets", 44: "Acct-Session-Id", 45: "Acct-Authentic",
        46: "Acct-Session-Time", 47: "Acct-Input-Packets", 48: "Acct-Output-Packets", 49: "Acct-Terminate-Cause",
        50: "Acct-Multi-Session-Id", 52: "Acct-Input-Gigawords", 53: "Acct-Output-Gigawords", 55: "Event-Timestamp",
        61: "NAS-Port-Type", 80: "Message-Authenticator", 87: "NAS-Port-Id", 95: "NAS-IPv6-Address", 97: "Framed-IPv6-Prefix",
        123: "Delegated-IPv6-Prefix",
    ]

    /// The type with FreeRADIUS dictionary name `name`, if it is one of the above.
    public init?(name: some StringProtocol) {
        guard let t = Self.names.first(where: { $0.value == name })?.key else { return nil }
        rawValue = t
    }
}

/// Acct-Status-Type values (RFC 2866 §5.1).
public enum AccountingStatusType: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case start = 1
    case stop = 2
    case interimUpdate = 3
    /// The NAS (re)started: every session it had is gone; sent before its first Start.
    case accountingOn = 7
    /// The NAS is about to stop: every session it has ends.
    case accountingOff = 8

    /// The FreeRADIUS dictionary name (`Start`, `Interim-Update`, `Accounting-On` …).
    public var description: String {
        switch self {
        case .start: return "Start"
        case .stop: return "Stop"
        case .interimUpdate: return "Interim-Update"
        case .accountingOn: return "Accounting-On"
        case .accountingOff: return "Accounting-Off"
        }
    }

    public init?(name: some StringProtocol) {
        guard let s = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = s
    }
}
