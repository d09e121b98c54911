import Crypto

/// Message-Authenticator (attribute 80, RFC 2869 §5.14, RFC 3579 §3.2): an HMAC-MD5 over the
/// whole packet keyed with the shared secret.
///
/// For an **Accounting-Request** the HMAC is taken over the packet with the Authenticator field
/// set to 16 zero octets and the attribute's own value set to 16 zero octets; the Request
/// Authenticator (RFC 2866 §3, itself MD5 over the packet with a zero Authenticator field and the
/// secret) is computed afterwards, over the packet that already carries the HMAC. RFC 3579 §3.2
/// defines the attribute for Access-* packets (the HMAC "calculated and inserted in the packet
/// before the Response Authenticator is calculated"); for Accounting-Request there is no random
/// Request Authenticator to put in the field, so implementations zero it, as the Request
/// Authenticator's own construction does. This is what FreeRADIUS does, which is what NASes and
/// radclient interoperate with: `fr_radius_packet_sign` and `fr_radius_packet_verify` in its
/// `src/lib/radius.c` (v3.x) `memset(packet->data + 4, 0, AUTH_VECTOR_LEN)` for
/// `PW_CODE_ACCOUNTING_REQUEST` before the HMAC. Checked against a real packet too:
/// `Tests/IdentityCodecTests/MessageAuthenticatorTests.swift` keeps an Accounting-Request that
/// radclient 3.2.1 signed and Python's `hmac` module verified (it does not verify with the
/// Request Authenticator left in the field).
///
/// Servers patched for BlastRADIUS (CVE-2024-3596; FreeRADIUS 3.2.5's
/// `require_message_authenticator`) require the attribute on Access-Request; Mamori verifies it
/// whenever an Accounting-Request carries it and can require it per client.
extension RADIUSPacket {
    /// What a packet's Message-Authenticator says.
    public enum MessageAuthenticatorCheck: String, Sendable, Hashable {
        /// The packet carries none.
        case absent
        /// One attribute of 16 octets whose HMAC matches the secret.
        case valid
        /// Present but wrong: the HMAC does not match, its value is not 16 octets, or there is
        /// more than one (RFC 3579 §3.2 allows one).
        case invalid
    }

    /// Checks the Message-Authenticator of this Accounting-Request against `secret` (constant
    /// time). Other packet codes are checked the same way (Authenticator zeroed), which is right
    /// for the requests of RFC 2866 and RFC 5176 only.
    public func checkMessageAuthenticator(secret: [UInt8]) -> MessageAuthenticatorCheck {
        let found = attributes.indices.filter { attributes[$0].type == RADIUSAttributeType.messageAuthenticator.rawValue }
        guard let index = found.first else { return .absent }
        guard found.count == 1, attributes[index].value.count == 16 else { return .invalid }
        guard let expected = try? messageAuthenticator(at: index, secret: secret) else { return .invalid }
        return constantTimeEqual(expected, attributes[index].value) ? .valid : .invalid
    }

    /// HMAC-MD5(secret, packet with a zero Authenticator field and a zero value at `index`).
    func messageAuthenticator(at index: Int, secret: [UInt8]) throws(IdentityCodecError) -> [UInt8] {
        var zeroed = self
        zeroed.attributes[index].value = Array(repeating: 0, count: 16)
        let octets = try zeroed.encoded(authenticator: Array(repeating: 0, count: 16))
        var hmac = HMAC<Insecure.MD5>(key: SymmetricKey(data: secret))
        hmac.update(data: octets)
        return Array(hmac.finalize())
    }

    /// An Accounting-Request carrying a Message-Authenticator: the attribute is appended (or its
    /// value replaced, if `attributes` has one), its HMAC computed, then the Request Authenticator.
    public static func accountingRequest(
        identifier: UInt8, attributes: [RADIUSAttribute], secret: [UInt8],
        messageAuthenticator: Bool
    ) throws(IdentityCodecError) -> RADIUSPacket {
        guard messageAuthenticator else { return try accountingRequest(identifier: identifier, attributes: attributes, secret: secret) }
        var packet = RADIUSPacket(code: .accountingRequest, identifier: identifier, attributes: attributes)
        let type = RADIUSAttributeType.messageAuthenticator.rawValue
        let index: Int
        if let existing = packet.attributes.firstIndex(where: { $0.type == type }) {
            index = existing
        } else {
            packet.attributes.append(RADIUSAttribute(unchecked: type, Array(repeating: 0, count: 16)))
            index = packet.attributes.count - 1
        }
        packet.attributes[index].value = try packet.messageAuthenticator(at: index, secret: secret)
        packet.authenticator = try packet.digest(over: Array(repeating: 0, count: 16), secret: secret)
        return packet
    }
}
