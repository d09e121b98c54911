import Foundation
import NATSWire
import NIOCore
import Testing

@Suite struct NATSEncodingTests {
    static func text(_ op: NATSClientOperation) throws -> String { String(buffer: try op.encoded()) }

    @Test func connectAsksForHeadersAndNoRespondersWithoutVerbose() throws {
        let line = try Self.text(.connect(NATSConnectOptions(name: "collector-1", pedantic: true, user: "u", pass: "p")))
        #expect(line.hasPrefix("CONNECT {"))
        #expect(line.hasSuffix("}\r\n"))
        // "\r\n" is one Character: dropLast() drops both bytes.
        let json = try JSONSerialization.jsonObject(with: Data(line.dropFirst(8).dropLast().utf8)) as? [String: Any]
        #expect(json?["verbose"] as? Bool == false)
        #expect(json?["pedantic"] as? Bool == true)
        #expect(json?["headers"] as? Bool == true)
        #expect(json?["no_responders"] as? Bool == true)
        #expect(json?["name"] as? String == "collector-1")
        #expect(json?["user"] as? String == "u")
        #expect(json?["pass"] as? String == "p")
        #expect(json?["auth_token"] == nil)
        #expect(json?["protocol"] as? Int == 1)
        let token = try Self.text(.connect(NATSConnectOptions(name: nil, authToken: "s3cret")))
        #expect(token.contains("\"auth_token\":\"s3cret\""))
        #expect(!token.contains("\"user\""))
    }

    @Test func publishSubscribeUnsubscribePingPong() throws {
        #expect(
            try Self.text(.publish(subject: "a.b", replyTo: nil, headers: nil, payload: ByteBuffer(string: "hello")))
                == "PUB a.b 5\r\nhello\r\n")
        #expect(
            try Self.text(.publish(subject: "a", replyTo: "_INBOX.1", headers: nil, payload: ByteBuffer())) == "PUB a _INBOX.1 0\r\n\r\n")
        var headers = NATSHeaders()
        headers.append("Nats-Msg-Id", "m-1")
        #expect(
            try Self.text(.publish(subject: "a", replyTo: nil, headers: headers, payload: ByteBuffer(string: "xy")))
                == "HPUB a 30 32\r\nNATS/1.0\r\nNats-Msg-Id: m-1\r\n\r\nxy\r\n")
        #expect(try Self.text(.subscribe(subject: "flows.>", queueGroup: nil, sid: "7")) == "SUB flows.> 7\r\n")
        #expect(try Self.text(.subscribe(subject: "flows.*", queueGroup: "detectors", sid: "8")) == "SUB flows.* detectors 8\r\n")
        #expect(try Self.text(.unsubscribe(sid: "7", maxMessages: nil)) == "UNSUB 7\r\n")
        #expect(try Self.text(.unsubscribe(sid: "7", maxMessages: 3)) == "UNSUB 7 3\r\n")
        #expect(try Self.text(.ping) == "PING\r\n")
        #expect(try Self.text(.pong) == "PONG\r\n")
    }

    @Test func invalidSubjectsAndHeadersAreRefused() {
        for subject in ["", "a b", "a\r\nPUB x 1", "a..b", ".a", "a."] {
            #expect(throws: NATSWireError(.invalidSubject, "")) {
                try NATSClientOperation.publish(subject: subject, replyTo: nil, headers: nil, payload: ByteBuffer()).encoded()
            }
        }
        #expect(throws: NATSWireError(.invalidSubject, "")) {
            try NATSClientOperation.subscribe(subject: "a", queueGroup: "q g", sid: "1").encoded()
        }
        #expect(throws: NATSWireError(.malformedOperation, "")) { try NATSClientOperation.unsubscribe(sid: "1", maxMessages: 0).encoded() }
        var bad = NATSHeaders()
        bad.append("Bad Name", "v")
        #expect(throws: NATSWireError(.malformedHeaders, "")) {
            try NATSClientOperation.publish(subject: "a", replyTo: nil, headers: bad, payload: ByteBuffer()).encoded()
        }
        var injected = NATSHeaders()
        injected.append("A", "v\r\nB: w")
        #expect(throws: NATSWireError(.malformedHeaders, "")) { try injected.encodedCount() }
    }

    /// Headers written and read again are the same, status line included.
    @Test func headersRoundTrip() throws {
        var headers = NATSHeaders(status: 408, statusDescription: "Request Timeout")
        headers.append("Nats-Pending-Messages", "3")
        headers.append("X", "a")
        headers.append("X", "b")
        var buffer = ByteBuffer()
        try headers.write(into: &buffer)
        #expect(try NATSHeaders.decode(buffer.readableBytesView) == headers)
        // And as a server delivers it.
        let count = buffer.readableBytes
        var frame = ByteBuffer(string: "HMSG s 1 \(count) \(count + 2)\r\n")
        frame.writeBuffer(&buffer)
        frame.writeString("ok\r\n")
        guard case .message(let message)? = try NATSParser().next(from: &frame) else {
            Issue.record("no message")
            return
        }
        #expect(message.headers == headers)
        #expect(String(buffer: message.payload) == "ok")
    }

    @Test func serverAddresses() throws {
        #expect(try NATSServerAddress(parsing: "nats://127.0.0.1:4223") == NATSServerAddress(host: "127.0.0.1", port: 4223))
        #expect(try NATSServerAddress(parsing: "localhost") == NATSServerAddress(host: "localhost", port: 4222))
        #expect(try NATSServerAddress(parsing: "[::1]:5000") == NATSServerAddress(host: "::1", port: 5000))
        #expect(try NATSServerAddress(parsing: "10.0.0.1:4222").description == "nats://10.0.0.1:4222")
        for bad in ["", "nats://", "http://x:1", "nats://u:p@x:1", "x:0", "x:70000", "x:y", "[::1"] {
            #expect(throws: NATSWireError(.invalidURL, ""), "\(bad)") { try NATSServerAddress(parsing: bad) }
        }
    }
}
