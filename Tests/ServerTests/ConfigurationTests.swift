import Attribution
import Collector
import Detection
import FlowCodec
import Foundation
import IdentityListeners
import Logging
import MamoriCore
import MamoriTesting
import Server
import Testing

/// MamoriConfiguration.parse(yaml:) and the documented example file.
@Suite
struct ConfigurationTests {

    /// Every field of two configurations, compared one by one (the types are not Equatable).
    func expectSame(
        _ a: MamoriConfiguration, _ b: MamoriConfiguration, ignoringSamplingOverrides: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(a.dataDirectory == b.dataDirectory, sourceLocation: sourceLocation)
        #expect(a.logLevel == b.logLevel, sourceLocation: sourceLocation)
        #expect(a.http == b.http, sourceLocation: sourceLocation)
        #expect(a.httpAllowedHosts == b.httpAllowedHosts, sourceLocation: sourceLocation)
        #expect(a.metricsOpen == b.metricsOpen, sourceLocation: sourceLocation)
        #expect(a.lawful.policyFile == b.lawful.policyFile, sourceLocation: sourceLocation)
        #expect(a.lawful.policy == b.lawful.policy, sourceLocation: sourceLocation)
        #expect(a.lawful.auditKeyFile == b.lawful.auditKeyFile, sourceLocation: sourceLocation)
        #expect(a.lawful.auditSegmentEntries == b.lawful.auditSegmentEntries, sourceLocation: sourceLocation)
        #expect(a.lawful.auditRetentionDays == b.lawful.auditRetentionDays, sourceLocation: sourceLocation)
        #expect(a.lawful.caseRetentionDays == b.lawful.caseRetentionDays, sourceLocation: sourceLocation)
        #expect(a.lawful.smtp == b.lawful.smtp, sourceLocation: sourceLocation)
        #expect(a.lawful.noticeBaseURL == b.lawful.noticeBaseURL, sourceLocation: sourceLocation)
        #expect(a.collector.listen == b.collector.listen, sourceLocation: sourceLocation)
        #expect(a.collector.receiveBufferBytes == b.collector.receiveBufferBytes, sourceLocation: sourceLocation)
        #expect(a.collector.maxDatagramBytes == b.collector.maxDatagramBytes, sourceLocation: sourceLocation)
        #expect(a.collector.datagramsPerRead == b.collector.datagramsPerRead, sourceLocation: sourceLocation)
        #expect(a.collector.queueCapacity == b.collector.queueCapacity, sourceLocation: sourceLocation)
        #expect(a.collector.templateFile == b.collector.templateFile, sourceLocation: sourceLocation)
        #expect(a.collector.templatePersistIntervalSeconds == b.collector.templatePersistIntervalSeconds, sourceLocation: sourceLocation)
        #expect(a.collector.errorLogIntervalSeconds == b.collector.errorLogIntervalSeconds, sourceLocation: sourceLocation)
        var da = a.collector.decoder
        var db = b.collector.decoder
        if ignoringSamplingOverrides {
            da.samplingOverrides = [:]
            db.samplingOverrides = [:]
        }
        #expect(da == db, sourceLocation: sourceLocation)
        #expect(a.attribution.index == b.attribution.index, sourceLocation: sourceLocation)
        #expect(a.attribution.retentionDays == b.attribution.retentionDays, sourceLocation: sourceLocation)
        #expect(a.attribution.staticAssignmentsFile == b.attribution.staticAssignmentsFile, sourceLocation: sourceLocation)
        #expect(a.detection.enabled == b.detection.enabled, sourceLocation: sourceLocation)
        #expect(a.detection.thresholds == b.detection.thresholds, sourceLocation: sourceLocation)
        #expect(a.detection.retentionDays == b.detection.retentionDays, sourceLocation: sourceLocation)
        #expect(a.detection.maximumPairs == b.detection.maximumPairs, sourceLocation: sourceLocation)
        #expect(a.detection.maximumTableEntries == b.detection.maximumTableEntries, sourceLocation: sourceLocation)
        #expect(a.detection.laboratoryInternetPrefixes == b.detection.laboratoryInternetPrefixes, sourceLocation: sourceLocation)
    }

    @Test("an empty file, or only comments, means every default")
    func emptyMeansDefaults() throws {
        for text in ["", "\n\n", "# nothing here\n", "---\n", "~\n"] {
            expectSame(try MamoriConfiguration.parse(yaml: text), MamoriConfiguration())
        }
        let d = MamoriConfiguration()
        #expect(d.http == SocketEndpoint(host: "127.0.0.1", port: 8080))
        #expect(d.collector.listen.count == 6)
        #expect(d.templateFile == "mamori-data/templates.json")
    }

    @Test("every key set")
    func everyKey() throws {
        let c = try MamoriConfiguration.parse(
            yaml: """
                data_directory: /var/lib/mamori
                log_level: debug
                http:
                  listen: "[::1]:9080"
                collector:
                  listen: [127.0.0.1:9995, "[::1]:9996", ":9997"]
                  receive_buffer_bytes: 8_388_608
                  max_datagram_bytes: 1500
                  datagrams_per_read: 64
                  queue_capacity: 100
                  template_timeout_seconds: 0
                  template_persist_interval_seconds: 5
                  max_templates_per_exporter: 16
                  error_log_interval_seconds: 0
                  exporters:
                    - address: 192.0.2.1
                      sampling_interval: 1000
                      name: edge-1
                    - address: 2001:db8::1
                      sampling_interval: 64
                    - address: 198.51.100.7
                      name: no sampling override
                """)
        #expect(c.dataDirectory == "/var/lib/mamori")
        #expect(c.templateFile == "/var/lib/mamori/templates.json")
        #expect(c.logLevel == .debug)
        #expect(c.http == SocketEndpoint(host: "::1", port: 9080))
        #expect(
            c.collector.listen == [
                SocketEndpoint(host: "127.0.0.1", port: 9995), SocketEndpoint(host: "::1", port: 9996),
                SocketEndpoint(host: "0.0.0.0", port: 9997),
            ])
        #expect(c.collector.receiveBufferBytes == 8_388_608)
        #expect(c.collector.maxDatagramBytes == 1500)
        #expect(c.collector.datagramsPerRead == 64)
        #expect(c.collector.queueCapacity == 100)
        #expect(c.collector.decoder.templateTimeoutSeconds == 0)
        #expect(c.collector.templatePersistIntervalSeconds == 5)
        #expect(c.collector.decoder.maxTemplatesPerSession == 16)
        #expect(c.collector.errorLogIntervalSeconds == 0)
        #expect(c.collector.decoder.samplingOverrides == [IPAddress("192.0.2.1")!: 1000, IPAddress("2001:db8::1")!: 64])
    }

    @Test("the sinkhole section: off by default, on when present, every key read; names get their final dot")
    func sinkhole() throws {
        #expect(try MamoriConfiguration.parse(yaml: "log_level: info\n").sinkhole.enabled == false)
        let c = try MamoriConfiguration.parse(
            yaml: """
                sinkhole:
                  listen: 192.0.2.10:53
                  zone: RPZ.isp.example
                  sinkhole_name: sinkhole.isp.example.
                  ttl: 60
                  exemption_ttl: 30
                  confirm_score: 0.8
                  entry_days: 7
                  maximum_entries: 500000
                  exemption_refresh_seconds: 30
                  protected_names: [isp.example]
                  protected_prefixes: [192.0.2.0/24]
                  secondaries:
                    - address: 192.0.2.53/32
                      notify: 192.0.2.53:53
                      tsig_key_name: mamori-xfr
                      tsig_secret_file: /etc/mamori/xfr.key
                    - address: 2001:db8::54
                """)
        let s = c.sinkhole
        #expect(s.enabled && s.listen == SocketEndpoint(host: "192.0.2.10", port: 53))
        #expect(s.zone == "rpz.isp.example." && s.exemptionApex == "exempt.rpz.isp.example.")
        #expect(s.ttl == 60 && s.exemptionTTL == 30 && s.confirmScore == 0.8 && s.entryDays == 7 && s.maximumEntries == 500_000)
        #expect(s.exemptionRefreshSeconds == 30 && s.protectedNames == ["isp.example."])
        #expect(s.secondaries.count == 2 && s.secondaries[0].tsigKeyName == "mamori-xfr." && s.secondaries[0].notify?.port == 53)
        #expect(s.secondaries[1].address == IPPrefix("2001:db8::54/128")! && s.secondaries[1].tsigSecretFile == nil)
        #expect(try MamoriConfiguration.parse(yaml: "sinkhole:\n  enabled: false\n").sinkhole.enabled == false)
        let d = try MamoriConfiguration.parse(
            yaml:
                "dnstap:\n  unix_socket: /run/m.sock\n  unix_socket_mode: \"0660\"\n  dga_minimum_names: 30\nsinkhole:\n  addresses: [192.0.2.53]\n  learn_names: false\n"
        )
        #expect(
            d.dnstap.enabled && d.dnstap.unixSocket == "/run/m.sock" && d.dnstap.unixSocketMode == 0o660 && d.dnstap.dgaMinimumNames == 30)
        #expect(d.sinkhole.addresses == [IPAddress("192.0.2.53")!] && !d.sinkhole.learnNames)
        #expect(refused("dnstap:\n  dga_minimum_names: 30\n")?.reason.contains("unix_socket or listen") == true)
        for (yaml, words) in [
            ("sinkhole:\n  zonee: x.\n", "'zonee'"),
            ("sinkhole:\n  zone: bad name!\n", "DNS name"),
            ("sinkhole:\n  secondaries:\n    - address: 192.0.2.1\n      tsig_key_name: k.\n", "both tsig_key_name and tsig_secret_file"),
            ("sinkhole:\n  secondaries:\n    - notify: 192.0.2.1:53\n", "needs an 'address'"),
            ("sinkhole:\n  confirm_score: 2\n", "between 0"),
        ] {
            let e = try #require(refused(yaml), "\(yaml)")
            #expect(e.reason.contains(words), "\(e)")
        }
    }

    @Test(
        "an unknown key is refused with its name and line",
        arguments: [
            ("log_level: info\nlog_levle: debug\n", 2, "log_levle"),
            ("collector:\n  queue_capacity: 5\n  queue_capcity: 6\n", 3, "queue_capcity"),
            ("http:\n  listen: 127.0.0.1:1\n  port: 80\n", 3, "port"),
            ("collector:\n  exporters:\n    - address: 192.0.2.1\n      sampling: 10\n", 4, "sampling"),
        ])
    func unknownKey(yaml: String, line: Int, key: String) throws {
        let e = try #require(refused(yaml))
        #expect(e.line == line, "\(e)")
        #expect(e.reason.contains("'\(key)'"), "\(e)")
        #expect(e.description.contains("line \(line)"))
    }

    @Test(
        "wrong types, numbers out of range, bad endpoints and addresses name the line",
        arguments: [
            ("collector:\n  queue_capacity: many\n", 2, "whole number"),
            ("collector:\n\n  queue_capacity: 0\n", 3, "between 1 and 1000000"),
            ("collector:\n  max_datagram_bytes: 70000\n", 2, "between 1500 and 65535"),
            ("collector:\n  receive_buffer_bytes: -1\n", 2, "between"),
            ("collector:\n  template_timeout_seconds: 1.5\n", 2, "whole number"),
            ("log_level: loud\n", 1, "log_level"),
            ("data_directory: [a, b]\n", 1, "single value"),
            ("http: 127.0.0.1:80\n", 1, "mapping"),
            ("http:\n  listen: 127.0.0.1\n", 2, "HOST:PORT"),
            ("http:\n  listen: 127.0.0.1:99999\n", 2, "port"),
            ("http:\n  listen: ::1:80\n", 2, "brackets"),
            ("collector:\n  listen: 0.0.0.0:2055\n", 2, "list"),
            ("collector:\n  listen:\n    - 0.0.0.0:2055\n    - 0.0.0.0:x\n", 4, "port"),
            ("collector:\n  listen: []\n", 2, "at least one"),
            ("collector:\n  exporters:\n    - address: 300.1.2.3\n", 3, "not an IPv4 or IPv6 address"),
            ("collector:\n  exporters:\n    - sampling_interval: 5\n", 3, "needs an 'address'"),
            ("collector:\n  exporters:\n    - address: 192.0.2.1\n      sampling_interval: 0\n", 4, "between 1"),
        ])
    func badValue(yaml: String, line: Int, words: String) throws {
        let e = try #require(refused(yaml))
        #expect(e.line == line, "\(e)")
        #expect(e.reason.contains(words), "\(e)")
    }

    @Test(
        "a YAML syntax error names its line",
        arguments: [
            ("log_level: info\nhttp:\n  listen: [127.0.0.1:80\n", 4),
            ("collector:\n  queue_capacity: 5\n queue: 6\n", 3),
            ("data_directory: \"unterminated\n", 2),
        ])
    func syntaxError(yaml: String, approximateLine: Int) throws {
        let e = try #require(refused(yaml))
        #expect(e.reason.contains("not valid YAML"), "\(e)")
        let line = try #require(e.line, "\(e)")
        // The parser reports where it noticed the problem: on the bad line or just after it.
        #expect((approximateLine - 1)...approximateLine + 1 ~= line, "\(e)")
    }

    @Test("load(path:) names the file in its errors")
    func loadNamesTheFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/mamori.yaml"
        try Data("collector:\n  bogus: 1\n".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try MamoriConfiguration.load(path: path)
            Issue.record("accepted")
        } catch {
            #expect(error.file == path)
            #expect(error.description.hasPrefix("\(path), line 2: "), "\(error)")
        }
        do {
            _ = try MamoriConfiguration.load(path: dir.path + "/missing.yaml")
            Issue.record("accepted a missing file")
        } catch {
            #expect(error.line == nil)
            #expect(error.description.contains("missing.yaml"))
        }
    }

    // MARK: detection

    @Test("detection: prefixes, CGNAT pools, retention; bad values refused with their line")
    func detectionSection() throws {
        let c = try MamoriConfiguration.parse(
            yaml: """
                detection:
                  subscriber_prefixes: [203.0.113.0/24, "2001:db8:1::/48"]
                  cgnat_pools:
                    - prefix: 203.0.113.0/28
                      ports_per_block: 2016
                  retention_days: 7
                """)
        #expect(c.detection.subscriberPrefixes.map(\.description) == ["203.0.113.0/24", "2001:db8:1::/48"])
        #expect(c.detection.cgnatPools.map(\.portsPerBlock) == [2016])
        #expect(c.detection.cgnatPools.first?.firstPort == 1024)
        #expect(c.detection.retentionDays == 7)
        #expect(c.detection.enabled)
        #expect(try !MamoriConfiguration.parse(yaml: "detection:\n  enabled: false\n").detection.enabled)
        let tuned = try MamoriConfiguration.parse(
            yaml: "detection:\n  thresholds:\n    inbound_packets_per_second: 50_000\n    popular_share: 0.01\n")
        var dc = DetectionConfiguration(network: tuned.detection.network(), pseudonymKey: [])
        tuned.detection.thresholds.apply(to: &dc)
        #expect(dc.inboundAttack.packetsPerSecond == 50_000)
        #expect(dc.popularity.share == 0.01)
        #expect(dc.beacon.minimumContacts == 5) // untouched keys keep the detectors' defaults
        #expect(dc.longSession.ports.contains(6667) && dc.longSession.ports.count == 12)
        for (yaml, ports) in [("[6667, 8080]", Set<UInt16>([6667, 8080])), ("[]", [])] {
            let irc = try MamoriConfiguration.parse(yaml: "detection:\n  thresholds:\n    long_session_ports: \(yaml)\n")
            irc.detection.thresholds.apply(to: &dc)
            #expect(dc.longSession.ports == ports)
        }
        #expect(!c.detection.usesDemoNetwork)
        #expect(MamoriConfiguration().detection.usesDemoNetwork)
        // Setting the subscriber space without pools means: no pools (not the demo's).
        #expect(try MamoriConfiguration.parse(yaml: "detection:\n  subscriber_prefixes: [10.0.0.0/8]\n").detection.cgnatPools.isEmpty)
        for (yaml, line, words) in [
            ("detection:\n  subscriber_prefixes: [10.0.0.0/33]\n", 2, "is not a prefix"),
            ("detection:\n  subscriber_prefixes: []\n", 2, "at least one"),
            ("detection:\n  retention_days: 0\n", 2, "between 1 and 3650"),
            ("detection:\n  cgnat_pools:\n    - prefix: 2001:db8::/32\n      ports_per_block: 64\n", 3, "not an IPv4 prefix"),
            ("detection:\n  sensitivity: high\n", 2, "unknown key 'sensitivity'"),
            ("detection:\n  enabled: maybe\n", 2, "true or false"),
            ("detection:\n  thresholds:\n    beacon_pair_score: 1.5\n", 3, "between 0.0 and 1.0"),
            ("detection:\n  thresholds:\n    beacon_minimum_contacts: 2\n", 3, "between 5 and 32"),
            ("detection:\n  thresholds:\n    scan_window: 5\n", 3, "unknown key 'scan_window'"),
            ("detection:\n  thresholds:\n    long_session_ports: 6667\n", 3, "list of ports"),
            ("detection:\n  thresholds:\n    long_session_ports: [70000]\n", 3, "between 1 and 65535"),
        ] {
            do {
                _ = try MamoriConfiguration.parse(yaml: yaml)
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.line == line, "\(yaml): \(error)")
                #expect(error.reason.contains(words), "\(error.reason)")
            }
        }
    }

    @Test("attribution: skew, maxima, retention, deterministic NAT pools; bad values refused with their line")
    func attributionSection() throws {
        let c = try MamoriConfiguration.parse(
            yaml: """
                attribution:
                  clock_skew_seconds: 3.5
                  maximum_session_hours: 12
                  retention_days: 30
                  deterministic_nat:
                    - inside: 100.64.0.0/20
                      outside: 198.51.100.0/24
                      ports_per_subscriber: 4032
                """)
        #expect(c.attribution.index.clockSkewMilliseconds == 3500)
        #expect(c.attribution.index.maximumOpenMilliseconds == 12 * 3_600_000)
        #expect(c.attribution.index.maximumOpenTranslationMilliseconds == 30 * 86_400_000)
        #expect(c.attribution.retentionDays == 30)
        #expect(c.attribution.deterministicNAT.first?.block(of: IPAddress("100.64.0.17")!)?.ports == 5056...9087)
        let sources = try MamoriConfiguration.parse(
            yaml: """
                attribution:
                  radius:
                    listen: ["127.0.0.1:1813"]
                    clients:
                      - address: 192.0.2.0/24
                        secret: s3cret-0123456789
                      - address: 192.0.2.77
                        secret: another-secret-0123
                        require_message_authenticator: false
                    require_message_authenticator: true
                    replay_window_seconds: 120
                    maximum_event_age_seconds: 3600
                    rate_limit_per_second: 200
                  syslog_listen: ["127.0.0.1:5514"]
                  syslog_senders: [192.0.2.20, 2001:db8:53::/48]
                  nat_event_exporters: []
                  kea_leases4_files: [/var/lib/kea/kea-leases4.csv]
                  radius_detail_files: [/var/log/freeradius/detail]
                """)
        #expect(sources.attribution.radius.listen == [SocketEndpoint(host: "127.0.0.1", port: 1813)])
        #expect(sources.attribution.radius.handler.clients.first?.prefix == IPPrefix("192.0.2.0/24"))
        #expect(sources.attribution.radius.handler.clients.map(\.requireMessageAuthenticator) == [nil, false])
        #expect(sources.attribution.radius.handler.requireMessageAuthenticator)
        #expect(sources.attribution.radius.handler.replayWindowMilliseconds == 120_000)
        #expect(sources.attribution.radius.handler.maximumEventAgeMilliseconds == 3_600_000)
        #expect(sources.attribution.radius.handler.rateLimit == .init(requestsPerSecond: 200, burst: 50_000))
        #expect(sources.attribution.syslog.senders == [IPPrefix("192.0.2.20/32")!, IPPrefix("2001:db8:53::/48")!])
        #expect(sources.attribution.natEventExporters == [])
        #expect(sources.attribution.syslog.listen.count == 1)
        #expect(sources.attribution.files.files.map(\.kind) == [.keaLeases4, .radiusDetail])
        let d = MamoriConfiguration().attribution
        #expect(d.radius.listen.isEmpty && d.syslog.listen.isEmpty && d.files.files.isEmpty && !d.revealEnabled)
        // Unconfigured senders: loopback only; RADIUS hardening defaults.
        #expect(d.natEventExporters == nil && d.syslog.senders == nil)
        #expect(
            d.syslog.effectiveSenders.contains(IPAddress("127.0.0.1")!) && !d.syslog.effectiveSenders.contains(IPAddress("192.0.2.20")!))
        #expect(!d.radius.handler.requireMessageAuthenticator && d.radius.handler.replayWindowMilliseconds == 600_000)
        #expect(
            d.radius.handler.maximumEventAgeMilliseconds == 0 && d.radius.handler.rateLimit == .init(requestsPerSecond: 5000, burst: 50_000)
        )
        #expect(
            try MamoriConfiguration.parse(yaml: "attribution:\n  radius:\n    rate_limit_per_second: 0\n").attribution.radius.handler
                .rateLimit == nil)
        #expect(d.index == AttributionIndex.Configuration())
        #expect(d.retentionDays == 90)
        for (yaml, line, words) in [
            ("attribution:\n  clock_skew_seconds: -1\n", 2, "between 0.0 and 600.0"),
            ("attribution:\n  radius:\n    listen: [\"127.0.0.1:1813\"]\n", 3, "no clients"),
            ("attribution:\n  radius:\n    clients:\n      - address: 192.0.2.1\n", 4, "needs 'address'"),
            ("attribution:\n  radius:\n    clients:\n      - address: 192.0.2.1\n        secret: \"\"\n", 5, "must not be empty"),
            (
                "attribution:\n  radius:\n    clients:\n      - address: 192.0.2.1\n        secret: testing123\n", 5,
                "has 10 characters; shared secrets must have at least 16"
            ),
            ("attribution:\n  radius:\n    require_message_authenticator: maybe\n", 3, "must be true or false"),
            ("attribution:\n  syslog_senders: [nonsense]\n", 2, "is not a prefix"),
            ("attribution:\n  nat_event_exporters: 192.0.2.1\n", 2, "must be a list of prefixes"),
            ("attribution:\n  retention: 5\n", 2, "unknown key 'retention'"),
            (
                "attribution:\n  deterministic_nat:\n    - inside: 100.64.0.0/16\n      outside: 198.51.100.0/28\n      ports_per_subscriber: 4032\n",
                3, "holds only"
            ),
            (
                "attribution:\n  deterministic_nat:\n    - inside: 100.64.0.0/16\n", 3,
                "needs 'inside', 'outside' and 'ports_per_subscriber'"
            ),
            (
                "attribution:\n  deterministic_nat:\n    - inside: nonsense\n      outside: 198.51.100.0/28\n      ports_per_subscriber: 4032\n",
                3, "is not a prefix"
            ),
        ] {
            do {
                _ = try MamoriConfiguration.parse(yaml: yaml)
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.line == line, "\(yaml): \(error)")
                #expect(error.reason.contains(words), "\(error.reason)")
            }
        }
    }

    // MARK: the example file

    static let examplePath: String = {
        // Tests/CollectorTests/ConfigurationTests.swift → package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("mamori.example.yaml").path
    }()

    @Test("mamori.example.yaml parses and states the defaults")
    func exampleFile() throws {
        let c = try MamoriConfiguration.load(path: Self.examplePath)
        // Every value in the file is the default, except the example exporter.
        expectSame(c, MamoriConfiguration(), ignoringSamplingOverrides: true)
        #expect(c.collector.decoder.samplingOverrides == [IPAddress("192.0.2.1")!: 1000])
        #expect(c.collector.listen == FlowCollector.Configuration.defaultListen)
    }

    @Test("mamori.example.yaml documents every key, each with its default")
    func exampleFileDocumentsEveryKey() throws {
        let text = try String(contentsOfFile: Self.examplePath, encoding: .utf8)
        let keys = [
            "data_directory", "log_level", "http", "listen", "allowed_hosts", "metrics_open", "collector", "receive_buffer_bytes",
            "max_datagram_bytes",
            "datagrams_per_read", "queue_capacity", "template_timeout_seconds", "template_persist_interval_seconds",
            "max_templates_per_exporter", "error_log_interval_seconds", "exporters", "address", "sampling_interval", "name",
            "detection", "enabled", "subscriber_prefixes", "infrastructure_prefixes", "cgnat_pools", "prefix", "first_port",
            "ports_per_block", "retention_days",
            "thresholds", "beacon_minimum_contacts", "beacon_pair_score", "c2_endpoint_score", "popular_minimum_hosts", "popular_share",
            "scan_minimum_destinations", "scan_window_seconds", "outbound_packets_per_second", "outbound_bits_per_second",
            "inbound_packets_per_second", "inbound_bits_per_second", "long_session_ports",
            "lawful", "audit_segment_entries", "audit_retention_days", "case_retention_days",
        ]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for key in keys {
            let index = lines.firstIndex {
                $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "- ", with: "").hasPrefix("\(key):")
            }
            #expect(index != nil, "\(key) is not in the example")
        }
        // Each scalar key is preceded by a "# default:" comment.
        let scalarKeys = keys.filter {
            ![
                "http", "collector", "exporters", "address", "sampling_interval", "name", "detection", "prefix", "first_port",
                "ports_per_block", "thresholds", "lawful",
            ].contains($0)
        }
        for key in scalarKeys {
            guard let index = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(key):") }) else { continue }
            #expect(index > 0 && lines[index - 1].contains("# default:"), "\(key) has no '# default:' line above it")
        }
        // Removing the example exporter leaves exactly the defaults.
        var withoutExample = lines
        if let start = withoutExample.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "exporters:" }) {
            withoutExample.removeSubrange(start...)
        }
        expectSame(try MamoriConfiguration.parse(yaml: withoutExample.joined(separator: "\n")), MamoriConfiguration())
    }
}

/// Parses `yaml`, expecting an error; returns it (records an issue when the YAML is accepted).
/// Shared by the configuration suites.
func refused(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
    do {
        _ = try MamoriConfiguration.parse(yaml: yaml)
        Issue.record("accepted:\n\(yaml)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
