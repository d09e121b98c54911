/// Writes a message record by record, keeping name compression across records, and refuses a
/// record that would make the message larger than `maxSize`: the caller then finishes this
/// message and starts the next one (a zone transfer of several messages, RFC 5936 §2.2).
///
/// ```swift
/// var builder = try DNSMessageBuilder(header: header, questions: [question], maxSize: 65535 - 100)
/// for record in zone {
///     if try !builder.append(record) {
///         send(builder.finish())
///         builder = try DNSMessageBuilder(header: header, questions: [question], maxSize: 65535 - 100)
///         guard try builder.append(record) else { throw TooLarge() }
///     }
/// }
/// send(builder.finish())
/// ```
///
/// Leave room for a TSIG record in `maxSize` if the messages are to be signed (about 100 octets
/// with HMAC-SHA256 and a short key name).
public struct DNSMessageBuilder: Sendable {
    /// The largest message this builder writes, in octets.
    public let maxSize: Int
    var writer = DNSWriter()
    var header: DNSHeader
    var counts: [Int] = [0, 0, 0, 0]
    var section = DNSSection.question

    /// Starts a message: the header (whose counts are replaced by what is appended) and the
    /// question section.
    /// - Throws: `.tooLarge` when the header and questions alone exceed `maxSize`, or more than
    ///   65535 questions are given.
    public init(header: DNSHeader, questions: [DNSQuestion] = [], maxSize: Int = 65535) throws(DNSWireError) {
        self.maxSize = min(maxSize, 65535)
        self.header = header
        guard questions.count <= 0xFFFF else { throw .tooLarge }
        writer.bytes.append(contentsOf: [UInt8](repeating: 0, count: 12))
        for q in questions {
            writer.writeName(q.name, compress: true)
            writer.u16(q.type.rawValue)
            writer.u16(q.class.rawValue)
        }
        if writer.bytes.count > self.maxSize { throw .tooLarge }
        counts[0] = questions.count
    }

    /// The octets written so far, without the header's final counts.
    public var size: Int { writer.bytes.count }

    /// The number of records appended (all sections).
    public var recordCount: Int { counts[1] + counts[2] + counts[3] }

    /// Appends a record to a section if it fits. Sections are written in order: once a record
    /// went to a later section, an earlier one can no longer take records (a programming error).
    /// - Returns: false, leaving the message as it was, when the record would not fit.
    /// - Throws: `.badRData` for record data that cannot be written (an `.a` of 3 octets, a TXT
    ///   string over 255 octets), `.tooLarge` for record data over 65535 octets.
    public mutating func append(_ record: DNSRecord, to section: DNSSection = .answer) throws(DNSWireError) -> Bool {
        precondition(section != .question && section >= self.section, "records are appended section by section")
        guard counts[section.rawValue] < 0xFFFF else { return false }
        let mark = writer.mark()
        do {
            try writer.writeRecord(record)
        } catch {
            writer.rollBack(to: mark)
            throw error
        }
        if writer.bytes.count > maxSize {
            writer.rollBack(to: mark)
            return false
        }
        self.section = section
        counts[section.rawValue] += 1
        return true
    }

    /// The message's octets, with the counts of what was appended.
    public func finish() -> [UInt8] {
        var h = header
        h.questionCount = UInt16(counts[0])
        h.answerCount = UInt16(counts[1])
        h.authorityCount = UInt16(counts[2])
        h.additionalCount = UInt16(counts[3])
        var out = writer.bytes
        out.replaceSubrange(0..<12, with: h.bytes())
        return out
    }
}

/// Octets being written, and the compression table: every name suffix written so far (in lower
/// case, RFC 4343) at its offset, for offsets a pointer can reach (below 0x4000).
struct DNSWriter: Sendable {
    var bytes: [UInt8] = []
    var table: [ArraySlice<[UInt8]>: Int] = [:]
    var added: [ArraySlice<[UInt8]>] = []

    struct Mark {
        let size: Int
        let added: Int
    }

    mutating func mark() -> Mark { Mark(size: bytes.count, added: added.count) }

    mutating func rollBack(to mark: Mark) {
        bytes.removeSubrange(mark.size...)
        while added.count > mark.added { table[added.removeLast()] = nil }
    }

    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(v & 0xFF))
    }

    mutating func u32(_ v: UInt32) {
        u16(UInt16(v >> 16))
        u16(UInt16(v & 0xFFFF))
    }

    mutating func writeName(_ name: DNSName, compress: Bool) {
        guard compress else {
            bytes.append(contentsOf: name.wireBytes)
            return
        }
        let lower = name.labels.map(DNSName.lower)
        for k in 0..<lower.count {
            let suffix = lower[k...]
            if let at = table[suffix] {
                u16(0xC000 | UInt16(at))
                return
            }
            if bytes.count < 0x4000 {
                table[suffix] = bytes.count
                added.append(suffix)
            }
            bytes.append(UInt8(name.labels[k].count))
            bytes.append(contentsOf: name.labels[k])
        }
        bytes.append(0)
    }

    mutating func writeRecord(_ r: DNSRecord) throws(DNSWireError) {
        writeName(r.name, compress: true)
        u16(r.type.rawValue)
        u16(r.class.rawValue)
        u32(r.ttl)
        let lengthAt = bytes.count
        u16(0)
        switch r.rdata {
        case .a(let address):
            guard address.count == 4 else { throw .badRData(r.type) }
            bytes.append(contentsOf: address)
        case .aaaa(let address):
            guard address.count == 16 else { throw .badRData(r.type) }
            bytes.append(contentsOf: address)
        case .ns(let name), .cname(let name), .ptr(let name):
            writeName(name, compress: true)
        case .mx(let preference, let exchange):
            u16(preference)
            writeName(exchange, compress: true)
        case .soa(let soa):
            writeName(soa.mname, compress: true)
            writeName(soa.rname, compress: true)
            for v in [soa.serial.rawValue, soa.refresh, soa.retry, soa.expire, soa.minimum] { u32(v) }
        case .txt(let strings):
            for s in strings {
                guard s.count <= 255 else { throw .badRData(r.type) }
                bytes.append(UInt8(s.count))
                bytes.append(contentsOf: s)
            }
        case .tsig(let t):
            guard t.mac.count <= 0xFFFF, t.other.count <= 0xFFFF, t.timeSigned <= 0xFFFF_FFFF_FFFF else {
                throw .badRData(r.type)
            }
            bytes.append(contentsOf: TSIG.rdataBytes(t))
        case .other(let data):
            bytes.append(contentsOf: data)
        }
        let length = bytes.count - lengthAt - 2
        // Record data over 65535 octets cannot be in any message (a parsed TSIG record's
        // compressed algorithm name, written out, can get there).
        guard length <= 0xFFFF else { throw .tooLarge }
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}
