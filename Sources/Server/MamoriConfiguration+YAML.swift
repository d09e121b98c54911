import Attribution
import Collector
import Detection
import FlowCodec
import Foundation
import IdentityListeners
import Lawful
import Logging
import MamoriCore
import Yams

extension MamoriConfiguration {
    /// Reads a configuration file; unknown keys, wrong types and bad values are refused with
    /// the line they are on.
    public static func load(path: String) throws(ConfigurationError) -> MamoriConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(line: nil, "cannot read the file: \(error.localizedDescription)", file: path)
        }
        do {
            return try parse(yaml: text)
        } catch var e {
            e.file = path
            throw e
        }
    }

    /// Parses configuration YAML text.
    public static func parse(yaml text: String) throws(ConfigurationError) -> MamoriConfiguration {
        var config = MamoriConfiguration()
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(line: Self.line(of: error), "not valid YAML: \(error)")
        } catch {
            throw ConfigurationError(line: nil, "not valid YAML: \(error)")
        }
        // An empty file, comments only, or an empty document ("---", "~"): all defaults.
        guard let root, root.null == nil else { return config }
        let top = try YAMLMap(root, context: "the top level")
        try top.allowOnly([
            "data_directory", "log_level", "http", "collector", "detection", "attribution", "lawful", "sinkhole", "dnstap", "bgp",
            "sharing", "reports", "telephony", "storage", "cluster",
        ])
        if let v = top["storage"] { config.storage = try StorageSettings.parse(v) }
        if let v = top["cluster"] { config.cluster = try ClusterSettings.parse(v) }
        if let v = top["sharing"] { config.sharing = try SharingSettings.parse(v) }
        if let v = top["reports"] { config.reports = try ReportsSettings.parse(v) }
        if let v = top["telephony"] { config.telephony = try TelephonySettings.parse(v) }
        if let v = top["sinkhole"] { config.sinkhole = try SinkholeSettings.parse(v) }
        if config.sharing.sinkhole != nil && !config.sinkhole.enabled {
            throw ConfigurationError(
                line: top["sharing"]?.node.mark?.line,
                "sharing.sinkhole puts imported domain names into the DNS sinkhole, which is off: configure 'sinkhole:' too")
        }
        if let v = top["bgp"] { config.bgp = try BGPSettings.parse(v) }
        if let v = top["dnstap"] { config.dnstap = try DnstapSettings.parse(v) }
        if let v = top["data_directory"] { config.dataDirectory = try v.string() }
        if let v = top["log_level"] {
            let s = try v.string()
            guard let level = Logger.Level(rawValue: s) else {
                throw v.error("log_level must be one of trace, debug, info, notice, warning, error, critical; got '\(s)'")
            }
            config.logLevel = level
        }
        if let v = top["http"] {
            let http = try YAMLMap(v.node, context: "http")
            try http.allowOnly(["listen", "allowed_hosts", "metrics_open", "tls", "behind_tls_proxy", "public"])
            if let m = http["metrics_open"] { config.metricsOpen = try m.bool() }
            if let t = http["tls"] { config.httpTLS = try t.tlsFiles(context: "http.tls") }
            if let b = http["behind_tls_proxy"] { config.httpBehindTLSProxy = try b.bool() }
            if let p = http["public"] {
                let m = try YAMLMap(p.node, context: "http.public")
                try m.allowOnly(["listen", "tls"])
                guard let l = m["listen"] else { throw p.error("http.public needs 'listen' (HOST:PORT of the notice pages' listener)") }
                config.httpPublic = PublicListenerSettings(
                    listen: try l.endpoint(), tls: try m["tls"]?.tlsFiles(context: "http.public.tls"))
            }
            if let l = http["listen"] { config.http = try l.endpoint() }
            if let h = http["allowed_hosts"] {
                guard case .sequence(let seq) = h.node else { throw h.error("http.allowed_hosts must be a list of host names") }
                config.httpAllowedHosts = []
                for item in seq {
                    let v = YAMLValue(node: item, key: "http.allowed_hosts")
                    let name = try v.string()
                    guard HTTPAuthority.host(ofAuthority: name) == name.lowercased() else {
                        throw v.error("'\(name)' in http.allowed_hosts is not a host name (no port, scheme or path)")
                    }
                    config.httpAllowedHosts.append(name.lowercased())
                }
            }
        }
        if let p = config.httpPublic, p.listen.port != 0, p.listen == config.http {
            throw ConfigurationError(
                line: nil, "http.public.listen (\(p.listen)) must differ from http.listen: the notice pages need a listener of their own")
        }
        if let v = top["collector"] {
            let c = try YAMLMap(v.node, context: "collector")
            try c.allowOnly([
                "listen", "receive_buffer_bytes", "max_datagram_bytes", "datagrams_per_read", "queue_capacity",
                "template_timeout_seconds", "template_persist_interval_seconds", "max_templates_per_exporter",
                "error_log_interval_seconds", "exporters", "max_record_age_seconds", "max_clock_lead_seconds", "max_templates",
                "max_exporter_sessions",
            ])
            if let l = c["listen"] {
                guard case .sequence(let seq) = l.node else { throw l.error("collector.listen must be a list of HOST:PORT") }
                var endpoints: [SocketEndpoint] = []
                for item in seq { endpoints.append(try YAMLValue(node: item, key: "listen").endpoint()) }
                config.collector.listen = endpoints
                if config.collector.listen.isEmpty { throw l.error("collector.listen must name at least one HOST:PORT") }
            }
            if let v = c["receive_buffer_bytes"] { config.collector.receiveBufferBytes = try v.int(in: 65_536...(1 << 30)) }
            if let v = c["max_datagram_bytes"] { config.collector.maxDatagramBytes = try v.int(in: 1500...65_535) }
            if let v = c["datagrams_per_read"] { config.collector.datagramsPerRead = try v.int(in: 1...1024) }
            if let v = c["queue_capacity"] { config.collector.queueCapacity = try v.int(in: 1...1_000_000) }
            if let v = c["template_timeout_seconds"] { config.collector.decoder.templateTimeoutSeconds = Int64(try v.int(in: 0...604_800)) }
            if let v = c["template_persist_interval_seconds"] {
                config.collector.templatePersistIntervalSeconds = try v.int(in: 1...86_400)
            }
            if let v = c["max_templates_per_exporter"] { config.collector.decoder.maxTemplatesPerSession = try v.int(in: 1...65_536) }
            if let v = c["error_log_interval_seconds"] { config.collector.errorLogIntervalSeconds = try v.int(in: 0...86_400) }
            if let v = c["max_templates"] { config.collector.decoder.maxTemplates = try v.int(in: 1...10_000_000) }
            if let v = c["max_exporter_sessions"] { config.collector.decoder.maxSessions = try v.int(in: 1...10_000_000) }
            if let v = c["max_record_age_seconds"] {
                config.collector.decoder.timeWindow.maximumAgeMilliseconds = Int64(try v.int(in: 60...31_622_400)) * 1000
            }
            if let v = c["max_clock_lead_seconds"] {
                config.collector.decoder.timeWindow.maximumLeadMilliseconds = Int64(try v.int(in: 0...86_400)) * 1000
            }
            if let v = c["exporters"] {
                guard case .sequence(let seq) = v.node else { throw v.error("collector.exporters must be a list") }
                for item in seq {
                    let e = try YAMLMap(item, context: "an exporter")
                    try e.allowOnly(["address", "sampling_interval", "name"])
                    guard let a = e["address"] else {
                        throw ConfigurationError(line: item.mark.map { $0.line }, "an exporter needs an 'address'")
                    }
                    let text = try a.string()
                    guard let address = IPAddress(text) else { throw a.error("'\(text)' is not an IPv4 or IPv6 address") }
                    if let s = e["sampling_interval"] {
                        config.collector.decoder.samplingOverrides[address] = UInt32(try s.int(in: 1...1_000_000_000))
                    }
                }
            }
        }
        if let v = top["detection"] {
            let d = try YAMLMap(v.node, context: "detection")
            try d.allowOnly([
                "enabled", "subscriber_prefixes", "infrastructure_prefixes", "cgnat_pools", "laboratory_internet_prefixes",
                "indicators_file", "allowlist_file", "retention_days", "thresholds", "max_pairs", "max_table_entries", "workers",
                "shed_after_batches", "evaluate_on_flow_clock",
            ])
            if let p = d["subscriber_prefixes"] {
                config.detection.subscriberPrefixes = try p.prefixes()
                config.detection.usesDemoNetwork = false
                if config.detection.subscriberPrefixes.isEmpty {
                    throw p.error("detection.subscriber_prefixes must name at least one prefix")
                }
            }
            if let p = d["infrastructure_prefixes"] { config.detection.infrastructurePrefixes = try p.prefixes() }
            if let p = d["cgnat_pools"] {
                guard case .sequence(let seq) = p.node else { throw p.error("detection.cgnat_pools must be a list") }
                var pools: [CGNATPool] = []
                for item in seq {
                    let m = try YAMLMap(item, context: "a CGNAT pool")
                    try m.allowOnly(["prefix", "first_port", "ports_per_block"])
                    guard let prefixValue = m["prefix"], let size = m["ports_per_block"] else {
                        throw ConfigurationError(line: item.mark.map { $0.line }, "a CGNAT pool needs 'prefix' and 'ports_per_block'")
                    }
                    let text = try prefixValue.string()
                    guard let prefix = IPPrefix(text), prefix.isIPv4 else { throw prefixValue.error("'\(text)' is not an IPv4 prefix") }
                    let first = try m["first_port"]?.int(in: 0...65_535) ?? 1024
                    pools.append(
                        CGNATPool(prefix: prefix, firstPort: UInt16(first), portsPerBlock: UInt16(try size.int(in: 1...65_536 - 1))))
                }
                config.detection.cgnatPools = pools
            } else if d["subscriber_prefixes"] != nil {
                config.detection.cgnatPools = []
            }
            if let p = d["laboratory_internet_prefixes"] {
                config.detection.laboratoryInternetPrefixes = try p.prefixes()
            } else if d["subscriber_prefixes"] != nil {
                config.detection.laboratoryInternetPrefixes = []
            }
            if let e = d["enabled"] { config.detection.enabled = try e.bool() }
            if let f = d["indicators_file"] { config.detection.indicatorsFile = try f.string() }
            if let f = d["allowlist_file"] { config.detection.allowlistFile = try f.string() }
            if let r = d["retention_days"] { config.detection.retentionDays = try r.int(in: 1...3650) }
            if let v = d["max_pairs"] { config.detection.maximumPairs = try v.int(in: 1_000...100_000_000) }
            if let v = d["shed_after_batches"] { config.detection.shedAfterBatches = try v.int(in: 1...10_000_000) }
            if let v = d["evaluate_on_flow_clock"] { config.detection.evaluateOnFlowClock = try v.bool() }
            if let v = d["workers"] { config.detection.workers = try v.int(in: 1...64) }
            if let v = d["max_table_entries"] { config.detection.maximumTableEntries = try v.int(in: 1_000...100_000_000) }
            if let t = d["thresholds"] {
                let m = try YAMLMap(t.node, context: "detection.thresholds")
                try m.allowOnly(Set(DetectionThresholds.keys))
                var th = DetectionThresholds()
                if let v = m["beacon_minimum_contacts"] { th.beaconMinimumContacts = try v.int(in: 5...32) }
                if let v = m["beacon_pair_score"] { th.beaconPairScore = try v.double(in: 0...1) }
                if let v = m["c2_endpoint_score"] { th.commandAndControlScore = try v.double(in: 0...1) }
                if let v = m["popular_minimum_hosts"] { th.popularMinimumHosts = try v.int(in: 1...1_000_000) }
                if let v = m["popular_share"] { th.popularShare = try v.double(in: 0...1) }
                if let v = m["scan_minimum_destinations"] { th.scanMinimumDestinations = try v.int(in: 5...1_000_000) }
                if let v = m["scan_window_seconds"] { th.scanWindowSeconds = try v.int(in: 10...86_400) }
                if let v = m["outbound_packets_per_second"] { th.outboundPacketsPerSecond = try v.double(in: 1...1e12) }
                if let v = m["outbound_bits_per_second"] { th.outboundBitsPerSecond = try v.double(in: 1...1e15) }
                if let v = m["inbound_packets_per_second"] { th.inboundPacketsPerSecond = try v.double(in: 1...1e12) }
                if let v = m["inbound_bits_per_second"] { th.inboundBitsPerSecond = try v.double(in: 1...1e15) }
                if let v = m["long_session_ports"] {
                    guard case .sequence(let seq) = v.node else {
                        throw v.error("detection.thresholds.long_session_ports must be a list of ports (empty: off)")
                    }
                    th.longSessionPorts = []
                    for item in seq {
                        th.longSessionPorts.append(
                            UInt16(try YAMLValue(node: item, key: "detection.thresholds.long_session_ports").int(in: 1...65_535)))
                    }
                }
                config.detection.thresholds = th
            }
        }
        if let v = top["attribution"] {
            let a = try YAMLMap(v.node, context: "attribution")
            try a.allowOnly([
                "clock_skew_seconds", "maximum_session_hours", "maximum_port_block_days", "retention_days", "deterministic_nat",
                "static_assignments_file", "reveal", "radius", "syslog_listen",
                "kea_leases4_files", "kea_leases6_files", "radius_detail_files", "nat_syslog_files", "nat_event_exporters",
                "syslog_senders",
            ])
            // Who may send identity data over UDP (absent: loopback only; see AttributionSettings).
            if let x = a["nat_event_exporters"] { config.attribution.natEventExporters = try x.prefixes() }
            if let x = a["syslog_senders"] { config.attribution.syslog.senders = try x.prefixes() }
            if let l = a["syslog_listen"] {
                guard case .sequence(let seq) = l.node else { throw l.error("attribution.syslog_listen must be a list of HOST:PORT") }
                for item in seq {
                    config.attribution.syslog.listen.append(try YAMLValue(node: item, key: "attribution.syslog_listen").endpoint())
                }
            }
            for (key, kind) in [
                ("kea_leases4_files", IdentityFileFollower.Kind.keaLeases4), ("kea_leases6_files", .keaLeases6),
                ("radius_detail_files", .radiusDetail), ("nat_syslog_files", .natSyslog),
            ] {
                guard let v = a[key] else { continue }
                guard case .sequence(let seq) = v.node else { throw v.error("attribution.\(key) must be a list of file paths") }
                for item in seq {
                    config.attribution.files.files.append(
                        .init(path: try YAMLValue(node: item, key: "attribution.\(key)").string(), kind: kind))
                }
            }
            if let x = a["clock_skew_seconds"] { config.attribution.clockSkewSeconds = try x.double(in: 0...600) }
            if let x = a["maximum_session_hours"] { config.attribution.maximumSessionHours = try x.double(in: 0.1...8760) }
            if let x = a["maximum_port_block_days"] { config.attribution.maximumPortBlockDays = try x.double(in: 0.01...3650) }
            if let x = a["retention_days"] { config.attribution.retentionDays = try x.int(in: 1...3650) }
            if let x = a["static_assignments_file"] { config.attribution.staticAssignmentsFile = try x.string() }
            if let r = a["radius"] {
                let m = try YAMLMap(r.node, context: "attribution.radius")
                try m.allowOnly([
                    "listen", "clients", "duplicate_window_seconds", "require_message_authenticator", "replay_window_seconds",
                    "maximum_event_age_seconds",
                    "rate_limit_per_second", "rate_limit_burst",
                ])
                if let x = m["require_message_authenticator"] {
                    config.attribution.radius.handler.requireMessageAuthenticator = try x.bool()
                }
                if let x = m["replay_window_seconds"] {
                    config.attribution.radius.handler.replayWindowMilliseconds = Int64(try x.int(in: 0...86_400)) * 1000
                }
                if let x = m["maximum_event_age_seconds"] {
                    config.attribution.radius.handler.maximumEventAgeMilliseconds = Int64(try x.int(in: 0...31_536_000)) * 1000
                }
                let perSecond = try m["rate_limit_per_second"]?.int(in: 0...10_000_000)
                let burst = try m["rate_limit_burst"]?.int(in: 1...100_000_000)
                if perSecond == 0 {
                    config.attribution.radius.handler.rateLimit = nil
                } else if perSecond != nil || burst != nil {
                    var limit = config.attribution.radius.handler.rateLimit ?? .init(requestsPerSecond: 5000, burst: 50_000)
                    if let perSecond { limit.requestsPerSecond = Double(perSecond) }
                    if let burst { limit.burst = Double(burst) }
                    config.attribution.radius.handler.rateLimit = limit
                }
                if let l = m["listen"] {
                    guard case .sequence(let seq) = l.node else { throw l.error("attribution.radius.listen must be a list of HOST:PORT") }
                    var endpoints: [SocketEndpoint] = []
                    for item in seq { endpoints.append(try YAMLValue(node: item, key: "attribution.radius.listen").endpoint()) }
                    config.attribution.radius.listen = endpoints
                }
                if let w = m["duplicate_window_seconds"] {
                    config.attribution.radius.handler.duplicateWindowMilliseconds = Int64(try w.int(in: 1...3600)) * 1000
                }
                if let c = m["clients"] {
                    guard case .sequence(let seq) = c.node else { throw c.error("attribution.radius.clients must be a list") }
                    for item in seq {
                        let client = try YAMLMap(item, context: "a RADIUS client")
                        try client.allowOnly(["address", "secret", "require_message_authenticator"])
                        guard let address = client["address"], let secret = client["secret"] else {
                            throw ConfigurationError(
                                line: item.mark.map { $0.line }, "a RADIUS client needs 'address' (an address or prefix) and 'secret'")
                        }
                        let text = try address.string()
                        guard let prefix = IPPrefix(text) else { throw address.error("'\(text)' is not an address or prefix") }
                        let key = try secret.string()
                        guard !key.isEmpty else { throw secret.error("a RADIUS secret must not be empty") }
                        guard key.utf8.count >= RADIUSAccountingHandler.minimumSecretLength else {
                            throw secret.error(
                                "the RADIUS secret of client \(text) has \(key.utf8.count) characters; shared secrets must have at least "
                                    + "\(RADIUSAccountingHandler.minimumSecretLength) (use a long random one, e.g. openssl rand -base64 24)"
                            )
                        }
                        var require: Bool?
                        if let x = client["require_message_authenticator"] { require = try x.bool() }
                        config.attribution.radius.handler.clients.append(
                            .init(prefix: prefix, secret: Array(key.utf8), requireMessageAuthenticator: require))
                    }
                }
                if !config.attribution.radius.listen.isEmpty && config.attribution.radius.handler.clients.isEmpty {
                    throw r.error("attribution.radius listens but has no clients: every request would be dropped")
                }
            }
            if let x = a["reveal"] { config.attribution.revealEnabled = try x.bool() }
            if let p = a["deterministic_nat"] {
                guard case .sequence(let seq) = p.node else { throw p.error("attribution.deterministic_nat must be a list") }
                for item in seq {
                    let m = try YAMLMap(item, context: "a deterministic NAT pool")
                    try m.allowOnly(["inside", "outside", "ports_per_subscriber", "first_port"])
                    guard let inside = m["inside"], let outside = m["outside"], let ports = m["ports_per_subscriber"] else {
                        throw ConfigurationError(
                            line: item.mark.map { $0.line }, "a deterministic NAT pool needs 'inside', 'outside' and 'ports_per_subscriber'"
                        )
                    }
                    let insideText = try inside.string()
                    let outsideText = try outside.string()
                    guard let i = IPPrefix(insideText) else { throw inside.error("'\(insideText)' is not a prefix") }
                    guard let o = IPPrefix(outsideText) else { throw outside.error("'\(outsideText)' is not a prefix") }
                    let perSubscriber = try ports.int(in: 1...65_535)
                    let first = try m["first_port"]?.int(in: 1...65_535) ?? 1024
                    do throws(DeterministicNAT.ConfigurationError) {
                        config.attribution.deterministicNAT.append(
                            try DeterministicNAT(inside: i, outside: o, portsPerSubscriber: perSubscriber, firstPort: first))
                    } catch {
                        throw ConfigurationError(line: item.mark.map { $0.line }, error.description)
                    }
                }
            }
        }
        if let v = top["lawful"] {
            let m = try YAMLMap(v.node, context: "lawful")
            try m.allowOnly([
                "policy_file", "audit_key_file", "audit_segment_entries", "audit_retention_days", "smtp", "notice_base_url",
                "case_retention_days",
            ])
            if let x = m["notice_base_url"] {
                let url = try x.string()
                guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    throw x.error("lawful.notice_base_url must start with https:// (or http://)")
                }
                config.lawful.noticeBaseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            }
            if let x = m["case_retention_days"] { config.lawful.caseRetentionDays = try x.int(in: 1...36_500) }
            if let x = m["smtp"] {
                let smtp = try YAMLMap(x.node, context: "lawful.smtp")
                try smtp.allowOnly(["host", "port", "tls", "ca_file", "username", "password_file", "from"])
                var settings = SMTPSettings()
                if let v = smtp["host"] { settings.host = try v.string() }
                if let v = smtp["port"] { settings.port = try v.int(in: 1...65_535) }
                if let v = smtp["tls"] {
                    settings.tls = try v.string()
                    guard ["starttls_if_offered", "starttls_required", "none"].contains(settings.tls) else {
                        throw v.error("lawful.smtp.tls must be starttls_if_offered, starttls_required or none")
                    }
                }
                if let v = smtp["ca_file"] { settings.caFile = try v.string() }
                if let v = smtp["username"] { settings.username = try v.string() }
                if let v = smtp["password_file"] { settings.passwordFile = try v.string() }
                if let v = smtp["from"] {
                    settings.from = try v.string()
                    guard settings.from.contains("@") else { throw v.error("lawful.smtp.from must be an e-mail address") }
                }
                if (settings.username == nil) != (settings.passwordFile == nil) {
                    throw x.error("lawful.smtp needs both username and password_file, or neither")
                }
                // Credentials never cross the network in clear: with them, STARTTLS is required
                // (the default then), and any other tls setting is refused.
                if settings.username != nil {
                    if let v = smtp["tls"], settings.tls != "starttls_required" {
                        throw v.error(
                            "lawful.smtp.tls must be starttls_required when username and password_file are set (got '\(settings.tls)'): the password must not cross the network in clear"
                        )
                    }
                    settings.tls = "starttls_required"
                }
                config.lawful.smtp = settings
            }
            if let x = m["policy_file"] {
                let path = try x.string()
                do {
                    config.lawful.policy = try LawfulPolicy.load(path: path)
                } catch {
                    throw x.error("lawful.policy_file: \(error)")
                }
                config.lawful.policyFile = path
            }
            if let x = m["audit_key_file"] { config.lawful.auditKeyFile = try x.string() }
            if let x = m["audit_segment_entries"] { config.lawful.auditSegmentEntries = try x.int(in: 10...10_000_000) }
            if let x = m["audit_retention_days"] { config.lawful.auditRetentionDays = try x.int(in: 1...36_500) }
        }
        return config
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }
}

/// A YAML mapping with the line of every key, for error messages.
struct YAMLMap {
    let entries: [(key: String, line: Int?, value: Node)]
    let context: String
    let line: Int?

    init(_ node: Node, context: String) throws(ConfigurationError) {
        guard case .mapping(let m) = node else {
            throw ConfigurationError(line: node.mark?.line, "\(context) must be a mapping of keys to values")
        }
        self.context = context
        self.line = node.mark?.line
        var entries: [(String, Int?, Node)] = []
        for (k, v) in m {
            guard let key = k.string else { throw ConfigurationError(line: k.mark?.line, "keys in \(context) must be text") }
            entries.append((key, k.mark?.line, v))
        }
        self.entries = entries
    }

    func allowOnly(_ keys: Set<String>) throws(ConfigurationError) {
        for e in entries where !keys.contains(e.key) {
            let known = keys.sorted().joined(separator: ", ")
            throw ConfigurationError(line: e.line, "unknown key '\(e.key)' in \(context) (known keys: \(known))")
        }
    }

    subscript(_ key: String) -> YAMLValue? {
        entries.first { $0.key == key }.map { YAMLValue(node: $0.value, key: key) }
    }
}

/// One YAML value and the key it belongs to.
struct YAMLValue {
    let node: Node
    let key: String

    func error(_ reason: String) -> ConfigurationError {
        ConfigurationError(line: node.mark?.line, reason)
    }

    func string() throws(ConfigurationError) -> String {
        guard case .scalar(let s) = node else { throw error("\(key) must be a single value") }
        return s.string
    }

    func int(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let s = try string()
        guard let v = Int(s.replacingOccurrences(of: "_", with: "")) else { throw error("\(key) must be a whole number; got '\(s)'") }
        guard range.contains(v) else { throw error("\(key) must be between \(range.lowerBound) and \(range.upperBound); got \(v)") }
        return v
    }

    func double(in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        let s = try string()
        guard let v = Double(s.replacingOccurrences(of: "_", with: "")), v.isFinite else {
            throw error("\(key) must be a number; got '\(s)'")
        }
        guard range.contains(v) else { throw error("\(key) must be between \(range.lowerBound) and \(range.upperBound); got \(s)") }
        return v
    }

    func prefixes() throws(ConfigurationError) -> [IPPrefix] {
        guard case .sequence(let seq) = node else { throw error("\(key) must be a list of prefixes like 100.64.0.0/10") }
        var out: [IPPrefix] = []
        for item in seq {
            let v = YAMLValue(node: item, key: key)
            let text = try v.string()
            guard let p = IPPrefix(text) else { throw v.error("'\(text)' in \(key) is not a prefix like 100.64.0.0/10 or 2001:db8::/32") }
            out.append(p)
        }
        return out
    }

    /// `{certificate_file: PATH, key_file: PATH}`; the files are read at start, not here.
    func tlsFiles(context: String) throws(ConfigurationError) -> TLSFiles {
        let m = try YAMLMap(node, context: context)
        try m.allowOnly(["certificate_file", "key_file"])
        guard let certificate = m["certificate_file"], let key = m["key_file"] else {
            throw error("\(context) needs certificate_file and key_file (PEM files)")
        }
        let files = TLSFiles(certificateFile: try certificate.string(), keyFile: try key.string())
        guard !files.certificateFile.isEmpty, !files.keyFile.isEmpty else {
            throw error("\(context): certificate_file and key_file must name files")
        }
        return files
    }

    func endpoint() throws(ConfigurationError) -> SocketEndpoint {
        let s = try string()
        do {
            return try SocketEndpoint(parsing: s)
        } catch {
            throw self.error("\(key): \(error)")
        }
    }
}
