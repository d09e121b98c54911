import Accounts
import Attribution
import ClusterBus
import Collector
import Console
import Detection
import FlowBus
import FlowCodec
import Foundation
import Hummingbird
import IdentityListeners
import Lawful
import Logging
import MamoriCore
import Metrics
import NATSClient
import NIOConcurrencyHelpers
import NIOCore
import PostgresStorage
import Prometheus
import ReportMailbox
import STIX
import ServiceLifecycle
import Storage
import TAXII

/// What `buildApplication` needs besides the configuration file.
public struct ApplicationDependencies: Sendable {
    /// Where metrics are registered and read from for /metrics.
    public var prometheus: PrometheusCollectorRegistry
    /// Extra flow consumers (the statistics sink is always present).
    public var extraSinks: [any FlowSink]
    public var logger: Logger
    /// Where findings go; nil = the SQLite file in the data directory.
    public var findingStore: (any FindingStore)?
    /// How notices are e-mailed; nil = through `lawful.smtp` when configured.
    public var noticeMailer: (any NoticeMailer)?
    /// The time every service reads (the system's clock; tests pass one they move).
    public var clock: any WallClock
    /// How operators' passwords are hashed (bcrypt, cost 12; tests pass a low cost).
    public var passwordHashing: any PasswordHashing = BcryptPasswordHashing()
    /// Where the TAXII server keeps its objects; nil = the SQLite file in the data directory.
    public var taxiiStore: (any TAXIIObjectStore)?
    /// Where IP-phone fraud block rules go instead of the configured softswitch (tests).
    public var blockPublisher: (any BlockPublisher)?

    public init(
        prometheus: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), extraSinks: [any FlowSink] = [],
        logger: Logger = Logger(label: "mamori"), findingStore: (any FindingStore)? = nil, clock: any WallClock = SystemClock()
    ) {
        self.clock = clock
        self.prometheus = prometheus
        self.extraSinks = extraSinks
        self.logger = logger
        self.findingStore = findingStore
    }
}

/// The running parts of Mamori, for callers (tests, the CLI) that want to look inside.
public struct MamoriServices: Sendable {
    public let collector: FlowCollector
    public let statistics: FlowStatisticsSink
    public let detection: DetectionService
    public let attribution: AttributionService
    /// Nil when `attribution.radius.listen` is empty.
    public let radius: RADIUSAccountingServer?
    public let lawful: LawfulService
    public let cases: CaseService
    /// Which stores cannot be written (reported by /healthz).
    public let storage: StorageHealth
    /// Operator accounts, sessions and tokens.
    public let accountStore: any AccountStore
    /// The DNS sinkhole (nil unless `sinkhole:` is configured).
    public let sinkhole: SinkholeService?
    /// The resolvers' query log (nil unless `dnstap:` is configured).
    public let resolverLog: ResolverLogService?
    /// BGP mitigation and its speaker (nil unless `bgp:` is configured).
    public let mitigation: MitigationService?
    /// The TAXII 2.1 server's collections (nil unless `sharing.taxii` is configured): publish
    /// STIX objects into them with ``TAXIIService/publish(collection:objects:now:)``.
    public let taxii: TAXIIService?
    /// Indicators pulled from sharing peers (`sharing.peers`) and imported from STIX bundles.
    public let sharing: SharingService?
    /// Confirmed C&C findings published as STIX (nil unless `sharing.export` is configured).
    public let exporter: IndicatorExporter?
    /// Reports from outside: intake, attribution, cases.
    public let reports: ReportService
    /// IP-phone fraud (nil unless `telephony:` is configured).
    public let fraud: FraudService?
    /// Every HTTP route and who may call it.
    let routeAccess: RouteAccessTable
    /// Every route the routers serve, as `METHOD path` (what ``routeAccess`` must cover).
    let registeredRoutes: [String]
    /// The routes of the notice pages' own listener (`http.public`; empty without it).
    let noticeListenerRoutes: [String]
    /// The ports the HTTP listeners are bound to, once they run.
    public let http: HTTPListeners
    /// This node's role in a cluster (`cluster.role`).
    public let role: ClusterSettings.Role
    /// A collector node's publisher to the bus (nil in the other roles).
    public let busPublisher: FlowBusPublisher?
    /// A detector node's reader of its partitions (nil in the other roles).
    public let busConsumer: FlowBusConsumer?
}

/// Builds Mamori's server: the flow collector plus HTTP (`/healthz`, `/metrics`), as one
/// Hummingbird application whose service group handles SIGTERM/SIGINT.
///
/// ```swift
/// let (app, _) = try buildApplication(configuration: MamoriConfiguration())
/// try await app.runService()
/// ```
public func buildApplication(
    configuration: MamoriConfiguration,
    dependencies: ApplicationDependencies = .init()
) throws -> (some ApplicationProtocol, MamoriServices) {
    let factory = PrometheusMetricsFactory(registry: dependencies.prometheus)
    let clock = dependencies.clock
    var collectorConfiguration = configuration.collector
    if collectorConfiguration.templateFile == nil {
        collectorConfiguration.templateFile = configuration.templateFile
    }
    let statistics = FlowStatisticsSink()
    var logger = dependencies.logger
    logger.logLevel = configuration.logLevel

    // The data directory (0700) and every file in it (0600), whatever the umask; a key file
    // others can read is refused here, before anything is opened.
    do {
        let narrowed = try DataDirectory.prepare(
            configuration.dataDirectory, keyFiles: [configuration.pseudonymKeyFile, configuration.auditKeyFile])
        for n in narrowed {
            logger.warning(
                "data directory: made private (it was readable by others)", metadata: ["file": "\(n.path)", "old_mode": "\(n.oldMode)"])
        }
    } catch {
        throw ConfigurationError(line: nil, "data directory \(configuration.dataDirectory): \(error)", file: nil)
    }
    var storageLogger = logger
    storageLogger[metadataKey: "component"] = "storage"
    let storage = StorageHealth(logger: storageLogger, metricsFactory: factory)

    var detectionLogger = logger
    detectionLogger[metadataKey: "component"] = "detection"
    var detectionConfiguration = DetectionConfiguration(
        network: configuration.detection.network(), pseudonymKey: try pseudonymKey(path: configuration.pseudonymKeyFile))
    configuration.detection.thresholds.apply(to: &detectionConfiguration)
    detectionConfiguration.maximumPairs = configuration.detection.maximumPairs
    detectionConfiguration.maximumTableEntries = configuration.detection.maximumTableEntries
    if let path = configuration.detection.indicatorsFile {
        detectionConfiguration.indicators = try endpointList(path, "indicators_file", logger: detectionLogger)
    }
    if let path = configuration.detection.allowlistFile {
        detectionConfiguration.allowlist = try endpointList(path, "allowlist_file", logger: detectionLogger)
    }
    var attributionLogger = logger
    attributionLogger[metadataKey: "component"] = "attribution"
    if !configuration.attribution.radius.listen.isEmpty, let problem = configuration.attribution.radius.handler.problem {
        throw ConfigurationError(line: nil, "attribution.radius: \(problem)", file: nil)
    }
    let attribution = AttributionService(
        configuration: configuration.attribution.index, pseudonymKey: detectionConfiguration.pseudonymKey,
        retentionDays: configuration.attribution.retentionDays, logger: attributionLogger, metricsFactory: factory,
        snapshotPath: configuration.attributionSnapshotFile, natEventExporters: configuration.attribution.natEventExporters, clock: clock)
    if configuration.attribution.natEventExporters == nil {
        attributionLogger.notice(
            "attribution: no NAT event exporters configured (attribution.nat_event_exporters): IPFIX NAT events are taken from loopback only (127.0.0.0/8, ::1)"
        )
    } else {
        attributionLogger.info(
            "attribution: IPFIX NAT events taken from the configured exporters only",
            metadata: ["exporters": "\(attribution.natEventExporters.prefixes.map(\.description).joined(separator: " "))"])
    }
    if let path = configuration.attribution.staticAssignmentsFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError(line: nil, "attribution.static_assignments_file: cannot read \(path)", file: nil)
        }
        do {
            attribution.add(try StaticAssignment.parse(text[...]))
        } catch {
            throw ConfigurationError(line: nil, "attribution.static_assignments_file \(path): \(error)", file: nil)
        }
    }
    // The findings in PostgreSQL (storage.engine: postgresql): its pool is a service, started
    // first below so that it stops last; the schema is migrated when it starts.
    var postgresFindings: PostgresFindings?
    if dependencies.findingStore == nil, let postgres = try configuration.storage.postgresConfiguration() {
        do throws(PostgresStorageError) {
            postgresFindings = try PostgresFindings(configuration: postgres, observer: storage, logger: storageLogger)
        } catch {
            throw ConfigurationError(line: nil, "storage.url: \(error.message)", file: nil)
        }
        storageLogger.info(
            "findings in PostgreSQL; cases, consent, accounts and the audit log in \(configuration.dataDirectory)",
            metadata: ["postgres.url": "\(postgres)", "postgres.pool_size": "\(postgres.maximumConnections)"])
    }
    let store: any FindingStore =
        try dependencies.findingStore ?? postgresFindings ?? SQLiteFindingStore(path: configuration.findingsDatabase, observer: storage)
    let detection = DetectionService(
        configuration: detectionConfiguration, store: store, retentionDays: configuration.detection.retentionDays,
        logger: detectionLogger, metricsFactory: factory, workers: configuration.detection.workers,
        sheddingThreshold: configuration.detection.shedAfterBatches, evaluateOnFlowClock: configuration.detection.evaluateOnFlowClock,
        attribution: attribution,
        clock: clock)

    // The cluster role (cluster:, docs/cluster.md): a collector publishes what it decodes to the
    // bus instead of analysing it; a detector reads its partitions from the bus instead of
    // listening for exports. Both keep the rest of the server (API, console, stores).
    let role = configuration.cluster.role
    try configuration.cluster.validate()
    var busLogger = logger
    busLogger[metadataKey: "component"] = "bus"
    var nats: NATSConnectionService?
    var publisher: FlowBusPublisher?
    var busConsumer: FlowBusConsumer?
    if role != .all {
        let client = NATSClient(configuration: try configuration.cluster.natsConfiguration(), logger: busLogger)
        nats = NATSConnectionService(client: client, logger: busLogger)
        busLogger.info(
            "cluster: this node is a \(role.rawValue)",
            metadata: [
                "node": "\(configuration.cluster.node)",
                "nats": "\(configuration.cluster.servers.map(\.description).joined(separator: ","))",
            ])
    }
    if role == .collector, let nats {
        publisher = FlowBusPublisher(
            jetStream: JetStream(client: nats.client), settings: configuration.cluster.bus,
            routing: FlowBusRouting(
                partitions: configuration.cluster.bus.partitions, subjectPrefix: configuration.cluster.bus.subjectPrefix,
                network: detectionConfiguration.network),
            node: configuration.cluster.node, logger: busLogger, metricsFactory: factory)
    }
    let detects = configuration.detection.enabled && role != .collector
    if role == .detector, let nats {
        busConsumer = FlowBusConsumer(
            jetStream: JetStream(client: nats.client), settings: configuration.cluster.bus,
            partitions: configuration.cluster.ownedPartitions,
            sinks: [statistics, attribution] + (detects ? [detection] : []) + dependencies.extraSinks, logger: busLogger,
            metricsFactory: factory)
    }

    var collectorLogger = logger
    collectorLogger[metadataKey: "component"] = "collector"
    let collector = FlowCollector(
        configuration: collectorConfiguration,
        sinks: [statistics, attribution] + (detects ? [detection] : []) + (publisher.map { [$0] } ?? []) + dependencies.extraSinks,
        metricsFactory: factory,
        logger: collectorLogger
    )
    let startedAt = Date()
    var lawfulLogger = logger
    lawfulLogger[metadataKey: "component"] = "lawful"
    let lawful = try LawfulService(
        configuration: configuration, pseudonymKey: detectionConfiguration.pseudonymKey, logger: lawfulLogger, clock: clock,
        storage: storage)
    var accountsLogger = logger
    accountsLogger[metadataKey: "component"] = "accounts"
    let accountStore = try SQLiteAccountStore(path: configuration.accountsDatabase)
    let accounts = AccountService(
        store: accountStore, workflow: AccountWorkflow(hashing: dependencies.passwordHashing), audit: lawful.audit, clock: clock,
        logger: accountsLogger, secureCookies: configuration.operatorListenerIsHTTPS)
    let router = Router(context: MamoriRequestContext.self)
    let noticeHost = configuration.lawful.noticeBaseURL.flatMap { URL(string: $0)?.host }
    router.add(
        middleware: HTTPGuardMiddleware(
            allowedNames: configuration.httpAllowedHosts + [configuration.http.host] + [noticeHost].compactMap { $0 },
            strictTransportSecurity: configuration.operatorListenerIsHTTPS, metricsFactory: factory))
    router.add(middleware: OperatorAuthenticationMiddleware(accounts: accounts))
    let routes = Routes(router: router, table: RouteAccessTable())
    // The notice pages' own listener (http.public): they and a short /healthz, nothing else.
    let noticeRoutes = configuration.httpPublic.map { p in
        Routes.noticeListener(
            allowedNames: configuration.httpAllowedHosts + [p.listen.host] + [noticeHost].compactMap { $0 },
            strictTransportSecurity: configuration.noticeListenerTLS != nil || configuration.httpBehindTLSProxy, table: routes.table,
            metricsFactory: factory
        ) {
            HealthReport(
                storage: storage.failures, unstoredFindings: detection.unstoredCount, waitingAuditEntries: lawful.audit.deferredCount
            )
            .status
        }
    }
    routes.get("/healthz", .open) { _, _ -> Response in
        // HOST:PORT as in the configuration (SocketAddress's own description is "[IPv4]host/host:port").
        let listeners = collector.listeners.map { "\"\(FlowCollector.hostAndPort($0.address))\"" }.joined(separator: ",")
        let totals = statistics.total
        let health = HealthReport(
            storage: storage.failures, unstoredFindings: detection.unstoredCount,
            waitingAuditEntries: lawful.audit.deferredCount)
        let body =
            "{\"status\":\"\(health.status)\",\"role\":\"\(role.rawValue)\",\"uptime_seconds\":\(Int(Date().timeIntervalSince(startedAt))),\"listeners\":[\(listeners)],\"flow_records\":\(totals.records)\(detection.currentLoad.jsonField)\(health.jsonFields)}\n"
        // 200 also when degraded: the server is up, collecting and detecting; restarting it would
        // not free the disk. Alert on "status" or mamori_storage_failing.
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    // Readiness for a load balancer or an orchestrator: 503 while this node cannot do its part
    // (flow listeners not bound; a collector that cannot publish, a detector that cannot read).
    let (listenCount, busPublisher, consumer) = (collectorConfiguration.listen.count, publisher, busConsumer)
    let readinessReasons: @Sendable () async -> [String] = {
        var reasons: [String] = []
        // At least one listener: a configured IPv6 listener on a host without IPv6 is skipped
        // (logged), and the node still collects on the others.
        if role != .detector && listenCount > 0 && collector.listeners.isEmpty {
            reasons.append("flow listeners not bound yet")
        }
        if let busPublisher, let reason = await busPublisher.notReadyReason() { reasons.append(reason) }
        if let consumer, let reason = await consumer.notReadyReason() { reasons.append(reason) }
        return reasons
    }
    routes.get("/readyz", .open) { _, _ -> Response in
        let reasons = await readinessReasons()
        struct Readiness: Encodable {
            var ready: Bool
            var role: String
            var reasons: [String]
        }
        let body = (try? JSONEncoder().encode(Readiness(ready: reasons.isEmpty, role: role.rawValue, reasons: reasons))) ?? Data("{}".utf8)
        return Response(
            status: reasons.isEmpty ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body + Data("\n".utf8))))
    }
    let registry = dependencies.prometheus
    routes.get("/metrics", configuration.metricsOpen ? .open : .permission(.readMetrics)) { _, _ -> Response in
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16_384)
        registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
    // The API's description, written by hand beside the routes; OpenAPIDocumentTests keep it true.
    let openAPI = Bundle.module.url(forResource: "openapi", withExtension: "json").flatMap { try? Data(contentsOf: $0) } ?? Data("{}".utf8)
    routes.get("/api/v1/openapi.json", .open) { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
    }
    let invalidRequests = Counter(label: "mamori_api_invalid_requests_total", factory: factory)
    FindingsAPI(detection: detection, invalidRequests: invalidRequests, clock: clock).register(on: routes)
    AccountsAPI(accounts: accounts, invalidRequests: invalidRequests).register(on: routes)
    LawfulAPI(lawful: lawful, invalidRequests: invalidRequests, clock: clock).register(on: routes)
    let revealAudit: (any IdentityRevealAudit)? = configuration.attribution.revealEnabled ? AuditLogRevealAudit(audit: lawful.audit) : nil
    var mailer = dependencies.noticeMailer
    if mailer == nil, let smtp = configuration.lawful.smtp {
        var smtpLogger = logger
        smtpLogger[metadataKey: "component"] = "smtp"
        mailer = try SMTPNoticeMailer(settings: smtp, logger: smtpLogger)
    }
    let caseService = CaseService(
        lawful: lawful, cases: try SQLiteCaseStore(path: configuration.casesDatabase, observer: storage), mailer: mailer,
        from: configuration.lawful.smtp?.from ?? "security@localhost",
        baseURL: configuration.lawful.noticeBaseURL ?? configuration.defaultNoticeBaseURL,
        retentionDays: configuration.lawful.caseRetentionDays, logger: lawfulLogger, metricsFactory: factory, clock: clock,
        formTokens: NoticeFormTokens(pseudonymKey: detectionConfiguration.pseudonymKey))
    detection.onFindings { caseService.submit($0) }
    var sinkhole: SinkholeService?
    if configuration.sinkhole.enabled {
        var sinkholeLogger = logger
        sinkholeLogger[metadataKey: "component"] = "sinkhole"
        let service = try SinkholeService(
            settings: configuration.sinkhole, stateFile: configuration.sinkholeStateFile, lawful: lawful, attribution: attribution,
            protectedPrefixes: detectionConfiguration.allowlist.entries.filter { $0.port == nil }.map(\.prefix), clock: clock,
            logger: sinkholeLogger, metricsFactory: factory)
        detection.onFindings { await service.consider($0) }
        detection.onVerdict { await service.verdict($0, $1) }
        lawful.onConsentChange { await service.refreshExemptions() }
        SinkholeAPI(sinkhole: service, invalidRequests: invalidRequests, clock: clock).register(on: routes)
        sinkhole = service
    }
    var mitigation: MitigationService?
    if configuration.bgp.enabled {
        var bgpLogger = logger
        bgpLogger[metadataKey: "component"] = "mitigation"
        let service = try MitigationService(
            settings: configuration.bgp, stateFile: configuration.mitigationStateFile, lawful: lawful, clock: clock, logger: bgpLogger,
            metricsFactory: factory)
        detection.onFindings { service.handle($0) }
        BGPAPI(mitigation: service, invalidRequests: invalidRequests, clock: clock).register(on: routes)
        mitigation = service
    } else {
        BGPAPI.registerUnconfigured(on: routes)
    }
    var taxii: TAXIIService?
    if let settings = configuration.sharing.taxii {
        var taxiiLogger = logger
        taxiiLogger[metadataKey: "component"] = "taxii"
        let store: any TAXIIObjectStore
        do {
            store = try dependencies.taxiiStore ?? SQLiteTAXIIObjectStore(path: configuration.taxiiDatabase)
        } catch {
            throw ConfigurationError(line: nil, "sharing.taxii: cannot open \(configuration.taxiiDatabase): \(error)", file: nil)
        }
        let service = try TAXIIService(settings: settings, store: store, clock: clock, logger: taxiiLogger, metricsFactory: factory)
        var sharingRoutes = routes
        sharingRoutes.basicAuthentication = { basic, client in await accounts.authenticate(basic: basic, client: client) }
        TAXIIAPI(service: service, secure: configuration.operatorListenerIsHTTPS).register(on: sharingRoutes)
        taxiiLogger.info(
            "taxii: serving collections",
            metadata: [
                "taxii.api_root": "/\(settings.apiRoot)/",
                "taxii.collections":
                    "\(settings.collections.map { "\($0.alias ?? $0.id) (\(service.count(collection: $0.id)))" }.joined(separator: ", "))",
                "taxii.scheme": "\(configuration.operatorListenerIsHTTPS ? "https" : "http")",
            ])
        taxii = service
    }
    var exporter: IndicatorExporter?
    if let export = configuration.sharing.export {
        guard let taxii else {
            throw ConfigurationError(line: nil, "sharing.export publishes to the TAXII server: configure sharing.taxii with its collection")
        }
        var exportLogger = logger
        exportLogger[metadataKey: "component"] = "sharing"
        let d = configuration.detection
        let sharingGuard = SharingGuard(
            configuration: .init(
                subscriberPrefixes: PrefixSet(d.subscriberPrefixes),
                cgnatPools: d.cgnatPools.map { SharingGuard.CGNATPool(prefix: $0.prefix, ports: $0.firstPort...65535) },
                ceiling: TLP(label: export.tlp) ?? .amber))
        let service = try IndicatorExporter(
            settings: export, guard: sharingGuard, taxii: taxii, pushPeers: configuration.sharing.peers.filter(\.push),
            dataDirectory: configuration.dataDirectory, clock: clock,
            logger: exportLogger, metricsFactory: factory)
        detection.onVerdict { finding, verdict in await service.verdict(finding, verdict) }
        exporter = service
    }
    // Always there: it also takes STIX bundles from files (`mamori share import`).
    var sharingLogger = logger
    sharingLogger[metadataKey: "component"] = "sharing"
    let sharing = SharingService(
        peers: configuration.sharing.peers, mispFeeds: configuration.sharing.mispFeeds, detection: detection, sinkhole: sinkhole,
        sinkholeSettings: configuration.sharing.sinkhole,
        dataDirectory: configuration.dataDirectory, clock: clock, logger: sharingLogger, metricsFactory: factory)
    SharingAPI(sharing: sharing, exporter: exporter, detection: detection, clock: clock, invalidRequests: invalidRequests)
        .register(on: routes)
    var resolverLog: ResolverLogService?
    if configuration.dnstap.enabled || (sinkhole != nil && !configuration.sinkhole.listener.isEmpty) {
        var dnstapLogger = logger
        dnstapLogger[metadataKey: "component"] = "dnstap"
        resolverLog = ResolverLogService(
            settings: configuration.dnstap, sinkhole: sinkhole, detection: detection, pseudonymKey: detectionConfiguration.pseudonymKey,
            clock: clock, logger: dnstapLogger, metricsFactory: factory)
    }
    var reportsLogger = logger
    reportsLogger[metadataKey: "component"] = "reports"
    let reports = try ReportService(
        settings: configuration.reports, detection: configuration.detection, attribution: attribution, cases: caseService,
        store: try SQLiteReportStore(path: configuration.reportsDatabase), logger: reportsLogger, metricsFactory: factory, clock: clock)
    ReportsAPI(reports: reports, invalidRequests: invalidRequests).register(on: routes)
    var mailbox: MaildirFollower?
    if let path = configuration.reports.maildir {
        var settings = MaildirFollower.Configuration(path: path)
        settings.pollInterval = .seconds(configuration.reports.maildirPollSeconds)
        settings.maxMessageBytes = configuration.reports.maxFileMiB << 20
        mailbox = MaildirFollower(configuration: settings, logger: reportsLogger, metricsFactory: factory) { bytes, name in
            await reports.ingest(bytes, fileName: name + ".eml").error
        }
    }
    var fraud: FraudService?
    if configuration.telephony.enabled {
        var fraudLogger = logger
        fraudLogger[metadataKey: "component"] = "telephony"
        let service = try FraudService(
            settings: configuration.telephony, store: try SQLiteFraudStore(path: configuration.fraudDatabase), audit: lawful.audit,
            publisher: try dependencies.blockPublisher
                ?? configuration.telephony.kamailioRPC.map { rpc in
                    try KamailioBlockPublisher(
                        tablesDirectory: configuration.telephony.kamailioTables ?? "", rpcURL: rpc, logger: fraudLogger,
                        metricsFactory: factory)
                }, positionsFile: configuration.dataDirectory + "/cdr-positions.json", clock: clock,
            logger: fraudLogger,
            metricsFactory: factory)
        FraudAPI(fraud: service, invalidRequests: invalidRequests).register(on: routes)
        lawful.onSweep { service.sweep() }
        fraud = service
    } else {
        FraudAPI.registerUnconfigured(on: routes)
    }
    lawful.onSweep { await caseService.sweep() }
    lawful.onSweep { reports.sweep() }
    let caseAPI = CaseAPI(cases: caseService, invalidRequests: invalidRequests)
    caseAPI.register(on: routes)
    caseAPI.registerNoticePages(on: noticeRoutes ?? routes)
    AttributionAPI(attribution: attribution, invalidRequests: invalidRequests, clock: clock, revealAudit: revealAudit).register(on: routes)
    let consoleHistory = ConsoleHistory(registry: dependencies.prometheus, clock: clock)
    var consoleLogger = logger
    consoleLogger[metadataKey: "component"] = "console"
    var consoleRoutes = ConsoleRoutes(
        renderer: try ConsoleRenderer(), detection: detection, cases: caseService, lawful: lawful, attribution: attribution,
        revealAudit: revealAudit, accounts: accounts, history: consoleHistory,
        health: {
            HealthReport(
                storage: storage.failures, unstoredFindings: detection.unstoredCount, waitingAuditEntries: lawful.audit.deferredCount
            )
            .status
        }, settings: configuration.effectiveDescription, clock: clock, logger: consoleLogger
    )
    consoleRoutes.sinkhole = sinkhole
    consoleRoutes.mitigation = mitigation
    consoleRoutes.sharing = sharing
    consoleRoutes.reports = reports
    consoleRoutes.fraud = fraud
    consoleRoutes.register(on: routes)
    let listeners = HTTPListeners()
    var app = Application(
        router: router, server: try configuration.httpTLS?.server(context: "http.tls") ?? .http1(),
        configuration: .init(address: .hostname(configuration.http.host, port: configuration.http.port), serverName: "mamori"),
        onServerRunning: { listeners.bound(.operators, $0) }, logger: logger
    )
    // Shut down in reverse order: the collector drains its queue into the detectors first, then
    // the detection service analyses what is left and stores the last findings, then the
    // case workflow works off its inbox, then the attribution index is written to its snapshot and
    // the audit log closed.
    var radius: RADIUSAccountingServer?
    if !configuration.attribution.radius.listen.isEmpty {
        var radiusLogger = logger
        radiusLogger[metadataKey: "component"] = "radius"
        radius = RADIUSAccountingServer(configuration: configuration.attribution.radius, logger: radiusLogger, metricsFactory: factory) {
            record, nas, at in
            attribution.accounting(record, from: nas, receivedAt: at)
        }
    }
    // The PostgreSQL pool first, so that it stops last: after the detection service has stored
    // its last findings, and after every service and route that reads them has stopped.
    if let postgresFindings { app.addServices(postgresFindings) }
    app.addServices(lawful, attribution, caseService, consoleHistory)
    if let radius { app.addServices(radius) }
    if let sinkhole { app.addServices(sinkhole) }
    if let mitigation { app.addServices(mitigation) }
    app.addServices(sharing)
    if let mailbox { app.addServices(mailbox) }
    if let fraud { app.addServices(fraud) }
    if let exporter { app.addServices(exporter) }
    if !configuration.attribution.syslog.listen.isEmpty {
        var syslogLogger = logger
        syslogLogger[metadataKey: "component"] = "syslog"
        app.addServices(
            SyslogListener(configuration: configuration.attribution.syslog, logger: syslogLogger, metricsFactory: factory) {
                attribution.portBlock($0)
            })
    }
    if !configuration.attribution.files.files.isEmpty {
        var fileLogger = logger
        fileLogger[metadataKey: "component"] = "identity-files"
        app.addServices(
            IdentityFileFollower(
                configuration: configuration.attribution.files,
                handlers: .init(
                    accounting: { attribution.accounting($0, from: $1, receivedAt: $2) }, lease4: { attribution.lease4($0) },
                    lease6: { attribution.lease6($0) }, portBlock: { attribution.portBlock($0) }),
                logger: fileLogger, metricsFactory: factory))
    }
    // The bus's connection stops after everything that publishes to it or reads from it.
    if let nats {
        app.addServices(nats)
        // `mamori cluster status` asks every node over NATS.
        let node = configuration.cluster.node
        let owned = role == .detector ? configuration.cluster.ownedPartitions : []
        app.addServices(
            ClusterStatusResponder(client: nats.client, settings: configuration.cluster.bus, logger: busLogger) {
                let reasons = await readinessReasons()
                let health = HealthReport(
                    storage: storage.failures, unstoredFindings: detection.unstoredCount, waitingAuditEntries: lawful.audit.deferredCount)
                return NodeStatus(
                    node: node, role: role.rawValue, partitions: owned, ready: reasons.isEmpty, reasons: reasons, storage: health.status,
                    flowRecords: Int(statistics.total.records), uptimeSeconds: Int(Date().timeIntervalSince(startedAt)))
            })
    }
    if let publisher { app.addServices(publisher) }
    // Collect-only (detection.enabled: false) or a collector node: the detectors' loop is not even started.
    if detects { app.addServices(detection) }
    // Stops before the detection service it reports to.
    if let resolverLog { app.addServices(resolverLog) }
    // A detector node reads the bus where another node listens for exports.
    if let busConsumer {
        app.addServices(busConsumer)
    } else {
        app.addServices(collector)
    }
    // Last in, first out: the notice pages stop taking forms together with the operator listener,
    // before the case workflow and the audit log they write to.
    if let noticeRoutes, let p = configuration.httpPublic {
        var noticeLogger = logger
        noticeLogger[metadataKey: "component"] = "notice-listener"
        app.addServices(
            Application(
                router: noticeRoutes.router,
                server: try configuration.noticeListenerTLS?.server(context: p.tls != nil ? "http.public.tls" : "http.tls") ?? .http1(),
                configuration: .init(address: .hostname(p.listen.host, port: p.listen.port), serverName: "mamori"),
                onServerRunning: { listeners.bound(.notices, $0) }, logger: noticeLogger))
    }
    let noticeListenerRoutes = noticeRoutes?.router.routes.map { "\($0.method.rawValue) \($0.path.description)" } ?? []
    return (
        app,
        MamoriServices(
            collector: collector, statistics: statistics, detection: detection, attribution: attribution, radius: radius, lawful: lawful,
            cases: caseService, storage: storage, accountStore: accountStore, sinkhole: sinkhole, resolverLog: resolverLog,
            mitigation: mitigation, taxii: taxii, sharing: sharing, exporter: exporter, reports: reports, fraud: fraud,
            routeAccess: routes.table,
            registeredRoutes: Array(Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" } + noticeListenerRoutes)),
            noticeListenerRoutes: noticeListenerRoutes, http: listeners, role: role, busPublisher: publisher, busConsumer: busConsumer)
    )
}

/// The pseudonym key in the data directory, created (32 random bytes, mode 0600) on first start.
func pseudonymKey(path: String) throws -> [UInt8] {
    do {
        return try KeyFile.loadOrCreate(path: path, format: .raw)
    } catch {
        throw ConfigurationError(line: nil, "pseudonym key: \(error)", file: nil)
    }
}

/// Reads an indicator or allowlist file; bad lines are logged and skipped, a missing file refused.
func endpointList(_ path: String, _ key: String, logger: Logger) throws -> EndpointList {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ConfigurationError(line: nil, "detection.\(key): cannot read \(path)", file: nil)
    }
    let (list, errors) = EndpointList.parse(text)
    for e in errors { logger.warning("skipped a line of \(key)", metadata: ["file": "\(path)", "problem": "\(e)"]) }
    return list
}
