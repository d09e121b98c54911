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
