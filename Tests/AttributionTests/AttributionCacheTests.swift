import Attribution
import FlowCodec
import IdentityCodec
import MamoriCore
import Testing

/// What the fast path caches — a translation's holding-chain head, the port range copied into a
/// chain link — and the batch API must never change an answer: ``AttributionIndex/resolve(_:port:at:)``
/// and ``AttributionIndex/resolve(_:into:)`` must say what the evidence path,
/// ``AttributionIndex/lookup(_:port:at:)`` (which uses none of it), says — after sessions change
/// behind a cached translation, after ``AttributionIndex/forget(endedBefore:)`` renumbers the
/// claims and after a snapshot is read back.
@Suite struct AttributionCacheTests {
    static let t0: Int64 = 1_767_225_600_000 // 2026-01-01T00:00:00Z
    static let nas = IPAddress("198.19.252.1")!

    /// Checks one question three ways and returns the evidence path's answer.
    @discardableResult
    static func check(_ index: AttributionIndex, _ q: AttributionQuery, _ note: @autoclosure () -> String = "") -> Attribution {
        let slow = index.lookup(q.address, port: q.port, at: q.time)
        let fast = index.resolve(q.address, port: q.port, at: q.time)
        var batched: [AttributionIndex.Resolution] = []
        index.resolve([q], into: &batched)
        #expect(
            fast.outcome == slow.outcome && fast.subscriber == slow.subscriber && fast.confidence == slow.confidence,
            "resolve \(fast) ≠ lookup \(slow.outcome) \(slow.subscriber ?? "-") \(slow.confidence) for \(q.address) port \(q.port ?? 0) at \(q.time) \(note())"
        )
        #expect(batched.count == 1 && batched[0] == fast, "batched \(batched) ≠ single \(fast) \(note())")
        return slow
    }

    static func accounting(
        _ status: AccountingStatusType, _ user: String, session: String, address: String, at ms: Int64, sessionTime: UInt32? = nil
    ) -> AccountingRecord {
        var r = AccountingRecord(status: status, sessionID: session, eventTime: ms / 1000)
        r.userName = user
        r.nasIPAddress = nas
        r.framedIPAddress = IPAddress(address)
        r.sessionTime = sessionTime
        return r
    }

    static func block(_ kind: NATPortBlockEvent.Kind, inside: String, ports: ClosedRange<UInt16>, at ms: Int64) -> NATPortBlockEvent {
        NATPortBlockEvent(
            kind: kind, timeMilliseconds: ms, host: "cgnat1", insideAddress: IPAddress(inside)!, outsideAddress: IPAddress("198.18.0.1")!,
            firstPort: ports.lowerBound, lastPort: ports.upperBound, allocatedAt: ms / 1000)
    }

    @Test("an inside address whose session changes after its port block was logged: the new holder, the old one, the skew margin")
    func sessionChangesBehindTranslation() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(
            Self.accounting(.start, "alice", session: "A1", address: "100.64.0.1", at: t0 - 3_600_000), from: Self.nas,
            receivedAt: t0 - 3_600_000)
        index.apply(Self.block(.allocate, inside: "100.64.0.1", ports: 1024...2031, at: t0)) // caches alice's claim
        func who(_ ms: Int64) -> Attribution { Self.check(index, AttributionQuery(IPAddress("198.18.0.1")!, port: 1500, at: ms)) }
        #expect(who(t0 + 60_000).subscriber == "alice")
        // Alice stops, and bob gets the same inside address a second later: a newer claim heads the chain.
        index.apply(
            Self.accounting(.stop, "alice", session: "A1", address: "100.64.0.1", at: t0 + 600_000, sessionTime: 4200), from: Self.nas,
            receivedAt: t0 + 600_000)
        index.apply(
            Self.accounting(.start, "bob", session: "B1", address: "100.64.0.1", at: t0 + 601_000), from: Self.nas, receivedAt: t0 + 601_000
        )
        #expect(who(t0 + 300_000).subscriber == "alice")
        #expect(who(t0 + 700_000).subscriber == "bob")
        #expect(who(t0 + 600_500).outcome == .ambiguous)
        // An interim log of the block refreshes the cache; the answers stay.
        index.apply(Self.block(.active, inside: "100.64.0.1", ports: 1024...2031, at: t0 + 900_000))
        #expect(who(t0 + 300_000).subscriber == "alice")
        #expect(who(t0 + 950_000).subscriber == "bob")
        // Carol's Start without bob's Stop ends bob's session where hers begins (end inferred).
        index.apply(
            Self.accounting(.start, "carol", session: "C1", address: "100.64.0.1", at: t0 + 1_200_000), from: Self.nas,
            receivedAt: t0 + 1_200_000)
        let bob = who(t0 + 1_000_000)
        #expect(bob.subscriber == "bob" && bob.confidence == 0.8)
        #expect(who(t0 + 1_300_000).subscriber == "carol")
        #expect(who(t0 + 1_201_000).outcome == .ambiguous)
    }

    @Test("a port block logged before its inside address's session; a Stop followed by address reuse")
    func translationBeforeSession() {
        var index = AttributionIndex()
        let t0 = Self.t0
        index.apply(Self.block(.allocate, inside: "100.64.0.7", ports: 4096...5103, at: t0)) // nothing to cache yet
        func who(_ ms: Int64) -> Attribution { Self.check(index, AttributionQuery(IPAddress("198.18.0.1")!, port: 4100, at: ms)) }
        #expect(who(t0 + 1000).outcome == .unknown)
        index.apply(
            Self.accounting(.start, "dave", session: "D1", address: "100.64.0.7", at: t0 + 5_000), from: Self.nas, receivedAt: t0 + 5_000)
        #expect(who(t0 + 60_000).subscriber == "dave")
        index.apply(
            Self.accounting(.stop, "dave", session: "D1", address: "100.64.0.7", at: t0 + 120_000, sessionTime: 115), from: Self.nas,
            receivedAt: t0 + 120_000)
        index.apply(
            Self.accounting(.start, "erin", session: "E1", address: "100.64.0.7", at: t0 + 180_000), from: Self.nas,
            receivedAt: t0 + 180_000)
        #expect(who(t0 + 60_000).subscriber == "dave")
        #expect(who(t0 + 150_000).outcome == .unknown)
        #expect(who(t0 + 200_000).subscriber == "erin")
        // Retention renumbers every claim: what was cached must follow.
        #expect(index.forget(endedBefore: t0 + 150_000) == 1)
        #expect(who(t0 + 60_000).outcome == .unknown)
        #expect(who(t0 + 200_000).subscriber == "erin")
        let restored = try? AttributionIndex(snapshot: index.snapshot())
        #expect(
            restored.map { Self.check($0, AttributionQuery(IPAddress("198.18.0.1")!, port: 4100, at: t0 + 200_000)).subscriber } == "erin")
    }

    @Test("random indexes: the fast path, the batch and the evidence path agree on every lookup", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomAgreement(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var index = AttributionIndex()
        // Small pools, so that addresses, ports and sessions collide, and times within the ±2 s skew.
        let users = (0..<10).map { "user-\($0)" }
        let insides = (0..<12).map { IPAddress.v4(0x6440_0000 + UInt32($0)) }
        let insidesV6 = (0..<3).map { IPAddress.v6(high: 0xFD00_0000_0000_0000, low: UInt64($0) + 1) }
        let publics = [IPAddress.v4(0xC612_0001), IPAddress.v4(0xC612_0002)]
        let prefixes = (0..<6).map { IPPrefix(address: .v6(high: 0x2001_0DB8_0000_0000 | UInt64($0) << 8, low: 0), length: 56)! }
        var open: [(session: String, user: String, address: IPAddress, prefix: IPPrefix?, start: Int64)] = []
        var blocks: [(inside: IPAddress, outside: IPAddress, ports: ClosedRange<UInt16>)] = []
        var t = Self.t0
        var checked = 0
        var attributed = 0
        var sessionNumber = 0

        func randomQuery() -> AttributionQuery {
            let at = t - Int64(pick(900_000)) + Int64(pick(6_000))
            switch pick(6) {
            case 0, 1:
                let port =
                    blocks.isEmpty || pick(4) == 0 ? UInt16(pick(65536)) : blocks[pick(blocks.count)].ports.lowerBound + UInt16(pick(300))
                return AttributionQuery(publics[pick(publics.count)], port: pick(10) == 0 ? nil : port, at: at)
            case 2: return AttributionQuery(insides[pick(insides.count)], at: at)
            case 3: return AttributionQuery(insidesV6[pick(insidesV6.count)], at: at)
            case 4:
                return AttributionQuery(.v6(high: prefixes[pick(prefixes.count)].network.high | UInt64(pick(256)), low: rng.next()), at: at)
            default: return AttributionQuery(.v4(0xCB00_7100 + UInt32(pick(8))), at: at) // mostly nobody's, or a static line
            }
        }

        for step in 0..<600 {
            t += Int64(pick(4) == 0 ? pick(4_000) : pick(120_000))
            switch pick(10) {
            case 0, 1: // a new session, perhaps on an address someone else still holds
                sessionNumber += 1
                let user = users[pick(users.count)]
                let address = insides[pick(insides.count)]
                let prefix = pick(2) == 0 ? prefixes[pick(prefixes.count)] : nil
                var r = Self.accounting(.start, user, session: "S\(sessionNumber)", address: "\(address)", at: t)
                if let prefix { r.delegatedIPv6Prefixes = [prefix] }
                index.apply(r, from: Self.nas, receivedAt: t)
                open.append((session: "S\(sessionNumber)", user: user, address: address, prefix: prefix, start: t))
            case 2: // an interim or a Stop
                guard !open.isEmpty else { break }
                let k = pick(open.count)
                let s = open[k]
                let stop = pick(2) == 0
                index.apply(
                    Self.accounting(
                        stop ? .stop : .interimUpdate, s.user, session: s.session, address: "\(s.address)", at: t,
                        sessionTime: UInt32((t - s.start) / 1000)), from: Self.nas, receivedAt: t)
                if stop { open.remove(at: k) }
            case 3, 4: // a port block on a public address (syslog or IPFIX), maybe overlapping another's
                let inside = pick(5) == 0 ? insidesV6[pick(insidesV6.count)] : insides[pick(insides.count)]
                let outside = publics[pick(publics.count)]
                let first = UInt16(1024 + pick(8) * 512)
                let ports = first...(first + UInt16([511, 1007, 2047][pick(3)]))
                if pick(2) == 0 {
                    index.apply(
                        NATPortBlockEvent(
                            kind: .allocate, timeMilliseconds: t, host: "cgnat1", insideAddress: inside, outsideAddress: outside,
                            firstPort: ports.lowerBound, lastPort: ports.upperBound, allocatedAt: t / 1000))
                } else {
                    var nat = NATFields()
                    nat.event = NATFields.portBlockAllocation
                    nat.postSourceAddress = outside
                    nat.portRangeStart = ports.lowerBound
                    nat.portRangeEnd = ports.upperBound
                    index.apply(
                        natEvent: FlowRecord(
                            exporter: IPAddress("198.19.253.1")!, sourceAddress: inside, startMilliseconds: t, endMilliseconds: t, nat: nat)
                    )
                }
                blocks.append((inside: inside, outside: outside, ports: ports))
            case 5: // an interim log or a release of a known block
                guard !blocks.isEmpty else { break }
                let k = pick(blocks.count)
                let b = blocks[k]
                let kind: NATPortBlockEvent.Kind = pick(2) == 0 ? .active : .release
                index.apply(
                    NATPortBlockEvent(
                        kind: kind, timeMilliseconds: t, host: "cgnat1", insideAddress: b.inside, outsideAddress: b.outside,
                        firstPort: b.ports.lowerBound, lastPort: b.ports.upperBound, allocatedAt: t / 1000))
                if kind == .release { blocks.remove(at: k) }
            case 6: // a DHCPv4 lease (renewal, another client, or a release) on an inside address
                var lease = KeaLeaseFile.Lease4(
                    address: insides[pick(insides.count)], hardwareAddress: "02:00:00:00:00:0\(pick(4))",
                    validLifetime: 600, expire: t / 1000 + 600, subnetID: 1)
                if pick(4) == 0 { lease.state = .released }
                index.apply(lease)
            case 7: // a DHCPv6 address on an IPv6 inside address
                index.apply(
                    KeaLeaseFile.Lease6(
                        address: insidesV6[pick(insidesV6.count)], duid: "00:0\(pick(3))", validLifetime: 900,
                        expire: t / 1000 + 900, subnetID: 1, preferredLifetime: 600, type: .address, iaid: 1, prefixLength: 128))
            case 8: // a static business line, a /30 over some inside addresses, or over nobody's
                if pick(4) == 0 {
                    let network: UInt32 = pick(2) == 0 ? 0x6440_0004 : 0xCB00_7104
                    index.add(
                        StaticAssignment(
                            prefix: IPPrefix(address: .v4(network), length: 30)!, subscriber: "biz-\(pick(2))",
                            validFrom: t - Int64(pick(600_000)), validUntil: pick(2) == 0 ? nil : t + Int64(pick(600_000))))
                }
            default:
                break
            }
            if step % 50 == 49 {
                // Retention renumbers the claims; sometimes also a restart from the snapshot.
                index.forget(endedBefore: t - 1_800_000)
                if pick(2) == 0 { index = try AttributionIndex(snapshot: index.snapshot()) }
            }
            if step % 5 == 4 {
                var queries: [AttributionQuery] = []
                for _ in 0..<25 {
                    let q = randomQuery()
                    queries.append(q)
                    if Self.check(index, q, "seed \(seed) step \(step)").outcome == .attributed { attributed += 1 }
                    checked += 1
                }
                // And the same questions as one batch (the group size is 16: a full group and a tail).
                var batched: [AttributionIndex.Resolution] = []
                index.resolve(queries, into: &batched)
                for (q, b) in zip(queries, batched) {
                    let single = index.resolve(q.address, port: q.port, at: q.time)
                    #expect(b == single, "seed \(seed) step \(step): batched \(b) ≠ single \(single) for \(q.address) port \(q.port ?? 0)")
                }
            }
        }
        #expect(checked == 3000)
        // The input must make the paths work: enough answers name someone.
        #expect(attributed > 300, "only \(attributed) of \(checked) lookups attributed")
    }
}
