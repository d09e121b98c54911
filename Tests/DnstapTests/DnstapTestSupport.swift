import Foundation
import SwiftProtobuf

@testable import Dnstap

/// Test-only encoders: Frame Streams frames, DNS messages and dnstap protobuf payloads.
enum Wire {
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    /// A data frame: length, then payload.
    static func dataFrame(_ payload: [UInt8]) -> [UInt8] { be32(UInt32(payload.count)) + payload }

    /// A name in wire form without compression.
    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in text.split(separator: ".") {
            out.append(UInt8(label.utf8.count))
            out += Array(label.utf8)
        }
        return out + [0]
    }

    /// A DNS query for `qname`/`qtype`.
    static func query(_ qname: String, type: UInt16 = 1, id: UInt16 = 0x1234) -> [UInt8] {
        be16(id) + [0x01, 0x00] + be16(1) + be16(0) + be16(0) + be16(0) + name(qname) + be16(type) + be16(1)
    }

    /// A response to `qname` with A/AAAA answers, each owner a compression pointer to the question.
    static func response(_ qname: String, rcode: UInt8 = 0, answers: [[UInt8]] = [], id: UInt16 = 0x1234) -> [UInt8] {
        var m = be16(id) + [0x81, 0x80 | rcode] + be16(1) + be16(UInt16(answers.count)) + be16(0) + be16(0)
        m += name(qname) + be16(answers.first?.count == 16 ? 28 : 1) + be16(1)
        for a in answers {
            m += [0xC0, 12] + be16(a.count == 16 ? 28 : 1) + be16(1) + be32(300) + be16(UInt16(a.count)) + a
        }
        return m
    }

    /// A dnstap payload holding one message.
    static func dnstap(
        _ type: Dnstap_Message.TypeEnum, query: [UInt8]? = nil, response: [UInt8]? = nil, client: [UInt8]? = [192, 0, 2, 7],
        port: UInt32? = 53_000, seconds: UInt64 = 1_764_547_200, nanoseconds: UInt32 = 250_000_000, identity: String? = nil
    ) -> [UInt8] {
        var m = Dnstap_Message()
        m.type = type
        m.socketFamily = .inet
        m.socketProtocol = .udp
        if let client { m.queryAddress = Data(client) }
        if let port { m.queryPort = port }
        m.responseAddress = Data([192, 0, 2, 53])
        if type.rawValue % 2 == 0 {
            m.responseTimeSec = seconds
            m.responseTimeNsec = nanoseconds
        } else {
            m.queryTimeSec = seconds
            m.queryTimeNsec = nanoseconds
        }
        if let query { m.queryMessage = Data(query) }
        if let response { m.responseMessage = Data(response) }
        var d = Dnstap_Dnstap()
        d.type = .message
        d.message = m
        if let identity { d.identity = Data(identity.utf8) }
        return try! d.serializedBytes()
    }
}
