import FlowCodec

/// Appends big-endian integers to a byte array.
@usableFromInline
struct ByteWriter {
    @usableFromInline var bytes: [UInt8] = []

    @inlinable init(capacity: Int = 1500) { bytes.reserveCapacity(capacity) }
    @inlinable mutating func u8(_ v: UInt8) { bytes.append(v) }
    @inlinable mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    @inlinable mutating func u32(_ v: UInt32) {
        u16(UInt16(v >> 16))
        u16(UInt16(truncatingIfNeeded: v))
    }
    @inlinable mutating func u64(_ v: UInt64) {
        u32(UInt32(v >> 32))
        u32(UInt32(truncatingIfNeeded: v))
    }
    @inlinable mutating func address(_ a: IPAddress) {
        if let v = a.ipv4 {
            u32(v)
        } else {
            u64(a.high)
            u64(a.low)
        }
    }
    @inlinable mutating func patch16(at offset: Int, _ v: UInt16) {
        bytes[offset] = UInt8(v >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v)
    }
}

/// Encodes flow records as real NetFlow v5, NetFlow v9 or IPFIX export datagrams, the way a
/// router would: one template for IPv4 and one for IPv6 flows, templates sent in the first
/// datagram and again every `templateRefreshInterval` datagrams, correct sequence numbers.
///
/// Used by benchmarks, the traffic simulator and tests. Counters are written as given (a
/// sampling exporter writes the sampled counts and announces the interval in options data).
///
/// ```swift
/// var encoder = FlowExportEncoder(protocol: .ipfix, observationDomain: 1)
/// let datagrams = encoder.encode(records, exportTimeMilliseconds: now)
/// ```
public struct FlowExportEncoder: Sendable {
    public let exportProtocol: ExportProtocol
    public var observationDomain: UInt32
    /// Datagrams between two template announcements.
    public var templateRefreshInterval: Int
    /// Records per datagram (v5 allows at most 30).
    public var recordsPerDatagram: Int
    /// When set, an options template and record announce this 1-in-N sampling interval.
    public var samplingInterval: UInt32?
    /// Time the exporter booted, ms since the Unix epoch (NetFlow sysUptime base).
    public var bootMilliseconds: Int64

    private var sequence: UInt32 = 0
    private var datagramsSinceTemplate: Int = .max

    static let ipv4TemplateID: UInt16 = 256
    static let ipv6TemplateID: UInt16 = 257
    static let samplingTemplateID: UInt16 = 258

    public init(
        protocol: ExportProtocol, observationDomain: UInt32 = 0, recordsPerDatagram: Int? = nil, templateRefreshInterval: Int = 100,
        samplingInterval: UInt32? = nil, bootMilliseconds: Int64 = 0
    ) {
        precondition(`protocol` != .sflowV5, "use SFlowEncoder for sFlow")
        exportProtocol = `protocol`
        self.observationDomain = observationDomain
        self.recordsPerDatagram = recordsPerDatagram ?? (`protocol` == .netflowV5 ? 30 : 24)
        self.templateRefreshInterval = templateRefreshInterval
        self.samplingInterval = samplingInterval
        self.bootMilliseconds = bootMilliseconds
    }

    /// Fields of the IPv4 (or IPv6) flow template.
    static func fields(ipv6: Bool, ipfix: Bool) -> [FieldSpecifier] {
        var f: [FieldSpecifier] =
            ipv6
            ? [.init(id: 27, length: 16), .init(id: 28, length: 16)]
            : [.init(id: 8, length: 4), .init(id: 12, length: 4)]
        f += [
            .init(id: 7, length: 2), .init(id: 11, length: 2), .init(id: 4, length: 1), .init(id: 6, length: 1), .init(id: 5, length: 1),
            .init(id: 10, length: 4), .init(id: 14, length: 4), .init(id: 2, length: 8), .init(id: 1, length: 8),
            .init(id: 16, length: 4), .init(id: 17, length: 4), .init(id: 61, length: 1),
        ]
        f += ipfix ? [.init(id: 152, length: 8), .init(id: 153, length: 8)] : [.init(id: 22, length: 4), .init(id: 21, length: 4)]
        return f
    }

    /// Encodes `records` into as many datagrams as needed.
    public mutating func encode(_ records: some Collection<FlowRecord>, exportTimeMilliseconds now: Int64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var v4: [FlowRecord] = []
        var v6: [FlowRecord] = []
        for r in records {
            if r.sourceAddress.isIPv6 || r.destinationAddress.isIPv6 {
                if exportProtocol != .netflowV5 { v6.append(r) } // v5 cannot carry IPv6
            } else {
                v4.append(r)
            }
        }
        for (group, isIPv6) in [(v4, false), (v6, true)] where !group.isEmpty {
            var i = 0
            while i < group.count {
                let n = min(recordsPerDatagram, group.count - i)
                out.append(encodeDatagram(group[i..<(i + n)], ipv6: isIPv6, now: now))
                i += n
            }
        }
        return out
    }

    private mutating func encodeDatagram(_ records: ArraySlice<FlowRecord>, ipv6: Bool, now: Int64) -> [UInt8] {
        switch exportProtocol {
        case .netflowV5: return encodeV5(records, now: now)
        default: return encodeTemplated(records, ipv6: ipv6, now: now)
        }
    }

    private mutating func encodeV5(_ records: ArraySlice<FlowRecord>, now: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: 24 + 48 * records.count)
        let uptime = UInt32(truncatingIfNeeded: now &- bootMilliseconds)
        w.u16(5)
        w.u16(UInt16(records.count))
        w.u32(uptime)
        w.u32(UInt32(truncatingIfNeeded: now / 1000))
        w.u32(UInt32(truncatingIfNeeded: (now % 1000) * 1_000_000))
        w.u32(sequence)
        w.u8(UInt8(truncatingIfNeeded: observationDomain >> 8))
        w.u8(UInt8(truncatingIfNeeded: observationDomain))
        w.u16(samplingInterval.map { 0x4000 | UInt16(min($0, 0x3FFF)) } ?? 0)
        for r in records {
            w.address(r.sourceAddress)
            w.address(r.destinationAddress)
            w.u32(0)
            w.u16(UInt16(truncatingIfNeeded: r.inputInterface))
            w.u16(UInt16(truncatingIfNeeded: r.outputInterface))
            w.u32(UInt32(clamping: r.packets))
            w.u32(UInt32(clamping: r.bytes))
            w.u32(UInt32(truncatingIfNeeded: r.startMilliseconds &- bootMilliseconds))
            w.u32(UInt32(truncatingIfNeeded: r.endMilliseconds &- bootMilliseconds))
            w.u16(r.sourcePort)
            w.u16(r.destinationPort)
            w.u8(0)
            w.u8(r.tcpFlags)
            w.u8(r.ipProtocol)
            w.u8(r.typeOfService)
            w.u16(UInt16(truncatingIfNeeded: r.sourceAS))
            w.u16(UInt16(truncatingIfNeeded: r.destinationAS))
            w.u8(0)
            w.u8(0)
            w.u16(0)
        }
        sequence &+= UInt32(records.count)
        return w.bytes
    }

    private mutating func encodeTemplated(_ records: ArraySlice<FlowRecord>, ipv6: Bool, now: Int64) -> [UInt8] {
        let ipfix = exportProtocol == .ipfix
        var w = ByteWriter(capacity: 1500)
        let uptime = UInt32(truncatingIfNeeded: now &- bootMilliseconds)
        if ipfix {
            w.u16(10)
            w.u16(0)
            w.u32(UInt32(truncatingIfNeeded: now / 1000))
            w.u32(sequence)
            w.u32(observationDomain)
        } else {
            w.u16(9)
            w.u16(0)
            w.u32(uptime)
            w.u32(UInt32(truncatingIfNeeded: now / 1000))
            w.u32(sequence)
            w.u32(observationDomain)
        }
        var recordCount = 0
        var dataRecords = 0
        if datagramsSinceTemplate >= templateRefreshInterval {
            datagramsSinceTemplate = 0
            // Template set with both flow templates.
            let setStart = w.bytes.count
            w.u16(ipfix ? 2 : 0)
            w.u16(0)
            for (id, v6) in [(Self.ipv4TemplateID, false), (Self.ipv6TemplateID, true)] {
                let fields = Self.fields(ipv6: v6, ipfix: ipfix)
                w.u16(id)
                w.u16(UInt16(fields.count))
                for f in fields {
                    w.u16(f.id)
                    w.u16(f.length)
                }
                recordCount += 1
            }
            w.patch16(at: setStart + 2, UInt16(w.bytes.count - setStart))
            if let interval = samplingInterval {
                // Options template: scope (v9: system; IPFIX: observation domain) + samplingInterval + algorithm.
                let optStart = w.bytes.count
                w.u16(ipfix ? 3 : 1)
                w.u16(0)
                if ipfix {
                    w.u16(Self.samplingTemplateID)
                    w.u16(3)
                    w.u16(1)
                    w.u16(149)
                    w.u16(4)
                    w.u16(34)
                    w.u16(4)
                    w.u16(35)
                    w.u16(1)
                } else {
                    w.u16(Self.samplingTemplateID)
                    w.u16(4)
                    w.u16(8)
                    w.u16(1)
                    w.u16(4)
                    w.u16(34)
                    w.u16(4)
                    w.u16(35)
                    w.u16(1)
                }
                while (w.bytes.count - optStart) % 4 != 0 { w.u8(0) }
                w.patch16(at: optStart + 2, UInt16(w.bytes.count - optStart))
                recordCount += 1
                let dataStart = w.bytes.count
                w.u16(Self.samplingTemplateID)
                w.u16(0)
                w.u32(observationDomain)
                w.u32(interval)
                w.u8(2)
                while (w.bytes.count - dataStart) % 4 != 0 { w.u8(0) }
                w.patch16(at: dataStart + 2, UInt16(w.bytes.count - dataStart))
                recordCount += 1
                dataRecords += 1
            }
        }
        datagramsSinceTemplate += 1
        let setStart = w.bytes.count
        w.u16(ipv6 ? Self.ipv6TemplateID : Self.ipv4TemplateID)
        w.u16(0)
        for r in records {
            w.address(r.sourceAddress)
            w.address(r.destinationAddress)
            w.u16(r.sourcePort)
            w.u16(r.destinationPort)
            w.u8(r.ipProtocol)
            w.u8(r.tcpFlags)
            w.u8(r.typeOfService)
            w.u32(r.inputInterface)
            w.u32(r.outputInterface)
            w.u64(r.packets)
            w.u64(r.bytes)
            w.u32(r.sourceAS)
            w.u32(r.destinationAS)
            w.u8(r.direction == .unknown ? 0 : r.direction.rawValue)
            if ipfix {
                w.u64(UInt64(bitPattern: r.startMilliseconds))
                w.u64(UInt64(bitPattern: r.endMilliseconds))
            } else {
                w.u32(UInt32(truncatingIfNeeded: r.startMilliseconds &- bootMilliseconds))
                w.u32(UInt32(truncatingIfNeeded: r.endMilliseconds &- bootMilliseconds))
            }
        }
        while (w.bytes.count - setStart) % 4 != 0 { w.u8(0) }
        w.patch16(at: setStart + 2, UInt16(w.bytes.count - setStart))
        recordCount += records.count
        dataRecords += records.count
        if ipfix {
            w.patch16(at: 2, UInt16(w.bytes.count))
            sequence &+= UInt32(dataRecords)
        } else {
            w.patch16(at: 2, UInt16(recordCount))
            sequence &+= 1
        }
        return w.bytes
    }
}
