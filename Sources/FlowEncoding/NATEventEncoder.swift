import FlowCodec

/// Encodes CGNAT port-block allocation and de-allocation events as IPFIX, the way a CGNAT box
/// logs them under RFC 8158 §4.4 (port block allocation template): one template
///
/// | IE | name | length |
/// |---|---|---|
/// | 323 | observationTimeMilliseconds | 8 |
/// | 230 | natEvent (16 allocate, 17 de-allocate) | 1 |
/// | 8 | sourceIPv4Address (inside, the subscriber) | 4 |
/// | 225 | postNATSourceIPv4Address (outside, public) | 4 |
/// | 361 / 362 | portRangeStart / portRangeEnd | 2 + 2 |
/// | 363 / 364 | portRangeStepSize / portRangeNumPorts | 2 + 2 |
///
/// announced in the first message and every `templateRefreshInterval` messages, with IPFIX
/// sequence numbers counting data records (RFC 7011 §3.1). Input records are ``FlowRecord``s
/// whose ``FlowRecord/nat`` is set — exactly what ``FlowDecoder`` produces from these messages —
/// with ``FlowRecord/startMilliseconds`` as the event time.
///
/// ```swift
/// var encoder = NATEventEncoder(observationDomain: 1)
/// var event = FlowRecord(sourceAddress: inside, startMilliseconds: now, endMilliseconds: now)
/// var nat = NATFields(); nat.event = NATFields.portBlockAllocation; nat.postSourceAddress = outside
/// nat.portRangeStart = 1024; nat.portRangeEnd = 2031; nat.portRangeStepSize = 1; nat.portRangeNumPorts = 1008
/// event.nat = nat
/// let messages = encoder.encode([event], exportTimeMilliseconds: now)
/// ```
public struct NATEventEncoder: Sendable {
    public var observationDomain: UInt32
    /// Messages between two template announcements.
    public var templateRefreshInterval: Int
    /// Data records per message (26 bytes each; 48 fit a 1500-byte MTU with room to spare).
    public var recordsPerMessage: Int
    private var sequence: UInt32 = 0
    private var messagesSinceTemplate: Int = .max

    static let templateID: UInt16 = 270
    static let fields: [FieldSpecifier] = [
        .init(id: 323, length: 8), .init(id: 230, length: 1), .init(id: 8, length: 4), .init(id: 225, length: 4),
        .init(id: 361, length: 2), .init(id: 362, length: 2), .init(id: 363, length: 2), .init(id: 364, length: 2),
    ]

    public init(observationDomain: UInt32 = 0, templateRefreshInterval: Int = 20, recordsPerMessage: Int = 48) {
        self.observationDomain = observationDomain
        self.templateRefreshInterval = max(1, templateRefreshInterval)
        self.recordsPerMessage = max(1, recordsPerMessage)
    }

    /// Encodes the IPv4 port-block events among `events` (records without NAT fields, or with an
    /// IPv6 inside address, are skipped) into IPFIX messages.
    public mutating func encode(_ events: some Collection<FlowRecord>, exportTimeMilliseconds now: Int64) -> [[UInt8]] {
        let usable = events.filter { $0.nat != nil && $0.sourceAddress.ipv4 != nil }
        var out: [[UInt8]] = []
        var i = 0
        while i < usable.count {
            let n = min(recordsPerMessage, usable.count - i)
            out.append(encodeMessage(usable[i..<(i + n)], now: now))
            i += n
        }
        return out
    }

    private mutating func encodeMessage(_ events: ArraySlice<FlowRecord>, now: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + 26 * events.count)
        w.u16(10)
        w.u16(0)
        w.u32(UInt32(truncatingIfNeeded: now / 1000))
        w.u32(sequence)
        w.u32(observationDomain)
        if messagesSinceTemplate >= templateRefreshInterval {
            messagesSinceTemplate = 0
            let setStart = w.bytes.count
            w.u16(2)
            w.u16(0)
            w.u16(Self.templateID)
            w.u16(UInt16(Self.fields.count))
            for f in Self.fields {
                w.u16(f.id)
                w.u16(f.length)
            }
            w.patch16(at: setStart + 2, UInt16(w.bytes.count - setStart))
        }
        messagesSinceTemplate += 1
        let setStart = w.bytes.count
        w.u16(Self.templateID)
        w.u16(0)
        for e in events {
            let nat = e.nat ?? NATFields()
            w.u64(UInt64(bitPattern: e.startMilliseconds))
            w.u8(nat.event)
            w.u32(e.sourceAddress.ipv4 ?? 0)
            w.u32(nat.postSourceAddress?.ipv4 ?? 0)
            w.u16(nat.portRangeStart)
            w.u16(nat.portRangeEnd)
            w.u16(nat.portRangeStepSize)
            w.u16(nat.portRangeNumPorts)
        }
        while (w.bytes.count - setStart) % 4 != 0 { w.u8(0) }
        w.patch16(at: setStart + 2, UInt16(w.bytes.count - setStart))
        w.patch16(at: 2, UInt16(w.bytes.count))
        sequence &+= UInt32(events.count)
        return w.bytes
    }
}
