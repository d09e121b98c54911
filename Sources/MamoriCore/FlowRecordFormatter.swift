import FlowCodec

/// Renders flow records for people (a fixed-width table) and for programs (JSON lines).
///
/// The JSON schema, one object per line:
/// `{"exporter":"192.0.2.1","domain":0,"protocol":"ipfix","src":"10.0.0.1","dst":"198.51.100.7",
///   "sport":51514,"dport":443,"proto":6,"tcp_flags":27,"tos":0,"bytes":5120,"packets":8,
///   "sampling":1,"start":"2026-11-20T10:00:01.250Z","end":"2026-11-20T10:00:03.000Z",
///   "start_ms":…,"end_ms":…,"in_if":3,"out_if":7,"direction":"ingress","src_as":0,"dst_as":0,
///   "nat":{"event":14,"post_src":"203.0.113.5","post_dst":null,"post_sport":0,"post_dport":0,
///          "port_start":1024,"port_end":2047}}`  (`nat` only when present)
public enum FlowRecordFormatter {
    /// One JSON object, no trailing newline. Built by hand: the hot path of `--dump-flows` and
    /// `mamori decode --json` writes millions of these, and the schema is flat.
    public static func json(_ r: FlowRecord) -> String {
        var s = "{\"exporter\":\"\(r.exporter)\",\"domain\":\(r.observationDomain),\"protocol\":\"\(r.exportProtocol)\""
        s += ",\"src\":\"\(r.sourceAddress)\",\"dst\":\"\(r.destinationAddress)\",\"sport\":\(r.sourcePort),\"dport\":\(r.destinationPort)"
        s +=
            ",\"proto\":\(r.ipProtocol),\"tcp_flags\":\(r.tcpFlags),\"tos\":\(r.typeOfService),\"bytes\":\(r.bytes),\"packets\":\(r.packets)"
        s += ",\"sampling\":\(r.samplingInterval),\"start\":\"\(iso8601(r.startMilliseconds))\",\"end\":\"\(iso8601(r.endMilliseconds))\""
        s += ",\"start_ms\":\(r.startMilliseconds),\"end_ms\":\(r.endMilliseconds)"
        s +=
            ",\"in_if\":\(r.inputInterface),\"out_if\":\(r.outputInterface),\"direction\":\"\(r.direction)\",\"src_as\":\(r.sourceAS),\"dst_as\":\(r.destinationAS)"
        if let n = r.nat {
            func addr(_ a: IPAddress?) -> String { a.map { "\"\($0)\"" } ?? "null" }
            s += ",\"nat\":{\"event\":\(n.event),\"post_src\":\(addr(n.postSourceAddress)),\"post_dst\":\(addr(n.postDestinationAddress))"
            s +=
                ",\"post_sport\":\(n.postSourcePort),\"post_dport\":\(n.postDestinationPort),\"port_start\":\(n.portRangeStart),\"port_end\":\(n.portRangeEnd)}"
        }
        s += "}"
        return s
    }

    /// Column headings matching ``tableRow(_:)``.
    public static let tableHeader =
        pad("start (UTC)", 24) + pad("proto", 6) + pad("source", 41) + pad("destination", 41) + pad("bytes", 12, right: true)
        + pad("pkts", 9, right: true) + "  sampling  exporter"

    /// One fixed-width line for a terminal.
    public static func tableRow(_ r: FlowRecord) -> String {
        let proto: String
        switch r.ipProtocol {
        case 6: proto = "TCP"
        case 17: proto = "UDP"
        case 1: proto = "ICMP"
        case 58: proto = "ICMP6"
        default: proto = String(r.ipProtocol)
        }
        func ep(_ a: IPAddress, _ p: UInt16) -> String { a.isIPv6 ? "[\(a)]:\(p)" : "\(a):\(p)" }
        var line =
            pad(iso8601(r.startMilliseconds), 24) + pad(proto, 6) + pad(ep(r.sourceAddress, r.sourcePort), 41)
            + pad(ep(r.destinationAddress, r.destinationPort), 41)
        line +=
            pad(String(r.bytes), 12, right: true) + pad(String(r.packets), 9, right: true) + "  " + pad("1:\(r.samplingInterval)", 8)
            + "  \(r.exporter)"
        if let n = r.nat {
            line += "  nat event \(n.event)"
            if let a = n.postSourceAddress { line += " → \(a):\(n.postSourcePort)" }
            if n.portRangeEnd > 0 { line += " ports \(n.portRangeStart)-\(n.portRangeEnd)" }
        }
        return line
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let n = s.count
        guard n < width else { return s + " " }
        let fill = String(repeating: " ", count: width - n)
        return right ? fill + s : s + fill
    }

    /// `2026-11-20T10:00:01.250Z` from ms since the Unix epoch (proleptic Gregorian, UTC).
    /// Hand-written (Howard Hinnant's days-to-civil algorithm) to keep Foundation out of the core.
    public static func iso8601(_ milliseconds: Int64) -> String {
        let ms = ((milliseconds % 1000) + 1000) % 1000
        let totalSeconds = (milliseconds - ms) / 1000
        var days = totalSeconds / 86_400
        var secs = totalSeconds % 86_400
        if secs < 0 {
            secs += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(y)-\(two(m))-\(two(d))T\(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60)).\(msText)Z"
    }
}
