import FlowCodec
import MamoriCore

/// Shadowserver's CSV reports, as published: scan reports (`scan_ntp`, `scan_dns`,
/// `dns_openresolver`, …: one row per host found, `ip` and `port`) and event reports
/// (`event4_sinkhole_http`, `event4_ddos_participant`, …: `src_ip` is the subscriber-side host),
/// and the legacy `botnet_drone` layout. The report type comes from the file name
/// (`2026-12-01-scan_ntp-example-asn.csv`, or `scan_ntp.csv`); a type not in ``problems`` is
/// read all the same and marked unknown.
///
/// Streams: feed the bytes in chunks (``feed(_:)``), then ``finish()``; nothing keeps more than
/// one row besides the reports it returns.
public struct ShadowserverParser: Sendable {
    /// The problem each known report type means.
    public static let problems: [String: ReportProblem] = [
        "scan_dns": .openResolver, "dns_openresolver": .openResolver, "scan6_dns": .openResolver,
        "scan_ntp": .amplifier, "scan6_ntp": .amplifier, "scan_ntpmonitor": .amplifier, "scan_ssdp": .amplifier,
        "scan_memcached": .amplifier, "scan_ldap_udp": .amplifier, "scan_chargen": .amplifier, "scan_qotd": .amplifier,
        "scan_snmp": .amplifier, "scan_portmapper": .amplifier, "scan_netbios": .amplifier, "scan_mdns": .amplifier,
        "scan_ws_discovery": .amplifier, "scan_coap": .amplifier, "scan_ubiquiti": .amplifier, "scan_ard": .amplifier,
        "scan_dvr_dhcpdiscover": .exposedService, "scan_telnet": .exposedService, "scan6_telnet": .exposedService,
        "scan_cwmp": .exposedService, "scan6_cwmp": .exposedService, "scan_rdp": .exposedService, "scan_vnc": .exposedService,
        "scan_smb": .exposedService, "scan_mqtt": .exposedService, "scan_http_vulnerable": .exposedService,
        "device_id": .exposedService,
        "sinkhole_http_drone": .infected, "botnet_drone": .infected, "event4_sinkhole": .infected,
        "event4_sinkhole_http": .infected, "event4_sinkhole_dns": .infected, "event4_microsoft_sinkhole": .infected,
        "event6_sinkhole": .infected, "event6_sinkhole_http": .infected,
        "event4_honeypot_brute_force": .attacking, "event4_honeypot_darknet": .attacking, "event4_ddos_participant": .attacking,
        "event6_honeypot_brute_force": .attacking,
    ]

    /// Columns read into the report's own fields (the rest go to `extra`).
    static let mapped: Set<String> = [
        "timestamp", "ip", "src_ip", "port", "src_port", "protocol", "asn", "src_asn", "geo", "src_geo", "tag", "infection",
        "family", "device_vendor", "device_type", "device_model",
    ]

    public let reportType: String
    private var stream: CSVReportStream<Layout>

    /// - Parameter fileName: the report's file name (a path is fine); it names the report type.
    public init(fileName: String, limits: CSVReader.Limits = CSVReader.Limits()) {
        reportType = Self.reportType(fileName: fileName)
        let file = ReportFile(source: "shadowserver", reportType: reportType, knownType: Self.problems[reportType] != nil)
        stream = CSVReportStream(layout: Layout(reportType: reportType), file: file, limits: limits)
    }

    /// The report type a file name gives: what follows the `YYYY-MM-DD-` date up to the next `-`
    /// (Shadowserver's names), or the whole name without `.csv`.
    public static func reportType(fileName: String) -> String {
        var name = Substring(fileName.split(separator: "/").last ?? "")
        for suffix in [".zip", ".csv"] where name.lowercased().hasSuffix(suffix) { name = name.dropLast(suffix.count) }
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count >= 4, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts[0...2].allSatisfy({ $0.allSatisfy(\.isNumber) })
        {
            return String(parts[3]).lowercased()
        }
        return String(name).lowercased()
    }

    /// Reads a chunk of the file.
    public mutating func feed(_ bytes: some Sequence<UInt8>) { stream.feed(bytes) }

    /// Ends the file: the reports, and every row not kept with why. Throws when the file is not a
    /// Shadowserver report (no header with a time and an address column).
    public mutating func finish() throws(ReportError) -> ReportFile { try stream.finish() }

    /// The reports read since the last call (the file's counters go on counting).
    public mutating func drainReports() -> [ExternalReport] { stream.drainReports() }

    /// A whole file in memory.
    public static func parse(_ bytes: some Sequence<UInt8>, fileName: String) throws(ReportError) -> ReportFile {
        var parser = ShadowserverParser(fileName: fileName)
        parser.feed(bytes)
        return try parser.finish()
    }

    /// Shadowserver's header and rows.
    struct Layout: CSVReportLayout {
        let reportType: String
        /// Where each mapped column is (its first occurrence; by name once, at the header, and
        /// by position for every row), and the unmapped ones.
        private var columns = Columns()
        private var unmapped: [(name: String, index: Int)] = []
        private(set) var unmappedColumns: [String] = []

        init(reportType: String) { self.reportType = reportType }

        mutating func header(_ lower: [String]) -> String? {
            guard lower.contains("timestamp"), lower.contains("ip") || lower.contains("src_ip") else {
                return "not a Shadowserver report: the header has no 'timestamp' and 'ip' (or 'src_ip') columns"
            }
            unmappedColumns = lower.filter { !ShadowserverParser.mapped.contains($0) }
            var named: [String: Int] = [:]
            for (i, name) in lower.enumerated() {
                if ShadowserverParser.mapped.contains(name) {
                    if named[name] == nil { named[name] = i }
                } else if !unmapped.contains(where: { $0.name == name }) {
                    unmapped.append((name, i))
                }
            }
            columns = Columns(named)
            return nil
        }

        func report(_ values: [String]) -> Result<ExternalReport, ReportRowProblem> {
            // A column's value, nil when the column is absent or the value empty (as a missing one).
            func value(_ index: Int?) -> String? {
                guard let i = index, !values[i].isEmpty else { return nil }
                return values[i]
            }
            let c = columns
            guard let addressText = value(c.ip) ?? value(c.srcIP), let address = IPAddress(addressText.trimmedSpaces) else {
                return .failure(.noAddress)
            }
            guard let text = value(c.timestamp), let time = ShadowserverParser.time(text) else { return .failure(.badTime) }
            let portText = value(c.ip) != nil ? value(c.port) : value(c.srcPort)
            var extra: [String: String] = [:]
            for (name, i) in unmapped where !values[i].isEmpty { extra[name] = values[i] }
            return .success(
                ExternalReport(
                    source: "shadowserver", reportType: reportType, problem: ShadowserverParser.problems[reportType] ?? .unknown,
                    time: time, address: address, port: portText.flatMap { UInt16($0) }, transport: value(c.transport)?.lowercased(),
                    asn: (value(c.asn) ?? value(c.srcASN)).flatMap { UInt32($0) }, geo: value(c.geo) ?? value(c.srcGeo),
                    tag: value(c.tag), infection: value(c.infection) ?? value(c.family), deviceVendor: value(c.deviceVendor),
                    deviceType: value(c.deviceType), deviceModel: value(c.deviceModel), extra: extra))
        }
    }

    /// The positions of the columns read into a report's own fields.
    struct Columns: Sendable {
        var ip, srcIP, port, srcPort, timestamp, transport, asn, srcASN, geo, srcGeo, tag, infection, family: Int?
        var deviceVendor, deviceType, deviceModel: Int?

        init() {}

        init(_ named: [String: Int]) {
            ip = named["ip"]
            srcIP = named["src_ip"]
            port = named["port"]
            srcPort = named["src_port"]
            timestamp = named["timestamp"]
            transport = named["protocol"]
            asn = named["asn"]
            srcASN = named["src_asn"]
            geo = named["geo"]
            srcGeo = named["src_geo"]
            tag = named["tag"]
            infection = named["infection"]
            family = named["family"]
            deviceVendor = named["device_vendor"]
            deviceType = named["device_type"]
            deviceModel = named["device_model"]
        }
    }

    /// `2026-12-01 03:04:05` (UTC, as Shadowserver writes it), or any time ``TimeText`` reads.
    static func time(_ text: String) -> Int64? { TimeText.parse(text) }
}

/// A file that is not a report at all (as opposed to a row that cannot be used).
public struct ReportError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
