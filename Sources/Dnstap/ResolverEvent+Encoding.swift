import FlowCodec
import Foundation
import SwiftProtobuf

extension ResolverEvent {
    /// This event as a dnstap data frame's payload (a protobuf `dnstap.Dnstap` holding one
    /// `Message`), written with the generated types, as a resolver writes it: the type, the
    /// socket family (from `queryAddress`, IPv4 when absent) and UDP, the addresses, the query
    /// port, the times, the identity, and the DNS message octets given.
    ///
    /// For benchmarks, simulators and tests: `decode` of the result gives back this event's
    /// fields, and the question, response code and answer addresses read from the DNS message
    /// (the event's own `question`, `responseCode` and `answerAddresses` are not written: they
    /// come from the message).
    /// - Parameters:
    ///   - queryMessage: the DNS query's octets (`query_message`), if any.
    ///   - responseMessage: the DNS response's octets (`response_message`), if any.
    public func encodedPayload(queryMessage: [UInt8]? = nil, responseMessage: [UInt8]? = nil) throws(DnstapError) -> [UInt8] {
        var m = Dnstap_Message()
        guard let messageType = Dnstap_Message.TypeEnum(rawValue: type.rawValue) else {
            throw DnstapError(.badEvent, "message type \(type.rawValue) has no dnstap value")
        }
        m.type = messageType
        m.socketFamily = (queryAddress ?? responseAddress)?.isIPv6 == true ? .inet6 : .inet
        m.socketProtocol = .udp
        if let queryAddress { m.queryAddress = Data(queryAddress.bytes) }
        if let responseAddress { m.responseAddress = Data(responseAddress.bytes) }
        if let queryPort { m.queryPort = UInt32(queryPort) }
        if let t = queryTimeMilliseconds, t >= 0 {
            m.queryTimeSec = UInt64(t / 1000)
            m.queryTimeNsec = UInt32(t % 1000) * 1_000_000
        }
        if let t = responseTimeMilliseconds, t >= 0 {
            m.responseTimeSec = UInt64(t / 1000)
            m.responseTimeNsec = UInt32(t % 1000) * 1_000_000
        }
        if let queryMessage { m.queryMessage = Data(queryMessage) }
        if let responseMessage { m.responseMessage = Data(responseMessage) }
        var envelope = Dnstap_Dnstap()
        envelope.type = .message
        envelope.message = m
        if let identity { envelope.identity = Data(identity.utf8) }
        do {
            return try envelope.serializedBytes()
        } catch {
            throw DnstapError(.badProtobuf, "the event could not be written: \(error)")
        }
    }
}
