import FlowCodec
import NIOCore
import Testing

@testable import BGPWire

/// Every malformed message gets the NOTIFICATION RFC 4271 §6 names for it.
@Suite struct BGPErrorTests {
    /// A message with a correct header around `body`.
    static func message(type: UInt8, _ body: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0xFF, count: 16)
        out.put16(UInt16(19 + body.count))
        out.append(type)
        return out + body
    }

    /// An UPDATE body: no withdrawals, `attributes`, then IPv4 `nlri` octets.
    static func update(attributes: [UInt8], nlri: [UInt8] = [24, 198, 51, 100]) -> [UInt8] {
        var body: [UInt8] = [0, 0]
        body.put16(UInt16(attributes.count))
        return message(type: 2, body + attributes + nlri)
    }

    static let origin: [UInt8] = [0x40, 1, 1, 0]
    static let asPath: [UInt8] = [0x40, 2, 6, 2, 1, 0, 0, 0xFB, 0xF4]
    static let nextHop: [UInt8] = [0x40, 3, 4, 192, 0, 2, 1]

    static func decodeError(_ bytes: [UInt8]) -> BGPNotification? {
        do {
            var buffer = ByteBuffer(bytes: bytes)
            _ = try BGPMessage.frameLength(buffer)
            buffer.clear()
            _ = try BGPMessage.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func aWellFormedUpdateDecodes() {
        #expect(Self.decodeError(Self.update(attributes: Self.origin + Self.asPath + Self.nextHop)) == nil)
    }

    @Test func headerErrors() {
        var badMarker = Self.message(type: 4, [])
        badMarker[3] = 0
        #expect(Self.decodeError(badMarker) == BGPNotification(code: 1, subcode: 1))
        var keepaliveTooLong = Self.message(type: 4, [0])
        #expect(Self.decodeError(keepaliveTooLong) == BGPNotification(code: 1, subcode: 2, data: [0, 20]))
        keepaliveTooLong[17] = 18
        #expect(Self.decodeError(keepaliveTooLong)?.subcode == 2)
        var huge = Self.message(type: 2, [0, 0, 0, 0])
        huge[16] = 0x20 // 8192 + …
        #expect(Self.decodeError(huge) == BGPNotification(code: 1, subcode: 2, data: [0x20, 23]))
        #expect(Self.decodeError(Self.message(type: 9, [])) == BGPNotification(code: 1, subcode: 3, data: [9]))
    }

    @Test func openErrors() {
        func open(version: UInt8 = 4, hold: UInt16 = 90, id: UInt32 = 1, params: [UInt8] = []) -> [UInt8] {
            var b: [UInt8] = [version, 0xFD, 0xE8]
            b.put16(hold)
            b.put32(id)
            return Self.message(type: 1, b + [UInt8(params.count)] + params)
        }
        #expect(Self.decodeError(open()) == nil)
        #expect(Self.decodeError(open(version: 3)) == BGPNotification(code: 2, subcode: 1, data: [0, 4]))
        #expect(Self.decodeError(open(hold: 2)) == BGPNotification(code: 2, subcode: 6))
        #expect(Self.decodeError(open(id: 0)) == BGPNotification(code: 2, subcode: 3))
        #expect(Self.decodeError(open(params: [1, 2, 0, 0])) == BGPNotification(code: 2, subcode: 4))
        // A capability whose length runs past its parameter.
        #expect(Self.decodeError(open(params: [2, 2, 65, 4]))?.code == 2)
        // Found by the `bgp-message` fuzz target: a parameter whose length runs past the
        // parameters field, or that is cut after its type, was a Message Header Error (Bad
        // Message Length) although the message's length was right.
        #expect(Self.decodeError(open(params: [2, 6, 2, 0])) == BGPNotification(code: 2, subcode: 0))
        #expect(Self.decodeError(open(params: [2, 2, 2, 0, 2])) == BGPNotification(code: 2, subcode: 0))
    }

    @Test func unknownAttributeFlagsAreAnAttributeFlagsError() {
        // ORIGIN marked optional.
        let badOrigin: [UInt8] = [0xC0, 1, 1, 0]
        #expect(Self.decodeError(Self.update(attributes: badOrigin + Self.asPath + Self.nextHop)) == .attributeFlagsError(badOrigin))
        // COMMUNITIES not marked optional.
        let badCommunities: [UInt8] = [0x40, 8, 4, 0xFF, 0xFF, 0x02, 0x9A]
        #expect(
            Self.decodeError(Self.update(attributes: Self.origin + Self.asPath + Self.nextHop + badCommunities))
                == .attributeFlagsError(badCommunities))
        // An unknown attribute that says it is well-known.
        let unknown: [UInt8] = [0x40, 99, 1, 7]
        #expect(
            Self.decodeError(Self.update(attributes: Self.origin + Self.asPath + Self.nextHop + unknown))
                == .unrecognizedWellKnownAttribute(unknown))
        // An unknown optional one is kept.
        #expect(Self.decodeError(Self.update(attributes: Self.origin + Self.asPath + Self.nextHop + [0xC0, 99, 1, 7])) == nil)
    }

    @Test func truncatedUpdatesAreMalformedAttributeLists() {
        let whole = Self.update(attributes: Self.origin + Self.asPath + Self.nextHop, nlri: [])
        // Withdrawn-routes length past the message.
        var w = whole
        w[20] = 200
        #expect(Self.decodeError(w) == .malformedAttributeList())
        // Total attribute length past the message.
        var a = whole
        a[22] = 200
        #expect(Self.decodeError(a) == .malformedAttributeList())
        // The last attribute cut short (its length says more than is there).
        let cut = Self.update(attributes: Self.origin + Self.asPath + [0x40, 3, 4, 192, 0], nlri: [])
        #expect(Self.decodeError(cut) == .malformedAttributeList())
        // The same attribute twice.
        #expect(
            Self.decodeError(Self.update(attributes: Self.origin + Self.origin + Self.asPath + Self.nextHop)) == .malformedAttributeList())
    }

    @Test func attributeValueErrors() {
        let badOrigin: [UInt8] = [0x40, 1, 1, 7]
        #expect(Self.decodeError(Self.update(attributes: badOrigin + Self.asPath + Self.nextHop)) == .invalidOrigin(badOrigin))
        let longOrigin: [UInt8] = [0x40, 1, 2, 0, 0]
        #expect(Self.decodeError(Self.update(attributes: longOrigin + Self.asPath + Self.nextHop)) == .attributeLengthError(longOrigin))
        let zeroHop: [UInt8] = [0x40, 3, 4, 0, 0, 0, 0]
        #expect(Self.decodeError(Self.update(attributes: Self.origin + Self.asPath + zeroHop)) == .invalidNextHop(zeroHop))
        let badPath: [UInt8] = [0x40, 2, 6, 2, 5, 0, 0, 0xFB, 0xF4]
        #expect(Self.decodeError(Self.update(attributes: Self.origin + badPath + Self.nextHop)) == .malformedASPath())
        #expect(Self.decodeError(Self.update(attributes: Self.asPath + Self.nextHop)) == .missingWellKnownAttribute(1))
        #expect(Self.decodeError(Self.update(attributes: Self.origin + Self.asPath)) == .missingWellKnownAttribute(3))
        // A prefix longer than 32 bits in the NLRI field.
        #expect(
            Self.decodeError(Self.update(attributes: Self.origin + Self.asPath + Self.nextHop, nlri: [33, 1, 2, 3, 4, 5]))
                == .invalidNetworkField())
        // MP_REACH_NLRI for IPv4 FlowSpec whose rule is garbage: Optional Attribute Error.
        let reach: [UInt8] = [0x80, 14, 8, 0, 1, 133, 0, 0, 3, 9, 0x81]
        #expect(Self.decodeError(Self.update(attributes: Self.origin + Self.asPath + reach, nlri: [])) == .optionalAttributeError(reach))
    }

    /// Found by the `bgp-message` fuzz target: the NOTIFICATION answering a ROUTE-REFRESH of 4076
    /// octets or more, which carried the whole message, was too long to be written.
    @Test func aLongRouteRefreshIsAnsweredWithANotificationThatFits() throws {
        let long = Self.message(type: 5, [0, 1, 0, 1] + [UInt8](repeating: 0xAB, count: BGPMessage.maximumLength - 23))
        let error = try #require(Self.decodeError(long))
        #expect(error == BGPNotification(code: 7, subcode: 1, data: Array(long.prefix(BGPMessage.maximumLength - 21))))
        #expect(BGPMessage.notification(error).encoded()?.count == BGPMessage.maximumLength)
        let short = Self.message(type: 5, [0, 1, 0, 1, 0])
        #expect(Self.decodeError(short) == BGPNotification(code: 7, subcode: 1, data: short))
    }

    @Test func notificationsNameTheirCodes() {
        #expect(BGPNotification.attributeFlagsError([]).description.contains("UPDATE Message Error"))
        #expect(BGPNotification.holdTimerExpiry().description.contains("Hold Timer Expired"))
        #expect(BGPNotification.administrativeShutdown("bye").data == [3] + Array("bye".utf8))
    }
}
