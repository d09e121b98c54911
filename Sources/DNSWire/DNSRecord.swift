/// One entry of the question section.
public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var `class`: DNSClass

    public init(name: DNSName, type: DNSType, class: DNSClass = .IN) {
        self.name = name
        self.type = type
        self.class = `class`
    }
}

/// One resource record.
public struct DNSRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var `class`: DNSClass
    public var ttl: UInt32
    public var rdata: DNSRData

    /// A record; `type` is the record's own even where `rdata` is `.other` (OPT, unknown types).
    public init(name: DNSName, type: DNSType, class: DNSClass = .IN, ttl: UInt32, rdata: DNSRData) {
        self.name = name
        self.type = type
        self.class = `class`
        self.ttl = ttl
        self.rdata = rdata
    }
}

/// The fields of an SOA record (RFC 1035 §3.3.13).
public struct DNSSOA: Hashable, Sendable {
    /// The primary name server.
    public var mname: DNSName
    /// The responsible mailbox, as a name.
    public var rname: DNSName
    public var serial: DNSSerial
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// The negative-caching TTL (RFC 2308).
    public var minimum: UInt32

    public init(
        mname: DNSName, rname: DNSName, serial: DNSSerial, refresh: UInt32, retry: UInt32, expire: UInt32,
        minimum: UInt32
    ) {
        self.mname = mname
        self.rname = rname
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// The record data of a TSIG record (RFC 8945 §4.2).
public struct DNSTSIGRData: Hashable, Sendable {
    /// The MAC algorithm, as a name (`hmac-sha256.`).
    public var algorithm: DNSName
    /// Seconds since 1970, 48 bits.
    public var timeSigned: UInt64
    /// The seconds of clock skew the signer allows.
    public var fudge: UInt16
    public var mac: [UInt8]
    /// The message ID the message had when it was signed.
    public var originalID: UInt16
    /// The TSIG error (BADSIG, BADKEY, BADTIME …) or NOERROR.
    public var error: DNSRCode
    /// Empty, or for BADTIME the server's time as 6 octets.
    public var other: [UInt8]

    public init(
        algorithm: DNSName, timeSigned: UInt64, fudge: UInt16, mac: [UInt8], originalID: UInt16,
        error: DNSRCode = .noError, other: [UInt8] = []
    ) {
        self.algorithm = algorithm
        self.timeSigned = timeSigned
        self.fudge = fudge
        self.mac = mac
        self.originalID = originalID
        self.error = error
        self.other = other
    }
}

/// Record data, typed for the types the RPZ sinkhole writes and reads; every other type (and OPT,
/// and record data of length zero, as in UPDATE's deletions) is kept as opaque octets.
///
/// `.a` and `.aaaa` are read only in class IN (their layout is class-specific); in other
/// classes they are `.other`.
public enum DNSRData: Hashable, Sendable {
    /// An IPv4 address, 4 octets.
    case a([UInt8])
    /// An IPv6 address, 16 octets.
    case aaaa([UInt8])
    case ns(DNSName)
    case cname(DNSName)
    case ptr(DNSName)
    case mx(preference: UInt16, exchange: DNSName)
    case soa(DNSSOA)
    /// The character strings, each at most 255 octets.
    case txt([[UInt8]])
    case tsig(DNSTSIGRData)
    /// Opaque record data, written as it is.
    case other([UInt8])
}

/// The four sections of a message.
public enum DNSSection: Int, Hashable, Sendable, Comparable {
    case question = 0
    case answer = 1
    case authority = 2
    case additional = 3

    public static func < (lhs: DNSSection, rhs: DNSSection) -> Bool { lhs.rawValue < rhs.rawValue }
}
