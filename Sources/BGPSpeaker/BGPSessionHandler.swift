import BGPWire
import Logging
import NIOCore

/// Events the neighbour's task sends down the pipeline (``ChannelPipeline/fireUserInboundEventTriggered(_:)``
/// hops to the channel's event loop, so the session is only ever touched there).
enum BGPSessionEvent: Sendable {
    /// Time passed: run the hold timer and keepalives.
    case tick
    /// The routes to announce changed: bring the neighbour's Adj-RIB-Out in line.
    case sync
    /// Close the session with this NOTIFICATION (a Cease).
    case stop(BGPNotification)
    /// Close the session so that the neighbour keeps the routes (graceful restart), or with this
    /// NOTIFICATION when the session did not agree to graceful restart.
    case leave(BGPNotification)
}

/// One BGP connection: drives the pure ``BGPSession`` with the connection's messages and the
/// clock, and keeps this neighbour's Adj-RIB-Out — what it has been sent — so that a change to
/// the routes Mamori wants announced goes out as exactly the UPDATEs that differ.
final class BGPSessionHandler: ChannelInboundHandler {
    typealias InboundIn = BGPFrame
    typealias OutboundOut = ByteBuffer

    private var session: BGPSession
    private let neighbor: BGPNeighbor
    /// What this session has announced and not withdrawn, by NLRI.
    private var advertised: [BGPNLRI: BGPRoute] = [:]
    private var lastWrite: EventLoopFuture<Void>?
    private var closing = false

    init(neighbor: BGPNeighbor) {
        self.neighbor = neighbor
        session = BGPSession(neighbor.nextSessionConfiguration())
    }

    func channelActive(context: ChannelHandlerContext) {
        // Reachable for route changes from now on — before the session can come up, so that no
        // change made after the routes are read at establishment goes unsent.
        neighbor.attach(context.channel)
        perform(session.connected(now: .now), context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .message(let bytes):
            perform(session.receive(bytes, now: .now), context: context)
        case .headerError(let notification):
            perform(session.framingFailed(notification), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(session.connectionLost(), context: context)
        advertised = [:]
        neighbor.sessionClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        neighbor.connectionError(error)
        perform(session.connectionLost(), context: context)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? BGPSessionEvent else { return context.fireUserInboundEventTriggered(event) }
        guard !closing else { return }
        switch event {
        case .tick: perform(session.tick(now: .now), context: context)
        case .sync: synchronize(context: context)
        case .stop(let notification): perform(session.stop(notification), context: context)
        case .leave(let notification): perform(session.leave(otherwise: notification), context: context)
        }
    }

    // MARK: -

    private var fourOctetAS: Bool { session.negotiated?.fourOctetAS ?? true }
    private var external: Bool { neighbor.sessionConfiguration.isExternal }

    private func perform(_ actions: [BGPSession.Action], context: ChannelHandlerContext) {
        guard !actions.isEmpty else { return }
        var wrote = false
        for action in actions {
            switch action {
            case .send(let message):
                wrote = write(message, context: context) || wrote
                if case .notification(let n) = message { neighbor.notificationSent(n) }
            case .established(let negotiated):
                neighbor.established(negotiated)
                advertised = [:]
                let desired = neighbor.desiredRoutes()
                for family in negotiated.families.sorted() {
                    for route in desired where route.family == family {
                        if announce(route, context: context) { wrote = true }
                    }
                    wrote = write(.update(.endOfRIB(family)), context: context) || wrote
                }
            case .resend(let family):
                for route in neighbor.desiredRoutes() where route.family == family {
                    if announce(route, context: context) { wrote = true }
                }
            case .close(let reason):
                if case .received(let n) = reason { neighbor.notificationReceived(n) }
                neighbor.closing(reason)
                closing = true
            }
        }
        if wrote { context.flush() }
        neighbor.stateChanged(session.state, advertised: advertised.count)
        if closing {
            // The NOTIFICATION (if any) goes out before the close.
            let channel = context.channel
            if let lastWrite {
                lastWrite.whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
    }

    /// Withdrawals first (a kill switch is mostly withdrawals), then what is new or changed.
    private func synchronize(context: ChannelHandlerContext) {
        guard session.state == .established, let negotiated = session.negotiated else { return }
        var desired: [BGPNLRI: BGPRoute] = [:]
        for route in neighbor.desiredRoutes() where negotiated.families.contains(route.family) { desired[route.nlri] = route }
        var wrote = false
        for (nlri, route) in advertised where desired[nlri] == nil {
            advertised[nlri] = nil
            if write(.update(route.withdrawal), context: context) {
                wrote = true
                neighbor.withdrew(route)
            }
        }
        for (nlri, route) in desired where advertised[nlri] != route {
            if announce(route, context: context) { wrote = true }
        }
        if wrote { context.flush() }
        neighbor.stateChanged(session.state, advertised: advertised.count)
    }

    private func announce(_ route: BGPRoute, context: ChannelHandlerContext) -> Bool {
        guard write(.update(route.announcement(localAS: neighbor.localAS, external: external)), context: context) else {
            neighbor.unencodable(route)
            return false
        }
        advertised[route.nlri] = route
        neighbor.announced(route)
        return true
    }

    private func write(_ message: BGPMessage, context: ChannelHandlerContext) -> Bool {
        guard let bytes = message.encoded(fourOctetAS: fourOctetAS) else { return false }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: promise)
        lastWrite = promise.futureResult
        return true
    }
}
