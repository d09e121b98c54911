import NIOCore

/// Identifies one export session: an exporter address, its observation domain (NetFlow v9
/// source ID, IPFIX observation domain, sFlow sub-agent) and the protocol.
public struct ExportSessionKey: Sendable, Hashable, CustomStringConvertible {
    public var exporter: IPAddress
    public var observationDomain: UInt32
    public var exportProtocol: ExportProtocol

    public init(exporter: IPAddress, observationDomain: UInt32, exportProtocol: ExportProtocol) {
        self.exporter = exporter
        self.observationDomain = observationDomain
        self.exportProtocol = exportProtocol
    }

    public var description: String { "\(exporter)/\(observationDomain)/\(exportProtocol)" }
}

/// Decodes NetFlow v5, NetFlow v9, IPFIX and sFlow v5 datagrams into ``FlowRecord``s.
///
/// A value type holding all protocol state — templates, sampling announcements, sequence
/// numbers — keyed by exporter and observation domain. It does no I/O and reads no clock: the
/// caller passes the receive time. One decoder per receiving thread.
///
/// ```swift
/// var decoder = FlowDecoder()
/// var records: [FlowRecord] = []
/// let report = decoder.decode(datagram, from: .v4(0xC000_0201), receivedAtMilliseconds: now, into: &records)
/// if let error = report.error { errors[error.code, default: 0] += 1 }
/// ```
public struct FlowDecoder: Sendable {
    /// Limits and overrides. The defaults suit a carrier's collector.
    public struct Configuration: Sendable, Hashable {
        /// A template not refreshed for this long is forgotten (RFC 7011 §8.4 template timeout for UDP).
        public var templateTimeoutSeconds: Int64 = 1800
        /// Templates kept per export session; more are refused (memory bound under hostile input).
        public var maxTemplatesPerSession: Int = 1024
        /// Templates kept in all sessions together; beyond this, the one refreshed longest ago is
        /// forgotten (``TemplateCache``).
        public var maxTemplates: Int = 20_000
        /// Fields accepted in one template; real exporters stay far below.
        public var maxFieldsPerTemplate: Int = 512
        /// Export sessions tracked; beyond this, the least recently seen is evicted.
        public var maxSessions: Int = 65_536
        /// Sampling interval per exporter, used when the exporter announces none.
        public var samplingOverrides: [IPAddress: UInt32] = [:]
        /// A forward jump in sequence numbers larger than this is treated as a restart, not loss.
        public var maxPlausibleSequenceGap: UInt64 = 10_000_000
        /// Which flow times are believed (``FlowTimeWindow``): by default only 1970–2100; the live
        /// collector also refuses flows far from the receive time.
        public var timeWindow: FlowTimeWindow = .anyTime

        public init() {}
    }

    public var configuration: Configuration
    /// Templates learned so far, per export session.
    public internal(set) var templates: TemplateCache
    /// Sequence and sampling state per export session.
    var sessions = SessionTable()
    /// sFlow agent state.
    var sflow = SFlowDecoderState()
    /// The last template looked up: consecutive data sets usually share one.
    var cachedTemplate: CachedTemplate? = nil

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.templates = TemplateCache(
            timeoutMilliseconds: configuration.templateTimeoutSeconds * 1000,
            maxTemplatesPerSession: configuration.maxTemplatesPerSession,
            maxTemplates: configuration.maxTemplates
        )
    }

    /// Decodes one datagram received from `exporter`, appending its flow records to `records`.
    ///
    /// - Parameters:
    ///   - datagram: the UDP payload.
    ///   - exporter: the datagram's source address (templates are kept per exporter).
    ///   - now: receive time, ms since the Unix epoch; used for template expiry.
    ///   - records: output; records are appended, never removed.
    /// - Returns: counts and the first error, if any. Never throws: bad input is reported.
    public mutating func decode(
        _ datagram: ByteBuffer,
        from exporter: IPAddress,
        receivedAtMilliseconds now: Int64,
        into records: inout [FlowRecord]
    ) -> DecodeReport {
        datagram.withUnsafeReadableBytes { bytes in
            decode(bytes, from: exporter, receivedAtMilliseconds: now, into: &records)
        }
    }

    /// Decodes one datagram held in raw bytes. See ``decode(_:from:receivedAtMilliseconds:into:)-(ByteBuffer,_,_,_)``.
    public mutating func decode(
        _ bytes: UnsafeRawBufferPointer,
        from exporter: IPAddress,
        receivedAtMilliseconds now: Int64,
        into records: inout [FlowRecord]
    ) -> DecodeReport {
        var report = DecodeReport()
        let before = records.count
        guard bytes.count >= 4 else {
            report.error = .truncated(expected: 4, actual: bytes.count, "datagram header")
            return report
        }
        let version = bytes.loadBigEndianUInt16(at: 0)
        switch version {
        case 5:
            decodeNetFlowV5(bytes, exporter: exporter, now: now, into: &records, report: &report)
        case 9:
            decodeNetFlowV9(bytes, exporter: exporter, now: now, into: &records, report: &report)
        case 10:
            decodeIPFIX(bytes, exporter: exporter, now: now, into: &records, report: &report)
        case 0 where bytes.loadBigEndianUInt32(at: 0) == 5:
            decodeSFlow(bytes, exporter: exporter, now: now, into: &records, report: &report)
        default:
            report.error = FlowDecodingError(.unsupportedVersion, "version \(version)")
        }
        if records.count > before { screenTimes(&records, from: before, now: now, report: &report) }
        return report
    }

    /// Applies ``Configuration/timeWindow`` to the records appended from `start` on: drops those
    /// it refuses (keeping the order of the rest) and repairs an end before the start.
    mutating func screenTimes(_ records: inout [FlowRecord], from start: Int, now: Int64, report: inout DecodeReport) {
        let window = configuration.timeWindow
        // The common case in three comparisons per record: start and end in order, within
        // [minStart, maxEnd] — the window's bounds at `now`, computed once (and clamped to
        // 1970–2100). Only a datagram with a record outside them takes the full check below.
        let (minStart, maxEnd) = window.bounds(now: now)
        let allAccepted = records.withUnsafeBufferPointer { rs in
            for i in start..<rs.count
            where
                !(minStart <= rs[i].startMilliseconds && rs[i].startMilliseconds <= rs[i].endMilliseconds
                && rs[i].endMilliseconds <= maxEnd)
            {
                return false
            }
            return true
        }
        if allAccepted { return }
        var kept = start
        records.withUnsafeMutableBufferPointer { rs in
            for i in start..<rs.count {
                switch window.check(start: rs[i].startMilliseconds, end: rs[i].endMilliseconds, now: now) {
                case .accept: break
                case .repairEndBeforeStart:
                    rs[i].endMilliseconds = rs[i].startMilliseconds
                    report.repairedTimes += 1
                case .outOfRange:
                    report.timesOutOfRange += 1
                    continue
                case .tooOld:
                    report.timesTooOld += 1
                    continue
                case .ahead:
                    report.timesAhead += 1
                    continue
                }
                if kept != i { rs[kept] = rs[i] }
                kept += 1
            }
        }
        let dropped = records.count - kept
        if dropped > 0 {
            records.removeLast(dropped)
            report.flowRecords -= dropped
        }
    }

    /// The compiled layout of the template for `key` at `now`, from the one-entry cache when
    /// nothing changed since.
    mutating func layout(for key: TemplateKey, now: Int64) -> RecordLayout? {
        if let c = cachedTemplate, c.generation == templates.generation, c.key == key,
            templates.timeoutMilliseconds <= 0 || now.saturatingDifference(c.refreshedAt) <= templates.timeoutMilliseconds
        {
            return c.layout
        }
        guard let t = templates.lookup(key, now: now) else { return nil }
        cachedTemplate = CachedTemplate(key: key, generation: templates.generation, refreshedAt: t.refreshedAt, layout: t.layout)
        return t.layout
    }

    /// Drops templates not refreshed within the timeout. Call periodically; lookups also check expiry.
    public mutating func expireTemplates(now: Int64) -> Int {
        templates.expire(now: now)
    }

    /// Runs `body` on the state of `key`, creating it (and evicting one other session when
    /// the table is full) if needed.
    mutating func withSession<R>(_ key: ExportSessionKey, now: Int64, _ body: (inout SessionState) -> R) -> R {
        let index = sessions.index(for: key, now: now, limit: configuration.maxSessions) { evicted in
            _ = templates.withdrawAll(session: evicted, options: false)
            _ = templates.withdrawAll(session: evicted, options: true)
        }
        return body(&sessions.states[index])
    }

    /// The sampling interval announced for (or configured for) an export session, if any.
    public func announcedSamplingInterval(for key: ExportSessionKey) -> UInt32? {
        sessions.state(for: key)?.sampling.defaultInterval
    }
}

/// The decoder's one-entry template cache: what a data set needs of its template.
struct CachedTemplate: Sendable {
    var key: TemplateKey
    /// ``TemplateCache``'s generation when cached: any insert or removal since invalidates it.
    var generation: UInt64
    var refreshedAt: Int64
    var layout: RecordLayout
}

/// Session states in an array, indexed by a dictionary, with the last key remembered: a
/// collector usually receives runs of datagrams from the same exporter, which then cost no hashing.
struct SessionTable: Sendable {
    private(set) var keys: [ExportSessionKey] = []
    var states: [SessionState] = []
    private var indexByKey: [ExportSessionKey: Int] = [:]
    private var lastKey: ExportSessionKey? = nil
    private var lastIndex = 0

    var count: Int { states.count }

    func state(for key: ExportSessionKey) -> SessionState? {
        indexByKey[key].map { states[$0] }
    }

    /// Where the second-chance eviction looks next.
    private var hand = 0

    /// The index of `key`'s state, created if needed. When the table is full, one session is
    /// evicted first (and `evicted` called with it): the "clock" (second-chance) algorithm, which
    /// skips — and unmarks — sessions used since the hand last passed them, so a session that
    /// keeps sending survives a flood of spoofed ones, at O(1) amortised and without scanning
    /// the table.
    mutating func index(for key: ExportSessionKey, now: Int64, limit: Int, evicted: (ExportSessionKey) -> Void) -> Int {
        if lastKey == key {
            states[lastIndex].referenced = true
            return lastIndex
        }
        if let i = indexByKey[key] {
            states[i].referenced = true
            lastKey = key
            lastIndex = i
            return i
        }
        if states.count >= max(1, limit) {
            while states[hand].referenced {
                states[hand].referenced = false
                hand = (hand + 1) % states.count
            }
            let victim = hand
            let victimKey = keys[victim]
            // Swap-remove: the last session takes the victim's place.
            let last = states.count - 1
            if victim != last {
                keys[victim] = keys[last]
                states[victim] = states[last]
                indexByKey[keys[victim]] = victim
            }
            keys.removeLast()
            states.removeLast()
            indexByKey[victimKey] = nil
            if hand >= states.count { hand = 0 }
            lastKey = nil
            evicted(victimKey)
        }
        keys.append(key)
        states.append(SessionState(lastSeen: now))
        let i = states.count - 1
        indexByKey[key] = i
        lastKey = key
        lastIndex = i
        return i
    }
}

/// Per-session sequence and sampling state.
struct SessionState: Sendable {
    var sequence = SequenceTracker()
    var sampling = SamplingState()
    /// IPFIX systemInitTimeMilliseconds from options data, for flowStart/EndSysUpTime.
    var systemInitMilliseconds: Int64? = nil
    var lastSeen: Int64 = 0
    /// Used since the eviction hand last passed (``SessionTable``).
    var referenced = false
}

/// Sampling announcements of one session: a default interval (from options data or the v5
/// header) and intervals per sampler / selector ID.
struct SamplingState: Sendable {
    var defaultInterval: UInt32? = nil
    var bySampler: [UInt32: UInt32] = [:]
}

/// Tracks export sequence numbers (modulo 2^32) to estimate lost records.
struct SequenceTracker: Sendable {
    /// The sequence number expected next, if known.
    var expected: UInt32? = nil
    /// Moving average of records per datagram, for NetFlow v9 whose sequence counts datagrams.
    var recordsPerDatagram: Double = 0

    /// Compares `sequence` with the expected value: the number of units skipped, or a reset when
    /// the number went backwards or jumped implausibly far (exporter restart, reordering).
    func check(_ sequence: UInt32, maxGap: UInt64) -> (missing: UInt64, reset: Bool) {
        guard let expected, sequence != expected else { return (0, false) }
        let gap = UInt64(sequence &- expected)
        if gap > maxGap { return (0, true) }
        return (gap, false)
    }

    /// Records that the datagram with `sequence` covered `units` units.
    mutating func advance(from sequence: UInt32, by units: UInt32) {
        expected = sequence &+ units
    }

    mutating func noteDatagram(records: Int) {
        recordsPerDatagram = recordsPerDatagram == 0 ? Double(records) : recordsPerDatagram * 0.9 + Double(records) * 0.1
    }
}

extension FlowDecoder {
    /// Restores persisted templates (after a restart); returns how many were accepted.
    public mutating func restoreTemplates(_ persisted: [PersistedTemplate], now: Int64) -> Int {
        templates.restore(persisted, now: now)
    }
}
