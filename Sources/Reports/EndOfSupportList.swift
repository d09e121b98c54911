import MamoriCore

/// The carrier's list of devices past their maker's end of support: a CSV it maintains
/// (`vendor,model,end_of_support`, a header first; `*` at the end of a model matches every model
/// that starts so). A report naming such a device turns its notice into an end-of-support notice.
public struct EndOfSupportList: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var vendor: String
        /// Lowercased; a trailing `*` is a prefix.
        public var model: String
        /// `YYYY-MM-DD`.
        public var date: String
    }

    public private(set) var entries: [Entry] = []

    public init(entries: [Entry] = []) { self.entries = entries }

    /// Reads the list. Throws on the first line that cannot be used, naming it: a list that
    /// silently drops devices would silently drop notices.
    public static func parse(_ bytes: [UInt8]) throws(ReportError) -> EndOfSupportList {
        var records: [CSVReader.Record] = []
        var reader = CSVReader()
        reader.feed(bytes) { records.append($0) }
        reader.finish { records.append($0) }
        guard let first = records.first, case .success(let header) = first.fields else { throw ReportError("no header line") }
        let names = header.map { $0.trimmedSpaces.lowercased() }
        guard let v = names.firstIndex(of: "vendor"), let m = names.firstIndex(of: "model"),
            let d = names.firstIndex(of: "end_of_support")
        else { throw ReportError("the header must name vendor, model and end_of_support; it has \(names.joined(separator: ", "))") }
        var list = EndOfSupportList()
        for record in records.dropFirst() {
            guard case .success(let fields) = record.fields else { throw ReportError("line \(record.line): cannot be read") }
            if fields.allSatisfy({ $0.trimmedSpaces.isEmpty }) { continue }
            guard fields.count > max(v, m, d) else { throw ReportError("line \(record.line): too few fields") }
            let date = fields[d].trimmedSpaces
            guard let ms = TimeText.parse(date + " 00:00:00"), ms > 0, date.count == 10 else {
                throw ReportError("line \(record.line): end_of_support must be a day like 2023-03-31; got '\(date)'")
            }
            let model = fields[m].trimmedSpaces.lowercased()
            guard !model.isEmpty, model != "*" else { throw ReportError("line \(record.line): a model is needed (a prefix ends with *)") }
            list.entries.append(Entry(vendor: fields[v].trimmedSpaces.lowercased(), model: model, date: date))
        }
        return list
    }

    /// The end-of-support day of a device, if the list has it: the vendor must match when both
    /// name one; the longest matching model wins.
    public func endOfSupport(vendor: String?, model: String?) -> String? {
        guard let model = model?.trimmedSpaces.lowercased(), !model.isEmpty else { return nil }
        let vendor = vendor?.trimmedSpaces.lowercased() ?? ""
        var best: Entry?
        for e in entries {
            guard e.vendor.isEmpty || vendor.isEmpty || e.vendor == vendor else { continue }
            let matches = e.model.hasSuffix("*") ? model.hasPrefix(e.model.dropLast()) : model == e.model
            if matches, e.model.count > (best?.model.count ?? -1) { best = e }
        }
        return best?.date
    }
}
