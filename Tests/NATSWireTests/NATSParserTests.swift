import NATSWire
import NIOCore
import Testing

@Suite struct NATSParserTests {
    static let info =
        #"INFO {"server_id":"NCXYZ","server_name":"n1","version":"2.9.10","proto":1,"go":"go1.19","host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576,"jetstream":true,"client_id":5,"client_ip":"127.0.0.1","connect_urls":["127.0.0.1:4223"]}"#
        + "\r\n"

    /// A stream of every server operation, as a server would send it.
    static let stream: String =
        info + "PING\r\n" + "PONG\r\n" + "+OK\r\n" + "-ERR 'Unknown Protocol Operation'\r\n" + "MSG foo.bar 9 5\r\nhello\r\n"
        + "MSG foo.bar 9 reply.to 0\r\n\r\n" + "HMSG foo 3 _INBOX.x.1 40 45\r\nNATS/1.0\r\nA: 1\r\nB:  two words \r\nA: 3\r\n\r\nhello\r\n"
        + "HMSG _INBOX.x.2 0 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n" + "msg lower 1 3\r\nabc\r\n"

    static func parseAll(_ text: String, limits: NATSParser.Limits = .init()) throws -> [NATSServerOperation] {
        var buffer = ByteBuffer(string: text)
        let parser = NATSParser(limits: limits)
        var out: [NATSServerOperation] = []
        while let op = try parser.next(from: &buffer) { out.append(op) }
        #expect(buffer.readableBytes == 0)
        return out
    }

    @Test func everyOperation() throws {
        let ops = try Self.parseAll(Self.stream)
        #expect(ops.count == 10)
        guard case .info(let info) = ops[0] else {
            Issue.record("not INFO")
            return
        }
        #expect(info.serverID == "NCXYZ")
        #expect(info.serverName == "n1")
        #expect(info.maxPayload == 1_048_576)
        #expect(info.jetStream == true)
        #expect(info.connectURLs == ["127.0.0.1:4223"])
        #expect(ops[1] == .ping)
        #expect(ops[2] == .pong)
        #expect(ops[3] == .ok)
        #expect(ops[4] == .error("Unknown Protocol Operation"))
        #expect(ops[5] == .message(NATSMessage(subject: "foo.bar", sid: "9", payload: ByteBuffer(string: "hello"))))
        #expect(ops[6] == .message(NATSMessage(subject: "foo.bar", sid: "9", replyTo: "reply.to", payload: ByteBuffer())))
        guard case .message(let h) = ops[7], let headers = h.headers else {
            Issue.record("not HMSG")
            return
        }
        #expect(h.subject == "foo")
        #expect(h.replyTo == "_INBOX.x.1")
        #expect(headers.values("A") == ["1", "3"])
        #expect(headers["B"] == "two words")
        #expect(headers.status == nil)
        #expect(String(buffer: h.payload) == "hello")
        guard case .message(let status) = ops[8] else {
            Issue.record("not HMSG")
            return
        }
        #expect(status.status == 404)
        #expect(status.headers?.statusDescription == "No Messages")
        #expect(status.payload.readableBytes == 0)
        guard case .message(let lower) = ops[9] else {
            Issue.record("not MSG")
            return
        }
        #expect(String(buffer: lower.payload) == "abc")
    }

    /// The stream split in two at every byte, and fed one byte at a time: the same operations.
    @Test func fragmentationAtEveryByte() throws {
        let whole = try Self.parseAll(Self.stream)
        let bytes = Array(Self.stream.utf8)
        let parser = NATSParser()
        for cut in 0...bytes.count {
            var buffer = ByteBuffer()
            var out: [NATSServerOperation] = []
            buffer.writeBytes(bytes[..<cut])
            while let op = try parser.next(from: &buffer) { out.append(op) }
            buffer.writeBytes(bytes[cut...])
            while let op = try parser.next(from: &buffer) { out.append(op) }
            #expect(out == whole, "split at \(cut)")
            #expect(buffer.readableBytes == 0)
        }
        var buffer = ByteBuffer()
        var out: [NATSServerOperation] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            while let op = try parser.next(from: &buffer) { out.append(op) }
        }
        #expect(out == whole)
    }

    /// An incomplete frame consumes nothing.
    @Test func incompleteFrameConsumesNothing() throws {
        var buffer = ByteBuffer(string: "MSG a 1 10\r\nhell")
        #expect(try NATSParser().next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 16)
    }

    static let malformed: [(String, NATSWireError.Code)] = [
        ("FOO bar\r\n", .unknownOperation),
        ("PING\n", .malformedOperation),
        ("PING extra\r\n", .malformedOperation),
        ("MSG a\r\n", .malformedOperation),
        ("MSG a 1 2 3 4\r\n", .malformedOperation),
        ("MSG a 1 -5\r\n", .malformedOperation),
        ("MSG a 1 x\r\n", .malformedOperation),
        ("MSG a 1 99999999999999999999\r\n", .malformedOperation),
        ("MSG a 1 3\r\nabcXY", .malformedOperation),
        ("MSG a..b 1 3\r\nabc\r\n", .invalidSubject),
        ("HMSG a 1 20 10\r\n", .malformedOperation),
        ("HMSG a 1 5 10\r\n", .malformedHeaders),
        ("HMSG a 1 12 12\r\nNATS/2.0\r\n\r\n\r\n", .malformedHeaders),
        ("HMSG a 1 14 14\r\nNATS/1.0\r\nxx\r\n\r\n", .malformedHeaders),
        ("HMSG a 1 21 21\r\nNATS/1.0\r\nnocolon\r\n\r\n\r\n", .malformedHeaders),
        ("HMSG a 1 16 16\r\nNATS/1.0 4x4\r\n\r\n\r\n", .malformedHeaders),
        ("HMSG a 1 17 17\r\nNATS/1.0\r\nA:\n\r\n\r\n\r\n", .malformedHeaders),
        ("INFO\r\n", .malformedOperation),
        ("INFO {\"server_id\":1}\r\n", .invalidJSON),
        ("INFO {not json}\r\n", .invalidJSON),
    ]

    @Test("malformed input is a clear error", arguments: malformed.indices)
    func malformedInput(index: Int) {
        let (text, code) = Self.malformed[index]
        var buffer = ByteBuffer(string: text)
        #expect(throws: NATSWireError(code, "")) { try NATSParser().next(from: &buffer) }
    }

    @Test func payloadOverMaxPayloadIsRefusedBeforeItArrives() throws {
        var buffer = ByteBuffer(string: "MSG a 1 1025\r\n")
        let parser = NATSParser(limits: .init(maxPayload: 1024))
        #expect(throws: NATSWireError(.payloadTooLarge, "")) { try parser.next(from: &buffer) }
        var exact = ByteBuffer(string: "MSG a 1 1024\r\n" + String(repeating: "x", count: 1024) + "\r\n")
        #expect(try parser.next(from: &exact) != nil)
    }

    @Test func headerBlockOverTheBoundIsRefused() {
        var buffer = ByteBuffer(string: "HMSG a 1 5000 5000\r\n")
        let parser = NATSParser(limits: .init(maxHeaderBytes: 4096))
        #expect(throws: NATSWireError(.headersTooLarge, "")) { try parser.next(from: &buffer) }
    }

    @Test func controlLineWithoutEndIsRefused() throws {
        let parser = NATSParser(limits: .init(maxControlLine: 100))
        var buffer = ByteBuffer(string: "MSG " + String(repeating: "a", count: 200))
        #expect(throws: NATSWireError(.controlLineTooLong, "")) { try parser.next(from: &buffer) }
        var short = ByteBuffer(string: "MSG " + String(repeating: "a", count: 50))
        #expect(try parser.next(from: &short) == nil)
        var long = ByteBuffer(string: "-ERR '" + String(repeating: "a", count: 120) + "'\r\n")
        #expect(throws: NATSWireError(.controlLineTooLong, "")) { try parser.next(from: &long) }
    }

    /// Seeded random bytes, and random bytes after a valid prefix, never trap.
    @Test func randomBytesNeverTrap() {
        var generator = SplitMix64(seed: 25)
        let parser = NATSParser(limits: .init(maxControlLine: 512, maxPayload: 4096, maxHeaderBytes: 1024))
        let prefixes = ["", "MSG a 1 ", "HMSG a 1 ", "HMSG a 1 12 20\r\nNATS/1.0", "INFO {", "-ERR ", "PING"]
        for round in 0..<3000 {
            let count = Int(generator.next() % 96)
            var bytes = Array(prefixes[round % prefixes.count].utf8)
            for _ in 0..<count {
                let r = generator.next()
                // Mostly protocol-looking bytes: digits, spaces, CR, LF, letters.
                let alphabet: [UInt8] = Array("0123456789 \r\n\r\nMSGHPINOKERR.:{}\"ab".utf8)
                bytes.append(r % 4 == 0 ? UInt8(truncatingIfNeeded: r >> 8) : alphabet[Int((r >> 8) % UInt64(alphabet.count))])
            }
            var buffer = ByteBuffer(bytes: bytes)
            for _ in 0..<64 {
                guard let op = try? parser.next(from: &buffer) else { break }
                _ = op
            }
        }
    }
}

/// A small seeded generator (SplitMix64), so the random tests repeat.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
