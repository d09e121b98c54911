import FlowCodec
import Testing

@testable import BGPWire

/// Graceful restart (RFC 4724): the capability on the wire, and the session closing without a
/// NOTIFICATION only when both sides agreed to it.
@Suite struct BGPGracefulRestartTests {
    let start = ContinuousClock.now

    static func configuration(gracefulRestartTime: UInt16?, restarting: Bool = false) -> BGPSessionConfiguration {
        BGPSessionConfiguration(
            localAS: 64512, identifier: 0x7F00_0002, peerAS: 65001, holdTime: 90, families: [.ipv4Unicast, .ipv6FlowSpec],
            gracefulRestartTime: gracefulRestartTime, restarting: restarting)
    }

    static func peerOpen(gracefulRestart: BGPGracefulRestart?) -> BGPMessage {
        .open(BGPOpen(localAS: 65001, holdTime: 30, identifier: 0x7F00_0001, gracefulRestart: gracefulRestart))
    }

    /// Mamori's OPEN carries the capability, and the session is Established against `peer`.
    func established(_ configuration: BGPSessionConfiguration, peer: BGPGracefulRestart?) -> (BGPSession, BGPOpen?) {
        var s = BGPSession(configuration)
        var sent: BGPOpen?
        if case .send(.open(let o))? = s.connected(now: start).first { sent = o }
        _ = s.receive(Self.peerOpen(gracefulRestart: peer), now: start)
        _ = s.receive(.keepalive, now: start)
        return (s, sent)
    }

    @Test func capabilityOnTheWire() throws {
        let g = BGPGracefulRestart(
            restarting: true, restartTime: 120,
            families: [.init(.ipv4Unicast, forwardingPreserved: true), .init(.ipv6FlowSpec, forwardingPreserved: false)])
        let open = BGPOpen(localAS: 64512, holdTime: 90, identifier: 0x7F00_0002, families: [.ipv4Unicast], gracefulRestart: g)
        let bytes = try #require(BGPMessage.open(open).encoded())
        // Parameter 2 (capabilities), length 12: capability 64, length 10, R bit + 120 s (0x8078),
        // then AFI 1 SAFI 1 with F, AFI 2 SAFI 133 without.
        let expected: [UInt8] = [2, 12, 64, 10, 0x80, 0x78, 0, 1, 1, 0x80, 0, 2, 133, 0]
        #expect((0...(bytes.count - expected.count)).contains { Array(bytes[$0..<$0 + expected.count]) == expected })
        guard case .open(let back) = try BGPMessage.decode(bytes, fourOctetAS: false) else {
            Issue.record("not an OPEN")
            return
        }
        #expect(back.gracefulRestart == g)
        #expect(back == open)
    }

    @Test func flagsAndTimeAreReadFromTheirBits() throws {
        // Restart flags 0x4 (N, RFC 8538) and reserved bits, time 4095; one family, F set with a
        // reserved bit beside it; the rest of the octet is ignored as the RFC says.
        let value: [UInt8] = [0x7F, 0xFF, 0, 1, 133, 0xFF]
        let bytes = try #require(
            BGPMessage.open(BGPOpen(myAS: 65001, holdTime: 90, identifier: 1, capabilities: [.other(code: 64, value: value)]))
                .encoded())
        guard case .open(let open) = try BGPMessage.decode(bytes, fourOctetAS: false) else {
            Issue.record("not an OPEN")
            return
        }
        let g = try #require(open.gracefulRestart)
        #expect(!g.restarting && g.notification && g.restartTime == 4095)
        #expect(g.families == [.init(.ipv4FlowSpec, forwardingPreserved: true)])
    }

    @Test func aCapabilityOfTheWrongLengthIsAnOpenError() throws {
        for value: [UInt8] in [[0x00], [0, 120, 0, 1, 1]] {
            let bytes = try #require(
                BGPMessage.open(BGPOpen(myAS: 65001, holdTime: 90, identifier: 1, capabilities: [.other(code: 64, value: value)]))
                    .encoded())
            #expect(throws: BGPNotification(code: 2, subcode: 0)) { try BGPMessage.decode(bytes, fourOctetAS: false) }
        }
    }

    @Test func theOpenSaysRestartedOnlyWhenConfiguredSo() {
        let (_, first) = established(Self.configuration(gracefulRestartTime: 300, restarting: true), peer: nil)
        #expect(first?.gracefulRestart?.restarting == true)
        #expect(first?.gracefulRestart?.restartTime == 300)
        #expect(first?.gracefulRestart?.families.map(\.family) == [.ipv4Unicast, .ipv6FlowSpec])
        #expect(first?.gracefulRestart?.families.allSatisfy(\.forwardingPreserved) == true)
        let (_, later) = established(Self.configuration(gracefulRestartTime: 300, restarting: false), peer: nil)
        #expect(later?.gracefulRestart?.restarting == false)
        let (_, off) = established(Self.configuration(gracefulRestartTime: nil), peer: nil)
        #expect(off?.gracefulRestart == nil)
        #expect(off?.capabilities.contains { $0.code == 64 } == false)
    }

    @Test func leavingClosesWithoutANotificationWhenBothSidesAgreed() {
        let peer = BGPGracefulRestart(restarting: false, restartTime: 120, families: [])
        var (s, _) = established(Self.configuration(gracefulRestartTime: 120), peer: peer)
        #expect(s.negotiated?.gracefulRestart == true)
        let cease = BGPNotification.administrativeShutdown("bye")
        #expect(s.leave(otherwise: cease) == [.close(.leftForRestart)])
        #expect(s.state == .idle)
        #expect(s.leave(otherwise: cease) == [])
    }

    @Test func leavingSendsTheCeaseWhenEitherSideDidNotOfferGracefulRestart() {
        let cease = BGPNotification.administrativeShutdown("bye")
        let peer = BGPGracefulRestart(restarting: false, restartTime: 120, families: [])
        for (mine, theirs): (UInt16?, BGPGracefulRestart?) in [(120, nil), (nil, peer)] {
            var (s, _) = established(Self.configuration(gracefulRestartTime: mine), peer: theirs)
            #expect(s.state == .established)
            #expect(s.negotiated?.gracefulRestart == false)
            #expect(s.leave(otherwise: cease) == [.send(.notification(cease)), .close(.sent(cease))])
        }
        // Before the session is up there are no routes to keep: a Cease too.
        var early = BGPSession(Self.configuration(gracefulRestartTime: 120))
        _ = early.connected(now: start)
        #expect(early.leave(otherwise: cease) == [.send(.notification(cease)), .close(.sent(cease))])
    }
}
