import BGPWire
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Mamori's BGP speaker: it keeps a session with every configured neighbour and announces to
/// each the routes it is given (black-hole host routes, FlowSpec rules) — and nothing else. It
/// originates routes only: what neighbours send is checked and dropped, never installed.
///
/// Callers say what should be announced (``announce(_:)``, ``withdraw(_:)``, ``replaceRoutes(_:)``);
/// every session then sends exactly the UPDATEs that differ from what it last sent, at once. A
/// session that comes up gets every route and End-of-RIB; one that goes down is retried with
/// exponential back-off. On graceful shutdown or cancellation every session is closed with a
/// Cease (administrative shutdown), or left for graceful restart (``leaveRoutesWhenStopping()``).
///
/// Why a speaker of our own and not GoBGP driven over gRPC: a carrier then runs one program less,
/// and the session, its NOTIFICATIONs and its timers are Mamori's to log, count and test.
public final class BGPSpeaker: Service, Sendable {
    public let configuration: BGPSpeakerConfiguration
    private let routes = NIOLockedValueBox<[BGPNLRI: BGPRoute]>([:])
    private let neighbors: [BGPNeighbor]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let shutdownReason: String
    private let leaving = NIOLockedValueBox(false)

    public init(
        configuration: BGPSpeakerConfiguration, logger: Logger, metricsFactory: any MetricsFactory,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, shutdownReason: String = "Mamori shutting down"
    ) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        self.shutdownReason = shutdownReason
        let routes = self.routes
        neighbors = configuration.neighbors.map {
            BGPNeighbor(configuration: $0, speaker: configuration, routes: routes, logger: logger, metricsFactory: metricsFactory)
        }
    }

    /// Runs every neighbour's session until graceful shutdown or cancellation.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
    }

    /// Runs every neighbour's session until the task is cancelled, whatever graceful shutdown
    /// says: for an owner that withdraws its routes first (the mitigation service).
    public func runUntilCancelled() async {
        logger.info(
            "BGP speaker starting",
            metadata: ["bgp.local_as": "\(configuration.localAS)", "bgp.neighbors": "\(neighbors.map(\.configuration.label))"])
        await withTaskGroup(of: Void.self) { tasks in
            for neighbor in self.neighbors {
                tasks.addTask {
                    await neighbor.run(group: self.group, shutdownReason: self.shutdownReason) {
                        self.leaving.withLockedValue { $0 }
                    }
                }
            }
        }
        logger.info("BGP speaker stopped")
    }

    /// When the speaker stops, close the sessions so that the neighbours keep the routes: without
    /// a NOTIFICATION where graceful restart was agreed (the neighbour keeps them, stale, for
    /// ``BGPSpeakerConfiguration/gracefulRestartTime`` or until Mamori is back and has sent them
    /// again with End-of-RIB), with a Cease elsewhere (the neighbour removes them).
    public func leaveRoutesWhenStopping() {
        leaving.withLockedValue { $0 = true }
    }

    // MARK: What to announce

    /// Announces `route` (or replaces the route with the same NLRI) on every session.
    public func announce(_ route: BGPRoute) {
        routes.withLockedValue { $0[route.nlri] = route }
        synchronize()
    }

    /// Withdraws the route with this NLRI from every session.
    public func withdraw(_ nlri: BGPNLRI) {
        let removed = routes.withLockedValue { $0.removeValue(forKey: nlri) }
        if removed != nil { synchronize() }
    }

    /// Makes `routes` the whole set announced: what is missing is withdrawn.
    public func replaceRoutes(_ new: [BGPRoute]) {
        routes.withLockedValue { table in
            table = [:]
            for route in new { table[route.nlri] = route }
        }
        synchronize()
    }

    /// The routes Mamori wants announced now (each session sends those of its families).
    public var announcedRoutes: [BGPRoute] {
        routes.withLockedValue { Array($0.values) }.sorted { $0.nlri.description < $1.nlri.description }
    }

    /// Every neighbour's session, in configuration order.
    public func status() -> [BGPNeighborStatus] { neighbors.map(\.currentStatus) }

    private func synchronize() {
        for neighbor in neighbors { neighbor.synchronize() }
    }
}
