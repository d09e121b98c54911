/// Values of one data record that need the whole record before they can be applied.
///
/// Plain values plus a bit per value present (rather than optionals), so that starting a record
/// costs one small zeroed struct on the hot path.
@usableFromInline
struct PendingValues {
    @usableFromInline var present: UInt32 = 0
    @usableFromInline var startMilliseconds: Int64 = 0
    @usableFromInline var endMilliseconds: Int64 = 0
    @usableFromInline var startUptime: UInt32 = 0
    @usableFromInline var endUptime: UInt32 = 0
    @usableFromInline var startDeltaMicroseconds: UInt64 = 0
    @usableFromInline var endDeltaMicroseconds: UInt64 = 0
    @usableFromInline var systemInitMilliseconds: Int64 = 0
    @usableFromInline var observationMilliseconds: Int64 = 0
    @usableFromInline var samplerID: UInt32 = 0
    @usableFromInline var fallbackBytes: UInt64 = 0
    @usableFromInline var fallbackPackets: UInt64 = 0
    @usableFromInline var samplingInterval: UInt64 = 0
    @usableFromInline var samplingPacketInterval: UInt64 = 0
    @usableFromInline var samplingPacketSpace: UInt64 = 0
    @usableFromInline var samplingSize: UInt64 = 0
    @usableFromInline var samplingPopulation: UInt64 = 0

    @usableFromInline static let startMillisecondsBit: UInt32 = 1 << 0
    @usableFromInline static let endMillisecondsBit: UInt32 = 1 << 1
    @usableFromInline static let startUptimeBit: UInt32 = 1 << 2
    @usableFromInline static let endUptimeBit: UInt32 = 1 << 3
    @usableFromInline static let startDeltaBit: UInt32 = 1 << 4
    @usableFromInline static let endDeltaBit: UInt32 = 1 << 5
    @usableFromInline static let systemInitBit: UInt32 = 1 << 6
    @usableFromInline static let observationBit: UInt32 = 1 << 7
    @usableFromInline static let samplerIDBit: UInt32 = 1 << 8
    @usableFromInline static let samplingIntervalBit: UInt32 = 1 << 9
    @usableFromInline static let packetIntervalBit: UInt32 = 1 << 10
    @usableFromInline static let packetSpaceBit: UInt32 = 1 << 11
    @usableFromInline static let sizeBit: UInt32 = 1 << 12
    @usableFromInline static let populationBit: UInt32 = 1 << 13
    @usableFromInline static let fallbackBit: UInt32 = 1 << 14
    @usableFromInline static let samplingBits: UInt32 = samplingIntervalBit | packetIntervalBit | packetSpaceBit | sizeBit | populationBit

    @inlinable init() {}

    @inlinable func has(_ bit: UInt32) -> Bool { present & bit != 0 }

    /// The 1-in-N interval these sampling fields describe, if they describe one.
    var announcedInterval: UInt32? {
        guard present & Self.samplingBits != 0 else { return nil }
        if has(Self.samplingIntervalBit), samplingInterval > 0 { return UInt32(clamping: samplingInterval) }
        // Random n-out-of-N (RFC 5475 §6.5.2.5): samplingSize of samplingPopulation.
        if has(Self.sizeBit), has(Self.populationBit), samplingSize > 0, samplingPopulation >= samplingSize {
            return UInt32(clamping: samplingPopulation / samplingSize)
        }
        // Systematic count-based: samplingPacketInterval selected, then samplingPacketSpace skipped.
        if has(Self.packetIntervalBit), has(Self.packetSpaceBit), samplingPacketInterval > 0 {
            return UInt32(clamping: (samplingPacketInterval + samplingPacketSpace) / samplingPacketInterval)
        }
        return nil
    }
}

/// Everything a data set's records share: header fields and the session's sampling.
struct RecordContext {
    /// Exporter, observation domain and protocol of every record.
    var session: ExportSessionKey
    /// Export time of the datagram, ms since the Unix epoch.
    var exportMilliseconds: Int64
    /// NetFlow v9 header sysUptime (ms), for FIRST/LAST_SWITCHED.
    var systemUptime: UInt32?
    /// IPFIX systemInitTimeMilliseconds announced in options data.
    var systemInitMilliseconds: Int64?
    /// Interval for records that carry no sampling field of their own.
    var defaultInterval: UInt32
    var sampling: SamplingState

    /// What a record holds before its fields are decoded: built once per data set rather than
    /// carried (160 bytes) through every copy of the context.
    var prototype: FlowRecord {
        FlowRecord(
            exporter: session.exporter, observationDomain: session.observationDomain, exportProtocol: session.exportProtocol,
            startMilliseconds: exportMilliseconds, endMilliseconds: exportMilliseconds
        )
    }
}

/// `count` copies of one record, for `Array.append(contentsOf:)`: written into the array's new
/// storage by doubling block copies (1, 2, 4 … records at a time) rather than one copy per record.
/// A record (160 bytes) is too large for the compiler to copy inline, so `repeatElement` cost one
/// `memmove` call per record: 16 % of the NetFlow v9 benchmark.
struct PrototypeCopies: Sequence {
    let record: FlowRecord
    let count: Int

    var underestimatedCount: Int { count }

    func makeIterator() -> Repeated<FlowRecord>.Iterator {
        repeatElement(record, count: count).makeIterator()
    }

    func _copyContents(initializing buffer: UnsafeMutableBufferPointer<FlowRecord>) -> (Repeated<FlowRecord>.Iterator, Int) {
        let n = Swift.min(count, buffer.count)
        guard n > 0, let base = buffer.baseAddress else { return (makeIterator(), 0) }
        base.initialize(to: record)
        var done = 1
        while done < n {
            let k = Swift.min(done, n - done)
            (base + done).initialize(from: base, count: k)
            done += k
        }
        return (repeatElement(record, count: count - n).makeIterator(), n)
    }
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
        // Every data set follows a message header, so `start >= lookbehind` always holds; the
        // check keeps the fast path's loads inside the datagram whatever a future caller passes.
        assert(start >= FastPlan.lookbehind)
        if let length = layout.fixedLength, start >= FastPlan.lookbehind {
            // The hot path: every field at a fixed offset, one bounds check per record.
            records.reserveCapacity(records.count + (end - start) / length)
            let plan = layout.fast
            let n = (end - start) / length
            guard n > 0 else { return (0, nil) }
            // Fill n copies of the prototype, then decode each record in place: no per-record
            // copy of the (large) record value, no per-record capacity check.
            let first = records.count
            records.append(contentsOf: PrototypeCopies(record: context.prototype, count: n))
            plan.rare.withUnsafeBufferPointer { rare in
                records.withUnsafeMutableBufferPointer { out in
                    var offset = start
                    for i in first..<(first + n) {
                        decodeFixedRecord(bytes, at: offset, plan: plan, rare: rare, hasNAT: layout.hasNAT, context: context, into: &out[i])
                        offset &+= length
                    }
                }
            }
            count = n
            return (count, nil)
        }
        var offsets = [Int](repeating: 0, count: layout.fieldLengths.count)
        var offset = start
        let prototype = context.prototype
        while offset + layout.minimumLength <= end {
            guard let next = Self.fieldOffsets(bytes, at: offset, end: end, layout: layout, into: &offsets) else {
                // A short tail could be padding; anything longer is a malformed record.
                if end - offset >= 4 {
                    return (count, FlowDecodingError(.badRecord, "variable-length field runs past the end of its set"))
                }
                return (count, nil)
            }
            var record = prototype
            var pending = PendingValues()
            if layout.hasNAT { record.natPresence = NATPresence.record }
            for e in layout.extractors {
                apply(e, bytes, at: offsets[e.fieldIndex], to: &record, pending: &pending)
            }
            finish(&record, pending, context: context)
            records.append(record)
            offset = next
            count += 1
        }
        return (count, nil)
    }

    /// Decodes one fixed-length record with the template's ``FastPlan``.
    @inline(__always)
    static func decodeFixedRecord(
        _ bytes: UnsafeRawBufferPointer, at base: Int, plan: FastPlan, rare: UnsafeBufferPointer<FieldExtractor>,
        hasNAT: Bool, context c: RecordContext, into r: inout FlowRecord
    ) {
        @inline(__always) func u(_ s: FieldSlot) -> UInt64 { bytes.loadBigEndianField(base &+ s.tail, mask: s.mask) }
        if plan.sourceV4.isPresent { r.sourceAddress = .v4(bytes.loadBigEndianUInt32(at: base &+ plan.sourceV4.offset)) }
        if plan.destinationV4.isPresent { r.destinationAddress = .v4(bytes.loadBigEndianUInt32(at: base &+ plan.destinationV4.offset)) }
        // Some exporters (Procera) fill both the IPv4 and the IPv6 address fields, one with zeros:
        // the IPv6 address is used when it is not zero or when there is no IPv4 field.
        if plan.sourceV6.isPresent {
            let a = bytes.loadIPv6(at: base &+ plan.sourceV6.offset)
            if !plan.sourceV4.isPresent || a != .v6(high: 0, low: 0) { r.sourceAddress = a }
        }
        if plan.destinationV6.isPresent {
            let a = bytes.loadIPv6(at: base &+ plan.destinationV6.offset)
            if !plan.destinationV4.isPresent || a != .v6(high: 0, low: 0) { r.destinationAddress = a }
        }
        if plan.sourcePort.isPresent { r.sourcePort = UInt16(truncatingIfNeeded: u(plan.sourcePort)) }
        if plan.destinationPort.isPresent { r.destinationPort = UInt16(truncatingIfNeeded: u(plan.destinationPort)) }
        if plan.ipProtocol.isPresent { r.ipProtocol = UInt8(truncatingIfNeeded: u(plan.ipProtocol)) }
        if plan.tcpFlags.isPresent { r.tcpFlags = UInt8(truncatingIfNeeded: u(plan.tcpFlags)) }
        if plan.typeOfService.isPresent { r.typeOfService = UInt8(truncatingIfNeeded: u(plan.typeOfService)) }
        if plan.bytes.isPresent { r.bytes = u(plan.bytes) }
        if plan.packets.isPresent { r.packets = u(plan.packets) }
        if r.bytes == 0 && r.packets == 0 && (plan.bytesFallback.isPresent || plan.packetsFallback.isPresent) {
            // Egress records fill OUT_BYTES/OUT_PKTS and leave IN_* at zero.
            if plan.bytesFallback.isPresent { r.bytes = u(plan.bytesFallback) }
            if plan.packetsFallback.isPresent { r.packets = u(plan.packetsFallback) }
        }
        if plan.inputInterface.isPresent { r.inputInterface = UInt32(truncatingIfNeeded: u(plan.inputInterface)) }
        if plan.outputInterface.isPresent { r.outputInterface = UInt32(truncatingIfNeeded: u(plan.outputInterface)) }
        if plan.sourceAS.isPresent { r.sourceAS = UInt32(truncatingIfNeeded: u(plan.sourceAS)) }
        if plan.destinationAS.isPresent { r.destinationAS = UInt32(truncatingIfNeeded: u(plan.destinationAS)) }
        if plan.direction.isPresent { r.direction = FlowDirection(rawValue: UInt8(truncatingIfNeeded: u(plan.direction))) ?? .unknown }

        if rare.isEmpty {
            // Common case: no NAT, sampling or unusual time fields — no pending values needed.
            applyFixedTimes(bytes, at: base, plan: plan, systemInit: nil, context: c, to: &r)
            let interval = c.defaultInterval
            if interval > 1 {
                r.samplingInterval = interval
                r.bytes = r.bytes.multipliedReportingOverflow(by: UInt64(interval)).partialValue
                r.packets = r.packets.multipliedReportingOverflow(by: UInt64(interval)).partialValue
            }
            return
        }
        var pending = PendingValues()
        if hasNAT { r.natPresence = NATPresence.record }
        for e in rare { apply(e, bytes, at: base &+ e.offset, to: &r, pending: &pending) }
        let systemInit = pending.has(PendingValues.systemInitBit) ? pending.systemInitMilliseconds : nil
        applyFixedTimes(bytes, at: base, plan: plan, systemInit: systemInit, context: c, to: &r)
        // The common time fields outrank the rare ones (deltas, observation time): ``finish``
        // fills only the times they left unset.
        finish(&r, pending, context: c, startKnown: plan.hasStart, endKnown: plan.hasEnd)
    }

    /// Start and end from the plan's common time fields (ms, seconds, uptime); a record without
    /// an end time ends when it starts.
    @inline(__always)
    static func applyFixedTimes(
        _ bytes: UnsafeRawBufferPointer, at base: Int, plan: FastPlan, systemInit: Int64?, context c: RecordContext, to r: inout FlowRecord
    ) {
        @inline(__always) func u(_ s: FieldSlot) -> UInt64 { bytes.loadBigEndianField(base &+ s.tail, mask: s.mask) }
        if plan.startMilliseconds.isPresent {
            r.startMilliseconds = Int64(truncatingIfNeeded: u(plan.startMilliseconds))
        } else if plan.startSeconds.isPresent {
            r.startMilliseconds = Int64(truncatingIfNeeded: u(plan.startSeconds)) &* 1000
        } else if plan.startUptime.isPresent {
            r.startMilliseconds = absoluteTime(uptime: UInt32(truncatingIfNeeded: u(plan.startUptime)), systemInit: systemInit, context: c)
        }
        if plan.endMilliseconds.isPresent {
            r.endMilliseconds = Int64(truncatingIfNeeded: u(plan.endMilliseconds))
        } else if plan.endSeconds.isPresent {
            r.endMilliseconds = Int64(truncatingIfNeeded: u(plan.endSeconds)) &* 1000
        } else if plan.endUptime.isPresent {
            r.endMilliseconds = absoluteTime(uptime: UInt32(truncatingIfNeeded: u(plan.endUptime)), systemInit: systemInit, context: c)
        } else if plan.hasStart {
            r.endMilliseconds = r.startMilliseconds
        }
    }

    /// An uptime-relative time (ms) made absolute: against the NetFlow v9 header's sysUptime, or
    /// IPFIX systemInitTimeMilliseconds (the record's own, else the session's), else export time.
    @inline(__always)
    static func absoluteTime(uptime t: UInt32, systemInit: Int64?, context c: RecordContext) -> Int64 {
        if let uptime = c.systemUptime {
            // 32-bit ms uptime wraps every 49.7 days.
            return c.exportMilliseconds + Int64(Int32(truncatingIfNeeded: t &- uptime))
        }
        // `base` is whatever the exporter announced: wrapping by intent, the time screen drops nonsense.
        if let base = systemInit ?? c.systemInitMilliseconds { return base &+ Int64(t) }
        return c.exportMilliseconds
    }

    /// Walks one variable-length record, writing each field's offset; returns the record end.
    static func fieldOffsets(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, layout: RecordLayout, into offsets: inout [Int])
        -> Int?
    {
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

    @inline(__always)
    static func apply(
        _ e: FieldExtractor, _ bytes: UnsafeRawBufferPointer, at o: Int, to r: inout FlowRecord, pending p: inout PendingValues
    ) {
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
        case .bytesFallback:
            p.fallbackBytes = uint()
            p.present |= PendingValues.fallbackBit
        case .packetsFallback:
            p.fallbackPackets = uint()
            p.present |= PendingValues.fallbackBit
        case .inputInterface: r.inputInterface = UInt32(truncatingIfNeeded: uint())
        case .outputInterface: r.outputInterface = UInt32(truncatingIfNeeded: uint())
        case .sourceAS: r.sourceAS = UInt32(truncatingIfNeeded: uint())
        case .destinationAS: r.destinationAS = UInt32(truncatingIfNeeded: uint())
        case .direction: r.direction = FlowDirection(rawValue: UInt8(truncatingIfNeeded: uint())) ?? .unknown
        case .startUptime:
            p.startUptime = UInt32(truncatingIfNeeded: uint())
            p.present |= PendingValues.startUptimeBit
        case .endUptime:
            p.endUptime = UInt32(truncatingIfNeeded: uint())
            p.present |= PendingValues.endUptimeBit
        case .startSeconds:
            p.startMilliseconds = Int64(truncatingIfNeeded: uint()) &* 1000
            p.present |= PendingValues.startMillisecondsBit
        case .endSeconds:
            p.endMilliseconds = Int64(truncatingIfNeeded: uint()) &* 1000
            p.present |= PendingValues.endMillisecondsBit
        case .startMilliseconds:
            p.startMilliseconds = Int64(truncatingIfNeeded: uint())
            p.present |= PendingValues.startMillisecondsBit
        case .endMilliseconds:
            p.endMilliseconds = Int64(truncatingIfNeeded: uint())
            p.present |= PendingValues.endMillisecondsBit
        case .startMicroseconds, .startNanoseconds:
            p.startMilliseconds = ntpToUnixMilliseconds(uint())
            p.present |= PendingValues.startMillisecondsBit
        case .endMicroseconds, .endNanoseconds:
            p.endMilliseconds = ntpToUnixMilliseconds(uint())
            p.present |= PendingValues.endMillisecondsBit
        case .startDeltaMicroseconds:
            p.startDeltaMicroseconds = uint()
            p.present |= PendingValues.startDeltaBit
        case .endDeltaMicroseconds:
            p.endDeltaMicroseconds = uint()
            p.present |= PendingValues.endDeltaBit
        case .systemInitMilliseconds:
            p.systemInitMilliseconds = Int64(truncatingIfNeeded: uint())
            p.present |= PendingValues.systemInitBit
        case .observationMilliseconds:
            p.observationMilliseconds = Int64(truncatingIfNeeded: uint())
            p.present |= PendingValues.observationBit
        case .samplerID:
            p.samplerID = UInt32(truncatingIfNeeded: uint())
            p.present |= PendingValues.samplerIDBit
        case .samplingInterval:
            p.samplingInterval = uint()
            p.present |= PendingValues.samplingIntervalBit
        case .samplingPacketInterval:
            p.samplingPacketInterval = uint()
            p.present |= PendingValues.packetIntervalBit
        case .samplingPacketSpace:
            p.samplingPacketSpace = uint()
            p.present |= PendingValues.packetSpaceBit
        case .samplingSize:
            p.samplingSize = uint()
            p.present |= PendingValues.sizeBit
        case .samplingPopulation:
            p.samplingPopulation = uint()
            p.present |= PendingValues.populationBit
        // NAT values go straight into the record's flattened NAT storage, and only into a record
        // marked as carrying NAT fields (from the layout's `hasNAT`), as `r.nat?.… = v` would.
        case .natEvent:
            if r.natPresence != 0 { r.natEvent = UInt8(truncatingIfNeeded: uint()) }
        case .postSourceV4:
            if r.natPresence != 0 {
                r.natPostSourceAddress = .v4(bytes.loadBigEndianUInt32(at: o))
                r.natPresence |= NATPresence.postSource
            }
        case .postDestinationV4:
            if r.natPresence != 0 {
                r.natPostDestinationAddress = .v4(bytes.loadBigEndianUInt32(at: o))
                r.natPresence |= NATPresence.postDestination
            }
        case .postSourceV6:
            if r.natPresence != 0 {
                r.natPostSourceAddress = bytes.loadIPv6(at: o)
                r.natPresence |= NATPresence.postSource
            }
        case .postDestinationV6:
            if r.natPresence != 0 {
                r.natPostDestinationAddress = bytes.loadIPv6(at: o)
                r.natPresence |= NATPresence.postDestination
            }
        case .postSourcePort:
            if r.natPresence != 0 { r.natPostSourcePort = UInt16(truncatingIfNeeded: uint()) }
        case .postDestinationPort:
            if r.natPresence != 0 { r.natPostDestinationPort = UInt16(truncatingIfNeeded: uint()) }
        case .portRangeStart:
            if r.natPresence != 0 { r.natPortRangeStart = UInt16(truncatingIfNeeded: uint()) }
        case .portRangeEnd:
            if r.natPresence != 0 { r.natPortRangeEnd = UInt16(truncatingIfNeeded: uint()) }
        case .portRangeStepSize:
            if r.natPresence != 0 { r.natPortRangeStepSize = UInt16(truncatingIfNeeded: uint()) }
        case .portRangeNumPorts:
            if r.natPresence != 0 { r.natPortRangeNumPorts = UInt16(truncatingIfNeeded: uint()) }
        }
    }

    /// Resolves times to absolute ms and scales counters by the sampling interval.
    @inline(__always)
    static func finish(
        _ r: inout FlowRecord, _ p: PendingValues, context c: RecordContext, startKnown: Bool = false, endKnown: Bool = false
    ) {
        let systemInit = p.has(PendingValues.systemInitBit) ? p.systemInitMilliseconds : nil
        if !startKnown {
            if p.has(PendingValues.startMillisecondsBit) {
                r.startMilliseconds = p.startMilliseconds
            } else if p.has(PendingValues.startUptimeBit) {
                r.startMilliseconds = absoluteTime(uptime: p.startUptime, systemInit: systemInit, context: c)
            } else if p.has(PendingValues.startDeltaBit) {
                r.startMilliseconds = c.exportMilliseconds &- Int64(clamping: p.startDeltaMicroseconds / 1000)
            } else if p.has(PendingValues.observationBit) {
                r.startMilliseconds = p.observationMilliseconds
            }
        }
        if !endKnown {
            if p.has(PendingValues.endMillisecondsBit) {
                r.endMilliseconds = p.endMilliseconds
            } else if p.has(PendingValues.endUptimeBit) {
                r.endMilliseconds = absoluteTime(uptime: p.endUptime, systemInit: systemInit, context: c)
            } else if p.has(PendingValues.endDeltaBit) {
                r.endMilliseconds = c.exportMilliseconds &- Int64(clamping: p.endDeltaMicroseconds / 1000)
            } else if p.has(PendingValues.observationBit) {
                r.endMilliseconds = p.observationMilliseconds
            } else if p.has(PendingValues.startMillisecondsBit | PendingValues.startUptimeBit) {
                r.endMilliseconds = r.startMilliseconds
            }
        }
        if p.has(PendingValues.fallbackBit), r.bytes == 0, r.packets == 0 {
            r.bytes = p.fallbackBytes
            r.packets = p.fallbackPackets
        }
        var interval = c.defaultInterval
        if p.present & (PendingValues.samplingBits | PendingValues.samplerIDBit) != 0 {
            if let own = p.announcedInterval {
                interval = own
            } else if p.has(PendingValues.samplerIDBit), let v = c.sampling.bySampler[p.samplerID] {
                interval = v
            }
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
                if pending.has(PendingValues.samplerIDBit) {
                    let id = pending.samplerID
                    if session.sampling.bySampler.count < 4096 || session.sampling.bySampler[id] != nil {
                        session.sampling.bySampler[id] = interval
                    }
                } else {
                    session.sampling.defaultInterval = interval
                }
            }
            if pending.has(PendingValues.systemInitBit) { session.systemInitMilliseconds = pending.systemInitMilliseconds }
            offset = next
            count += 1
        }
        return (count, nil)
    }
}
