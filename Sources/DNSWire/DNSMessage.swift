import NIOCore

/// A DNS message (RFC 1035 §4): the header and four sections.
///
/// Parsing is strict, because its input comes from anyone who can send a packet:
/// - names are decompressed following only pointers that go strictly backwards, each before
///   the start of the run of labels that led to it (so a chain cannot loop), at most 127 hops,
///   never into the header;
/// - the header's counts must fit the octets that follow (each question takes at least 5 and
///   each record at least 11) before anything is allocated for them, else `.tooManyRecords`;
/// - data that ends early is `.truncated(at:)`; record data must be exactly as long as its
///   RDLENGTH says, else `.badRData`;
/// - **trailing octets are rejected** (`.trailingBytes(at:)`): a message is exactly what its
///   counts say, so no data can ride behind it unsigned or unseen (TSIG's MAC covers the message
///   up to the TSIG record only, and the TSIG record must be the last additional record, else
///   `.misplacedTSIG`).
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]
    public var authorities: [DNSRecord]
    public var additionals: [DNSRecord]

    public init(
        header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSRecord] = [], authorities: [DNSRecord] = [],
        additionals: [DNSRecord] = []
    ) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// The most compression pointers one name may take. A name of 255 octets has at most 127
    /// labels, so a valid name never needs more pointers than that.
    public static let maxPointerHops = 127

    /// The message's TSIG record, if it has one (it is then the last additional record).
    public var tsig: DNSRecord? {
        guard let last = additionals.last, last.type == .TSIG else { return nil }
        return last
    }

    /// The message from its wire form.
    /// - Throws: `DNSWireError` for anything that is not exactly one well-formed message.
    public static func parse(_ bytes: [UInt8]) throws(DNSWireError) -> DNSMessage {
        try parseLocatingTSIG(bytes).message
    }

    /// The message from the readable bytes of `buffer` (which is not moved).
    public static func parse(_ buffer: ByteBuffer) throws(DNSWireError) -> DNSMessage {
        try parse(Array(buffer.readableBytesView))
    }

    /// The message, and the offset where its TSIG record starts if it has one.
    static func parseLocatingTSIG(_ bytes: [UInt8]) throws(DNSWireError) -> (message: DNSMessage, tsigStart: Int?) {
        guard bytes.count >= 12 else { throw .truncated(at: bytes.count) }
        let header = DNSHeader(bytes: bytes[0..<12])
        let qd = Int(header.questionCount)
        let rr = Int(header.answerCount) + Int(header.authorityCount) + Int(header.additionalCount)
        if qd * 5 + rr * 11 > bytes.count - 12 { throw .tooManyRecords(qd + rr) }
        var reader = DNSReader(bytes: bytes, offset: 12)
        var message = DNSMessage(header: header)
        message.questions.reserveCapacity(qd)
        for _ in 0..<qd {
            let name = try reader.readName()
            let type = DNSType(rawValue: try reader.u16())
            let cls = DNSClass(rawValue: try reader.u16())
            message.questions.append(DNSQuestion(name: name, type: type, class: cls))
        }
        var tsigStart: Int?
        let sections: [(count: UInt16, section: DNSSection)] = [
            (header.answerCount, .answer), (header.authorityCount, .authority), (header.additionalCount, .additional),
        ]
        for (count, section) in sections {
            var records: [DNSRecord] = []
            records.reserveCapacity(Int(count))
            for k in 0..<Int(count) {
                let start = reader.offset
                let record = try reader.readRecord()
                if record.type == .TSIG {
                    guard section == .additional, k == Int(count) - 1 else { throw .misplacedTSIG }
                    tsigStart = start
                }
                records.append(record)
            }
            switch section {
            case .answer: message.answers = records
            case .authority: message.authorities = records
            default: message.additionals = records
            }
        }
        if reader.offset != bytes.count { throw .trailingBytes(at: reader.offset) }
        return (message, tsigStart)
    }

    /// The wire form, with names compressed (owner names, and the names inside NS, CNAME, PTR,
    /// MX and SOA data), and the counts of the records written.
    /// - Parameter maxSize: the largest message allowed, in octets (512 for plain UDP).
    /// - Throws: `.tooLarge` when the message does not fit (it is never truncated), or
    ///   `.badRData` for record data that cannot be written (an `.a` of 3 octets …).
    public func serialize(maxSize: Int = 65535) throws(DNSWireError) -> [UInt8] {
        var builder = try DNSMessageBuilder(header: header, questions: questions, maxSize: maxSize)
        for (records, section) in [(answers, DNSSection.answer), (authorities, .authority), (additionals, .additional)] {
            for record in records where !(try builder.append(record, to: section)) { throw .tooLarge }
        }
        return builder.finish()
    }
}

/// A cursor over a whole message: names may point back anywhere in it.
struct DNSReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func u8() throws(DNSWireError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSWireError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .truncated(at: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(DNSWireError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw .truncated(at: offset) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    mutating func take(_ n: Int) throws(DNSWireError) -> [UInt8] {
        guard n >= 0, offset + n <= bytes.count else { throw .truncated(at: offset) }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// A possibly compressed name; the cursor moves past its octets in place (up to and
    /// including the first pointer).
    mutating func readName() throws(DNSWireError) -> DNSName {
        let start = offset
        var labels: [[UInt8]] = []
        var length = 1
        var pos = offset
        var runStart = offset
        var jumped = false
        var hops = 0
        while true {
            guard pos < bytes.count else { throw .truncated(at: pos) }
            let len = bytes[pos]
            switch len & 0xC0 {
            case 0x00:
                if len == 0 {
                    if !jumped { offset = pos + 1 }
                    return DNSName(validated: labels)
                }
                let n = Int(len)
                guard pos + 1 + n <= bytes.count else { throw .truncated(at: pos) }
                length += 1 + n
                if length > DNSName.maxWireLength { throw .nameTooLong }
                labels.append(Array(bytes[(pos + 1)..<(pos + 1 + n)]))
                pos += 1 + n
            case 0xC0:
                guard pos + 2 <= bytes.count else { throw .truncated(at: pos) }
                let target = Int(len & 0x3F) << 8 | Int(bytes[pos + 1])
                guard target >= 12, target < runStart else { throw .badPointer(at: pos) }
                hops += 1
                if hops > DNSMessage.maxPointerHops { throw .tooManyPointers(at: start) }
                if !jumped {
                    offset = pos + 2
                    jumped = true
                }
                pos = target
                runStart = target
            default:
                throw .badLabelType(at: pos)
            }
        }
    }

    mutating func readRecord() throws(DNSWireError) -> DNSRecord {
        let name = try readName()
        let type = DNSType(rawValue: try u16())
        let cls = DNSClass(rawValue: try u16())
        let ttl = try u32()
        let length = Int(try u16())
        let end = offset + length
        guard end <= bytes.count else { throw .truncated(at: offset) }
        let rdata = try readRData(type: type, class: cls, end: end)
        return DNSRecord(name: name, type: type, class: cls, ttl: ttl, rdata: rdata)
    }

    mutating func readRData(type: DNSType, class cls: DNSClass, end: Int) throws(DNSWireError) -> DNSRData {
        let length = end - offset
        if length == 0 {
            return .other([])
        }
        let rdata: DNSRData
        do throws(DNSWireError) {
            switch type {
            case .A where cls == .IN:
                guard length == 4 else { throw .badRData(type) }
                rdata = .a(try take(4))
            case .AAAA where cls == .IN:
                guard length == 16 else { throw .badRData(type) }
                rdata = .aaaa(try take(16))
            case .NS: rdata = .ns(try readName())
            case .CNAME: rdata = .cname(try readName())
            case .PTR: rdata = .ptr(try readName())
            case .MX:
                let preference = try u16()
                rdata = .mx(preference: preference, exchange: try readName())
            case .SOA:
                let mname = try readName()
                let rname = try readName()
                rdata = .soa(
                    DNSSOA(
                        mname: mname, rname: rname, serial: DNSSerial(try u32()), refresh: try u32(), retry: try u32(),
                        expire: try u32(), minimum: try u32()))
            case .TXT:
                var strings: [[UInt8]] = []
                while offset < end { strings.append(try take(Int(try u8()))) }
                rdata = .txt(strings)
            case .TSIG:
                let algorithm = try readName()
                let high = UInt64(try u16())
                let low = UInt64(try u32())
                let fudge = try u16()
                let mac = try take(Int(try u16()))
                let originalID = try u16()
                let error = DNSRCode(rawValue: try u16())
                let other = try take(Int(try u16()))
                rdata = .tsig(
                    DNSTSIGRData(
                        algorithm: algorithm, timeSigned: high << 32 | low, fudge: fudge, mac: mac,
                        originalID: originalID, error: error, other: other))
            default:
                rdata = .other(try take(length))
            }
        } catch {
            // RDLENGTH fits the message, so fields that run past the message's end are malformed data.
            if case .truncated = error { throw .badRData(type) }
            throw error
        }
        guard offset == end else { throw .badRData(type) }
        return rdata
    }
}
