/// NetFlow v9 (RFC 3954) and IPFIX (RFC 7011): header, then sets of templates, options
/// templates and data records described by them.
extension FlowDecoder {
    static let netflowV9HeaderLength = 20
    static let ipfixHeaderLength = 16

    mutating func decodeNetFlowV9(
        _ bytes: UnsafeRawBufferPointer, exporter: IPAddress, now: Int64,
        into records: inout [FlowRecord], report: inout DecodeReport
    ) {
        report.exportProtocol = .netflowV9
        guard bytes.count >= Self.netflowV9HeaderLength else {
            report.error = .truncated(expected: Self.netflowV9HeaderLength, actual: bytes.count, "NetFlow v9 header")
            return
        }
        let uptime = bytes.loadBigEndianUInt32(at: 4)
        let seconds = Int64(bytes.loadBigEndianUInt32(at: 8))
        let sequence = bytes.loadBigEndianUInt32(at: 12)
        let sourceID = bytes.loadBigEndianUInt32(at: 16)
        report.observationDomain = sourceID
        let key = ExportSessionKey(exporter: exporter, observationDomain: sourceID, exportProtocol: .netflowV9)
        let maxGap = configuration.maxPlausibleSequenceGap
        let override = configuration.samplingOverrides.isEmpty ? nil : configuration.samplingOverrides[exporter]
        let (missing, reset, context) = withSession(key, now: now) { session in
            session.lastSeen = now
            let (missing, reset) = session.sequence.check(sequence, maxGap: maxGap)
            return (
                missing, reset,
                Self.recordContext(session: key, state: session, override: override, exportMilliseconds: seconds * 1000, uptime: uptime)
            )
        }
        let before = report.flowRecords + report.optionsRecords
        decodeSets(
            bytes, from: Self.netflowV9HeaderLength, to: bytes.count, session: key, context: context, override: override, now: now,
            into: &records, report: &report)
        let decoded = report.flowRecords + report.optionsRecords - before
        withSession(key, now: now) { session in
            // v9 counts export packets, so lost records are estimated from the usual packet size.
            report.estimatedLostRecords = UInt64((Double(missing) * session.sequence.recordsPerDatagram).rounded())
            report.sequenceReset = reset
            session.sequence.advance(from: sequence, by: 1)
            if decoded > 0 { session.sequence.noteDatagram(records: decoded) }
        }
    }

    mutating func decodeIPFIX(
        _ bytes: UnsafeRawBufferPointer, exporter: IPAddress, now: Int64,
        into records: inout [FlowRecord], report: inout DecodeReport
    ) {
        report.exportProtocol = .ipfix
        var messageStart = 0
        // One message per datagram over UDP; several back to back are accepted (files captured with nc).
        while bytes.count - messageStart >= Self.ipfixHeaderLength {
            guard bytes.loadBigEndianUInt16(at: messageStart) == 10 else {
                report.error = FlowDecodingError(.unsupportedVersion, "trailing bytes after IPFIX message are not a message")
                return
            }
            let length = Int(bytes.loadBigEndianUInt16(at: messageStart + 2))
            guard length >= Self.ipfixHeaderLength else {
                report.error = FlowDecodingError(.badLength, "IPFIX message length \(length) is below the header length")
                return
            }
            var end = messageStart + length
            if end > bytes.count {
                report.error = .truncated(expected: length, actual: bytes.count - messageStart, "IPFIX message")
                end = bytes.count
            }
            let exportSeconds = Int64(bytes.loadBigEndianUInt32(at: messageStart + 4))
            let sequence = bytes.loadBigEndianUInt32(at: messageStart + 8)
            let domain = bytes.loadBigEndianUInt32(at: messageStart + 12)
            report.observationDomain = domain
            let key = ExportSessionKey(exporter: exporter, observationDomain: domain, exportProtocol: .ipfix)
            let maxGap = configuration.maxPlausibleSequenceGap
            let override = configuration.samplingOverrides.isEmpty ? nil : configuration.samplingOverrides[exporter]
            let (missing, reset, context) = withSession(key, now: now) { session in
                session.lastSeen = now
                let (missing, reset) = session.sequence.check(sequence, maxGap: maxGap)
                return (
                    missing, reset,
                    Self.recordContext(
                        session: key, state: session, override: override, exportMilliseconds: exportSeconds * 1000, uptime: nil)
                )
            }
            let before = report.flowRecords + report.optionsRecords
            let missesBefore = report.templateMisses
            decodeSets(
                bytes, from: messageStart + Self.ipfixHeaderLength, to: end, session: key, context: context, override: override, now: now,
                into: &records, report: &report)
            let decoded = report.flowRecords + report.optionsRecords - before
            let unknownRecords = report.templateMisses > missesBefore
            withSession(key, now: now) { session in
                // IPFIX counts data records, so the gap is the loss estimate itself.
                report.estimatedLostRecords += missing
                report.sequenceReset = report.sequenceReset || reset
                if unknownRecords {
                    session.sequence.expected = nil // records we could not count: resynchronise
                } else {
                    session.sequence.advance(from: sequence, by: UInt32(truncatingIfNeeded: decoded))
                }
            }
            if report.error != nil { return }
            messageStart = end
        }
        if messageStart == 0 {
            report.error = .truncated(expected: Self.ipfixHeaderLength, actual: bytes.count, "IPFIX header")
        }
    }

    /// Walks the sets of one message. Stops at the first structural error, keeping what was decoded.
    mutating func decodeSets(
        _ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, session key: ExportSessionKey,
        context initialContext: RecordContext, override: UInt32?, now: Int64,
        into records: inout [FlowRecord], report: inout DecodeReport
    ) {
        let isIPFIX = key.exportProtocol == .ipfix
        var context = initialContext
        var offset = start
        while offset < end {
            guard end - offset >= 4 else {
                if !bytes.isZero(from: offset, to: end) { report.error = .truncated(expected: 4, actual: end - offset, "set header") }
                return
            }
            let setID = bytes.loadBigEndianUInt16(at: offset)
            let setLength = Int(bytes.loadBigEndianUInt16(at: offset + 2))
            guard setLength >= 4 else {
                // Some exporters zero-fill the rest of the datagram (PAN-OS); that is padding, not an error.
                if !bytes.isZero(from: offset, to: end) {
                    report.error = FlowDecodingError(.badSet, "set \(setID) has length \(setLength)")
                }
                return
            }
            guard offset + setLength <= end else {
                report.error = .truncated(expected: setLength, actual: end - offset, "set \(setID)")
                return
            }
            let body = offset + 4
            let bodyEnd = offset + setLength
            switch setID {
            case 0 where !isIPFIX, 2 where isIPFIX:
                if let e = parseTemplateSet(bytes, from: body, to: bodyEnd, session: key, options: false, now: now, report: &report) {
                    report.error = e
                    return
                }
            case 1 where !isIPFIX, 3 where isIPFIX:
                if let e = parseTemplateSet(bytes, from: body, to: bodyEnd, session: key, options: true, now: now, report: &report) {
                    report.error = e
                    return
                }
            case 256...:
                let tkey = TemplateKey(session: key, templateID: setID)
                guard let layout = layout(for: tkey, now: now) else {
                    report.templateMisses += 1
                    break
                }
                if layout.isOptions {
                    let exportMilliseconds = context.exportMilliseconds
                    let uptime = context.systemUptime
                    let (n, e) = withSession(key, now: now) { session in
                        session.lastSeen = now
                        let result = Self.applyOptionsRecords(bytes, from: body, to: bodyEnd, layout: layout, session: &session)
                        // Sampling or system init time may have changed for the data sets that follow.
                        context = Self.recordContext(
                            session: key, state: session, override: override, exportMilliseconds: exportMilliseconds, uptime: uptime)
                        return result
                    }
                    report.optionsRecords += n
                    if let e {
                        report.error = e
                        return
                    }
                } else {
                    let (n, e) = Self.decodeFlowRecords(bytes, from: body, to: bodyEnd, layout: layout, context: context, into: &records)
                    report.flowRecords += n
                    if layout.hasNAT { report.natRecords += n }
                    if let e {
                        report.error = e
                        return
                    }
                }
            default:
                // Reserved set IDs (v9: 2-255, IPFIX: 0,1,4-255) carry nothing we can read; skip the set.
                report.error = report.error ?? FlowDecodingError(.badSet, "reserved set ID \(setID)")
            }
            offset = bodyEnd
        }
    }

    static func recordContext(
        session key: ExportSessionKey, state: SessionState, override: UInt32?, exportMilliseconds: Int64, uptime: UInt32?
    ) -> RecordContext {
        RecordContext(
            session: key,
            exportMilliseconds: exportMilliseconds,
            systemUptime: uptime,
            systemInitMilliseconds: state.systemInitMilliseconds,
            defaultInterval: state.sampling.defaultInterval ?? override ?? 1,
            sampling: state.sampling
        )
    }

    /// Parses a (options) template set, learning, refreshing or withdrawing templates.
    /// Returns an error when the set is malformed; templates before the error are kept.
    mutating func parseTemplateSet(
        _ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, session key: ExportSessionKey,
        options: Bool, now: Int64, report: inout DecodeReport
    ) -> FlowDecodingError? {
        let isIPFIX = key.exportProtocol == .ipfix
        var r = ByteReader(bytes, offset: start, end: end)
        while r.remaining >= 4 {
            let recordStart = r.offset
            let templateID = r.u16()!
            let second = r.u16()!
            if templateID < 256 {
                // IPFIX: ID 2 (templates) or 3 (options templates) with count 0 withdraws them all.
                if isIPFIX && second == 0 && templateID == (options ? 3 : 2) {
                    report.templatesWithdrawn += templates.withdrawAll(session: key, options: options)
                    continue
                }
                if bytes.isZero(from: recordStart, to: end) { return nil } // padding
                return FlowDecodingError(.badTemplate, "template ID \(templateID) is reserved")
            }
            let tkey = TemplateKey(session: key, templateID: templateID)
            var fieldCount: Int
            var scopeCount = 0
            if options && !isIPFIX {
                // v9 options template: scope length and option length, both in bytes.
                guard let optionLength = r.u16() else { return .truncated(expected: 6, actual: 4, "options template header") }
                let scopeLength = Int(second)
                guard scopeLength % 4 == 0, optionLength % 4 == 0 else {
                    return FlowDecodingError(
                        .badTemplate, "options template \(templateID): lengths \(scopeLength)/\(optionLength) are not multiples of 4")
                }
                scopeCount = scopeLength / 4
                fieldCount = scopeCount + Int(optionLength) / 4
            } else {
                fieldCount = Int(second)
                if fieldCount == 0 {
                    guard isIPFIX else { return FlowDecodingError(.badTemplate, "template \(templateID) has no fields") }
                    if templates.withdraw(tkey) { report.templatesWithdrawn += 1 }
                    continue
                }
                if options {
                    guard let s = r.u16() else { return .truncated(expected: 6, actual: 4, "options template header") }
                    scopeCount = Int(s)
                    guard scopeCount <= fieldCount else {
                        return FlowDecodingError(
                            .badTemplate, "options template \(templateID): \(scopeCount) scope fields of \(fieldCount)")
                    }
                }
            }
            guard fieldCount <= configuration.maxFieldsPerTemplate else {
                return FlowDecodingError(.templateTooLarge, "template \(templateID) declares \(fieldCount) fields")
            }
            guard fieldCount > 0 else { return FlowDecodingError(.badTemplate, "template \(templateID) has no fields") }
            var fields: [FieldSpecifier] = []
            fields.reserveCapacity(fieldCount)
            for _ in 0..<fieldCount {
                guard let rawID = r.u16(), let length = r.u16() else {
                    return .truncated(expected: 4, actual: r.remaining, "field specifier of template \(templateID)")
                }
                var enterprise: UInt32 = 0
                var id = rawID
                if isIPFIX && rawID & 0x8000 != 0 {
                    guard let pen = r.u32() else {
                        return .truncated(expected: 4, actual: r.remaining, "enterprise number of template \(templateID)")
                    }
                    enterprise = pen
                    id = rawID & 0x7FFF
                }
                // RFC 3954 has no variable-length fields, but H3C NetStream sends IPFIX-style ones in
                // v9 (length 65535, then a length prefix per record); decode them the IPFIX way.
                fields.append(FieldSpecifier(id: id, length: length, enterprise: enterprise))
            }
            let template = Template(
                id: templateID, fields: fields, scopeFieldCount: scopeCount, isOptions: options, exportProtocol: key.exportProtocol,
                refreshedAt: now)
            guard template.layout.isUsable else {
                return FlowDecodingError(.badTemplate, "template \(templateID) describes zero-length records")
            }
            switch templates.insert(template, for: tkey) {
            case .learned, .refreshed, .redefined: report.templatesLearned += 1
            case .refused:
                return FlowDecodingError(.tooManyTemplates, "session \(key) already has \(templates.maxTemplatesPerSession) templates")
            }
        }
        return nil
    }
}

extension UnsafeRawBufferPointer {
    /// Whether every byte in `from..<to` is zero (padding).
    func isZero(from: Int, to: Int) -> Bool {
        var i = from
        while i < to {
            if self[i] != 0 { return false }
            i += 1
        }
        return true
    }
}
