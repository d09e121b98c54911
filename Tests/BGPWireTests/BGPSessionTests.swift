import FlowCodec
import Testing

@testable import BGPWire

/// The session state machine, driven by hand with a clock it does not read.
@Suite struct BGPSessionTests {
    let start = ContinuousClock.now
    static let configuration = BGPSessionConfiguration(localAS: 64512, identifier: 0x7F00_0002, peerAS: 65001, holdTime: 90)

    static func peerOpen(as asn: UInt32 = 65001, hold: UInt16 = 30, families: [BGPFamily] = BGPFamily.supported) -> BGPMessage {
        .open(BGPOpen(localAS: asn, holdTime: hold, identifier: 0x7F00_0001, families: families))
    }

    /// A session brought to Established; returns what it negotiated.
    func established(families: [BGPFamily] = BGPFamily.supported) -> (BGPSession, BGPNegotiated?) {
        var s = BGPSession(Self.configuration)
        _ = s.connected(now: start)
        _ = s.receive(Self.peerOpen(families: families), now: start)
        let actions = s.receive(.keepalive, now: start)
        guard case .established(let n)? = actions.first else { return (s, nil) }
        return (s, n)
    }

    @Test func opensAndNegotiates() throws {
        var s = BGPSession(Self.configuration)
        let first = s.connected(now: start)
        guard case .send(.open(let open))? = first.first else {
            Issue.record("no OPEN: \(first)")
            return
        }
        #expect(open.autonomousSystem == 64512 && open.holdTime == 90)
        #expect(s.state == .openSent)
        #expect(s.receive(Self.peerOpen(families: [.ipv4Unicast, .ipv4FlowSpec]), now: start) == [.send(.keepalive)])
        #expect(s.state == .openConfirm)
        let up = s.receive(.keepalive, now: start)
        guard case .established(let n)? = up.first else {
            Issue.record("not established: \(up)")
            return
        }
        #expect(s.state == .established)
        #expect(n.holdTime == 30)
        #expect(n.keepaliveInterval == .seconds(10))
        #expect(n.families == [.ipv4Unicast, .ipv4FlowSpec])
        #expect(n.fourOctetAS && n.routeRefresh)
    }

    @Test func wrongPeerASIsRefused() {
        var s = BGPSession(Self.configuration)
        _ = s.connected(now: start)
        let actions = s.receive(Self.peerOpen(as: 65002), now: start)
        #expect(actions == [.send(.notification(.badPeerAS())), .close(.sent(.badPeerAS()))])
        #expect(s.state == .idle)
    }

    @Test func unexpectedMessagesAreFiniteStateMachineErrors() {
        var s = BGPSession(Self.configuration)
        _ = s.connected(now: start)
        #expect(s.receive(.keepalive, now: start).first == .send(.notification(.unexpectedMessage(inState: 1))))
        var t = BGPSession(Self.configuration)
        _ = t.connected(now: start)
        _ = t.receive(Self.peerOpen(), now: start)
        #expect(t.receive(.update(.endOfRIB(.ipv4Unicast)), now: start).first == .send(.notification(.unexpectedMessage(inState: 2))))
        var (u, _) = established()
        #expect(u.receive(Self.peerOpen(), now: start).first == .send(.notification(.unexpectedMessage(inState: 3))))
    }

    @Test func keepalivesAndHoldTimer() {
        var (s, n) = established()
        #expect(n?.holdTime == 30)
        #expect(s.tick(now: start + .seconds(5)).isEmpty)
        #expect(s.tick(now: start + .seconds(10)) == [.send(.keepalive)])
        #expect(s.tick(now: start + .seconds(11)).isEmpty)
        // The peer's keepalive at 20 s moves the hold deadline to 50 s.
        _ = s.receive(.keepalive, now: start + .seconds(20))
        #expect(!s.tick(now: start + .seconds(45)).contains(.close(.sent(.holdTimerExpiry()))))
        #expect(s.tick(now: start + .seconds(50)) == [.send(.notification(.holdTimerExpiry())), .close(.sent(.holdTimerExpiry()))])
        #expect(s.state == .idle)
    }

    @Test func openSentWaitsFourMinutesAtMost() {
        var s = BGPSession(Self.configuration)
        _ = s.connected(now: start)
        #expect(s.nextDeadline == start + .seconds(240))
        #expect(s.tick(now: start + .seconds(239)).isEmpty)
        #expect(s.tick(now: start + .seconds(240)).first == .send(.notification(.holdTimerExpiry())))
    }

    @Test func routeRefreshAsksForTheFamilyAgain() {
        var (s, _) = established(families: [.ipv4Unicast, .ipv4FlowSpec])
        #expect(s.receive(.routeRefresh(.ipv4FlowSpec, subtype: 0), now: start) == [.resend(.ipv4FlowSpec)])
        // Not negotiated, or an enhanced-refresh marker: nothing to do.
        #expect(s.receive(.routeRefresh(.ipv6FlowSpec, subtype: 0), now: start).isEmpty)
        #expect(s.receive(.routeRefresh(.ipv4FlowSpec, subtype: 1), now: start).isEmpty)
    }

    @Test func updatesFromThePeerAreCheckedAndDropped() throws {
        var (s, _) = established()
        let route = BGPRoute(nlri: .prefix(IPPrefix("198.51.100.0/24")!), nextHop: IPAddress("192.0.2.1"))
        let bytes = try #require(BGPMessage.update(route.announcement(localAS: 65001, external: true)).encoded())
        #expect(s.receive(bytes, now: start).isEmpty)
        #expect(s.updatesIgnored == 1)
        var bad = bytes
        bad[23] = 0xC0 // ORIGIN's flags made optional
        let actions = s.receive(bad, now: start)
        guard case .send(.notification(let n))? = actions.first else {
            Issue.record("no NOTIFICATION: \(actions)")
            return
        }
        #expect(n.code == 3 && n.subcode == 4)
        #expect(actions.last == .close(.sent(n)))
    }

    @Test func aNotificationFromThePeerClosesWithoutAnswer() {
        var (s, _) = established()
        let cease = BGPNotification.administrativeShutdown("maintenance")
        #expect(s.receive(.notification(cease), now: start) == [.close(.received(cease))])
        #expect(s.connectionLost().isEmpty)
    }

    @Test func backoffDoublesToItsCeilingAndResets() {
        var b = BGPBackoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect(b.next(spread: 0) == .milliseconds(100))
        #expect(b.next(spread: 0) == .milliseconds(200))
        #expect(b.next(spread: 0) == .milliseconds(400))
        #expect(b.next(spread: 0) == .milliseconds(800))
        #expect(b.next(spread: 0) == .seconds(1))
        #expect(b.next(spread: 1) == .milliseconds(1250))
        for _ in 0..<100 { _ = b.next(spread: 0.5) }
        #expect(b.next(spread: 0) == .seconds(1))
        b.reset()
        #expect(b.next(spread: 0) == .milliseconds(100))
    }
}
