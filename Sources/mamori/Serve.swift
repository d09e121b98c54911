import Accounts
import ArgumentParser
import Collector
import FlowCodec
import Foundation
import Hummingbird
import IdentityListeners
import Logging
import MamoriCore
import Metrics
import Prometheus
import Server

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the collector and the HTTP endpoints until SIGTERM or SIGINT.",
        discussion: """
            With no configuration file Mamori listens for flow exports on UDP 2055 (NetFlow), 4739 \
            (IPFIX) and 6343 (sFlow), on IPv4 and IPv6 — any protocol is accepted on any port — and \
            serves /healthz and Prometheus /metrics on http://127.0.0.1:8080. Templates are kept in \
            the data directory so that a restart does not lose them.

            Attribution (which subscriber held an address): IPFIX NAT events arriving with the flows             are used when they come from a listed exporter (--nat-event-exporter, attribution.nat_event_exporters; loopback only when none is listed), syslog likewise (--syslog-sender); --radius makes Mamori a RADIUS accounting server for NASes on this             machine, and --kea-leases4/6, --radius-detail and --nat-syslog follow identity files.             Remote NASes, secrets, deterministic CGNAT pools and static assignments go in the             configuration file (attribution:, see mamori.example.yaml and docs/attribution.md).

            Examples:
              mamori serve
              mamori serve --config /etc/mamori/mamori.yaml
              mamori serve --listen 127.0.0.1:9995 --http 127.0.0.1:9080 --data-dir /tmp/m
              mamori serve --config /etc/mamori/mamori.yaml --role collector --node collector-1
              mamori serve --radius 127.0.0.1:1813 --radius-secret "$(cat /etc/mamori/radius.secret)" --kea-leases4 /var/lib/kea/kea-leases4.csv
            """
    )

    @Option(name: .shortAndLong, help: "YAML configuration file (see mamori.example.yaml).")
    var config: String?

    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp("UDP HOST:PORT to listen on; repeat for several. Replaces the configured list.", valueName: "host:port"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("HTTP HOST:PORT for /healthz and /metrics.", valueName: "host:port"))
    var http: String?

    @Option(help: "Directory for persistent state (templates).")
    var dataDir: String?

    @Option(help: "Requested UDP socket receive buffer in bytes (capped by net.core.rmem_max).")
    var rcvbuf: Int?

    @Option(
        help: ArgumentHelp(
            "Diagnostic: also write every decoded record to this file as JSON lines. Persists raw flows — for tests and troubleshooting only.",
            valueName: "file"))
    var dumpFlows: String?

    @Option(help: ArgumentHelp("Write totals (records, bytes, packets per exporter) to this JSON file at shutdown.", valueName: "file"))
    var statsFile: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(
        help: ArgumentHelp(
            "Also be a RADIUS accounting server on this UDP HOST:PORT (RFC 2866), for NASes on this machine (127.0.0.0/8, ::1) with --radius-secret. Remote NASes and their secrets go in the configuration file (attribution.radius).",
            valueName: "host:port"))
    var radius: String?

    @Option(help: ArgumentHelp("Shared secret of the local NASes for --radius (at least 16 characters).", valueName: "secret"))
    var radiusSecret: String?

    @Flag(help: "With --radius: refuse accounting requests without a valid Message-Authenticator (RFC 3579 §3.2).")
    var radiusRequireMessageAuthenticator = false

    @Option(help: ArgumentHelp("Follow an ISC Kea DHCPv4 lease file (memfile CSV) for attribution (repeatable).", valueName: "file"))
    var keaLeases4: [String] = []
    @Option(help: ArgumentHelp("Follow a Kea DHCPv6 lease file (repeatable).", valueName: "file"))
    var keaLeases6: [String] = []
    @Option(help: ArgumentHelp("Follow a FreeRADIUS detail file (repeatable).", valueName: "file"))
    var radiusDetail: [String] = []
    @Option(help: ArgumentHelp("Follow a CGNAT port-block syslog file (repeatable).", valueName: "file"))
    var natSyslog: [String] = []
    @Option(help: ArgumentHelp("Receive CGNAT port-block syslog (RFC 5424 over UDP) on HOST:PORT (repeatable).", valueName: "host:port"))
    var syslog: [String] = []
    @Option(
        help: ArgumentHelp(
            "Take --syslog messages only from this address or prefix (repeatable; replaces attribution.syslog_senders). Default: loopback only.",
            valueName: "prefix"))
    var syslogSender: [String] = []
    @Option(
        help: ArgumentHelp(
            "Take IPFIX NAT events only from this exporter address or prefix (repeatable; replaces attribution.nat_event_exporters). Default: loopback only.",
            valueName: "prefix"))
    var natEventExporter: [String] = []

    @Flag(
        help:
            "Collect only: decode and count flows (and take CGNAT events for attribution) without analysing them. Same as detection.enabled: false; for a collector-only node or measuring the collector alone."
    )
    var noDetection = false

    @Option(
        help: ArgumentHelp(
            "This node's part in a cluster: all (collector and detectors in one process, the default), collector (decode flow exports and publish them to NATS JetStream, partitioned by subscriber host) or detector (analyse the partitions it owns from the bus). Replaces cluster.role; the NATS servers come from cluster.nats (docs/cluster.md).",
            valueName: "all|collector|detector"))
    var role: String?

    @Option(help: ArgumentHelp("This node's name in a cluster (replaces cluster.node; default: the host name).", valueName: "name"))
    var node: String?

    func validate() throws {
        if let role, ClusterSettings.Role(rawValue: role) == nil {
            throw ValidationError("--role must be all, collector or detector; got '\(role)'")
        }
        if let node, !ClusterSettings.isValidNodeName(node) {
            throw ValidationError("--node must be 1–64 letters, digits, '-' or '_'; got '\(node)'")
        }
        if (radius == nil) != (radiusSecret == nil) { throw ValidationError("--radius and --radius-secret go together") }
        if let radiusSecret, radiusSecret.utf8.count < RADIUSAccountingHandler.minimumSecretLength {
            throw ValidationError(
                "--radius-secret has \(radiusSecret.utf8.count) characters; RADIUS shared secrets must have at least "
                    + "\(RADIUSAccountingHandler.minimumSecretLength) (use a long random one, e.g. openssl rand -base64 24)")
        }
        if radiusRequireMessageAuthenticator && radius == nil {
            throw ValidationError("--radius-require-message-authenticator goes with --radius")
        }
        for p in syslogSender + natEventExporter where IPPrefix(p) == nil {
            throw ValidationError("'\(p)' is not an address or prefix like 192.0.2.1 or 192.0.2.0/24")
        }
    }

    func run() async throws {
        var configuration: MamoriConfiguration
        do {
            configuration = try config.map { try MamoriConfiguration.load(path: $0) } ?? MamoriConfiguration()
        } catch {
            // A bad file is an operator's mistake, not a usage error: say where, exit with EX_CONFIG.
            FileHandle.standardError.write(Data("mamori: configuration refused: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if !listen.isEmpty {
            configuration.collector.listen = try listen.map { text in
                do { return try SocketEndpoint(parsing: text) } catch { throw ValidationError("--listen \(error)") }
            }
        }
        if let http {
            do { configuration.http = try SocketEndpoint(parsing: http) } catch { throw ValidationError("--http \(error)") }
        }
        if let dataDir { configuration.dataDirectory = dataDir }
        configuration.attribution.files.files +=
            keaLeases4.map { .init(path: $0, kind: .keaLeases4) } + keaLeases6.map { .init(path: $0, kind: .keaLeases6) }
            + radiusDetail.map { .init(path: $0, kind: .radiusDetail) } + natSyslog.map { .init(path: $0, kind: .natSyslog) }
        for text in syslog {
            do { configuration.attribution.syslog.listen.append(try SocketEndpoint(parsing: text)) } catch {
                throw ValidationError("--syslog \(error)")
            }
        }
        if !syslogSender.isEmpty { configuration.attribution.syslog.senders = syslogSender.compactMap { IPPrefix($0) } }
        if !natEventExporter.isEmpty { configuration.attribution.natEventExporters = natEventExporter.compactMap { IPPrefix($0) } }
        if let radius, let radiusSecret {
            do { configuration.attribution.radius.listen = [try SocketEndpoint(parsing: radius)] } catch {
                throw ValidationError("--radius \(error)")
            }
            let secret = Array(radiusSecret.utf8)
            let require: Bool? = radiusRequireMessageAuthenticator ? true : nil
            configuration.attribution.radius.handler.clients += [
                .init(prefix: IPPrefix("127.0.0.0/8")!, secret: secret, requireMessageAuthenticator: require),
                .init(prefix: IPPrefix("::1/128")!, secret: secret, requireMessageAuthenticator: require),
            ]
        }
        if let rcvbuf { configuration.collector.receiveBufferBytes = rcvbuf }
        if noDetection { configuration.detection.enabled = false }
        if let role, let r = ClusterSettings.Role(rawValue: role) { configuration.cluster.role = r }
        if let node { configuration.cluster.node = node }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
            configuration.logLevel = level
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: "mamori")
        logger.logLevel = level

        var sinks: [any FlowSink] = []
        if let dumpFlows {
            sinks.append(try JSONLinesFlowDumpSink(path: dumpFlows))
            logger.warning(
                "writing every decoded flow record to a file (--dump-flows): diagnostic use only", metadata: ["file": "\(dumpFlows)"])
        }
        // Whatever another module writes (templates, the attribution snapshot) is private too; the
        // stores set 0600/0700 explicitly anyway. buildApplication creates and checks the data directory.
        umask(0o077)
        let (app, services) = try buildApplication(
            configuration: configuration,
            dependencies: ApplicationDependencies(prometheus: registry, extraSinks: sinks, logger: logger)
        )
        logger.info(
            "mamori starting",
            metadata: [
                "collector.listen":
                    "\(configuration.cluster.role == .detector ? "none (a detector reads the bus)" : configuration.collector.listen.map(\.description).joined(separator: " "))",
                "http": "\(configuration.httpScheme)://\(configuration.http)", "data_directory": "\(configuration.dataDirectory)",
                "role": "\(configuration.cluster.role.rawValue)",
            ]
        )
        if !configuration.detection.enabled {
            logger.notice("detection is off (detection.enabled: false or --no-detection): flows are collected and counted, not analysed")
        } else if configuration.detection.usesDemoNetwork {
            logger.warning(
                "detection uses the simulator's demo address plan: set detection.subscriber_prefixes (and cgnat_pools) for a real network",
                metadata: ["subscriber_prefixes": "\(configuration.detection.subscriberPrefixes.map(\.description).joined(separator: " "))"]
            )
        }
        logger.info("findings: \(configuration.httpScheme)://\(configuration.http)/api/v1/findings (an operator's session or token)")
        // No default password, ever: the first admin is made by whoever can read the data directory.
        if (try? await services.accountStore.accounts().isEmpty) ?? false {
            logger.notice(
                """
                no operator account yet: the API answers 401 to everything but /healthz, /metrics and the notice pages. \
                Stop the server and create the first admin (the password is asked, never taken from the command line): \
                mamori user add NAME --role admin --data-dir \(configuration.dataDirectory); \
                for scripts, mamori token create NAME --scope read_findings --expires 30d --created-by NAME --data-dir \(configuration.dataDirectory)
                """)
        }
        try await app.runService()
        if let statsFile {
            let stats = StatsFile(total: services.statistics.total, perExporter: services.statistics.perExporter)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(stats).write(to: URL(fileURLWithPath: statsFile))
        }
        let total = services.statistics.total
        logger.info(
            "mamori stopped", metadata: ["flow_records": "\(total.records)", "bytes": "\(total.bytes)", "packets": "\(total.packets)"])
    }
}

/// Totals written by `--stats-file`.
struct StatsFile: Codable {
    var total: FlowStatisticsSink.Totals
    var perExporter: [String: FlowStatisticsSink.Totals]
}
