import FlowCodec
import Testing

@testable import IdentityCodec

/// Message-Authenticator on Accounting-Request, against bytes made by other tools.
@Suite struct MessageAuthenticatorTests {
    /// An Accounting-Request as FreeRADIUS' radclient 3.2.1 (Debian 12 freeradius-utils) sent it,
    /// captured with a Python UDP socket. Made with:
    ///
    ///     printf 'Acct-Status-Type = Start\nAcct-Session-Id = "4F2A0001"\nUser-Name = "cust-00000042"\n'\
    ///     'Framed-IP-Address = 100.64.0.42\nEvent-Timestamp = 1767225600\nMessage-Authenticator = 0x00\n' > req.txt
    ///     radclient -r 1 -t 1 -f req.txt 127.0.0.1:PORT acct mamori-fixture-secret-0001
    ///
    /// radclient fills in `Message-Authenticator = 0x00`. Python's `hmac.new(secret, packet, md5)`
    /// gives the attribute's value (90efa446…) when the Authenticator field and the attribute's
    /// value are zeroed, and 73a03745… (not it) when the Request Authenticator is left in place;
    /// `md5(packet with zero Authenticator field + secret)` gives the Request Authenticator.
    static let radclientPacket = hexBytes(
        "047a0051b668aea62e969da3f7a84212158541cb2806000000012c0a3446324130303031010f637573742d30303030303034320806"
            + "6440002a37066955b900501290efa44657902a5cd8f364391f032256")
    static let secret = Array("mamori-fixture-secret-0001".utf8)

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test("radclient's Message-Authenticator verifies; a wrong secret or one flipped bit does not")
    func radclientPacketVerifies() throws {
        let packet = try RADIUSPacket.decode(Self.radclientPacket)
        #expect(packet.isValidAccountingRequest(secret: Self.secret))
        #expect(packet.checkMessageAuthenticator(secret: Self.secret) == .valid)
        #expect(packet.checkMessageAuthenticator(secret: Array("mamori-fixture-secret-0002".utf8)) == .invalid)
        var flipped = Self.radclientPacket
        flipped[flipped.count - 1] ^= 0x01 // the last octet of the Message-Authenticator's value
        #expect(try RADIUSPacket.decode(flipped).checkMessageAuthenticator(secret: Self.secret) == .invalid)
        // The HMAC value Python computed, as a known answer for the attribute alone.
        #expect(packet.first(.messageAuthenticator)?.value == Self.hexBytes("90efa44657902a5cd8f364391f032256"))
    }

    @Test("Mamori signs the same attributes to exactly radclient's bytes")
    func signingMatchesRadclient() throws {
        let received = try RADIUSPacket.decode(Self.radclientPacket)
        var attributes = received.attributes
        attributes[attributes.count - 1].value = Array(repeating: 0, count: 16)
        let signed = try RADIUSPacket.accountingRequest(
            identifier: received.identifier, attributes: attributes, secret: Self.secret, messageAuthenticator: true)
        #expect(try signed.encoded() == Self.radclientPacket)
        // Without one in the list it is appended, and the result verifies.
        let appended = try RADIUSPacket.accountingRequest(
            identifier: 7, attributes: Array(attributes.dropLast()), secret: Self.secret, messageAuthenticator: true)
        #expect(appended.attributes.last?.type == RADIUSAttributeType.messageAuthenticator.rawValue)
        let back = try RADIUSPacket.decode(try appended.encoded())
        #expect(back.isValidAccountingRequest(secret: Self.secret) && back.checkMessageAuthenticator(secret: Self.secret) == .valid)
    }

    @Test("absent, two, or of the wrong length")
    func shapes() throws {
        let plain = try RADIUSPacket.accountingRequest(identifier: 1, attributes: [.statusType(.start)], secret: Self.secret)
        #expect(plain.checkMessageAuthenticator(secret: Self.secret) == .absent)
        let short = try RADIUSPacket.accountingRequest(
            identifier: 1, attributes: [.statusType(.start), try RADIUSAttribute(type: 80, value: [1, 2, 3])], secret: Self.secret)
        #expect(short.checkMessageAuthenticator(secret: Self.secret) == .invalid)
        var two = try RADIUSPacket.accountingRequest(
            identifier: 1, attributes: [.statusType(.start)], secret: Self.secret, messageAuthenticator: true)
        two.attributes.append(two.attributes.last!)
        #expect(two.checkMessageAuthenticator(secret: Self.secret) == .invalid)
    }
}
