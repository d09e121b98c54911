import FlowCodec
import Foundation
import Lawful
import MamoriCore
import Testing

@testable import Mitigation

/// Findings → proposed rules.
@Suite struct MitigationPlannerTests {
    typealias F = Fixture

    @Test func reflectionFloodBecomesFlowSpecOnTheAmplifierPort() throws {
        let planner = MitigationPlanner(policy: F.policy())
        let proposals = planner.plan(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), now: F.t0)
        let p = try #require(proposals.first)
        #expect(proposals.count == 1)
        #expect(p.trigger == .inboundReflection)
        #expect(p.direction == .inboundToVictim)
        #expect(p.rule.kind == .flowSpec)
        #expect(p.rule.match.destination == F.prefix("203.0.113.7/32"))
        #expect(p.rule.match.source == nil)
        #expect(p.rule.match.protocols == [17])
        #expect(p.rule.match.sourcePorts == [ValueRange(123)])
        // 468-byte answers: the length match brackets them.
        let length = try #require(p.rule.match.packetLength)
        #expect(length.first <= 468 && length.last >= 468 && length.first >= 400)
        #expect(p.rule.reason.contains("NTP reflection"))
        #expect(p.rule.expiresAt == F.t0 + 10 * F.minute)
    }

    @Test func plainFloodBecomesBlackholeOfTheVictim() throws {
        let planner = MitigationPlanner(policy: F.policy())
        let p = try #require(planner.plan(F.inbound(victim: "203.0.113.7", flows: F.plainFlood(to: "203.0.113.7")), now: F.t0).first)
        #expect(p.trigger == .inboundFlood)
        #expect(p.rule.kind == .blackhole)
        #expect(p.rule.match == FlowSpecMatch(destination: F.prefix("203.0.113.7/32")))
        #expect(p.rule.id.hasPrefix("rtbh:"))
    }

    @Test func udpFromManyPortsIsNotAReflection() {
        let flows = (0..<4).map {
            F.flow(from: "198.51.100.9", UInt16(40_000 + $0), to: "203.0.113.7", 80, "udp", packets: 100, bytes: 50_000)
        }
        #expect(MitigationPlanner(policy: F.policy()).reflection(flows) == nil)
        // A mixed flood where NTP is only half of the packets is not one either.
        let mixed = F.ntpReflection(to: "203.0.113.7") + F.plainFlood(to: "203.0.113.7")
        #expect(MitigationPlanner(policy: F.policy()).reflection(mixed) == nil)
    }

    @Test func ipv6SubscriberSlash64GetsTheVictimsHostRoute() throws {
        let victim = "2001:db8:1:2::7"
        var finding = F.inbound(victim: "2001:db8:1:2::/64", flows: F.plainFlood(to: victim))
        finding.subject.address = "2001:db8:1:2::/64"
        let p = try #require(MitigationPlanner(policy: F.policy()).plan(finding, now: F.t0).first)
        #expect(p.rule.kind == .blackhole)
        #expect(p.rule.match.destination == F.prefix("2001:db8:1:2::7/128"))
    }

    @Test func theSameAttackMapsToTheSameRule() {
        let planner = MitigationPlanner(policy: F.policy())
        let a = planner.plan(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), now: F.t0)
        let b = planner.plan(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), now: F.t0 + 5 * F.minute)
        let c = planner.plan(F.inbound(victim: "203.0.113.8", flows: F.ntpReflection(to: "203.0.113.8")), now: F.t0)
        #expect(a.map(\.rule.id) == b.map(\.rule.id))
        #expect(a.map(\.rule.id) != c.map(\.rule.id))
    }

    @Test func infectedDeviceFloodBecomesFlowSpecFromItsAddress() throws {
        let p = try #require(
            MitigationPlanner(policy: F.policy()).plan(F.device(host: "100.64.1.2", target: "192.0.2.50"), now: F.t0).first)
        #expect(p.trigger == .outboundAttack)
        #expect(p.direction == .outboundFromSubscriber)
        #expect(p.subscriber == "s:00000000000000aa")
        #expect(p.rule.match.source == F.prefix("100.64.1.2/32"))
        #expect(p.rule.match.destination == F.prefix("192.0.2.50/32"))
        #expect(p.rule.match.protocols == [17])
        #expect(p.evidence.attackPacketsPerSecond == 50_000)
        guard case .mitigateAttack(let subscriber, _, let m) = p.request(consent: .none) else {
            Issue.record("not a mitigation request")
            return
        }
        #expect(subscriber == "s:00000000000000aa")
        #expect(m.direction == .outboundFromSubscriber)
    }

    @Test func scanBecomesFlowSpecOnItsPortBlockAndScannedPorts() throws {
        let p = try #require(MitigationPlanner(policy: F.policy()).plan(F.scan(host: "100.64.1.3"), now: F.t0).first)
        #expect(p.trigger == .scanning)
        #expect(p.rule.match.source == F.prefix("100.64.1.3/32"))
        #expect(p.rule.match.protocols == [6])
        #expect(p.rule.match.destinationPorts == [ValueRange(23)])
        #expect(p.rule.match.sourcePorts == [ValueRange(1024, 2047)])
        #expect(p.evidence.scanDestinationsPerMinute == 500)
        #expect(p.evidence.scanPort == 23)
    }

    @Test func triggersSetOffPlanNothing() {
        let policy = F.policy { $0.triggers[.inboundReflection]?.mode = .off }
        let planner = MitigationPlanner(policy: policy)
        #expect(planner.plan(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), now: F.t0).isEmpty)
        // The plain flood's trigger is still on.
        #expect(planner.plan(F.inbound(victim: "203.0.113.7", flows: F.plainFlood(to: "203.0.113.7")), now: F.t0).count == 1)
    }

    @Test func configuredRateLimitIsTheRulesAction() throws {
        let policy = F.policy { $0.triggers[.inboundReflection]?.action = .rateLimit(bytesPerSecond: 125_000) }
        let p = try #require(
            MitigationPlanner(policy: policy).plan(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), now: F.t0)
                .first)
        #expect(p.rule.action == .rateLimit(bytesPerSecond: 125_000))
    }

    @Test func rulesAndEventsRoundTripThroughJSON() throws {
        var book = MitigationBook(policy: F.policy())
        let events = F.submit(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), to: &book)
        let event = try #require(events.first)
        let data = try JSONEncoder().encode(event)
        let back = try JSONDecoder().decode(MitigationEvent.self, from: data)
        #expect(back == event)
        #expect(back.rule.match.destination == F.prefix("203.0.113.7/32"))
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains(#""destination":"203.0.113.7\/32""#))
        #expect(json.contains(#""origin":{"finding":{"id":"inbound-ddos:"#))
    }
}
