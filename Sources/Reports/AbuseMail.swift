import FlowCodec
import MamoriCore

/// Abuse complaints that arrive as e-mail: ARF feedback reports (RFC 5965, with RFC 6692's
/// `Source-Port` for addresses behind a CGNAT) and X-ARF reports (x-arf.org, versions 0.1 and
/// 0.2). One message is one report: a file of one row, kept or rejected with the reason.
public enum AbuseMail {
    /// What an ARF `Feedback-Type` means for the subscriber whose address sent the mail.
    static let feedbackProblems: [String: ReportProblem] = [
        "abuse": .spam, "fraud": .spam, "other": .spam, "virus": .infected,
        // A message reported as not spam, or an authentication failure report, is not a complaint.
        "not-spam": .unknown, "auth-failure": .unknown,
    ]

    /// The ARF report in a message, or nil when the message is not one (no
    /// `message/feedback-report` part).
    public static func arf(_ message: MIMEEntity) -> ReportFile? {
        guard let part = message.allParts.first(where: { $0.contentType == "message/feedback-report" }) else { return nil }
        // The part's body is itself a block of header fields (RFC 5965 §3.1).
        let fields = (try? MIMEEntity.headerBlock(part.body[...], limits: MIMEEntity.Limits()).0) ?? []
        func field(_ name: String) -> String? {
            fields.first { $0.name.lowercased() == name.lowercased() }?.value.trimmedSpaces
        }
        let feedbackType = field("Feedback-Type")?.lowercased() ?? "abuse"
        let problem = feedbackProblems[feedbackType] ?? .spam
        var file = ReportFile(source: sender(message), reportType: "arf-" + feedbackType, knownType: problem != .unknown)
        file.rows = 1
        guard let text = field("Source-IP"), let address = IPAddress(text.trimmingBrackets) else {
            file.reject(line: 1, reason: "no_address")
            return file
        }
        let timeText = field("Arrival-Date") ?? field("Received-Date") ?? message.header("Date")
        guard let time = timeText.flatMap({ TimeText.parse($0) }) else {
            file.reject(line: 1, reason: "bad_time")
            return file
        }
        var extra: [String: String] = [:]
        // Original-Rcpt-To names the person who complained, a third party nothing in Mamori needs.
        for name in ["Reported-Domain", "Reported-URI", "Original-Mail-From", "Incidents", "User-Agent", "Version"] {
            if let v = field(name) { extra[name.lowercased()] = v }
        }
        if let subject = message.header("Subject") { extra["subject"] = subject }
        file.keep(
            ExternalReport(
                source: file.source, reportType: file.reportType, problem: problem, time: time, address: address,
                port: field("Source-Port").flatMap { UInt16($0) }, transport: "tcp", tag: "smtp", extra: extra))
        return file
    }

    /// What an X-ARF `Report-Type` (within its `Category`) means.
    static func xarfProblem(category: String, reportType: String) -> ReportProblem {
        switch (category, reportType) {
        case (_, "spam"): .spam
        case (_, let t) where t.contains("malware") || t.contains("botnet") || t.contains("bot"): .infected
        case ("abuse", _), ("fraud", _): .attacking
        case ("info", let t) where t.contains("open") || t.contains("vulnerab"): .exposedService
        default: .unknown
        }
    }

    /// The X-ARF report in a message (`X-ARF: YES`, its report part a flat YAML document), or nil
    /// when the message is not one. The YAML is read as `Name: value` lines, which is all X-ARF
    /// 0.1 and 0.2 reports hold; anything else in it is ignored.
    public static func xarf(_ message: MIMEEntity) -> ReportFile? {
        guard message.header("X-ARF")?.trimmedSpaces.uppercased() == "YES" else { return nil }
        let leaves = message.allParts.filter { $0.parts.isEmpty }
        let reportPart =
            leaves.first { $0.fileName?.lowercased() == "report.txt" }
            ?? leaves.dropFirst().first { $0.contentType == "text/plain" || $0.contentType.hasSuffix("yaml") }
        var fields: [String: String] = [:]
        for line in String(decoding: reportPart?.body ?? [], as: UTF8.self).split(whereSeparator: \.isNewline) {
            guard let first = line.first, first != "#", first != " ", first != "-", let colon = line.firstIndex(of: ":") else { continue }
            var value = line[line.index(after: colon)...].trimmedSpaces
            if value.count >= 2, value.first == "\"" || value.first == "'", value.last == value.first {
                value = String(value.dropFirst().dropLast())
            }
            fields[line[..<colon].lowercased().trimmedSpaces] = value
        }
        let category = fields["category"]?.lowercased() ?? ""
        let type = fields["report-type"]?.lowercased() ?? "unknown"
        let problem = xarfProblem(category: category, reportType: type)
        var file = ReportFile(
            source: fields["reported-from"].map(domain) ?? sender(message), reportType: "xarf-" + type, knownType: problem != .unknown)
        file.rows = 1
        guard let text = fields["source"], let address = IPAddress(text.trimmingBrackets) else {
            file.reject(line: 1, reason: reportPart == nil ? "no_report_part" : "no_address")
            return file
        }
        guard let time = (fields["date"] ?? message.header("Date")).flatMap({ TimeText.parse($0) }) else {
            file.reject(line: 1, reason: "bad_time")
            return file
        }
        var extra: [String: String] = [:]
        for name in ["category", "service", "version", "user-agent", "report-id", "schema-url", "occurrences"] {
            if let v = fields[name] { extra[name] = v }
        }
        file.keep(
            ExternalReport(
                source: file.source, reportType: file.reportType, problem: problem, time: time, address: address,
                port: fields["port"].flatMap { UInt16($0) }, transport: fields["service"]?.lowercased() == "udp" ? "udp" : nil,
                tag: fields["service"], extra: extra))
        return file
    }

    /// The domain of the message's sender (`aol.net`), or `mail` when it has none.
    static func sender(_ message: MIMEEntity) -> String {
        message.header("From").map(domain) ?? "mail"
    }

    static func domain(_ address: String) -> String {
        var a = Substring(address)
        if let lt = a.lastIndex(of: "<") { a = a[a.index(after: lt)...] }
        if let gt = a.firstIndex(of: ">") { a = a[..<gt] }
        guard let at = a.lastIndex(of: "@") else { return "mail" }
        let d = a[a.index(after: at)...].trimmedSpaces.lowercased()
        return d.isEmpty ? "mail" : d
    }
}

extension StringProtocol {
    /// Without the `[ ]` an IPv6 address may be written in.
    var trimmingBrackets: String {
        let s = trimmedSpaces
        return s.hasPrefix("[") && s.hasSuffix("]") ? String(s.dropFirst().dropLast()) : s
    }
}
