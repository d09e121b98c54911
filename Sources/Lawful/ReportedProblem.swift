import MamoriCore

/// What another party reported about a device on a subscriber's line, as a case keeps it and a
/// notice explains it: the problem, who reported it, the service, the device when the reporter
/// named it, and its end of support when the carrier's list has the model. No address: the notice
/// is about the subscriber's own line.
public struct ReportedProblem: Sendable, Hashable, Codable {
    /// `open-resolver`, `amplifier`, `exposed-service`, `weak-credentials` (a vulnerable device);
    /// `infected`, `attacking`, `spam` (an abuse report).
    public var problem: String
    /// Who reported it (`shadowserver`, `notice`, a feedback loop's domain).
    public var source: String
    /// The service as the reporter named it (`ntp`, `ssdp`, `telnet`, `cwmp`…), lowercased.
    public var service: String?
    public var port: UInt16?
    /// `tcp` or `udp`.
    public var transport: String?
    /// Vendor and model as the reporter named them (`Hikvision DS-2CD2032`).
    public var device: String?
    /// The day the device's maker stopped supporting it (`2023-03-31`), from the carrier's list.
    public var endOfSupport: String?
    /// The malware family, when an abuse report names one.
    public var family: String?

    public init(
        problem: String, source: String, service: String? = nil, port: UInt16? = nil, transport: String? = nil, device: String? = nil,
        endOfSupport: String? = nil, family: String? = nil
    ) {
        self.problem = problem
        self.source = source
        self.service = service
        self.port = port
        self.transport = transport
        self.device = device
        self.endOfSupport = endOfSupport
        self.family = family
    }

    /// The problems that make a vulnerable-device case (the rest make an abuse-report case).
    public static let vulnerabilities: Set<String> = ["open-resolver", "amplifier", "exposed-service", "weak-credentials"]

    /// The case kind a problem opens.
    public var kind: NoticeContent.Kind { Self.vulnerabilities.contains(problem) ? .vulnerability : .abuseReport }
}

/// What the reports about one subscriber's device and problem say, merged across reports and days
/// (the evidence of a vulnerable-device or abuse-report case).
public struct ReportCaseEvidence: Sendable, Hashable, Codable {
    /// The latest report's view (service, device, end of support).
    public var problem: ReportedProblem
    /// Reports merged in.
    public var reports: Int
    /// The days (UTC, `YYYY-MM-DD`) reports showed the device, the newest 60.
    public var days: [String]
    /// `source/type` of the reports (`shadowserver/scan_ntp`): a later report of one of these that
    /// does not show the device is a sign it was fixed.
    public var reportTypes: [String]
    /// Days a report of one of ``reportTypes`` arrived without the device, after its last sighting.
    public var absentDays: [String] = []

    public static let daysKept = 60

    public init(problem: ReportedProblem, day: String, reportType: String) {
        self.problem = problem
        reports = 1
        days = [day]
        reportTypes = [reportType]
    }

    /// Another report of the same device and problem; returns whether it told anything new (a new
    /// day or report type: the same report again does not count).
    public mutating func merge(_ p: ReportedProblem, day: String, reportType: String) -> Bool {
        reports += 1
        let newDay = !days.contains(day)
        let newType = !reportTypes.contains(reportType)
        if newDay {
            days.append(day)
            days.sort()
            if days.count > Self.daysKept { days.removeFirst(days.count - Self.daysKept) }
        }
        if newType { reportTypes.append(reportType) }
        if day >= (days.last ?? "") {
            var latest = p
            latest.device = p.device ?? problem.device
            latest.endOfSupport = p.endOfSupport ?? problem.endOfSupport
            problem = latest
        }
        // Seen again: earlier absences no longer say anything.
        absentDays.removeAll { $0 <= day }
        return newDay || newType
    }

    /// The day of a time, UTC.
    public static func day(_ ms: Int64) -> String {
        let t = UTCTime(milliseconds: ms)
        func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(t.year)-\(pad(t.month))-\(pad(t.day))"
    }
}
