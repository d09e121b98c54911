/// Values of one data record that need the whole record before they can be applied.
@usableFromInline
struct PendingValues {
    @usableFromInline var startMilliseconds: Int64? = nil
    @usableFromInline var endMilliseconds: Int64? = nil
    @usableFromInline var startUptime: UInt32? = nil
    @usableFromInline var endUptime: UInt32? = nil
    @usableFromInline var startDeltaMicroseconds: UInt64? = nil
    @usableFromInline var endDeltaMicroseconds: UInt64? = nil
    @usableFromInline var systemInitMilliseconds: Int64? = nil
    @usableFromInline var observationMilliseconds: Int64? = nil
    @usableFromInline var samplerID: UInt32? = nil
    @usableFromInline var fallbackBytes: UInt64 = 0
    @usableFromInline var fallbackPackets: UInt64 = 0
    @usableFromInline var samplingInterval: UInt64? = nil
    @usableFromInline var samplingPacketInterval: UInt64? = nil
    @usableFromInline var samplingPacketSpace: UInt64? = nil
    @usableFromInline var samplingSize: UInt64? = nil
    @usableFromInline var samplingPopulation: UInt64? = nil

    @inlinable init() {}

    /// The 1-in-N interval these sampling fields describe, if they describe one.
    var announcedInterval: UInt32? {
        if let n = samplingInterval, n > 0 { return UInt32(clamping: n) }
        // Random n-out-of-N (RFC 5475 §6.5.2.5): samplingSize of samplingPopulation.
        if let size = samplingSize, size > 0, let population = samplingPopulation, population >= size {
            return UInt32(clamping: population / size)
        }
        // Systematic count-based: samplingPacketInterval selected, then samplingPacketSpace skipped.
        if let i = samplingPacketInterval, i > 0, let space = samplingPacketSpace {
            return UInt32(clamping: (i + space) / i)
        }
        return nil
    }
}

/// Everything a data set's records share: header fields and the session's sampling.
struct RecordContext {
    var prototype: FlowRecord
    /// Export time of the datagram, ms since the Unix epoch.
    var exportMilliseconds: Int64
    /// NetFlow v9 header sysUptime (ms), for FIRST/LAST_SWITCHED.
    var systemUptime: UInt32?
    /// IPFIX systemInitTimeMilliseconds announced in options data.
    var systemInitMilliseconds: Int64?
    /// Interval for records that carry no sampling field of their own.
    var defaultInterval: UInt32
    var sampling: SamplingState
}

/// Converts an NTP timestamp (seconds since 1900 + 2^-32 fractions) to ms since 1970.
@inlinable
func ntpToUnixMilliseconds(_ ntp: UInt64) -> Int64 {
    let seconds = Int64(ntp >> 32) - 2_208_988_800
    let fraction = Int64((ntp & 0xFFFF_FFFF) * 1000 >> 32)
    return seconds * 1000 + fraction
}

extension FlowDecoder {
    /// Decodes the records of one data set whose template is a flow (not options) template.
    /// Returns the number of records appended, or an error if a variable-length record overruns.
    static func decodeFlowRecords(
        _ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int,
        layout: RecordLayout, context: RecordContext, into records: inout [FlowRecord]
    ) -> (count: Int, error: FlowDecodingError?) {
        var count = 0
        if let length = layout.fixedLength {
            var offset = start
            while offset + length <= end {
                records.append(Self.decodeRecord(bytes, at: offset, offsets: nil, layout: layout, context: context))
                offset += length
                count += 1
            }
            return (count, nil)
        }
        var offsets = [Int](repeating: 0, count: layout.fieldLengths.count)
        var offset = start
        while offset + layout.minimumLength <= end {
            guard let next = Self.fieldOffsets(bytes, at: offset, end: end, layout: layout, into: &offsets) else {
                // A short tail could be padding; anything longer is a malformed record.
                if end - offset >= 4 {
                    return (count, FlowDecodingError(.badRecord, "variable-length field runs past the end of its set"))
                }
                return (count, nil)
            }
            records.append(Self.decodeRecord(bytes, at: offset, offsets: offsets, layout: layout, context: context))
            offset = next
            count += 1
        }
        return (count, nil)
    }

    /// Walks one variable-length record, writing each field's offset; returns the record end.
    static func fieldOffsets(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, layout: RecordLayout, into offsets: inout [Int]) -> Int? {
        var offset = start
        for (i, declared) in layout.fieldLengths.enumerated() {
            var length = Int(declared)
            if declared == FieldSpecifier.variableLength {
                guard offset < end else { return nil }
                length = Int(bytes[offset])
                offset += 1
                if length == 255 {
                    guard offset + 2 <= end else { return nil }
                    length = Int(bytes.loadBigEndianUInt16(at: offset))
                    offset += 2
                }
            }
            offsets[i] = offset
            offset += length
            guard offset <= end else { return nil }
        }
        return offset
    }

    /// Decodes one record at `base`. `offsets` gives per-field offsets for variable-length layouts.
    @inline(__always)
    static func decodeRecord(_ bytes: UnsafeRawBufferPointer, at base: Int, offsets: [Int]?, layout: RecordLayout, context: RecordContext) -> FlowRecord {
        var record = context.prototype
        var pending = PendingValues()
        if layout.hasNAT { record.nat = NATFields() }
        for e in layout.extractors {
            let at = offsets.map { $0[e.fieldIndex] } ?? (base + e.offset)
            Self.apply(e, bytes, at: at, to: &record, pending: &pending)
        }
        Self.finish(&record, pending, context: context)
        return record
    }

    @inline(__always)
    static func apply(_ e: FieldExtractor, _ bytes: UnsafeRawBufferPointer, at o: Int, to r: inout FlowRecord, pending p: inout PendingValues) {
        @inline(__always) func uint() -> UInt64 { bytes.loadBigEndianUnsigned(at: o, length: e.length) }
        switch e.target {
        // Some exporters (Procera) fill both the IPv4 and the IPv6 address fields, one of them
        // with zeros: a zero address never replaces one already decoded.
        case .sourceV4:
            let v = bytes.loadBigEndianUInt32(at: o)
            if v != 0 || r.sourceAddress == .unspecifiedV4 { r.sourceAddress = .v4(v) }
        case .destinationV4:
            let v = bytes.loadBigEndianUInt32(at: o)
            if v != 0 || r.destinationAddress == .unspecifiedV4 { r.destinationAddress = .v4(v) }
        case .sourceV6:
            let a = bytes.loadIPv6(at: o)
            if a != .v6(high: 0, low: 0) || r.sourceAddress == .unspecifiedV4 { r.sourceAddress = a }
        case .destinationV6:
            let a = bytes.loadIPv6(at: o)
            if a != .v6(high: 0, low: 0) || r.destinationAddress == .unspecifiedV4 { r.destinationAddress = a }
        case .sourcePort: r.sourcePort = UInt16(truncatingIfNeeded: uint())
        case .destinationPort: r.destinationPort = UInt16(truncatingIfNeeded: uint())
        case .ipProtocol: r.ipProtocol = UInt8(truncatingIfNeeded: uint())
        case .tcpFlags: r.tcpFlags = UInt8(truncatingIfNeeded: uint())
        case .typeOfService: r.typeOfService = UInt8(truncatingIfNeeded: uint())
        case .bytes: r.bytes = uint()
        case .packets: r.packets = uint()
        case .bytesFallback: p.fallbackBytes = uint()
        case .packetsFallback: p.fallbackPackets = uint()
        case .inputInterface: r.inputInterface = UInt32(truncatingIfNeeded: uint())
        case .outputInterface: r.outputInterface = UInt32(truncatingIfNeeded: uint())
        case .sourceAS: r.sourceAS = UInt32(truncatingIfNeeded: uint())
        case .destinationAS: r.destinationAS = UInt32(truncatingIfNeeded: uint())
        case .direction: r.direction = FlowDirection(rawValue: UInt8(truncatingIfNeeded: uint())) ?? .unknown
        case .startUptime: p.startUptime = UInt32(truncatingIfNeeded: uint())
        case .endUptime: p.endUptime = UInt32(truncatingIfNeeded: uint())
        case .startSeconds: p.startMilliseconds = Int64(truncatingIfNeeded: uint()) * 1000
        case .endSeconds: p.endMilliseconds = Int64(truncatingIfNeeded: uint()) * 1000
        case .startMilliseconds: p.startMilliseconds = Int64(truncatingIfNeeded: uint())
        case .endMilliseconds: p.endMilliseconds = Int64(truncatingIfNeeded: uint())
        case .startMicroseconds, .startNanoseconds: p.startMilliseconds = ntpToUnixMilliseconds(uint())
        case .endMicroseconds, .endNanoseconds: p.endMilliseconds = ntpToUnixMilliseconds(uint())
        case .startDeltaMicroseconds: p.startDeltaMicroseconds = uint()
        case .endDeltaMicroseconds: p.endDeltaMicroseconds = uint()
        case .systemInitMilliseconds: p.systemInitMilliseconds = Int64(truncatingIfNeeded: uint())
        case .observationMilliseconds: p.observationMilliseconds = Int64(truncatingIfNeeded: uint())
        case .samplerID: p.samplerID = UInt32(truncatingIfNeeded: uint())
        case .samplingInterval: p.samplingInterval = uint()
        case .samplingPacketInterval: p.samplingPacketInterval = uint()
        case .samplingPacketSpace: p.samplingPacketSpace = uint()
        case .samplingSize: p.samplingSize = uint()
        case .samplingPopulation: p.samplingPopulation = uint()
        case .natEvent: r.nat?.event = UInt8(truncatingIfNeeded: uint())
        case .postSourceV4: r.nat?.postSourceAddress = .v4(bytes.loadBigEndianUInt32(at: o))
        case .postDestinationV4: r.nat?.postDestinationAddress = .v4(bytes.loadBigEndianUInt32(at: o))
        case .postSourceV6: r.nat?.postSourceAddress = bytes.loadIPv6(at: o)
        case .postDestinationV6: r.nat?.postDestinationAddress = bytes.loadIPv6(at: o)
        case .postSourcePort: r.nat?.postSourcePort = UInt16(truncatingIfNeeded: uint())
        case .postDestinationPort: r.nat?.postDestinationPort = UInt16(truncatingIfNeeded: uint())
        case .portRangeStart: r.nat?.portRangeStart = UInt16(truncatingIfNeeded: uint())
        case .portRangeEnd: r.nat?.portRangeEnd = UInt16(truncatingIfNeeded: uint())
        case .portRangeStepSize: r.nat?.portRangeStepSize = UInt16(truncatingIfNeeded: uint())
        case .portRangeNumPorts: r.nat?.portRangeNumPorts = UInt16(truncatingIfNeeded: uint())
        }
    }

    /// Resolves times to absolute ms and scales counters by the sampling interval.
    @inline(__always)
    static func finish(_ r: inout FlowRecord, _ p: PendingValues, context c: RecordContext) {
        let systemInit = p.systemInitMilliseconds ?? c.systemInitMilliseconds
        func fromUptime(_ t: UInt32) -> Int64 {
            if let uptime = c.systemUptime {
                // NetFlow v9: relative to the header's sysUptime; 32-bit ms uptime wraps every 49.7 days.
                return c.exportMilliseconds + Int64(Int32(truncatingIfNeeded: t &- uptime))
            }
            if let base = systemInit { return base + Int64(t) }
            return c.exportMilliseconds
        }
        if let s = p.startMilliseconds { r.startMilliseconds = s }
        else if let t = p.startUptime { r.startMilliseconds = fromUptime(t) }
        else if let d = p.startDeltaMicroseconds { r.startMilliseconds = c.exportMilliseconds - Int64(clamping: d / 1000) }
        else if let o = p.observationMilliseconds { r.startMilliseconds = o }
        if let e = p.endMilliseconds { r.endMilliseconds = e }
        else if let t = p.endUptime { r.endMilliseconds = fromUptime(t) }
        else if let d = p.endDeltaMicroseconds { r.endMilliseconds = c.exportMilliseconds - Int64(clamping: d / 1000) }
        else if let o = p.observationMilliseconds { r.endMilliseconds = o }
        else if p.startMilliseconds != nil || p.startUptime != nil { r.endMilliseconds = r.startMilliseconds }

        if r.bytes == 0 && r.packets == 0 && (p.fallbackBytes | p.fallbackPackets) != 0 {
            r.bytes = p.fallbackBytes
            r.packets = p.fallbackPackets
        }
        var interval = c.defaultInterval
        if let own = p.announcedInterval {
            interval = own
        } else if let id = p.samplerID, let v = c.sampling.bySampler[id] {
            interval = v
        }
        if interval > 1 {
            r.samplingInterval = interval
            r.bytes = r.bytes.multipliedReportingOverflow(by: UInt64(interval)).partialValue
            r.packets = r.packets.multipliedReportingOverflow(by: UInt64(interval)).partialValue
        }
    }

    /// Applies the records of an options data set: sampling announcements and system init time.
    /// Returns the number of records consumed.
    static func applyOptionsRecords(
        _ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int,
        layout: RecordLayout, session: inout SessionState
    ) -> (count: Int, error: FlowDecodingError?) {
        var count = 0
        var offsets = [Int](repeating: 0, count: layout.fieldLengths.count)
        var offset = start
        var scratch = FlowRecord()
        while offset + max(layout.minimumLength, 1) <= end {
            let next: Int
            let fieldOffsets: [Int]?
            if let length = layout.fixedLength {
                next = offset + length
                fieldOffsets = nil
            } else {
                guard let n = Self.fieldOffsets(bytes, at: offset, end: end, layout: layout, into: &offsets) else {
                    return (count, end - offset >= 4 ? FlowDecodingError(.badRecord, "options record runs past the end of its set") : nil)
                }
                next = n
                fieldOffsets = offsets
            }
            var pending = PendingValues()
            for e in layout.extractors {
                let at = fieldOffsets.map { $0[e.fieldIndex] } ?? (offset + e.offset)
                Self.apply(e, bytes, at: at, to: &scratch, pending: &pending)
            }
            if let interval = pending.announcedInterval {
                if let id = pending.samplerID {
                    if session.sampling.bySampler.count < 4096 || session.sampling.bySampler[id] != nil {
                        session.sampling.bySampler[id] = interval
                    }
                } else {
                    session.sampling.defaultInterval = interval
                }
            }
            if let t = pending.systemInitMilliseconds { session.systemInitMilliseconds = t }
            offset = next
            count += 1
        }
        return (count, nil)
    }
}
