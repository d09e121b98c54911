import FlowCodec
import Foundation
import SwiftProtobuf

/// One dnstap message of a resolver, as Mamori uses it: who asked (the subscriber's address and
/// port), what (the question), when, and — for responses — the response code and the A/AAAA
/// addresses of the answer.
///
/// ```swift
/// if let event = try ResolverEvent.decode(payload), event.type == .clientResponse {
///     print(event.queryAddress, event.question?.name, event.answerAddresses)
/// }
/// ```
public struct ResolverEvent: Sendable, Hashable {
    /// dnstap's `Message.Type`: which end of which arrow the message was seen at.
    public enum MessageType: Int, Sendable, Hashable, CaseIterable {
        case authQuery = 1
        case authResponse = 2
        case resolverQuery = 3
        case resolverResponse = 4
        /// A query from a client (a subscriber's stub resolver) to the resolver.
        case clientQuery = 5
        /// The resolver's response to a client.
        case clientResponse = 6
        case forwarderQuery = 7
        case forwarderResponse = 8
        case stubQuery = 9
        case stubResponse = 10
        case toolQuery = 11
        case toolResponse = 12
        case updateQuery = 13
        case updateResponse = 14

        /// Whether the message is a response (its DNS message is `response_message`).
        public var isResponse: Bool { rawValue % 2 == 0 }
    }

    /// Which message this is.
    public var type: MessageType
    /// When the query was sent or received (ms since the epoch), if given.
    public var queryTimeMilliseconds: Int64?
    /// When the response was sent or received (ms since the epoch), if given.
    public var responseTimeMilliseconds: Int64?
    /// The initiator of the query: for client messages, the subscriber's address.
    public var queryAddress: IPAddress?
    /// The initiator's port.
    public var queryPort: UInt16?
    /// The responder: for client messages, the resolver's own address.
    public var responseAddress: IPAddress?
    /// The first question of the DNS message (the response's, for responses; else the query's).
    public var question: DNSQuestion?
    /// The response's RCODE (nil for queries, or a response without its message).
    public var responseCode: UInt8?
    /// The A and AAAA addresses of the response's answer section (empty for queries).
    public var answerAddresses: [IPAddress]
    /// The resolver's identity string (`identity`), if it sends one.
    public var identity: String?

    public init(
        type: MessageType, queryTimeMilliseconds: Int64? = nil, responseTimeMilliseconds: Int64? = nil, queryAddress: IPAddress? = nil,
        queryPort: UInt16? = nil, responseAddress: IPAddress? = nil, question: DNSQuestion? = nil, responseCode: UInt8? = nil,
        answerAddresses: [IPAddress] = [], identity: String? = nil
    ) {
        self.type = type
        self.queryTimeMilliseconds = queryTimeMilliseconds
        self.responseTimeMilliseconds = responseTimeMilliseconds
        self.queryAddress = queryAddress
        self.queryPort = queryPort
        self.responseAddress = responseAddress
        self.question = question
        self.responseCode = responseCode
        self.answerAddresses = answerAddresses
        self.identity = identity
    }

    /// The longest identity string kept; longer ones are cut (they are labels, not data).
    static let maximumIdentityLength = 255

    /// Decodes one data frame's payload (a protobuf `dnstap.Dnstap`).
    ///
    /// Returns nil for a well-formed payload that carries no `Message` (dnstap defines no other
    /// kind yet) or a message type this decoder does not know. Throws
    /// ``DnstapError/Code/badProtobuf`` for bytes that are not a `Dnstap` message,
    /// ``DnstapError/Code/badEvent`` for an address, port or time out of range, and
    /// ``DnstapError/Code/badDNSMessage`` for a malformed DNS message inside.
    public static func decode(_ frame: [UInt8]) throws(DnstapError) -> ResolverEvent? {
        let envelope: Dnstap_Dnstap
        do {
            envelope = try Dnstap_Dnstap(serializedBytes: frame)
        } catch {
            throw DnstapError(.badProtobuf, "not a dnstap.Dnstap message (\(frame.count) bytes): \(error)")
        }
        guard envelope.type == .message, envelope.hasMessage else { return nil }
        let message = envelope.message
        guard let type = MessageType(rawValue: message.type.rawValue) else { return nil }
        var event = ResolverEvent(type: type)
        if envelope.hasIdentity {
            event.identity = String(decoding: envelope.identity.prefix(maximumIdentityLength), as: UTF8.self)
        }
        if message.hasQueryAddress { event.queryAddress = try address(message.queryAddress, "query_address") }
        if message.hasResponseAddress { event.responseAddress = try address(message.responseAddress, "response_address") }
        if message.hasQueryPort {
            guard let port = UInt16(exactly: message.queryPort) else {
                throw DnstapError(.badEvent, "query_port \(message.queryPort) is not a 16-bit port")
            }
            event.queryPort = port
        }
        if message.hasQueryTimeSec {
            event.queryTimeMilliseconds = try milliseconds(message.queryTimeSec, message.queryTimeNsec, "query_time")
        }
        if message.hasResponseTimeSec {
            event.responseTimeMilliseconds = try milliseconds(message.responseTimeSec, message.responseTimeNsec, "response_time")
        }
        if type.isResponse && message.hasResponseMessage {
            let summary = try DNSMessageSummary.decode(Array(message.responseMessage))
            event.question = summary.question
            event.responseCode = summary.responseCode
            event.answerAddresses = summary.answerAddresses
        } else if message.hasQueryMessage {
            event.question = try DNSMessageSummary.decode(Array(message.queryMessage)).question
        }
        return event
    }

    private static func address(_ data: Data, _ field: String) throws(DnstapError) -> IPAddress {
        guard let address = IPAddress(bytes: data) else {
            throw DnstapError(.badEvent, "\(field) of \(data.count) bytes (4 or 16 expected)")
        }
        return address
    }

    private static func milliseconds(_ seconds: UInt64, _ nanoseconds: UInt32, _ field: String) throws(DnstapError) -> Int64 {
        // Times after the year 9999 come from no clock (and would overflow milliseconds near 2^63).
        guard seconds <= 253_402_300_799, nanoseconds < 1_000_000_000 else {
            throw DnstapError(.badEvent, "\(field) \(seconds) s \(nanoseconds) ns is out of range")
        }
        return Int64(seconds) * 1000 + Int64(nanoseconds / 1_000_000)
    }
}
