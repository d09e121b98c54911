extension FlowDecoder {
    /// Fixed part of the datagram header after the agent address: sub-agent ID, sequence,
    /// uptime, sample count.
    static let sflowHeaderTailLength = 16

    /// sFlow v5 (sflow.org `sflow_version_5.txt`): an XDR datagram header followed by samples.
    ///
    /// Each flow sample (format 1, expanded 3) becomes **one** ``FlowRecord``: one sampled packet
    /// standing for `sampling_rate` packets, so `packets` = rate and `bytes` = frame length × rate.
    /// Addresses, ports, protocol, TCP flags and ToS come from the sampled header (raw packet
    /// header record, format 1), or from the sampled IPv4 / IPv6 records (formats 3 / 4) when the
    /// header carries no IP packet. sFlow carries no flow times: `startMilliseconds` and
    /// `endMilliseconds` are both the receive time `now`. AS numbers come from the extended
    /// gateway record (1003) when present. Counter samples (formats 2, 4) are only counted.
    /// Unknown formats and every enterprise other than 0 are skipped by their length.
    ///
    /// Interfaces: an interface whose format is 0 gives its ifIndex (low 30 bits in the compact
    /// sample, the value in the expanded one). Format 1 (dropped, value = reason) and format 2
    /// (multiple interfaces, value = count) name no interface and give 0. `direction` stays
    /// `.unknown`: sFlow does not say on which side of the data source the packet was sampled.
    ///
    /// Counts are scaled by the sample's rate; a rate of 0 uses
    /// ``FlowDecoder/Configuration/samplingOverrides`` for the exporter, or 1.
    ///
    /// The datagram sequence number is tracked per (exporter, agent, sub-agent); a gap of N
    /// datagrams estimates N × (moving average of flow samples per datagram) lost records.
    mutating func decodeSFlow(
        _ bytes: UnsafeRawBufferPointer, exporter: IPAddress, now: Int64,
        into records: inout [FlowRecord], report: inout DecodeReport
    ) {
        report.exportProtocol = .sflowV5
        var reader = ByteReader(bytes)
        guard reader.skip(4), let addressType = reader.u32() else {
            report.error = .truncated(expected: 8, actual: bytes.count, "sFlow header")
            return
        }
        let agent: IPAddress
        switch addressType {
        case 0:
            agent = .unspecifiedV4
        case 1:
            guard let a = reader.u32() else {
                report.error = .truncated(expected: 4, actual: reader.remaining, "sFlow agent IPv4 address")
                return
            }
            agent = .v4(a)
        case 2:
            guard reader.remaining >= 16 else {
                report.error = .truncated(expected: 16, actual: reader.remaining, "sFlow agent IPv6 address")
                return
            }
            agent = bytes.loadIPv6(at: reader.offset)
            _ = reader.skip(16)
        default:
            report.error = FlowDecodingError(.badSample, "agent address type \(addressType)")
            return
        }
        guard reader.remaining >= Self.sflowHeaderTailLength else {
            report.error = .truncated(expected: Self.sflowHeaderTailLength, actual: reader.remaining, "sFlow header")
            return
        }
        let subAgent = reader.u32()!
        let sequence = reader.u32()!
        _ = reader.u32() // uptime: no flow times to convert in sFlow
        let declaredSamples = reader.u32()!
        report.observationDomain = subAgent

        let override = configuration.samplingOverrides[exporter]
        let prototype = FlowRecord(
            exporter: exporter, observationDomain: subAgent, exportProtocol: .sflowV5, startMilliseconds: now, endMilliseconds: now)
        var flowSamples = 0
        var index: UInt32 = 0
        // Every sample takes at least 8 bytes, so this loop is bounded by the datagram, not by the
        // declared count.
        samples: while index < declaredSamples {
            guard reader.remaining >= 8 else {
                report.error = .truncated(expected: 8, actual: reader.remaining, "sFlow sample \(index + 1) of \(declaredSamples)")
                break
            }
            let format = reader.u32()!
            let length = Int(reader.u32()!)
            guard length <= reader.remaining else {
                report.error = .truncated(expected: length, actual: reader.remaining, "sFlow sample \(index + 1) of \(declaredSamples)")
                break
            }
            let start = reader.offset
            // XDR pads opaque data to a multiple of 4.
            reader.offset = min(start + ((length + 3) & ~3), reader.end)
            index += 1
            guard format >> 12 == 0 else { continue } // enterprise-specific sample
            switch format & 0xFFF {
            case 1, 3:
                do {
                    let record = try Self.decodeSFlowFlowSample(
                        bytes, range: start..<(start + length), expanded: format & 0xFFF == 3,
                        prototype: prototype, samplingOverride: override
                    )
                    records.append(record)
                    flowSamples += 1
                } catch {
                    report.error = error
                    break samples
                }
            case 2, 4:
                report.counterSamples += 1
            default:
                continue
            }
        }
        report.flowRecords = flowSamples

        let key = SFlowDecoderState.AgentKey(exporter: exporter, agent: agent, subAgent: subAgent)
        let maxGap = configuration.maxPlausibleSequenceGap
        sflow.withAgent(key, now: now, capacity: configuration.maxSessions) { state in
            state.lastSeen = now
            let (missing, reset) = state.sequence.check(sequence, maxGap: maxGap)
            report.sequenceReset = reset
            if missing > 0 {
                let estimate = (Double(missing) * state.sequence.recordsPerDatagram).rounded()
                report.estimatedLostRecords = estimate < 1.8e19 ? UInt64(estimate) : UInt64.max
            }
            state.sequence.advance(from: sequence, by: 1)
            state.sequence.noteDatagram(records: flowSamples)
        }
    }

    /// Decodes one flow sample (compact format 1 or expanded format 3) held in `range`.
    static func decodeSFlowFlowSample(
        _ bytes: UnsafeRawBufferPointer, range: Range<Int>, expanded: Bool,
        prototype: FlowRecord, samplingOverride: UInt32?
    ) throws(FlowDecodingError) -> FlowRecord {
        var reader = ByteReader(bytes, offset: range.lowerBound, end: range.upperBound)
        let fixed = expanded ? 44 : 32
        guard reader.remaining >= fixed else {
            throw FlowDecodingError(.badSample, "flow sample of \(reader.remaining) bytes, its header needs \(fixed)")
        }
        let o = reader.offset
        let rate: UInt32
        let input: UInt32
        let output: UInt32
        let declaredRecords: UInt32
        if expanded {
            // sequence, source type, source index, rate, pool, drops, input format/value, output format/value, count
            rate = bytes.loadBigEndianUInt32(at: o + 12)
            input = bytes.loadBigEndianUInt32(at: o + 24) == 0 ? bytes.loadBigEndianUInt32(at: o + 28) : 0
            output = bytes.loadBigEndianUInt32(at: o + 32) == 0 ? bytes.loadBigEndianUInt32(at: o + 36) : 0
            declaredRecords = bytes.loadBigEndianUInt32(at: o + 40)
        } else {
            // sequence, source ID, rate, pool, drops, input, output, count. Interfaces: top 2 bits
            // are the format (0 ifIndex, 1 discarded + reason, 2 multiple interfaces + count).
            rate = bytes.loadBigEndianUInt32(at: o + 8)
            let rawInput = bytes.loadBigEndianUInt32(at: o + 20)
            let rawOutput = bytes.loadBigEndianUInt32(at: o + 24)
            input = rawInput >> 30 == 0 ? rawInput & 0x3FFF_FFFF : 0
            output = rawOutput >> 30 == 0 ? rawOutput & 0x3FFF_FFFF : 0
            declaredRecords = bytes.loadBigEndianUInt32(at: o + 28)
        }
        _ = reader.skip(fixed)

        var record = prototype
        record.inputInterface = input
        record.outputInterface = output
        let interval = rate != 0 ? rate : (samplingOverride ?? 1)
        record.samplingInterval = interval
        record.packets = UInt64(interval)

        var frameLength: UInt32? = nil
        var headerHasIP = false
        var sampledIP: SFlowSampledIP? = nil

        var index: UInt32 = 0
        while index < declaredRecords {
            guard reader.remaining >= 8 else {
                throw FlowDecodingError(
                    .badSample, "flow record \(index + 1) of \(declaredRecords): \(reader.remaining) bytes left in sample")
            }
            let format = reader.u32()!
            let length = Int(reader.u32()!)
            guard length <= reader.remaining else {
                throw FlowDecodingError(
                    .badSample, "flow record \(index + 1) of \(declaredRecords): length \(length), \(reader.remaining) bytes left in sample"
                )
            }
            let start = reader.offset
            let end = start + length
            reader.offset = min(start + ((length + 3) & ~3), reader.end)
            index += 1
            guard format >> 12 == 0 else { continue }
            switch format & 0xFFF {
            case 1: // raw packet header: protocol, frame_length, stripped, header<>
                guard length >= 16 else { throw FlowDecodingError(.badSample, "raw packet header record of \(length) bytes") }
                let headerProtocol = bytes.loadBigEndianUInt32(at: start)
                let headerLength = Int(bytes.loadBigEndianUInt32(at: start + 12))
                guard headerLength <= length - 16 else {
                    throw FlowDecodingError(.badSample, "sampled header of \(headerLength) bytes in a record of \(length)")
                }
                frameLength = bytes.loadBigEndianUInt32(at: start + 4)
                headerHasIP = SFlowSampledHeader.parse(
                    bytes, range: (start + 16)..<(start + 16 + headerLength), headerProtocol: headerProtocol, into: &record
                )
            case 3: // sampled IPv4
                guard length >= 32 else { throw FlowDecodingError(.badSample, "sampled IPv4 record of \(length) bytes") }
                sampledIP = SFlowSampledIP(
                    length: bytes.loadBigEndianUInt32(at: start),
                    ipProtocol: UInt8(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 4)),
                    source: .v4(bytes.loadBigEndianUInt32(at: start + 8)),
                    destination: .v4(bytes.loadBigEndianUInt32(at: start + 12)),
                    sourcePort: UInt16(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 16)),
                    destinationPort: UInt16(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 20)),
                    tcpFlags: UInt8(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 24)),
                    typeOfService: UInt8(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 28))
                )
            case 4: // sampled IPv6
                guard length >= 56 else { throw FlowDecodingError(.badSample, "sampled IPv6 record of \(length) bytes") }
                sampledIP = SFlowSampledIP(
                    length: bytes.loadBigEndianUInt32(at: start),
                    ipProtocol: UInt8(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 4)),
                    source: bytes.loadIPv6(at: start + 8),
                    destination: bytes.loadIPv6(at: start + 24),
                    sourcePort: UInt16(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 40)),
                    destinationPort: UInt16(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 44)),
                    tcpFlags: UInt8(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 48)),
                    typeOfService: UInt8(truncatingIfNeeded: bytes.loadBigEndianUInt32(at: start + 52))
                )
            case 1003: // extended gateway (BGP)
                try decodeSFlowExtendedGateway(bytes, range: start..<end, into: &record)
            default:
                continue
            }
        }

        if !headerHasIP, let ip = sampledIP {
            record.sourceAddress = ip.source
            record.destinationAddress = ip.destination
            record.sourcePort = ip.sourcePort
            record.destinationPort = ip.destinationPort
            record.ipProtocol = ip.ipProtocol
            record.tcpFlags = ip.tcpFlags
            record.typeOfService = ip.typeOfService
        }
        if let frameLength {
            record.bytes = UInt64(frameLength) * UInt64(interval)
        } else if let ip = sampledIP {
            record.bytes = UInt64(ip.length) * UInt64(interval)
        }
        return record
    }

    /// Extended gateway (format 1003): next hop, router AS, source AS, source peer AS, destination
    /// AS path (segments), communities, local preference. Sets `sourceAS` and, from the last AS
    /// of the path, `destinationAS` (as sflowtool does; an empty path leaves 0).
    static func decodeSFlowExtendedGateway(
        _ bytes: UnsafeRawBufferPointer, range: Range<Int>, into record: inout FlowRecord
    ) throws(FlowDecodingError) {
        var reader = ByteReader(bytes, offset: range.lowerBound, end: range.upperBound)
        let bad = FlowDecodingError(.badSample, "extended gateway record overruns its length")
        guard let addressType = reader.u32() else { throw bad }
        switch addressType {
        case 0: break
        case 1: guard reader.skip(4) else { throw bad }
        case 2: guard reader.skip(16) else { throw bad }
        default: throw FlowDecodingError(.badSample, "extended gateway next-hop address type \(addressType)")
        }
        guard reader.skip(4), let sourceAS = reader.u32(), reader.skip(4), let segments = reader.u32() else { throw bad }
        var lastAS: UInt32 = 0
        var segment: UInt32 = 0
        while segment < segments {
            guard reader.skip(4), let count = reader.u32() else { throw bad }
            let width = Int(count) * 4
            guard width <= reader.remaining else { throw bad }
            if count > 0 { lastAS = bytes.loadBigEndianUInt32(at: reader.offset + width - 4) }
            _ = reader.skip(width)
            segment += 1
        }
        record.sourceAS = sourceAS
        record.destinationAS = lastAS
    }
}
