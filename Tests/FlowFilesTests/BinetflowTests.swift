import FlowCodec
import FlowFiles
import Testing

/// Argus binetflow text as the CTU-13 datasets publish it, parsed by ``BinetflowParser``.
struct BinetflowTests {
    /// 2011/08/10 09:46:59.607825 UTC in ms since the epoch.
    static let ctuTime: Int64 = 1_312_969_619_607

    static let ctuHeader = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label"

    @Test("CTU-13 comma lines: absolute times, both directions, estimated packets, labels, TCP flags from the state")
    func ctuCommaLines() throws {
        let text = """
            \(Self.ctuHeader)
            2011/08/10 09:46:59.607825,1.026539,tcp,94.44.127.113,1577,   ->,147.32.84.59,6881,S_RA,0,0,4,276,156,flow=Background-Established-cmpgw-CVUT
            2011/08/10 09:47:00.100000,0.000000,tcp,147.32.84.165,1025,   ->,60.190.222.139,80,S_,0,,1,62,62,flow=From-Botnet-V42-TCP-Attempt
            2011/08/10 09:47:01.000000,2.500000,udp,147.32.84.165,1026,  <->,147.32.80.9,53,CON,0,0,2,214,81,flow=From-Normal-V42-UDP-CVUT-DNS-Server

            """
        let result = try BinetflowParser.parse(text)
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.hasLabels && !result.hasSourcePackets)
        try #require(result.lines == 3 && result.records.count == 3)

        let first = result.records[0]
        #expect(first.line == 2 && first.direction == "->" && first.state == "S_RA")
        #expect(first.label == "flow=Background-Established-cmpgw-CVUT")
        let forward = try #require(first.forward)
        #expect(forward.sourceAddress == IPAddress("94.44.127.113")! && forward.destinationAddress == IPAddress("147.32.84.59")!)
        #expect(forward.sourcePort == 1577 && forward.destinationPort == 6881 && forward.ipProtocol == 6)
        #expect(forward.bytes == 156 && forward.packets == 2) // 4 packets × 156 / 276 ≈ 2.26
        #expect(forward.startMilliseconds == Self.ctuTime && forward.endMilliseconds == Self.ctuTime + 1027) // .607825 + 1.026539 = .634364
        #expect(forward.tcpFlags == 0x02) // S
        let reverse = try #require(first.reverse)
        #expect(reverse.sourceAddress == IPAddress("147.32.84.59")! && reverse.sourcePort == 6881 && reverse.destinationPort == 1577)
        #expect(reverse.bytes == 120 && reverse.packets == 2)
        #expect(reverse.tcpFlags == 0x14) // RA

        // An unanswered SYN: one forward record, SYN without ACK (what the scan detector counts).
        let probe = result.records[1]
        #expect(probe.reverse == nil)
        let syn = try #require(probe.forward)
        #expect(syn.tcpFlags & 0x02 != 0 && syn.tcpFlags & 0x10 == 0)
        #expect(syn.packets == 1 && syn.bytes == 62)

        let dns = result.records[2]
        #expect(dns.forward?.ipProtocol == 17 && dns.forward?.tcpFlags == 0)
        #expect(dns.forward?.packets == 1 && dns.reverse?.packets == 1 && dns.reverse?.bytes == 133)
        #expect(dns.forward?.endMilliseconds == Self.ctuTime + 1393 + 2500)
    }

    @Test("tab-separated, relative times with a base, hex ICMP ports, SrcPkts, upper-case header, extra columns")
    func tabRelativeHex() throws {
        let text = [
            "STARTTIME\tdur\tproto\tsrcaddr\tsport\tdir\tdstaddr\tdport\tstate\tstos\tdtos\ttotpkts\ttotbytes\tsrcbytes\tsrcpkts\tsMeanPktSz",
            "0.000000\t0.5\ticmp\t10.0.0.1\t0x0008\t  ->\t10.0.0.2\t0x0a1b\tECO\t0\t0\t2\t196\t98\t1\t98",
            "12.250000\t0\tipv6-icmp\t2001:db8::1\t0x0087\t  ->\t2001:db8::2\t0x0000\tINT\t0\t0\t1\t86\t86\t1\t86",
            "13.000000\t1.0\t6\t10.0.0.1\t40000\t  <-\t10.0.0.3\t443\tCON\t0\t0\t3\t300\t0\t0\t0",
        ].joined(separator: "\r\n")
        let base: Int64 = 1_700_000_000_000
        let result = try BinetflowParser.parse(text, options: .init(baseTimeMilliseconds: base))
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.hasSourcePackets && !result.hasLabels)
        try #require(result.records.count == 3)
        let icmp = try #require(result.records[0].forward)
        #expect(icmp.ipProtocol == 1 && icmp.sourcePort == 8 && icmp.destinationPort == 0x0a1b)
        #expect(icmp.startMilliseconds == base && icmp.endMilliseconds == base + 500)
        #expect(icmp.packets == 1 && result.records[0].reverse?.packets == 1)
        let v6 = try #require(result.records[1].forward)
        #expect(v6.ipProtocol == 58 && v6.sourceAddress == IPAddress("2001:db8::1")! && v6.sourcePort == 0x87)
        #expect(v6.startMilliseconds == base + 12_250)
        // `<-`: only DstAddr sent; the one record goes 10.0.0.3:443 → 10.0.0.1:40000.
        let back = result.records[2]
        #expect(back.forward == nil && back.originator == IPAddress("10.0.0.1")!)
        #expect(back.reverse?.sourceAddress == IPAddress("10.0.0.3")! && back.reverse?.sourcePort == 443 && back.reverse?.packets == 3)
    }

    @Test("ISO-like times, epoch seconds and a UTC offset give the same instant")
    func timeFormats() throws {
        let header = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,TotPkts,TotBytes,SrcBytes"
        func start(_ time: String, offset: Int = 0) throws -> Int64? {
            let parser = try BinetflowParser(header: header, options: .init(utcOffsetSeconds: offset))
            let r = try parser.parse(line: "\(time),0,udp,10.0.0.1,1,->,10.0.0.2,2,1,60,60", number: 2).get()
            return r.forward?.startMilliseconds
        }
        #expect(try start("2011-08-10 09:46:59.607825") == Self.ctuTime)
        #expect(try start("2011-08-10T09:46:59.607825Z") == Self.ctuTime)
        #expect(try start("1312969619.607825") == Self.ctuTime)
        #expect(try start("2011/08/10 10:46:59.607825", offset: 3600) == Self.ctuTime) // CET
        #expect(try start("2011/08/10 09:46:59.6") == Self.ctuTime - 7)
    }

    @Test("bad lines are counted with a typed reason; good lines around them still parse")
    func badLinesCounted() throws {
        let text = """
            \(Self.ctuHeader)
            2011/08/10 09:46:59.607825,1.0,tcp,147.32.84.165,1025,->,1.2.3.4,80,S_,0,0,1,62,62,flow=From-Botnet-V42
            2011/13/10 09:46:59.607825,1.0,tcp,147.32.84.165,1025,->,1.2.3.4,80,S_,0,0,1,62,62,x
            2011/08/10 09:46:59.607825,1.0,tcp,147.32.84.999,1025,->,1.2.3.4,80,S_,0,0,1,62,62,x
            2011/08/10 09:46:59.607825,1.0,tcp,147.32.84.165,70000,->,1.2.3.4,80,S_,0,0,1,62,62,x
            2011/08/10 09:46:59.607825,1.0,tcp,147.32.84.165,0xZZ,->,1.2.3.4,80,S_,0,0,1,62,62,x
            2011/08/10 09:46:59.607825,1.0,frobnicate,147.32.84.165,1025,->,1.2.3.4,80,S_,0,0,1,62,62,x
            2011/08/10 09:46:59.607825,1.0,man,0,0,,0,0,STA,,,0,0,0,x
            2011/08/10 09:46:59.607825,1.0,tcp,147.32.84.165,1025,->,1.2.3.4,80,S_,0,0,1,62,99,x
            2011/08/10 09:46:59.607825,-1,tcp,147.32.84.165,1025,->,1.2.3.4,80,S_,0,0,1,62,62,x
            2011/08/10 09:46:59.607825,1.0,tcp,147.32.84.165,1025,->,1.2.3.4,80,S_,0,0,many,62,62,x
            just,a,few,fields
            2011/08/10 09:46:59.607825,1.0,tcp,147.32.84.165,1025,->,1.2.3.4,80,S_,0,0,1,62,62
            """
        let result = try BinetflowParser.parse(text)
        #expect(result.lines == 12)
        try #require(result.records.map(\.line) == [2, 13] && result.errors.count == 10)
        #expect(result.records.last?.label == nil) // a missing trailing Label is allowed
        #expect(result.errors.map(\.line) == Array(3...12))
        #expect(result.nonIPLines == 1 && result.malformedLines == 9)
        let reasons = result.errors.map(\.reason)
        #expect(reasons[0] == .badTime("2011/13/10 09:46:59.607825"))
        #expect(reasons[1] == .badAddress("147.32.84.999"))
        #expect(reasons[2] == .badPort("70000"))
        #expect(reasons[4] == .badProtocol("frobnicate"))
        #expect(reasons[5] == .notAnIPFlow(protocol: "man"))
        #expect(reasons[9] == .wrongFieldCount(expected: 15, found: 4))
        #expect(result.errors.allSatisfy { !$0.description.isEmpty })
    }

    @Test("a header without the needed columns is a clear error")
    func headerErrors() {
        #expect(
            throws: BinetflowHeaderError.missingColumns(
                ["TotBytes"], found: ["StartTime", "Dur", "Proto", "SrcAddr", "Sport", "Dir", "DstAddr", "Dport", "TotPkts"])
        ) {
            _ = try BinetflowParser(header: "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,TotPkts")
        }
        #expect(throws: BinetflowHeaderError.emptyHeader) { _ = try BinetflowParser.parse("\n\n") }
    }

    @Test("Argus states map to TCP flags per direction")
    func states() {
        #expect(BinetflowParser.tcpFlags(state: "S_") == (0x02, 0))
        #expect(BinetflowParser.tcpFlags(state: "SR_SA") == (0x06, 0x12))
        #expect(BinetflowParser.tcpFlags(state: "FSPA_FSPA") == (0x1B, 0x1B))
        #expect(BinetflowParser.tcpFlags(state: "REQ") == (0x02, 0))
        #expect(BinetflowParser.tcpFlags(state: "CON") == (0x12, 0x12))
        #expect(BinetflowParser.tcpFlags(state: "TIM") == (0, 0))
        #expect(
            BinetflowParser.ipProtocol("ipv6-icmp") == 58 && BinetflowParser.ipProtocol("47") == 47
                && BinetflowParser.ipProtocol("arp") == nil)
    }
}
