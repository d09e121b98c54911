import Detection
import Dnstap
import DnstapListener
import FlowCodec
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle
import SinkholeListener
import SinkholeProbe

/// The resolvers' query log inside `mamori serve`: dnstap client responses from the carrier's
/// Unbound or BIND, read by `DnstapListener`, turned into evidence and then dropped.
///
/// Of each answer only this is used, and only in memory:
/// - a lookup of a sinkholed name (a name entry, or an answer that is the sinkhole's) counts for
///   that client in `SinkholeContactTracker` → an infected-device finding (family `sinkhole`);
/// - an NXDOMAIN answer feeds `DGADetector` → an infected-device finding (family `dga`);
/// - an answer pointing at a C&C address in the sinkhole policy teaches the sinkhole the name
///   (`sinkhole.learn_names`); the client is not recorded for it.
/// Everything else of the log — every other name, every other client — is discarded as it
/// arrives, as flows are. The findings go through `DetectionService.report`, which attributes,
/// stores and hands them to the case workflow.
///
/// It also runs the sinkhole listener (`sinkhole.listener`): every device that connects to the
/// sinkhole counts in the same `SinkholeContactTracker`, with the name it asked for (HTTP Host,
/// TLS SNI).
///
/// Metrics: `mamori_resolver_answers_total{use="sinkholed|nxdomain|learned|discarded"}`, the
/// dnstap listener's `mamori_dnstap_*` and the sinkhole listener's `mamori_sinkhole_*`.
public final class ResolverLogService: Service, Sendable {
    struct Detectors {
        var contacts: SinkholeContactTracker
        var dga: DGADetector
        var learned: [(name: String, address: IPAddress)] = []
    }

    private let detectors: NIOLockedValueBox<Detectors>
    private let listener: DnstapListener?
    private let sinkholeListener: SinkholeListener?
    private let detection: DetectionService
    private let sinkhole: SinkholeService?
    private let clock: any WallClock
    private let answers: [String: Counter]
    static let maximumLearnedPerRound = 1000

    public init(
        settings: DnstapSettings, sinkhole: SinkholeService?, detection: DetectionService, pseudonymKey: [UInt8], clock: any WallClock,
        logger: Logger, metricsFactory: any MetricsFactory
    ) {
        let listenAt = sinkhole?.settings.listener ?? []
        var thresholds = DGADetector.Thresholds()
        thresholds.windowMilliseconds = Int64(settings.dgaWindowSeconds) * 1000
        thresholds.minimumGenerated = settings.dgaMinimumNames
        thresholds.minimumShare = settings.dgaMinimumShare
        let box = NIOLockedValueBox(
            Detectors(
                contacts: SinkholeContactTracker(pseudonymKey: pseudonymKey),
                dga: DGADetector(thresholds: thresholds, pseudonymKey: pseudonymKey)))
        detectors = box
        self.detection = detection
        self.sinkhole = sinkhole
        self.clock = clock
        var counters: [String: Counter] = [:]
        for use in ["sinkholed", "nxdomain", "learned", "discarded"] {
            counters[use] = Counter(label: "mamori_resolver_answers_total", dimensions: [("use", use)], factory: metricsFactory)
        }
        answers = counters
        if settings.enabled {
            var c = DnstapListener.Configuration()
            c.unixSocketPath = settings.unixSocket
            c.unixSocketPermissions = settings.unixSocketMode
            c.tcp = settings.listen
            c.maximumConnections = settings.maximumConnections
            let counted = counters
            listener = DnstapListener(configuration: c, logger: logger, metricsFactory: metricsFactory) { event in
                Self.take(event, into: box, sinkhole: sinkhole, counters: counted, now: clock.milliseconds)
            }
        } else {
            listener = nil
        }
        if listenAt.isEmpty {
            sinkholeListener = nil
        } else {
            var c = SinkholeListener.Configuration()
            c.endpoints = listenAt.map { SinkholeListener.Endpoint(host: $0.host, port: $0.port) }
            sinkholeListener = SinkholeListener(configuration: c, clock: clock, logger: logger, metricsFactory: metricsFactory) { contact in
                // A connection refused for the cap says nothing about the device: not evidence.
                if contact.problem == .tooManyConnections { return }
                box.withLockedValue { $0.contacts.connection(from: contact.client, name: contact.name, at: contact.milliseconds) }
            }
        }
    }

    /// The TCP port the dnstap listener is bound to (with `listen`), once it runs.
    public var boundTCPPort: Int? { listener?.boundTCPPort }

    /// The sinkhole listener's ports, once it runs.
    public var sinkholePorts: [Int] { sinkholeListener?.boundPorts ?? [] }

    /// Waits until the listeners accept connections.
    public func waitUntilReady() async {
        await listener?.waitUntilReady()
        await sinkholeListener?.waitUntilReady()
    }

    /// One dnstap event: used as the type's comment says, or dropped.
    static func take(
        _ e: ResolverEvent, into box: NIOLockedValueBox<Detectors>, sinkhole: SinkholeService?, counters: [String: Counter], now: Int64
    ) {
        guard e.type == .clientResponse, let client = e.queryAddress, let question = e.question, let rcode = e.responseCode else {
            counters["discarded"]?.increment()
            return
        }
        var name = "\(question.name)".lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        // The resolver's time when it says, within a minute of ours; else ours.
        let at = e.responseTimeMilliseconds.flatMap { abs($0 - now) < 60_000 ? $0 : nil } ?? now
        let sinkholed = sinkhole?.covers(name: name, answers: e.answerAddresses) ?? false
        let observation = ResolverObservation(client: client, name: name, responseCode: rcode, at: at, sinkholed: sinkholed)
        let learned = sinkholed ? nil : sinkhole.flatMap { s in e.answerAddresses.first { s.addressEntry($0) != nil } }
        box.withLockedValue { d in
            if sinkholed { d.contacts.lookup(observation) }
            d.dga.observe(observation)
            if let learned, d.learned.count < Self.maximumLearnedPerRound { d.learned.append((name, learned)) }
        }
        counters[sinkholed ? "sinkholed" : learned != nil ? "learned" : rcode == 3 ? "nxdomain" : "discarded"]?.increment()
    }

    /// A connection to the sinkhole listener, from `client`, asking for `name` if it said.
    public func sinkholeContact(from client: IPAddress, name: String?, at: Int64) {
        detectors.withLockedValue { $0.contacts.connection(from: client, name: name, at: at) }
    }

    /// Reports what the detectors found since the last round, and teaches the sinkhole the
    /// names it learned.
    public func round() async {
        let now = clock.milliseconds
        let (findings, learned) = detectors.withLockedValue { d -> ([Finding], [(name: String, address: IPAddress)]) in
            let learned = d.learned
            d.learned = []
            return (d.contacts.findings(now: now) + d.dga.findings(now: now), learned)
        }
        await detection.report(findings)
        if let sinkhole { await sinkhole.learn(learned) }
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            if let listener = self.listener { group.addTask { try await listener.run() } }
            if let sinkholeListener = self.sinkholeListener { group.addTask { try await sinkholeListener.run() } }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    await self.round()
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
        await round()
    }
}
