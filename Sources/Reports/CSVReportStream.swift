import MamoriCore

/// How one CSV report layout (Shadowserver's, a mapped feed's) reads its header and its rows.
protocol CSVReportLayout: Sendable {
    /// Takes the header (names trimmed and lowercased): nil when the file is of this layout,
    /// else why not (nothing of the file is read then).
    mutating func header(_ names: [String]) -> String?
    /// The header's columns the layout keeps only in each report's `extra`.
    var unmappedColumns: [String] { get }
    /// One row, as many values as the header has names.
    func report(_ values: [String]) -> Result<ExternalReport, ReportRowProblem>
}

/// A CSV report read as a stream, whatever its layout: the header first, then each row kept or
/// rejected with its line and reason. Rows with fewer fields than the header have their last
/// columns read as empty (as Python's csv.DictReader, which intelmq's parsers use, reads them)
/// and are counted; rows with more are rejected (`field_count`).
struct CSVReportStream<Layout: CSVReportLayout>: Sendable {
    var layout: Layout
    private var reader: CSVReader
    private var columns: Int?
    private(set) var file: ReportFile
    private var fileError: String?

    init(layout: Layout, file: ReportFile, limits: CSVReader.Limits) {
        self.layout = layout
        self.file = file
        reader = CSVReader(limits: limits)
    }

    mutating func feed(_ bytes: some Sequence<UInt8>) {
        var records: [CSVReader.Record] = []
        reader.feed(bytes) { records.append($0) }
        for r in records { take(r) }
    }

    mutating func drainReports() -> [ExternalReport] { file.drainReports() }

    /// Ends the file. Throws when it is not of the layout (its header says so) or empty.
    mutating func finish() throws(ReportError) -> ReportFile {
        var records: [CSVReader.Record] = []
        reader.finish { records.append($0) }
        for r in records { take(r) }
        if let fileError { throw ReportError(fileError) }
        guard columns != nil else { throw ReportError("an empty file: no header line") }
        return file
    }

    private mutating func take(_ record: CSVReader.Record) {
        guard fileError == nil else { return }
        guard let columns else {
            switch record.fields {
            case .failure(let e): fileError = "the header line cannot be read (\(e.rawValue))"
            case .success(let names):
                let lower = names.map { $0.trimmedSpaces.lowercased() }
                if let refusal = layout.header(lower) {
                    fileError = refusal
                    return
                }
                self.columns = lower.count
                file.unmappedColumns = layout.unmappedColumns
            }
            return
        }
        file.rows += 1
        switch record.fields {
        case .failure(let e):
            file.reject(line: record.line, reason: e.rawValue)
        case .success(var values):
            guard values.count <= columns else { return file.reject(line: record.line, reason: ReportRowProblem.fieldCount.rawValue) }
            if values.count < columns {
                file.shortRows += 1
                values += Array(repeating: "", count: columns - values.count)
            }
            switch layout.report(values) {
            case .success(let r): file.keep(r)
            case .failure(let reason): file.reject(line: record.line, reason: reason.rawValue)
            }
        }
    }
}
