import FlowCodec
import MamoriCore
import NIOCore

/// Big-endian byte writer for building export datagrams by hand.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
    mutating func u32(_ v: UInt32) {
        for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }
    mutating func u64(_ v: UInt64) {
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }
    /// `v` in `length` bytes (reduced-size encoding), big-endian.
    mutating func uint(_ v: UInt64, length: Int) {
        for i in (0..<length).reversed() { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
    }
    mutating func address(_ a: IPAddress) { bytes += a.bytes }
    mutating func raw(_ b: [UInt8]) { bytes += b }
    /// An IPFIX variable-length field: 1-byte length, or 255 + 2-byte length (RFC 7011 §7).
    mutating func variable(_ b: [UInt8]) {
        if b.count < 255 {
            u8(UInt8(b.count))
        } else {
            u8(255)
            u16(UInt16(b.count))
        }
        bytes += b
    }
}

/// Test-only IPFIX (RFC 7011) message encoder: add sets, then take `bytes`.
struct IPFIXMessageBuilder {
    var exportTime: UInt32
    var sequence: UInt32
    var domain: UInt32
    private(set) var sets: [[UInt8]] = []

    init(exportTime: UInt32 = 1_700_000_000, sequence: UInt32 = 0, domain: UInt32 = 0) {
        self.exportTime = exportTime
        self.sequence = sequence
        self.domain = domain
    }

    private static func fieldSpecifiers(_ fields: [FieldSpecifier], into w: inout ByteWriter) {
        for f in fields {
            if f.enterprise != 0 {
                w.u16(f.id | 0x8000)
                w.u16(f.length)
                w.u32(f.enterprise)
            } else {
                w.u16(f.id)
                w.u16(f.length)
            }
        }
    }

    /// A template set (ID 2) with one template record.
    mutating func template(id: UInt16, fields: [FieldSpecifier]) {
        var w = ByteWriter()
        w.u16(id)
        w.u16(UInt16(fields.count))
        Self.fieldSpecifiers(fields, into: &w)
        rawSet(id: 2, body: w.bytes)
    }

    /// An options template set (ID 3): scope fields first.
    mutating func optionsTemplate(id: UInt16, scope: [FieldSpecifier], options: [FieldSpecifier]) {
        var w = ByteWriter()
        w.u16(id)
        w.u16(UInt16(scope.count + options.count))
        w.u16(UInt16(scope.count))
        Self.fieldSpecifiers(scope + options, into: &w)
        rawSet(id: 3, body: w.bytes)
    }

    /// A template withdrawal (RFC 7011 §8.1): the template ID with field count 0.
    mutating func withdraw(templateID: UInt16, options: Bool = false) {
        var w = ByteWriter()
        w.u16(templateID)
        w.u16(0)
        rawSet(id: options ? 3 : 2, body: w.bytes)
    }

    /// Withdraws every (options) template of the session: template ID = set ID, count 0.
    mutating func withdrawAll(options: Bool = false) {
        withdraw(templateID: options ? 3 : 2, options: options)
    }

    /// A data set of already encoded records.
    mutating func data(templateID: UInt16, records: [[UInt8]]) {
        rawSet(id: templateID, body: records.flatMap { $0 })
    }

    mutating func rawSet(id: UInt16, body: [UInt8], lengthOverride: UInt16? = nil) {
        var w = ByteWriter()
        w.u16(id)
        w.u16(lengthOverride ?? UInt16(4 + body.count))
        w.raw(body)
        sets.append(w.bytes)
    }

    func bytes(lengthOverride: UInt16? = nil) -> [UInt8] {
        let body = sets.flatMap { $0 }
        var w = ByteWriter()
        w.u16(10)
        w.u16(lengthOverride ?? UInt16(16 + body.count))
        w.u32(exportTime)
        w.u32(sequence)
        w.u32(domain)
        w.raw(body)
        return w.bytes
    }
}

/// Test-only NetFlow v9 (RFC 3954) packet encoder.
struct NetFlowV9PacketBuilder {
    var uptime: UInt32
    var unixSeconds: UInt32
    var sequence: UInt32
    var sourceID: UInt32
    private(set) var flowsets: [[UInt8]] = []
    private var recordCount = 0

    init(uptime: UInt32 = 100_000, unixSeconds: UInt32 = 1_700_000_000, sequence: UInt32 = 0, sourceID: UInt32 = 0) {
        self.uptime = uptime
        self.unixSeconds = unixSeconds
        self.sequence = sequence
        self.sourceID = sourceID
    }

    mutating func template(id: UInt16, fields: [FieldSpecifier]) {
        var w = ByteWriter()
        w.u16(id)
        w.u16(UInt16(fields.count))
        for f in fields {
            w.u16(f.id)
            w.u16(f.length)
        }
        flowset(id: 0, body: w.bytes)
        recordCount += 1
    }

    /// Options template: scope fields (type = scope type: 1 system, 2 interface …), option fields.
    mutating func optionsTemplate(id: UInt16, scope: [FieldSpecifier], options: [FieldSpecifier]) {
        var w = ByteWriter()
        w.u16(id)
        w.u16(UInt16(scope.count * 4))
        w.u16(UInt16(options.count * 4))
        for f in scope + options {
            w.u16(f.id)
            w.u16(f.length)
        }
        flowset(id: 1, body: w.bytes)
        recordCount += 1
    }

    mutating func data(templateID: UInt16, records: [[UInt8]]) {
        flowset(id: templateID, body: records.flatMap { $0 })
        recordCount += records.count
    }

    /// A flowset padded to a multiple of 4 bytes, as RFC 3954 §5.3 recommends.
    mutating func flowset(id: UInt16, body: [UInt8]) {
        var w = ByteWriter()
        let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
        w.u16(id)
        w.u16(UInt16(4 + padded.count))
        w.raw(padded)
        flowsets.append(w.bytes)
    }

    var bytes: [UInt8] {
        var w = ByteWriter()
        w.u16(9)
        w.u16(UInt16(recordCount))
        w.u32(uptime)
        w.u32(unixSeconds)
        w.u32(sequence)
        w.u32(sourceID)
        w.raw(flowsets.flatMap { $0 })
        return w.bytes
    }
}

/// Test-only NetFlow v5 packet encoder.
struct NetFlowV5PacketBuilder {
    var uptime: UInt32 = 100_000
    var unixSeconds: UInt32 = 1_700_000_000
    var unixNanoseconds: UInt32 = 0
    var sequence: UInt32 = 0
    var engineType: UInt8 = 0
    var engineID: UInt8 = 0
    /// Sampling field: 2-bit mode, 14-bit interval.
    var sampling: UInt16 = 0
    var records: [FlowRecord] = []

    /// Encodes `records`; their times become FIRST/LAST relative to `uptime` at `unixSeconds`.
    var bytes: [UInt8] {
        var w = ByteWriter()
        w.u16(5)
        w.u16(UInt16(records.count))
        w.u32(uptime)
        w.u32(unixSeconds)
        w.u32(unixNanoseconds)
        w.u32(sequence)
        w.u8(engineType)
        w.u8(engineID)
        w.u16(sampling)
        let exportMs = Int64(unixSeconds) * 1000 + Int64(unixNanoseconds) / 1_000_000
        for r in records {
            w.address(r.sourceAddress)
            w.address(r.destinationAddress)
            w.u32(0)
            w.u16(UInt16(r.inputInterface))
            w.u16(UInt16(r.outputInterface))
            w.u32(UInt32(r.packets))
            w.u32(UInt32(r.bytes))
            w.u32(UInt32(truncatingIfNeeded: Int64(uptime) + r.startMilliseconds - exportMs))
            w.u32(UInt32(truncatingIfNeeded: Int64(uptime) + r.endMilliseconds - exportMs))
            w.u16(r.sourcePort)
            w.u16(r.destinationPort)
            w.u8(0)
            w.u8(r.tcpFlags)
            w.u8(r.ipProtocol)
            w.u8(r.typeOfService)
            w.u16(UInt16(r.sourceAS))
            w.u16(UInt16(r.destinationAS))
            w.u8(0)
            w.u8(0)
            w.u16(0)
        }
        return w.bytes
    }
}

/// A flow template covering what `FlowRecord` carries, and an encoder of records for it, so
/// tests can round-trip `FlowRecord` → IPFIX / v9 bytes → `FlowRecord`.
enum StandardTemplate {
    /// IPv4 5-tuple, 8-byte counters, ms timestamps (152/153; in v9 too: Mamori maps IE numbers).
    static let ipv4: [FieldSpecifier] = [
        .init(id: 8, length: 4), .init(id: 12, length: 4), .init(id: 7, length: 2), .init(id: 11, length: 2),
        .init(id: 4, length: 1), .init(id: 6, length: 1), .init(id: 5, length: 1),
        .init(id: 1, length: 8), .init(id: 2, length: 8),
        .init(id: 152, length: 8), .init(id: 153, length: 8),
        .init(id: 10, length: 4), .init(id: 14, length: 4), .init(id: 16, length: 4), .init(id: 17, length: 4),
    ]
    /// Same with IPv6 addresses.
    static let ipv6: [FieldSpecifier] = [.init(id: 27, length: 16), .init(id: 28, length: 16)] + ipv4.dropFirst(2)

    static func encode(_ r: FlowRecord) -> [UInt8] {
        var w = ByteWriter()
        w.address(r.sourceAddress)
        w.address(r.destinationAddress)
        w.u16(r.sourcePort)
        w.u16(r.destinationPort)
        w.u8(r.ipProtocol)
        w.u8(r.tcpFlags)
        w.u8(r.typeOfService)
        w.u64(r.bytes)
        w.u64(r.packets)
        w.u64(UInt64(r.startMilliseconds))
        w.u64(UInt64(r.endMilliseconds))
        w.u32(r.inputInterface)
        w.u32(r.outputInterface)
        w.u32(r.sourceAS)
        w.u32(r.destinationAS)
        return w.bytes
    }

    /// A plausible random record (addresses of the given family), for round trips.
    static func random(ipv6: Bool, using g: inout SplitMix64) -> FlowRecord {
        func address() -> IPAddress {
            ipv6 ? .v6(high: g.next(), low: g.next()) : .v4(UInt32(truncatingIfNeeded: g.next()))
        }
        let start = Int64(1_600_000_000_000 + g.next() % 100_000_000_000)
        return FlowRecord(
            sourceAddress: address(), destinationAddress: address(),
            sourcePort: UInt16(truncatingIfNeeded: g.next()), destinationPort: UInt16(truncatingIfNeeded: g.next()),
            ipProtocol: UInt8(truncatingIfNeeded: g.next()), tcpFlags: UInt8(truncatingIfNeeded: g.next()),
            typeOfService: UInt8(truncatingIfNeeded: g.next()),
            bytes: g.next() >> 8, packets: g.next() >> 24,
            startMilliseconds: start, endMilliseconds: start + Int64(g.next() % 3_600_000),
            inputInterface: UInt32(truncatingIfNeeded: g.next()), outputInterface: UInt32(truncatingIfNeeded: g.next()),
            sourceAS: UInt32(truncatingIfNeeded: g.next()), destinationAS: UInt32(truncatingIfNeeded: g.next())
        )
    }
}

extension FlowDecoder {
    /// Decodes `bytes` and returns the report and the records appended (test convenience).
    mutating func decode(_ bytes: [UInt8], from exporter: IPAddress = .v4(0xC000_0201), at now: Int64 = 1_700_000_000_000) -> (
        DecodeReport, [FlowRecord]
    ) {
        var records: [FlowRecord] = []
        let report = decode(ByteBuffer(bytes: bytes), from: exporter, receivedAtMilliseconds: now, into: &records)
        return (report, records)
    }
}
