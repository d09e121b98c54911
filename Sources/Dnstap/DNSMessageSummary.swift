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
/// code, the first question, and the A/AAAA addresses of the answer section. Everything else is
/// skipped, not checked. Names may use compression pointers (RFC 1035 §4.1.4), which must point
/// backwards; a name longer than 255 bytes, a label longer than 63, a reserved label type or a
/// record past the end throws ``DnstapError/Code/badDNSMessage``.
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

    /// The longest name on the wire (RFC 1035 §2.3.4).
    static let maximumNameLength = 255
    /// The longest label (RFC 1035 §2.3.4).
    static let maximumLabelLength = 63

    /// Reads `bytes` as one DNS message.
    public static func decode(_ bytes: [UInt8]) throws(DnstapError) -> DNSMessageSummary {
        guard bytes.count >= 12 else {
            throw DnstapError(.badDNSMessage, "DNS header: expected 12 bytes, \(bytes.count) present")
        }
        let id = read16(bytes, 0)
        let flags = read16(bytes, 2)
        let questions = Int(read16(bytes, 4))
        let answers = Int(read16(bytes, 6))
        var summary = DNSMessageSummary(
            id: id, isResponse: flags & 0x8000 != 0, responseCode: UInt8(flags & 0x000F), question: nil, answerAddresses: [])
        var i = 12
        for q in 0..<questions {
            let (name, end) = try readName(bytes, at: i)
            guard bytes.count - end >= 4 else {
                throw DnstapError(.badDNSMessage, "question \(q): expected 4 bytes of type and class, \(bytes.count - end) left")
            }
            if q == 0 { summary.question = DNSQuestion(name: name, type: read16(bytes, end), dnsClass: read16(bytes, end + 2)) }
            i = end + 4
        }
        for a in 0..<answers {
            let end = try skipName(bytes, at: i)
            guard bytes.count - end >= 10 else {
                throw DnstapError(.badDNSMessage, "answer \(a): expected a 10-byte record header, \(bytes.count - end) left")
            }
            let type = read16(bytes, end)
            let dnsClass = read16(bytes, end + 2)
            let length = Int(read16(bytes, end + 8))
            let data = end + 10
            guard bytes.count - data >= length else {
                throw DnstapError(.badDNSMessage, "answer \(a): expected \(length) bytes of data, \(bytes.count - data) left")
            }
            if dnsClass == 1 && (type == 1 || type == 28) {
                guard length == (type == 1 ? 4 : 16), let address = IPAddress(bytes: bytes[data..<(data + length)]) else {
                    throw DnstapError(.badDNSMessage, "answer \(a): \(type == 1 ? "A" : "AAAA") record of \(length) bytes")
                }
                summary.answerAddresses.append(address)
            }
            i = data + length
        }
        return summary
    }

    /// Reads the name at `start`: its presentation form and the offset just after it (after the
    /// first pointer, if it has one).
    static func readName(_ bytes: [UInt8], at start: Int) throws(DnstapError) -> (name: String, end: Int) {
        var labels: [String] = []
        let end = try walkName(bytes, at: start) { label in labels.append(presentation(label)) }
        return (labels.isEmpty ? "." : labels.joined(separator: "."), end)
    }

    /// The offset just after the name at `start`, checked as ``readName(_:at:)`` checks it.
    static func skipName(_ bytes: [UInt8], at start: Int) throws(DnstapError) -> Int {
        try walkName(bytes, at: start) { _ in }
    }

    private static func walkName(_ bytes: [UInt8], at start: Int, _ label: (ArraySlice<UInt8>) -> Void) throws(DnstapError) -> Int {
        var i = start
        var segmentStart = start
        var end: Int?
        var wireLength = 1
        while true {
            guard i < bytes.count else { throw DnstapError(.badDNSMessage, "name at \(start) runs past the message") }
            let length = Int(bytes[i])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 { return end ?? i + 1 }
                wireLength += length + 1
                guard wireLength <= maximumNameLength else {
                    throw DnstapError(.badDNSMessage, "name at \(start) longer than \(maximumNameLength) bytes")
                }
                guard bytes.count - (i + 1) >= length else {
                    throw DnstapError(.badDNSMessage, "label at \(i) of \(length) bytes runs past the message")
                }
                label(bytes[(i + 1)..<(i + 1 + length)])
                i += 1 + length
            case 0xC0:
                guard i + 1 < bytes.count else { throw DnstapError(.badDNSMessage, "pointer at \(i) truncated") }
                let target = (length & 0x3F) << 8 | Int(bytes[i + 1])
                // Only backwards, to before the labels read since the last jump: every jump lowers
                // that start, so a name cannot loop.
                guard target < segmentStart else {
                    throw DnstapError(.badDNSMessage, "pointer at \(i) to \(target) does not point backwards")
                }
                if end == nil { end = i + 2 }
                i = target
                segmentStart = target
            default:
                throw DnstapError(.badDNSMessage, "reserved label type 0x\(String(length & 0xC0, radix: 16)) at \(i)")
            }
        }
    }

    private static func presentation(_ label: ArraySlice<UInt8>) -> String {
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

    private static func read16(_ bytes: [UInt8], _ i: Int) -> UInt16 { UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]) }
}
