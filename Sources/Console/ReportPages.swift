import Foundation
import Lawful
import MamoriCore

/// Reports from outside: per report type what became of the rows (attributed, unattributed,
/// ambiguous, outside the carrier, duplicates, rejected) with the attributed share as a bar; the
/// open vulnerable-device and abuse-report cases; the last imports; and the reports nobody could
/// be found for, with why. The server hands it plain values.
public struct ReportsView {
    public struct TypeRow {
        var type: String
        var problem: String
        var files: Int
        var rows: Int
        var attributed: Int
        var unattributed: Int
        var ambiguous: Int
        var outside: Int
        var duplicate: Int
        var unmapped: Int
        var rejected: Int
        var lastDay: String
        /// The share of the rows about the carrier's own addresses that found their subscriber, 0–100.
        var share: Int
        var shareText: String

        /// `fates` by their names in the API (`attributed`, `outside_carrier`, …).
        public init(type: String, problem: String, files: Int, fates: [String: Int], lastDay: String?) {
            self.type = type
            self.problem = problem
            self.files = files
            rows = fates.values.reduce(0, +)
            attributed = fates["attributed"] ?? 0
            unattributed = fates["unattributed"] ?? 0
            ambiguous = fates["ambiguous"] ?? 0
            outside = fates["outside_carrier"] ?? 0
            duplicate = fates["duplicate"] ?? 0
            unmapped = fates["unmapped_type"] ?? 0
            rejected = fates["rejected"] ?? 0
            self.lastDay = lastDay ?? "—"
            let own = attributed + unattributed + ambiguous
            share = own == 0 ? 0 : Int((Double(attributed) * 100 / Double(own)).rounded())
            shareText = own == 0 ? "—" : "\(share)%"
        }
    }

    public struct CaseRow {
        var href: String
        var reference: String
        var kind: String
        var problem: String
        var source: String
        var service: String
        var device: String
        var endOfSupport: String
        var days: Int
        var lastDay: String
        var state: String
        var escalated: Bool

        public init(_ c: LawfulCase) {
            href = "/console/cases/\(Format.escapeQuery(c.id))"
            reference = c.reference
            kind = c.kind.rawValue
            problem = c.report?.problem.problem ?? "—"
            source = c.report?.problem.source ?? "—"
            service = [c.report?.problem.service, c.report?.problem.port.map(String.init)].compactMap { $0 }.joined(separator: " ")
            device = c.report?.problem.device ?? "—"
            endOfSupport = c.report?.problem.endOfSupport ?? ""
            days = c.report?.days.count ?? 0
            lastDay = c.report?.days.last ?? "—"
            state = c.state.rawValue
            escalated = c.escalated
        }
    }

    public struct ImportRow {
        var name: String
        var received: String
        var summary: String
        var error: String?

        public init(name: String, received: String, summary: String, error: String?) {
            self.name = name
            self.received = received
            self.summary = summary
            self.error = error
        }
    }

    public struct LostRow {
        var reportType: String
        var address: String
        var time: String
        var reason: String

        public init(reportType: String, address: String, port: UInt16?, time: String, reason: String) {
            self.reportType = reportType
            self.address = address + (port.map { ":\($0)" } ?? "")
            self.time = time
            self.reason = reason
        }
    }

    var types: [TypeRow]
    var noTypes: Bool
    var cases: [CaseRow]
    var noCases: Bool
    var openCases: Int
    var imports: [ImportRow]
    var noImports: Bool
    var lost: [LostRow]
    var noLost: Bool

    public init(types: [TypeRow], cases: [CaseRow], openCases: Int, imports: [ImportRow], lost: [LostRow]) {
        self.types = types
        noTypes = types.isEmpty
        self.cases = cases
        noCases = cases.isEmpty
        self.openCases = openCases
        self.imports = imports
        noImports = imports.isEmpty
        self.lost = lost
        noLost = lost.isEmpty
    }
}
