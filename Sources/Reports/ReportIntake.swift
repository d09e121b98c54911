import MamoriCore

/// Any report file Mamori takes in, read to typed reports: a CSV (Shadowserver's, a NOTICE-style
/// notification, or a feed with a configured mapping), a JSON feed, an e-mail (an ARF or X-ARF
/// complaint, or a report mail with CSV, JSON or zip attachments), or a zip of any of these.
///
/// What a file is comes from its name and its first bytes, never from the sender's say-so alone:
/// a `.csv` that holds a zip is read as a zip. Limits bound every step; a file that passes one
/// is refused whole (nothing half-imported), with the reason.
public struct ReportIntake: Sendable {
    public struct Limits: Sendable {
        /// One file or message, before unpacking.
        public var maxFileBytes = 64 << 20
        public var zip = ZipReader.Limits()
        public var mime = MIMEEntity.Limits()
        public var csv = CSVReader.Limits()
        public init() {}
    }

    /// The carrier's own mappings, tried before the built-in formats.
    public var mappings: [ReportMapping]
    public var limits: Limits

    public init(mappings: [ReportMapping] = [], limits: Limits = Limits()) {
        self.mappings = mappings
        self.limits = limits
    }

    /// One file read: the report files in it (a mail or a zip can hold several), each named.
    public struct Item: Sendable {
        /// The name the reports were read under (`report.eml › 2026-12-01-scan_ntp.csv.zip › …csv`).
        public var name: String
        public var file: ReportFile
    }

    /// Reads a whole file. Throws when the file, or any part of it, cannot be read as a report,
    /// or passes a limit.
    public func read(_ bytes: [UInt8], fileName: String) throws(ReportError) -> [Item] {
        try read(bytes, fileName: fileName, path: fileName, depth: 0)
    }

    private func read(_ bytes: [UInt8], fileName: String, path: String, depth: Int) throws(ReportError) -> [Item] {
        guard bytes.count <= limits.maxFileBytes else {
            throw ReportError("\(path): \(bytes.count) bytes, more than the \(limits.maxFileBytes) a report file may have")
        }
        switch Self.kind(bytes, fileName: fileName) {
        case .zip:
            guard depth < 2 else { throw ReportError("\(path): an archive inside an archive inside … is not opened") }
            let files = try ZipReader.files(bytes, limits: limits.zip)
            guard !files.isEmpty else { throw ReportError("\(path): the archive holds no files") }
            var items: [Item] = []
            for f in files { items += try read(f.bytes, fileName: f.name, path: path + " › " + f.name, depth: depth + 1) }
            return items
        case .mail:
            guard depth < 2 else { throw ReportError("\(path): a message inside an archive inside … is not opened") }
            return try readMail(bytes, path: path, depth: depth)
        case .json:
            let mapping = mappings.first { $0.matches(fileName: fileName) } ?? .notice
            return [Item(name: path, file: try mapping.parseJSON(bytes))]
        case .csv:
            do {
                var parser = try csvParser(header: bytes.prefix(256 << 10), fileName: fileName)
                parser.feed(bytes)
                return [Item(name: path, file: try parser.finish())]
            } catch {
                throw ReportError(depth == 0 ? error.description : "\(path): \(error)")
            }
        }
    }

    private func readMail(_ bytes: [UInt8], path: String, depth: Int) throws(ReportError) -> [Item] {
        let message = try MIMEEntity.parse(bytes, limits: limits.mime)
        if let file = AbuseMail.arf(message) ?? AbuseMail.xarf(message) { return [Item(name: path, file: file)] }
        let attachments = message.allParts.filter { part in
            part.parts.isEmpty && (part.fileName != nil || ["application/zip", "text/csv", "application/json"].contains(part.contentType))
        }
        guard !attachments.isEmpty else {
            let types = message.allParts.map(\.contentType).joined(separator: ", ")
            throw ReportError("\(path): the message is no ARF or X-ARF report and has no report attachment (its parts: \(types))")
        }
        var items: [Item] = []
        for (index, part) in attachments.enumerated() {
            let name = part.fileName ?? "attachment-\(index + 1)" + (part.contentType == "application/zip" ? ".zip" : ".csv")
            guard !part.body.isEmpty else { throw ReportError("\(path) › \(name): the attachment is empty") }
            items += try read(part.body, fileName: name, path: path + " › " + name, depth: depth + 1)
        }
        return items
    }

    /// What a file is, as ``kind(_:fileName:)`` tells from its name and first bytes.
    public enum Kind: Sendable { case zip, mail, json, csv }

    /// What the bytes are: a zip by its signature; JSON by a leading `{` or `[`; a mail by its
    /// `.eml` name or a first line that is a header field or an mbox `From ` line; else CSV.
    public static func kind(_ bytes: [UInt8], fileName: String) -> Kind {
        if ZipReader.looksLikeZip(bytes) { return .zip }
        let lower = fileName.lowercased()
        let start = bytes.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 == 0xEF || $0 == 0xBB || $0 == 0xBF }
        if start.first == 0x7B || start.first == 0x5B { return .json }
        if lower.hasSuffix(".eml") || lower.hasSuffix(".msg") || lower.hasSuffix(".mbox") { return .mail }
        let firstLine = String(decoding: bytes.prefix(200).prefix { $0 != 0x0A }, as: UTF8.self)
        if firstLine.hasPrefix("From ") { return .mail }
        let names = [
            "received:", "return-path:", "from:", "to:", "date:", "subject:", "message-id:", "mime-version:", "delivered-to:", "x-",
        ]
        if !lower.hasSuffix(".csv"), names.contains(where: firstLine.lowercased().hasPrefix), firstLine.contains(": ") { return .mail }
        return .csv
    }

    /// The parser for a CSV whose first bytes are `header`: a configured mapping named for the
    /// file, else Shadowserver's layout, else a configured mapping whose columns the header has,
    /// else NOTICE's. Throws when none fits, naming the columns found.
    public func csvParser(header: some Collection<UInt8>, fileName: String) throws(ReportError) -> ReportCSVParser {
        if let named = mappings.first(where: { $0.matches(fileName: fileName) }) {
            return .mapped(MappedCSVParser(mapping: named, limits: limits.csv))
        }
        var reader = CSVReader(limits: limits.csv)
        var first: [String]?
        reader.feed(header) { record in
            if first == nil, case .success(let names) = record.fields { first = names.map { $0.trimmedSpaces.lowercased() } }
        }
        if first == nil {
            reader.finish { if first == nil, case .success(let n) = $0.fields { first = n.map { $0.trimmedSpaces.lowercased() } } }
        }
        let columns = first ?? []
        if columns.contains("timestamp"), columns.contains("ip") || columns.contains("src_ip") {
            return .shadowserver(ShadowserverParser(fileName: fileName, limits: limits.csv))
        }
        if let fitting = (mappings + [.notice]).first(where: { $0.fits(header: columns) }) {
            return .mapped(MappedCSVParser(mapping: fitting, limits: limits.csv))
        }
        throw ReportError(
            "not a report format Mamori knows (its columns: \(columns.prefix(20).joined(separator: ", "))); a reports.mappings entry can name its address and time columns"
        )
    }
}

/// A streaming CSV report parser of either kind. (Two optionals rather than an enum with
/// payloads: a payload is mutated through a copy, which would copy the parser's buffers on every
/// chunk.)
public struct ReportCSVParser: Sendable {
    private var shadowserver: ShadowserverParser?
    private var mapped: MappedCSVParser?

    static func shadowserver(_ p: ShadowserverParser) -> ReportCSVParser { ReportCSVParser(shadowserver: p, mapped: nil) }
    static func mapped(_ p: MappedCSVParser) -> ReportCSVParser { ReportCSVParser(shadowserver: nil, mapped: p) }

    /// The source the reports are credited to.
    public var source: String { mapped?.mapping.name ?? "shadowserver" }

    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        shadowserver?.feed(bytes)
        mapped?.feed(bytes)
    }

    public mutating func drainReports() -> [ExternalReport] {
        shadowserver?.drainReports() ?? mapped?.drainReports() ?? []
    }

    public mutating func finish() throws(ReportError) -> ReportFile {
        if shadowserver != nil { return try shadowserver!.finish() }
        return try mapped!.finish()
    }
}
