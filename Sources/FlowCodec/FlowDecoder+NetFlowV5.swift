extension FlowDecoder {
    static let netflowV5HeaderLength = 24
    static let netflowV5RecordLength = 48

    /// NetFlow v5: fixed 24-byte header, up to 30 fixed 48-byte records (Cisco's format, as
    /// documented by Cisco and implemented by nfdump and softflowd).
    mutating func decodeNetFlowV5(
        _ bytes: UnsafeRawBufferPointer, exporter: IPAddress, now: Int64,
        into records: inout [FlowRecord], report: inout DecodeReport
    ) {
        report.exportProtocol = .netflowV5
        guard bytes.count >= Self.netflowV5HeaderLength else {
            report.error = .truncated(expected: Self.netflowV5HeaderLength, actual: bytes.count, "NetFlow v5 header")
            return
        }
        let declared = Int(bytes.loadBigEndianUInt16(at: 2))
        let uptime = bytes.loadBigEndianUInt32(at: 4)
        let seconds = Int64(bytes.loadBigEndianUInt32(at: 8))
        let nanoseconds = Int64(bytes.loadBigEndianUInt32(at: 12))
        let sequence = bytes.loadBigEndianUInt32(at: 16)
        let domain = UInt32(bytes[20]) << 8 | UInt32(bytes[21])
        let samplingField = bytes.loadBigEndianUInt16(at: 22)
        report.observationDomain = domain

        let present = (bytes.count - Self.netflowV5HeaderLength) / Self.netflowV5RecordLength
        let count = min(declared, present)
        if declared != present {
            // Keep the records that are there; say the header disagrees.
            report.error = FlowDecodingError(.badLength, "header announces \(declared) records, \(present) present")
        }
        let exportMilliseconds = seconds * 1000 + nanoseconds / 1_000_000
        let key = ExportSessionKey(exporter: exporter, observationDomain: domain, exportProtocol: .netflowV5)
        let announced = UInt32(samplingField & 0x3FFF)
        let maxGap = configuration.maxPlausibleSequenceGap
        let override = configuration.samplingOverrides[exporter]
        let interval: UInt32 = withSession(key, now: now) { session in
            session.lastSeen = now
            if announced > 1 { session.sampling.defaultInterval = announced }
            let (lost, reset) = session.sequence.check(sequence, maxGap: maxGap)
            session.sequence.advance(from: sequence, by: UInt32(count))
            report.estimatedLostRecords = lost
            report.sequenceReset = reset
            return announced > 1 ? announced : (override ?? 1)
        }
        records.reserveCapacity(records.count + count)
        var offset = Self.netflowV5HeaderLength
        for _ in 0..<count {
            var r = FlowRecord(exporter: exporter, observationDomain: domain, exportProtocol: .netflowV5)
            r.sourceAddress = .v4(bytes.loadBigEndianUInt32(at: offset))
            r.destinationAddress = .v4(bytes.loadBigEndianUInt32(at: offset + 4))
            r.inputInterface = UInt32(bytes.loadBigEndianUInt16(at: offset + 12))
            r.outputInterface = UInt32(bytes.loadBigEndianUInt16(at: offset + 14))
            r.packets = UInt64(bytes.loadBigEndianUInt32(at: offset + 16))
            r.bytes = UInt64(bytes.loadBigEndianUInt32(at: offset + 20))
            let first = bytes.loadBigEndianUInt32(at: offset + 24)
            let last = bytes.loadBigEndianUInt32(at: offset + 28)
            r.startMilliseconds = exportMilliseconds + Int64(Int32(truncatingIfNeeded: first &- uptime))
            r.endMilliseconds = exportMilliseconds + Int64(Int32(truncatingIfNeeded: last &- uptime))
            r.sourcePort = bytes.loadBigEndianUInt16(at: offset + 32)
            r.destinationPort = bytes.loadBigEndianUInt16(at: offset + 34)
            r.tcpFlags = bytes[offset + 37]
            r.ipProtocol = bytes[offset + 38]
            r.typeOfService = bytes[offset + 39]
            r.sourceAS = UInt32(bytes.loadBigEndianUInt16(at: offset + 40))
            r.destinationAS = UInt32(bytes.loadBigEndianUInt16(at: offset + 42))
            if interval > 1 {
                r.samplingInterval = interval
                r.packets &*= UInt64(interval)
                r.bytes &*= UInt64(interval)
            }
            records.append(r)
            offset += Self.netflowV5RecordLength
        }
        report.flowRecords = count
    }
}
