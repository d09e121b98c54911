import FlowCodec
import Foundation

/// A tshark decode (`tshark -T json --no-duplicate-keys`) of a NetFlow / IPFIX capture, reduced to
/// what the tests compare: per frame, the header fields and the data records in wire order.
///
/// With `--no-duplicate-keys` repeated keys become arrays and every value is a string. Object key
/// order is not kept by `JSONSerialization`, so sets, flows and v5 PDUs are ordered by the index
/// tshark puts in their names ("Set 2 [id=256] (3 flows)", "Flow 3", "pdu 4/30").
struct TsharkCapture {
    struct Record {
        var frame: Int
        /// Set / flowset ID (the template ID); 0 for NetFlow v5 PDUs.
        var templateID: UInt16
        /// NetFlow v9 source ID / IPFIX observation domain of the frame.
        var domain: UInt32
        var isOptions: Bool
        /// Every leaf value of the record, flattened (nested trees such as `cflow.timedelta_tree`
        /// included), in document order per key.
        var values: [String: [String]]

        func string(_ key: String) -> String? { values[key]?.first }
        func has(_ key: String) -> Bool { values[key] != nil }
        /// An unsigned integer (decimal or 0x-hex).
        func uint(_ key: String) -> UInt64? { string(key).flatMap(TsharkCapture.parseUInt) }
        func address(_ key: String) -> IPAddress? { string(key).flatMap { IPAddress($0) } }
        /// A tshark absolute time ("Oct  9, 2015 09:47:47.569000000 UTC") as ms since 1970.
        func absoluteMilliseconds(_ key: String) -> Int64? { string(key).flatMap(TsharkCapture.parseAbsoluteTime) }
        /// A tshark relative time in seconds ("2064.637000000") as ms.
        func relativeMilliseconds(_ key: String) -> Int64? { string(key).flatMap(TsharkCapture.parseSeconds) }
    }

    struct Frame {
        var number: Int
        var sourceAddress: IPAddress?
        var hasFlowLayer: Bool
        /// Header fields (version, sysuptime, unix_secs, …), flattened.
        var header: [String: [String]]
        var records: [Record]
        /// Data sets tshark could not decode ("no template found").
        var setsWithoutTemplate: Int

        func headerString(_ key: String) -> String? { header[key]?.first }
        var flowRecords: [Record] { records.filter { !$0.isOptions } }
        var optionsRecords: [Record] { records.filter(\.isOptions) }
    }

    var frames: [Frame]

    var allRecords: [Record] { frames.flatMap(\.records) }

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let packets = try JSONSerialization.jsonObject(with: data) as? [Any] else {
            throw TsharkError("\(path): top level is not an array")
        }
        // Options template IDs per observation domain, updated as templates are (re)defined.
        var kinds: [UInt32: [UInt16: Bool]] = [:]
        var frames: [Frame] = []
        for packet in packets {
            guard let layers = ((packet as? [String: Any])?["_source"] as? [String: Any])?["layers"] as? [String: Any] else {
                throw TsharkError("\(path): packet without _source.layers")
            }
            let frameLayer = layers["frame"] as? [String: Any]
            let number = (frameLayer?["frame.number"] as? String).flatMap { Int($0) } ?? frames.count + 1
            let source =
                ((layers["ip"] as? [String: Any])?["ip.src"] as? String ?? (layers["ipv6"] as? [String: Any])?["ipv6.src"] as? String)
                .flatMap { IPAddress($0) }
            var frame = Frame(number: number, sourceAddress: source, hasFlowLayer: false, header: [:], records: [], setsWithoutTemplate: 0)
            if let cflow = layers["cflow"] as? [String: Any] {
                frame.hasFlowLayer = true
                Self.parse(cflow: cflow, into: &frame, kinds: &kinds)
            }
            frames.append(frame)
        }
        self.frames = frames
    }

    private static func parse(cflow: [String: Any], into frame: inout Frame, kinds: inout [UInt32: [UInt16: Bool]]) {
        var sets: [(index: Int, name: String, body: [String: Any])] = []
        var pdus: [(index: Int, body: [String: Any])] = []
        for (key, value) in cflow {
            if key.hasPrefix("FlowSet ") || key.hasPrefix("Set "), let body = value as? [String: Any] {
                sets.append((Self.leadingIndex(after: key.hasPrefix("Set ") ? "Set " : "FlowSet ", in: key), key, body))
            } else if key.hasPrefix("pdu "), let body = value as? [String: Any] {
                pdus.append((Self.leadingIndex(after: "pdu ", in: key), body))
            } else {
                Self.flatten(value, key: key, into: &frame.header)
            }
        }
        let domain = UInt32(frame.headerString("cflow.source_id") ?? frame.headerString("cflow.od_id") ?? "0") ?? 0
        for (index, body) in pdus.sorted(by: { $0.index < $1.index }) {
            _ = index
            var values: [String: [String]] = [:]
            for (k, v) in body { Self.flatten(v, key: k, into: &values) }
            frame.records.append(Record(frame: frame.number, templateID: 0, domain: domain, isOptions: false, values: values))
        }
        for set in sets.sorted(by: { $0.index < $1.index }) {
            let setID = UInt16((set.body["cflow.flowset_id"] as? String) ?? "") ?? 0
            var flows: [(index: Int, body: [String: Any])] = []
            for (key, value) in set.body {
                guard let body = value as? [String: Any] else {
                    if key.hasPrefix("Data ") && key.contains("no template found") { frame.setsWithoutTemplate += 1 }
                    continue
                }
                if key.hasPrefix("Options Template (Id = ") {
                    kinds[domain, default: [:]][UInt16(Self.leadingIndex(after: "Options Template (Id = ", in: key))] = true
                } else if key.hasPrefix("Template (Id = ") {
                    kinds[domain, default: [:]][UInt16(Self.leadingIndex(after: "Template (Id = ", in: key))] = false
                } else if key.hasPrefix("Flow ") {
                    flows.append((Self.leadingIndex(after: "Flow ", in: key), body))
                } else if key.hasPrefix("Data ") && key.contains("no template found") {
                    frame.setsWithoutTemplate += 1
                }
            }
            let isOptions = kinds[domain]?[setID] ?? false
            for flow in flows.sorted(by: { $0.index < $1.index }) {
                var values: [String: [String]] = [:]
                for (k, v) in flow.body { Self.flatten(v, key: k, into: &values) }
                frame.records.append(Record(frame: frame.number, templateID: setID, domain: domain, isOptions: isOptions, values: values))
            }
        }
    }

    /// Appends every string leaf under `value` to `out`, keyed by its own key.
    private static func flatten(_ value: Any, key: String, into out: inout [String: [String]]) {
        switch value {
        case let s as String:
            out[key, default: []].append(s)
        case let d as [String: Any]:
            for (k, v) in d { flatten(v, key: k, into: &out) }
        case let a as [Any]:
            for v in a { flatten(v, key: key, into: &out) }
        default:
            break
        }
    }

    /// The integer right after `prefix` in `key` ("Flow 12" → 12).
    static func leadingIndex(after prefix: String, in key: String) -> Int {
        Int(key.dropFirst(prefix.count).prefix(while: \.isNumber)) ?? 0
    }

    static func parseUInt(_ s: String) -> UInt64? {
        if s.hasPrefix("0x") { return UInt64(s.dropFirst(2), radix: 16) }
        return UInt64(s)
    }

    /// "2064.637000000" → 2064637 (ms, truncated).
    static func parseSeconds(_ s: String) -> Int64? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]) else { return nil }
        var ms: Int64 = 0
        if parts.count > 1 {
            let frac = String(parts[1].prefix(3)).padding(toLength: 3, withPad: "0", startingAt: 0)
            guard let f = Int64(frac) else { return nil }
            ms = f
        }
        return whole * 1000 + ms
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// "Oct  9, 2015 09:47:47.569000000 UTC" → ms since 1970 (sub-ms digits truncated).
    static func parseAbsoluteTime(_ s: String) -> Int64? {
        let t = s.split(separator: " ", omittingEmptySubsequences: true)
        guard t.count == 5, t[4] == "UTC", let month = months.firstIndex(of: String(t[0])),
            let day = Int64(t[1].dropLast()), let year = Int64(t[2])
        else { return nil }
        let hms = t[3].split(separator: ":")
        guard hms.count == 3, let h = Int64(hms[0]), let m = Int64(hms[1]), let secondsMs = parseSeconds(String(hms[2])) else { return nil }
        return daysFromCivil(year: year, month: Int64(month + 1), day: day) * 86_400_000 + h * 3_600_000 + m * 60_000 + secondsMs
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

struct TsharkError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
