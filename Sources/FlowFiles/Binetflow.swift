import FlowCodec

/// Argus bidirectional flow text ("binetflow"), as the Stratosphere lab publishes the CTU-13
/// datasets: a header line naming the columns, then one Argus record per line.
///
/// ```text
/// StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label
/// 2011/08/10 09:46:59.607825,1.026539,tcp,94.44.127.113,1577,   ->,147.32.84.59,6881,S_RA,0,0,4,276,156,flow=Background-Established-cmpgw-CVUT
/// ```
///
/// Pure: text in, records and typed per-line errors out. Columns are found by name in the header
/// (case-insensitive, extra columns ignored); the separator (comma or tab) is taken from the header.
/// Each bidirectional Argus record becomes up to two unidirectional ``FlowRecord``s: source →
/// destination and destination → source (see ``BinetflowRecord``).
///
/// Files without `SrcBytes` (older Stratosphere captures print only `TotPkts,TotBytes`) say how
/// much was sent in all, not by whom. Then the sides that sent anything are read from the
/// record itself (``sendingSides(ipProtocol:direction:state:totalPackets:sourcePackets:)``): a
/// one-way record (`S_`, `REQ`/`INT`, a UDP/ICMP `->`, a single packet) gives all its packets and
/// bytes to the side that sent them — exact; a two-way record splits its packets evenly (or by
/// `SrcPkts` when present) and its bytes in proportion to the packets — an estimate, so byte
/// features of two-way flows are approximate on such files (``hasSourceBytes`` says which).
public struct BinetflowParser: Sendable {
    /// How times and records are interpreted.
    public struct Options: Sendable, Hashable {
        /// Added to every time: the start of the capture when StartTime holds seconds relative to
        /// it (`0.000000`). With the default 0, numeric StartTimes are seconds since the Unix epoch.
        public var baseTimeMilliseconds: Int64 = 0
        /// Offset of the wall-clock StartTimes (`2011/08/10 09:46:59.607825`) from UTC, in seconds
        /// (CET is 3600). 0 treats them as UTC.
        public var utcOffsetSeconds: Int = 0
        /// Written to ``FlowRecord/exporter`` (Argus text does not say which probe saw the flow).
        public var exporter: IPAddress = .unspecifiedV4

        public init(baseTimeMilliseconds: Int64 = 0, utcOffsetSeconds: Int = 0, exporter: IPAddress = .unspecifiedV4) {
            self.baseTimeMilliseconds = baseTimeMilliseconds
            self.utcOffsetSeconds = utcOffsetSeconds
            self.exporter = exporter
        }
    }

    /// Columns a record cannot be built without.
    public static let requiredColumns = ["StartTime", "Dur", "Proto", "SrcAddr", "Sport", "Dir", "DstAddr", "Dport", "TotPkts", "TotBytes"]

    /// The field separator found in the header.
    public let separator: Character
    /// The header's column names, as written.
    public let columns: [String]
    /// Whether the file has a `Label` column (CTU-13 ground truth).
    public var hasLabels: Bool { labelIndex != nil }
    /// Whether the file has a `SrcPkts` column; without it per-direction packets are estimated.
    public var hasSourcePackets: Bool { sourcePacketsIndex != nil }
    /// Whether the file has a `SrcBytes` column; without it the bytes of two-way records are
    /// split between the directions by an estimate (see the type's documentation).
    public var hasSourceBytes: Bool { sourceBytesIndex != nil }
    /// How times and records are interpreted.
    public let options: Options

    private let startTimeIndex, durationIndex, protocolIndex, sourceAddressIndex, sourcePortIndex: Int
    private let directionIndex, destinationAddressIndex, destinationPortIndex: Int
    private let totalPacketsIndex, totalBytesIndex: Int
    private let sourceBytesIndex, stateIndex, sourceTOSIndex, sourcePacketsIndex, labelIndex: Int?

    /// Reads the header line. Throws when a required column is missing or the line is empty.
    public init(header: some StringProtocol, options: Options = Options()) throws(BinetflowHeaderError) {
        let line = String(header)[...].trimmingTrailingLineEnd()
        guard !line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "," }) else { throw .emptyHeader }
        // Tab wins when present: CTU tab files have no commas in the header, comma files no tabs.
        separator = line.contains("\t") ? "\t" : ","
        columns = line.split(separator: separator, omittingEmptySubsequences: false).map { String($0.trimmedSpaces()) }
        let lowered = columns.map { $0.lowercased() }
        func index(_ name: String) -> Int? { lowered.firstIndex(of: name.lowercased()) }
        let missing = Self.requiredColumns.filter { index($0) == nil }
        guard missing.isEmpty else { throw .missingColumns(missing, found: columns) }
        startTimeIndex = index("StartTime")!
        durationIndex = index("Dur")!
        protocolIndex = index("Proto")!
        sourceAddressIndex = index("SrcAddr")!
        sourcePortIndex = index("Sport")!
        directionIndex = index("Dir")!
        destinationAddressIndex = index("DstAddr")!
        destinationPortIndex = index("Dport")!
        totalPacketsIndex = index("TotPkts")!
        totalBytesIndex = index("TotBytes")!
        sourceBytesIndex = index("SrcBytes")
        stateIndex = index("State")
        sourceTOSIndex = index("sTos")
        sourcePacketsIndex = index("SrcPkts")
        labelIndex = index("Label")
        self.options = options
    }

    /// Parses every line of a file: the first non-empty line is the header. Bad lines are
    /// collected in ``BinetflowParseResult/errors`` and never stop the parse.
    public static func parse(_ text: String, options: Options = Options()) throws(BinetflowHeaderError) -> BinetflowParseResult {
        var result = BinetflowParseResult()
        let parser = try forEachLine(of: text, options: options) { outcome in
            result.lines += 1
            switch outcome {
            case .success(let record): result.records.append(record)
            case .failure(let error): result.errors.append(error)
            }
        }
        result.hasLabels = parser.hasLabels
        result.hasSourcePackets = parser.hasSourcePackets
        result.hasSourceBytes = parser.hasSourceBytes
        return result
    }

    /// Streams a file: reads the header (first non-empty line), then hands every data line's
    /// record or error to `body` in file order without keeping them. Blank lines and `#`
    /// comments are passed over. Returns the header's parser (which columns the file has).
    @discardableResult
    public static func forEachLine(
        of text: String, options: Options = Options(), _ body: (Result<BinetflowRecord, BinetflowLineError>) -> Void
    ) throws(BinetflowHeaderError) -> BinetflowParser {
        var parser: BinetflowParser? = nil
        var lineNumber = 0
        var rest = text[...]
        while !rest.isEmpty {
            // `isNewline`: "\r\n" is one Character in Swift, so looking for "\n" alone misses CRLF files.
            let end = rest.firstIndex(where: \.isNewline) ?? rest.endIndex
            let line = rest[..<end].trimmingTrailingLineEnd()
            rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
            lineNumber += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let p = parser else {
                parser = try BinetflowParser(header: line, options: options)
                continue
            }
            body(p.parse(line: line, number: lineNumber))
        }
        guard let parser else { throw .emptyHeader }
        return parser
    }

    /// Parses one data line (`number` is only carried into the record or error).
    public func parse(line: String, number: Int) -> Result<BinetflowRecord, BinetflowLineError> {
        parse(line: line[...], number: number)
    }

    /// Parses one data line (`number` is only carried into the record or error).
    public func parse(line: Substring, number: Int) -> Result<BinetflowRecord, BinetflowLineError> {
        let text = line.trimmingTrailingLineEnd()
        let fields = text.split(separator: separator, omittingEmptySubsequences: false)
        func fail(_ reason: BinetflowLineError.Reason) -> Result<BinetflowRecord, BinetflowLineError> {
            .failure(BinetflowLineError(line: number, reason: reason))
        }
        // A line may lack only a trailing Label (unlabelled lines of a labelled file).
        guard fields.count == columns.count || (labelIndex == columns.count - 1 && fields.count == columns.count - 1) else {
            return fail(.wrongFieldCount(expected: columns.count, found: fields.count))
        }
        func field(_ i: Int) -> Substring { i < fields.count ? fields[i].trimmedSpaces() : "" }

        let protocolText = field(protocolIndex)
        guard let ipProtocol = Self.ipProtocol(protocolText) else {
            if Self.nonIPProtocols.contains(protocolText.lowercased()) { return fail(.notAnIPFlow(protocol: String(protocolText))) }
            return fail(.badProtocol(String(protocolText)))
        }
        guard let source = IPAddress(field(sourceAddressIndex)) else { return fail(.badAddress(String(field(sourceAddressIndex)))) }
        guard let destination = IPAddress(field(destinationAddressIndex)) else {
            return fail(.badAddress(String(field(destinationAddressIndex))))
        }
        guard let sourcePort = Self.port(field(sourcePortIndex)) else { return fail(.badPort(String(field(sourcePortIndex)))) }
        guard let destinationPort = Self.port(field(destinationPortIndex)) else {
            return fail(.badPort(String(field(destinationPortIndex))))
        }
        guard let startMicroseconds = startTime(field(startTimeIndex)) else { return fail(.badTime(String(field(startTimeIndex)))) }
        guard let durationMicroseconds = Self.decimalMicroseconds(field(durationIndex)), durationMicroseconds >= 0 else {
            return fail(.badDuration(String(field(durationIndex))))
        }
        /// A counter; empty counts as 0 (Argus leaves fields it has nothing for empty).
        func counter(_ i: Int) -> UInt64? { field(i).isEmpty ? 0 : UInt64(field(i)) }
        guard let totalPackets = counter(totalPacketsIndex) else {
            return fail(.badCounter(column: columns[totalPacketsIndex], String(field(totalPacketsIndex))))
        }
        guard let totalBytes = counter(totalBytesIndex) else {
            return fail(.badCounter(column: columns[totalBytesIndex], String(field(totalBytesIndex))))
        }
        var givenSourcePackets: UInt64? = nil
        if let i = sourcePacketsIndex, !field(i).isEmpty {
            guard let v = UInt64(field(i)) else { return fail(.badCounter(column: columns[i], String(field(i)))) }
            guard v <= totalPackets else { return fail(.inconsistentCounters("SrcPkts \(v) > TotPkts \(totalPackets)")) }
            givenSourcePackets = v
        }
        let state = stateIndex.map { String(field($0)) } ?? ""
        let direction = String(field(directionIndex))
        var sourcePackets: UInt64
        let sourceBytes: UInt64
        if let sourceBytesIndex {
            guard let v = counter(sourceBytesIndex) else {
                return fail(.badCounter(column: columns[sourceBytesIndex], String(field(sourceBytesIndex))))
            }
            guard v <= totalBytes else { return fail(.inconsistentCounters("SrcBytes \(v) > TotBytes \(totalBytes)")) }
            sourceBytes = v
            sourcePackets =
                givenSourcePackets
                ?? Self.estimatedSourcePackets(totalPackets: totalPackets, totalBytes: totalBytes, sourceBytes: sourceBytes)
        } else {
            let sides = Self.sendingSides(
                ipProtocol: ipProtocol, direction: direction, state: state, totalPackets: totalPackets, sourcePackets: givenSourcePackets)
            (sourcePackets, sourceBytes) = Self.estimatedSourceShare(
                sides: sides, totalPackets: totalPackets, totalBytes: totalBytes, sourcePackets: givenSourcePackets)
        }
        let flags = ipProtocol == 6 ? Self.tcpFlags(state: state) : (forward: UInt8(0), reverse: UInt8(0))
        let tos = sourceTOSIndex.flatMap { UInt8(field($0)) } ?? 0

        let startMilliseconds = startMicroseconds / 1000
        let endMilliseconds = (startMicroseconds + durationMicroseconds) / 1000
        func record(from a: IPAddress, _ aPort: UInt16, to b: IPAddress, _ bPort: UInt16, packets: UInt64, bytes: UInt64, flags: UInt8)
            -> FlowRecord
        {
            FlowRecord(
                exporter: options.exporter, sourceAddress: a, destinationAddress: b, sourcePort: aPort, destinationPort: bPort,
                ipProtocol: ipProtocol, tcpFlags: flags, typeOfService: tos, bytes: bytes, packets: packets,
                startMilliseconds: startMilliseconds, endMilliseconds: endMilliseconds)
        }
        var reverseBytes = totalBytes - sourceBytes
        var reversePackets = totalPackets - sourcePackets
        var forwardBytes = sourceBytes
        // `<-` / `<?`: all traffic went from DstAddr to SrcAddr. Argus normally counts it as
        // destination bytes already; if a file puts it under SrcBytes, move it to the reverse side.
        if Self.isReverseOnly(direction), reverseBytes == 0, forwardBytes > 0 {
            reverseBytes = forwardBytes
            reversePackets = sourcePackets
            forwardBytes = 0
            sourcePackets = 0
        }
        let label = labelIndex.map { field($0) }.flatMap { $0.isEmpty ? nil : String($0) }
        var result = BinetflowRecord(line: number, originator: source, direction: direction, state: state, label: label)
        if forwardBytes > 0 || sourcePackets > 0 {
            result.forward = record(
                from: source, sourcePort, to: destination, destinationPort, packets: sourcePackets, bytes: forwardBytes,
                flags: flags.forward)
        }
        if reverseBytes > 0 || reversePackets > 0 {
            result.reverse = record(
                from: destination, destinationPort, to: source, sourcePort, packets: reversePackets, bytes: reverseBytes,
                flags: flags.reverse)
        }
        return .success(result)
    }

    // MARK: - Fields

    /// Argus `Proto` names that are not IP flows (management records, ARP, LLC …): skipped.
    public static let nonIPProtocols: Set<String> = ["man", "arp", "rarp", "llc", "ipx/spx", "stp", "lldp", "vrrp-arp", "ieee"]

    /// IP protocol number for an Argus protocol name or a decimal number.
    public static func ipProtocol(_ text: some StringProtocol) -> UInt8? {
        if let n = UInt8(text) { return n }
        switch text.lowercased() {
        case "icmp": return 1
        case "igmp": return 2
        case "ipnip", "ipip", "ipencap": return 4
        case "tcp": return 6
        case "egp": return 8
        case "udp", "rtp", "rtcp", "udt": return 17 // Argus names UDP by the RTP/RTCP/UDT it found inside.
        case "ipv6": return 41
        case "ipv6-route": return 43
        case "ipv6-frag": return 44
        case "rsvp": return 46
        case "gre": return 47
        case "esp": return 50
        case "ah": return 51
        case "ipv6-icmp", "icmp6", "icmpv6": return 58
        case "ipv6-no", "ipv6-nonxt": return 59
        case "ipv6-opts": return 60
        case "eigrp": return 88
        case "ospf", "ospfigp": return 89
        case "pim": return 103
        case "vrrp": return 112
        case "l2tp": return 115
        case "sctp": return 132
        case "udplite": return 136
        default: return nil
        }
    }

    /// A port in decimal or hex (`0x0303`: Argus prints ICMP type and code this way). Empty is 0.
    public static func port(_ text: some StringProtocol) -> UInt16? {
        if text.isEmpty { return 0 }
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt16(text.dropFirst(2), radix: 16) }
        return UInt16(text)
    }

    /// Whether the `Dir` arrow says all traffic went from DstAddr to SrcAddr.
    static func isReverseOnly(_ direction: String) -> Bool {
        direction.contains("<") && !direction.contains(">")
    }

    /// TCP flags per direction from an Argus `State`.
    ///
    /// With `ra -Z b` (as in CTU-13) the state lists the flags each side sent, `SRC_DST`: `S_` is a
    /// SYN nobody answered, `SR_SA` a refused connection, `FSPA_FSPA` a complete one. Letters:
    /// F FIN, S SYN, R RST, P PSH, A ACK, U URG, E ECE, C CWR. The plain Argus states map as
    /// REQ/INT → SYN only (unanswered), ACC → SYN / SYN+ACK, CON → established, FIN/CLO →
    /// finished, RST → reset; anything else (TIM, ECO …) gives no flags.
    public static func tcpFlags(state: String) -> (forward: UInt8, reverse: UInt8) {
        let fin: UInt8 = 0x01
        let syn: UInt8 = 0x02
        let rst: UInt8 = 0x04
        let psh: UInt8 = 0x08
        let ack: UInt8 = 0x10
        switch state.uppercased() {
        case "REQ", "INT": return (syn, 0)
        case "ACC": return (syn, syn | ack)
        case "CON": return (syn | ack, syn | ack)
        case "FIN", "CLO": return (syn | ack | fin, syn | ack | fin)
        case "RST": return (syn | ack | rst, ack | rst)
        default: break
        }
        guard state.contains("_") else { return (0, 0) }
        let halves = state.split(separator: "_", maxSplits: 1, omittingEmptySubsequences: false)
        func letters(_ s: Substring) -> UInt8? {
            var f: UInt8 = 0
            for c in s.uppercased() {
                switch c {
                case "F": f |= fin
                case "S": f |= syn
                case "R": f |= rst
                case "P": f |= psh
                case "A": f |= ack
                case "U": f |= 0x20
                case "E": f |= 0x40
                case "C": f |= 0x80
                default: return nil
                }
            }
            return f
        }
        guard halves.count == 2, let forward = letters(halves[0]), let reverse = letters(halves[1]) else { return (0, 0) }
        return (forward, reverse)
    }

    /// Source packets when the file has no `SrcPkts` column (CTU-13 has none): TotPkts split in
    /// proportion to the bytes each side sent, rounded, at least one packet for a side that sent
    /// bytes. An estimate — packet sizes differ between directions — so beacon and scan features
    /// that count packets are approximate on such files; byte counts are exact.
    public static func estimatedSourcePackets(totalPackets: UInt64, totalBytes: UInt64, sourceBytes: UInt64) -> UInt64 {
        guard totalBytes > 0, totalPackets > 0 else { return totalPackets }
        if sourceBytes == totalBytes { return totalPackets }
        if sourceBytes == 0 { return 0 }
        // In integers: through Double, counts near 2^64 round up to 2^64, which UInt64() traps on.
        let rounded = proportion(totalPackets, times: sourceBytes, over: totalBytes)
        // Both sides sent bytes, so both sent at least one packet (when there are two).
        return min(max(rounded, 1), totalPackets > 1 ? totalPackets - 1 : totalPackets)
    }

    /// Which directions of a record sent packets, for files without `SrcBytes`.
    ///
    /// In order: `SrcPkts` when the file has it (a side sent iff it has packets); an `ra -Z b`
    /// state (`S_`, `FSPA_FSPA`): a side sent iff its half lists flags; `REQ`/`INT` (a request
    /// nobody answered): the source only; a single packet: one side, the source unless `Dir` is
    /// `<-`/`<?`; `Dir` `<-`/`<?`: the destination only; `<->`/`<?>`: both; `->`/`?>`: the
    /// source only — except for TCP, where Argus draws `->` for any connection it saw start, so
    /// an established or closed state (CON, ACC, FIN, CLO, RST) means both; anything else: both.
    public static func sendingSides(
        ipProtocol: UInt8, direction: String, state: String, totalPackets: UInt64, sourcePackets: UInt64? = nil
    ) -> (forward: Bool, reverse: Bool) {
        if let sourcePackets { return (sourcePackets > 0, sourcePackets < totalPackets) }
        let upper = state.uppercased()
        if upper.contains("_") {
            let halves = upper.split(separator: "_", maxSplits: 1, omittingEmptySubsequences: false)
            if halves.count == 2 && !(halves[0].isEmpty && halves[1].isEmpty) { return (!halves[0].isEmpty, !halves[1].isEmpty) }
        }
        if upper == "REQ" || upper == "INT" { return (true, false) }
        let reverseOnly = isReverseOnly(direction)
        if totalPackets <= 1 { return (!reverseOnly, reverseOnly) }
        if reverseOnly { return (false, true) }
        let arrowBack = direction.contains("<")
        let arrowOn = direction.contains(">")
        if arrowBack && arrowOn { return (true, true) }
        if arrowOn {
            guard ipProtocol == 6 else { return (true, false) }
            return ["CON", "ACC", "FIN", "CLO", "RST"].contains(upper) ? (true, true) : (true, false)
        }
        return (true, true)
    }

    /// Source packets and bytes of a record without `SrcBytes`, given the sides that sent
    /// (``sendingSides(ipProtocol:direction:state:totalPackets:sourcePackets:)``): everything to
    /// the one side that sent; for two sides `SrcPkts` (or half the packets, the odd one to the
    /// source) and the bytes in the same proportion, at least one packet and byte each.
    public static func estimatedSourceShare(
        sides: (forward: Bool, reverse: Bool), totalPackets: UInt64, totalBytes: UInt64, sourcePackets: UInt64? = nil
    ) -> (packets: UInt64, bytes: UInt64) {
        switch sides {
        case (true, false): return (totalPackets, totalBytes)
        case (false, true): return (0, 0)
        case (false, false): return (sourcePackets ?? totalPackets, totalBytes)
        case (true, true):
            guard totalPackets >= 2 else { return (totalPackets, totalBytes) }
            let packets = min(max(sourcePackets ?? totalPackets / 2 + totalPackets % 2, 1), totalPackets - 1)
            guard totalBytes >= 2 else { return (packets, totalBytes) }
            let bytes = min(max(proportion(totalBytes, times: packets, over: totalPackets), 1), totalBytes - 1)
            return (packets, bytes)
        }
    }

    /// `value × part / whole`, rounded half up, without overflow; `part` ≤ `whole`, `whole` > 0.
    static func proportion(_ value: UInt64, times part: UInt64, over whole: UInt64) -> UInt64 {
        let part = min(part, whole)
        let (quotient, remainder) = whole.dividingFullWidth(value.multipliedFullWidth(by: part))
        // quotient ≤ value, so rounding up cannot overflow unless it equals UInt64.max.
        return remainder >= whole - remainder && quotient < .max ? quotient + 1 : quotient
    }

    // MARK: - Times

    /// Start time in µs since the epoch: wall clock (`2011/08/10 09:46:59.607825`,
    /// `2011-08-10 09:46:59.607825`, `2011-08-10T09:46:59Z`) shifted by the UTC offset, or
    /// seconds (`0.000000`, `1313056019.607825`) added to the base time.
    func startTime(_ text: Substring) -> Int64? {
        if text.contains("/") || text.contains("-") || text.contains(":") {
            guard let local = Self.wallClockMicroseconds(text) else { return nil }
            return local - Int64(options.utcOffsetSeconds) * 1_000_000
        }
        guard let seconds = Self.decimalMicroseconds(text) else { return nil }
        return options.baseTimeMilliseconds * 1000 + seconds
    }

    /// A non-negative decimal number of seconds (`1.026539`) in microseconds.
    static func decimalMicroseconds(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.count <= 24 else { return nil }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts[0].isEmpty ? 0 : Int64(parts[0]), whole >= 0, whole < 1 << 40 else { return nil }
        var micro: Int64 = 0
        if parts.count == 2 {
            guard let fraction = fractionMicroseconds(parts[1]) else { return nil }
            micro = fraction
        }
        return whole * 1_000_000 + micro
    }

    /// Digits after the decimal point as microseconds (`5` → 500000; beyond 6 digits truncated).
    static func fractionMicroseconds(_ digits: Substring) -> Int64? {
        guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        var value: Int64 = 0
        var count = 0
        for c in digits.prefix(6) {
            value = value * 10 + Int64(c.asciiValue! - 48)
            count += 1
        }
        while count < 6 {
            value *= 10
            count += 1
        }
        return value
    }

    /// `YYYY/MM/DD hh:mm:ss[.ffffff]` or with `-` and an optional `T` and trailing `Z`, as µs
    /// since the epoch read as UTC.
    static func wallClockMicroseconds(_ text: Substring) -> Int64? {
        var t = text
        if t.hasSuffix("Z") { t = t.dropLast() }
        guard let split = t.firstIndex(where: { $0 == " " || $0 == "T" }) else { return nil }
        let date = t[..<split].split(separator: t.contains("/") ? "/" : "-", omittingEmptySubsequences: false)
        let time = t[t.index(after: split)...].split(separator: ":", omittingEmptySubsequences: false)
        guard date.count == 3, time.count == 3,
            let year = Int64(date[0]), let month = Int64(date[1]), let day = Int64(date[2]),
            let hour = Int64(time[0]), let minute = Int64(time[1]),
            (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
            (0...23).contains(hour), (0...59).contains(minute),
            let secondsMicro = decimalMicroseconds(time[2]), secondsMicro < 61_000_000
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return (days * 86_400 + hour * 3600 + minute * 60) * 1_000_000 + secondsMicro
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (the "days from civil" computation).
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// One Argus record of a binetflow file: up to two unidirectional flows and its label.
public struct BinetflowRecord: Sendable, Hashable {
    /// Line number in the file (1 = header).
    public var line: Int
    /// `SrcAddr`: the side Argus saw start the conversation. CTU-13 labels (`From-Botnet`) are
    /// about this host.
    public var originator: IPAddress
    /// `Dir` as written, trimmed (`->`, `<->`, `<-`, `?>`, `who` …).
    public var direction: String
    /// `State` as written (`S_`, `FSPA_FSPA`, `CON` …), empty when the column is absent.
    public var state: String
    /// The `Label` column, when the file has one and the line fills it.
    public var label: String?
    /// SrcAddr → DstAddr with SrcBytes and SrcPkts; nil when that side sent nothing.
    public var forward: FlowRecord?
    /// DstAddr → SrcAddr with TotBytes − SrcBytes and TotPkts − SrcPkts; nil when it sent nothing.
    public var reverse: FlowRecord?

    public init(
        line: Int, originator: IPAddress, direction: String, state: String, label: String?, forward: FlowRecord? = nil,
        reverse: FlowRecord? = nil
    ) {
        self.line = line
        self.originator = originator
        self.direction = direction
        self.state = state
        self.label = label
        self.forward = forward
        self.reverse = reverse
    }
}

/// Everything read from a binetflow file.
public struct BinetflowParseResult: Sendable {
    /// Data lines after the header (blank and `#` lines not counted).
    public var lines = 0
    /// Lines that became records, in file order.
    public var records: [BinetflowRecord] = []
    /// Lines that did not, with why.
    public var errors: [BinetflowLineError] = []
    /// Whether the file has a `Label` column.
    public var hasLabels = false
    /// Whether the file has a `SrcPkts` column (otherwise per-direction packets are estimated).
    public var hasSourcePackets = false
    /// Whether the file has a `SrcBytes` column (otherwise the bytes of two-way records are estimated).
    public var hasSourceBytes = true

    public init() {}

    /// Lines skipped because they are not IP flows (Argus management records, ARP …).
    public var nonIPLines: Int { errors.filter { if case .notAnIPFlow = $0.reason { true } else { false } }.count }
    /// Lines rejected as malformed.
    public var malformedLines: Int { errors.count - nonIPLines }
}

/// A header line that cannot be used.
public enum BinetflowHeaderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No header line (empty file).
    case emptyHeader
    /// Columns the parser needs are not in the header.
    case missingColumns([String], found: [String])

    public var description: String {
        switch self {
        case .emptyHeader: "binetflow: no header line (expected StartTime,Dur,Proto,SrcAddr,…)"
        case .missingColumns(let missing, let found):
            "binetflow: header lacks \(missing.joined(separator: ", ")) (found: \(found.joined(separator: ", ")))"
        }
    }
}

/// A data line that did not become a record.
public struct BinetflowLineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why a line was rejected.
    public enum Reason: Sendable, Hashable {
        /// The line does not have the header's number of fields (only a trailing Label may be missing).
        case wrongFieldCount(expected: Int, found: Int)
        /// StartTime is neither a wall-clock time nor a number of seconds.
        case badTime(String)
        /// Dur is not a non-negative number of seconds.
        case badDuration(String)
        /// Proto is neither a known name nor a number 0–255.
        case badProtocol(String)
        /// An Argus record that is not an IP flow (`man` status records, `arp` …): skipped, not malformed.
        case notAnIPFlow(protocol: String)
        /// SrcAddr or DstAddr is not an IPv4 or IPv6 address.
        case badAddress(String)
        /// Sport or Dport is not a decimal or 0x-hex number 0–65535.
        case badPort(String)
        /// A packet or byte count is not a non-negative integer.
        case badCounter(column: String, String)
        /// The source side sent more than the total (SrcBytes > TotBytes, SrcPkts > TotPkts).
        case inconsistentCounters(String)
    }

    /// Line number in the file (1 = header).
    public var line: Int
    /// Why it was rejected.
    public var reason: Reason

    public init(line: Int, reason: Reason) {
        self.line = line
        self.reason = reason
    }

    public var description: String {
        let why: String
        switch reason {
        case .wrongFieldCount(let e, let f): why = "\(f) fields, header has \(e)"
        case .badTime(let s): why = "StartTime '\(s)' is neither YYYY/MM/DD hh:mm:ss.ffffff nor seconds"
        case .badDuration(let s): why = "Dur '\(s)' is not seconds"
        case .badProtocol(let s): why = "Proto '\(s)' is not a known protocol name or number"
        case .notAnIPFlow(let s): why = "Proto '\(s)' is not an IP flow (skipped)"
        case .badAddress(let s): why = "'\(s)' is not an IP address"
        case .badPort(let s): why = "port '\(s)' is not decimal or 0x-hex 0–65535"
        case .badCounter(let c, let s): why = "\(c) '\(s)' is not a count"
        case .inconsistentCounters(let s): why = s
        }
        return "line \(line): \(why)"
    }
}

extension StringProtocol {
    /// Without a trailing `\r` (files written on Windows).
    fileprivate func trimmingTrailingLineEnd() -> SubSequence {
        var s = self[...]
        while s.last == "\r" || s.last == "\n" { s = s.dropLast() }
        return s
    }

    /// Without leading and trailing spaces (Argus pads `Dir` as `   ->`).
    fileprivate func trimmedSpaces() -> SubSequence {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
