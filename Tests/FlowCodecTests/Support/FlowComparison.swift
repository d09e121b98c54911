import FlowCodec
import FlowFiles
import MamoriTesting
import Testing

/// Compares Mamori's decode of a capture with tshark's, record by record.
///
/// What is compared, when tshark shows it: source / destination address (v4 or v6), ports,
/// protocol, bytes and packets (Mamori's counter precedence, times the expected sampling
/// interval), and start / end time (tshark's absolute times, or its uptime-relative times
/// converted with the header's sysUptime and export time, as RFC 3954 §8 and the v5 format define).
struct TsharkComparison {
    /// tshark field names in Mamori's precedence order (RecordLayout.target): octetDeltaCount (1),
    /// postOctetDeltaCount (23), initiatorOctets (231), octetTotalCount (85).
    static let byteKeys = ["cflow.octets", "cflow.post_octets", "cflow.initiator_octets", "cflow.permanent_octets"]
    static let packetKeys = ["cflow.packets", "cflow.post_packets", "cflow.initiator_packets", "cflow.permanent_packets"]

    /// Bytes and packets a normalised record should carry: the first counter pair in precedence
    /// order, or — when both of those are zero, as in egress records that fill OUT_BYTES/OUT_PKTS
    /// and leave IN_BYTES/IN_PKTS at 0 (nf9_0length_fields, Barracuda) — the next pair present.
    static func expectedCounters(_ t: TsharkCapture.Record) -> (bytes: UInt64, packets: UInt64)? {
        let present = zip(byteKeys, packetKeys).compactMap { bk, pk -> (UInt64, UInt64)? in
            let b = t.uint(bk)
            let p = t.uint(pk)
            return b == nil && p == nil ? nil : (b ?? 0, p ?? 0)
        }
        guard let first = present.first else { return nil }
        if first.0 == 0 && first.1 == 0, let next = present.dropFirst().first(where: { $0.0 != 0 || $0.1 != 0 }) { return next }
        return first
    }

    /// Sampling announcements seen so far in tshark's decode, per domain (independent of Mamori's
    /// bookkeeping): v5 header rate, options data with samplingInterval (34/50), RFC 5477
    /// samplingSize/samplingPopulation (309/310) or samplingPacketInterval/Space (305/306).
    struct Sampling {
        var defaultInterval: [UInt32: UInt64] = [:]
        var bySampler: [UInt32: [UInt64: UInt64]] = [:]

        static func announced(_ r: TsharkCapture.Record) -> UInt64? {
            if let n = r.uint("cflow.sampling_interval"), n > 0 { return n }
            if let n = r.uint("cflow.sampler_random_interval"), n > 0 { return n }
            if let size = r.uint("cflow.sampling_size"), let population = r.uint("cflow.sampling_population"), size > 0, population >= size
            {
                return population / size
            }
            if let i = r.uint("cflow.sampling_packet_interval"), i > 0, let space = r.uint("cflow.sampling_packet_space") {
                return (i + space) / i
            }
            return nil
        }

        static func samplerID(_ r: TsharkCapture.Record) -> UInt64? {
            r.uint("cflow.sampler_id") ?? r.uint("cflow.selector_id")
        }

        mutating func learn(_ r: TsharkCapture.Record) {
            guard r.isOptions, let n = Self.announced(r) else { return }
            if let id = Self.samplerID(r) { bySampler[r.domain, default: [:]][id] = n } else { defaultInterval[r.domain] = n }
        }

        func interval(for r: TsharkCapture.Record) -> UInt64 {
            if let own = Self.announced(r) { return max(own, 1) }
            if let id = Self.samplerID(r), let n = bySampler[r.domain]?[id] { return max(n, 1) }
            return max(defaultInterval[r.domain] ?? 1, 1)
        }
    }

    var sampling = Sampling()
    /// systemInitTimeMilliseconds per domain from tshark's options data (IPFIX sysUpTime base).
    var systemInit: [UInt32: Int64] = [:]
    var checkedRecords = 0

    /// The address tshark shows for a side: the v4 one, unless it is 0.0.0.0 and a v6 one is present.
    static func address(_ r: TsharkCapture.Record, v4: String, v6: String) -> IPAddress? {
        let a4 = r.address(v4)
        let a6 = r.address(v6)
        if let a4, a4 != .unspecifiedV4 || a6 == nil { return a4 }
        return a6 ?? a4
    }

    static func firstUInt(_ r: TsharkCapture.Record, _ keys: [String]) -> UInt64? {
        for k in keys { if let v = r.uint(k) { return v } }
        return nil
    }

    /// Learns announcements from the frame's options records (in wire order, before its flows —
    /// tshark and Mamori both apply options data as it arrives).
    mutating func learn(frame: TsharkCapture.Frame) {
        for r in frame.optionsRecords {
            sampling.learn(r)
            if let t = r.absoluteMilliseconds("cflow.sys_init_time") { systemInit[r.domain] = t }
        }
        if let rate = frame.headerString("cflow.samplerate").flatMap(UInt64.init), rate > 1 {
            sampling.defaultInterval[UInt32(frame.headerString("cflow.source_id") ?? "0") ?? 0] = rate
        }
    }

    /// `base + t`, with the uptime offset reduced modulo 2^32 into the signed 32-bit range.
    static func wrap(_ base: Int64, _ t: Int64, _ frame: TsharkCapture.Frame) -> Int64 {
        guard frame.headerString("cflow.version") == "5" || frame.headerString("cflow.version") == "9",
            let up = frame.headerString("cflow.sysuptime").flatMap(TsharkCapture.parseSeconds)
        else { return base + t }
        let offset = Int64(Int32(truncatingIfNeeded: t - up))
        return base + up + offset
    }

    /// Compares one Mamori record with tshark's. `context` names the set, frame and record.
    mutating func compare(
        _ m: FlowRecord, _ t: TsharkCapture.Record, frame: TsharkCapture.Frame, context: String, checkTimes: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        checkedRecords += 1
        if let a = Self.address(t, v4: "cflow.srcaddr", v6: "cflow.srcaddrv6") {
            #expect(m.sourceAddress == a, "\(context): source address", sourceLocation: sourceLocation)
        }
        if let a = Self.address(t, v4: "cflow.dstaddr", v6: "cflow.dstaddrv6") {
            #expect(m.destinationAddress == a, "\(context): destination address", sourceLocation: sourceLocation)
        }
        if let p = t.uint("cflow.srcport") { #expect(UInt64(m.sourcePort) == p, "\(context): source port", sourceLocation: sourceLocation) }
        if let p = t.uint("cflow.dstport") {
            #expect(UInt64(m.destinationPort) == p, "\(context): destination port", sourceLocation: sourceLocation)
        }
        if let p = t.uint("cflow.protocol") { #expect(UInt64(m.ipProtocol) == p, "\(context): protocol", sourceLocation: sourceLocation) }

        let interval = sampling.interval(for: t)
        #expect(UInt64(m.samplingInterval) == interval, "\(context): sampling interval", sourceLocation: sourceLocation)
        if let (b, p) = Self.expectedCounters(t) {
            #expect(m.bytes == b &* interval, "\(context): bytes (tshark \(b) × \(interval))", sourceLocation: sourceLocation)
            #expect(m.packets == p &* interval, "\(context): packets (tshark \(p) × \(interval))", sourceLocation: sourceLocation)
        }
        guard checkTimes else { return }

        // Absolute times: flowStart/End{Seconds,Milliseconds,Micro,Nano} (150-157) and NSEL 152/153.
        // tshark shows "Jan  1, 1970 00:00:00" as abstimestart when it pairs FIRST/LAST fields it
        // cannot place (softflowd IPFIX 22/21 without its own sysInit state, nProbe v9 with
        // LAST_SWITCHED before FIRST_SWITCHED in the template): a tshark artifact, not a value.
        if let s = t.absoluteMilliseconds("cflow.abstimestart"), s != 0 {
            #expect(m.startMilliseconds == s, "\(context): start time (absolute)", sourceLocation: sourceLocation)
        }
        // An end before the start is the one place Mamori differs from tshark on purpose: the
        // decoder keeps the record with its end set to its start (``FlowTimeWindow``).
        if let e = t.absoluteMilliseconds("cflow.abstimeend") {
            let s = t.absoluteMilliseconds("cflow.abstimestart").flatMap { $0 != 0 ? $0 : nil }
            #expect(m.endMilliseconds == max(e, s ?? e), "\(context): end time (absolute)", sourceLocation: sourceLocation)
        }
        // Uptime-relative times (v5 / v9 FIRST/LAST_SWITCHED, IPFIX flowStart/EndSysUpTime).
        let version = frame.headerString("cflow.version")
        var base: Int64? = nil
        if version == "5" || version == "9" {
            if let up = frame.headerString("cflow.sysuptime").flatMap(TsharkCapture.parseSeconds),
                let secs = frame.headerString("cflow.unix_secs").flatMap({ Int64($0) })
            {
                let nsecs = frame.headerString("cflow.unix_nsecs").flatMap { Int64($0) } ?? 0
                base = secs * 1000 + nsecs / 1_000_000 - up
            }
        } else if let initTime = systemInit[t.domain] {
            base = initTime
        }
        if let base {
            // sysUpTime and FIRST/LAST_SWITCHED are 32-bit ms counters that wrap (49.7 days):
            // the offset from the header's uptime is taken modulo 2^32 as a signed value. tshark
            // (and logstash) subtract without wrapping, which puts nf5_softflowd's first record 50
            // days after its last packet; the modular offset gives a start 3.6 s before the end.
            let start = t.relativeMilliseconds("cflow.timestart").map { Self.wrap(base, $0, frame) }
            if let s = t.relativeMilliseconds("cflow.timestart") {
                #expect(
                    m.startMilliseconds == Self.wrap(base, s, frame), "\(context): start time (uptime \(s) ms)",
                    sourceLocation: sourceLocation)
            }
            if let e = t.relativeMilliseconds("cflow.timeend") {
                let end = Self.wrap(base, e, frame)
                #expect(
                    m.endMilliseconds == max(end, start ?? end),
                    "\(context): end time (uptime \(e) ms; an end before the start is repaired to it)", sourceLocation: sourceLocation)
            }
        }
    }
}

/// Decodes a capture and compares it frame by frame with tshark. Returns the decoded frames.
@discardableResult
func compareCaptureWithTshark(
    pcap: String, tshark: String, label: String,
    decoder: inout FlowDecoder,
    compareCounts: Bool = true,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (frames: [FixtureLoader.DecodedFrame], capture: TsharkCapture, checked: Int) {
    let datagrams = try Fixtures.datagrams(pcap)
    let capture = try TsharkCapture(path: Fixtures.path(tshark))
    let frames = FixtureLoader.replay(datagrams, through: &decoder)
    try #require(
        capture.frames.count == frames.count, "\(label): tshark has \(capture.frames.count) frames, pcap \(frames.count) UDP datagrams",
        sourceLocation: sourceLocation)
    var comparison = TsharkComparison()
    for (f, t) in zip(frames, capture.frames) {
        comparison.learn(frame: t)
        let ctx = "\(label) frame \(f.frame)"
        if compareCounts && t.setsWithoutTemplate == 0 {
            #expect(f.report.flowRecords == t.flowRecords.count, "\(ctx): flow records", sourceLocation: sourceLocation)
            #expect(f.report.optionsRecords == t.optionsRecords.count, "\(ctx): options records", sourceLocation: sourceLocation)
        }
        #expect(f.records.count == f.report.flowRecords, "\(ctx): report counts the records appended", sourceLocation: sourceLocation)
        for (i, (m, r)) in zip(f.records, t.flowRecords).enumerated() {
            #expect(m.exporter == f.datagram.sourceAddress, "\(ctx): exporter", sourceLocation: sourceLocation)
            comparison.compare(m, r, frame: t, context: "\(ctx) record \(i + 1)", sourceLocation: sourceLocation)
        }
    }
    return (frames, capture, comparison.checkedRecords)
}
