import FlowCodec
import Testing

@testable import IdentityCodec

@Suite struct RADIUSPacketTests {
    static let secret = Array("s3cret-for-tests".utf8)

    static func startRecord() -> AccountingRecord {
        var r = AccountingRecord(status: .start, sessionID: "5f3e0000002a", eventTime: 1_767_225_000)
        r.userName = "isp-000042"
        r.callingStationID = "02-00-5e-00-00-2a"
        r.nasIPAddress = IPAddress("198.19.252.1")
        r.nasPortType = 5
        r.framedPPP = true
        r.framedIPAddress = IPAddress("100.64.0.43")
        r.delegatedIPv6Prefixes = [IPPrefix("2001:db8:2b00::/56")!]
        r.framedIPv6Prefixes = [IPPrefix("2001:db8:8000:2b::/64")!]
        return r
    }

    /// RFC 2865 §7.1: the Access-Accept's Response Authenticator is MD5(Code+ID+Length+Request
    /// Authenticator+Attributes+Secret) — the same construction RFC 2866 §3 uses for the
    /// Accounting-Response. The RFC's bytes are the known answer.
    @Test func responseAuthenticatorMatchesRFC2865Example() throws {
        let requestAuthenticator: [UInt8] = [
            0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4, 0x22, 0x7a,
        ]
        let accept = RADIUSPacket(
            code: .accessAccept, identifier: 0,
            attributes: [
                try RADIUSAttribute(type: 6, value: [0, 0, 0, 1]), try RADIUSAttribute(type: 15, value: [0, 0, 0, 0]),
                try RADIUSAttribute(type: 14, value: [192, 168, 1, 3]),
            ])
        let digest = try accept.digest(over: requestAuthenticator, secret: Array("xyzzy5461".utf8))
        #expect(digest == [0x86, 0xfe, 0x22, 0x0e, 0x76, 0x24, 0xba, 0x2a, 0x10, 0x05, 0xf6, 0xbf, 0x9b, 0x55, 0xe0, 0xb2])
        // And the whole RFC datagram decodes to the same packet.
        let datagram: [UInt8] =
            [0x02, 0x00, 0x00, 0x26] + digest + [0x06, 0x06, 0, 0, 0, 1, 0x0f, 0x06, 0, 0, 0, 0, 0x0e, 0x06, 0xc0, 0xa8, 0x01, 0x03]
        let decoded = try RADIUSPacket.decode(datagram)
        #expect(decoded.attributes == accept.attributes)
        #expect(try decoded.encoded() == datagram)
    }

    @Test func accountingRequestRoundTripsAndVerifies() throws {
        let record = Self.startRecord()
        let request = try RADIUSPacket.accountingRequest(identifier: 42, attributes: record.attributes, secret: Self.secret)
        let bytes = try request.encoded()
        #expect(bytes[0] == 4 && bytes[1] == 42)
        #expect(Int(bytes[2]) << 8 | Int(bytes[3]) == bytes.count)
        let decoded = try RADIUSPacket.decode(bytes)
        #expect(decoded == request)
        #expect(decoded.isValidAccountingRequest(secret: Self.secret))
        #expect(!decoded.isValidAccountingRequest(secret: Array("wrong".utf8)))
        #expect(try AccountingRecord(packet: decoded) == record)
        // Any flipped bit breaks the authenticator.
        var tampered = bytes
        tampered[bytes.count - 1] ^= 1
        #expect(!(try RADIUSPacket.decode(tampered)).isValidAccountingRequest(secret: Self.secret))

        let response = try decoded.accountingResponse(secret: Self.secret)
        let responseBytes = try response.encoded()
        #expect(responseBytes.count == 20 && responseBytes[0] == 5 && responseBytes[1] == 42)
        let back = try RADIUSPacket.decode(responseBytes)
        #expect(back.isValidAccountingResponse(to: request, secret: Self.secret))
        #expect(!back.isValidAccountingResponse(to: request, secret: Array("wrong".utf8)))
    }

    @Test func prefixesEncodeOnlyTheOctetsTheLengthNeeds() throws {
        let a = RADIUSAttribute.prefix(.delegatedIPv6Prefix, IPPrefix("2001:db8:2b00::/56")!)
        #expect(a.value == [0, 56, 0x20, 0x01, 0x0d, 0xb8, 0x2b, 0x00, 0x00])
        #expect(a.prefix == IPPrefix("2001:db8:2b00::/56"))
        #expect(try RADIUSAttribute(type: 123, value: [0, 64, 1]).prefix == nil) // octets do not cover the length
    }

    @Test func accountingOnNeedsNoSession() throws {
        var on = AccountingRecord(status: .accountingOn, eventTime: 1_767_225_600)
        on.nasIPAddress = IPAddress("198.19.252.2")
        let p = try RADIUSPacket.accountingRequest(identifier: 0, attributes: on.attributes, secret: Self.secret)
        #expect(try AccountingRecord(packet: RADIUSPacket.decode(p.encoded())) == on)
    }

    @Test func gigawordsFoldIntoOctets() throws {
        var r = AccountingRecord(status: .interimUpdate, sessionID: "x", eventTime: 1)
        r.inputOctets = 5 << 32 | 7
        r.outputOctets = 12
        r.sessionTime = 600
        let p = try RADIUSPacket.accountingRequest(identifier: 1, attributes: r.attributes, secret: Self.secret)
        #expect(try AccountingRecord(packet: p) == r)
    }

    @Test func malformedPacketsThrowTypedErrors() throws {
        let good = try RADIUSPacket.accountingRequest(identifier: 1, attributes: Self.startRecord().attributes, secret: Self.secret)
            .encoded()
        #expect(throws: IdentityCodecError(.truncated)) { try RADIUSPacket.decode(Array(good.prefix(19))) }
        #expect(throws: IdentityCodecError(.lengthMismatch)) { try RADIUSPacket.decode(Array(good.prefix(good.count - 1))) }
        var shortLength = good
        shortLength[3] = 19
        shortLength[2] = 0
        #expect(throws: IdentityCodecError(.lengthMismatch)) { try RADIUSPacket.decode(shortLength) }
        var zeroAttribute = good
        zeroAttribute[21] = 0
        #expect(throws: IdentityCodecError(.badAttributeLength)) { try RADIUSPacket.decode(zeroAttribute) }
        var overrun = good
        overrun[21] = 255
        #expect(throws: IdentityCodecError(.badAttributeLength)) { try RADIUSPacket.decode(overrun) }
        #expect(throws: IdentityCodecError(.tooLong)) { try RADIUSPacket.decode(Array(repeating: 0, count: 4097)) }
        #expect(throws: IdentityCodecError(.tooLong)) { try RADIUSAttribute(type: 1, value: Array(repeating: 65, count: 254)) }
        let big = RADIUSPacket(
            code: .accountingRequest, identifier: 0,
            attributes: Array(repeating: .text(.class, String(repeating: "x", count: 253)), count: 17))
        #expect(throws: IdentityCodecError(.tooLong)) { try big.encoded() }
        // Padding past Length is allowed and ignored (RFC 2865 §3).
        #expect(try RADIUSPacket.decode(good + [0, 0, 0]).attributes.count == Self.startRecord().attributes.count)
        // Wrong-sized typed values.
        let badAddress = RADIUSPacket(
            code: .accountingRequest, identifier: 0,
            attributes: [.statusType(.start), .text(.acctSessionID, "s"), try RADIUSAttribute(type: 8, value: [1, 2, 3])])
        #expect(throws: IdentityCodecError(.badAttributeValue)) { try AccountingRecord(packet: badAddress) }
        let noSession = RADIUSPacket(code: .accountingRequest, identifier: 0, attributes: [.statusType(.start)])
        #expect(throws: IdentityCodecError(.missingField)) { try AccountingRecord(packet: noSession) }
        #expect(throws: IdentityCodecError(.unexpectedPacketCode)) {
            try AccountingRecord(packet: RADIUSPacket(code: .accessRequest, identifier: 0, attributes: []))
        }
    }

    /// Every truncation and seeded random bytes throw or decode, never trap.
    @Test func truncationsAndRandomBytesNeverTrap() throws {
        let good = try RADIUSPacket.accountingRequest(identifier: 1, attributes: Self.startRecord().attributes, secret: Self.secret)
            .encoded()
        for n in 0..<good.count {
            #expect(throws: IdentityCodecError.self) { try RADIUSPacket.decode(Array(good.prefix(n))) }
        }
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for _ in 0..<2000 {
            var bytes = good
            for _ in 0..<4 { bytes[Int(next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: next()) }
            if let p = try? RADIUSPacket.decode(bytes) { _ = try? AccountingRecord(packet: p) }
        }
    }
}
