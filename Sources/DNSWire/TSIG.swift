import Crypto

/// A TSIG MAC algorithm (RFC 8945 §6). HMAC-SHA256 is what RFC 8945 requires; SHA-1, SHA-384
/// and SHA-512 are accepted from peers that use them.
public enum TSIGAlgorithm: Hashable, Sendable, CaseIterable {
    case hmacSHA1
    case hmacSHA256
    case hmacSHA384
    case hmacSHA512

    /// The algorithm's name in the TSIG record, e.g. `hmac-sha256.`.
    public var name: DNSName {
        switch self {
        case .hmacSHA1: DNSName(validated: [Array("hmac-sha1".utf8)])
        case .hmacSHA256: DNSName(validated: [Array("hmac-sha256".utf8)])
        case .hmacSHA384: DNSName(validated: [Array("hmac-sha384".utf8)])
        case .hmacSHA512: DNSName(validated: [Array("hmac-sha512".utf8)])
        }
    }

    /// The algorithm a TSIG record names, or nil for one not implemented here.
    public init?(name: DNSName) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// The length of the full MAC, in octets.
    public var macSize: Int {
        switch self {
        case .hmacSHA1: 20
        case .hmacSHA256: 32
        case .hmacSHA384: 48
        case .hmacSHA512: 64
        }
    }

    /// The shortest truncated MAC accepted (RFC 8945 §5.2.2.1): the larger of 10 octets and
    /// half the full MAC.
    public var minimumMACSize: Int { max(10, macSize / 2) }

    func mac(secret: [UInt8], data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        switch self {
        case .hmacSHA1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key))
        case .hmacSHA256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .hmacSHA384: return Array(HMAC<SHA384>.authenticationCode(for: data, using: key))
        case .hmacSHA512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        }
    }
}

/// A shared TSIG key: its name, its secret and its algorithm. The secret is not part of any
/// description.
public struct TSIGKey: Hashable, Sendable {
    public let name: DNSName
    public let secret: [UInt8]
    public let algorithm: TSIGAlgorithm

    /// A key with the secret in base64, as BIND's `key` clause and `tsig-keygen` write it.
    /// - Throws: `.badSecret` when the secret is not valid base64 or is empty.
    public init(name: DNSName, secretBase64: String, algorithm: TSIGAlgorithm = .hmacSHA256) throws(DNSWireError) {
        guard let secret = Base64.decode(secretBase64), !secret.isEmpty else { throw .badSecret }
        self.init(name: name, secret: secret, algorithm: algorithm)
    }

    public init(name: DNSName, secret: [UInt8], algorithm: TSIGAlgorithm = .hmacSHA256) {
        self.name = name
        self.secret = secret
        self.algorithm = algorithm
    }
}

/// The result of checking a request's TSIG (`DNSMessage.checkTSIG`).
public enum TSIGCheck: Sendable {
    /// The request carries no TSIG record.
    case unsigned
    /// The MAC verified with this key within its time window; sign the response with
    /// `TSIGSigner(key: key, requestMAC: mac)`.
    case verified(key: TSIGKey, mac: [UInt8])
    /// The TSIG failed; answer with `rejection.response(now:)`.
    case rejected(TSIGRejection)
}

/// A request whose TSIG failed, and the answer RFC 8945 §5.2 prescribes for it.
public struct TSIGRejection: Sendable {
    /// BADKEY (unknown key or algorithm), BADSIG (the MAC does not verify), BADTIME (outside
    /// time signed ± fudge) or FORMERR (a MAC longer than the algorithm's, or shorter than
    /// `TSIGAlgorithm.minimumMACSize`).
    public let error: DNSRCode
    /// The request as parsed.
    public let request: DNSMessage
    /// The request's TSIG record data.
    public let requestTSIG: DNSTSIGRData
    /// The key named by the request (its owner name).
    public let keyName: DNSName
    /// The key, for BADTIME (whose response is signed).
    public let key: TSIGKey?

    /// The response code of the header of the answer: FORMERR or NOTAUTH.
    public var rcode: DNSRCode { error == .formErr ? .formErr : .notAuth }

    /// The answer to the request: its ID, opcode, RD and question, QR set, `rcode`, and
    /// - for BADKEY and BADSIG, an unsigned TSIG record (empty MAC) with the error;
    /// - for BADTIME, a TSIG record signed with the key over the request's MAC, whose time signed
    ///   is the request's and whose other data is the server's time (6 octets), as BIND does;
    /// - for FORMERR, no TSIG record.
    /// - Parameter now: the server's time, seconds since 1970.
    public func response(now: Int64) throws(DNSWireError) -> [UInt8] {
        let header = DNSHeader(
            id: request.header.id, qr: true, opcode: request.header.opcode, rd: request.header.rd, rcode: rcode)
        let unsigned = try DNSMessage(header: header, questions: request.questions).serialize(maxSize: 65535)
        switch error {
        case .formErr:
            return unsigned
        case .badTime:
            guard let key else { return unsigned }
            var signer = TSIGSigner(key: key, fudge: requestTSIG.fudge, requestMAC: requestTSIG.mac)
            return try signer.sign(
                unsigned, timeSigned: requestTSIG.timeSigned, error: .badTime, other: TSIG.uint48(UInt64(max(0, now))))
        default:
            let tsig = DNSTSIGRData(
                algorithm: requestTSIG.algorithm, timeSigned: UInt64(max(0, now)) & 0xFFFF_FFFF_FFFF,
                fudge: requestTSIG.fudge, mac: [], originalID: requestTSIG.originalID, error: error)
            return try TSIG.appendRecord(to: unsigned, owner: keyName, tsig)
        }
    }
}

/// Signs a message, or a stream of messages (a zone transfer), with TSIG (RFC 8945 §4.3, §5.3.1).
///
/// The first message's MAC covers the request's MAC (for a response), the message and all TSIG
/// variables; each later message's MAC covers the previous MAC, the message and the timers only.
///
/// ```swift
/// var signer = TSIGSigner(key: key, requestMAC: mac)
/// for message in transfer { send(try signer.sign(message, now: now)) }
/// ```
public struct TSIGSigner: Sendable {
    public let key: TSIGKey
    public let fudge: UInt16
    /// The MAC the next MAC chains from: the request's, then each message's own.
    public private(set) var priorMAC: [UInt8]?
    /// How many messages were signed.
    public private(set) var signedCount = 0
    /// The messages sent unsigned since the last signed one (`skip`), which the next MAC covers.
    var pending: [UInt8] = []
    var skippedInARow = 0

    /// - Parameters:
    ///   - key: the shared key.
    ///   - fudge: the seconds of clock skew the receiver is to allow.
    ///   - requestMAC: the MAC of the signed request this answers, or nil for a request (an
    ///     empty MAC counts as none).
    public init(key: TSIGKey, fudge: UInt16 = 300, requestMAC: [UInt8]?) {
        self.key = key
        self.fudge = fudge
        self.priorMAC = requestMAC?.isEmpty == true ? nil : requestMAC
    }

    /// The message with a TSIG record appended as its last additional record (ARCOUNT + 1).
    /// - Parameters:
    ///   - message: a message in wire form without a TSIG record.
    ///   - now: seconds since 1970, the time signed.
    /// - Throws: `.truncated` for fewer than 12 octets, `.tooLarge` when the signed message
    ///   would exceed 65535 octets or 65535 additional records.
    public mutating func sign(_ message: [UInt8], now: Int64) throws(DNSWireError) -> [UInt8] {
        try sign(message, timeSigned: UInt64(max(0, now)) & 0xFFFF_FFFF_FFFF, error: .noError, other: [])
    }

    /// Leaves a message of a stream unsigned (RFC 8945 §5.3.1 allows up to 99 in a row after the
    /// first, which must be signed): the next signed message's MAC covers its octets.
    /// - Returns: false, changing nothing, for the first message or a 100th in a row; sign it.
    public mutating func skip(_ message: [UInt8]) -> Bool {
        guard signedCount > 0, skippedInARow < TSIGResponseVerifier.maxUnsignedInARow else { return false }
        pending += message
        skippedInARow += 1
        return true
    }

    mutating func sign(_ message: [UInt8], timeSigned: UInt64, error: DNSRCode, other: [UInt8]) throws(DNSWireError)
        -> [UInt8]
    {
        guard message.count >= 12 else { throw .truncated(at: message.count) }
        let originalID = UInt16(message[0]) << 8 | UInt16(message[1])
        var tsig = DNSTSIGRData(
            algorithm: key.algorithm.name, timeSigned: timeSigned, fudge: fudge, mac: [], originalID: originalID,
            error: error, other: other)
        var data: [UInt8] = []
        if let priorMAC {
            data += TSIG.uint16(UInt16(priorMAC.count)) + priorMAC
        }
        data += pending
        data += message
        data += signedCount == 0 ? TSIG.variables(keyName: key.name, tsig) : TSIG.timers(tsig)
        tsig.mac = key.algorithm.mac(secret: key.secret, data: data)
        let signed = try TSIG.appendRecord(to: message, owner: key.name, tsig)
        priorMAC = tsig.mac
        pending = []
        skippedInARow = 0
        signedCount += 1
        return signed
    }
}

/// Verifies the TSIG of a response, or of each message of a response stream (a zone transfer),
/// as a client does (RFC 8945 §5.3.1, §5.4): the first message must be signed; up to 99
/// messages in a row after it may come unsigned, and the next signed one's MAC covers them.
public struct TSIGResponseVerifier: Sendable {
    public let key: TSIGKey
    var priorMAC: [UInt8]?
    var pending: [UInt8] = []
    var unsignedInARow = 0
    var verifiedCount = 0

    /// The most messages in a row without TSIG after a signed one (RFC 8945 §5.3.1).
    public static let maxUnsignedInARow = 99

    /// - Parameters:
    ///   - key: the shared key.
    ///   - requestMAC: the MAC of the request these messages answer, or nil if it was unsigned.
    public init(key: TSIGKey, requestMAC: [UInt8]?) {
        self.key = key
        self.priorMAC = requestMAC?.isEmpty == true ? nil : requestMAC
    }

    /// Verifies the next message and returns it parsed.
    /// - Throws: `.tsigMissing` (first message unsigned, or too many unsigned in a row),
    ///   `.tsigRejected(code)` with BADKEY (another key or algorithm), FORMERR (MAC length),
    ///   BADSIG, BADTIME, or the error the peer put in its TSIG; or a parse error.
    public mutating func verify(_ bytes: [UInt8], now: Int64) throws(DNSWireError) -> DNSMessage {
        let (message, tsigStart) = try DNSMessage.parseLocatingTSIG(bytes)
        guard let tsigStart, let record = message.tsig, case .tsig(let tsig) = record.rdata else {
            guard verifiedCount > 0, unsignedInARow < Self.maxUnsignedInARow else { throw .tsigMissing }
            unsignedInARow += 1
            pending += bytes
            return message
        }
        guard record.name == key.name, tsig.algorithm == key.algorithm.name else { throw .tsigRejected(.badKey) }
        // An unsigned error (BADKEY, BADSIG) carries no MAC to check; a signed one (BADTIME) is
        // checked first, so that a forged error is reported as BADSIG.
        if tsig.error != .noError && tsig.mac.isEmpty { throw .tsigRejected(tsig.error) }
        guard tsig.mac.count <= key.algorithm.macSize, tsig.mac.count >= key.algorithm.minimumMACSize else {
            throw .tsigRejected(.formErr)
        }
        var data: [UInt8] = []
        if let priorMAC { data += TSIG.uint16(UInt16(priorMAC.count)) + priorMAC }
        data += pending
        data += TSIG.unsignedPrefix(bytes, tsigStart: tsigStart, originalID: tsig.originalID)
        data += verifiedCount == 0 ? TSIG.variables(keyName: key.name, tsig) : TSIG.timers(tsig)
        let expected = key.algorithm.mac(secret: key.secret, data: data)
        guard TSIG.equalPrefix(expected, tsig.mac) else { throw .tsigRejected(.badSig) }
        if tsig.error != .noError { throw .tsigRejected(tsig.error) }
        guard TSIG.withinFudge(tsig, now: now) else { throw .tsigRejected(.badTime) }
        priorMAC = tsig.mac
        pending = []
        unsignedInARow = 0
        verifiedCount += 1
        return message
    }
}

extension DNSMessage {
    /// Checks the TSIG of a request as a server (RFC 8945 §5.2): the key by name and algorithm,
    /// the MAC's length, the MAC, then the time (`now` within time signed ± fudge).
    /// - Parameters:
    ///   - request: the request in wire form.
    ///   - keys: the keys the server knows, by name.
    ///   - now: the server's time, seconds since 1970.
    /// - Throws: a parse error (answer FORMERR without TSIG, or drop the request).
    public static func checkTSIG(_ request: [UInt8], keys: [DNSName: TSIGKey], now: Int64) throws(DNSWireError)
        -> TSIGCheck
    {
        let (message, tsigStart) = try parseLocatingTSIG(request)
        guard let tsigStart, let record = message.tsig, case .tsig(let tsig) = record.rdata else { return .unsigned }
        func reject(_ error: DNSRCode, _ key: TSIGKey?) -> TSIGCheck {
            .rejected(TSIGRejection(error: error, request: message, requestTSIG: tsig, keyName: record.name, key: key))
        }
        guard let key = keys[record.name], tsig.algorithm == key.algorithm.name else { return reject(.badKey, nil) }
        guard tsig.mac.count <= key.algorithm.macSize, tsig.mac.count >= key.algorithm.minimumMACSize else {
            return reject(.formErr, nil)
        }
        let data =
            TSIG.unsignedPrefix(request, tsigStart: tsigStart, originalID: tsig.originalID)
            + TSIG.variables(keyName: key.name, tsig)
        guard TSIG.equalPrefix(key.algorithm.mac(secret: key.secret, data: data), tsig.mac) else {
            return reject(.badSig, nil)
        }
        guard TSIG.withinFudge(tsig, now: now) else { return reject(.badTime, key) }
        return .verified(key: key, mac: tsig.mac)
    }
}

/// The octets TSIG digests and writes.
enum TSIG {
    static func uint16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    static func uint48(_ v: UInt64) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: v >> (40 - 8 * UInt64($0))) } }

    /// Time signed and fudge (RFC 8945 §4.3.3.1).
    static func timers(_ t: DNSTSIGRData) -> [UInt8] { uint48(t.timeSigned) + uint16(t.fudge) }

    /// All TSIG variables (RFC 8945 §4.3.3): names in canonical (lower-case, uncompressed) form.
    static func variables(keyName: DNSName, _ t: DNSTSIGRData) -> [UInt8] {
        keyName.lowercased.wireBytes + uint16(DNSClass.ANY.rawValue) + [0, 0, 0, 0] + t.algorithm.lowercased.wireBytes
            + timers(t) + uint16(t.error.rawValue) + uint16(UInt16(t.other.count)) + t.other
    }

    static func rdataBytes(_ t: DNSTSIGRData) -> [UInt8] {
        t.algorithm.wireBytes + uint48(t.timeSigned) + uint16(t.fudge) + uint16(UInt16(t.mac.count)) + t.mac
            + uint16(t.originalID) + uint16(t.error.rawValue) + uint16(UInt16(t.other.count)) + t.other
    }

    /// The message as it was before its TSIG record was added: the original ID, ARCOUNT one less.
    static func unsignedPrefix(_ bytes: [UInt8], tsigStart: Int, originalID: UInt16) -> [UInt8] {
        var out = Array(bytes[0..<tsigStart])
        out.replaceSubrange(0..<2, with: uint16(originalID))
        let arcount = UInt16(out[10]) << 8 | UInt16(out[11])
        out.replaceSubrange(10..<12, with: uint16(arcount &- 1))
        return out
    }

    /// The message with a TSIG record (owner uncompressed) appended, ARCOUNT + 1.
    static func appendRecord(to message: [UInt8], owner: DNSName, _ t: DNSTSIGRData) throws(DNSWireError) -> [UInt8] {
        let arcount = UInt16(message[10]) << 8 | UInt16(message[11])
        guard arcount < 0xFFFF else { throw .tooLarge }
        let rdata = rdataBytes(t)
        var out = message
        out += owner.wireBytes
        out += uint16(DNSType.TSIG.rawValue) + uint16(DNSClass.ANY.rawValue) + [0, 0, 0, 0]
        out += uint16(UInt16(rdata.count)) + rdata
        guard out.count <= 65535 else { throw .tooLarge }
        out.replaceSubrange(10..<12, with: uint16(arcount + 1))
        return out
    }

    /// Whether `mac` (possibly truncated) is the start of `expected`, in constant time for its length.
    static func equalPrefix(_ expected: [UInt8], _ mac: [UInt8]) -> Bool {
        guard !mac.isEmpty, mac.count <= expected.count else { return false }
        var diff: UInt8 = 0
        for k in 0..<mac.count { diff |= expected[k] ^ mac[k] }
        return diff == 0
    }

    static func withinFudge(_ t: DNSTSIGRData, now: Int64) -> Bool {
        let signed = Int64(t.timeSigned)
        let skew = now >= signed ? now - signed : signed - now
        return skew <= Int64(t.fudge)
    }
}

/// Standard base64 (RFC 4648 §4) decoding, padding optional; whitespace is not allowed.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - 48 + 52)
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            if padding > 0 { return nil }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        guard padding <= 2, bits < 6, acc == 0 else { return nil }
        return out
    }
}
