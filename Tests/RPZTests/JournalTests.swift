import DNSWire
import RPZ
import Testing

/// Serials and the IXFR journal.
@Suite struct JournalTests {
    static func history(serial: UInt32, limits: RPZZoneHistory.Limits = .init()) -> RPZZoneHistory {
        RPZZoneHistory(
            zone: RPZRenderer.sinkholeZone(Fixture.policy([]), configuration: Fixture.zoneConfiguration, serial: DNSSerial(serial)),
            limits: limits)
    }

    static func zone(_ names: [String]) -> RPZZone {
        RPZRenderer.sinkholeZone(Fixture.policy(names), configuration: Fixture.zoneConfiguration, serial: DNSSerial(0))
    }

    @Test("each change bumps the serial by one; no change, no new serial; the deletions and additions are exact")
    func serials() throws {
        var history = Self.history(serial: 1_700_000_000)
        let stepResult = history.update(to: Self.zone(["a.example"]))
        let step = try #require(stepResult)
        #expect(step.oldSerial == DNSSerial(1_700_000_000) && step.newSerial == DNSSerial(1_700_000_001))
        #expect(step.deleted.isEmpty && step.added.count == 2)
        #expect(history.update(to: Self.zone(["a.example"])) == nil)
        #expect(history.zone.serial == DNSSerial(1_700_000_001))
        let secondResult = history.update(to: Self.zone(["b.example"]))
        let second = try #require(secondResult)
        #expect(second.deleted.map(\.name.description) == ["a.example.rpz.mamori.", "*.a.example.rpz.mamori."])
        #expect(second.added.map(\.name.description) == ["b.example.rpz.mamori.", "*.b.example.rpz.mamori."])
        #expect(history.zone.serial == DNSSerial(1_700_000_002))
        #expect(history.differences(from: DNSSerial(1_700_000_002)) == [])
        #expect(history.differences(from: DNSSerial(1_700_000_000)) == [step, second])
        #expect(history.differences(from: DNSSerial(1_700_000_001)) == [second])
        #expect(history.differences(from: DNSSerial(5)) == nil)
    }

    @Test("the serial wraps at 2^32 and skips 0")
    func wrap() throws {
        var history = Self.history(serial: 0xFFFF_FFFF)
        let stepResult = history.update(to: Self.zone(["a.example"]))
        let step = try #require(stepResult)
        #expect(step.newSerial == DNSSerial(1))
        #expect(DNSSerial(0xFFFF_FFFF) < step.newSerial)
    }

    @Test("the journal keeps at most its versions and records; beyond, differences are nil (AXFR fallback)")
    func bounds() {
        var byVersions = Self.history(serial: 100, limits: .init(maximumVersions: 2, maximumRecords: 1_000))
        for k in 1...3 { byVersions.update(to: Self.zone((0..<k).map { "h\($0).example" })) }
        #expect(byVersions.journal.count == 2 && byVersions.zone.serial == DNSSerial(103))
        #expect(byVersions.differences(from: DNSSerial(100)) == nil)
        #expect(byVersions.differences(from: DNSSerial(101))?.count == 2)

        var byRecords = Self.history(serial: 100, limits: .init(maximumVersions: 100, maximumRecords: 5))
        byRecords.update(to: Self.zone(["a.example"])) // 2 records
        byRecords.update(to: Self.zone(["a.example", "b.example"])) // 2 more: 4
        #expect(byRecords.journal.count == 2)
        byRecords.update(to: Self.zone(["b.example"])) // 2 more: 6 > 5, the oldest goes
        #expect(byRecords.journal.count == 2 && byRecords.differences(from: DNSSerial(100)) == nil)
        byRecords.update(to: Self.zone((0..<10).map { "n\($0).example" })) // one step over the limit alone
        #expect(byRecords.journal.isEmpty && byRecords.differences(from: DNSSerial(103)) == nil)
        #expect(byRecords.differences(from: byRecords.zone.serial) == [])
    }

    @Test("a publication keeps both zones, each with its own serial")
    func publication() throws {
        var policy = Fixture.policy(["a.example"])
        var publication = RPZPublication(
            policy: policy, configuration: Fixture.zoneConfiguration, initialSerial: DNSSerial(500))
        _ = policy.setExemption(pseudonym: "p", addresses: [Fixture.resolver])
        let (sinkhole, exemptions) = publication.publish(policy)
        #expect(sinkhole == nil && exemptions?.newSerial == DNSSerial(501))
        _ = policy.add(Fixture.entry("b.example"), now: 1_000)
        let next = publication.publish(policy)
        #expect(next.sinkhole?.newSerial == DNSSerial(501) && next.exemptions == nil)
        #expect(publication.zones.map(\.zone.apex) == [Fixture.apex, Fixture.exemptionApex])
    }
}
