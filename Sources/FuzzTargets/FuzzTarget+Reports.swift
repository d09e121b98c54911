import FraudDetection
import MamoriCore
import Reports
import Telephony

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

extension FuzzTarget {
    /// `report-intake`: any file handed to the report intake (byte 0 picks the file name the
    /// intake is told: `.eml`, `.zip`, `.csv`, `.json` or none), read with small limits. Whatever
    /// it is — a mail, a zip, a CSV, JSON — the intake returns report files or throws; every file
    /// it returns accounts for every row, and holds no more reports than rows.
    static func reportIntake(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        let names = [
            "report.eml", "2026-12-01-scan_ssdp-example-asn.csv.zip", "2026-12-01-scan_ssdp-example-asn.csv", "notice.json", "upload",
        ]
        var limits = ReportIntake.Limits()
        limits.maxFileBytes = 1 << 20
        limits.zip.maxTotalBytes = 4 << 20
        limits.zip.maxEntryBytes = 2 << 20
        limits.mime.maxParts = 64
        limits.csv = CSVReader.Limits(maximumFieldBytes: 8192, maximumFields: 256)
        var mapping = ReportMapping.notice
        mapping.name = "feed"
        mapping.fileNames = ["upload"]
        let intake = ReportIntake(mappings: [mapping], limits: limits)
        guard let items = try? intake.read(body, fileName: names[Int(first) % names.count]) else { return }
        for item in items {
            precondition(item.file.accountedFor, "a row neither kept nor rejected in \(item.name)")
            precondition(item.file.keptCount <= item.file.rows && item.file.reports.count == item.file.keptCount, "more reports than rows")
            precondition(
                zip(item.file.rejected, item.file.rejected.dropFirst()).allSatisfy { $0.line < $1.line }, "rejections out of order")
        }
    }
}

extension FuzzTarget {
    /// `call-records`: a softswitch's call records (byte 0 picks the format — Kamailio's log,
    /// Asterisk's Master.csv, a mapped CSV — and the chunk size). Read whole and in chunks they
    /// give the same lines; every line read or refused comes in line order; every call read goes
    /// through the classifier and the fraud engine, whose bounds and figures must hold.
    static func callRecords(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return }
        let body = Array(bytes.dropFirst())
        let formats: [CDRReader.Format] = [
            .kamailio(KamailioAccFormat()), .asterisk(AsteriskCDRFormat(offsetMinutes: 540)),
            .mapped(
                CDRMapping(
                    name: "feed",
                    columns: .init(
                        account: "line", caller: "cli", dialled: "called", start: "start", duration: "seconds", outcome: "result"))),
        ]
        let format = formats[Int(first) % formats.count]
        let chunk = Int(first >> 2) + 1
        func read(_ size: Int) -> [CDRLine] {
            var reader = CDRReader(format: format, notAfter: Self.now + 300_000)
            var out: [CDRLine] = []
            var rest = body[...]
            while !rest.isEmpty {
                reader.feed(rest.prefix(size)) { out.append($0) }
                rest = rest.dropFirst(size)
            }
            reader.finish { out.append($0) }
            return out
        }
        let whole = read(max(1, body.count))
        let pieces = read(chunk)
        precondition(whole == pieces, "reading in chunks of \(chunk) gave other lines")
        precondition(zip(whole, whole.dropFirst()).allSatisfy { $0.line < $1.line }, "lines out of order")
        var settings = FraudSettings()
        settings.maximumLines = 8
        settings.maximumCallsPerLine = 16
        settings.maximumKnownRanges = 4
        var engine = FraudEngine(detector: FraudDetector(settings: settings))
        let classifier = CallClassifier(rules: .japan, plan: .shipped)
        for case .success(let record) in whole.map(\.result) {
            precondition(record.start <= Self.now + 300_000, "a call past the clock's bound")
            precondition((0...86_400).contains(record.billedSeconds), "a duration out of bounds")
            let call = classifier.classify(record)
            let out = engine.take(call)
            for change in out.changes {
                let f = change.rule.figures
                precondition(f.fraudulentAttempts <= f.attempts && (0...1).contains(f.share), "figures out of bounds")
                precondition(!change.rule.prefix.hasPrefix("81"), "a rule on the home country")
            }
        }
        _ = engine.tick(now: Self.now + 86_400_000)
        precondition(engine.detector.linesFollowed <= 8, "more lines followed than the bound")
    }
}
