import NIOCore

/// The stream's answer to a publish on one of its subjects: where the message was stored.
public struct JetStreamPublishAck: Decodable, Hashable, Sendable {
    public var stream: String
    public var sequence: UInt64
    /// True when the `Nats-Msg-Id` was seen within the duplicate window (the message was not stored again).
    public var duplicate: Bool?

    enum CodingKeys: String, CodingKey {
        case stream
        case sequence = "seq"
        case duplicate
    }
}

/// What a consumer says about a delivered message, sent to the message's reply subject.
public enum JetStreamAckKind: Hashable, Sendable {
    /// Done: never deliver it again.
    case ack
    /// Not done: deliver it again (after `delay`, or at once).
    case nak(delay: Duration?)
    /// Still working: restart its ack wait.
    case inProgress
    /// Never deliver it again, though not processed.
    case term

    /// The payload of the reply (`+ACK`, `-NAK`, `-NAK {"delay":…}`, `+WPI`, `+TERM`).
    public var payload: ByteBuffer {
        switch self {
        case .ack: ByteBuffer(string: "+ACK")
        case .nak(nil): ByteBuffer(string: "-NAK")
        case .nak(let delay?): ByteBuffer(string: "-NAK {\"delay\":\(nanoseconds(delay))}")
        case .inProgress: ByteBuffer(string: "+WPI")
        case .term: ByteBuffer(string: "+TERM")
        }
    }
}

/// What a JetStream message's reply subject says about it:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>`,
/// or the newer layout with a domain and account hash in front (and a token after).
public struct JetStreamAckMetadata: Hashable, Sendable {
    public var domain: String?
    public var stream: String
    public var consumer: String
    /// How many times this message has been delivered (1 the first time).
    public var deliveryCount: UInt64
    public var streamSequence: UInt64
    public var consumerSequence: UInt64
    /// Nanoseconds since 1970 when the message was stored.
    public var timestamp: Int64
    /// Messages left for the consumer after this one.
    public var pending: UInt64

    public init(parsing subject: String) throws(NATSWireError) {
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        guard tokens.count >= 9, tokens[0] == "$JS", tokens[1] == "ACK" else {
            throw NATSWireError(.malformedAckSubject, "not a $JS.ACK subject of 9 or more tokens")
        }
        let rest: ArraySlice<Substring>
        switch tokens.count {
        case 9:
            domain = nil
            rest = tokens[2...]
        case 11, 12:
            domain = tokens[2] == "_" ? nil : String(tokens[2])
            rest = tokens[4..<11]
        default:
            throw NATSWireError(.malformedAckSubject, "a $JS.ACK subject of \(tokens.count) tokens")
        }
        let r = Array(rest)
        func number(_ s: Substring) throws(NATSWireError) -> UInt64 {
            guard let n = UInt64(s) else {
                throw NATSWireError(.malformedAckSubject, "\(String(s.prefix(24)).debugDescription) is not a number")
            }
            return n
        }
        guard !r[0].isEmpty, !r[1].isEmpty else { throw NATSWireError(.malformedAckSubject, "an empty stream or consumer name") }
        stream = String(r[0])
        consumer = String(r[1])
        deliveryCount = try number(r[2])
        streamSequence = try number(r[3])
        consumerSequence = try number(r[4])
        guard let t = Int64(r[5]) else { throw NATSWireError(.malformedAckSubject, "the timestamp is not a number") }
        timestamp = t
        pending = try number(r[6])
    }
}
