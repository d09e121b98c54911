import FlowCodec
import FlowFiles
import Foundation
import Testing

/// The Stratosphere binetflow files of `Fixtures/real-traffic` (see its SOURCES.md): four Argus
/// column sets, all read without a malformed line.
struct BinetflowRealFileTests {
    static func parse(_ name: String, options: BinetflowParser.Options = .init()) throws -> BinetflowParseResult {
        try BinetflowParser.parse(try String(contentsOfFile: Fixtures.path("real-traffic/\(name)"), encoding: .utf8), options: options)
    }

    @Test(
        "every real binetflow file parses with no malformed line; only ARP/LLC are not IP flows",
        arguments: [
            ("2013-10-21_capture-1.binetflow", 2398, 18, false),
            ("2015-03-24_capture1-only-dns.binetflow", 2914, 0, true),
            ("CTU-Malware-Capture-Botnet-207-1.binetflow", 23602, 852 + 2, true),
            ("test4.binetflow", 197, 1, true),
        ])
    func realFiles(name: String, lines: Int, nonIP: Int, hasSourceBytes: Bool) throws {
        let result = try Self.parse(name)
        #expect(result.lines == lines)
        #expect(
            result.malformedLines == 0, "\(result.errors.filter { if case .notAnIPFlow = $0.reason { false } else { true } }.prefix(5))")
        #expect(result.nonIPLines == nonIP)
        #expect(result.records.count == lines - nonIP)
        #expect(result.hasSourceBytes == hasSourceBytes)
        #expect(result.records.allSatisfy { !$0.flows.isEmpty })
    }

    @Test("IGMP and ICMPv6 with IP addresses are flows (CTU-Malware-Capture-Botnet-207-1)")
    func igmpAndICMPv6() throws {
        let result = try Self.parse("CTU-Malware-Capture-Botnet-207-1.binetflow")
        let byProtocol = Dictionary(grouping: result.records.compactMap(\.forward), by: \.ipProtocol).mapValues(\.count)
        #expect(byProtocol[2] == 6642 && byProtocol[58] == 10739 && byProtocol[6] == 34)
    }

    @Test("no SrcBytes column (2013-10-21): one-way records go to their sender, two-way ones are split by packets")
    func withoutSourceBytes() throws {
        let result = try Self.parse("2013-10-21_capture-1.binetflow")
        #expect(!result.hasSourceBytes && !result.hasLabels && !result.hasSourcePackets)
        // Bytes and packets are never invented or lost: each record's two sides add up to the totals.
        let text = try String(contentsOfFile: Fixtures.path("real-traffic/2013-10-21_capture-1.binetflow"), encoding: .utf8)
        let totals = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .filter { $0[2] != "arp" }.map { (packets: UInt64($0[11])!, bytes: UInt64($0[12])!) }
        try #require(totals.count == result.records.count)
        for (r, t) in zip(result.records, totals) {
            #expect(r.flows.reduce(0) { $0 + $1.packets } == t.packets && r.flows.reduce(0) { $0 + $1.bytes } == t.bytes, "line \(r.line)")
        }
        // Line 2: Jabber, PA_PA both ways, 448 packets / 49634 bytes: 224 and 24817 each.
        let jabber = result.records[0]
        #expect(
            jabber.forward?.packets == 224 && jabber.forward?.bytes == 24817 && jabber.reverse?.packets == 224
                && jabber.reverse?.bytes == 24817)
        #expect(jabber.forward?.tcpFlags == 0x18 && jabber.reverse?.tcpFlags == 0x18)
        // A UDP `->` INT record: one-way, everything to the source.
        let oneWay = try #require(result.records.first { $0.forward?.ipProtocol == 17 && $0.state == "INT" })
        #expect(oneWay.reverse == nil)
        // A TCP SYN nobody answered (`S_`, one packet) stays SYN-only with all its bytes on the source side.
        let syn = try #require(result.records.first { $0.state == "S_" })
        #expect(syn.reverse == nil && syn.forward?.tcpFlags == 0x02)
    }

    @Test("sides that sent, without SrcBytes")
    func sendingSides() {
        #expect(BinetflowParser.sendingSides(ipProtocol: 6, direction: "->", state: "S_", totalPackets: 2) == (true, false))
        #expect(BinetflowParser.sendingSides(ipProtocol: 6, direction: "->", state: "SPA_SRPA", totalPackets: 9) == (true, true))
        #expect(BinetflowParser.sendingSides(ipProtocol: 6, direction: "->", state: "REQ", totalPackets: 1) == (true, false))
        #expect(BinetflowParser.sendingSides(ipProtocol: 6, direction: "->", state: "CON", totalPackets: 5) == (true, true))
        #expect(BinetflowParser.sendingSides(ipProtocol: 17, direction: "->", state: "CON", totalPackets: 5) == (true, false))
        #expect(BinetflowParser.sendingSides(ipProtocol: 17, direction: "<->", state: "CON", totalPackets: 2) == (true, true))
        #expect(BinetflowParser.sendingSides(ipProtocol: 17, direction: "<-", state: "CON", totalPackets: 2) == (false, true))
        #expect(BinetflowParser.sendingSides(ipProtocol: 1, direction: "<->", state: "ECO", totalPackets: 1) == (true, false))
        #expect(
            BinetflowParser.sendingSides(ipProtocol: 6, direction: "->", state: "CON", totalPackets: 4, sourcePackets: 4) == (true, false))
        let split = BinetflowParser.estimatedSourceShare(sides: (true, true), totalPackets: 3, totalBytes: 300)
        #expect(split.packets == 2 && split.bytes == 200)
        let huge = BinetflowParser.estimatedSourceShare(sides: (true, true), totalPackets: .max, totalBytes: .max)
        #expect(huge.packets == UInt64.max / 2 + 1 && huge.bytes < .max)
        // Counters near 2^64 must not trap in the SrcBytes estimate either.
        #expect(BinetflowParser.estimatedSourcePackets(totalPackets: .max, totalBytes: .max, sourceBytes: .max - 1) == UInt64.max - 1)
    }
}
