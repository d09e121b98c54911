import Console
import Foundation
import HTTPTypes
import Hummingbird
import Lawful

/// The console's reports page: what became of the reports taken, by type; the open cases they
/// opened; the last files; the reports nobody could be found for.
extension ConsoleRoutes {
    static let reportCasesShown = 500

    func reportsPage(_ request: Request) async -> Response {
        guard let reports else {
            return html(.ok, page("reports", "reports", ReportsView(types: [], cases: [], openCases: 0, imports: [], lost: []), request))
        }
        let types = reports.totals.sorted { $0.key < $1.key }.map {
            ReportsView.TypeRow(
                type: $0.key, problem: $0.value.problem, files: $0.value.files, fates: $0.value.fates, lastDay: $0.value.lastDay)
        }
        var open: [LawfulCase] = []
        for state in [CaseState.attributed, .basisDecided, .notified, .acknowledged, .held] {
            open += (try? await cases.cases.list(state: state, limit: 10_000))?.filter { $0.report != nil } ?? []
        }
        open.sort { $0.updated > $1.updated }
        let imports = reports.recentImports.reversed().map { i in
            ReportsView.ImportRow(
                name: i.name, received: i.receivedAt,
                summary: i.files.map { f in
                    "\(f.source)/\(f.reportType): \(f.rows) rows, \(f.fates["attributed"] ?? 0) attributed, \(f.casesOpened) opened, \(f.casesMerged) merged, \(f.casesRemediated) remediated"
                }.joined(separator: "; "), error: i.error)
        }
        let lost = reports.unattributed(limit: 100).map {
            ReportsView.LostRow(
                reportType: "\($0.source)/\($0.reportType)", address: $0.address, port: $0.port, time: $0.time, reason: $0.reason)
        }
        let view = ReportsView(
            types: types, cases: open.prefix(Self.reportCasesShown).map(ReportsView.CaseRow.init), openCases: open.count,
            imports: Array(imports), lost: lost)
        return html(.ok, page("reports", "reports", view, request))
    }
}
