import Crypto

/// A RADIUS packet (RFC 2865 §3): Code, Identifier, Length, Authenticator, Attributes.
///
/// Build and sign an Accounting-Request, check it on the server side, answer it:
/// ```swift
/// let request = try RADIUSPacket.accountingRequest(identifier: 7, attributes: record.attributes, secret: secret)
/// let datagram = try request.encoded()
/// // server side
/// let received = try RADIUSPacket.decode(datagram)
/// guard received.isValidAccountingRequest(secret: secret) else { return }   // RFC 2866 §3: silently drop
/// let reply = try received.accountingResponse(secret: secret).encoded()
/// ```
public struct RADIUSPacket: Sendable, Hashable {
    /// Packet codes (RFC 2865 §3, RFC 2866 §3).
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let accessRequest = Code(rawValue: 1)
        public static let accessAccept = Code(rawValue: 2)
        public static let accessReject = Code(rawValue: 3)
        public static let accountingRequest = Code(rawValue: 4)
        public static let accountingResponse = Code(rawValue: 5)
        public static let accessChallenge = Code(rawValue: 11)
        public var description: String {
            switch rawValue {
            case 1: return "Access-Request"
            case 2: return "Access-Accept"
            case 3: return "Access-Reject"
            case 4: return "Accounting-Request"
            case 5: return "Accounting-Response"
            case 11: return "Access-Challenge"
            default: return "Code-\(rawValue)"
            }
        }
    }

    /// Largest packet RFC 2865 §3 allows.
    public static let maximumLength = 4096
    /// Code, Identifier, Length and Authenticator.
    public static let headerLength = 20

    public var code: Code
    /// Matches a response to its request (RFC 2865 §3).
    public var identifier: UInt8
    /// 16 octets: the Request or Response Authenticator.
    public var authenticator: [UInt8]
    public var attributes: [RADIUSAttribute]

    public init(code: Code, identifier: UInt8, authenticator: [UInt8] = Array(repeating: 0, count: 16), attributes: [RADIUSAttribute]) {
        self.code = code
        self.identifier = identifier
        self.authenticator = authenticator
        self.attributes = attributes
    }

    /// The first attribute of `type`, if any.
    public func first(_ type: RADIUSAttributeType) -> RADIUSAttribute? { attributes.first { $0.type == type.rawValue } }
    /// Every attribute of `type`, in packet order.
    public func all(_ type: RADIUSAttributeType) -> [RADIUSAttribute] { attributes.filter { $0.type == type.rawValue } }

    /// An Accounting-Request whose Request Authenticator is
    /// MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret) (RFC 2866 §3).
    public static func accountingRequest(identifier: UInt8, attributes: [RADIUSAttribute], secret: [UInt8]) throws(IdentityCodecError)
        -> RADIUSPacket
    {
        var packet = RADIUSPacket(code: .accountingRequest, identifier: identifier, attributes: attributes)
        packet.authenticator = try packet.digest(over: Array(repeating: 0, count: 16), secret: secret)
        return packet
    }

    /// The packet's octets. Throws ``IdentityCodecError/Code/tooLong`` past 4096 octets or for an
    /// attribute value over 253 octets, and ``IdentityCodecError/Code/badAttributeValue`` for an
    /// authenticator that is not 16 octets.
    public func encoded() throws(IdentityCodecError) -> [UInt8] {
        try encoded(authenticator: authenticator)
    }

    func encoded(authenticator: [UInt8]) throws(IdentityCodecError) -> [UInt8] {
        guard authenticator.count == 16 else {
            throw IdentityCodecError(.badAttributeValue, "authenticator of \(authenticator.count) octets (16 required)")
        }
        var length = Self.headerLength
        for a in attributes {
            guard a.value.count <= 253 else { throw IdentityCodecError(.tooLong, "attribute \(a.type) value of \(a.value.count) octets") }
            length += 2 + a.value.count
        }
        guard length <= Self.maximumLength else { throw IdentityCodecError(.tooLong, "packet of \(length) octets (at most 4096)") }
        var out: [UInt8] = [code.rawValue, identifier, UInt8(length >> 8), UInt8(truncatingIfNeeded: length)]
        out.reserveCapacity(length)
        out += authenticator
        for a in attributes {
            out.append(a.type)
            out.append(UInt8(2 + a.value.count))
            out += a.value
        }
        return out
    }

    /// MD5 over the packet with `authenticator` in the Authenticator field, followed by the secret.
    func digest(over authenticator: [UInt8], secret: [UInt8]) throws(IdentityCodecError) -> [UInt8] {
        var md5 = Insecure.MD5()
        md5.update(data: try encoded(authenticator: authenticator))
        md5.update(data: secret)
        return Array(md5.finalize())
    }

    /// Decodes one datagram strictly (RFC 2865 §3, §5): at least 20 octets, at most 4096; the
    /// Length field no larger than the datagram (octets past Length are padding and ignored, as
    /// §3 says); every attribute's Length ≥ 2 and inside the packet.
    public static func decode(_ datagram: some Collection<UInt8>) throws(IdentityCodecError) -> RADIUSPacket {
        let bytes = Array(datagram)
        guard bytes.count >= headerLength else { throw IdentityCodecError(.truncated, "\(bytes.count) octets, a RADIUS header needs 20") }
        guard bytes.count <= maximumLength else { throw IdentityCodecError(.tooLong, "datagram of \(bytes.count) octets (at most 4096)") }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length >= headerLength, length <= bytes.count else {
            throw IdentityCodecError(.lengthMismatch, "Length field says \(length), datagram has \(bytes.count) octets")
        }
        var attributes: [RADIUSAttribute] = []
        var i = headerLength
        while i < length {
            guard i + 2 <= length else {
                throw IdentityCodecError(.badAttributeLength, "attribute header at offset \(i) runs past Length \(length)")
            }
            let l = Int(bytes[i + 1])
            guard l >= 2 else { throw IdentityCodecError(.badAttributeLength, "attribute \(bytes[i]) at offset \(i) has Length \(l)") }
            guard i + l <= length else {
                throw IdentityCodecError(
                    .badAttributeLength, "attribute \(bytes[i]) at offset \(i) of Length \(l) runs past Length \(length)")
            }
            attributes.append(RADIUSAttribute(unchecked: bytes[i], Array(bytes[(i + 2)..<(i + l)])))
            i += l
        }
        return RADIUSPacket(
            code: Code(rawValue: bytes[0]), identifier: bytes[1], authenticator: Array(bytes[4..<20]), attributes: attributes)
    }

    /// Whether this is an Accounting-Request whose Request Authenticator matches `secret` (RFC 2866 §3).
    /// A server silently discards a request that fails this check.
    public func isValidAccountingRequest(secret: [UInt8]) -> Bool {
        guard code == .accountingRequest, let expected = try? digest(over: Array(repeating: 0, count: 16), secret: secret) else {
            return false
        }
        return constantTimeEqual(expected, authenticator)
    }

    /// The Accounting-Response to this request (RFC 2866 §3, §4.2): same Identifier, Response
    /// Authenticator = MD5(Code + Identifier + Length + Request Authenticator + Attributes + Secret).
    public func accountingResponse(attributes: [RADIUSAttribute] = [], secret: [UInt8]) throws(IdentityCodecError) -> RADIUSPacket {
        guard code == .accountingRequest else { throw IdentityCodecError(.unexpectedPacketCode, "\(code) is not an Accounting-Request") }
        var response = RADIUSPacket(code: .accountingResponse, identifier: identifier, attributes: attributes)
        response.authenticator = try response.digest(over: authenticator, secret: secret)
        return response
    }

    /// Whether this is an Accounting-Response to `request` signed with `secret`.
    public func isValidAccountingResponse(to request: RADIUSPacket, secret: [UInt8]) -> Bool {
        guard code == .accountingResponse, identifier == request.identifier,
            let expected = try? digest(over: request.authenticator, secret: secret)
        else { return false }
        return constantTimeEqual(expected, authenticator)
    }
}

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var d: UInt8 = 0
    for i in a.indices { d |= a[i] ^ b[i] }
    return d == 0
}
