import FlowCodec
import MamoriCore

/// FreeRADIUS `detail` files (rlm_detail, FreeRADIUS 3.x): the accounting log most RADIUS
/// deployments keep, and what `radrelay` and detail readers replay.
///
/// The layout, as FreeRADIUS 3.2 writes it with its default `header = "%t"`:
/// ```text
/// Thu Jan  1 00:00:00 2026
/// 	Acct-Status-Type = Start
/// 	User-Name = "isp-000042"
/// 	Framed-IP-Address = 100.64.0.43
/// 	Delegated-IPv6-Prefix = 2001:db8:2b00::/56
/// 	Event-Timestamp = "Jan  1 2026 00:00:00 UTC"
/// 	Timestamp = 1767225600
///
/// ```
/// A header line with the time the record was written (`ctime` layout, local time of the server:
/// Mamori writes and reads it as UTC), one tab-indented `Attribute-Name = value` line per
/// attribute (strings and dates quoted, integers with dictionary names by name), the
/// `Timestamp = <Unix seconds>` line rlm_detail appends, and a blank line. Lines end in LF, as
/// FreeRADIUS writes them. Readers should trust
/// `Timestamp` over the header, whose time zone is the server's.
public enum FreeRADIUSDetail {
    /// One record of a detail file.
    public struct Entry: Sendable, Hashable {
        /// When the server wrote it, ms since the Unix epoch (`Timestamp`, else the header read as UTC).
        public var writtenAtMilliseconds: Int64
        /// The attribute lines in file order, values unquoted and unescaped.
        public var pairs: [Pair]

        public struct Pair: Sendable, Hashable {
            public var name: String
            public var value: String
            public init(name: String, value: String) {
                self.name = name
                self.value = value
            }
        }

        /// The first value named `name`.
        public func value(_ name: String) -> String? { pairs.first { $0.name == name }?.value }

        /// The accounting record this entry logs. Throws ``IdentityCodecError/Code/missingField``
        /// without Acct-Status-Type and ``IdentityCodecError/Code/badFieldValue`` for a value that
        /// does not parse. Attributes it does not know are ignored.
        public func accountingRecord() throws(IdentityCodecError) -> AccountingRecord {
            guard let statusText = value("Acct-Status-Type") else { throw IdentityCodecError(.missingField, "no Acct-Status-Type") }
            guard let status = AccountingStatusType(name: statusText) ?? UInt32(statusText).flatMap(AccountingStatusType.init(rawValue:))
            else {
                throw IdentityCodecError(.badFieldValue, "Acct-Status-Type = \(statusText)")
            }
            var r = AccountingRecord(status: status)
            for p in pairs {
                func int(_ names: [String: UInt32] = [:]) throws(IdentityCodecError) -> UInt32 {
                    if let v = UInt32(p.value) ?? names[p.value] { return v }
                    throw IdentityCodecError(.badFieldValue, "\(p.name) = \(p.value)")
                }
                func address() throws(IdentityCodecError) -> IPAddress {
                    guard let a = IPAddress(p.value), !a.isIPv6 else { throw IdentityCodecError(.badFieldValue, "\(p.name) = \(p.value)") }
                    return a
                }
                func prefix() throws(IdentityCodecError) -> IPPrefix {
                    guard let v = IPPrefix(p.value) else { throw IdentityCodecError(.badFieldValue, "\(p.name) = \(p.value)") }
                    return v
                }
                switch p.name {
                case "Acct-Session-Id": r.sessionID = p.value
                case "User-Name": r.userName = p.value
                case "Calling-Station-Id": r.callingStationID = p.value
                case "NAS-Identifier": r.nasIdentifier = p.value
                case "NAS-IP-Address": r.nasIPAddress = try address()
                case "Framed-IP-Address": r.framedIPAddress = try address()
                case "Framed-IPv6-Prefix": r.framedIPv6Prefixes.append(try prefix())
                case "Delegated-IPv6-Prefix": r.delegatedIPv6Prefixes.append(try prefix())
                case "Event-Timestamp":
                    if let s = Int64(p.value) {
                        r.eventTime = s
                    } else if let ms = UTCTime.milliseconds(freeRADIUSText: Substring(p.value)) {
                        r.eventTime = ms / 1000
                    } else {
                        throw IdentityCodecError(.badFieldValue, "Event-Timestamp = \(p.value)")
                    }
                case "Acct-Session-Time": r.sessionTime = try int()
                case "Acct-Input-Octets": r.inputOctets = UInt64(try int()) | (r.inputOctets ?? 0) & ~0xFFFF_FFFF
                case "Acct-Output-Octets": r.outputOctets = UInt64(try int()) | (r.outputOctets ?? 0) & ~0xFFFF_FFFF
                case "Acct-Input-Gigawords": r.inputOctets = (r.inputOctets ?? 0) & 0xFFFF_FFFF | UInt64(try int()) << 32
                case "Acct-Output-Gigawords": r.outputOctets = (r.outputOctets ?? 0) & 0xFFFF_FFFF | UInt64(try int()) << 32
                case "Acct-Input-Packets": r.inputPackets = try int()
                case "Acct-Output-Packets": r.outputPackets = try int()
                case "Acct-Terminate-Cause": r.terminateCause = try int(terminateCauseNames)
                case "Acct-Delay-Time": r.delayTime = try int()
                case "NAS-Port-Type": r.nasPortType = try int(nasPortTypeNames)
                case "Framed-Protocol": r.framedPPP = (try int(["PPP": 1])) == 1
                default: break
                }
            }
            return r
        }
    }

    /// NAS-Port-Type names of the FreeRADIUS dictionary (RFC 2865 §5.41) that Mamori writes.
    static let nasPortTypeNames: [String: UInt32] = [
        "Async": 0, "Sync": 1, "ISDN": 2, "Virtual": 5, "Ethernet": 15, "xDSL": 16, "Cable": 17, "Wireless-Other": 18,
        "Wireless-802.11": 19,
    ]
    /// Acct-Terminate-Cause names (RFC 2866 §5.10).
    static let terminateCauseNames: [String: UInt32] = [
        "User-Request": 1, "Lost-Carrier": 2, "Lost-Service": 3, "Idle-Timeout": 4, "Session-Timeout": 5, "Admin-Reset": 6,
        "Admin-Reboot": 7, "Port-Error": 8, "NAS-Error": 9, "NAS-Request": 10, "NAS-Reboot": 11, "Port-Unneeded": 12,
        "Port-Preempted": 13, "Port-Suspended": 14, "Service-Unavailable": 15, "Callback": 16, "User-Error": 17, "Host-Request": 18,
    ]

    /// One record as rlm_detail writes it, ending with its blank line.
    /// - Parameters:
    ///   - record: the accounting record.
    ///   - writtenAtMilliseconds: when the server logged it (header and `Timestamp`).
    public static func format(_ record: AccountingRecord, writtenAtMilliseconds: Int64) -> String {
        var s = UTCTime(milliseconds: writtenAtMilliseconds).ctime + "\n"
        func line(_ name: String, _ value: String) { s += "\t\(name) = \(value)\n" }
        func quoted(_ v: String) -> String { "\"" + escape(v) + "\"" }
        func name(_ v: UInt32, in names: [String: UInt32]) -> String { names.first { $0.value == v }?.key ?? String(v) }
        line("Acct-Status-Type", record.status.description)
        if !record.sessionID.isEmpty { line("Acct-Session-Id", quoted(record.sessionID)) }
        if let v = record.userName { line("User-Name", quoted(v)) }
        if let v = record.callingStationID { line("Calling-Station-Id", quoted(v)) }
        if let v = record.nasIPAddress { line("NAS-IP-Address", "\(v)") }
        if let v = record.nasIdentifier { line("NAS-Identifier", quoted(v)) }
        if let v = record.nasPortType { line("NAS-Port-Type", name(v, in: nasPortTypeNames)) }
        if record.framedPPP {
            line("Service-Type", "Framed-User")
            line("Framed-Protocol", "PPP")
        }
        if let v = record.framedIPAddress { line("Framed-IP-Address", "\(v)") }
        for p in record.framedIPv6Prefixes { line("Framed-IPv6-Prefix", "\(p)") }
        for p in record.delegatedIPv6Prefixes { line("Delegated-IPv6-Prefix", "\(p)") }
        if let v = record.eventTime {
            line("Event-Timestamp", quoted(UTCTime(milliseconds: max(-Int64.max / 1000, min(Int64.max / 1000, v)) * 1000).freeRADIUSDate))
        }
        if let v = record.sessionTime { line("Acct-Session-Time", "\(v)") }
        if let v = record.inputOctets {
            line("Acct-Input-Octets", "\(v & 0xFFFF_FFFF)")
            if v >> 32 != 0 { line("Acct-Input-Gigawords", "\(v >> 32)") }
        }
        if let v = record.outputOctets {
            line("Acct-Output-Octets", "\(v & 0xFFFF_FFFF)")
            if v >> 32 != 0 { line("Acct-Output-Gigawords", "\(v >> 32)") }
        }
        if let v = record.inputPackets { line("Acct-Input-Packets", "\(v)") }
        if let v = record.outputPackets { line("Acct-Output-Packets", "\(v)") }
        if let v = record.terminateCause { line("Acct-Terminate-Cause", name(v, in: terminateCauseNames)) }
        if let v = record.delayTime { line("Acct-Delay-Time", "\(v)") }
        line("Timestamp", "\(writtenAtMilliseconds / 1000)")
        return s + "\n"
    }

    /// Escapes `"` and `\` and control characters the way FreeRADIUS 3 prints strings.
    static func escape(_ v: String) -> String {
        var out = ""
        for u in v.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let o = String(u.value, radix: 8)
                    out += "\\" + String(repeating: "0", count: 3 - o.count) + o
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    static func unescape(_ v: Substring) throws(IdentityCodecError) -> String {
        var bytes: [UInt8] = []
        let u = Array(v.utf8)
        var i = 0
        while i < u.count {
            if u[i] != 92 {
                bytes.append(u[i])
                i += 1
                continue
            }
            guard i + 1 < u.count else { throw IdentityCodecError(.malformedLine, "string ends in a backslash") }
            switch u[i + 1] {
            case 110:
                bytes.append(10)
                i += 2
            case 114:
                bytes.append(13)
                i += 2
            case 116:
                bytes.append(9)
                i += 2
            case 48...55:
                guard i + 3 < u.count, (48...55).contains(u[i + 2]), (48...55).contains(u[i + 3]) else {
                    throw IdentityCodecError(.malformedLine, "bad octal escape")
                }
                let v = Int(u[i + 1] - 48) * 64 + Int(u[i + 2] - 48) * 8 + Int(u[i + 3] - 48)
                guard v < 256 else { throw IdentityCodecError(.malformedLine, "bad octal escape") }
                bytes.append(UInt8(v))
                i += 4
            default:
                bytes.append(u[i + 1])
                i += 2
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses the complete records of a detail file's text. A record is complete when its blank
    /// line has been written; an unfinished last record (a file still being written) is left out,
    /// and ``ParseResult/consumedUTF8Count`` says where to resume.
    ///
    /// Throws ``IdentityCodecError/Code/malformedLine`` for an attribute line without ` = `, an
    /// attribute line before any header, or an unterminated quoted string, and
    /// ``IdentityCodecError/Code/badFieldValue`` for a header that is not a time.
    public static func parse(_ text: Substring) throws(IdentityCodecError) -> ParseResult {
        var entries: [Entry] = []
        var current: Entry? = nil
        var consumed = 0
        var offset = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let lineLength = rawLine.utf8.count + 1
            defer { offset += lineLength }
            guard offset + lineLength <= text.utf8.count else { break } // last line without its newline: unfinished
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
                if var e = current {
                    if let t = e.value("Timestamp").flatMap({ Int64($0) }), case (let ms, false) = t.multipliedReportingOverflow(by: 1000) {
                        e.writtenAtMilliseconds = ms
                    }
                    entries.append(e)
                    current = nil
                }
                consumed = offset + lineLength
                continue
            }
            if line.first == "\t" || line.first == " " {
                guard current != nil else { throw IdentityCodecError(.malformedLine, "attribute line before a header: \(line)") }
                let body = line.drop { $0 == "\t" || $0 == " " }
                guard let eq = body.firstRange(of: " = ") else { throw IdentityCodecError(.malformedLine, "no ' = ' in \(body)") }
                let name = String(body[..<eq.lowerBound])
                var value = body[eq.upperBound...]
                let unquoted: String
                if value.first == "\"" {
                    guard value.count >= 2, value.last == "\"" else {
                        throw IdentityCodecError(.malformedLine, "unterminated string in \(body)")
                    }
                    value = value.dropFirst().dropLast()
                    unquoted = try unescape(value)
                } else {
                    unquoted = String(value)
                }
                current?.pairs.append(.init(name: name, value: unquoted))
            } else {
                if let e = current { entries.append(e) } // a header right after a record (no blank line)
                guard let t = UTCTime.milliseconds(freeRADIUSText: line) else {
                    throw IdentityCodecError(.badFieldValue, "header is not a ctime date: \(line)")
                }
                current = Entry(writtenAtMilliseconds: t, pairs: [])
            }
        }
        return ParseResult(entries: entries, consumedUTF8Count: consumed)
    }

    /// Records parsed from a detail file and how far the text was consumed.
    public struct ParseResult: Sendable, Hashable {
        public var entries: [Entry]
        /// UTF-8 bytes of the input that belong to complete records (resume reading here).
        public var consumedUTF8Count: Int
    }
}
