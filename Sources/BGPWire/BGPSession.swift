/// What Mamori's side of one BGP session is configured with.
public struct BGPSessionConfiguration: Sendable, Hashable {
    public var localAS: UInt32
    /// The BGP identifier (router id), an IPv4 address as a number; never 0.
    public var identifier: UInt32
    /// The AS the neighbour must open with (RFC 4271 §6.2: anything else is Bad Peer AS).
    public var peerAS: UInt32
    /// Proposed hold time in seconds (0, or at least 3). The smaller of the two sides' wins.
    public var holdTime: UInt16
    public var families: [BGPFamily]
    /// Graceful restart (RFC 4724): how long, in seconds, the neighbour may keep Mamori's routes
    /// while the session is down (at most 4095); nil: not offered, the routes go with the session.
    public var gracefulRestartTime: UInt16?
    /// Whether this is the first session since Mamori started (the capability's R bit).
    public var restarting: Bool

    public init(
        localAS: UInt32, identifier: UInt32, peerAS: UInt32, holdTime: UInt16 = 90, families: [BGPFamily] = BGPFamily.supported,
        gracefulRestartTime: UInt16? = nil, restarting: Bool = false
    ) {
        self.localAS = localAS
        self.identifier = identifier
        self.peerAS = peerAS
        self.holdTime = holdTime
        self.families = families
        self.gracefulRestartTime = gracefulRestartTime
        self.restarting = restarting
    }

    /// The graceful restart capability Mamori's OPEN carries, if any. Every family has F set:
    /// Mamori keeps the routes it wants announced across a restart (the mitigation state file) and,
    /// once the session is back, sends them all and End-of-RIB — which removes the rest.
    public var gracefulRestart: BGPGracefulRestart? {
        gracefulRestartTime.map { time in
            BGPGracefulRestart(
                restarting: restarting, restartTime: time,
                families: families.map { BGPGracefulRestart.Family($0, forwardingPreserved: true) })
        }
    }

    public var isExternal: Bool { localAS != peerAS }
}

/// What both sides agreed on in their OPENs.
public struct BGPNegotiated: Sendable, Hashable {
    public var holdTime: UInt16
    /// A third of the hold time (RFC 4271 §10); nil when the hold time is 0 (no keepalives).
    public var keepaliveInterval: Duration? { holdTime == 0 ? nil : .seconds(max(1, Int(holdTime) / 3)) }
    public var fourOctetAS: Bool
    public var routeRefresh: Bool
    /// The families both sides advertised: the only ones Mamori may send routes of.
    public var families: Set<BGPFamily>
    public var peerIdentifier: UInt32
    public var peerAS: UInt32
    /// Both sides advertised graceful restart: closing the connection without a NOTIFICATION
    /// leaves Mamori's routes at the neighbour (marked stale) for the restart time.
    public var gracefulRestart: Bool = false
}

/// The RFC 4271 §8 finite-state machine for one outgoing connection, without I/O: the caller
/// hands it the connection's events and octets with the current time, and carries out the actions
/// it returns. Mamori only announces: UPDATEs from the neighbour are checked (a malformed one is
/// answered with its NOTIFICATION, as §6.3 says) and then dropped — no route learnt from the
/// network reaches any table.
///
/// Error handling follows RFC 4271 rather than RFC 7606's "treat as withdraw": Mamori keeps no
/// routes from its neighbours, so there is nothing to withdraw, and a neighbour sending malformed
/// UPDATEs is one whose session an operator should see fail.
public struct BGPSession: Sendable {
    public enum State: String, Sendable, Hashable, CaseIterable {
        case idle
        case openSent = "open_sent"
        case openConfirm = "open_confirm"
        case established

        /// The value of the `mamori_bgp_session_state` gauge (RFC 4273's bgpPeerState numbering).
        public var gaugeValue: Int {
            switch self {
            case .idle: 1
            case .openSent: 4
            case .openConfirm: 5
            case .established: 6
            }
        }
    }

    public enum Action: Sendable, Hashable {
        /// Write this message to the connection.
        case send(BGPMessage)
        /// The session is up: send the routes of these families, then End-of-RIB for each.
        case established(BGPNegotiated)
        /// The neighbour asked for our routes of this family again (route refresh).
        case resend(BGPFamily)
        /// Close the connection. `sent`: the NOTIFICATION sent first (already in a `.send`
        /// action before this one); `received`: the one the neighbour closed with.
        case close(CloseReason)
    }

    public enum CloseReason: Sendable, Hashable, CustomStringConvertible {
        case sent(BGPNotification)
        case received(BGPNotification)
        case connectionLost
        /// Mamori closed the connection without a NOTIFICATION so that the neighbour keeps its
        /// routes (graceful restart).
        case leftForRestart

        public var description: String {
            switch self {
            case .sent(let n): "sent NOTIFICATION \(n)"
            case .received(let n): "received NOTIFICATION \(n)"
            case .connectionLost: "connection lost"
            case .leftForRestart: "closed without NOTIFICATION (graceful restart: the neighbour keeps the routes)"
            }
        }
    }

    /// RFC 4271 §8: the "large value" the hold timer has until OPEN is received.
    public static let openHoldTime: Duration = .seconds(240)

    public let configuration: BGPSessionConfiguration
    public private(set) var state: State = .idle
    public private(set) var negotiated: BGPNegotiated?
    /// UPDATEs received and dropped (Mamori takes no routes).
    public private(set) var updatesIgnored = 0
    private var holdDeadline: ContinuousClock.Instant?
    private var nextKeepalive: ContinuousClock.Instant?

    public init(_ configuration: BGPSessionConfiguration) {
        self.configuration = configuration
    }

    /// The earliest time `tick` has something to do: the caller schedules its timer for it.
    public var nextDeadline: ContinuousClock.Instant? {
        switch (holdDeadline, nextKeepalive) {
        case (let h?, let k?): min(h, k)
        case (let h?, nil): h
        case (nil, let k?): k
        case (nil, nil): nil
        }
    }

    /// The TCP connection is up: send OPEN (§8.2.2, Connect → OpenSent).
    public mutating func connected(now: ContinuousClock.Instant) -> [Action] {
        state = .openSent
        negotiated = nil
        holdDeadline = now + Self.openHoldTime
        nextKeepalive = nil
        let open = BGPOpen(
            localAS: configuration.localAS, holdTime: configuration.holdTime, identifier: configuration.identifier,
            families: configuration.families, gracefulRestart: configuration.gracefulRestart)
        return [.send(.open(open))]
    }

    /// The connection closed or failed without a NOTIFICATION.
    public mutating func connectionLost() -> [Action] {
        guard state != .idle else { return [] }
        reset()
        return [.close(.connectionLost)]
    }

    /// One whole message as framed by `BGPMessage.frameLength`.
    public mutating func receive(_ bytes: [UInt8], now: ContinuousClock.Instant) -> [Action] {
        guard state != .idle else { return [] }
        let message: BGPMessage
        do {
            message = try BGPMessage.decode(bytes, fourOctetAS: negotiated?.fourOctetAS ?? false)
        } catch {
            return fail(sending: error)
        }
        return receive(message, now: now)
    }

    /// A header the framer rejected (bad marker, length or type): answer and close.
    public mutating func framingFailed(_ notification: BGPNotification) -> [Action] {
        guard state != .idle else { return [] }
        return fail(sending: notification)
    }

    public mutating func receive(_ message: BGPMessage, now: ContinuousClock.Instant) -> [Action] {
        switch (state, message) {
        case (.idle, _):
            return []
        case (_, .notification(let n)):
            return fail(received: n)
        case (.openSent, .open(let open)):
            return opened(open, now: now)
        case (.openSent, _):
            return fail(sending: .unexpectedMessage(inState: 1))
        case (.openConfirm, .keepalive):
            state = .established
            restartHoldTimer(now)
            return negotiated.map { [.established($0)] } ?? []
        case (.openConfirm, _):
            return fail(sending: .unexpectedMessage(inState: 2))
        case (.established, .keepalive):
            restartHoldTimer(now)
            return []
        case (.established, .update):
            restartHoldTimer(now)
            updatesIgnored += 1
            return []
        case (.established, .routeRefresh(let family, let subtype)):
            restartHoldTimer(now)
            // Subtype 0 is a request; 1 and 2 mark an enhanced refresh's start and end (RFC 7313),
            // which only a receiver of routes cares about.
            guard subtype == 0, negotiated?.families.contains(family) == true else { return [] }
            return [.resend(family)]
        case (.established, .open):
            return fail(sending: .unexpectedMessage(inState: 3))
        }
    }

    /// Timers: hold-timer expiry (§6.5) and keepalives due.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        if let holdDeadline, now >= holdDeadline { return fail(sending: .holdTimerExpiry()) }
        guard let due = nextKeepalive, now >= due, let interval = negotiated?.keepaliveInterval else { return [] }
        nextKeepalive = now + interval
        return [.send(.keepalive)]
    }

    /// Mamori closes the session (shutdown, deconfiguration, reset).
    public mutating func stop(_ notification: BGPNotification) -> [Action] {
        guard state != .idle else { return [] }
        return fail(sending: notification)
    }

    /// Mamori stops but wants the neighbour to keep its routes: on an established session where
    /// both sides advertised graceful restart, the connection closes without a NOTIFICATION
    /// (RFC 4724 §4.2: the neighbour then keeps the routes, stale, for the restart time);
    /// otherwise there is no way to keep them and the session closes with `notification`.
    public mutating func leave(otherwise notification: BGPNotification) -> [Action] {
        guard state == .established, negotiated?.gracefulRestart == true else { return stop(notification) }
        reset()
        return [.close(.leftForRestart)]
    }

    // MARK: -

    private mutating func opened(_ open: BGPOpen, now: ContinuousClock.Instant) -> [Action] {
        // §6.2: the AS, the identifier, the hold time.
        if open.autonomousSystem != configuration.peerAS {
            return fail(sending: .badPeerAS())
        }
        if open.identifier == configuration.identifier && !configuration.isExternal {
            return fail(sending: .badBGPIdentifier())
        }
        let hold = min(open.holdTime, configuration.holdTime)
        let families = Set(open.families).intersection(configuration.families)
        let agreed = BGPNegotiated(
            holdTime: hold, fourOctetAS: open.supportsFourOctetAS, routeRefresh: open.supportsRouteRefresh, families: families,
            peerIdentifier: open.identifier, peerAS: open.autonomousSystem,
            gracefulRestart: configuration.gracefulRestartTime != nil && open.gracefulRestart != nil)
        negotiated = agreed
        state = .openConfirm
        restartHoldTimer(now)
        nextKeepalive = agreed.keepaliveInterval.map { now + $0 }
        return [.send(.keepalive)]
    }

    private mutating func restartHoldTimer(_ now: ContinuousClock.Instant) {
        guard let hold = negotiated?.holdTime else { return }
        holdDeadline = hold == 0 ? nil : now + .seconds(Int(hold))
    }

    private mutating func fail(sending notification: BGPNotification) -> [Action] {
        reset()
        return [.send(.notification(notification)), .close(.sent(notification))]
    }

    private mutating func fail(received notification: BGPNotification) -> [Action] {
        reset()
        return [.close(.received(notification))]
    }

    private mutating func reset() {
        state = .idle
        holdDeadline = nil
        nextKeepalive = nil
    }
}

/// How long to wait before the next connection attempt: doubling from `initial` to `maximum`
/// after each failure, with up to a quarter of random spread so that many speakers restarted
/// together do not reconnect in step; back to `initial` once a session has stayed up.
public struct BGPBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public private(set) var failures = 0

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before the next attempt; `unit` in 0..<1 spreads it (pass a random number).
    public mutating func next(spread unit: Double) -> Duration {
        let exponent = min(failures, 30)
        failures += 1
        var delay = initial * (1 << exponent)
        if delay > maximum || delay < initial { delay = maximum }
        return delay + delay * (max(0, min(unit, 1)) / 4)
    }

    public mutating func reset() { failures = 0 }
}
