import Foundation
import Reports
import Yams

/// Reports from outside (`reports:`): the feeds Mamori reads besides its built-in formats
/// (Shadowserver, NOTICE-style, ARF, X-ARF) and the limits on what it takes in.
public struct ReportsSettings: Sendable {
    /// The carrier's own feeds, by column mapping (`reports.mappings`).
    public var mappings: [ReportMapping] = []
    /// The largest file or message taken in, before unpacking (MiB).
    public var maxFileMiB = 64
    /// The largest plain CSV taken over HTTP (MiB): it is read as it arrives, never held whole.
    public var maxCSVMiB = 4096
    /// The most an archive may unpack to (MiB), and the most one archive may pack (ratio).
    public var maxUnpackedMiB = 1024
    public var maxZipRatio = 250
    /// The carrier's list of devices past end of support (`vendor,model,end_of_support`).
    public var endOfSupportFile: String?
    /// Sources whose report of a day lists every device they saw in the carrier's networks
    /// (Shadowserver's daily reports): a device missing from such a report counts as fixed.
    public var completeDailySources: Set<String> = ["shadowserver"]
    /// Daily reports without the device before its case is remediated.
    public var remediateAfterAbsentDays = 1
    /// Days the keys of reports taken (to recognise them again) and the unattributed reports are kept.
    public var retentionDays = 30
    /// The abuse mailbox Mamori follows (`reports.maildir`): a Maildir the MTA delivers into.
    public var maildir: String?
    public var maildirPollSeconds = 10

    public init() {}

    /// The intake these settings describe.
    public var intake: ReportIntake {
        var limits = ReportIntake.Limits()
        limits.maxFileBytes = maxFileMiB << 20
        limits.zip.maxTotalBytes = maxUnpackedMiB << 20
        limits.zip.maxEntryBytes = min(limits.zip.maxEntryBytes, limits.zip.maxTotalBytes)
        limits.zip.maxRatio = maxZipRatio
        return ReportIntake(mappings: mappings, limits: limits)
    }

    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> ReportsSettings {
        var s = ReportsSettings()
        let m = try YAMLMap(v.node, context: "reports")
        try m.allowOnly([
            "mappings", "max_file_mib", "max_csv_mib", "max_unpacked_mib", "max_zip_ratio", "end_of_support_file", "complete_daily_sources",
            "remediate_after_absent_days", "maildir", "maildir_poll_seconds", "retention_days",
        ])
        if let x = m["retention_days"] { s.retentionDays = try x.int(in: 1...3650) }
        if let x = m["maildir"] { s.maildir = try x.string() }
        if let x = m["maildir_poll_seconds"] { s.maildirPollSeconds = try x.int(in: 1...3600) }
        if let x = m["end_of_support_file"] { s.endOfSupportFile = try x.string() }
        if let x = m["complete_daily_sources"] { s.completeDailySources = Set(try x.strings().map { $0.lowercased() }) }
        if let x = m["remediate_after_absent_days"] { s.remediateAfterAbsentDays = try x.int(in: 1...365) }
        if let x = m["max_file_mib"] { s.maxFileMiB = try x.int(in: 1...4096) }
        if let x = m["max_csv_mib"] { s.maxCSVMiB = try x.int(in: 1...1_048_576) }
        if let x = m["max_unpacked_mib"] { s.maxUnpackedMiB = try x.int(in: 1...65536) }
        if let x = m["max_zip_ratio"] { s.maxZipRatio = try x.int(in: 2...100_000) }
        if let x = m["mappings"] {
            guard case .sequence(let seq) = x.node else { throw x.error("reports.mappings must be a list") }
            for item in seq {
                let mapping = try parseMapping(item)
                guard !s.mappings.contains(where: { $0.name == mapping.name }) else {
                    throw ConfigurationError(line: item.mark?.line, "reports.mappings: two mappings are named '\(mapping.name)'")
                }
                s.mappings.append(mapping)
            }
        }
        return s
    }

    /// The fields a mapping's `columns` may name.
    static var columnKeys: [String: WritableKeyPath<ReportMapping.Columns, [String]>] {
        [
            "address": \.address, "time": \.time, "port": \.port, "transport": \.transport, "asn": \.asn, "tag": \.tag,
            "problem": \.problem, "infection": \.infection, "device_vendor": \.deviceVendor, "device_type": \.deviceType,
            "device_model": \.deviceModel,
        ]
    }

    static func parseMapping(_ node: Node) throws(ConfigurationError) -> ReportMapping {
        let e = try YAMLMap(node, context: "a reports mapping")
        try e.allowOnly(["name", "report_type", "problem", "file_names", "columns", "problem_values", "time_zone"])
        guard let nameValue = e["name"], let columnsValue = e["columns"] else {
            throw ConfigurationError(
                line: node.mark?.line,
                "a reports mapping needs a 'name' (the source its reports are credited to) and 'columns' (at least address and time)")
        }
        let name = try nameValue.string()
        guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ TAXIISettings.isPathByte($0) }) else {
            throw nameValue.error("a reports mapping's name must be 1 to 64 of a-z, 0-9, '-' and '_'; got '\(name)'")
        }
        let c = try YAMLMap(columnsValue.node, context: "reports.mappings (\(name)).columns")
        try c.allowOnly(Set(columnKeys.keys))
        func names(_ key: String) throws(ConfigurationError) -> [String] {
            guard let v = c[key] else { return [] }
            if case .sequence = v.node { return try v.strings().map { $0.lowercased() } }
            return [try v.string().lowercased()]
        }
        let address = try names("address")
        let time = try names("time")
        guard !address.isEmpty, !time.isEmpty else {
            throw columnsValue.error("reports.mappings (\(name)).columns needs 'address' and 'time': the columns that hold them")
        }
        var columns = ReportMapping.Columns(address: address, time: time)
        for (key, path) in columnKeys where key != "address" && key != "time" { columns[keyPath: path] = try names(key) }
        let problem = try e["problem"].map { v throws(ConfigurationError) in try Self.problem(v) } ?? .unknown
        var mapping = ReportMapping(name: name, reportType: try e["report_type"]?.string() ?? name, problem: problem, columns: columns)
        if let x = e["file_names"] { mapping.fileNames = try x.strings() }
        if let x = e["problem_values"] {
            let values = try YAMLMap(x.node, context: "reports.mappings (\(name)).problem_values")
            for entry in values.entries {
                mapping.problemValues[entry.key.lowercased()] = try Self.problem(YAMLValue(node: entry.value, key: entry.key))
            }
        }
        if let x = e["time_zone"] { mapping.timeZoneOffsetMinutes = try Self.offset(x) }
        return mapping
    }

    static func problem(_ v: YAMLValue) throws(ConfigurationError) -> ReportProblem {
        let text = try v.string()
        guard let p = ReportProblem(rawValue: text) else {
            throw v.error("\(v.key) must be one of \(ReportProblem.allCases.map(\.rawValue).joined(separator: ", ")); got '\(text)'")
        }
        return p
    }

    /// `+09:00`, `-05:00`, `UTC`, `JST`.
    static func offset(_ v: YAMLValue) throws(ConfigurationError) -> Int {
        let text = try v.string()
        switch text.uppercased() {
        case "UTC", "Z", "GMT": return 0
        case "JST": return 540
        default: break
        }
        let sign = text.first
        let digits = text.dropFirst().split(separator: ":")
        guard sign == "+" || sign == "-", digits.count == 2, let h = Int(digits[0]), let m = Int(digits[1]), h <= 14, m < 60 else {
            throw v.error("\(v.key) must be UTC, JST or an offset like +09:00; got '\(text)'")
        }
        return (h * 60 + m) * (sign == "-" ? -1 : 1)
    }
}
