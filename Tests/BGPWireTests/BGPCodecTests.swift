import FlowCodec
import NIOCore
import Testing

@testable import BGPWire

/// The codec against the RFCs' own octets and through round trips of everything Mamori sends.
@Suite struct BGPCodecTests {
    static let victim = IPPrefix("203.0.113.7/32")!
    static let victim6 = IPPrefix("2001:db8::7/128")!

    /// Decodes a flow specification NLRI from its wire form.
    static func flowSpec(_ bytes: [UInt8], ipv6: Bool = false) throws -> FlowSpec {
        var r = WireReader(bytes, truncated: .invalidNetworkField())
        let spec = try FlowSpec.decode(&r, ipv6: ipv6, invalid: .invalidNetworkField())
        #expect(r.isAtEnd)
        return spec
    }

    @Test func rfc8955FirstExampleDecodesAndEncodesToTheSameOctets() throws {
        // RFC 8955 §4.2.3: "all packets to 192.0.2.0/24 and TCP port 25".
        let wire: [UInt8] = [0x0b, 0x01, 0x18, 0xc0, 0x00, 0x02, 0x03, 0x81, 0x06, 0x04, 0x81, 0x19]
        let spec = try Self.flowSpec(wire)
        #expect(spec.destination == IPPrefix("192.0.2.0/24"))
        #expect(spec.component(.ipProtocol) == .numeric(.ipProtocol, [.equals(6)]))
        #expect(spec.component(.port) == .numeric(.port, [.equals(25)]))
        #expect(spec.encoded() == wire)
    }

    @Test func rfc8955SecondExampleKeepsItsRangeAndAlternative() throws {
        // "all packets to 192.0.2.0/24 from 203.0.113.0/24 and port {range [137, 139] or 8080}".
        let wire: [UInt8] = [
            0x12, 0x01, 0x18, 0xc0, 0x00, 0x02, 0x02, 0x18, 0xcb, 0x00, 0x71, 0x04, 0x03, 0x89, 0x45, 0x8b, 0x91, 0x1f, 0x90,
        ]
        let spec = try Self.flowSpec(wire)
        #expect(spec.source == IPPrefix("203.0.113.0/24"))
        #expect(
            spec.component(.port)
                == .numeric(
                    .port,
                    [
                        .init(greaterThan: true, equal: true, value: 137), .init(and: true, lessThan: true, equal: true, value: 139),
                        .equals(8080),
                    ]))
        #expect(spec.encoded() == wire)
        #expect(spec.description == "dst 192.0.2.0/24, src 203.0.113.0/24, port >=137&<=139|=8080")
    }

    @Test func ipv6FlowSpecCarriesTheOffsetOctet() throws {
        let spec = try #require(FlowSpec(destination: Self.victim6, protocols: [17], sourcePorts: [123]))
        let wire = spec.encoded()
        // Length, type 1, 128 bits, offset 0, then 16 octets of address.
        #expect(Array(wire.prefix(4)) == [UInt8(wire.count - 1), 0x01, 128, 0])
        #expect(try Self.flowSpec(wire, ipv6: true) == spec)
    }

    @Test func flowSpecRefusesComponentsOutOfOrderOrOfTheOtherFamily() {
        #expect(FlowSpec(ipv6: false, [.numeric(.ipProtocol, [.equals(17)]), .prefix(.destinationPrefix, Self.victim)]) == nil)
        #expect(FlowSpec(ipv6: true, [.prefix(.destinationPrefix, Self.victim)]) == nil)
        #expect(FlowSpec(ipv6: false, []) == nil)
        // Out of order on the wire: protocol before destination.
        #expect(throws: BGPNotification.invalidNetworkField()) {
            try Self.flowSpec([0x08, 0x03, 0x81, 0x06, 0x01, 0x18, 0xc0, 0x00, 0x02])
        }
        // An operator list without its end bit runs off the end.
        #expect(throws: BGPNotification.invalidNetworkField()) { try Self.flowSpec([0x03, 0x03, 0x01, 0x06]) }
    }

    @Test func longFlowSpecUsesTheTwoOctetLength() throws {
        let ports = (1...130).map { UInt16($0) }
        let spec = try #require(FlowSpec(destination: Self.victim, destinationPorts: ports))
        let wire = spec.encoded()
        #expect(wire[0] & 0xF0 == 0xF0)
        #expect(Int(wire[0] & 0x0F) << 8 | Int(wire[1]) == wire.count - 2)
        #expect(try Self.flowSpec(wire) == spec)
    }

    @Test func openRoundTripsWithItsCapabilities() throws {
        let open = BGPOpen(localAS: 4_200_000_001, holdTime: 90, identifier: 0x7F00_0001)
        #expect(open.myAS == BGPOpen.asTrans)
        let bytes = try #require(BGPMessage.open(open).encoded())
        let back = try BGPMessage.decode(bytes)
        guard case .open(let o) = back else {
            Issue.record("not an OPEN: \(back)")
            return
        }
        #expect(o == open)
        #expect(o.autonomousSystem == 4_200_000_001)
        #expect(Set(o.families) == Set(BGPFamily.supported))
        #expect(o.supportsRouteRefresh && o.supportsFourOctetAS)
    }

    @Test(arguments: [
        BGPMessage.keepalive, .notification(.administrativeShutdown("maintenance")), .routeRefresh(.ipv6FlowSpec, subtype: 0),
        .update(.endOfRIB(.ipv4Unicast)), .update(.endOfRIB(.ipv6FlowSpec)),
    ])
    func smallMessagesRoundTrip(_ message: BGPMessage) throws {
        let bytes = try #require(message.encoded())
        #expect(try BGPMessage.decode(bytes) == message)
        var buffer = ByteBuffer(bytes: bytes)
        #expect(try BGPMessage.frameLength(buffer) == bytes.count)
        buffer.moveWriterIndex(to: 18)
        #expect(try BGPMessage.frameLength(buffer) == nil)
    }

    @Test func endOfRIBIsRecognised() throws {
        #expect(BGPUpdate.endOfRIB(.ipv4Unicast).endOfRIB == .ipv4Unicast)
        #expect(BGPUpdate.endOfRIB(.ipv6Unicast).endOfRIB == .ipv6Unicast)
        #expect(BGPUpdate(withdrawn: [Self.victim]).endOfRIB == nil)
    }

    static let rtbh4 = BGPRoute(
        nlri: .prefix(victim), nextHop: IPAddress("192.0.2.1"), communities: [.blackhole, .noExport, BGPCommunity(64500, 9)],
        largeCommunities: [BGPLargeCommunity(4_200_000_001, 666, 1)])
    static let rtbh6 = BGPRoute(nlri: .prefix(victim6), nextHop: IPAddress("100::1"), communities: [.blackhole, .noExport])
    static let flow4 = BGPRoute(
        nlri: .flowSpec(FlowSpec(destination: victim, protocols: [17], sourcePorts: [123], packetLength: 468...468)!),
        extendedCommunities: [.trafficRate(bytesPerSecond: 0)])
    static let flow6 = BGPRoute(
        nlri: .flowSpec(FlowSpec(destination: victim6, protocols: [17], sourcePorts: [53])!),
        extendedCommunities: [.trafficRate(bytesPerSecond: 125_000)])

    @Test(arguments: [rtbh4, rtbh6, flow4, flow6], [true, false])
    func routesRoundTripAsAnnouncementAndWithdrawal(_ route: BGPRoute, external: Bool) throws {
        let update = route.announcement(localAS: 4_200_000_001, external: external)
        for fourOctets in [true, false] {
            let bytes = try #require(BGPMessage.update(update).encoded(fourOctetAS: fourOctets))
            guard case .update(let back) = try BGPMessage.decode(bytes, fourOctetAS: fourOctets) else {
                Issue.record("not an UPDATE")
                return
            }
            #expect(back.announced == [route.nlri])
            #expect(back.attributes.communities == route.communities.sorted())
            #expect(back.attributes.extendedCommunities == route.extendedCommunities.sorted())
            #expect(back.attributes.largeCommunities == route.largeCommunities)
            #expect(back.attributes.origin == .igp)
            #expect(back.attributes.localPreference == (external ? nil : 100))
            if fourOctets {
                #expect(back.attributes.asPath == (external ? [.sequence([4_200_000_001])] : []))
            } else if external {
                // A 2-octet session sees AS_TRANS, and the real number in AS4_PATH (RFC 6793 §4.2.2).
                #expect(back.attributes.asPath == [.sequence([UInt32(BGPOpen.asTrans)])])
                #expect(back.attributes.others.contains { $0.type == 17 })
            }
            if case .prefix(let p) = route.nlri, p.isIPv4 {
                #expect(back.attributes.nextHop == route.nextHop)
            } else {
                #expect(back.attributes.reach?.nextHop == (route.nextHop?.ipv6Bytes ?? []))
            }
        }
        let withdrawal = try #require(BGPMessage.update(route.withdrawal).encoded())
        guard case .update(let gone) = try BGPMessage.decode(withdrawal) else {
            Issue.record("not an UPDATE")
            return
        }
        #expect(gone.withdrawnRoutes == [route.nlri])
        #expect(gone.announced.isEmpty)
    }

    @Test func trafficRateCarriesTheIEEEFloat() {
        let rate = BGPExtendedCommunity.trafficRate(bytesPerSecond: 125_000, asn: 64500)
        #expect(rate.value >> 48 == 0x8006)
        #expect(rate.trafficRateBytesPerSecond == 125_000)
        #expect(BGPExtendedCommunity.trafficRate(bytesPerSecond: 0).value == 0x8006_0000_0000_0000)
    }

    @Test func communitiesParseFromText() {
        #expect(BGPCommunity("65535:666") == .blackhole)
        #expect(BGPCommunity("65536:1") == nil)
        #expect(BGPCommunity("x") == nil)
        #expect(BGPLargeCommunity("4200000001:666:0") == BGPLargeCommunity(4_200_000_001, 666, 0))
    }
}
