import DNSWire
import FlowCodec
import SwiftProtobuf
import Testing

@testable import Dnstap

/// dnstap protobuf payloads → ResolverEvent, and the DNS messages inside them.
@Suite struct ResolverEventTests {
    @Test("a client query: type, client, port, time, question")
    func clientQuery() throws {
        let payload = Wire.dnstap(.clientQuery, query: Wire.query("Botnet-CC.Example.NET", type: 28), identity: "resolver1")
        let event = try #require(try ResolverEvent.decode(payload))
        #expect(event.type == .clientQuery)
        #expect(!event.type.isResponse)
        #expect(event.queryAddress == IPAddress("192.0.2.7"))
        #expect(event.responseAddress == IPAddress("192.0.2.53"))
        #expect(event.queryPort == 53_000)
        #expect(event.queryTimeMilliseconds == 1_764_547_200_250)
        #expect(event.responseTimeMilliseconds == nil)
        #expect(event.question == DNSQuestion(name: "botnet-cc.example.net", type: 28))
        #expect(event.responseCode == nil)
        #expect(event.answerAddresses.isEmpty)
        #expect(event.identity == "resolver1")
    }

    @Test("a client response: rcode and the A/AAAA answers (owners compressed)")
    func clientResponse() throws {
        let v6: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1]
        let response = Wire.response("cc.example.net", answers: [v6, v6])
        let payload = Wire.dnstap(.clientResponse, query: Wire.query("cc.example.net"), response: response, client: Array(v6))
        let event = try #require(try ResolverEvent.decode(payload))
        #expect(event.type == .clientResponse)
        #expect(event.queryAddress == IPAddress("2001:db8::1"))
        #expect(event.responseTimeMilliseconds == 1_764_547_200_250)
        #expect(event.question?.name == "cc.example.net")
        #expect(event.question?.type == 28)
        #expect(event.responseCode == 0)
        #expect(event.answerAddresses == [IPAddress("2001:db8::1")!, IPAddress("2001:db8::1")!])

        let a = try #require(
            try ResolverEvent.decode(Wire.dnstap(.clientResponse, response: Wire.response("x.test", answers: [[198, 51, 100, 9]]))))
        #expect(a.answerAddresses == [IPAddress("198.51.100.9")!])
        let nx = try #require(try ResolverEvent.decode(Wire.dnstap(.clientResponse, response: Wire.response("gone.test", rcode: 3))))
        #expect(nx.responseCode == 3)
        #expect(nx.answerAddresses.isEmpty)
    }

    @Test("every message type maps; a resolver's own queries too")
    func types() throws {
        for t in ResolverEvent.MessageType.allCases {
            let payload = Wire.dnstap(Dnstap_Message.TypeEnum(rawValue: t.rawValue)!, query: Wire.query("a.test"))
            #expect(try ResolverEvent.decode(payload)?.type == t)
        }
    }

    @Test("what is not an event: a payload without a message is nil; non-protobuf bytes throw")
    func notEvents() throws {
        var d = Dnstap_Dnstap()
        d.type = .message
        #expect(try ResolverEvent.decode(try d.serializedBytes()) == nil)
        #expect(throws: DnstapError(.badProtobuf)) { try ResolverEvent.decode([0xFF, 0xFF, 0xFF]) }
        #expect(throws: DnstapError(.badProtobuf)) { try ResolverEvent.decode([]) } // `type` is required
        var m = Dnstap_Dnstap()
        m.type = .message
        m.message = Dnstap_Message() // message without its required type
        #expect(throws: DnstapError(.badProtobuf)) { try ResolverEvent.decode(try m.serializedBytes(partial: true)) }
    }

    @Test("addresses, ports and times out of range are bad events")
    func badEvents() throws {
        #expect(throws: DnstapError(.badEvent)) { try ResolverEvent.decode(Wire.dnstap(.clientQuery, client: [1, 2, 3])) }
        #expect(throws: DnstapError(.badEvent)) { try ResolverEvent.decode(Wire.dnstap(.clientQuery, port: 70_000)) }
        #expect(throws: DnstapError(.badEvent)) { try ResolverEvent.decode(Wire.dnstap(.clientQuery, seconds: .max)) }
        #expect(throws: DnstapError(.badEvent)) { try ResolverEvent.decode(Wire.dnstap(.clientQuery, nanoseconds: 1_000_000_000)) }
        let none = try #require(try ResolverEvent.decode(Wire.dnstap(.clientQuery, client: nil, port: nil)))
        #expect(none.queryAddress == nil && none.queryPort == nil && none.question == nil)
    }

    @Test("malformed DNS inside a frame throws badDNSMessage; every truncation of a response throws, never traps")
    func malformedDNS() throws {
        let response = Wire.response("cc.example.net", answers: [[198, 51, 100, 9], [203, 0, 113, 1]])
        for cut in 0..<response.count {
            #expect(throws: DnstapError(.badDNSMessage)) {
                try ResolverEvent.decode(Wire.dnstap(.clientResponse, response: Array(response[..<cut])))
            }
        }
        var badA = response
        badA[badA.count - 5] = 5 // RDLENGTH of the last A record: 5, with 4 bytes left
        #expect(throws: DnstapError(.badDNSMessage)) { try DNSMessageSummary.decode(badA) }
    }

    @Test("names: label and name limits, pointers only backwards, reserved label types, escapes")
    func names() throws {
        let header: [UInt8] = [0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        func question(_ name: [UInt8]) -> [UInt8] { header + name + [0, 1, 0, 1] }
        // 64-byte label.
        #expect(throws: DnstapError(.badDNSMessage)) {
            try DNSMessageSummary.decode(question([64] + Array(repeating: 97, count: 64) + [0]))
        }
        // 63 is fine.
        #expect(try DNSMessageSummary.decode(question([63] + Array(repeating: 97, count: 63) + [0])).question?.name.count == 63)
        // A name over 255 bytes: five labels of 63.
        let label: [UInt8] = [63] + Array(repeating: 97, count: 63)
        let long: [UInt8] = Array(repeating: label, count: 5).flatMap { $0 } + [0]
        #expect(throws: DnstapError(.badDNSMessage)) { try DNSMessageSummary.decode(question(long)) }
        // A pointer to itself, forwards, and a loop through a label before it.
        #expect(throws: DnstapError(.badDNSMessage)) { try DNSMessageSummary.decode(question([0xC0, 12])) }
        #expect(throws: DnstapError(.badDNSMessage)) { try DNSMessageSummary.decode(question([0xC0, 40])) }
        #expect(throws: DnstapError(.badDNSMessage)) { try DNSMessageSummary.decode(question([1, 97, 0xC0, 12])) }
        // Reserved (0x40, 0x80) label types.
        #expect(throws: DnstapError(.badDNSMessage)) { try DNSMessageSummary.decode(question([0x41, 0])) }
        #expect(throws: DnstapError(.badDNSMessage)) { try DNSMessageSummary.decode(question([0x81, 0])) }
        // Root, escapes.
        #expect(try DNSMessageSummary.decode(question([0])).question?.name == ".")
        #expect(try DNSMessageSummary.decode(question([3, 0x41, 0x2E, 0x07, 0])).question?.name == "a\\.\\007")
        // No question at all.
        #expect(try DNSMessageSummary.decode([0, 1, 0x81, 0x83] + Array(repeating: 0, count: 8)).question == nil)
    }

    @Test("a pointer chain backwards to an earlier name is followed")
    func pointerChain() throws {
        // Question "a.example.net"; answer owner "b" + pointer to "example.net" inside the question.
        var m: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        m += Wire.name("a.example.net") + [0, 1, 0, 1]
        m += [1, 98, 0xC0, 14] + [0, 1, 0, 1] + Wire.be32(60) + [0, 4, 10, 0, 0, 1]
        let s = try DNSMessageSummary.decode(m)
        #expect(s.isResponse)
        #expect(s.answerAddresses == [IPAddress("10.0.0.1")!])
        #expect(DNSMessageSummary.presentation(try DNSMessage.parse(m).answers[0].name) == "b.example.net")
    }
}
