import Collector
import FlowCodec
import Logging
import MamoriCore

/// Everything `mamori serve` can be told, with defaults that work on one machine.
///
/// Written as YAML (see `mamori.example.yaml`); every key is optional.
public struct MamoriConfiguration: Sendable {
    /// Where Mamori keeps state (templates now; findings and audit later).
    public var dataDirectory: String = "mamori-data"
    public var logLevel: Logger.Level = .info
    /// HTTP endpoint for /healthz and /metrics.
    public var http: SocketEndpoint = SocketEndpoint(host: "127.0.0.1", port: 8080)
    /// DNS names the HTTP listener answers for (`http.allowed_hosts`), besides IP literals,
    /// `localhost` and the host of `lawful.notice_base_url`: a request naming any other host is
    /// refused (DNS rebinding).
    public var httpAllowedHosts: [String] = []
    /// Whether `GET /metrics` answers without credentials (`http.metrics_open`, default true, for
    /// Prometheus scrapers on a management network); false asks for an operator token with
    /// `read_metrics`.
    public var metricsOpen = true
    /// HTTPS on the HTTP listener (`http.tls`): certificate chain and key, PEM. nil = plain HTTP.
    public var httpTLS: TLSFiles?
    /// TLS is terminated by a reverse proxy in front of Mamori (`http.behind_tls_proxy`): the
    /// session cookie is marked Secure and HSTS is sent, as when Mamori serves HTTPS itself.
    public var httpBehindTLSProxy = false
    /// A listener of its own for the subscribers' notice pages (`http.public`); nil = the HTTP
    /// listener serves them beside the API.
    public var httpPublic: PublicListenerSettings?
    public var collector: FlowCollector.Configuration = .init()
    public var detection = DetectionSettings()
    public var attribution = AttributionSettings()
    public var lawful = LawfulSettings()
    /// The DNS sinkhole (`sinkhole:`); off unless the section is present.
    public var sinkhole = SinkholeSettings()
    /// The resolvers' query log (`dnstap:`); off unless the section is present.
    public var dnstap = DnstapSettings()
    /// The BGP speaker and its mitigations (`bgp:`); off unless the section is present.
    public var bgp = BGPSettings()
    /// Sharing with other carriers (`sharing:`): the TAXII 2.1 server, off unless configured.
    public var sharing = SharingSettings()
    /// Reports from outside (`reports:`): the carrier's own feed mappings and intake limits.
    public var reports = ReportsSettings()
    /// IP-phone fraud (`telephony:`): call-record feeds, detection, block rules, Kamailio.
    public var telephony = TelephonySettings()
    /// Where the findings are kept (`storage:`): SQLite in the data directory, or PostgreSQL.
    public var storage = StorageSettings()
    /// This node's role in a cluster (`cluster:`): all in one process (the default), a collector
    /// publishing to NATS JetStream, or a detector reading its partitions from it.
    public var cluster = ClusterSettings()

    public init() {}

    /// Template file inside the data directory.
    public var templateFile: String { dataDirectory + "/templates.json" }
    /// Findings database inside the data directory (unless `storage.engine` is postgresql).
    public var findingsDatabase: String { dataDirectory + "/findings.sqlite" }
    /// The attribution index kept across restarts (mode 0600; holds subscriber identifiers).
    public var attributionSnapshotFile: String { dataDirectory + "/attribution.snapshot" }
    /// The hash-chained audit log (segments and HEAD, mode 0600).
    public var auditDirectory: String { dataDirectory + "/audit" }
    /// The audit log's key (created on first start, mode 0600) unless `lawful.audit_key_file` names one.
    public var auditKeyFile: String { lawful.auditKeyFile ?? dataDirectory + "/audit.key" }
    /// Cases and notice-page token digests.
    public var casesDatabase: String { dataDirectory + "/cases.sqlite" }
    /// Reports taken (their keys) and those nobody could be found for.
    public var reportsDatabase: String { dataDirectory + "/reports.sqlite" }
    public var fraudDatabase: String { dataDirectory + "/fraud.sqlite" }
    /// Operator accounts, sessions and machine tokens (`mamori user`, `mamori token`).
    public var accountsDatabase: String { dataDirectory + "/accounts.sqlite" }
    /// The consent registry and subscriber contacts.
    public var consentDatabase: String { dataDirectory + "/consent.sqlite" }
    /// The sinkhole's entries and the zones' serials (C&C names and addresses; no subscriber data).
    public var sinkholeStateFile: String { dataDirectory + "/sinkhole.json" }
    /// The mitigation rules announced or waiting (prefixes and finding ids; no subscriber data).
    public var mitigationStateFile: String { dataDirectory + "/mitigations.json" }
    /// The TAXII server's shared objects and status resources (indicators for peers; no subscriber data).
    public var taxiiDatabase: String { dataDirectory + "/taxii.sqlite" }
    /// Key of the pseudonyms in evidence (created on first start, mode 0600).
    public var pseudonymKeyFile: String { dataDirectory + "/pseudonym.key" }
}

/// A configuration problem, with the line it was found on.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var line: Int?
    public var reason: String
    public var file: String?

    public init(line: Int?, _ reason: String, file: String? = nil) {
        self.line = line
        self.reason = reason
        self.file = file
    }

    public var description: String {
        let place = [file, line.map { "line \($0)" }].compactMap { $0 }.joined(separator: ", ")
        return place.isEmpty ? reason : "\(place): \(reason)"
    }
}
