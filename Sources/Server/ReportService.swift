import Attribution
import CaseWorkflow
import Crypto
import FlowCodec
import Foundation
import Lawful
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import Reports
import Storage

/// Reports from outside, from file to case: each file is read by the `Reports` intake; each
/// report about the carrier's address space is attributed at its own time (with its port, behind
/// a CGNAT) through the same index as findings; an attributed report becomes a sighting in the
/// subscriber's vulnerable-device or abuse-report case (`CaseService`); the rest are kept for the
/// analyst with the reason (bounded). A daily report that no longer shows a subscriber's device
/// counts towards remediating its case.
///
/// Nothing of a report leaves the carrier, and only what a case needs is stored with it.
public final class ReportService: Sendable {
    public let settings: ReportsSettings
    private let intake: ReportIntake
    private let attribution: AttributionService
    private let cases: CaseService
    private let carrier: PrefixSet
    private let endOfSupport: EndOfSupportList
    private let clock: any WallClock
    private let logger: Logger
    private let state: NIOLockedValueBox<State>
    private let rows: [String: Counter]
    private let files: [String: Counter]
    /// The keys of reports taken and the reports nobody could be found for, across restarts.
    private let store: SQLiteReportStore
    private let storeFailureLogged = NIOLockedValueBox(false)

    /// The most `GET /api/v1/reports/unattributed` returns at once.
    public static let unattributedKept = 10_000

    /// What became of each report, for the metrics and the summaries.
    public enum Fate: String, Sendable, CaseIterable, Encodable {
        case attributed, unattributed, ambiguous
        case outsideCarrier = "outside_carrier"
        case duplicate
        case unmappedType = "unmapped_type"
        case rejected
    }

    struct State {
        var byType: [String: TypeTotals] = [:]
        var imports: [ImportResult] = []
    }

    /// Per report type (`shadowserver/scan_ntp`), since the server started.
    public struct TypeTotals: Sendable, Encodable {
        public var problem: String
        public var files = 0
        public var fates: [String: Int] = [:]
        public var lastDay: String?
    }

    /// A report Mamori could not put to a subscriber, kept for the analyst.
    public struct UnattributedReport: Sendable, Encodable {
        public var source: String
        public var reportType: String
        public var problem: String
        public var address: String
        public var port: UInt16?
        public var time: String
        public var outcome: String
        public var reason: String
        public var receivedAt: String
    }

    /// One file (or mail, or archive) taken in.
    public struct ImportResult: Sendable, Encodable {
        public struct File: Sendable, Encodable {
            public var name: String
            public var source: String
            public var reportType: String
            public var knownType: Bool
            public var rows: Int
            public var rejected: Int
            public var rejectedByReason: [String: Int]
            public var fates: [String: Int]
            public var casesOpened: Int
            public var casesMerged: Int
            public var casesRemediated: Int
            public var day: String?
        }

        public var name: String
        public var receivedAt: String
        public var files: [File]
        public var error: String?
    }

    public init(
        settings: ReportsSettings, detection: DetectionSettings, attribution: AttributionService, cases: CaseService,
        store: SQLiteReportStore, logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory,
        clock: any WallClock = SystemClock()
    ) throws(ConfigurationError) {
        self.store = store
        self.settings = settings
        intake = settings.intake
        self.attribution = attribution
        self.cases = cases
        carrier = PrefixSet(detection.subscriberPrefixes + detection.cgnatPools.map(\.prefix))
        if let path = settings.endOfSupportFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(line: nil, "reports.end_of_support_file: cannot read \(path)", file: nil)
            }
            do {
                endOfSupport = try EndOfSupportList.parse([UInt8](data))
            } catch {
                throw ConfigurationError(line: nil, "reports.end_of_support_file \(path): \(error)", file: nil)
            }
        } else {
            endOfSupport = EndOfSupportList()
        }
        self.clock = clock
        self.logger = logger
        state = NIOLockedValueBox(State())
        var rows: [String: Counter] = [:]
        for fate in Fate.allCases {
            for problem in ReportProblem.allCases {
                rows["\(problem.rawValue)|\(fate.rawValue)"] = Counter(
                    label: "mamori_reports_rows_total", dimensions: [("problem", problem.rawValue), ("fate", fate.rawValue)],
                    factory: metricsFactory)
            }
        }
        self.rows = rows
        files = Dictionary(
            uniqueKeysWithValues: ["taken", "refused"].map {
                ($0, Counter(label: "mamori_reports_files_total", dimensions: [("outcome", $0)], factory: metricsFactory))
            })
    }

    /// Reads a file (CSV, JSON, mail, zip) and takes every report in it. A file the intake
    /// refuses (a zip bomb, no report attachment, a wrong mapping) is refused whole: the result's
    /// `error` says why, and nothing of it reached a case.
    public func ingest(_ bytes: [UInt8], fileName: String) async -> ImportResult {
        let now = clock.milliseconds
        var result = ImportResult(name: fileName, receivedAt: MitigationService.iso(now), files: [])
        let items: [ReportIntake.Item]
        do {
            items = try intake.read(bytes, fileName: fileName)
        } catch {
            result.error = error.description
            logger.notice("report file refused", metadata: ["file": "\(fileName)", "reason": "\(error)"])
            remember(result)
            return result
        }
        for item in items { result.files.append(await take(item, at: now)) }
        remember(result)
        return result
    }

    private func remember(_ result: ImportResult) {
        files[result.error == nil ? "taken" : "refused"]?.increment()
        state.withLockedValue { s in
            s.imports.append(result)
            if s.imports.count > 50 { s.imports.removeFirst(s.imports.count - 50) }
        }
    }

    /// One report file: attribute, de-duplicate, open or merge cases, then the absences.
    private func take(_ item: ReportIntake.Item, at now: Int64) async -> ImportResult.File {
        var file = item.file
        var progress = FileProgress()
        await take(file.drainReports(), into: &progress, at: now)
        return await finish(file, name: item.name, progress: progress)
    }

    /// What a file being taken has come to so far (a streamed file is taken batch by batch).
    struct FileProgress {
        var fates: [Fate: Int] = [:]
        /// The subscribers the file names (for the absences).
        var present = Set<String>()
        var opened = 0
        var merged = 0
        var latest: Int64?
        var problem: ReportProblem?
    }

    /// A batch of a file's reports: those in the carrier's space and of a known problem are
    /// attributed (1,024 at a time, through the index's batch path); the attributed ones that are
    /// new go to their cases; the rest are kept for the analyst.
    private func take(_ reports: [ExternalReport], into p: inout FileProgress, at now: Int64) async {
        func count(_ fate: Fate, _ problem: ReportProblem) {
            p.fates[fate, default: 0] += 1
            rows["\(problem.rawValue)|\(fate.rawValue)"]?.increment()
        }
        // Duplicates are attributed too (they say the device is still there), but make no sighting.
        var candidates: [ExternalReport] = []
        for r in reports {
            p.latest = max(p.latest ?? r.time, r.time)
            if p.problem == nil { p.problem = r.problem }
            guard r.problem != .unknown else {
                count(.unmappedType, r.problem)
                continue
            }
            guard carrier.contains(r.address) else {
                count(.outsideCarrier, r.problem)
                continue
            }
            candidates.append(r)
        }
        let fresh: [Bool]
        do {
            fresh = try store.remember(candidates.map(Self.key), at: now)
        } catch {
            // The store cannot be written (a full disk): take every report as new. A report taken
            // twice merges into its case again; no second notice follows from it.
            fresh = Array(repeating: true, count: candidates.count)
            logStoreFailure(error)
        }
        let asked: [(report: ExternalReport, duplicate: Bool)] = zip(candidates, fresh).map { ($0, !$1) }
        var sightings: [(sighting: ReportSighting, subscriber: String)] = []
        var lost: [SQLiteReportStore.Unattributed] = []
        var start = 0
        while start < asked.count {
            let batch = asked[start..<min(asked.count, start + 1024)]
            start += batch.count
            let answers = attribution.resolve(batch.map { AttributionQuery($0.report.address, port: $0.report.port, at: $0.report.time) })
            for ((r, duplicate), answer) in zip(batch, answers) {
                if answer.outcome == .attributed, let who = answer.pseudonym {
                    p.present.insert(who)
                    if duplicate {
                        count(.duplicate, r.problem)
                    } else {
                        count(.attributed, r.problem)
                        sightings.append((sighting(r, reportType: "\(r.source)/\(Self.fileType(r.reportType))"), who))
                    }
                    continue
                }
                if duplicate {
                    count(.duplicate, r.problem)
                    continue
                }
                let ambiguous = answer.outcome == .ambiguous
                count(ambiguous ? .ambiguous : .unattributed, r.problem)
                lost.append(
                    SQLiteReportStore.Unattributed(
                        source: r.source, reportType: r.reportType, problem: r.problem.rawValue, address: "\(r.address)", port: r.port,
                        time: r.time, receivedAt: now, outcome: answer.outcome.rawValue,
                        reason: ambiguous
                            ? "more than one subscriber held the address at that time (a CGNAT address "
                                + (r.port == nil ? "and the report gives no port" : "whose port block changed hands") + ")"
                            : "no identity record (RADIUS, DHCP lease, CGNAT block, static assignment) covers the address at that time"))
            }
        }
        if !sightings.isEmpty {
            let outcome = await cases.take(reports: sightings)
            p.opened += outcome.opened
            p.merged += outcome.merged
        }
        do {
            try store.keep(lost)
        } catch {
            logStoreFailure(error)
        }
    }

    /// The type a file's reports share (a mapped feed's `type:value` rows share `type`).
    static func fileType(_ reportType: String) -> String { String(reportType.split(separator: ":").first ?? Substring(reportType)) }

    /// The end of a file: the rejected rows counted, the absences of a complete daily report, the totals.
    /// `whole`: the file arrived complete (an upload cut short is not).
    private func finish(_ file: ReportFile, name: String, progress: FileProgress, whole: Bool = true) async -> ImportResult.File {
        var p = progress
        let reportType = "\(file.source)/\(file.reportType)"
        p.fates[.rejected] = file.rejectedCount
        rows["unknown|rejected"]?.increment(by: Int64(file.rejectedCount))
        // A complete daily report that no longer shows a subscriber's device: one day absent. Only
        // from a file read whole and clean: a row cut off or rejected could be that very device.
        let day = p.latest.map(ReportCaseEvidence.day)
        var remediated = 0
        let clean = whole && file.rejectedCount == 0
        if !clean, settings.completeDailySources.contains(file.source.lowercased()) {
            logger.notice(
                "a daily report with rejected rows or cut short: no case is marked remediated from it",
                metadata: ["file": "\(name)", "rejected": "\(file.rejectedCount)"])
        }
        if let day, clean, settings.completeDailySources.contains(file.source.lowercased()) {
            remediated = await cases.reportAbsent(
                reportType: reportType, day: day, present: p.present, remediateAfter: settings.remediateAfterAbsentDays)
        }
        state.withLockedValue { s in
            guard s.byType[reportType] != nil || s.byType.count < 1000 else { return }
            var totals = s.byType[reportType] ?? TypeTotals(problem: p.problem?.rawValue ?? "unknown")
            totals.files += 1
            for (fate, n) in p.fates { totals.fates[fate.rawValue, default: 0] += n }
            if let day, day > (totals.lastDay ?? "") { totals.lastDay = day }
            s.byType[reportType] = totals
        }
        logger.info(
            "report file taken",
            metadata: [
                "file": "\(name)", "type": "\(reportType)", "rows": "\(file.rows)", "attributed": "\(p.fates[.attributed] ?? 0)",
                "cases_opened": "\(p.opened)", "remediated": "\(remediated)",
            ])
        return ImportResult.File(
            name: name, source: file.source, reportType: file.reportType, knownType: file.knownType, rows: file.rows,
            rejected: file.rejectedCount, rejectedByReason: file.rejectedByReason,
            fates: Dictionary(uniqueKeysWithValues: p.fates.map { ($0.key.rawValue, $0.value) }), casesOpened: p.opened,
            casesMerged: p.merged, casesRemediated: remediated, day: day)
    }

    /// Reads a report arriving in pieces (an HTTP body). A plain CSV is taken as it comes, a
    /// batch of reports at a time, up to `reports.max_csv_mib`; anything else (a mail, a zip,
    /// JSON) is gathered first, up to `reports.max_file_mib`, and read whole. A CSV cut short
    /// keeps the rows that arrived whole.
    public func ingest(stream: some AsyncSequence<ByteBuffer, any Error>, fileName: String) async -> ImportResult {
        let now = clock.milliseconds
        var result = ImportResult(name: fileName, receivedAt: MitigationService.iso(now), files: [])
        var iterator = stream.makeAsyncIterator()
        var first: [UInt8] = []
        do {
            while first.count < 64 << 10, let chunk = try await iterator.next() { first += chunk.readableBytesView }
        } catch {
            result.error = "the upload broke off: \(error)"
            remember(result)
            return result
        }
        guard ReportIntake.kind(first, fileName: fileName) == .csv else {
            var bytes = first
            do {
                while let chunk = try await iterator.next() {
                    bytes += chunk.readableBytesView
                    guard bytes.count <= intake.limits.maxFileBytes else {
                        result.error =
                            "more than the \(intake.limits.maxFileBytes) bytes a report mail, archive or JSON file may have (reports.max_file_mib)"
                        remember(result)
                        return result
                    }
                }
            } catch {
                result.error = "the upload broke off: \(error)"
                remember(result)
                return result
            }
            return await ingest(bytes, fileName: fileName)
        }
        var parser: ReportCSVParser
        do {
            parser = try intake.csvParser(header: first, fileName: fileName)
        } catch {
            result.error = error.description
            remember(result)
            return result
        }
        var progress = FileProgress()
        var received = 0
        var chunk = first
        var broke: String?
        while true {
            parser.feed(chunk)
            received += chunk.count
            if received > settings.maxCSVMiB << 20 {
                broke = "the CSV passed reports.max_csv_mib (\(settings.maxCSVMiB) MiB): the rows before were taken, the rest was not read"
                break
            }
            let reports = parser.drainReports()
            if !reports.isEmpty { await take(reports, into: &progress, at: now) }
            do {
                guard let next = try await iterator.next() else { break }
                chunk = Array(next.readableBytesView)
            } catch {
                broke = "the upload broke off after \(received) bytes: the rows before were taken"
                break
            }
        }
        do {
            var file = try parser.finish()
            await take(file.drainReports(), into: &progress, at: now)
            result.files.append(await finish(file, name: fileName, progress: progress, whole: broke == nil))
        } catch {
            result.error = error.description
        }
        if let broke { result.error = broke }
        remember(result)
        return result
    }

    /// The report as the case workflow takes it.
    func sighting(_ r: ExternalReport, reportType: String) -> ReportSighting {
        let device = [r.deviceVendor, r.deviceModel].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        let problem = ReportedProblem(
            problem: r.problem.rawValue, source: r.source, service: r.tag?.lowercased() ?? Self.service(of: r.reportType), port: r.port,
            transport: r.transport, device: device.isEmpty ? nil : device,
            endOfSupport: endOfSupport.endOfSupport(vendor: r.deviceVendor, model: r.deviceModel), family: r.infection)
        let place = "\(r.address)" + (r.port.map { ":\($0)" } ?? "") + (r.transport.map { "/\($0)" } ?? "")
        let digest = SHA256.hash(data: Array("\(Self.key(r))|\(r.address)|\(r.time)".utf8)).prefix(6).map { String(format: "%02x", $0) }
            .joined()
        return ReportSighting(
            id: "report:\(reportType)/\(ReportCaseEvidence.day(r.time))/\(digest)", problem: problem, reportType: reportType, time: r.time,
            device: place)
    }

    /// The service a report type names (`scan_ntp` → `ntp`, `scan6_ssdp` → `ssdp`).
    static func service(of type: String) -> String? {
        for prefix in ["scan6_", "scan_", "event6_", "event4_"] where type.hasPrefix(prefix) {
            let rest = type.dropFirst(prefix.count)
            return rest.isEmpty ? nil : String(rest)
        }
        return nil
    }

    /// What makes two reports the same — who, what, where, when — as 64 bits of SHA-256, the
    /// same in every run (the store keeps them across restarts).
    static func key(_ r: ExternalReport) -> Int64 {
        let text = "\(r.source)|\(r.reportType)|\(r.address)|\(r.port.map(String.init) ?? "")|\(r.time)"
        return SHA256.hash(data: Array(text.utf8)).prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    private func logStoreFailure(_ error: any Error) {
        let first = storeFailureLogged.withLockedValue { logged in
            defer { logged = true }
            return !logged
        }
        if first {
            logger.error("the reports store cannot be written; duplicates are not recognised meanwhile", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes remembered report keys and unattributed reports past `reports.retention_days`.
    public func sweep() {
        do {
            let deleted = try store.sweep(before: clock.milliseconds - Int64(settings.retentionDays) * 86_400_000)
            if deleted > 0 { logger.info("reports past retention deleted", metadata: ["rows": "\(deleted)"]) }
        } catch {
            logger.error("the reports retention sweep failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: What the API and the console show

    public var totals: [String: TypeTotals] { state.withLockedValue { $0.byType } }
    public var recentImports: [ImportResult] { state.withLockedValue { $0.imports } }
    public func unattributed(limit: Int) -> [UnattributedReport] {
        ((try? store.unattributed(limit: limit)) ?? []).map {
            UnattributedReport(
                source: $0.source, reportType: $0.reportType, problem: $0.problem, address: $0.address, port: $0.port,
                time: MitigationService.iso($0.time), outcome: $0.outcome, reason: $0.reason,
                receivedAt: MitigationService.iso($0.receivedAt))
        }
    }
}
