import DNSWire
import FlowCodec
import RPZ

/// Names, configurations and entries the tests share.
enum Fixture {
    static let apex = name("rpz.mamori.")
    static let exemptionApex = name("exempt.rpz.mamori.")
    static let sinkhole = name("sinkhole.mamori.example.")
    static let resolver = IPAddress("192.0.2.53")!
    static let key = TSIGKey(name: name("xfr-key."), secret: Array("0123456789abcdef0123456789abcdef".utf8))
    static let otherKey = TSIGKey(name: name("other-key."), secret: Array("another secret, also 32 octets!!".utf8))

    static func name(_ text: String) -> DNSName {
        do { return try DNSName(text) } catch { preconditionFailure("bad test name \(text)") }
    }

    static func policyConfiguration(
        maximumEntries: Int = 100_000, protectedNames: Set<DNSName> = [name("google.com")],
        protectedPrefixes: [IPPrefix] = [IPPrefix("192.0.2.0/24")!, IPPrefix("203.0.113.10/32")!],
        isPopular: @escaping @Sendable (DNSName) -> Bool = { $0 == DNSName.popularExample }
    ) -> SinkholePolicy.Configuration {
        SinkholePolicy.Configuration(
            zoneApex: apex, exemptionApex: exemptionApex, sinkholeName: sinkhole, maximumEntries: maximumEntries,
            protectedNames: protectedNames, protectedPrefixes: protectedPrefixes, isPopular: isPopular)
    }

    static let zoneConfiguration = RPZZoneConfiguration(
        apex: apex, exemptionApex: exemptionApex, sinkholeName: sinkhole, primaryName: name("ns1.mamori.example."),
        responsibleName: name("hostmaster.mamori.example."))

    static func entry(
        _ text: String, action: SinkholeAction = .sinkhole, expiresAt: Int64? = 10_000, ttl: UInt32 = 300,
        source: SinkholeSource = .indicator(feed: "test-feed")
    ) -> SinkholeEntry {
        SinkholeEntry(
            trigger: .name(name(text)), action: action, source: source, reason: "test", addedAt: 1_000,
            expiresAt: expiresAt, ttl: ttl)
    }

    static func addressEntry(_ text: String, action: SinkholeAction = .sinkhole) -> SinkholeEntry {
        SinkholeEntry(
            trigger: .address(IPPrefix(text)!), action: action, source: .finding(id: "f-1"), reason: "test", addedAt: 1_000,
            expiresAt: nil)
    }

    /// A policy holding these names (all accepted).
    static func policy(_ names: [String], maximumEntries: Int = 100_000) -> SinkholePolicy {
        var policy = SinkholePolicy(configuration: policyConfiguration(maximumEntries: maximumEntries))
        for n in names { _ = policy.add(entry(n), now: 1_000) }
        return policy
    }
}

extension DNSName {
    static let popularExample = Fixture.name("popular.example.")
}
