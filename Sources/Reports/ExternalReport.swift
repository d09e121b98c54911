import FlowCodec

/// One thing another party reports about an address of the carrier: a Shadowserver row, a
/// NOTICE finding, an abuse complaint. What the report says, typed; what Mamori does with it
/// (attribution, a case, a notice) is decided elsewhere.
public struct ExternalReport: Sendable, Hashable {
    /// Who sent it (`shadowserver`).
    public var source: String
    /// The sender's name for the kind of report (`scan_ntp`, `event4_sinkhole_http`).
    public var reportType: String
    /// What the report means for the subscriber behind the address.
    public var problem: ReportProblem
    /// When the reporter saw it (ms since the epoch, UTC).
    public var time: Int64
    /// The reported address (the scanned host; a bot's or attacker's source).
    public var address: IPAddress
    /// The port on that address (behind a CGNAT, what tells subscribers apart).
    public var port: UInt16?
    /// `tcp`, `udp` … as the reporter wrote it.
    public var transport: String?
    public var asn: UInt32?
    /// Country code.
    public var geo: String?
    /// The reporter's tag (`ssdp`, `mirai`, …).
    public var tag: String?
    /// A malware family or infection name, when the reporter names one.
    public var infection: String?
    public var deviceVendor: String?
    public var deviceType: String?
    public var deviceModel: String?
    /// Every other non-empty column, by its header name, as the reporter wrote it.
    public var extra: [String: String]

    public init(
        source: String, reportType: String, problem: ReportProblem, time: Int64, address: IPAddress, port: UInt16? = nil,
        transport: String? = nil, asn: UInt32? = nil, geo: String? = nil, tag: String? = nil, infection: String? = nil,
        deviceVendor: String? = nil, deviceType: String? = nil, deviceModel: String? = nil, extra: [String: String] = [:]
    ) {
        self.source = source
        self.reportType = reportType
        self.problem = problem
        self.time = time
        self.address = address
        self.port = port
        self.transport = transport
        self.asn = asn
        self.geo = geo
        self.tag = tag
        self.infection = infection
        self.deviceVendor = deviceVendor
        self.deviceType = deviceType
        self.deviceModel = deviceModel
        self.extra = extra
    }
}

/// What a report means for the subscriber behind the address, and so which case and notice it
/// leads to.
public enum ReportProblem: String, Sendable, Hashable, CaseIterable {
    /// A resolver that answers anyone (DNS amplification).
    case openResolver = "open-resolver"
    /// A UDP service an attacker can bounce floods off (NTP, SSDP, memcached, CLDAP, …).
    case amplifier
    /// A management or login service open to the Internet (Telnet, TR-069/CWMP, a DVR's discovery).
    case exposedService = "exposed-service"
    /// A device that lets anyone log in with a default or guessable password (NOTICE's finding).
    case weakCredentials = "weak-credentials"
    /// A device the reporter saw behaving as infected (a sinkhole contact, a bot's request).
    case infected
    /// The address attacked others (brute force, DDoS participation, darknet scanning).
    case attacking
    /// Mail from the address was reported as spam or abuse (an ARF feedback loop, X-ARF): most
    /// often a spam bot on an infected device, so it follows the infected-device rules.
    case spam
    /// A report type Mamori does not know: kept, counted, not acted on until it is mapped.
    case unknown
}

/// What became of one row of a report file.
public struct RejectedRow: Sendable, Hashable {
    /// The line the row starts on (1-based; the header is line 1).
    public var line: Int
    /// `no_address`, `bad_time`, `field_count`, or the CSV reader's reason.
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }
}

/// A whole report file: what it is, the reports it holds and every row it did not keep.
///
/// Reports can be taken as the file is read (``drainReports()``), so a million-row file need not
/// be held whole; the counters go on counting. Rejected rows are counted by reason, and the first
/// ``rejectedExamplesKept`` are kept with their lines.
public struct ReportFile: Sendable {
    public static let rejectedExamplesKept = 1000

    public var source: String
    public var reportType: String
    /// Whether the report type is one Mamori maps to a problem.
    public var knownType: Bool
    /// Data rows read (not counting the header).
    public var rows = 0
    /// Reports read and not yet drained.
    public var reports: [ExternalReport] = []
    /// Reports read in all (drained or not).
    public private(set) var keptCount = 0
    /// The first rejected rows, in line order.
    public private(set) var rejected: [RejectedRow] = []
    public private(set) var rejectedCount = 0
    public private(set) var rejectedByReason: [String: Int] = [:]
    /// Columns the parser does not map, kept in each report's `extra`.
    public var unmappedColumns: [String] = []
    /// Rows with fewer fields than the header (their last columns read as empty).
    public var shortRows = 0

    public init(source: String, reportType: String, knownType: Bool) {
        self.source = source
        self.reportType = reportType
        self.knownType = knownType
    }

    /// Every row is accounted for: kept or rejected.
    public var accountedFor: Bool { keptCount + rejectedCount == rows }

    public mutating func keep(_ report: ExternalReport) {
        reports.append(report)
        keptCount += 1
    }

    public mutating func reject(line: Int, reason: String) {
        rejectedCount += 1
        rejectedByReason[reason, default: 0] += 1
        if rejected.count < Self.rejectedExamplesKept { rejected.append(RejectedRow(line: line, reason: reason)) }
    }

    /// The reports read since the last call; they are no longer held.
    public mutating func drainReports() -> [ExternalReport] {
        defer { reports = [] }
        return reports
    }
}
