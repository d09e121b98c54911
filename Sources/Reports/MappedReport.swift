import FlowCodec
import Foundation
import MamoriCore

/// How to read a CSV or JSON feed whose columns Mamori does not know by itself (a national
/// CSIRT's, a scanning project's): which column holds the address, the time, the port…, and what
/// problem the feed's rows mean. Carriers write these in the configuration
/// (`reports.mappings`); ``notice`` is the one Mamori ships, for NOTICE-style notifications.
public struct ReportMapping: Sendable, Hashable {
    /// The column names each field may have (the first present in the header is used).
    public struct Columns: Sendable, Hashable {
        public var address: [String]
        public var time: [String]
        public var port: [String] = []
        public var transport: [String] = []
        public var asn: [String] = []
        public var tag: [String] = []
        /// The column whose value says what was found (see ``ReportMapping/problemValues``).
        public var problem: [String] = []
        public var infection: [String] = []
        public var deviceVendor: [String] = []
        public var deviceType: [String] = []
        public var deviceModel: [String] = []

        public init(address: [String], time: [String]) {
            self.address = address
            self.time = time
        }

        /// Every column name the mapping reads.
        var all: Set<String> {
            Set([address, time, port, transport, asn, tag, problem, infection, deviceVendor, deviceType, deviceModel].joined())
        }
    }

    /// The source the reports are credited to (`notice`, `jpcert`).
    public var name: String
    /// The report type, when no problem column tells rows apart.
    public var reportType: String
    /// The problem of every row, unless its problem column says otherwise.
    public var problem: ReportProblem
    /// File names (`*` wildcards) this mapping reads; empty: any file whose header has the
    /// address and time columns.
    public var fileNames: [String] = []
    public var columns: Columns
    /// A problem column's values (lowercased) and the problem each means; a value not listed
    /// gives ``problem``.
    public var problemValues: [String: ReportProblem] = [:]
    /// Minutes east of UTC for times written without a zone (540 for JST).
    public var timeZoneOffsetMinutes = 0

    public init(name: String, reportType: String, problem: ReportProblem, columns: Columns) {
        self.name = name
        self.reportType = reportType
        self.problem = problem
        self.columns = columns
    }

    /// NOTICE-style notifications (the national IoT survey's findings, as Mamori reads them):
    /// `time`, `address` (or `ip`), `port`, `protocol`, `weakness`, `device_type`,
    /// `device_vendor`, `device_model`; times without a zone are JST. The weakness names what was
    /// found: weak or default credentials by default.
    public static let notice: ReportMapping = {
        var columns = Columns(address: ["address", "ip", "ip_address"], time: ["time", "timestamp", "observed_at"])
        columns.port = ["port"]
        columns.transport = ["protocol", "transport"]
        columns.problem = ["weakness", "finding"]
        columns.deviceType = ["device_type"]
        columns.deviceVendor = ["device_vendor", "vendor"]
        columns.deviceModel = ["device_model", "model"]
        columns.tag = ["service"]
        var mapping = ReportMapping(name: "notice", reportType: "notice", problem: .weakCredentials, columns: columns)
        mapping.problemValues = [
            "weak-credentials": .weakCredentials, "weak_credentials": .weakCredentials, "default-password": .weakCredentials,
            "weak-password": .weakCredentials, "open-service": .exposedService, "exposed-service": .exposedService,
            "open-resolver": .openResolver, "amplifier": .amplifier, "infected": .infected, "malware": .infected,
        ]
        mapping.timeZoneOffsetMinutes = 540
        return mapping
    }()

    /// Whether the mapping is for a file of this name (by its `fileNames` patterns).
    public func matches(fileName: String) -> Bool {
        let name = String(fileName.split(separator: "/").last ?? "")
        return fileNames.contains { Self.glob($0.lowercased(), name.lowercased()) }
    }

    /// Whether a header has this mapping's address and time columns.
    public func fits(header: [String]) -> Bool {
        let names = Set(header)
        return columns.address.contains(where: names.contains) && columns.time.contains(where: names.contains)
    }

    /// `*` matches any run of characters; everything else itself.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return pattern == text }
        var rest = Substring(text)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts.last!)
    }

    /// One row, by lowercased column name, as a report or the reason it is rejected.
    func report(_ row: [String: String], used: Set<String>) -> Result<ExternalReport, ReportRowProblem> {
        func value(_ names: [String]) -> String? {
            for name in names { if let v = row[name]?.trimmedSpaces, !v.isEmpty { return v } }
            return nil
        }
        guard let text = value(columns.address), let address = IPAddress(text) else { return .failure(.noAddress) }
        guard let timeText = value(columns.time),
            let time = TimeText.parse(timeText, defaultOffsetMinutes: timeZoneOffsetMinutes)
        else { return .failure(.badTime) }
        var port: UInt16?
        if let text = value(columns.port) {
            guard let p = UInt16(text) else { return .failure(.badPort) }
            port = p
        }
        var rowProblem = problem
        var rowType = reportType
        if let found = value(columns.problem)?.lowercased() {
            rowProblem = problemValues[found] ?? problem
            rowType = reportType + ":" + found
        }
        var extra: [String: String] = [:]
        for (name, v) in row where !used.contains(name) && !v.isEmpty { extra[name] = v }
        return .success(
            ExternalReport(
                source: name, reportType: rowType, problem: rowProblem, time: time, address: address, port: port,
                transport: value(columns.transport)?.lowercased(), asn: value(columns.asn).flatMap { UInt32($0) },
                tag: value(columns.tag), infection: value(columns.infection), deviceVendor: value(columns.deviceVendor),
                deviceType: value(columns.deviceType), deviceModel: value(columns.deviceModel), extra: extra))
    }
}

/// Why a row is not kept (the `reason` of a ``RejectedRow``).
enum ReportRowProblem: String, Error {
    case noAddress = "no_address"
    case badTime = "bad_time"
    case badPort = "bad_port"
    case fieldCount = "field_count"
    case notAnObject = "not_an_object"
}

/// A CSV feed read with a ``ReportMapping``, streamed as ``ShadowserverParser`` is.
public struct MappedCSVParser: Sendable {
    public var mapping: ReportMapping { stream.layout.mapping }
    private var stream: CSVReportStream<Layout>

    public init(mapping: ReportMapping, limits: CSVReader.Limits = CSVReader.Limits()) {
        let file = ReportFile(source: mapping.name, reportType: mapping.reportType, knownType: mapping.problem != .unknown)
        stream = CSVReportStream(layout: Layout(mapping: mapping), file: file, limits: limits)
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) { stream.feed(bytes) }

    public mutating func drainReports() -> [ExternalReport] { stream.drainReports() }

    /// Ends the file. Throws when the header lacks the mapping's address or time column (a wrong
    /// mapping: nothing is imported).
    public mutating func finish() throws(ReportError) -> ReportFile { try stream.finish() }

    /// A mapped feed's header and rows: each row by column name, as the mapping reads it.
    struct Layout: CSVReportLayout {
        let mapping: ReportMapping
        private let used: Set<String>
        private var header: [String] = []
        private(set) var unmappedColumns: [String] = []

        init(mapping: ReportMapping) {
            self.mapping = mapping
            used = mapping.columns.all
        }

        mutating func header(_ lower: [String]) -> String? {
            guard mapping.fits(header: lower) else {
                return
                    "the mapping '\(mapping.name)' wants an address column (\(mapping.columns.address.joined(separator: " or "))) and a time column (\(mapping.columns.time.joined(separator: " or "))); the file's header has \(lower.joined(separator: ", "))"
            }
            header = lower
            unmappedColumns = lower.filter { !used.contains($0) }
            return nil
        }

        func report(_ values: [String]) -> Result<ExternalReport, ReportRowProblem> {
            var row: [String: String] = [:]
            for (name, value) in zip(header, values) where row[name] == nil { row[name] = value }
            return mapping.report(row, used: used)
        }
    }
}

extension ReportMapping {
    /// A JSON feed: an array of objects, an object whose `reports` (or `events`, `data`) member
    /// is one, or JSON Lines (one object a line). Numbers and booleans read as their text; nested
    /// values are kept in `extra` as JSON. A row that is not an object is rejected; a file that
    /// is not JSON is an error.
    public func parseJSON(_ bytes: [UInt8]) throws(ReportError) -> ReportFile {
        var file = ReportFile(source: name, reportType: reportType, knownType: problem != .unknown)
        let used = columns.all
        let objects: [Any]
        do {
            let whole = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            if let array = whole as? [Any] {
                objects = array
            } else if let object = whole as? [String: Any] {
                objects = (object["reports"] ?? object["events"] ?? object["data"]) as? [Any] ?? [object]
            } else {
                throw ReportError("the JSON is neither an object nor an array")
            }
        } catch let error as ReportError {
            throw error
        } catch {
            // JSON Lines: each non-empty line one object.
            var lines: [Any] = []
            for line in bytes.split(separator: 0x0A) where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed]) else {
                    throw ReportError("not JSON, nor JSON Lines: \(error)")
                }
                lines.append(object)
            }
            objects = lines
        }
        for (index, element) in objects.enumerated() {
            file.rows += 1
            guard let object = element as? [String: Any] else {
                file.reject(line: index + 1, reason: ReportRowProblem.notAnObject.rawValue)
                continue
            }
            var row: [String: String] = [:]
            for (key, value) in object {
                let text: String
                switch value {
                case let s as String: text = s
                case let n as NSNumber: text = n.stringValue
                case is NSNull: continue
                default:
                    guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { continue }
                    text = String(decoding: data, as: UTF8.self)
                }
                row[key.lowercased()] = text
            }
            switch report(row, used: used) {
            case .success(let r): file.keep(r)
            case .failure(let reason): file.reject(line: index + 1, reason: reason.rawValue)
            }
        }
        return file
    }
}
