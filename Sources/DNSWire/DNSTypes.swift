// swift-format-ignore-file: AlwaysUseLowerCamelCase
// The mnemonics are spelled as in the RFCs and zone files (A, NS, SOA, IN), not in lower camel case.

/// A resource record type (RFC 1035 §3.2.2, IANA "Resource Record (RR) TYPEs"). Any 16-bit value
/// is a type; the common ones have names.
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let A = DNSType(rawValue: 1)
    public static let NS = DNSType(rawValue: 2)
    public static let CNAME = DNSType(rawValue: 5)
    public static let SOA = DNSType(rawValue: 6)
    public static let PTR = DNSType(rawValue: 12)
    public static let MX = DNSType(rawValue: 15)
    public static let TXT = DNSType(rawValue: 16)
    public static let AAAA = DNSType(rawValue: 28)
    public static let SRV = DNSType(rawValue: 33)
    public static let OPT = DNSType(rawValue: 41)
    public static let DS = DNSType(rawValue: 43)
    public static let RRSIG = DNSType(rawValue: 46)
    public static let DNSKEY = DNSType(rawValue: 48)
    public static let TKEY = DNSType(rawValue: 249)
    public static let TSIG = DNSType(rawValue: 250)
    public static let IXFR = DNSType(rawValue: 251)
    public static let AXFR = DNSType(rawValue: 252)
    public static let ANY = DNSType(rawValue: 255)

    static let names: [UInt16: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 41: "OPT",
        43: "DS", 46: "RRSIG", 48: "DNSKEY", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 255: "ANY",
    ]

    /// The mnemonic, or `TYPE<n>` (RFC 3597) for a type without one here.
    public var description: String { Self.names[rawValue] ?? "TYPE\(rawValue)" }
}

/// A resource record class (RFC 1035 §3.2.4, RFC 2136 §2.4 for NONE and ANY).
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let IN = DNSClass(rawValue: 1)
    public static let CH = DNSClass(rawValue: 3)
    public static let HS = DNSClass(rawValue: 4)
    public static let NONE = DNSClass(rawValue: 254)
    public static let ANY = DNSClass(rawValue: 255)

    /// The mnemonic, or `CLASS<n>` (RFC 3597).
    public var description: String {
        switch rawValue {
        case 1: "IN"
        case 3: "CH"
        case 4: "HS"
        case 254: "NONE"
        case 255: "ANY"
        default: "CLASS\(rawValue)"
        }
    }
}

/// The header's 4-bit operation code (RFC 1035 §4.1.1, RFC 1996 NOTIFY, RFC 2136 UPDATE).
public struct DNSOpcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code, 0…15 (only the low four bits are written).
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let query = DNSOpcode(rawValue: 0)
    public static let status = DNSOpcode(rawValue: 2)
    public static let notify = DNSOpcode(rawValue: 4)
    public static let update = DNSOpcode(rawValue: 5)

    public var description: String {
        switch rawValue {
        case 0: "QUERY"
        case 2: "STATUS"
        case 4: "NOTIFY"
        case 5: "UPDATE"
        default: "OPCODE\(rawValue)"
        }
    }
}

/// A response code: the header's four bits, or the 16-bit extended codes of TSIG's error field
/// (RFC 8945 §4.2: BADSIG, BADKEY, BADTIME …).
public struct DNSRCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = DNSRCode(rawValue: 0)
    public static let formErr = DNSRCode(rawValue: 1)
    public static let servFail = DNSRCode(rawValue: 2)
    public static let nxDomain = DNSRCode(rawValue: 3)
    public static let notImp = DNSRCode(rawValue: 4)
    public static let refused = DNSRCode(rawValue: 5)
    public static let yxDomain = DNSRCode(rawValue: 6)
    public static let yxRRSet = DNSRCode(rawValue: 7)
    public static let nxRRSet = DNSRCode(rawValue: 8)
    /// Not authorized (RFC 8945): the header code of every TSIG error response.
    public static let notAuth = DNSRCode(rawValue: 9)
    public static let notZone = DNSRCode(rawValue: 10)
    /// TSIG signature failure (shares 16 with EDNS's BADVERS).
    public static let badSig = DNSRCode(rawValue: 16)
    /// TSIG key not recognized.
    public static let badKey = DNSRCode(rawValue: 17)
    /// TSIG signature out of its time window.
    public static let badTime = DNSRCode(rawValue: 18)
    public static let badMode = DNSRCode(rawValue: 19)
    public static let badName = DNSRCode(rawValue: 20)
    public static let badAlg = DNSRCode(rawValue: 21)
    /// TSIG MAC truncated below what the receiver accepts.
    public static let badTrunc = DNSRCode(rawValue: 22)

    static let names: [UInt16: String] = [
        0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
        7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADSIG", 17: "BADKEY", 18: "BADTIME",
        19: "BADMODE", 20: "BADNAME", 21: "BADALG", 22: "BADTRUNC",
    ]

    public var description: String { Self.names[rawValue] ?? "RCODE\(rawValue)" }
}

/// The 12-octet message header (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD and CD).
///
/// The counts are what the header said when parsed; `DNSMessage.serialize` and
/// `DNSMessageBuilder` write the counts of the records they actually write.
public struct DNSHeader: Hashable, Sendable {
    public var id: UInt16
    /// A response (true) or a query (false).
    public var qr: Bool
    public var opcode: DNSOpcode
    /// Authoritative answer.
    public var aa: Bool
    /// Truncated.
    public var tc: Bool
    /// Recursion desired.
    public var rd: Bool
    /// Recursion available.
    public var ra: Bool
    /// Authentic data.
    public var ad: Bool
    /// Checking disabled.
    public var cd: Bool
    /// The low four bits of the response code.
    public var rcode: DNSRCode
    public var questionCount: UInt16
    public var answerCount: UInt16
    public var authorityCount: UInt16
    public var additionalCount: UInt16

    /// A header with all flags clear and all counts zero, unless given.
    public init(
        id: UInt16, qr: Bool = false, opcode: DNSOpcode = .query, aa: Bool = false, tc: Bool = false,
        rd: Bool = false, ra: Bool = false, ad: Bool = false, cd: Bool = false, rcode: DNSRCode = .noError,
        questionCount: UInt16 = 0, answerCount: UInt16 = 0, authorityCount: UInt16 = 0, additionalCount: UInt16 = 0
    ) {
        self.id = id
        self.qr = qr
        self.opcode = opcode
        self.aa = aa
        self.tc = tc
        self.rd = rd
        self.ra = ra
        self.ad = ad
        self.cd = cd
        self.rcode = rcode
        self.questionCount = questionCount
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }

    /// The header from its 12 octets.
    init(bytes b: ArraySlice<UInt8>) {
        let i = b.startIndex
        func u16(_ k: Int) -> UInt16 { UInt16(b[i + k]) << 8 | UInt16(b[i + k + 1]) }
        let flags = u16(2)
        self.init(
            id: u16(0), qr: flags & 0x8000 != 0, opcode: DNSOpcode(rawValue: UInt8(flags >> 11 & 0x0F)),
            aa: flags & 0x0400 != 0, tc: flags & 0x0200 != 0, rd: flags & 0x0100 != 0, ra: flags & 0x0080 != 0,
            ad: flags & 0x0020 != 0, cd: flags & 0x0010 != 0, rcode: DNSRCode(rawValue: flags & 0x000F),
            questionCount: u16(4), answerCount: u16(6), authorityCount: u16(8), additionalCount: u16(10))
    }

    /// The flags word (bits 16–31 of the header).
    var flags: UInt16 {
        var f = UInt16(opcode.rawValue & 0x0F) << 11 | rcode.rawValue & 0x0F
        if qr { f |= 0x8000 }
        if aa { f |= 0x0400 }
        if tc { f |= 0x0200 }
        if rd { f |= 0x0100 }
        if ra { f |= 0x0080 }
        if ad { f |= 0x0020 }
        if cd { f |= 0x0010 }
        return f
    }

    /// The 12 octets, with these counts.
    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(12)
        for v in [id, flags, questionCount, answerCount, authorityCount, additionalCount] {
            out.append(UInt8(v >> 8))
            out.append(UInt8(v & 0xFF))
        }
        return out
    }
}
