import Attribution
import FlowCodec
import IdentityCodec
import MamoriCore
import Testing

/// The attribution index facing times nobody should send — in questions (the API's `at`) and in
/// identity data (RADIUS Event-Timestamp, Kea lease expiry, syslog, NAT events, static
/// assignments): no trap, a refusal the caller can count, and every good claim still answered.
@Suite struct HostileTimeTests {
    static let t0 = AttributionIndexTests.t0
    static let extremes: [Int64] = [.max, .min, -1, 0, 1, 9_214_646_400_000, FlowTimeWindow.latestMilliseconds + 1, Int64.max / 1000 + 1]

    /// An index holding one RADIUS session and one CGNAT port block, for the questions below.
    static func populated() -> AttributionIndex {
        var index = AttributionIndex()
        index.apply(
            AttributionIndexTests.accounting(.start, "alice", session: "s1", address: "100.64.0.7", at: t0),
            from: AttributionIndexTests.nas, receivedAt: t0)
        index.apply(AttributionIndexTests.block(.allocate, inside: "100.64.0.7", ports: 1024...2047, at: t0))
        return index
    }

    @Test(
        "a question at 9223372036854775807 about an address with a claim is answered 'unknown', not a crash (holdingCandidates regression)")
    func questionAtMaximum() {
        let index = Self.populated()
        for time in Self.extremes where !FlowTimeWindow.isSane(time) {
            for port: UInt16? in [nil, 1500, 0, .max] {
                for address in ["100.64.0.7", "198.18.0.1"] {
                    let a = index.lookup(IPAddress(address)!, port: port, at: time)
                    #expect(a.outcome == .unknown, "\(address):\(port ?? 0) at \(time)")
                    #expect(a.reason.contains("outside 1970–2100"))
                    #expect(index.resolve(IPAddress(address)!, port: port, at: time).outcome == .unknown)
                }
            }
        }
        // The batch path (prefetching walk) too, with good questions among the bad in one batch.
        var answers: [AttributionIndex.Resolution] = []
        let queries =
            Self.extremes.map { AttributionQuery(IPAddress("198.18.0.1")!, port: 1500, at: $0) } + [
                AttributionQuery(IPAddress("198.18.0.1")!, port: 1500, at: Self.t0 + 1000)
            ]
        index.resolve(queries, into: &answers)
        #expect(answers.count == queries.count)
        #expect(answers.last?.subscriber == "alice")
        // …and the good question is still answered.
        #expect(index.lookup(IPAddress("100.64.0.7")!, at: Self.t0 + 1000).subscriber == "alice")
    }

    @Test("identity data with extreme times is refused (Change.rejected), and changes no answer")
    func extremeIdentityData() {
        var index = Self.populated()
        let before = index.count
        let nas = AttributionIndexTests.nas
        for t in Self.extremes where !FlowTimeWindow.isSane(t) {
            // RADIUS: an Event-Timestamp of any 64-bit value, received at any time.
            var r = AttributionIndexTests.accounting(.start, "mallory", session: "m\(t)", address: "100.64.0.7", at: 0)
            r.eventTime = t
            #expect(index.apply(r, from: nas, receivedAt: Self.t0) == .rejected)
            r.eventTime = nil
            #expect(index.apply(r, from: nas, receivedAt: t) == .rejected)
            // Kea leases expiring at any 64-bit second.
            let lease4 = KeaLeaseFile.Lease4(
                address: IPAddress("100.64.0.7")!, hardwareAddress: "02:00:00:00:00:01", validLifetime: 3600, expire: t, subnetID: 1)
            #expect(index.apply(lease4) == .rejected)
            let lease6 = KeaLeaseFile.Lease6(
                address: IPAddress("2001:db8::7")!, duid: "00:01", validLifetime: 3600, expire: t, subnetID: 1, preferredLifetime: 3600,
                type: .prefix, iaid: 1, prefixLength: 56)
            #expect(index.apply(lease6) == .rejected)
            // CGNAT syslog and IPFIX NAT events.
            #expect(index.apply(AttributionIndexTests.block(.allocate, inside: "100.64.0.9", ports: 1024...2047, at: t)) == .rejected)
            var nat = NATFields()
            nat.event = NATFields.portBlockAllocation
            nat.postSourceAddress = IPAddress("198.18.0.1")!
            nat.portRangeStart = 1024
            nat.portRangeEnd = 2047
            let event = FlowRecord(sourceAddress: IPAddress("100.64.0.9")!, startMilliseconds: t, endMilliseconds: t, nat: nat)
            #expect(index.apply(natEvent: event) == .rejected)
            // A static assignment valid from or until any time.
            #expect(index.add(StaticAssignment(prefix: IPPrefix("203.0.113.0/28")!, subscriber: "mallory", validFrom: t)) == .rejected)
            #expect(index.add(StaticAssignment(prefix: IPPrefix("203.0.113.0/28")!, subscriber: "mallory", validUntil: t)) == .rejected)
        }
        #expect(index.count == before, "no claim was added")
        #expect(index.lookup(IPAddress("100.64.0.7")!, at: Self.t0 + 1000).subscriber == "alice")
        #expect(index.lookup(IPAddress("198.18.0.1")!, port: 1500, at: Self.t0 + 1000).subscriber == "alice")
    }
}

/// The claim limit per source: a source that sends without end fills only its own share.
@Suite struct ClaimLimitTests {
    @Test("beyond maximumClaimsPerSource a source's new claims are refused and counted; other sources and existing claims are unaffected")
    func perSourceLimit() {
        var configuration = AttributionIndex.Configuration()
        configuration.maximumClaimsPerSource = 100
        var index = AttributionIndex(configuration: configuration)
        let t0 = AttributionIndexTests.t0
        var refused = 0
        for i in 0..<1_000 {
            let e = NATPortBlockEvent(
                kind: .allocate, timeMilliseconds: t0 + Int64(i), host: "cgnat1", insideAddress: .v4(0x6440_0000 + UInt32(i)),
                outsideAddress: .v4(0xC612_0000 + UInt32(i)), firstPort: 1024, lastPort: 2047, allocatedAt: 0)
            if index.apply(e) == .refusedFull { refused += 1 }
        }
        #expect(index.claimCount(from: .natSyslog) == 100)
        #expect(refused == 900)
        // RADIUS has its own share.
        let r = AttributionIndexTests.accounting(.start, "alice", session: "s1", address: "100.64.9.7", at: t0)
        #expect(index.apply(r, from: AttributionIndexTests.nas, receivedAt: t0) == .added)
        #expect(index.lookup(IPAddress("100.64.9.7")!, at: t0 + 1000).subscriber == "alice")
        // Retention frees room again.
        _ = index.forget(endedBefore: t0 + 40 * 86_400_000)
        #expect(index.claimCount(from: .natSyslog) == 0)
    }
}
