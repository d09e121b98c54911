import BGPWire
import FlowCodec
import NIOCore

extension FuzzTarget {
    /// Mamori's side of the session the `bgp-message` target drives: AS 65001 (identifier
    /// 192.0.2.1, hold time 90 s, all four families) toward a neighbour that must open as AS 65002.
    static let bgpConfiguration = BGPSessionConfiguration(localAS: 65001, identifier: 0xC000_0201, peerAS: 65002)
    /// The most octets of one input that are read, frames that are decoded, and connections the
    /// session is brought up on: a bound on the work of one input.
    static let bgpMaximumBytes = 65_536
    static let bgpMaximumFrames = 256
    static let bgpMaximumConnections = 8

    /// A neighbour's TCP byte stream. Byte 0 picks the size of the pieces the rest arrives in (1
    /// to 255 octets; 0: all at once), byte 1 the seconds the clock moves on before each piece.
    ///
    /// The stream is framed with `BGPMessage.frameLength` over a growing `ByteBuffer`, as the
    /// speaker's `ByteToMessageDecoder` frames it, in those pieces and whole: the frames must not
    /// depend on how the octets arrive. Each frame is decoded with 4-octet AS numbers and without;
    /// what decodes is written again and decoded again (see ``bgpCheckRoundTrip(_:fourOctetAS:)``).
    /// The frames also drive a `BGPSession` — connected, each message or header error as it
    /// arrives, its timers ticked as the clock moves and then at each deadline it asks for, and
    /// finally stopped or its connection lost — whose actions are checked after every step (see
    /// ``bgpCheckActions(_:before:session:)``). When the session has closed and more messages
    /// follow, it is connected again, as the speaker reconnects, and the rest of the stream is
    /// taken for the new connection's.
    static func bgpMessage(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 2 else { return }
        let input = Array(bytes.dropFirst(2).prefix(bgpMaximumBytes))
        let size = bytes[0] == 0 ? max(1, input.count) : Int(bytes[0])
        let step = Duration.seconds(Int(bytes[1]))

        var whole = BGPFramer()
        let wholeFrames = whole.feed(input[...], limit: bgpMaximumFrames)

        var framer = BGPFramer()
        var frames: [BGPFrame] = []
        var session = BGPSession(bgpConfiguration)
        // Only differences between instants matter to the session, so the run does not depend on
        // the time it starts at.
        var now = ContinuousClock.now
        var connections = 1
        bgpCheckConnected(&session, now: now)
        var start = 0
        var piece = 0
        while start < input.count, frames.count < bgpMaximumFrames {
            let end = min(input.count, start + size)
            now += step
            let before = session.state
            bgpCheckActions(session.tick(now: now), before: before, session: session)
            // The handler's cumulation buffer is compacted now and then, so frames start at a
            // reader index other than 0 as well.
            if piece % 2 == 1 { framer.buffer.discardReadBytes() }
            let arrived = framer.feed(input[start..<end], limit: bgpMaximumFrames - frames.count)
            frames += arrived
            for frame in arrived {
                switch frame {
                case .message(let message):
                    bgpCheckCodec(message)
                    if session.state == .idle, connections < bgpMaximumConnections {
                        connections += 1
                        bgpCheckConnected(&session, now: now)
                    }
                    let before = session.state
                    bgpCheckActions(session.receive(message, now: now), before: before, session: session)
                case .headerError(let notification):
                    precondition(notification.code == BGPNotification.messageHeaderError, "the framer reports header errors only")
                    let before = session.state
                    bgpCheckActions(session.framingFailed(notification), before: before, session: session)
                }
            }
            start = end
            piece += 1
        }
        precondition(frames == wholeFrames, "the frames do not depend on how the octets arrive")

        // The session's timers: each deadline it asks for must find something to do.
        for _ in 0..<4 {
            guard let deadline = session.nextDeadline else { break }
            precondition(session.state != .idle, "an idle session has no deadline")
            let before = session.state
            let actions = session.tick(now: deadline)
            precondition(!actions.isEmpty, "a deadline the session asked for found nothing to do")
            bgpCheckActions(actions, before: before, session: session)
        }
        // The end, both ways: Mamori stops the session, or the connection drops.
        var stopped = session
        let state = session.state
        let stop = stopped.stop(.administrativeShutdown("fuzz"))
        bgpCheckActions(stop, before: state, session: stopped)
        precondition(state == .idle || stop.count == 2, "stopping a session sends its NOTIFICATION and closes")
        var lost = session
        let drop = lost.connectionLost()
        bgpCheckActions(drop, before: state, session: lost)
        precondition(drop == (state == .idle ? [] : [.close(.connectionLost)]), "a lost connection closes the session")
        precondition(stopped.stop(.administrativeShutdown()).isEmpty && lost.connectionLost().isEmpty, "an idle session does nothing")
    }

    /// The speaker's framing as a value: octets are appended to one buffer and whole messages cut
    /// from its front with `BGPMessage.nextFrame`, the step `BGPSpeaker`'s decoder takes. A
    /// header error is reported once; everything after it is dropped.
    struct BGPFramer {
        var buffer = ByteBuffer()
        var failed = false

        mutating func feed(_ octets: ArraySlice<UInt8>, limit: Int) -> [BGPFrame] {
            guard !failed else { return [] }
            buffer.writeBytes(octets)
            var out: [BGPFrame] = []
            while out.count < limit, let frame = BGPMessage.nextFrame(&buffer) {
                switch frame {
                case .headerError:
                    failed = true
                    precondition(buffer.readableBytes == 0, "a header error drops the rest of the stream")
                case .message(let message):
                    precondition(
                        (BGPMessage.headerLength...BGPMessage.maximumLength).contains(message.count),
                        "a frame of \(message.count) octets was accepted")
                    precondition(Int(message[16]) << 8 | Int(message[17]) == message.count, "the frame is the length its header gives")
                }
                out.append(frame)
                if failed { break }
            }
            if !failed, out.count < limit {
                // Nothing more is whole: the header, or the message it announces, has not all arrived.
                let pending = (try? BGPMessage.frameLength(buffer)) ?? nil
                precondition(
                    pending.map { buffer.readableBytes < $0 } ?? (buffer.readableBytes < BGPMessage.headerLength),
                    "a whole message was left unread")
            }
            return out
        }
    }

    /// One frame decoded both ways. A frame the framer accepted never fails with a Message Header
    /// Error (the header was already checked), the NOTIFICATION an error calls for can be sent,
    /// and only an UPDATE's decoding depends on the width of AS numbers.
    static func bgpCheckCodec(_ frame: [UInt8]) {
        var results: [Result<BGPMessage, BGPNotification>] = []
        for fourOctetAS in [true, false] {
            do {
                let message = try BGPMessage.decode(frame, fourOctetAS: fourOctetAS)
                precondition(message.typeCode == frame[18], "a message of another type came out")
                bgpCheckRoundTrip(message, fourOctetAS: fourOctetAS)
                results.append(.success(message))
            } catch {
                precondition(error.code != BGPNotification.messageHeaderError, "a framed message failed with a header error: \(error)")
                precondition(BGPMessage.notification(error).encoded() != nil, "the NOTIFICATION for \(error) cannot be written")
                _ = error.description
                results.append(.failure(error))
            }
        }
        if frame[18] != 2 { precondition(results[0] == results[1], "only an UPDATE depends on the AS number width") }
    }

    /// A decoded message written again. The encoder refuses only an OPEN whose capabilities, one
    /// optional parameter each as it writes them, no longer fit the 255 octets of the parameters
    /// field (a peer may pack several into one parameter); every other message it writes in no
    /// more octets than it came in. The written message frames, decodes to the same message up
    /// to ``bgpNormalised(_:fourOctetAS:)``, and writes again to the same octets.
    static func bgpCheckRoundTrip(_ message: BGPMessage, fourOctetAS: Bool) {
        bgpLookThrough(message)
        guard let encoded = message.encoded(fourOctetAS: fourOctetAS) else {
            guard case .open(let open) = message else { preconditionFailure("a decoded \(message.name) could not be written again") }
            precondition(bgpParameterOctets(open) > 255, "a decoded OPEN that fits could not be written again")
            return
        }
        let framed = try? BGPMessage.frameLength(ByteBuffer(bytes: encoded))
        precondition(framed == encoded.count, "a written \(message.name) does not frame as its length")
        let again: BGPMessage
        do {
            again = try BGPMessage.decode(encoded, fourOctetAS: fourOctetAS)
        } catch {
            preconditionFailure("a written \(message.name) does not decode: \(error)")
        }
        precondition(again == bgpNormalised(message, fourOctetAS: fourOctetAS), "a \(message.name) changed in a round trip")
        precondition(again.encoded(fourOctetAS: fourOctetAS) == encoded, "writing a decoded \(message.name) again is not stable")
    }

    /// The octets an OPEN's optional parameters take as the encoder writes them: one parameter
    /// (type, length) per capability (code, length, value).
    static func bgpParameterOctets(_ open: BGPOpen) -> Int {
        open.capabilities.reduce(0) { total, capability in
            switch capability {
            case .multiprotocol, .fourOctetAS: total + 8
            case .routeRefresh: total + 4
            case .gracefulRestart(let g): total + 6 + 4 * g.families.count
            case .other(_, let value): total + 4 + value.count
            }
        }
    }

    /// A message as one trip through the encoder leaves it. Two things the codec does not keep,
    /// both only in attributes it does not model: whether the extended-length bit was set (the
    /// encoder sets it exactly when a value takes more than 255 octets), and, without 4-octet AS
    /// numbers, a received AS4_PATH beside an AS_PATH (the encoder writes AS4_PATH itself from
    /// AS_PATH, and drops a kept one; an AS_PATH read with 2-octet numbers has none that needs
    /// it, so none is written). Reserved octets, the grouping of capabilities into parameters,
    /// FlowSpec value widths and attribute order are not part of the decoded value at all.
    static func bgpNormalised(_ message: BGPMessage, fourOctetAS: Bool) -> BGPMessage {
        guard case .update(var update) = message else { return message }
        let asPath = update.attributes.asPath != nil
        update.attributes.others = update.attributes.others.compactMap { attribute in
            if !fourOctetAS, asPath, attribute.type == 17 { return nil }
            var a = attribute
            a.flags = a.value.count > 255 ? a.flags | 0x10 : a.flags & ~0x10
            return a
        }
        return .update(update)
    }

    /// What the speaker and its logs read of a decoded message: its routes' families and texts.
    static func bgpLookThrough(_ message: BGPMessage) {
        switch message {
        case .open(let open):
            _ = (open.autonomousSystem, open.families, open.supportsRouteRefresh, open.supportsFourOctetAS)
        case .update(let update):
            let a = update.attributes
            for route in update.nlri + update.withdrawn { precondition(route.isIPv4, "a classic NLRI field held IPv6") }
            if let reach = a.reach {
                for route in reach.nlri { precondition(route.family == reach.family, "MP_REACH_NLRI held a route of another family") }
            }
            if let unreach = a.unreach {
                for route in unreach.withdrawn {
                    precondition(route.family == unreach.family, "MP_UNREACH_NLRI held a route of another family")
                }
            }
            if update.endOfRIB != nil {
                precondition(update.announced.isEmpty && update.withdrawnRoutes.isEmpty, "an End-of-RIB marker carried routes")
            }
            for route in update.announced + update.withdrawnRoutes { _ = route.description }
            _ = (a.communities.map(\.description), a.extendedCommunities.map(\.description), a.largeCommunities.map(\.description))
        case .notification(let notification):
            _ = notification.description
        case .keepalive, .routeRefresh:
            break
        }
    }

    /// `connected(now:)` on an idle session: it sends its OPEN and waits for the neighbour's.
    static func bgpCheckConnected(_ session: inout BGPSession, now: ContinuousClock.Instant) {
        precondition(session.state == .idle, "connected on a session that is not idle")
        let actions = session.connected(now: now)
        guard actions.count == 1, case .send(.open(let open)) = actions[0] else { preconditionFailure("connected did not send one OPEN") }
        precondition(open.autonomousSystem == bgpConfiguration.localAS, "the OPEN is not of the local AS")
        precondition(session.state == .openSent && session.nextDeadline != nil, "an opening session waits for OPEN with a deadline")
        // Checked as a step within OpenSent: the one step out of Idle.
        bgpCheckActions(actions, before: .openSent, session: session)
    }

    /// The session's actions after one step from state `before`. Only the RFC 4271 transitions
    /// happen (an idle session does nothing until it is connected); every message it sends can be
    /// written and reads back as itself; a NOTIFICATION is sent only right before `.close(.sent)`
    /// of the same NOTIFICATION; a close is the last action and leaves the session idle, without
    /// deadlines; Established comes only from OpenConfirm, with what both sides offered.
    static func bgpCheckActions(_ actions: [BGPSession.Action], before: BGPSession.State, session: BGPSession) {
        let after = session.state
        let closed = actions.contains { if case .close = $0 { true } else { false } }
        if before == .idle { precondition(actions.isEmpty && after == .idle, "an idle session acted") }
        precondition(closed == (before != .idle && after == .idle), "a session went idle without closing, or closed without going idle")
        switch (before, after) {
        case (_, .idle), (.openSent, .openConfirm), (.openConfirm, .established): break
        case (let a, let b) where a == b: break
        default: preconditionFailure("a transition from \(before) to \(after)")
        }
        if after == .idle { precondition(session.nextDeadline == nil, "an idle session has a deadline") }
        let fourOctetAS = session.negotiated?.fourOctetAS ?? false
        for (i, action) in actions.enumerated() {
            switch action {
            case .send(let message):
                guard let octets = message.encoded(fourOctetAS: fourOctetAS) else {
                    preconditionFailure("the session asked to send a \(message.name) that cannot be written: \(message)")
                }
                precondition(
                    (try? BGPMessage.decode(octets, fourOctetAS: fourOctetAS)) == message,
                    "a \(message.name) the session sent reads back other")
                if case .notification(let n) = message {
                    precondition(i == actions.count - 2 && actions[i + 1] == .close(.sent(n)), "a NOTIFICATION not followed by its close")
                }
                if case .keepalive = message { precondition(after == .openConfirm || after == .established, "a KEEPALIVE while \(after)") }
            case .close(let reason):
                precondition(i == actions.count - 1, "an action after close")
                if case .sent(let n) = reason { precondition(i > 0 && actions[i - 1] == .send(.notification(n)), "closed without sending") }
            case .established(let negotiated):
                precondition(before == .openConfirm && after == .established, "Established from \(before)")
                precondition(negotiated.peerAS == bgpConfiguration.peerAS, "Established with another AS")
                precondition(negotiated.families.isSubset(of: Set(bgpConfiguration.families)), "a family Mamori did not offer")
                precondition(negotiated.holdTime <= bgpConfiguration.holdTime, "a hold time longer than Mamori's")
                precondition(negotiated.holdTime == 0 || negotiated.holdTime >= 3, "a hold time of 1 or 2 seconds")
            case .resend(let family):
                precondition(after == .established && session.negotiated?.families.contains(family) == true, "a refresh of \(family)")
            }
        }
    }
}
