import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore

/// Reports from outside over HTTP (`mamori reports import` speaks it).
///
/// - `POST /api/v1/reports?name=FILE` (`submit_reports`): a report file as the body — CSV, JSON,
///   an e-mail (`.eml`) or a zip; the name tells a mapping's file names and Shadowserver's report
///   type. The answer says what became of every row (attributed, unattributed, ambiguous, outside
///   the carrier, duplicate, of an unmapped type, rejected) and the cases opened, merged and
///   remediated; 422 when the file is refused whole (with the reason: past `reports.max_file_mib`,
///   a zip bomb, no report in a mail, a wrong mapping). A plain CSV is read as it arrives (up to
///   `reports.max_csv_mib`), so a million-row report is never held whole; one cut short keeps the
///   rows that arrived whole and says so in `error`.
/// - `GET /api/v1/reports` (`read_cases`): per report type since the server started, and the
///   last imports.
/// - `GET /api/v1/reports/unattributed?limit=N` (`read_cases`): the newest reports that could not
///   be put to a subscriber, with the reason.
struct ReportsAPI: Sendable, JSONAPI {
    let reports: ReportService
    let invalidRequests: Counter

    func register(on routes: Routes) {
        routes.post("/api/v1/reports", .permission(.submitReports)) { request, _ in try await submit(request) }
        routes.get("/api/v1/reports", .permission(.readCases)) { _, _ in overview() }
        routes.get("/api/v1/reports/unattributed", .permission(.readCases)) { request, _ in unattributed(request) }
    }

    func submit(_ request: Request) async throws -> Response {
        guard let name = request.uri.queryParameters["name"].map(String.init), !name.isEmpty, name.utf8.count <= 255,
            !name.contains("/")
        else {
            return bad("name the file: ?name=FILE (its file name, without a path: it names the report type and the mapping)")
        }
        let result = await reports.ingest(stream: request.body, fileName: name)
        return json(result.error == nil ? .ok : .unprocessableContent, result)
    }

    struct Overview: Encodable {
        var types: [String: ReportService.TypeTotals]
        var imports: [ReportService.ImportResult]
    }

    func overview() -> Response { json(.ok, Overview(types: reports.totals, imports: reports.recentImports.reversed())) }

    func unattributed(_ request: Request) -> Response {
        var limit = 100
        if let text = request.uri.queryParameters["limit"] {
            guard let n = Int(text), (1...ReportService.unattributedKept).contains(n) else {
                return bad("limit must be 1 to \(ReportService.unattributedKept)")
            }
            limit = n
        }
        return json(.ok, reports.unattributed(limit: limit))
    }
}
