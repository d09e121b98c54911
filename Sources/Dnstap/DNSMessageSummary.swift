import DNSWire
import FlowCodec

/// The question of a DNS message: a name and a type.
public struct DNSQuestion: Sendable, Hashable, CustomStringConvertible {
    /// The name in presentation form, lowercased, without the final dot (`"example.com"`; the root is `"."`).
    /// Bytes other than letters, digits, `-` and `_` are written `\DDD` (and a dot inside a label `\.`).
    public var name: String
    /// QTYPE (1 A, 28 AAAA, 5 CNAME …).
    public var type: UInt16
    /// QCLASS (1 IN).
    public var dnsClass: UInt16

    public init(name: String, type: UInt16, dnsClass: UInt16 = 1) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
    }

    public var description: String { "\(name) type \(type)" }
}

/// What Mamori reads of a wire-format DNS message (RFC 1035 §4): the header's response flag and
/// code, the first question, and the A/AAAA addresses of the answer section. The message is parsed
/// by ``DNSWire`` (names, compression pointers, limits, every record checked); a message it refuses
/// throws ``DnstapError/Code/badDNSMessage`` with DNSWire's reason.
public struct DNSMessageSummary: Sendable, Hashable {
    /// The header's ID.
    public var id: UInt16
    /// QR: whether this is a response.
    public var isResponse: Bool
    /// RCODE (the header's low four bits: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN …).
    public var responseCode: UInt8
    /// The first question (nil when QDCOUNT is 0).
    public var question: DNSQuestion?
    /// The addresses of the answer section's A and AAAA records of class IN, in order.
    public var answerAddresses: [IPAddress]

    /// Reads `bytes` as one DNS message.
    public static func decode(_ bytes: [UInt8]) throws(DnstapError) -> DNSMessageSummary {
        let message: DNSMessage
        do {
            message = try DNSMessage.parse(bytes)
        } catch {
            throw DnstapError(.badDNSMessage, "DNS message: \(error)")
        }
        var summary = DNSMessageSummary(
            id: message.header.id, isResponse: message.header.qr, responseCode: UInt8(message.header.rcode.rawValue & 0x0F),
            question: message.questions.first.map {
                DNSQuestion(name: presentation($0.name), type: $0.type.rawValue, dnsClass: $0.class.rawValue)
            }, answerAddresses: [])
        for record in message.answers where record.class == .IN {
            switch record.rdata {
            case .a(let bytes), .aaaa(let bytes): IPAddress(bytes: bytes).map { summary.answerAddresses.append($0) }
            default: continue
            }
        }
        return summary
    }

    /// The name lowercased, without the final dot (the root is `"."`), bytes other than letters,
    /// digits, `-` and `_` written `\DDD` (a dot inside a label `\.`).
    static func presentation(_ name: DNSName) -> String {
        name.labels.isEmpty ? "." : name.labels.map(presentation).joined(separator: ".")
    }

    private static func presentation(_ label: [UInt8]) -> String {
        var s = ""
        for b in label {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): s.unicodeScalars.append(Unicode.Scalar(b + 32))
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                s.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "."): s += "\\."
            default:
                let d = String(b)
                s += "\\" + String(repeating: "0", count: 3 - d.count) + d
            }
        }
        return s
    }
}
