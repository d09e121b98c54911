import Foundation
import NIOCore

/// CONNECT's JSON: what the client tells the server about itself after INFO.
///
/// This client never asks for verbose mode (no `+OK` after every operation), always announces
/// headers (HPUB/HMSG) and no-responders (a request nobody answers gets a 503 status at once).
public struct NATSConnectOptions: Codable, Hashable, Sendable {
    public var verbose: Bool
    public var pedantic: Bool
    public var tlsRequired: Bool
    public var name: String?
    public var lang: String
    public var version: String
    public var `protocol`: Int
    public var echo: Bool
    public var headers: Bool
    public var noResponders: Bool
    public var user: String?
    public var pass: String?
    public var authToken: String?

    public init(
        name: String?, pedantic: Bool = false, echo: Bool = true, user: String? = nil, pass: String? = nil, authToken: String? = nil
    ) {
        verbose = false
        self.pedantic = pedantic
        tlsRequired = false
        self.name = name
        lang = "swift"
        version = "0.1.0"
        `protocol` = 1
        self.echo = echo
        headers = true
        noResponders = true
        self.user = user
        self.pass = pass
        self.authToken = authToken
    }

    enum CodingKeys: String, CodingKey {
        case verbose, pedantic
        case tlsRequired = "tls_required"
        case name, lang, version, `protocol`, echo, headers
        case noResponders = "no_responders"
        case user, pass
        case authToken = "auth_token"
    }
}

/// What a client sends a server, written as the protocol's bytes.
public enum NATSClientOperation: Sendable {
    case connect(NATSConnectOptions)
    /// PUB, or HPUB when `headers` is given.
    case publish(subject: String, replyTo: String?, headers: NATSHeaders?, payload: ByteBuffer)
    case subscribe(subject: String, queueGroup: String?, sid: String)
    /// UNSUB; with `maxMessages`, the server unsubscribes by itself after that many messages.
    case unsubscribe(sid: String, maxMessages: Int?)
    case ping
    case pong

    /// Appends the operation's bytes. Subjects, queue groups and sids must be single tokens of
    /// printable characters; a header block must be valid (see ``NATSHeaders/write(into:)``).
    public func write(into buffer: inout ByteBuffer) throws(NATSWireError) {
        switch self {
        case .connect(let options):
            let json: Data
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                json = try encoder.encode(options)
            } catch {
                throw NATSWireError(.invalidJSON, "CONNECT's options do not encode: \(error)")
            }
            buffer.writeStaticString("CONNECT ")
            buffer.writeBytes(json)
            buffer.writeStaticString("\r\n")
        case .publish(let subject, let replyTo, let headers, var payload):
            try NATSParser.validate(subject: subject)
            if let replyTo { try NATSParser.validate(subject: replyTo) }
            let reply = replyTo.map { " " + $0 } ?? ""
            if let headers {
                var block = ByteBuffer()
                try headers.write(into: &block)
                buffer.writeString("HPUB \(subject)\(reply) \(block.readableBytes) \(block.readableBytes + payload.readableBytes)\r\n")
                buffer.writeBuffer(&block)
            } else {
                buffer.writeString("PUB \(subject)\(reply) \(payload.readableBytes)\r\n")
            }
            buffer.writeBuffer(&payload)
            buffer.writeStaticString("\r\n")
        case .subscribe(let subject, let queueGroup, let sid):
            try NATSParser.validate(subject: subject)
            try Self.validate(token: sid, "sid")
            if let queueGroup {
                try Self.validate(token: queueGroup, "queue group")
                buffer.writeString("SUB \(subject) \(queueGroup) \(sid)\r\n")
            } else {
                buffer.writeString("SUB \(subject) \(sid)\r\n")
            }
        case .unsubscribe(let sid, let maxMessages):
            try Self.validate(token: sid, "sid")
            if let maxMessages {
                guard maxMessages > 0 else { throw NATSWireError(.malformedOperation, "UNSUB's maximum must be positive") }
                buffer.writeString("UNSUB \(sid) \(maxMessages)\r\n")
            } else {
                buffer.writeString("UNSUB \(sid)\r\n")
            }
        case .ping:
            buffer.writeStaticString("PING\r\n")
        case .pong:
            buffer.writeStaticString("PONG\r\n")
        }
    }

    /// The operation's bytes in a buffer of their own.
    public func encoded() throws(NATSWireError) -> ByteBuffer {
        var buffer = ByteBuffer()
        try write(into: &buffer)
        return buffer
    }

    static func validate(token: String, _ what: String) throws(NATSWireError) {
        guard !token.isEmpty, token.utf8.count <= 256, token.utf8.allSatisfy({ $0 > 32 && $0 != 127 }) else {
            throw NATSWireError(.invalidSubject, "a \(what) is empty, too long or holds whitespace")
        }
    }
}
