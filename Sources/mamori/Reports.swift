import APIClient
import ArgumentParser
import FlowCodec
import Foundation
import MamoriCore
import Reports
import Server

/// `mamori reports …`: reports about the carrier's addresses from outside (Shadowserver, NOTICE,
/// abuse complaints).
struct ReportsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports",
        abstract: "Reports from outside: Shadowserver, NOTICE-style notifications, ARF/X-ARF complaints, CSIRT feeds.",
        discussion: """
            Formats Mamori reads by itself (docs/reports.md):
            - Shadowserver's CSV reports (scan_*, event4_*, …), plain, zipped, or as the report mail;
            - NOTICE-style notifications as CSV or JSON (time, address, port, weakness, device_type);
            - ARF feedback-loop complaints (RFC 5965) and X-ARF reports, as .eml;
            - any other CSV or JSON feed through a `reports.mappings` entry of the configuration.

            - import FILE…: hand the files to a running `mamori serve` (POST /api/v1/reports): \
            each report is attributed at its own time and port, and the subscriber's \
            vulnerable-device or abuse-report case is opened or merged and noticed as the \
            legal-basis engine allows. Prints what became of every row. Needs a token with \
            submit_reports (an analyst's, or one made for the mail system: \
            mamori token create abuse-mailbox --scope submit_reports).
            - check FILE…: read the files as the server would and say what they hold (report \
            type, rows kept and rejected with the reasons, problems, columns kept as extra), \
            without sending anything anywhere. Use it to try a new feed or a mapping.

            Examples:
              mamori reports import 2026-12-01-scan_ntp-jp-asn.csv.zip complaint.eml --token-file ~/.mamori-token
              mamori reports check 2026-12-01-scan_ntp-jp-asn.csv.zip complaint.eml
              mamori reports check --config /etc/mamori/mamori.yaml csirt-2026-12-01.csv --json
            """,
        subcommands: [Import.self, Check.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand report files to a running mamori serve: attribute, open cases, notice.",
            discussion: """
                Each file is sent as it is (read and sent 1 MiB at a time) with its name, which \
                tells the server Shadowserver's report type and picks a reports.mappings entry. \
                The exit status is 1 when the server refused a file (a zip bomb, a mail without a \
                report, a wrong mapping: nothing of that file was taken) or could not be reached.
                """
        )

        @Argument(help: ArgumentHelp("Report files: .csv, .json, .eml, .zip.", valueName: "file"))
        var files: [String]

        @Option(help: ArgumentHelp("The mamori serve to send to (HOST:PORT).", valueName: "host:port"))
        var server: String = "127.0.0.1:8080"

        @OptionGroup var credentials: APITokenOptions

        @Flag(help: "Print the server's JSON answer for each file instead of text.")
        var json = false

        func run() async throws {
            let endpoint: SocketEndpoint
            do { endpoint = try SocketEndpoint(parsing: server) } catch { throw ValidationError("--server: \(error)") }
            guard let token = try credentials.token() else {
                throw ReportError(
                    "`mamori reports import` needs a machine token with submit_reports, from --token-file FILE or MAMORI_TOKEN")
            }
            var failed = false
            try await MamoriAPIClient.withClient(server: endpoint, token: token) { client in
                for path in files {
                    let name = URL(fileURLWithPath: path).lastPathComponent
                    let query =
                        name.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "=", "+", "#"])) ?? name
                    let answer: MamoriAPIClient.Response
                    do {
                        answer = try await client.post("/api/v1/reports?name=\(query)", file: path, contentType: Self.contentType(name))
                    } catch let failure as MamoriAPIClient.Failure {
                        if case .forbidden = failure { throw ReportError("\(failure); this needs submit_reports") }
                        throw ReportError("\(path): \(failure)")
                    }
                    if answer.status != 200 { failed = true }
                    if json {
                        print(answer.body)
                    } else {
                        print(Self.text(path, status: answer.status, body: answer.body))
                    }
                }
            }
            if failed { throw ExitCode(1) }
        }

        static func contentType(_ name: String) -> String {
            let lower = name.lowercased()
            if lower.hasSuffix(".zip") { return "application/zip" }
            if lower.hasSuffix(".eml") { return "message/rfc822" }
            if lower.hasSuffix(".json") { return "application/json" }
            if lower.hasSuffix(".csv") { return "text/csv" }
            return "application/octet-stream"
        }

        /// The server's answer in lines: per report file, rows by fate and the cases.
        static func text(_ path: String, status: Int, body: String) -> String {
            guard let answer = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
                return "\(path): the server answered \(status): \(body)"
            }
            var lines: [String] = []
            for f in answer["files"] as? [[String: Any]] ?? [] {
                let fates = (f["fates"] as? [String: Int] ?? [:]).filter { $0.value > 0 }.sorted { $0.key < $1.key }
                lines.append("\(f["name"] as? String ?? path)")
                lines.append(
                    "  \(f["source"] as? String ?? "") \(f["report_type"] as? String ?? ""): \(f["rows"] as? Int ?? 0) rows; "
                        + fates.map { "\($0.key.replacingOccurrences(of: "_", with: " ")) \($0.value)" }.joined(separator: ", "))
                lines.append(
                    "  cases: \(f["cases_opened"] as? Int ?? 0) opened, \(f["cases_merged"] as? Int ?? 0) merged, \(f["cases_remediated"] as? Int ?? 0) remediated"
                )
            }
            if let error = answer["error"] as? String { lines.append("\(path): \(lines.isEmpty ? "refused" : "cut short"): \(error)") }
            return lines.joined(separator: "\n")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read report files as the server would and say what they hold; nothing is sent or stored.",
            discussion: """
                A plain CSV is read as a stream (a million-row file needs no more memory than a \
                few rows); mails, zips and JSON are read whole, within the configured limits \
                (reports.max_file_mib, max_unpacked_mib, max_zip_ratio). The exit status is 1 when \
                a file could not be read as a report at all; rejected rows alone do not fail it.
                """
        )

        @Argument(help: ArgumentHelp("Report files: .csv, .json, .eml, .zip.", valueName: "file"))
        var files: [String]

        @Option(help: ArgumentHelp("A mamori.yaml whose reports: section (mappings, limits) to use.", valueName: "path"))
        var config: String?

        @Option(help: "Rejected rows to list per file (all are counted).")
        var examples = 5

        @Flag(help: "Print one JSON object per report file instead of text.")
        var json = false

        func run() async throws {
            let settings = try config.map { try MamoriConfiguration.load(path: $0).reports } ?? ReportsSettings()
            let intake = settings.intake
            var failed = false
            for path in files {
                do {
                    for summary in try Self.read(path, intake: intake) { print(json ? summary.json : summary.text(examples: examples)) }
                } catch {
                    failed = true
                    FileHandle.standardError.write(Data("mamori reports check: \(path): \(error)\n".utf8))
                }
            }
            if failed { throw ExitCode(1) }
        }

        /// Reads one file: a plain CSV streamed in 1 MiB chunks, anything else whole.
        static func read(_ path: String, intake: ReportIntake) throws -> [ReportSummary] {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw ReportError("cannot open the file") }
            defer { try? handle.close() }
            let name = URL(fileURLWithPath: path).lastPathComponent
            let first = [UInt8](try handle.read(upToCount: 256 << 10) ?? Data())
            let started = Date()
            guard ReportIntake.kind(first, fileName: name) == .csv else {
                var bytes = first
                while let more = try handle.read(upToCount: 1 << 20), !more.isEmpty {
                    bytes += more
                    guard bytes.count <= intake.limits.maxFileBytes else {
                        throw ReportError("more than the \(intake.limits.maxFileBytes) bytes a report file may have (reports.max_file_mib)")
                    }
                }
                return try intake.read(bytes, fileName: name).map { item in
                    var summary = ReportSummary(name: item.name, file: item.file, seconds: Date().timeIntervalSince(started))
                    summary.count(item.file.reports)
                    return summary
                }
            }
            var parser = try intake.csvParser(header: first, fileName: name)
            var counted = ReportSummary.Counts()
            var chunk = first
            var bytesRead = 0
            let progress = isatty(2) == 1
            var lastProgress = started
            repeat {
                parser.feed(chunk)
                bytesRead += chunk.count
                counted.add(parser.drainReports())
                if progress, Date().timeIntervalSince(lastProgress) > 2 {
                    lastProgress = Date()
                    FileHandle.standardError.write(Data("\r\(name): \(bytesRead >> 20) MiB, \(counted.total) reports read…".utf8))
                }
                chunk = [UInt8](try handle.read(upToCount: 1 << 20) ?? Data())
            } while !chunk.isEmpty
            if progress, lastProgress != started { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            var file = try parser.finish()
            counted.add(file.drainReports())
            var summary = ReportSummary(name: name, file: file, seconds: Date().timeIntervalSince(started))
            summary.counts = counted
            return [summary]
        }
    }
}

/// What one report file held, for `mamori reports check`.
struct ReportSummary: Encodable {
    struct Counts: Encodable {
        var total = 0
        var problems: [String: Int] = [:]
        var reportTypes: [String: Int] = [:]
        var withPort = 0
        var ipv6 = 0
        var firstTime: Int64?
        var lastTime: Int64?

        mutating func add(_ reports: [ExternalReport]) {
            for r in reports {
                total += 1
                problems[r.problem.rawValue, default: 0] += 1
                if reportTypes.count < 100 || reportTypes[r.reportType] != nil { reportTypes[r.reportType, default: 0] += 1 }
                if r.port != nil { withPort += 1 }
                if r.address.isIPv6 { ipv6 += 1 }
                firstTime = min(firstTime ?? r.time, r.time)
                lastTime = max(lastTime ?? r.time, r.time)
            }
        }
    }

    var name: String
    var source: String
    var reportType: String
    var knownType: Bool
    var rows: Int
    var kept: Int
    var rejected: Int
    var rejectedByReason: [String: Int]
    var rejectedExamples: [String]
    var shortRows: Int
    var unmappedColumns: [String]
    var counts = Counts()
    var seconds: Double

    init(name: String, file: ReportFile, seconds: Double) {
        self.name = name
        source = file.source
        reportType = file.reportType
        knownType = file.knownType
        rows = file.rows
        kept = file.keptCount
        rejected = file.rejectedCount
        rejectedByReason = file.rejectedByReason
        rejectedExamples = file.rejected.map { "line \($0.line): \($0.reason)" }
        shortRows = file.shortRows
        unmappedColumns = file.unmappedColumns
        self.seconds = seconds
    }

    mutating func count(_ reports: [ExternalReport]) { counts.add(reports) }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    func text(examples: Int) -> String {
        func list(_ d: [String: Int]) -> String {
            d.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        var lines = [name]
        lines.append(
            "  \(source) \(reportType)\(knownType ? "" : " (a report type Mamori does not map: kept, not acted on)"): "
                + "\(rows) row\(rows == 1 ? "" : "s"), \(kept) kept, \(rejected) rejected"
                + (seconds >= 1 ? String(format: " (%.1f s)", seconds) : ""))
        if !counts.problems.isEmpty { lines.append("  problems: " + list(counts.problems)) }
        if counts.reportTypes.count > 1 { lines.append("  report types: " + list(counts.reportTypes)) }
        if counts.total > 0 {
            let from = counts.firstTime.map { UTCTimeText.iso($0) } ?? "-"
            let to = counts.lastTime.map { UTCTimeText.iso($0) } ?? "-"
            lines.append("  seen \(from) to \(to); \(counts.withPort) with a port, \(counts.ipv6) IPv6")
        }
        if rejected > 0 {
            lines.append("  rejected: " + list(rejectedByReason))
            for e in rejectedExamples.prefix(examples) { lines.append("    " + e) }
        }
        if shortRows > 0 { lines.append("  \(shortRows) rows had fewer fields than the header (read as empty)") }
        if !unmappedColumns.isEmpty { lines.append("  columns kept as extra: " + unmappedColumns.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }
}

enum UTCTimeText {
    static func iso(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
