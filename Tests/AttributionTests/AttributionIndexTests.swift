import Attribution
import FlowCodec
import IdentityCodec
import MamoriCore
import Testing

/// Hand-built edge cases of the issue: a port block handed to another subscriber a second later,
/// clock skew between NAT box and exporter, IPv6 prefix delegation, an address reused after a
/// Stop, sessions without a Stop, overlapping claims.
@Suite struct AttributionIndexTests {
    static let t0: Int64 = 1_767_225_600_000 // 2026-01-01T00:00:00Z
    static let nas = IPAddress("198.19.252.1")!

    static func accounting(
        _ status: AccountingStatusType, _ user: String, session: String, address: String? = nil,
        delegated: String? = nil, framed6: String? = nil, at ms: Int64, sessionTime: UInt32? = nil
    ) -> AccountingRecord {
        var r = AccountingRecord(status: status, sessionID: session, eventTime: ms / 1000)
        r.userName = user
        r.nasIPAddress = nas
        r.framedIPAddress = address.flatMap { IPAddress($0) }
        if let delegated { r.delegatedIPv6Prefixes = [IPPrefix(delegated)!] }
        if let framed6 { r.framedIPv6Prefixes = [IPPrefix(framed6)!] }
        r.sessionTime = sessionTime
        return r
    }

    static func block(
        _ kind: NATPortBlockEvent.Kind, inside: String, outside: String = "198.18.0.1", ports: ClosedRange<UInt16>, at ms: Int64
    ) -> NATPortBlockEvent {
        NATPortBlockEvent(
            kind: kind, timeMilliseconds: ms, host: "cgnat1", insideAddress: IPAddress(inside)!, outsideAddress: IPAddress(outside)!,
            firstPort: ports.lowerBound, lastPort: ports.upperBound, allocatedAt: ms / 1000)
    }

    func lookup(_ index: AttributionIndex, _ address: String, port: UInt16? = nil, at ms: Int64) -> Attribution {
        let a = index.lookup(IPAddress(address)!, port: port, at: ms)
        // The allocation-free path must say the same as the one with evidence.
        let fast = index.resolve(IPAddress(address)!, port: port, at: ms)
        #expect(
            fast.outcome == a.outcome && fast.subscriber == a.subscriber && fast.confidence == a.confidence,
            "resolve and lookup disagree for \(address):\(port ?? 0)")
        return a
    }

    @Test("RADIUS Start … Stop: the subscriber during the session, nobody after")
    func radiusSession() {
        var index = AttributionIndex()
        let t0 = Self.t0
        #expect(
            index.apply(Self.accounting(.start, "alice", session: "A1", address: "203.0.113.5", at: t0), from: Self.nas, receivedAt: t0)
                == .added)
        #expect(
            index.apply(
                Self.accounting(.interimUpdate, "alice", session: "A1", address: "203.0.113.5", at: t0 + 600_000, sessionTime: 600),
                from: Self.nas, receivedAt: t0 + 600_000) == .refreshed)
        #expect(
            index.apply(
                Self.accounting(.stop, "alice", session: "A1", address: "203.0.113.5", at: t0 + 900_000, sessionTime: 900), from: Self.nas,
                receivedAt: t0 + 900_000) == .closed)
        let during = lookup(index, "203.0.113.5", at: t0 + 300_000)
        #expect(during.outcome == .attributed)
        #expect(during.subscriber == "alice")
        #expect(during.confidence == 1.0)
        #expect(during.evidence.first?.source == .radius)
        #expect(during.evidence.first?.heldUntil == t0 + 900_000)
        #expect(lookup(index, "203.0.113.5", at: t0 - 10_000).outcome == .unknown)
        #expect(lookup(index, "203.0.113.5", at: t0 + 905_000).outcome == .unknown)
        #expect(lookup(index, "203.0.113.6", at: t0 + 300_000).outcome == .unknown)
        // Within the ±2 s allowance of the Stop: still alice, but weaker.
        let edge = lookup(index, "203.0.113.5", at: t0 + 901_500)
        #expect(edge.subscriber == "alice")
        #expect(edge.confidence == 0.5)
        #expect(edge.evidence.first?.withinSkewOnly == true)
    }

    @Test("an address reused after a Stop belongs to the next subscriber; the gap to nobody")
    func reusedAfterStop() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(Self.accounting(.start, "alice", session: "A1", address: "203.0.113.5", at: t0), from: Self.nas, receivedAt: t0)
        index.apply(
            Self.accounting(.stop, "alice", session: "A1", address: "203.0.113.5", at: t0 + 60_000, sessionTime: 60), from: Self.nas,
            receivedAt: t0 + 60_000)
        index.apply(
            Self.accounting(.start, "bob", session: "B1", address: "203.0.113.5", at: t0 + 70_000), from: Self.nas, receivedAt: t0 + 70_000)
        #expect(lookup(index, "203.0.113.5", at: t0 + 30_000).subscriber == "alice")
        #expect(lookup(index, "203.0.113.5", at: t0 + 65_000).outcome == .unknown)
        #expect(lookup(index, "203.0.113.5", at: t0 + 80_000).subscriber == "bob")
        #expect(lookup(index, "203.0.113.5", at: t0 + 80_000).confidence == 1.0)
    }

    @Test("a session without a Stop ends at the next Start on the address, or after the configured maximum")
    func sessionWithoutStop() {
        var c = AttributionIndex.Configuration()
        c.maximumOpenMilliseconds = 3_600_000
        var index = AttributionIndex(configuration: c)
        let t0 = Self.t0
        index.apply(Self.accounting(.start, "alice", session: "A1", address: "203.0.113.5", at: t0), from: Self.nas, receivedAt: t0)
        index.apply(
            Self.accounting(.start, "bob", session: "B1", address: "203.0.113.5", at: t0 + 600_000), from: Self.nas,
            receivedAt: t0 + 600_000)
        let before = lookup(index, "203.0.113.5", at: t0 + 300_000)
        #expect(before.subscriber == "alice")
        #expect(before.confidence == 0.8)
        #expect(before.evidence.first?.endInferred == true)
        #expect(lookup(index, "203.0.113.5", at: t0 + 700_000).subscriber == "bob")
        // Right at the handover, within the skew allowance, both could hold it.
        #expect(lookup(index, "203.0.113.5", at: t0 + 600_500).outcome == .ambiguous)
        // Bob's session is open: it counts for an hour after its last sign of life, then not.
        #expect(lookup(index, "203.0.113.5", at: t0 + 600_000 + 3_500_000).subscriber == "bob")
        #expect(lookup(index, "203.0.113.5", at: t0 + 600_000 + 3_700_000).outcome == .unknown)
        // An Interim-Update is a sign of life.
        index.apply(
            Self.accounting(.interimUpdate, "bob", session: "B1", address: "203.0.113.5", at: t0 + 3_600_000, sessionTime: 3000),
            from: Self.nas, receivedAt: t0 + 3_600_000)
        #expect(lookup(index, "203.0.113.5", at: t0 + 600_000 + 3_700_000).subscriber == "bob")
    }

    @Test("an Interim-Update whose Start was missed: the session began Acct-Session-Time earlier")
    func interimWithoutStart() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(
            Self.accounting(.interimUpdate, "carol", session: "C1", address: "203.0.113.9", at: t0, sessionTime: 7200), from: Self.nas,
            receivedAt: t0)
        #expect(lookup(index, "203.0.113.9", at: t0 - 3_600_000).subscriber == "carol")
        #expect(lookup(index, "203.0.113.9", at: t0 - 7_300_000).outcome == .unknown)
    }

    @Test("two sessions that both keep reporting the same address: ambiguous, never silently resolved")
    func overlappingClaims() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(Self.accounting(.start, "alice", session: "A1", address: "203.0.113.5", at: t0), from: Self.nas, receivedAt: t0)
        index.apply(
            Self.accounting(.start, "bob", session: "B1", address: "203.0.113.5", at: t0 + 60_000), from: Self.nas, receivedAt: t0 + 60_000)
        index.apply(
            Self.accounting(.interimUpdate, "alice", session: "A1", address: "203.0.113.5", at: t0 + 600_000, sessionTime: 600),
            from: Self.nas, receivedAt: t0 + 600_000)
        let a = lookup(index, "203.0.113.5", at: t0 + 300_000)
        #expect(a.outcome == .ambiguous)
        #expect(Set(a.candidates) == ["alice", "bob"])
        #expect(a.subscriber == nil)
        // A static assignment that disagrees with RADIUS is ambiguous too; one that agrees is not.
        index.add(StaticAssignment(prefix: IPPrefix("203.0.113.64/29")!, subscriber: "acme-corp"))
        index.apply(Self.accounting(.start, "mallory", session: "M1", address: "203.0.113.65", at: t0), from: Self.nas, receivedAt: t0)
        #expect(lookup(index, "203.0.113.66", at: t0).subscriber == "acme-corp")
        #expect(lookup(index, "203.0.113.66", at: t0).confidence == 0.9)
        #expect(lookup(index, "203.0.113.65", at: t0 + 1000).outcome == .ambiguous)
    }

    @Test("Accounting-On from a NAS ends its sessions that began before it")
    func accountingOn() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(Self.accounting(.start, "alice", session: "A1", address: "203.0.113.5", at: t0), from: Self.nas, receivedAt: t0)
        var on = AccountingRecord(status: .accountingOn, eventTime: (t0 + 3_600_000) / 1000)
        on.nasIPAddress = Self.nas
        #expect(index.apply(on, from: Self.nas, receivedAt: t0 + 3_600_000) == .closed)
        #expect(lookup(index, "203.0.113.5", at: t0 + 1_800_000).subscriber == "alice")
        #expect(lookup(index, "203.0.113.5", at: t0 + 3_700_000).outcome == .unknown)
        #expect(index.openSessionCount == 0)
    }

    @Test("IPv6: a Delegated-IPv6-Prefix /56 and a Framed-IPv6-Prefix /64 cover every address inside them")
    func ipv6Prefixes() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(
            Self.accounting(.start, "alice", session: "A1", address: "100.64.0.7", delegated: "2001:db8:100::/56", at: t0), from: Self.nas,
            receivedAt: t0)
        index.apply(
            Self.accounting(.start, "phone-1", session: "P1", framed6: "2001:db8:ff00:1::/64", at: t0), from: Self.nas, receivedAt: t0)
        #expect(lookup(index, "2001:db8:100:ab::1234", at: t0 + 1000).subscriber == "alice")
        #expect(lookup(index, "2001:db8:100:ab::1234", at: t0 + 1000).evidence.first?.matched == "2001:db8:100::/56")
        #expect(lookup(index, "2001:db8:1ff::1", at: t0 + 1000).outcome == .unknown)
        #expect(lookup(index, "2001:db8:ff00:1:aaaa::1", at: t0 + 1000).subscriber == "phone-1")
        #expect(lookup(index, "2001:db8:ff00:2::1", at: t0 + 1000).outcome == .unknown)
        #expect(lookup(index, "100.64.0.7", at: t0 + 1000).subscriber == "alice")
    }

    @Test("Kea: DHCPv4 lease renewals extend, another client ends it, prefix delegation /56")
    func keaLeases() {
        var index = AttributionIndex()
        let t0s = Self.t0 / 1000
        var l = KeaLeaseFile.Lease4(
            address: IPAddress("203.0.113.20")!, hardwareAddress: "02:00:5e:00:00:01", validLifetime: 3600, expire: t0s + 3600, subnetID: 1)
        l.userContext = "{ \"account\": \"cust-00000001\" }"
        #expect(index.apply(l) == .added)
        l.expire = t0s + 1800 + 3600 // renewed at T1
        #expect(index.apply(l) == .refreshed)
        #expect(lookup(index, "203.0.113.20", at: Self.t0 + 4_000_000).subscriber == "cust-00000001")
        // Another client gets the address after the first lease lapsed.
        let other = KeaLeaseFile.Lease4(
            address: IPAddress("203.0.113.20")!, hardwareAddress: "02:00:5e:00:00:02", validLifetime: 3600, expire: t0s + 6000 + 3600,
            subnetID: 1)
        #expect(index.apply(other) == .added)
        #expect(lookup(index, "203.0.113.20", at: Self.t0 + 5_300_000).subscriber == "cust-00000001")
        #expect(lookup(index, "203.0.113.20", at: Self.t0 + 5_500_000).outcome == .unknown)
        #expect(lookup(index, "203.0.113.20", at: Self.t0 + 6_100_000).subscriber == "hwaddr:02:00:5e:00:00:02")
        // Released: it ends at the row's time.
        var released = other
        released.validLifetime = 0
        released.expire = t0s + 7000
        released.state = .released
        #expect(index.apply(released) == .closed)
        #expect(lookup(index, "203.0.113.20", at: Self.t0 + 7_100_000).outcome == .unknown)

        var pd = KeaLeaseFile.Lease6(
            address: IPAddress("2001:db8:200::")!, duid: "00:03:00:01:02:00:5e:00:00:03", validLifetime: 7200, expire: t0s + 7200,
            subnetID: 2, preferredLifetime: 3600, type: .prefix, iaid: 1, prefixLength: 56)
        pd.userContext = "{ \"account\": \"cust-00000003\" }"
        index.apply(pd)
        #expect(lookup(index, "2001:db8:200:ff:1::9", at: Self.t0 + 60_000).subscriber == "cust-00000003")
        #expect(lookup(index, "2001:db8:201::1", at: Self.t0 + 60_000).outcome == .unknown)
    }

    @Test("CGNAT: a port block handed to another subscriber one second later; the port decides, the skew margin is ambiguous")
    func portBlockHandover() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(
            Self.accounting(.start, "alice", session: "A1", address: "100.64.0.1", at: t0 - 86_000_000), from: Self.nas, receivedAt: t0)
        index.apply(
            Self.accounting(.start, "bob", session: "B1", address: "100.64.0.2", at: t0 - 86_000_000), from: Self.nas, receivedAt: t0)
        index.apply(
            Self.accounting(.start, "carol", session: "C1", address: "100.64.0.3", at: t0 - 86_000_000), from: Self.nas, receivedAt: t0)
        index.apply(Self.block(.allocate, inside: "100.64.0.1", ports: 1024...2031, at: t0))
        index.apply(Self.block(.allocate, inside: "100.64.0.3", ports: 2032...3039, at: t0))
        index.apply(Self.block(.release, inside: "100.64.0.1", ports: 1024...2031, at: t0 + 600_000))
        index.apply(Self.block(.allocate, inside: "100.64.0.2", ports: 1024...2031, at: t0 + 601_000))
        // Without a port a public CGNAT address names nobody.
        let noPort = lookup(index, "198.18.0.1", at: t0 + 300_000)
        #expect(noPort.outcome == .ambiguous)
        #expect(noPort.reason.contains("port"))
        let before = lookup(index, "198.18.0.1", port: 1500, at: t0 + 300_000)
        #expect(before.subscriber == "alice")
        #expect(before.evidence.first?.insideAddress == IPAddress("100.64.0.1"))
        #expect(before.evidence.first?.source == .natSyslog)
        #expect(lookup(index, "198.18.0.1", port: 2500, at: t0 + 300_000).subscriber == "carol")
        #expect(lookup(index, "198.18.0.1", port: 1500, at: t0 + 605_000).subscriber == "bob")
        // 600.5 s: alice's block ended 0.5 s before, bob's began 0.5 s after; with ±2 s skew either.
        let handover = lookup(index, "198.18.0.1", port: 1500, at: t0 + 600_500)
        #expect(handover.outcome == .ambiguous)
        #expect(Set(handover.candidates) == ["alice", "bob"])
        // A port outside every block, and a time before any allocation.
        #expect(lookup(index, "198.18.0.1", port: 5000, at: t0 + 300_000).outcome == .unknown)
        #expect(lookup(index, "198.18.0.1", port: 1500, at: t0 - 60_000).outcome == .unknown)
    }

    @Test("CGNAT: the NAT box's clock 2 s behind or ahead of the exporter's still attributes, with less confidence")
    func clockSkew() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(
            Self.accounting(.start, "alice", session: "A1", address: "100.64.0.1", at: t0 - 3_600_000), from: Self.nas, receivedAt: t0)
        // The NAT box logs the allocation 2 s late: the first flow (exporter time t0) precedes it.
        index.apply(Self.block(.allocate, inside: "100.64.0.1", ports: 1024...2031, at: t0 + 2_000))
        let early = lookup(index, "198.18.0.1", port: 1030, at: t0)
        #expect(early.subscriber == "alice")
        #expect(early.confidence == 0.5)
        #expect(lookup(index, "198.18.0.1", port: 1030, at: t0 - 2_500).outcome == .unknown)
        // … and releases 2 s early: the last flow still belongs to alice.
        index.apply(Self.block(.release, inside: "100.64.0.1", ports: 1024...2031, at: t0 + 60_000))
        #expect(lookup(index, "198.18.0.1", port: 1030, at: t0 + 62_000).subscriber == "alice")
        #expect(lookup(index, "198.18.0.1", port: 1030, at: t0 + 62_500).outcome == .unknown)
        #expect(lookup(index, "198.18.0.1", port: 1030, at: t0 + 30_000).confidence == 1.0)
    }

    @Test("CGNAT: a translation to an inside address nobody holds is unknown, and says which inside address")
    func translationWithoutHolder() {
        var index = AttributionIndex()
        index.apply(Self.block(.allocate, inside: "100.64.9.9", ports: 1024...2031, at: Self.t0))
        let a = lookup(index, "198.18.0.1", port: 1100, at: Self.t0 + 1000)
        #expect(a.outcome == .unknown)
        #expect(a.evidence.first?.insideAddress == IPAddress("100.64.9.9"))
        #expect(a.reason.contains("100.64.9.9"))
    }

    @Test("IPFIX NAT events (RFC 8158): port block allocation/de-allocation and NAT44 sessions")
    func ipfixNATEvents() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(Self.accounting(.start, "alice", session: "A1", address: "100.64.0.1", at: t0 - 1000), from: Self.nas, receivedAt: t0)
        index.apply(Self.accounting(.start, "dave", session: "D1", address: "100.64.0.4", at: t0 - 1000), from: Self.nas, receivedAt: t0)
        func event(_ e: UInt8, inside: String, start: UInt16 = 0, end: UInt16 = 0, postPort: UInt16 = 0, at ms: Int64) -> FlowRecord {
            var nat = NATFields()
            nat.event = e
            nat.postSourceAddress = IPAddress("198.18.0.2")
            nat.portRangeStart = start
            nat.portRangeEnd = end
            nat.postSourcePort = postPort
            return FlowRecord(
                exporter: IPAddress("198.19.253.1")!, sourceAddress: IPAddress(inside)!, startMilliseconds: ms, endMilliseconds: ms,
                nat: nat)
        }
        #expect(index.apply(natEvent: event(NATFields.portBlockAllocation, inside: "100.64.0.1", start: 4096, end: 5119, at: t0)) == .added)
        #expect(index.apply(natEvent: event(NATFields.nat44SessionCreate, inside: "100.64.0.4", postPort: 40000, at: t0)) == .added)
        #expect(
            index.apply(natEvent: event(NATFields.nat44SessionDelete, inside: "100.64.0.4", postPort: 40000, at: t0 + 30_000)) == .closed)
        #expect(
            index.apply(natEvent: event(NATFields.portBlockDeallocation, inside: "100.64.0.1", start: 4096, end: 5119, at: t0 + 60_000))
                == .closed)
        #expect(index.apply(natEvent: FlowRecord(exporter: IPAddress("192.0.2.1")!, sourceAddress: IPAddress("100.64.0.1")!)) == .ignored)
        #expect(lookup(index, "198.18.0.2", port: 4100, at: t0 + 10_000).subscriber == "alice")
        #expect(lookup(index, "198.18.0.2", port: 4100, at: t0 + 10_000).evidence.first?.source == .natEvent)
        #expect(lookup(index, "198.18.0.2", port: 40000, at: t0 + 10_000).subscriber == "dave")
        #expect(lookup(index, "198.18.0.2", port: 40000, at: t0 + 40_000).outcome == .unknown)
    }

    @Test("deterministic CGNAT (RFC 7422): computed from the pool alone, both ways")
    func deterministicNAT() throws {
        let pool = try DeterministicNAT(inside: IPPrefix("100.64.0.0/20")!, outside: IPPrefix("198.51.100.0/24")!, portsPerSubscriber: 4032)
        #expect(pool.blocksPerAddress == 16)
        let b = try #require(pool.block(of: IPAddress("100.64.0.17")!))
        #expect(b.outside == IPAddress("198.51.100.1"))
        #expect(b.ports == 5056...9087)
        #expect(pool.insideAddress(for: IPAddress("198.51.100.1")!, port: 5056) == IPAddress("100.64.0.17"))
        #expect(pool.insideAddress(for: IPAddress("198.51.100.1")!, port: 9087) == IPAddress("100.64.0.17"))
        #expect(pool.insideAddress(for: IPAddress("198.51.100.1")!, port: 9088) == IPAddress("100.64.0.18"))
        #expect(pool.insideAddress(for: IPAddress("198.51.100.1")!, port: 80) == nil)
        // Every inside address maps to a distinct block and back.
        var seen = Set<String>()
        for i in 0..<4096 as Range<UInt32> {
            let inside = IPAddress.v4(0x6440_0000 + i)
            let blk = try #require(pool.block(of: inside))
            #expect(seen.insert("\(blk.outside):\(blk.ports.lowerBound)").inserted)
            #expect(pool.insideAddress(for: blk.outside, port: blk.ports.upperBound) == inside)
        }
        #expect(throws: DeterministicNAT.ConfigurationError.self) {
            try DeterministicNAT(inside: IPPrefix("100.64.0.0/16")!, outside: IPPrefix("198.51.100.0/24")!, portsPerSubscriber: 4032)
        }
        var c = AttributionIndex.Configuration()
        c.deterministicNAT = [pool]
        var index = AttributionIndex(configuration: c)
        index.apply(
            Self.accounting(.start, "erin", session: "E1", address: "100.64.0.17", at: Self.t0), from: Self.nas, receivedAt: Self.t0)
        let a = lookup(index, "198.51.100.1", port: 6000, at: Self.t0 + 1000)
        #expect(a.subscriber == "erin")
        #expect(a.evidence.first?.source == .deterministicNAT)
        #expect(lookup(index, "198.51.100.1", at: Self.t0 + 1000).outcome == .ambiguous)
    }

    @Test("static assignments CSV: parsed with validity, refused whole with the line on an error")
    func staticAssignments() throws {
        let text = """
            # business lines, exported 2026-11-01
            prefix,subscriber,valid_from,valid_until
            192.0.2.0/28,biz-0001,2026-01-01T00:00:00Z,
            2001:db8:beef::/48,biz-0002,,2026-06-01T00:00:00Z
            """
        let list = try StaticAssignment.parse(text[...])
        #expect(list.count == 2)
        #expect(list[0].validFrom == Self.t0 && list[0].validUntil == nil)
        var index = AttributionIndex()
        for r in list { index.add(r) }
        #expect(lookup(index, "192.0.2.9", at: Self.t0 + 1).subscriber == "biz-0001")
        #expect(lookup(index, "192.0.2.9", at: Self.t0 - 10_000).outcome == .unknown)
        #expect(lookup(index, "2001:db8:beef:1::1", at: Self.t0).subscriber == "biz-0002")
        let bad = #expect(throws: StaticAssignment.ParseError.self) {
            try StaticAssignment.parse("prefix,subscriber\n192.0.2.0/28,a\n192.0.2.300/32,b\n")
        }
        #expect(bad?.line == 3)
        #expect(throws: StaticAssignment.ParseError.self) { try StaticAssignment.parse("address,who\n192.0.2.1,a\n") }
        #expect(throws: StaticAssignment.ParseError.self) {
            try StaticAssignment.parse("prefix,subscriber,valid_from\n192.0.2.1,a,yesterday\n")
        }
    }

    @Test("retention: claims that ended before the cutoff are gone, the rest still answer")
    func retention() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(Self.accounting(.start, "alice", session: "A1", address: "203.0.113.5", at: t0), from: Self.nas, receivedAt: t0)
        index.apply(
            Self.accounting(.stop, "alice", session: "A1", address: "203.0.113.5", at: t0 + 60_000, sessionTime: 60), from: Self.nas,
            receivedAt: t0)
        index.apply(
            Self.accounting(.start, "bob", session: "B1", address: "203.0.113.5", at: t0 + 70_000), from: Self.nas, receivedAt: t0 + 70_000)
        index.apply(Self.block(.allocate, inside: "203.0.113.5", ports: 1024...2047, at: t0))
        #expect(index.count == 3)
        #expect(index.forget(endedBefore: t0 + 65_000) == 1)
        #expect(index.count == 2)
        #expect(index.subscriberCount == 1)
        #expect(lookup(index, "203.0.113.5", at: t0 + 30_000).outcome == .unknown)
        #expect(lookup(index, "203.0.113.5", at: t0 + 80_000).subscriber == "bob")
        #expect(lookup(index, "198.18.0.1", port: 1100, at: t0 + 80_000).subscriber == "bob")
        // Bob's open session still counts, and still closes with its Stop after the rebuild.
        index.apply(
            Self.accounting(.stop, "bob", session: "B1", address: "203.0.113.5", at: t0 + 90_000, sessionTime: 20), from: Self.nas,
            receivedAt: t0 + 90_000)
        #expect(lookup(index, "203.0.113.5", at: t0 + 95_000).outcome == .unknown)
    }

    @Test("pseudonyms: stable per key, different across keys and subscribers, not the identifier")
    func pseudonyms() {
        let a = SubscriberPseudonymizer(key: Array("key-one".utf8))
        let b = SubscriberPseudonymizer(key: Array("key-two".utf8))
        #expect(a.pseudonym("cust-00000001") == a.pseudonym("cust-00000001"))
        #expect(a.pseudonym("cust-00000001") != a.pseudonym("cust-00000002"))
        #expect(a.pseudonym("cust-00000001") != b.pseudonym("cust-00000001"))
        #expect(a.pseudonym("cust-00000001").hasPrefix("s:") && a.pseudonym("cust-00000001").count == 18)
        #expect(!a.pseudonym("cust-00000001").contains("cust"))
    }
}
