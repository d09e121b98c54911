import FlowCodec
import NIOCore

/// A batch of flow records as it travels on the cluster's bus (collector → NATS JetStream →
/// detector, issue 25): every field of every ``FlowRecord``, exactly, in about a quarter of its
/// 160 bytes in memory.
///
/// Written by hand: the records must come back bit for bit (the detectors' verdicts must not
/// depend on the node count), a collector writes millions of them a second, and no library here
/// has a compact, allocation-free layout for them (protobuf would need generated types and a
/// message object per record). The layout:
///
/// ```text
/// "MFB" 0x01                       magic and version
/// varint count                     records in the batch
/// zigzag varint base               the first record's start (ms since the epoch)
/// varint exporters, then each:     family (4 or 6) and 4 or 16 address bytes
/// per record:
///   u8 flags                       bit 0 source IPv6, bit 1 destination IPv6, bit 2 NAT fields,
///                                  bit 3 a position follows
///   varint position gap            (bit 3) the record's place in the collector's batch, as the
///                                  gap (≥ 1) after the previous record's (the first: place + 1);
///                                  all records of a part have one or none does
///   varint exporter                index into the exporters
///   source, destination            4 or 16 bytes
///   varint bytes, varint packets
///   zigzag varint start − base, zigzag varint end − start   (wrapping: any Int64 round-trips)
///   varint domain, sampling, input, output, source AS, destination AS   (each ≤ UInt32.max)
///   u16 source port, u16 destination port, u8 protocol, TCP flags, ToS, export protocol, direction
///   NAT (flag bit 2): u8 event, u8 presence (bit 0/1 post-NAT source present/IPv6,
///                     bit 2/3 destination), the present addresses, 6 × u16 ports and port range
/// ```
/// Fixed-width integers are big-endian. A batch that breaks any rule (bad magic, unknown flag
/// bits, a field past its range, an unknown protocol or direction, bytes left over) is refused
/// whole with the reason (``FlowBusError``): a detector never analyses half a batch.
public enum FlowBusBatch {
    static let magic: UInt32 = 0x4D46_4201 // "MFB" 1

    /// The most bytes one record can take (an IPv6 record with IPv6 NAT fields and the longest varints).
    static let maximumRecordSize = 1 + 10 + 5 + 32 + 10 + 10 + 10 + 10 + 6 * 5 + 4 + 5 + 2 + 32 + 12
    /// The fewest (an IPv4 record without NAT fields, every varint one byte).
    static let minimumRecordSize = 1 + 1 + 8 + 1 + 1 + 1 + 1 + 6 + 4 + 5

    /// What a decoder accepts.
    public struct Limits: Sendable, Hashable {
        /// Records in one batch at most.
        public var maximumRecords: Int
        /// Distinct exporters in one batch at most.
        public var maximumExporters: Int

        /// The largest place in a collector's batch a record may claim.
        public var maximumPosition: Int

        public init(maximumRecords: Int = 65_536, maximumExporters: Int = 4_096, maximumPosition: Int = 1 << 20) {
            self.maximumRecords = maximumRecords
            self.maximumExporters = maximumExporters
            self.maximumPosition = maximumPosition
        }
    }

    /// Appends the batch of `records` to `buffer`, each with its place in the collector's batch
    /// when `positions` is given (strictly increasing, one per record).
    public static func encode(_ records: some Collection<FlowRecord>, positions: [Int]? = nil, into buffer: inout ByteBuffer) {
        precondition(positions.map { $0.count == records.count } ?? true, "one position per record")
        var previous = -1
        var index = 0
        var exporters: [IPAddress] = []
        var exporterIndex: [IPAddress: Int] = [:]
        for r in records where exporterIndex[r.exporter] == nil {
            exporterIndex[r.exporter] = exporters.count
            exporters.append(r.exporter)
        }
        let base = records.first?.startMilliseconds ?? 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4 + 10 + 10 + 10 + exporters.count * 17) { raw in
            var w = Writer(raw)
            w.u32(magic)
            w.varint(UInt64(records.count))
            w.varint(zigzag(base))
            w.varint(UInt64(exporters.count))
            for e in exporters { w.address(e, family: true) }
            return w.offset
        }
        for r in records {
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumRecordSize) { raw in
                var w = Writer(raw)
                let nat = r.nat
                let srcV6 = r.sourceAddress.isIPv6
                let dstV6 = r.destinationAddress.isIPv6
                w.u8((srcV6 ? 1 : 0) | (dstV6 ? 2 : 0) | (nat != nil ? 4 : 0) | (positions != nil ? 8 : 0))
                if let positions {
                    let p = positions[index]
                    precondition(p > previous, "positions increase")
                    w.varint(UInt64(p - previous))
                    previous = p
                }
                w.varint(UInt64(exporterIndex[r.exporter] ?? 0))
                w.address(r.sourceAddress, family: false)
                w.address(r.destinationAddress, family: false)
                w.varint(r.bytes)
                w.varint(r.packets)
                w.varint(zigzag(r.startMilliseconds &- base))
                w.varint(zigzag(r.endMilliseconds &- r.startMilliseconds))
                w.varint(UInt64(r.observationDomain))
                w.varint(UInt64(r.samplingInterval))
                w.varint(UInt64(r.inputInterface))
                w.varint(UInt64(r.outputInterface))
                w.varint(UInt64(r.sourceAS))
                w.varint(UInt64(r.destinationAS))
                w.u16(r.sourcePort)
                w.u16(r.destinationPort)
                w.u8(r.ipProtocol)
                w.u8(r.tcpFlags)
                w.u8(r.typeOfService)
                w.u8(r.exportProtocol.rawValue)
                w.u8(r.direction.rawValue)
                if let nat {
                    w.u8(nat.event)
                    var presence: UInt8 = 0
                    if let a = nat.postSourceAddress { presence |= 1 | (a.isIPv6 ? 2 : 0) }
                    if let a = nat.postDestinationAddress { presence |= 4 | (a.isIPv6 ? 8 : 0) }
                    w.u8(presence)
                    if let a = nat.postSourceAddress { w.address(a, family: false) }
                    if let a = nat.postDestinationAddress { w.address(a, family: false) }
                    w.u16(nat.postSourcePort)
                    w.u16(nat.postDestinationPort)
                    w.u16(nat.portRangeStart)
                    w.u16(nat.portRangeEnd)
                    w.u16(nat.portRangeStepSize)
                    w.u16(nat.portRangeNumPorts)
                }
                return w.offset
            }
            index += 1
        }
    }

    /// The batch of `records` in a buffer of its own.
    public static func encode(_ records: some Collection<FlowRecord>, positions: [Int]? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(32 + records.count * 45)
        encode(records, positions: positions, into: &buffer)
        return buffer
    }

    /// The records of a batch, or the reason it is refused.
    public static func decode(_ buffer: ByteBuffer, limits: Limits = Limits()) throws(FlowBusError) -> [FlowRecord] {
        try decodePart(buffer, limits: limits).records
    }

    /// The records of a batch and their places in the collector's batch (nil when it has none).
    public static func decodePart(_ buffer: ByteBuffer, limits: Limits = Limits()) throws(FlowBusError) -> (
        records: [FlowRecord], positions: [Int]?
    ) {
        let result = buffer.withUnsafeReadableBytes { raw -> Result<([FlowRecord], [Int]?), FlowBusError> in
            var r = Reader(raw)
            do throws(FlowBusError) {
                return .success(try decode(&r, limits: limits))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    static func decode(_ r: inout Reader, limits: Limits) throws(FlowBusError) -> ([FlowRecord], [Int]?) {
        guard try r.u32("magic") == magic else { throw FlowBusError(.badMagic, at: 0, "not a flow batch of version 1 (magic MFB 1)") }
        let count = try r.varint("record count")
        guard count <= UInt64(limits.maximumRecords) else {
            throw FlowBusError(.tooLarge, at: r.offset, "\(count) records; at most \(limits.maximumRecords) are taken")
        }
        let base = unzigzag(try r.varint("base time"))
        let exporterCount = try r.varint("exporter count")
        guard exporterCount <= UInt64(limits.maximumExporters), exporterCount <= count else {
            throw FlowBusError(.tooLarge, at: r.offset, "\(exporterCount) exporters for \(count) records")
        }
        // Every record takes at least minimumRecordSize bytes: a count the bytes cannot hold is
        // refused before anything is reserved for it.
        guard Int(count) <= r.remaining / minimumRecordSize else {
            throw FlowBusError(.truncated, at: r.offset, "\(count) records cannot fit in \(r.remaining) bytes")
        }
        var exporters: [IPAddress] = []
        exporters.reserveCapacity(Int(exporterCount))
        for _ in 0..<exporterCount {
            let family = try r.u8("exporter family")
            guard family == 4 || family == 6 else { throw FlowBusError(.badValue, at: r.offset - 1, "exporter family \(family)") }
            exporters.append(try r.address(v6: family == 6, "exporter"))
        }
        var records: [FlowRecord] = []
        records.reserveCapacity(Int(count))
        var positions: [Int] = []
        var previous = -1
        for i in 0..<count {
            let flagsAt = r.offset
            let flags = try r.u8("flags")
            guard flags & ~15 == 0 else { throw FlowBusError(.badValue, at: flagsAt, "unknown record flags \(flags)") }
            if flags & 8 != 0 {
                guard i == 0 || !positions.isEmpty else { throw FlowBusError(.badValue, at: flagsAt, "a position on some records only") }
                let gap = try r.varint("position")
                guard gap >= 1, gap <= UInt64(limits.maximumPosition), previous + Int(gap) <= limits.maximumPosition else {
                    throw FlowBusError(.badValue, at: r.offset, "position gap \(gap) after \(previous)")
                }
                previous += Int(gap)
                positions.append(previous)
            } else if !positions.isEmpty {
                throw FlowBusError(.badValue, at: flagsAt, "a position on some records only")
            }
            let e = try r.varint("exporter index")
            guard e < UInt64(exporters.count) else {
                throw FlowBusError(.badValue, at: r.offset, "exporter index \(e) of \(exporters.count)")
            }
            var f = FlowRecord(exporter: exporters[Int(e)])
            f.sourceAddress = try r.address(v6: flags & 1 != 0, "source")
            f.destinationAddress = try r.address(v6: flags & 2 != 0, "destination")
            f.bytes = try r.varint("bytes")
            f.packets = try r.varint("packets")
            f.startMilliseconds = base &+ unzigzag(try r.varint("start"))
            f.endMilliseconds = f.startMilliseconds &+ unzigzag(try r.varint("end"))
            f.observationDomain = try r.varint32("observation domain")
            f.samplingInterval = try r.varint32("sampling interval")
            f.inputInterface = try r.varint32("input interface")
            f.outputInterface = try r.varint32("output interface")
            f.sourceAS = try r.varint32("source AS")
            f.destinationAS = try r.varint32("destination AS")
            f.sourcePort = try r.u16("source port")
            f.destinationPort = try r.u16("destination port")
            f.ipProtocol = try r.u8("protocol")
            f.tcpFlags = try r.u8("TCP flags")
            f.typeOfService = try r.u8("ToS")
            let p = try r.u8("export protocol")
            guard let exportProtocol = ExportProtocol(rawValue: p) else {
                throw FlowBusError(.badValue, at: r.offset - 1, "export protocol \(p)")
            }
            f.exportProtocol = exportProtocol
            let d = try r.u8("direction")
            guard let direction = FlowDirection(rawValue: d) else { throw FlowBusError(.badValue, at: r.offset - 1, "direction \(d)") }
            f.direction = direction
            if flags & 4 != 0 {
                var nat = NATFields()
                nat.event = try r.u8("NAT event")
                let presence = try r.u8("NAT presence")
                guard presence & ~15 == 0 else { throw FlowBusError(.badValue, at: r.offset - 1, "NAT presence \(presence)") }
                if presence & 1 != 0 { nat.postSourceAddress = try r.address(v6: presence & 2 != 0, "post-NAT source") }
                if presence & 4 != 0 { nat.postDestinationAddress = try r.address(v6: presence & 8 != 0, "post-NAT destination") }
                nat.postSourcePort = try r.u16("post-NAT source port")
                nat.postDestinationPort = try r.u16("post-NAT destination port")
                nat.portRangeStart = try r.u16("port range start")
                nat.portRangeEnd = try r.u16("port range end")
                nat.portRangeStepSize = try r.u16("port range step")
                nat.portRangeNumPorts = try r.u16("port range ports")
                f.nat = nat
            }
            records.append(f)
        }
        guard r.remaining == 0 else { throw FlowBusError(.trailingBytes, at: r.offset, "\(r.remaining) bytes after the last record") }
        return (records, positions.isEmpty ? nil : positions)
    }

    /// The records of a collector batch's parts in the batch's order: merged by their places when
    /// every part has them, else one part after the other.
    public static func merge(_ parts: [(records: [FlowRecord], positions: [Int]?)]) -> [FlowRecord] {
        guard parts.count > 1 else { return parts.first?.records ?? [] }
        guard parts.allSatisfy({ $0.positions != nil }) else { return parts.flatMap(\.records) }
        var out: [FlowRecord] = []
        out.reserveCapacity(parts.reduce(0) { $0 + $1.records.count })
        var next = [Int](repeating: 0, count: parts.count)
        while true {
            var best = -1
            var bestPosition = Int.max
            for i in parts.indices where next[i] < parts[i].records.count {
                let p = parts[i].positions![next[i]]
                if p < bestPosition {
                    bestPosition = p
                    best = i
                }
            }
            guard best >= 0 else { return out }
            out.append(parts[best].records[next[best]])
            next[best] += 1
        }
    }

    @inline(__always) static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    @inline(__always) static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1))) }

    /// Writes into room the caller reserved (``maximumRecordSize`` per record): no checks per byte.
    struct Writer {
        let base: UnsafeMutableRawBufferPointer
        var offset = 0

        init(_ base: UnsafeMutableRawBufferPointer) { self.base = base }

        @inline(__always) mutating func u8(_ v: UInt8) {
            base[offset] = v
            offset += 1
        }
        @inline(__always) mutating func u16(_ v: UInt16) {
            base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self)
            offset += 2
        }
        @inline(__always) mutating func u32(_ v: UInt32) {
            base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
        }
        @inline(__always) mutating func u64(_ v: UInt64) {
            base.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        @inline(__always) mutating func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                base[offset] = UInt8(truncatingIfNeeded: v) | 0x80
                offset += 1
                v >>= 7
            }
            base[offset] = UInt8(v)
            offset += 1
        }
        /// 4 bytes for an IPv4 address, 16 for IPv6, after a family byte when `family`.
        @inline(__always) mutating func address(_ a: IPAddress, family: Bool) {
            if let v4 = a.ipv4 {
                if family { u8(4) }
                u32(v4)
            } else {
                if family { u8(6) }
                u64(a.high)
                u64(a.low)
            }
        }
    }

    /// Checked reads; each error names the field.
    struct Reader {
        let base: UnsafeRawBufferPointer
        var offset = 0

        init(_ base: UnsafeRawBufferPointer) { self.base = base }

        var remaining: Int { base.count - offset }

        @inline(__always) mutating func need(_ n: Int, _ field: StaticString) throws(FlowBusError) {
            guard remaining >= n else { throw FlowBusError(.truncated, at: offset, "the batch ends inside \(field)") }
        }
        @inline(__always) mutating func u8(_ field: StaticString) throws(FlowBusError) -> UInt8 {
            try need(1, field)
            defer { offset += 1 }
            return base[offset]
        }
        @inline(__always) mutating func u16(_ field: StaticString) throws(FlowBusError) -> UInt16 {
            try need(2, field)
            defer { offset += 2 }
            return UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        }
        @inline(__always) mutating func u32(_ field: StaticString) throws(FlowBusError) -> UInt32 {
            try need(4, field)
            defer { offset += 4 }
            return UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        }
        @inline(__always) mutating func u64(_ field: StaticString) throws(FlowBusError) -> UInt64 {
            try need(8, field)
            defer { offset += 8 }
            return UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        /// LEB128, at most 10 bytes, the tenth holding the top bit only.
        @inline(__always) mutating func varint(_ field: StaticString) throws(FlowBusError) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                try need(1, field)
                let byte = base[offset]
                offset += 1
                if shift == 63 && byte > 1 { throw FlowBusError(.badValue, at: offset - 1, "\(field) is longer than 64 bits") }
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
        @inline(__always) mutating func varint32(_ field: StaticString) throws(FlowBusError) -> UInt32 {
            let v = try varint(field)
            guard let narrow = UInt32(exactly: v) else { throw FlowBusError(.badValue, at: offset, "\(field) \(v) is over 32 bits") }
            return narrow
        }
        @inline(__always) mutating func address(v6: Bool, _ field: StaticString) throws(FlowBusError) -> IPAddress {
            if v6 {
                let high = try u64(field)
                let low = try u64(field)
                return .v6(high: high, low: low)
            }
            return .v4(try u32(field))
        }
    }
}
