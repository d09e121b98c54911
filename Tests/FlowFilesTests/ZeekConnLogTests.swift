import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import Testing

/// Zeek conn.logs parsed by ``ZeekConnLog``: the Stratosphere labelled log of
/// `Fixtures/real-traffic` (TSV), a JSON copy of some of its lines, IoT-23's combined label
/// column, and hostile input.
struct ZeekConnLogTests {
    static let realLog = "real-traffic/CTU-Malware-Capture-Botnet-230-1.labeled-conn.log"
    /// 2017-03-08 13:47:04 UTC: the log's `#open` time, read as UTC, used as the base of its relative times.
    static let base: Int64 = 1_488_980_824_000

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: Fixtures.path(relative), encoding: .utf8)
    }

    @Test("the labelled CTU-Malware-Capture-Botnet-230-1 conn.log: 992 connections, relative times, labels")
    func realLabelledLog() throws {
        let result = try ZeekConnLog.parse(try Self.text(Self.realLog), options: .init(baseTimeMilliseconds: Self.base))
        #expect(result.format == .tsv && result.hasLabels)
        #expect(result.lines == 992 && result.errors.isEmpty, "\(result.errors.prefix(3))")
        #expect(result.connections.count == 992)
        // Python over the file: 1,431 directions sent at least one packet.
        #expect(result.flows.count == 1431)
        let starts = result.connections.map(\.startMilliseconds)
        #expect(starts.min() == Self.base + 15_230 && starts.max() == Self.base + 3_023_362)
        let labels = Dictionary(grouping: result.connections, by: { $0.label ?? "-" }).mapValues(\.count)
        #expect(labels == ["Background": 739, "Malicious": 244, "Benign": 9])
        #expect(result.connections.filter { $0.detailedLabel == "CC" }.count == 244)
        #expect(result.connections.filter { $0.label == "Background" }.allSatisfy { $0.detailedLabel == nil }) // `(empty)`

        let first = result.connections[0]
        #expect(first.line == 9 && first.uid == "C91Ycq25p2quMWzEMk" && first.service == "dns" && first.history == "Dd")
        #expect(first.forward?.sourceAddress == IPAddress("fd2d:ab8c:225:0:81d3:fd3e:7f62:aec8")! && first.forward?.destinationPort == 53)
        #expect(first.forward?.packets == 1 && first.forward?.bytes == 82 && first.reverse?.bytes == 98)
        #expect(first.forward?.startMilliseconds == Self.base + 19_981 && first.forward?.endMilliseconds == Self.base + 20_118)

        // The njRAT C&C: 237 unanswered attempts to 41.108.179.197:1177, every one a SYN-only
        // record from 192.168.1.115 with no answer (what the scan and beacon detectors look at).
        let cc = result.connections.filter { $0.responder == IPAddress("41.108.179.197")! }
        #expect(cc.count == 237)
        #expect(cc.allSatisfy { $0.state == "S0" && $0.history == "S" && $0.reverse == nil && $0.responderPort == 1177 })
        let attempts = cc.compactMap(\.forward)
        #expect(attempts.count == 237)
        #expect(attempts.allSatisfy { $0.sourceAddress == IPAddress("192.168.1.115")! && $0.ipProtocol == 6 && $0.tcpFlags == 0x02 })
        #expect(attempts.filter { $0.packets == 2 }.count == 119 && attempts.filter { $0.packets == 1 }.count == 118)
        #expect(attempts.map(\.startMilliseconds).min() == Self.base + 293_774)

        // Established connections have ACK both ways; ICMPv6 from :: is protocol 58.
        let established = result.connections.filter { $0.ipProtocol == 6 && $0.state == "SF" }
        #expect(
            !established.isEmpty
                && established.allSatisfy { ($0.forward?.tcpFlags ?? 0) & 0x12 == 0x12 && ($0.reverse?.tcpFlags ?? 0) & 0x12 == 0x12 })
        #expect(result.connections.filter { $0.ipProtocol == 58 }.count + result.connections.filter { $0.ipProtocol == 1 }.count == 323)
    }

    @Test("JSON lines (converted from the TSV log by hand, numeric and ISO 8601 ts) give the same flows")
    func jsonLines() throws {
        // `conn-sample.json.log` holds 7 lines of the TSV log (file lines 9, 10, 71, 161, 56, 84, 21)
        // rewritten as Zeek's JSON writer would: ts as epoch seconds (base + relative), one as an
        // ISO 8601 string, unset fields left out, `(empty)` as "" or [], booleans as true/false.
        let json = try ZeekConnLog.parse(try Self.text("real-traffic/conn-sample.json.log"))
        #expect(json.format == .json && json.errors.isEmpty, "\(json.errors)")
        try #require(json.connections.count == 7)
        let tsv = try ZeekConnLog.parse(try Self.text(Self.realLog), options: .init(baseTimeMilliseconds: Self.base))
        let byUID = Dictionary(tsv.connections.map { ($0.uid ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        for c in json.connections {
            let original = try #require(byUID[c.uid ?? ""], "uid \(c.uid ?? "-")")
            #expect(c.forward == original.forward && c.reverse == original.reverse, "uid \(c.uid ?? "-")")
            #expect(c.label == original.label && c.detailedLabel == original.detailedLabel && c.state == original.state)
        }
        #expect(json.connections[2].forward?.tcpFlags == 0x02 && json.connections[2].label == "Malicious")
    }

    @Test("IoT-23's combined column 'tunnel_parents   label   detailed-label' and header directives")
    func iot23CombinedColumn() throws {
        let text = """
            #separator \\x09
            #set_separator\t,
            #empty_field\t(empty)
            #unset_field\t-
            #path\tconn
            #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents   label   detailed-label
            #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]   string   string
            1545403816.962094\tCrDn63WjJEmrWGjqf\t192.168.1.195\t41040\t185.244.25.235\t80\ttcp\t-\t3.139211\t0\t0\tS0\t-\t-\t0\tS\t3\t180\t0\t0\t-   Malicious   C&C
            1545403824.181240\tCY7Dhr2AkUsuFhADhh\t192.168.1.195\t41040\t185.244.25.235\t80\ttcp\thttp\t2.7\t149\t128252\tSF\t-\t-\t2896\tShADadttcfF\t94\t5525\t96\t139044\t-   Benign   -
            1545403830.000000\tCx\t192.168.1.195\t5000\t10.0.0.1\t23\ttcp\t-\t0\t0\t0\tREJ\t-\t-\t0\tSr\t1\t60\t1\t40\t(empty)   Malicious   PartOfAHorizontalPortScan
            #close\t2018-12-21-15-50-14
            """
        let result = try ZeekConnLog.parse(text)
        #expect(result.errors.isEmpty, "\(result.errors)")
        try #require(result.connections.count == 3)
        let (attempt, web, rejected) = (result.connections[0], result.connections[1], result.connections[2])
        #expect(attempt.label == "Malicious" && attempt.detailedLabel == "C&C" && attempt.fullLabel == "Malicious C&C")
        #expect(attempt.forward?.tcpFlags == 0x02 && attempt.forward?.packets == 3 && attempt.reverse == nil)
        #expect(attempt.forward?.startMilliseconds == 1_545_403_816_962 && attempt.forward?.endMilliseconds == 1_545_403_820_101)
        #expect(web.label == "Benign" && web.detailedLabel == nil)
        #expect(web.forward?.tcpFlags == 0x13 && web.reverse?.tcpFlags == 0x13 && web.reverse?.bytes == 139_044)
        // A refused connection: SYN only from the originator, RST+ACK back.
        #expect(rejected.forward?.tcpFlags == 0x02 && rejected.reverse?.tcpFlags == 0x14)
    }

    @Test("TCP flags from conn_state and history")
    func flags() {
        #expect(ZeekConnLog.tcpFlags(state: "S0", history: "S") == (0x02, 0))
        #expect(ZeekConnLog.tcpFlags(state: "S0", history: "") == (0x02, 0))
        #expect(ZeekConnLog.tcpFlags(state: "REJ", history: "Sr") == (0x02, 0x14))
        #expect(ZeekConnLog.tcpFlags(state: "SF", history: "ShADadfF") == (0x13, 0x13))
        #expect(ZeekConnLog.tcpFlags(state: "RSTO", history: "ShADdR") == (0x16, 0x12))
        #expect(ZeekConnLog.tcpFlags(state: "OTH", history: "") == (0, 0))
        #expect(ZeekConnLog.tcpFlags(state: "OTH", history: "Dd") == (0x10, 0x10))
        #expect(ZeekConnLog.tcpFlags(state: "S1", history: "") == (0x12, 0x12))
    }

    @Test("bad lines are reported with their line number and reason; good lines around them are kept")
    func hostileLines() throws {
        let header =
            "#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes"
        let text = [
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1.0\t1\t60\t0\t0", // 1: before any #fields
            header,
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1.0\t1\t60\t0\t0", // 3: good
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1.0\t1", // 4: cut
            "1.0\t10.0.0.1\t1000\t10.0.0.999\t80\ttcp\t1.0\t1\t60\t0\t0",
            "1.0\t10.0.0.1\t70000\t10.0.0.2\t80\ttcp\t1.0\t1\t60\t0\t0",
            "x\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1.0\t1\t60\t0\t0",
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t-3\t1\t60\t0\t0",
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1.0\t99999999999999999999999\t60\t0\t0",
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\tunknown_transport\t1.0\t1\t60\t0\t0",
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\tfrob\t1.0\t1\t60\t0\t0",
            "-\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1.0\t1\t60\t0\t0",
            "99999999999999999999.5\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1.0\t1\t60\t0\t0",
            // 14: good, huge
            "1.0\t10.0.0.1\t1000\t10.0.0.2\t80\ttcp\t1099511627775.999999\t18446744073709551615\t18446744073709551615\t0\t0",
            "{\"ts\":1.0,\"id.orig_h\":\"10.0.0.1\"",
            "{\"ts\":1.0,\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":2}",
            // 17: good
            "{\"ts\":\"1.0\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":2,\"proto\":\"udp\",\"orig_pkts\":1,\"x\":[[{\"]\":1}]]}",
        ].joined(separator: "\n")
        let result = try ZeekConnLog.parse(text)
        #expect(result.connections.map(\.line) == [3, 14, 17])
        #expect(result.connections[1].forward?.packets == .max && result.connections[1].forward?.bytes == .max)
        let reasons = Dictionary(result.errors.map { ($0.line, $0.reason) }, uniquingKeysWith: { a, _ in a })
        #expect(reasons[1] == .noFieldsHeader)
        #expect(reasons[4] == .wrongFieldCount(expected: 11, found: 8))
        #expect(reasons[5] == .badAddress("10.0.0.999"))
        #expect(reasons[6] == .badPort("70000"))
        #expect(reasons[7] == .badTime("x"))
        #expect(reasons[8] == .badDuration("-3"))
        #expect(reasons[9] == .badCounter(column: "orig_pkts", "99999999999999999999999"))
        #expect(reasons[10] == .notATransportFlow(protocol: "unknown_transport"))
        #expect(reasons[11] == .badProtocol("frob"))
        #expect(reasons[12] == .missingField("ts"))
        #expect(reasons[13] == .badTime("99999999999999999999.5"))
        if case .badJSON = reasons[15] {} else { Issue.record("line 15: \(String(describing: reasons[15]))") }
        #expect(reasons[16] == .missingField("proto"))
        #expect(result.errors.count == 13 && result.nonTransportLines == 1 && result.malformedLines == 12)
        #expect(result.errors.allSatisfy { !$0.description.isEmpty })

        // Times that overflow with the base are bad lines, not traps.
        let lines = text.split(separator: "\n")
        let huge = try ZeekConnLog.parse(
            [header, String(lines[2]), String(lines[13])].joined(separator: "\n"), options: .init(baseTimeMilliseconds: .max / 1000))
        #expect(huge.connections.isEmpty && huge.errors.map(\.reason) == [.badTime("1.0"), .badTime("1.0")])
        let late = try ZeekConnLog.parse(
            [header, String(lines[2]), String(lines[13])].joined(separator: "\n"),
            options: .init(baseTimeMilliseconds: 8_200_000_000_000_000))
        #expect(late.connections.map(\.line) == [2] && late.errors.map(\.reason) == [.badDuration("1099511627775.999999")])

        #expect(throws: ZeekConnLogError(.empty)) { try ZeekConnLog.parse("\n\n  \n") }
        #expect(throws: ZeekConnLogError.self) { try ZeekConnLog.parse("#separator \\x09\n#fields\tts\tuid\tquery\n") }
        #expect(throws: ZeekConnLogError.self) { try ZeekConnLog.parse("#separator abc\n") }
    }

    @Test("every prefix of the real log and seeded mutations of it parse without trapping")
    func neverTraps() throws {
        let text = try Self.text(Self.realLog)
        let bytes = Array(text.utf8.prefix(6000))
        for cut in stride(from: 0, to: bytes.count, by: 37) {
            _ = try? ZeekConnLog.parse(String(decoding: bytes[..<cut], as: UTF8.self))
        }
        let json = Array(try Self.text("real-traffic/conn-sample.json.log").utf8)
        for cut in 0..<json.count {
            _ = try? ZeekConnLog.parse(String(decoding: json[..<cut], as: UTF8.self))
        }
        var random = SplitMix64(seed: 23)
        for _ in 0..<300 {
            var mutated = bytes
            for _ in 0..<8 {
                let i = Int(random.next() % UInt64(mutated.count))
                mutated[i] =
                    [
                        UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "{"), UInt8(ascii: "9"), UInt8(ascii: "-"),
                        UInt8(truncatingIfNeeded: random.next()),
                    ][Int(random.next() % 6)]
            }
            _ = try? ZeekConnLog.parse(String(decoding: mutated, as: UTF8.self))
        }
        for _ in 0..<300 {
            var mutated = json
            for _ in 0..<4 { mutated[Int(random.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: random.next()) }
            _ = try? ZeekConnLog.parse(String(decoding: mutated, as: UTF8.self))
        }
    }
}
