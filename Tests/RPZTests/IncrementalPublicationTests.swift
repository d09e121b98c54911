import DNSWire
import FlowCodec
import RPZ
import Testing

/// `RPZPublication.publish` renders only the changed entries: the same zone, serials and steps
/// as rendering the whole policy after every batch.
@Suite struct IncrementalPublicationTests {
    static let configuration = Fixture.zoneConfiguration

    /// The old way: the whole sinkhole zone rendered and diffed.
    static func rerender(_ history: inout RPZZoneHistory, _ policy: SinkholePolicy) -> JournalStep? {
        history.update(to: RPZRenderer.sinkholeZone(policy, configuration: configuration, serial: history.zone.serial))
    }

    /// The zone's records as text, octet for octet (`==` on names ignores case).
    static func text(_ zone: RPZZone) -> [String] {
        zone.records.map { "\($0.name) \($0.ttl) \($0.type) \($0.rdata)" }
    }

    /// A random entry among a small universe of triggers, so that batches add, replace, extend and remove.
    static func entry(_ rng: inout TestRandom, universe: Int) -> SinkholeEntry {
        let k = Int(rng.next() % UInt64(universe))
        let trigger: SinkholeTrigger
        switch k % 4 {
        case 0: trigger = .address(IPPrefix(address: .v4(0x0A00_0000 | UInt32(k) << 8 | 7), length: k % 8 == 0 ? 24 : 32)!)
        case 1: trigger = .address(IPPrefix(address: .v6(high: 0x2001_0DB8_0000_0000 | UInt64(k), low: 1), length: 128)!)
        default: trigger = .name(Fixture.name("host\(k).c2-\(k % 7).example"))
        }
        let actions: [SinkholeAction] = [.sinkhole, .nxdomain, .passthru]
        let sources: [SinkholeSource] = [.indicator(feed: "f"), .analyst(operator: "noc"), .finding(id: "x")]
        return SinkholeEntry(
            trigger: trigger, action: actions[Int(rng.next() % 3)], source: sources[Int(rng.next() % 3)], reason: "test",
            addedAt: 1_000, expiresAt: rng.next() % 3 == 0 ? nil : 1_000 + Int64(rng.next() % 200), ttl: rng.next() % 4 == 0 ? 60 : 300)
    }

    static func batch(_ rng: inout TestRandom, policy: SinkholePolicy, universe: Int) -> [SinkholePolicy.Operation] {
        (0..<Int(rng.next() % 12)).map { _ in
            switch rng.next() % 10 {
            case 0..<5: return .add(entry(&rng, universe: universe))
            case 5..<8: return .remove(entry(&rng, universe: universe).trigger)
            case 8: return .expire
            default:
                // The same trigger again with another source: replaced, with the same records.
                guard let present = policy.entries.values.first else { return .expire }
                var again = present
                again.source = .analyst(operator: "again")
                return .add(again)
            }
        }
    }

    @Test("random batches: the incremental zone, serials and steps equal a full re-render's", arguments: [1, 2, 3, 4, 5])
    func randomBatches(seed: UInt64) throws {
        var rng = TestRandom(seed: seed)
        let universe = 40 + Int(seed) * 20
        var policy = SinkholePolicy(configuration: Fixture.policyConfiguration())
        for _ in 0..<(universe / 2) { _ = policy.add(Self.entry(&rng, universe: universe), now: 1_000) }
        var publication = RPZPublication(policy: policy, configuration: Self.configuration, initialSerial: DNSSerial(7_000))
        var reference = publication.sinkhole
        var now: Int64 = 1_000
        for round in 0..<150 {
            now += Int64(rng.next() % 3)
            _ = policy.apply(Self.batch(&rng, policy: policy, universe: universe), now: now)
            let step = publication.publish(policy).sinkhole
            let expected = Self.rerender(&reference, policy)
            #expect(step == expected, "round \(round)")
            #expect(publication.sinkhole.zone == reference.zone, "round \(round)")
            #expect(Self.text(publication.sinkhole.zone) == Self.text(reference.zone), "round \(round)")
            #expect(publication.sinkhole.journal == reference.journal, "round \(round)")
        }
        #expect(publication.sinkhole.zone.serial != DNSSerial(7_000))
    }

    @Test("a policy that is not a descendant of the last one published is rendered whole, and still right")
    func forksAndStrangers() throws {
        var rng = TestRandom(seed: 99)
        var policy = SinkholePolicy(configuration: Fixture.policyConfiguration())
        for _ in 0..<30 { _ = policy.add(Self.entry(&rng, universe: 60), now: 1_000) }
        var publication = RPZPublication(policy: policy, configuration: Self.configuration, initialSerial: DNSSerial(1))
        var reference = publication.sinkhole
        // Two forks of the same policy, published one after the other, then back to the first.
        var a = policy
        var b = policy
        _ = a.add(Fixture.entry("fork-a.example"), now: 1_000)
        _ = b.add(Fixture.entry("fork-b.example"), now: 1_000)
        _ = b.remove(trigger: policy.entries.keys.first!, now: 1_000)
        for next in [a, b, a, policy] {
            let step = publication.publish(next).sinkhole
            #expect(step == Self.rerender(&reference, next))
            #expect(publication.sinkhole.zone == reference.zone)
        }
        // A policy of its own (another lineage) with the same entries as `a`: no change.
        var stranger = SinkholePolicy(configuration: Fixture.policyConfiguration())
        for entry in a.entries.values { _ = stranger.add(entry, now: 1_000) }
        _ = publication.publish(a)
        _ = Self.rerender(&reference, a)
        #expect(publication.publish(stranger).sinkhole == nil)
        #expect(Self.rerender(&reference, stranger) == nil)
        // And incremental again from the stranger on.
        _ = stranger.add(Fixture.entry("after.example"), now: 1_000)
        #expect(publication.publish(stranger).sinkhole == Self.rerender(&reference, stranger))
        #expect(publication.sinkhole.zone == reference.zone && publication.sinkhole.journal == reference.journal)
    }

    @Test("an older copy of the policy, published after a newer one, gives the older zone back")
    func olderCopy() throws {
        var policy = Fixture.policy(["a.example", "b.example"])
        var publication = RPZPublication(policy: policy, configuration: Self.configuration, initialSerial: DNSSerial(10))
        var reference = publication.sinkhole
        let old = policy
        _ = policy.remove(trigger: .name(Fixture.name("a.example")), now: 1_000)
        _ = policy.add(Fixture.addressEntry("198.51.100.7/32"), now: 1_000)
        for next in [policy, old, policy] {
            #expect(publication.publish(next).sinkhole == Self.rerender(&reference, next))
            #expect(publication.sinkhole.zone == reference.zone)
        }
        #expect(publication.sinkhole.zone.serial == DNSSerial(13))
    }

    @Test("many changes between two publications (beyond the change log) still publish the right zone")
    func longGap() throws {
        var policy = Fixture.policy([])
        var publication = RPZPublication(policy: policy, configuration: Self.configuration, initialSerial: DNSSerial(1))
        var reference = publication.sinkhole
        for k in 0..<70_000 {
            _ = policy.add(Fixture.entry("n\(k).example", expiresAt: nil), now: 1_000)
            if k % 3 == 0 { _ = policy.remove(trigger: .name(Fixture.name("n\(k / 2).example")), now: 1_000) }
        }
        let step = publication.publish(policy).sinkhole
        #expect(step == Self.rerender(&reference, policy))
        #expect(publication.sinkhole.zone == reference.zone)
        _ = policy.remove(trigger: .name(Fixture.name("n69999.example")), now: 1_000)
        #expect(publication.publish(policy).sinkhole?.deleted.count == 2)
    }
}

/// SplitMix64, for reproducible random batches.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The canonical order's flat keys order names as RFC 4034 §6.1 does, label by label.
@Suite struct CanonicalOrderTests {
    /// RFC 4034 §6.1 directly: labels from the right, lowercased, as octet strings.
    static func less(_ a: DNSName, _ b: DNSName) -> Bool {
        let x = a.lowercased.labels.reversed() as [[UInt8]]
        let y = b.lowercased.labels.reversed() as [[UInt8]]
        for (p, q) in zip(x, y) where p != q { return p.lexicographicallyPrecedes(q) }
        return x.count < y.count
    }

    @Test("names with octets 0, 1 and 255, prefix labels, upper case and suffix names sort label by label")
    func order() throws {
        var rng = TestRandom(seed: 6)
        let alphabet: [UInt8] = [0, 1, 2, 0x2D, 0x41, 0x5A, 0x61, 0x62, 0x7A, 0xFF]
        var names: [DNSName] = []
        for _ in 0..<400 {
            let labels = (0..<(1 + Int(rng.next() % 3))).map { _ in
                (0..<(1 + Int(rng.next() % 3))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
            names.append(try DNSName(labels: labels))
        }
        let records = names.map { DNSRecord(name: $0, type: .CNAME, ttl: 300, rdata: .cname(.root)) }
        let sorted = RPZRenderer.canonicalOrder(records).map(\.name)
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            #expect(!Self.less(b, a), "\(b) sorts before \(a)")
        }
    }
}
