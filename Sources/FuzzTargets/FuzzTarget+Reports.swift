import Reports

extension FuzzTarget {
    /// `shadowserver-csv`: a Shadowserver report (the first byte picks the chunk size it is fed
    /// in, 1 to 256 bytes). Read whole and in chunks, it gives the same reports and rejections;
    /// every data row is kept or rejected, rejected rows come in line order, and every report has
    /// a time and the type its file name gave.
    static func shadowserverCSV(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        let chunk = Int(first) + 1
        let name = "2026-12-01-scan_ntp-example-asn.csv"
        let whole = Result { () throws(ReportError) -> ReportFile in try ShadowserverParser.parse(body, fileName: name) }
        var streamed = ShadowserverParser(fileName: name, limits: CSVReader.Limits(maximumFieldBytes: 4096, maximumFields: 256))
        var rest = body[...]
        while !rest.isEmpty {
            streamed.feed(rest.prefix(chunk))
            rest = rest.dropFirst(chunk)
        }
        let pieces = Result { () throws(ReportError) -> ReportFile in try streamed.finish() }
        guard case .success(let file) = whole else { return }
        precondition(file.accountedFor, "a row neither kept nor rejected")
        precondition(zip(file.rejected, file.rejected.dropFirst()).allSatisfy { $0.line < $1.line }, "rejections out of line order")
        precondition(file.reports.allSatisfy { $0.reportType == "scan_ntp" && $0.problem == .amplifier }, "a report of another type")
        if case .success(let other) = pieces, body.count < 200_000 {
            // The smaller field bound may reject what the whole read kept, never the reverse.
            precondition(other.rows == file.rows, "chunked reading counted other rows")
            precondition(other.reports.count <= file.reports.count, "chunked reading kept more")
        }
    }
}
