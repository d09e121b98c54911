import DNSWire
import NIOCore
import Testing

/// Messages: round trips, compression, and every bound of the parser and the writer.
@Suite struct DNSMessageTests {
    static let zone = try! DNSName("rpz.mamori.")

    static func cname(_ owner: String, _ target: DNSName = .root) throws -> DNSRecord {
        DNSRecord(name: try DNSName(owner).appending(zone), type: .CNAME, ttl: 300, rdata: .cname(target))
    }

    static let soa = DNSRecord(
        name: zone, type: .SOA, ttl: 60,
        rdata: .soa(
            DNSSOA(
                mname: try! DNSName("ns1.mamori"), rname: try! DNSName("hostmaster.mamori"), serial: DNSSerial(7),
                refresh: 3600, retry: 600, expire: 86400, minimum: 60)))

    @Test("a message of every typed record round-trips, through [UInt8] and ByteBuffer")
    func roundTrip() throws {
        let message = DNSMessage(
            header: DNSHeader(id: 9, qr: true, opcode: .query, aa: true, rd: true, ad: true, cd: true, rcode: .nxDomain),
            questions: [DNSQuestion(name: Self.zone, type: .AXFR)],
            answers: [
                Self.soa, try Self.cname("evil.example"),
                DNSRecord(name: Self.zone, type: .NS, ttl: 1, rdata: .ns(try DNSName("ns1.mamori"))),
                DNSRecord(name: Self.zone, type: .A, ttl: 1, rdata: .a([127, 0, 0, 1])),
                DNSRecord(name: Self.zone, type: .AAAA, ttl: 1, rdata: .aaaa([UInt8](repeating: 1, count: 16))),
                DNSRecord(name: Self.zone, type: .MX, ttl: 1, rdata: .mx(preference: 5, exchange: try DNSName("MX.Mamori"))),
                DNSRecord(name: Self.zone, type: .PTR, ttl: 1, rdata: .ptr(try DNSName("x.in-addr.arpa"))),
                DNSRecord(name: Self.zone, type: .TXT, ttl: 1, rdata: .txt([[], Array("hello".utf8)])),
                DNSRecord(name: Self.zone, type: DNSType(rawValue: 65280), ttl: 1, rdata: .other([1, 2, 3])),
            ],
            authorities: [DNSRecord(name: Self.zone, type: .A, class: .CH, ttl: 1, rdata: .other([0, 1]))],
            additionals: [DNSRecord(name: .root, type: .OPT, class: DNSClass(rawValue: 4096), ttl: 0, rdata: .other([]))])
        let bytes = try message.serialize()
        var parsed = try DNSMessage.parse(bytes)
        #expect(parsed.header.answerCount == 9)
        parsed.header = message.header
        #expect(parsed == message)
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        #expect(try DNSMessage.parse(buffer).answers == message.answers)
        #expect(try parsed.serialize() == bytes)
    }

    @Test("names are compressed across records, case-insensitively, with pointers back to earlier names")
    func compression() throws {
        let records = try ["a.evil.example", "b.EVIL.example", "c.evil.example"].map { try Self.cname($0, Self.zone) }
        let bytes = try DNSMessage(header: DNSHeader(id: 1), answers: records).serialize()
        // Uncompressed, each owner and target would take its full length; compressed, the second
        // owner is "b" + a pointer to "evil.example.rpz.mamori." and every target is one pointer.
        let uncompressed = 12 + records.reduce(0) { $0 + $1.name.wireLength + 10 + Self.zone.wireLength }
        #expect(bytes.count < uncompressed - 60)
        let ownerAt = 12
        let firstRdata = ownerAt + records[0].name.wireLength + 10
        #expect(bytes[firstRdata..<firstRdata + 2] == [0xC0, UInt8(ownerAt + 2 + 5 + 8)]) // -> "rpz.mamori."
        let parsed = try DNSMessage.parse(bytes)
        #expect(parsed.answers.map(\.name) == records.map(\.name))
        #expect(parsed.answers[1].name.labels[1] == Array("evil".utf8)) // the first spelling is kept
    }

    /// A message with one question whose name is `name`.
    static func question(_ name: [UInt8], qd: UInt8 = 1) -> [UInt8] {
        [0, 1, 0, 0, 0, qd, 0, 0, 0, 0, 0, 0] + name + [0, 1, 0, 1]
    }

    @Test("pointers: to themselves, forward, into the header, or looping through a label are refused")
    func badPointers() {
        #expect(throws: DNSWireError.badPointer(at: 12)) { try DNSMessage.parse(Self.question([0xC0, 12])) }
        #expect(throws: DNSWireError.badPointer(at: 12)) { try DNSMessage.parse(Self.question([0xC0, 14, 0])) }
        #expect(throws: DNSWireError.badPointer(at: 12)) { try DNSMessage.parse(Self.question([0xC0, 2])) }
        // "a" then a pointer back to "a": backwards from the pointer, but into its own run.
        #expect(throws: DNSWireError.badPointer(at: 14)) { try DNSMessage.parse(Self.question([1, 97, 0xC0, 12])) }
        // Extended label types 0x40 and 0x80.
        #expect(throws: DNSWireError.badLabelType(at: 12)) { try DNSMessage.parse(Self.question([0x41, 0])) }
        #expect(throws: DNSWireError.badLabelType(at: 12)) { try DNSMessage.parse(Self.question([0x81, 0])) }
    }

    @Test("a chain of 127 pointers is read; of 128, refused")
    func pointerChain() throws {
        func chain(_ hops: Int) -> [UInt8] {
            // Question 0 is the root name; question k points at question k-1's name.
            var bytes: [UInt8] = [0, 1, 0, 0, UInt8((hops + 1) >> 8), UInt8((hops + 1) & 0xFF), 0, 0, 0, 0, 0, 0]
            bytes += [0, 0, 1, 0, 1]
            var previous = 12
            for _ in 0..<hops {
                let here = bytes.count
                bytes += [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF), 0, 1, 0, 1]
                previous = here
            }
            return bytes
        }
        #expect(try DNSMessage.parse(chain(127)).questions.count == 128)
        #expect(throws: DNSWireError.tooManyPointers(at: 12 + 5 + 127 * 6)) { try DNSMessage.parse(chain(128)) }
    }

    @Test("names over 255 octets on the wire are refused, also when put together from pointers")
    func longNames() throws {
        let label: [UInt8] = [63] + [UInt8](repeating: 97, count: 63)
        let name253 = label + label + label + [61] + [UInt8](repeating: 98, count: 61) + [0] // 255 octets
        #expect(try DNSMessage.parse(Self.question(name253)).questions[0].name.wireLength == 255)
        let name257 = label + label + label + [63] + [UInt8](repeating: 98, count: 63) + [0]
        #expect(throws: DNSWireError.nameTooLong) { try DNSMessage.parse(Self.question(name257)) }
        // Two questions: the second is two more labels + a pointer to the first (255 + 4 octets).
        var two = Self.question(name253, qd: 2)
        two += [1, 120, 1, 121, 0xC0, 12, 0, 1, 0, 1]
        #expect(throws: DNSWireError.nameTooLong) { try DNSMessage.parse(two) }
    }

    @Test("truncation, counts that cannot fit, trailing octets and malformed record data are refused")
    func bounds() throws {
        #expect(throws: DNSWireError.truncated(at: 11)) { try DNSMessage.parse([UInt8](repeating: 0, count: 11)) }
        #expect(try DNSMessage.parse([UInt8](repeating: 0, count: 12)).questions.isEmpty)
        // 1 question and 0xFFFF answers declared over 25 octets.
        let lying: [UInt8] = [0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0, 0, 0, 0] + [0, 0, 1, 0, 1] + [UInt8](repeating: 0, count: 20)
        #expect(throws: DNSWireError.tooManyRecords(65536)) { try DNSMessage.parse(lying) }
        #expect(throws: DNSWireError.trailingBytes(at: 33)) {
            try DNSMessage.parse(DNSVectors.query + [0])
        }
        // An A record of 3 octets, and one whose RDLENGTH runs past the end.
        let a3: [UInt8] = [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3]
        #expect(throws: DNSWireError.badRData(.A)) { try DNSMessage.parse(a3) }
        #expect(throws: DNSWireError.truncated(at: 23)) { try DNSMessage.parse(Array(a3.dropLast())) }
        // An MX whose exchange name runs past its RDLENGTH (2 + 1 octets declared).
        let mx: [UInt8] = [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] + [0, 0, 15, 0, 1, 0, 0, 0, 0, 0, 3, 0, 5, 1, 97, 0]
        #expect(throws: DNSWireError.badRData(.MX)) { try DNSMessage.parse(mx) }
        // A TXT whose string length overruns the data.
        let txt: [UInt8] = [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] + [0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 5, 97]
        #expect(throws: DNSWireError.badRData(.TXT)) { try DNSMessage.parse(txt) }
    }

    @Test("record data that cannot be written is refused, not mangled")
    func badValues() throws {
        let zone = Self.zone
        for rdata: DNSRData in [
            .a([1, 2, 3]), .aaaa([1]), .txt([[UInt8](repeating: 0, count: 256)]), .other([UInt8](repeating: 0, count: 65536)),
        ] {
            #expect(throws: DNSWireError.self) {
                try DNSMessage(header: DNSHeader(id: 1), answers: [DNSRecord(name: zone, type: .A, ttl: 0, rdata: rdata)]).serialize()
            }
        }
    }

    @Test("serialize throws tooLarge rather than truncate; the builder refuses the record that does not fit")
    func sizes() throws {
        let records = try (0..<100).map { try Self.cname("host\($0).evil.example") }
        let message = DNSMessage(
            header: DNSHeader(id: 3, qr: true), questions: [DNSQuestion(name: Self.zone, type: .AXFR)], answers: records)
        let full = try message.serialize()
        #expect(try message.serialize(maxSize: full.count) == full)
        #expect(throws: DNSWireError.tooLarge) { try message.serialize(maxSize: full.count - 1) }
        #expect(throws: DNSWireError.tooLarge) {
            try DNSMessageBuilder(header: DNSHeader(id: 1), questions: [DNSQuestion(name: Self.zone, type: .AXFR)], maxSize: 20)
        }

        // A transfer in messages of at most 512 octets: every record lands in exactly one message,
        // in order, and each message parses on its own (compression restarts per message).
        var messages: [[UInt8]] = []
        var builder = try DNSMessageBuilder(header: message.header, questions: message.questions, maxSize: 512)
        for record in records {
            if try !builder.append(record) {
                #expect(builder.recordCount > 0)
                messages.append(builder.finish())
                builder = try DNSMessageBuilder(header: message.header, maxSize: 512)
                #expect(try builder.append(record))
            }
        }
        messages.append(builder.finish())
        #expect(messages.count > 3)
        #expect(messages.allSatisfy { $0.count <= 512 })
        let back = try messages.flatMap { try DNSMessage.parse($0).answers }
        #expect(back == records)
    }

    @Test("seeded random octets, and random single-octet changes of the vectors, never trap")
    func randomInput() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for _ in 0..<2000 {
            let n = Int(next() % 80)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) }
            _ = try? DNSMessage.parse(bytes)
        }
        for vector in DNSVectorTests.all {
            for _ in 0..<300 {
                var bytes = vector
                bytes[Int(next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: next())
                if let m = try? DNSMessage.parse(bytes), let again = try? m.serialize() {
                    #expect((try? DNSMessage.parse(again))?.answers == m.answers)
                }
                _ = try? DNSMessage.checkTSIG(bytes, keys: TSIGTests.keys, now: TSIGTests.now)
            }
        }
    }
}
