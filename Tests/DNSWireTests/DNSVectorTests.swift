import DNSWire
import Testing

/// dnspython's messages (DNSVectors.swift, from make-vectors.py): parsed field by field, and
/// written again octet for octet, signatures included.
@Suite struct DNSVectorTests {
    static let unsigned: [(String, [UInt8])] = [
        ("query", DNSVectors.query), ("response", DNSVectors.response), ("nxdomain", DNSVectors.nxdomain),
        ("notify", DNSVectors.notify),
    ]
    static let all: [[UInt8]] =
        unsigned.map(\.1) + [
            DNSVectors.signedNotify, DNSVectors.axfrRequest, DNSVectors.axfrResponse1, DNSVectors.axfrResponse2,
            DNSVectors.axfrResponse3,
        ]

    @Test("dnspython's query and response parse to what was written")
    func response() throws {
        let q = try DNSMessage.parse(DNSVectors.query)
        #expect(q.header.id == 0x1234 && q.header.rd && !q.header.qr)
        #expect(q.questions == [DNSQuestion(name: name("www.example.com"), type: .A)])

        let r = try DNSMessage.parse(DNSVectors.response)
        #expect(r.header.qr && r.header.rd && r.header.ra && r.header.rcode == .noError)
        #expect(r.answers.count == 6 && r.authorities.count == 2 && r.additionals.count == 2)
        let web = try DNSName("web.example.com.")
        #expect(r.answers[0].rdata == .cname(web))
        let addresses: [[UInt8]] = r.answers.compactMap { if case .a(let a) = $0.rdata { a } else { nil } }
        #expect(Set(addresses) == [[192, 0, 2, 10], [192, 0, 2, 11]])
        #expect(r.answers[3].rdata == .aaaa([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x10]))
        let txt = r.answers.filter { $0.type == .TXT }.map(\.rdata)
        #expect(txt.contains(.txt([Array("v=spf1 -all".utf8), Array("two words".utf8)])))
        #expect(txt.contains(.txt([Array("semi;colon".utf8)])))
        #expect(r.authorities.map(\.rdata) == [.ns(name("ns2.example.net")), .ns(name("ns1.example.com"))])
        #expect(r.additionals[0].rdata == .mx(preference: 10, exchange: name("mail.example.com")))
        #expect(r.additionals[1].type == .OPT && r.additionals[1].name == .root && r.additionals[1].class.rawValue == 1232)

        let nx = try DNSMessage.parse(DNSVectors.nxdomain)
        #expect(nx.header.rcode == .nxDomain && nx.header.aa)
        guard case .soa(let soa) = nx.authorities.first?.rdata else {
            Issue.record("no SOA")
            return
        }
        #expect(soa.mname == (name("ns1.example.com")) && soa.rname == (name("admin.example.com")))
        #expect(soa.serial == DNSSerial(42) && soa.refresh == 7200 && soa.retry == 900 && soa.expire == 1_209_600)
        #expect(soa.minimum == 60)
    }

    @Test("a NOTIFY parses with its opcode, question and SOA")
    func notify() throws {
        let n = try DNSMessage.parse(DNSVectors.notify)
        #expect(n.header.opcode == .notify && n.header.aa && n.header.id == 0x4242)
        #expect(n.questions == [DNSQuestion(name: name("rpz.mamori."), type: .SOA)])
        guard case .soa(let soa) = n.answers.first?.rdata else {
            Issue.record("no SOA")
            return
        }
        #expect(soa.serial == DNSSerial(2_026_120_601))
    }

    @Test("every message is written again octet for octet (same compression as dnspython)", arguments: 0..<9)
    func reserialize(index: Int) throws {
        let bytes = Self.all[index]
        #expect(try DNSMessage.parse(bytes).serialize() == bytes)
    }

    @Test("the builder writes the AXFR stream from its records as dnspython did")
    func builder() throws {
        let parts = try [DNSVectors.axfrResponse1, DNSVectors.axfrResponse2, DNSVectors.axfrResponse3].map {
            try DNSMessage.parse($0)
        }
        for part in parts {
            var h = part.header
            h.additionalCount = 0
            var builder = try DNSMessageBuilder(header: h, questions: part.questions)
            for record in part.answers { #expect(try builder.append(record)) }
            var unsigned = part
            unsigned.additionals = []
            #expect(builder.finish() == (try unsigned.serialize()))
        }
    }

    @Test("truncated prefixes of every vector throw, never trap")
    func prefixes() {
        for bytes in Self.all {
            for n in 0..<bytes.count {
                #expect(throws: DNSWireError.self) { try DNSMessage.parse(Array(bytes.prefix(n))) }
            }
        }
    }
}
