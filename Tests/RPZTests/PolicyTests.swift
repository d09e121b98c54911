import DNSWire
import FlowCodec
import RPZ
import Testing

/// The policy's guards, duplicates, expiry and the opt-out exemptions.
@Suite struct PolicyTests {
    static func refusal(_ change: SinkholeChange) -> SinkholeRefusal? {
        if case .refused(_, let refusal) = change { return refusal }
        return nil
    }

    @Test("a protected name, its subdomains and its parents are refused; so are the sinkhole and the zones")
    func protectedNames() {
        var policy = Fixture.policy([])
        let google = Fixture.name("google.com")
        for text in ["google.com", "www.google.com", "a.b.GOOGLE.com"] {
            #expect(Self.refusal(policy.add(Fixture.entry(text), now: 1_000)) == .protectedName(google))
        }
        var parentProtected = SinkholePolicy(
            configuration: Fixture.policyConfiguration(protectedNames: [Fixture.name("mail.example.net")]))
        #expect(
            Self.refusal(parentProtected.add(Fixture.entry("example.net"), now: 1_000))
                == .protectedName(Fixture.name("mail.example.net")))
        #expect(Self.refusal(policy.add(Fixture.entry("mamori.example"), now: 1_000)) == .protectedName(Fixture.sinkhole))
        #expect(Self.refusal(policy.add(Fixture.entry("x.exempt.rpz.mamori"), now: 1_000)) == .insidePolicyZone)
        #expect(Self.refusal(policy.add(Fixture.entry("googlecom.evil"), now: 1_000)) == nil)
        #expect(policy.count == 1)
    }

    @Test("top-level domains and the root are refused, as are popular names and names too long for the zone")
    func tldsPopularLong() {
        var policy = Fixture.policy([])
        #expect(Self.refusal(policy.add(Fixture.entry("com"), now: 1_000)) == .tooFewLabels(2))
        #expect(Self.refusal(policy.add(Fixture.entry("."), now: 1_000)) == .tooFewLabels(2))
        #expect(Self.refusal(policy.add(Fixture.entry("popular.example"), now: 1_000)) == .popular)
        let long = (0..<4).map { _ in String(repeating: "a", count: 60) }.joined(separator: ".")
        #expect(Self.refusal(policy.add(Fixture.entry(long), now: 1_000)) == .nameTooLong)
        #expect(policy.count == 0)
    }

    @Test("protected and too broad prefixes are refused")
    func protectedAddresses() {
        var policy = Fixture.policy([])
        let resolvers = IPPrefix("192.0.2.0/24")!
        #expect(Self.refusal(policy.add(Fixture.addressEntry("192.0.2.53/32"), now: 1_000)) == .protectedAddress(resolvers))
        #expect(
            Self.refusal(policy.add(Fixture.addressEntry("203.0.113.0/24"), now: 1_000))
                == .protectedAddress(IPPrefix("203.0.113.10/32")!))
        #expect(Self.refusal(policy.add(Fixture.addressEntry("198.51.0.0/16"), now: 1_000)) == .prefixTooBroad(minimumLength: 24))
        #expect(Self.refusal(policy.add(Fixture.addressEntry("2001:db8::/32"), now: 1_000)) == .prefixTooBroad(minimumLength: 48))
        #expect(Self.refusal(policy.add(Fixture.addressEntry("198.51.100.0/24"), now: 1_000)) == nil)
        #expect(Self.refusal(policy.add(Fixture.addressEntry("2001:db8:1::/48"), now: 1_000)) == nil)
    }

    @Test("beyond the cap every entry is refused and counted; a duplicate extends the expiry")
    func capAndDuplicates() {
        var policy = Fixture.policy(["a.example", "b.example"], maximumEntries: 2)
        #expect(Self.refusal(policy.add(Fixture.entry("c.example"), now: 1_000)) == .full(maximum: 2))
        #expect(Self.refusal(policy.add(Fixture.entry("d.example"), now: 1_000)) == .full(maximum: 2))
        #expect(policy.fullRefusals == 2 && policy.count == 2)
        // A duplicate is not a new entry, so a full policy still takes it.
        let extended = policy.add(Fixture.entry("a.example", expiresAt: 20_000), now: 1_000)
        guard case .extended(let previous, let current) = extended else {
            Issue.record("expected .extended, got \(extended)")
            return
        }
        #expect(previous.expiresAt == 10_000 && current.expiresAt == 20_000 && !extended.altersZone)
        _ = policy.add(Fixture.entry("a.example", expiresAt: 15_000), now: 1_000)
        #expect(policy.entries[.name(Fixture.name("a.example"))]?.expiresAt == 20_000)
        _ = policy.add(Fixture.entry("a.example", expiresAt: nil), now: 1_000)
        #expect(policy.entries[.name(Fixture.name("a.example"))]?.expiresAt == nil)
        let replaced = policy.add(Fixture.entry("b.example", action: .nxdomain), now: 1_000)
        guard case .replaced = replaced else {
            Issue.record("expected .replaced, got \(replaced)")
            return
        }
        #expect(policy.entries[.name(Fixture.name("b.example"))]?.action == .nxdomain && policy.count == 2)
    }

    @Test("expiry removes what is due; an entry already expired is refused; removal reports what it removed")
    func expiryAndRemoval() {
        var policy = Fixture.policy([])
        _ = policy.add(Fixture.entry("a.example", expiresAt: 2_000), now: 1_000)
        _ = policy.add(Fixture.entry("b.example", expiresAt: 3_000), now: 1_000)
        _ = policy.add(Fixture.entry("c.example", expiresAt: nil), now: 1_000)
        #expect(Self.refusal(policy.add(Fixture.entry("d.example", expiresAt: 1_000), now: 1_000)) == .alreadyExpired)
        #expect(policy.expire(now: 1_999).isEmpty)
        let due = policy.expire(now: 3_000)
        #expect(due.count == 2 && policy.count == 1)
        #expect(due.allSatisfy { if case .expired = $0 { true } else { false } })
        let trigger = SinkholeTrigger.name(Fixture.name("c.example"))
        #expect(policy.remove(trigger: trigger, now: 4_000) == .removed(Fixture.entry("c.example", expiresAt: nil)))
        #expect(policy.remove(trigger: trigger, now: 4_000) == .notFound(trigger))
        let changes = policy.apply([.add(Fixture.entry("e.example", expiresAt: 6_000)), .remove(trigger), .expire], now: 5_000)
        #expect(changes.count == 2 && policy.count == 1)
        #expect(policy.apply([.expire], now: 6_000).count == 1 && policy.count == 0)
    }

    @Test("exemptions are replaced per pseudonym, yielding the removals and additions; a delegated prefix is exempted whole")
    func exemptions() {
        var policy = Fixture.policy([])
        let a = IPAddress("100.64.0.1")!
        let b = IPAddress("100.64.0.2")!
        let c = IPAddress("2001:db8::c")!
        func host(_ x: IPAddress) -> IPPrefix { IPPrefix(address: x, length: x.isIPv6 ? 128 : 32)! }
        #expect(policy.setExemption(pseudonym: "p1", addresses: [a, b]).added == [host(a), host(b)])
        let change = policy.setExemption(pseudonym: "p1", addresses: [b, c])
        #expect(change.added == [host(c)] && change.removed == [host(a)])
        _ = policy.setExemption(pseudonym: "p2", addresses: [c])
        #expect(policy.exemptedPrefixes == [host(b), host(c)])
        let end = policy.setExemption(pseudonym: "p1", addresses: [])
        #expect(end.removed == [host(b), host(c)] && end.added.isEmpty)
        #expect(policy.exemptedPrefixes == [host(c)] && policy.exemptions["p1"] == nil)
        #expect(policy.setExemption(pseudonym: "p2", addresses: [c]).isEmpty)
        let delegation = IPPrefix(address: IPAddress("2001:db8:ab00::")!, length: 56)!
        #expect(policy.setExemption(pseudonym: "p3", prefixes: [delegation]).added == [delegation])
        let zone = RPZRenderer.exemptionZone(policy, configuration: Fixture.zoneConfiguration, serial: DNSSerial(1))
        #expect(zone.records.contains { $0.name.description.hasPrefix("56.zz.ab00.db8.2001.rpz-client-ip.") })
    }
}
