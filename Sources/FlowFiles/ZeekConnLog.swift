import FlowCodec

/// Zeek's connection log (`conn.log`), as RITA reads it and the Stratosphere lab publishes its
/// labelled captures (IoT-23, security-datasets-for-testing): one line per connection, in Zeek's
/// tab-separated format or its JSON format (one object per line).
///
/// ```text
/// #separator \x09
/// #unset_field	-
/// #fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents	label	detailedlabel
/// 15.2	CxT…	192.168.1.115	49163	41.108.179.197	1177	tcp	-	3.0	0	0	S0	-	-	0	S	2	104	0	0	(empty)	Malicious	CC
/// {"ts":1488980824.1,"uid":"CxT…","id.orig_h":"192.168.1.115","id.orig_p":49163,"id.resp_h":"41.108.179.197","id.resp_p":1177,"proto":"tcp","conn_state":"S0","history":"S","orig_pkts":2,"orig_ip_bytes":104,"resp_pkts":0,"resp_ip_bytes":0}
/// ```
///
/// Pure: text in, connections and per-line errors out; a bad line never stops the parse.
///
/// **Header (TSV).** `#separator` (with `\xHH` escapes) gives the field separator (tab when
/// absent), `#unset_field` (`-`) and `#empty_field` (`(empty)`) the placeholders, and `#fields`
/// the column order — a later `#fields` line (concatenated logs) replaces it. Other `#` lines
/// (`#path`, `#types`, `#open`, `#close`) are passed over. IoT-23 writes its labels in one last
/// column named `tunnel_parents   label   detailed-label`, the three values separated by three
/// spaces: such a column is split into its parts. JSON lines carry the same keys
/// (`"id.orig_h"`); `ts` may be epoch seconds or an ISO 8601 string; unset fields are left out.
///
/// **Two flows per line.** One line describes both directions of a connection. It becomes up to
/// two unidirectional ``FlowRecord``s, like an Argus record: originator → responder with
/// `orig_pkts` packets and `orig_ip_bytes` bytes, and responder → originator with `resp_pkts`
/// and `resp_ip_bytes` — each only when that side sent a packet (or a byte). Without the IP-byte
/// columns the payload bytes (`orig_bytes`, `resp_bytes`) stand in. Both flows span `ts` to
/// `ts + duration`. Numeric times are seconds added to ``Options/baseTimeMilliseconds`` (Zeek
/// writes epoch seconds; relative logs need the capture start as the base).
///
/// **TCP flags.** Zeek logs no flags, but its `history` and `conn_state` say what each side
/// sent; ``tcpFlags(state:history:)`` turns them into per-direction flags so the detectors see
/// an unanswered SYN (`S0`, history `S`) as SYN-only and an established connection with ACK.
public enum ZeekConnLog {
    /// How times and records are interpreted.
    public struct Options: Sendable, Hashable {
        /// Added to numeric `ts` values, in ms: 0 for Zeek's own epoch seconds, the capture start
        /// for logs with relative times. ISO 8601 times are absolute and not shifted.
        public var baseTimeMilliseconds: Int64 = 0
        /// Written to ``FlowRecord/exporter`` (Zeek does not say which sensor saw the connection).
        public var exporter: IPAddress = .unspecifiedV4

        public init(baseTimeMilliseconds: Int64 = 0, exporter: IPAddress = .unspecifiedV4) {
            self.baseTimeMilliseconds = baseTimeMilliseconds
            self.exporter = exporter
        }
    }

    /// Columns a connection cannot be built without.
    public static let requiredColumns = ["ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"]

    /// Parses a whole log. Throws only when the text is empty or a `#fields` header is not a
    /// connection log's (lacks the required columns); bad data lines are in the result's errors.
    public static func parse(_ text: String, options: Options = Options()) throws(ZeekConnLogError) -> ZeekConnLogParseResult {
        var result = ZeekConnLogParseResult()
        result.format = try forEachLine(of: text, options: options) { outcome in
            result.lines += 1
            switch outcome {
            case .success(let c):
                if c.label != nil { result.hasLabels = true }
                result.connections.append(c)
            case .failure(let e): result.errors.append(e)
            }
        }
        return result
    }

    /// Streams a log: hands every data line's connection or error to `body` in file order without
    /// keeping them. Blank lines and `#` header lines are not data lines. Returns the format found.
    @discardableResult
    public static func forEachLine(
        of text: String, options: Options = Options(), _ body: (Result<ZeekConnection, ZeekConnLogLineError>) -> Void
    ) throws(ZeekConnLogError) -> Format {
        var header = TSVHeader()
        var format: Format? = nil
        var lineNumber = 0
        var rest = text[...]
        while !rest.isEmpty {
            let end = rest.firstIndex(where: \.isNewline) ?? rest.endIndex
            var line = rest[..<end]
            rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
            lineNumber += 1
            while line.last == "\r" { line = line.dropLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if line.first == "#" {
                try header.read(directive: line)
                if format == nil { format = .tsv }
                continue
            }
            if line.first == "{" || (line.first == " " && line.drop(while: { $0 == " " }).first == "{") {
                if format == nil { format = .json }
                body(parseJSON(line: line, number: lineNumber, options: options))
                continue
            }
            if format == nil { format = .tsv }
            body(header.parse(line: line, number: lineNumber, options: options))
        }
        guard let format else { throw ZeekConnLogError(.empty) }
        return format
    }

    /// The two ways Zeek writes a log.
    public enum Format: String, Sendable, Hashable {
        /// Tab-separated with `#` header lines (Zeek's default ASCII writer).
        case tsv
        /// One JSON object per line (`LogAscii::use_json`).
        case json
    }

    // MARK: - TSV

    /// What the `#` lines said so far.
    struct TSVHeader {
        var separator: Character = "\t"
        var unset: Substring = "-"
        var empty: Substring = "(empty)"
        /// Column names in order; IoT-23's combined column is one entry with its parts.
        var columns: [[String]] = []
        var index: [String: (column: Int, part: Int)] = [:]
        var fieldCount = 0

        mutating func read(directive line: Substring) throws(ZeekConnLogError) {
            if line.hasPrefix("#separator") {
                // `#separator \x09`: the one directive separated by a space, not by the separator.
                let value = line.dropFirst("#separator".count).drop(while: { $0 == " " || $0 == "\t" })
                let decoded = ZeekConnLog.unescape(value)
                guard decoded.count == 1, let c = decoded.first else { throw ZeekConnLogError(.badSeparator(String(value))) }
                separator = c
                return
            }
            let parts = line.split(separator: separator, omittingEmptySubsequences: false)
            guard let name = parts.first else { return }
            let values = parts.dropFirst()
            switch name {
            case "#unset_field": if let v = values.first { unset = v }
            case "#empty_field": if let v = values.first { empty = v }
            case "#fields":
                columns = values.map { column in
                    column.contains("   ")
                        ? column.components(separatedByThreeSpaces: ()).map { String($0.trimmingSpaces()) } : [String(column)]
                }
                index = [:]
                for (i, parts) in columns.enumerated() {
                    for (j, p) in parts.enumerated() where index[ZeekConnLog.canonical(p)] == nil {
                        index[ZeekConnLog.canonical(p)] = (i, j)
                    }
                }
                fieldCount = columns.count
                let missing = ZeekConnLog.requiredColumns.filter { index[$0] == nil }
                guard missing.isEmpty else {
                    throw ZeekConnLogError(.missingColumns(missing, found: columns.flatMap { $0 }))
                }
            default: break
            }
        }

        func parse(line: Substring, number: Int, options: Options) -> Result<ZeekConnection, ZeekConnLogLineError> {
            guard fieldCount > 0 else { return .failure(ZeekConnLogLineError(line: number, reason: .noFieldsHeader)) }
            let fields = line.split(separator: separator, omittingEmptySubsequences: false)
            guard fields.count == fieldCount else {
                return .failure(ZeekConnLogLineError(line: number, reason: .wrongFieldCount(expected: fieldCount, found: fields.count)))
            }
            let unset = self.unset
            let empty = self.empty
            return ZeekConnLog.connection(number: number, options: options) { name in
                guard let (column, part) = index[name] else { return nil }
                var value = fields[column]
                if columns[column].count > 1 {
                    let parts = value.components(separatedByThreeSpaces: ())
                    guard part < parts.count else { return nil }
                    value = parts[part].trimmingSpaces()
                }
                if value == unset || value == empty || value.isEmpty { return nil }
                return .text(value)
            }
        }
    }

    /// `\x09` → tab, and other `\xHH` escapes; anything else as written.
    static func unescape(_ s: Substring) -> String {
        var out = ""
        var rest = s
        while let c = rest.first {
            if c == "\\", rest.count >= 4, rest.dropFirst().first == "x", let v = UInt8(rest.dropFirst(2).prefix(2), radix: 16) {
                out.unicodeScalars.append(Unicode.Scalar(v))
                rest = rest.dropFirst(4)
            } else {
                out.append(c)
                rest = rest.dropFirst()
            }
        }
        return out
    }

    /// A column name as looked up: `detailed-label` and `detailed_label` are `detailedlabel`.
    static func canonical(_ name: some StringProtocol) -> String {
        let lowered = name.lowercased()
        switch lowered {
        case "detailed-label", "detailed_label": return "detailedlabel"
        default: return lowered
        }
    }

    // MARK: - JSON

    /// One JSON object per line with Zeek's flat dotted keys.
    static func parseJSON(line: Substring, number: Int, options: Options) -> Result<ZeekConnection, ZeekConnLogLineError> {
        var object: [String: FieldValue] = [:]
        var reader = JSONLineReader(line.utf8)
        do {
            try reader.readObject { key, value in
                let k = canonical(key)
                if object[k] == nil { object[k] = value }
            }
        } catch {
            return .failure(ZeekConnLogLineError(line: number, reason: .badJSON(error.reason)))
        }
        return connection(number: number, options: options) { object[$0] }
    }

    // MARK: - Building a connection

    /// A field's value: text from a TSV line or a JSON string or number; `nil` when unset.
    enum FieldValue: Sendable {
        case text(Substring)
        /// A JSON `true`/`false`, or an array or object (kept only as "present").
        case other
    }

    static func connection(
        number: Int, options: Options, _ field: (String) -> FieldValue?
    ) -> Result<ZeekConnection, ZeekConnLogLineError> {
        func fail(_ reason: ZeekConnLogLineError.Reason) -> Result<ZeekConnection, ZeekConnLogLineError> {
            .failure(ZeekConnLogLineError(line: number, reason: reason))
        }
        func text(_ name: String) -> Substring? {
            if case .text(let t)? = field(name) { return t }
            return nil
        }
        func shown(_ name: String) -> String { text(name).map { String($0.prefix(64)) } ?? "-" }
        for name in requiredColumns where field(name) == nil { return fail(.missingField(name)) }

        guard let originator = text("id.orig_h").flatMap({ IPAddress($0) }) else { return fail(.badAddress(shown("id.orig_h"))) }
        guard let responder = text("id.resp_h").flatMap({ IPAddress($0) }) else { return fail(.badAddress(shown("id.resp_h"))) }
        guard let originatorPort = text("id.orig_p").flatMap({ UInt16($0) }) else { return fail(.badPort(shown("id.orig_p"))) }
        guard let responderPort = text("id.resp_p").flatMap({ UInt16($0) }) else { return fail(.badPort(shown("id.resp_p"))) }
        let protocolName = text("proto") ?? ""
        let ipProtocol: UInt8
        switch protocolName.lowercased() {
        case "tcp": ipProtocol = 6
        case "udp": ipProtocol = 17
        // Zeek's `icmp` covers ICMPv6 too (type in orig_p, code in resp_p).
        case "icmp": ipProtocol = originator.isIPv6 ? 58 : 1
        case "unknown_transport": return fail(.notATransportFlow(protocol: String(protocolName)))
        default:
            guard let p = BinetflowParser.ipProtocol(protocolName) else { return fail(.badProtocol(shown("proto"))) }
            ipProtocol = p
        }
        guard let tsText = text("ts"), let startMicroseconds = startTime(tsText, options: options) else {
            return fail(.badTime(shown("ts")))
        }
        var durationMicroseconds: Int64 = 0
        if let d = text("duration") {
            guard let v = seconds(d) else { return fail(.badDuration(shown("duration"))) }
            durationMicroseconds = v
        }
        /// A counter; unset is nil (the caller decides), garbage is an error.
        func counter(_ name: String) -> Result<UInt64?, ZeekConnLogLineError> {
            guard let t = text(name) else { return .success(nil) }
            guard let v = UInt64(t) else {
                return .failure(ZeekConnLogLineError(line: number, reason: .badCounter(column: name, shown(name))))
            }
            return .success(v)
        }
        var counters: [UInt64?] = []
        for name in ["orig_pkts", "orig_ip_bytes", "orig_bytes", "resp_pkts", "resp_ip_bytes", "resp_bytes"] {
            switch counter(name) {
            case .success(let v): counters.append(v)
            case .failure(let e): return .failure(e)
            }
        }
        let originatorPackets = counters[0] ?? 0
        let responderPackets = counters[3] ?? 0
        let originatorBytes = counters[1] ?? counters[2] ?? 0
        let responderBytes = counters[4] ?? counters[5] ?? 0

        let state = text("conn_state").map(String.init) ?? ""
        let history = text("history").map(String.init) ?? ""
        let flags = ipProtocol == 6 ? tcpFlags(state: state, history: history) : (forward: UInt8(0), reverse: UInt8(0))
        let (endMicroseconds, overflow) = startMicroseconds.addingReportingOverflow(durationMicroseconds)
        guard !overflow else { return fail(.badDuration(shown("duration"))) }
        let startMilliseconds = startMicroseconds / 1000
        let endMilliseconds = endMicroseconds / 1000
        func record(from a: IPAddress, _ aPort: UInt16, to b: IPAddress, _ bPort: UInt16, packets: UInt64, bytes: UInt64, flags: UInt8)
            -> FlowRecord
        {
            FlowRecord(
                exporter: options.exporter, sourceAddress: a, destinationAddress: b, sourcePort: aPort, destinationPort: bPort,
                ipProtocol: ipProtocol, tcpFlags: flags, bytes: bytes, packets: packets,
                startMilliseconds: startMilliseconds, endMilliseconds: endMilliseconds)
        }
        func label(_ name: String) -> String? {
            guard let t = text(name)?.trimmingSpaces(), !t.isEmpty, t != "-", t != "(empty)" else { return nil }
            return String(t.prefix(256))
        }
        var c = ZeekConnection(
            line: number, uid: text("uid").map { String($0.prefix(64)) }, originator: originator, originatorPort: originatorPort,
            responder: responder, responderPort: responderPort, ipProtocol: ipProtocol,
            service: text("service").map { String($0.prefix(64)) }, state: String(state.prefix(16)), history: String(history.prefix(64)),
            label: label("label"), detailedLabel: label("detailedlabel"))
        if originatorPackets > 0 || originatorBytes > 0 {
            c.forward = record(
                from: originator, originatorPort, to: responder, responderPort, packets: originatorPackets, bytes: originatorBytes,
                flags: flags.forward)
        }
        if responderPackets > 0 || responderBytes > 0 {
            c.reverse = record(
                from: responder, responderPort, to: originator, originatorPort, packets: responderPackets, bytes: responderBytes,
                flags: flags.reverse)
        }
        return .success(c)
    }

    // MARK: - Fields

    /// TCP flags per direction (originator → responder, back) from Zeek's `history` and `conn_state`.
    ///
    /// `history` letters, upper case for the originator and lower case for the responder:
    /// S a SYN → SYN; H a SYN-ACK → SYN+ACK; A a pure ACK, D data, W a zero window → ACK; F a FIN
    /// → FIN; R a reset → RST; Q a SYN with FIN or RST → SYN; others (C, G, I, T, `^`) add nothing.
    /// `conn_state` adds what it implies (Zeek's documentation of conn.log): S0 (no reply), SH
    /// (SYN then FIN), RSTOS0 (SYN then RST) → the originator's SYN only; REJ → SYN, answered by
    /// RST+ACK; S1 (established), SF (finished), S2/S3 (one side closed), RSTO/RSTR (reset after
    /// establishment) → SYN+ACK both ways plus the FIN/RST of the side that sent it; RSTRH/SHR
    /// (responder's SYN-ACK only) → SYN+ACK (and RST/FIN) from the responder; OTH (mid-stream) →
    /// nothing. The union of both is returned, so an unanswered attempt (`S0`, `S`, or `REJ`,
    /// `Sr`) has no ACK on the originator side and an established connection has ACK on both.
    public static func tcpFlags(state: String, history: String) -> (forward: UInt8, reverse: UInt8) {
        let fin: UInt8 = 0x01
        let syn: UInt8 = 0x02
        let rst: UInt8 = 0x04
        let ack: UInt8 = 0x10
        var forward: UInt8 = 0
        var reverse: UInt8 = 0
        for c in history.unicodeScalars {
            let f: UInt8
            switch c {
            case "S", "s", "Q", "q": f = syn
            case "H", "h": f = syn | ack
            case "A", "a", "D", "d", "W", "w": f = ack
            case "F", "f": f = fin
            case "R", "r": f = rst
            default: f = 0
            }
            if c.properties.isUppercase { forward |= f } else { reverse |= f }
        }
        let established = syn | ack
        switch state.uppercased() {
        case "S0": forward |= syn
        case "SH": forward |= syn | fin
        case "RSTOS0": forward |= syn | rst
        case "REJ":
            forward |= syn
            reverse |= rst | ack
        case "S1":
            forward |= established
            reverse |= established
        case "SF":
            forward |= established | fin
            reverse |= established | fin
        case "S2":
            forward |= established | fin
            reverse |= established
        case "S3":
            forward |= established
            reverse |= established | fin
        case "RSTO":
            forward |= established | rst
            reverse |= established
        case "RSTR":
            forward |= established
            reverse |= established | rst
        case "RSTRH": reverse |= established | rst
        case "SHR": reverse |= established | fin
        default: break
        }
        return (forward, reverse)
    }

    /// µs since the epoch: a number of seconds plus the base time, or an ISO 8601 time
    /// (`2017-03-08T13:47:04.123456Z`, `…+01:00`).
    static func startTime(_ text: Substring, options: Options) -> Int64? {
        if text.contains("T") || text.contains(":") {
            var t = text
            var offsetSeconds: Int64 = 0
            // A trailing ±hh:mm or ±hhmm offset after the time of day.
            if let sign = t.lastIndex(where: { $0 == "+" || $0 == "-" }), let tee = t.firstIndex(where: { $0 == "T" || $0 == " " }),
                sign > tee
            {
                let zone = t[t.index(after: sign)...].filter { $0 != ":" }
                guard zone.count == 4, let hh = Int64(zone.prefix(2)), let mm = Int64(zone.suffix(2)), hh < 24, mm < 60 else { return nil }
                offsetSeconds = (hh * 3600 + mm * 60) * (t[sign] == "+" ? 1 : -1)
                t = t[..<sign]
            }
            guard let local = BinetflowParser.wallClockMicroseconds(t) else { return nil }
            return local - offsetSeconds * 1_000_000
        }
        guard let s = seconds(text) else { return nil }
        let (sum, overflow) = (options.baseTimeMilliseconds &* 1000).addingReportingOverflow(s)
        return overflow ? nil : sum
    }

    /// Non-negative seconds (`0.136721`, or `1.5e-05` as some JSON writers print) as µs.
    static func seconds(_ text: Substring) -> Int64? {
        if text.contains("e") || text.contains("E") {
            guard text.count <= 32, let v = Double(text), v.isFinite, v >= 0, v < Double(1 << 40) else { return nil }
            return Int64((v * 1_000_000).rounded())
        }
        return BinetflowParser.decimalMicroseconds(text)
    }
}

/// One conn.log line: a connection and its up to two unidirectional flows.
public struct ZeekConnection: Sendable, Hashable, ConversationRecord {
    /// Line number in the file (1 = the first line, header lines included).
    public var line: Int
    /// Zeek's connection id (`uid`), when logged.
    public var uid: String?
    /// `id.orig_h`: the side that opened the connection; Stratosphere's labels are about it.
    public var originator: IPAddress
    /// `id.orig_p` (the ICMP type for ICMP).
    public var originatorPort: UInt16
    /// `id.resp_h`.
    public var responder: IPAddress
    /// `id.resp_p` (the ICMP code for ICMP).
    public var responderPort: UInt16
    /// IP protocol number (`proto` tcp 6, udp 17, icmp 1 or 58 for IPv6).
    public var ipProtocol: UInt8
    /// `service` (`dns`, `ssl`, …), when Zeek found one.
    public var service: String?
    /// `conn_state` (`S0`, `SF`, `REJ`, …), empty when unset.
    public var state: String
    /// `history` (`ShADadFf`, …), empty when unset.
    public var history: String
    /// The Stratosphere `label` (`Malicious`, `Benign`, `Background`), when set.
    public var label: String?
    /// The Stratosphere `detailedlabel` / IoT-23 `detailed-label` (`CC`, `PartOfAHorizontalPortScan`), when set.
    public var detailedLabel: String?
    /// Originator → responder with `orig_pkts` and `orig_ip_bytes`; nil when it sent nothing.
    public var forward: FlowRecord?
    /// Responder → originator with `resp_pkts` and `resp_ip_bytes`; nil when it sent nothing.
    public var reverse: FlowRecord?

    public init(
        line: Int, uid: String? = nil, originator: IPAddress, originatorPort: UInt16, responder: IPAddress, responderPort: UInt16,
        ipProtocol: UInt8, service: String? = nil, state: String = "", history: String = "", label: String? = nil,
        detailedLabel: String? = nil, forward: FlowRecord? = nil, reverse: FlowRecord? = nil
    ) {
        self.line = line
        self.uid = uid
        self.originator = originator
        self.originatorPort = originatorPort
        self.responder = responder
        self.responderPort = responderPort
        self.ipProtocol = ipProtocol
        self.service = service
        self.state = state
        self.history = history
        self.label = label
        self.detailedLabel = detailedLabel
        self.forward = forward
        self.reverse = reverse
    }

    /// The label and detailed label as one string (`Malicious CC`), for label matching.
    public var fullLabel: String? {
        switch (label, detailedLabel) {
        case (let l?, let d?): "\(l) \(d)"
        case (let l?, nil): l
        case (nil, let d?): d
        case (nil, nil): nil
        }
    }
}

/// Everything read from a conn.log.
public struct ZeekConnLogParseResult: Sendable {
    /// Data lines (header, blank lines not counted).
    public var lines = 0
    /// Lines that became connections, in file order.
    public var connections: [ZeekConnection] = []
    /// Lines that did not, with why.
    public var errors: [ZeekConnLogLineError] = []
    /// Whether any line carried a label.
    public var hasLabels = false
    /// TSV or JSON.
    public var format: ZeekConnLog.Format = .tsv

    public init() {}

    /// Every unidirectional flow, in file order.
    public var flows: [FlowRecord] { connections.flatMap(\.flows) }
    /// Lines skipped because they are not TCP/UDP/ICMP flows (`unknown_transport`).
    public var nonTransportLines: Int { errors.filter { if case .notATransportFlow = $0.reason { true } else { false } }.count }
    /// Lines rejected as malformed.
    public var malformedLines: Int { errors.count - nonTransportLines }
}

/// A conn.log that cannot be read at all.
public struct ZeekConnLogError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// No line at all.
        case empty
        /// `#separator` is not one character.
        case badSeparator(String)
        /// A `#fields` line without the columns of a connection log (another Zeek log).
        case missingColumns([String], found: [String])
    }

    public var code: Code

    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .empty: "zeek conn.log: empty (expected #fields … or JSON lines)"
        case .badSeparator(let s): "zeek conn.log: #separator '\(s.prefix(16))' is not one character"
        case .missingColumns(let missing, let found):
            "zeek conn.log: #fields lacks \(missing.joined(separator: ", ")) (found: \(found.prefix(32).joined(separator: " "))): not a conn.log"
        }
    }
}

/// A data line that did not become a connection.
public struct ZeekConnLogLineError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// A TSV data line before any `#fields` line.
        case noFieldsHeader
        /// The line does not have the header's number of fields (a cut line).
        case wrongFieldCount(expected: Int, found: Int)
        /// A JSON line that is not one flat JSON object.
        case badJSON(String)
        /// A required field is unset or absent.
        case missingField(String)
        /// `ts` is neither seconds nor an ISO 8601 time.
        case badTime(String)
        /// `duration` is not a non-negative number of seconds.
        case badDuration(String)
        /// `proto` is not tcp, udp, icmp or a known protocol.
        case badProtocol(String)
        /// `proto` `unknown_transport`: skipped, not malformed.
        case notATransportFlow(protocol: String)
        /// An address is not IPv4 or IPv6.
        case badAddress(String)
        /// A port is not 0–65535.
        case badPort(String)
        /// A packet or byte count is not a non-negative integer below 2^64.
        case badCounter(column: String, String)
    }

    /// Line number in the file (1 = the first line).
    public var line: Int
    public var reason: Reason

    public init(line: Int, reason: Reason) {
        self.line = line
        self.reason = reason
    }

    public var description: String {
        let why: String
        switch reason {
        case .noFieldsHeader: why = "data before any #fields header line"
        case .wrongFieldCount(let e, let f): why = "\(f) fields, #fields has \(e)"
        case .badJSON(let s): why = "not a JSON object: \(s)"
        case .missingField(let s): why = "\(s) is unset"
        case .badTime(let s): why = "ts '\(s)' is neither seconds nor an ISO 8601 time"
        case .badDuration(let s): why = "duration '\(s)' is not seconds"
        case .badProtocol(let s): why = "proto '\(s)' is not tcp, udp or icmp"
        case .notATransportFlow(let s): why = "proto '\(s)' is not a TCP/UDP/ICMP flow (skipped)"
        case .badAddress(let s): why = "'\(s)' is not an IP address"
        case .badPort(let s): why = "port '\(s)' is not 0–65535"
        case .badCounter(let c, let s): why = "\(c) '\(s)' is not a count"
        }
        return "line \(line): \(why)"
    }
}

/// Reads one flat JSON object from a line's UTF-8 bytes: string keys, values that are strings
/// (escapes decoded), numbers (kept as written), `true`/`false`/`null`, or arrays and objects
/// (skipped without recursion, so deep nesting cannot exhaust the stack).
struct JSONLineReader {
    struct Failure: Error { let reason: String }

    let bytes: Substring.UTF8View
    var i: Substring.UTF8View.Index

    init(_ bytes: Substring.UTF8View) {
        self.bytes = bytes
        i = bytes.startIndex
    }

    mutating func readObject(_ body: (String, ZeekConnLog.FieldValue) -> Void) throws(Failure) {
        skipSpace()
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if peek() == UInt8(ascii: "}") {
            i = bytes.index(after: i)
            return try end()
        }
        while true {
            skipSpace()
            let key = try readString()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            switch peek() {
            case UInt8(ascii: "\""):
                let s = try readString()
                body(key, .text(Substring(s)))
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                try skipContainer()
                body(key, .other)
            case UInt8(ascii: "t"):
                try literal("true")
                body(key, .other)
            case UInt8(ascii: "f"):
                try literal("false")
                body(key, .other)
            case UInt8(ascii: "n"): try literal("null") // null: unset
            default:
                let start = i
                while let b = peek(),
                    b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                        || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") || (b >= 48 && b <= 57)
                {
                    i = bytes.index(after: i)
                }
                guard start != i else { throw Failure(reason: "value expected at offset \(bytes.distance(from: bytes.startIndex, to: i))") }
                body(key, .text(Substring(bytes[start..<i])))
            }
            skipSpace()
            guard let b = peek() else { throw Failure(reason: "cut short") }
            i = bytes.index(after: i)
            if b == UInt8(ascii: "}") { return try end() }
            guard b == UInt8(ascii: ",") else { throw Failure(reason: "',' or '}' expected") }
        }
    }

    private func peek() -> UInt8? { i < bytes.endIndex ? bytes[i] : nil }

    private mutating func skipSpace() {
        while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A { i = bytes.index(after: i) }
    }

    private mutating func end() throws(Failure) {
        skipSpace()
        guard i == bytes.endIndex else { throw Failure(reason: "text after the object") }
    }

    private mutating func expect(_ b: UInt8) throws(Failure) {
        guard peek() == b else { throw Failure(reason: "'\(Character(Unicode.Scalar(b)))' expected") }
        i = bytes.index(after: i)
    }

    private mutating func literal(_ word: String) throws(Failure) {
        for b in word.utf8 { try expect(b) }
    }

    private mutating func readString() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while let b = peek() {
            i = bytes.index(after: i)
            switch b {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw Failure(reason: "cut short") }
                i = bytes.index(after: i)
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var v: UInt32 = 0
                    for _ in 0..<4 {
                        guard let h = peek(), let d = Self.hex(h) else { throw Failure(reason: "bad \\u escape") }
                        v = v << 4 | d
                        i = bytes.index(after: i)
                    }
                    // Surrogate halves are not scalars: written as U+FFFD rather than paired.
                    out.append(contentsOf: String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8)
                default: out.append(e) // \" \\ \/
                }
            default: out.append(b)
            }
            if out.count > 4096 { throw Failure(reason: "string longer than 4096 bytes") }
        }
        throw Failure(reason: "unterminated string")
    }

    /// Skips an array or object, strings inside included.
    private mutating func skipContainer() throws(Failure) {
        var depth = 0
        while let b = peek() {
            switch b {
            case UInt8(ascii: "\""):
                _ = try readString()
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    i = bytes.index(after: i)
                    return
                }
            default: break
            }
            i = bytes.index(after: i)
        }
        throw Failure(reason: "unterminated array or object")
    }

    private static func hex(_ b: UInt8) -> UInt32? {
        switch b {
        case 48...57: UInt32(b - 48)
        case 65...70: UInt32(b - 55)
        case 97...102: UInt32(b - 87)
        default: nil
        }
    }
}

extension Substring {
    /// IoT-23's combined column: parts separated by three spaces.
    fileprivate func components(separatedByThreeSpaces: ()) -> [Substring] {
        var parts: [Substring] = []
        var rest = self
        while let r = rest.firstRange(of: "   ") {
            parts.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        parts.append(rest)
        return parts
    }

    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
