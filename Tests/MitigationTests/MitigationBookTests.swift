import FlowCodec
import Lawful
import MamoriCore
import Testing

@testable import Mitigation

/// The safety rails and the state machine: feed findings and operator actions, check the events.
@Suite struct MitigationBookTests {
    typealias F = Fixture

    static func rtbh(_ host: String, _ book: inout MitigationBook, now: Int64 = F.t0, by op: String = "alice") -> [MitigationEvent] {
        book.announce(
            kind: .blackhole, match: FlowSpecMatch(destination: F.prefix(host)), reason: "test", ttlMilliseconds: 10 * F.minute,
            operator: op, now: now)
    }

    static func flowSpec(_ match: FlowSpecMatch, _ book: inout MitigationBook, now: Int64 = F.t0) -> [MitigationEvent] {
        book.announce(kind: .flowSpec, match: match, reason: "test", ttlMilliseconds: 10 * F.minute, operator: "alice", now: now)
    }

    // MARK: Protected prefixes

    @Test func summaryLeavesOutWhatMatchesAnything() {
        let reflection = FlowSpecMatch(
            destination: IPPrefix("203.0.113.7/32"), protocols: [17], sourcePorts: [ValueRange(123)],
            packetLength: ValueRange(400, 1500))
        #expect(reflection.description == "dst 203.0.113.7/32 src any proto 17 sport 123 len 400-1500")
        #expect(reflection.summary == "dst 203.0.113.7/32 proto 17 sport 123 len 400-1500")
        #expect(FlowSpecMatch(source: IPPrefix("2001:db8::7/128")).summary == "src 2001:db8::7/128")
        #expect(FlowSpecMatch().summary == "any")
    }

    @Test func protectedIPv4PrefixesOverlapBothWays() {
        var book = MitigationBook(policy: F.policy { $0.protected = PrefixSet([F.prefix("192.0.2.0/24"), F.prefix("198.51.100.128/25")]) })
        // The protected /24 contains the rule's host route.
        #expect(Self.rtbh("192.0.2.7/32", &book).first?.refusedRail == .protectedPrefix)
        // The rule's /24 contains the protected /25.
        #expect(Self.flowSpec(FlowSpecMatch(source: F.prefix("198.51.100.0/24")), &book).first?.refusedRail == .protectedPrefix)
        // A source prefix overlapping is refused as well as a destination.
        #expect(
            Self.flowSpec(FlowSpecMatch(destination: F.prefix("203.0.113.9/32"), source: F.prefix("192.0.2.0/25")), &book).first?
                .refusedRail == .protectedPrefix)
        // Next door is fine.
        #expect(Self.rtbh("192.0.3.7/32", &book).first?.isAnnounce == true)
        #expect(book.active.count == 1)
        #expect(book.refusals.map(\.rail) == [.protectedPrefix, .protectedPrefix, .protectedPrefix])
    }

    @Test func protectedIPv6PrefixesOverlapBothWays() {
        var book = MitigationBook(
            policy: F.policy { $0.protected = PrefixSet([F.prefix("2001:db8:53::/48"), F.prefix("2001:db8:ff:1::/64")]) })
        #expect(Self.rtbh("2001:db8:53::1/128", &book).first?.refusedRail == .protectedPrefix)
        #expect(Self.flowSpec(FlowSpecMatch(destination: F.prefix("2001:db8:ff::/48")), &book).first?.refusedRail == .protectedPrefix)
        #expect(Self.rtbh("2001:db8:54::1/128", &book).first?.isAnnounce == true)
        // An IPv4 rule never overlaps an IPv6 protected prefix.
        #expect(Self.rtbh("203.0.113.1/32", &book).first?.isAnnounce == true)
    }

    @Test func plannedRulesObeyTheProtectedList() {
        var book = MitigationBook(policy: F.policy { $0.protected = PrefixSet([F.prefix("203.0.113.0/24")]) })
        let events = F.submit(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), to: &book)
        #expect(events.map(\.refusedRail) == [.protectedPrefix])
        #expect(book.active.isEmpty)
    }

    // MARK: Minimum lengths, host routes

    @Test func minimumPrefixLengthPerFamily() {
        var book = MitigationBook(policy: F.policy())
        #expect(Self.flowSpec(FlowSpecMatch(destination: F.prefix("203.0.112.0/23")), &book).first?.refusedRail == .minimumLength)
        #expect(Self.flowSpec(FlowSpecMatch(destination: F.prefix("203.0.113.0/24")), &book).first?.isAnnounce == true)
        #expect(Self.flowSpec(FlowSpecMatch(source: F.prefix("2001:db8::/32")), &book).first?.refusedRail == .minimumLength)
        #expect(Self.flowSpec(FlowSpecMatch(source: F.prefix("2001:db8::/48")), &book).first?.isAnnounce == true)
        // A rule naming no prefix at all would match the whole Internet.
        #expect(Self.flowSpec(FlowSpecMatch(protocols: [17], sourcePorts: [ValueRange(123)]), &book).first?.refusedRail == .minimumLength)
        var relaxed = MitigationBook(policy: F.policy { $0.minimumIPv4Length = 22 })
        #expect(Self.flowSpec(FlowSpecMatch(destination: F.prefix("203.0.112.0/23")), &relaxed).first?.isAnnounce == true)
    }

    @Test func blackholesAreHostRoutesOnly() {
        var book = MitigationBook(policy: F.policy())
        #expect(Self.rtbh("203.0.113.6/31", &book).first?.refusedRail == .hostRouteOnly)
        #expect(Self.rtbh("2001:db8:1::/64", &book).first?.refusedRail == .hostRouteOnly)
        #expect(Self.rtbh("2001:db8:1::9/128", &book).first?.isAnnounce == true)
    }

    // MARK: Caps

    @Test func activeCapHoldsUnderTenThousandFindings() {
        var book = MitigationBook(
            policy: F.policy {
                $0.maximumActive = 100
                $0.maximumNewPerMinute = 1_000_000
            })
        var announced = 0
        var capped = 0
        for i in 0..<10_000 {
            let victim = "10.\(i / 256 % 256).\(i % 256).\(1 + i / 65_536)"
            for e in F.submit(F.inbound(victim: victim, flows: F.plainFlood(to: victim)), to: &book, now: F.t0 + Int64(i)) {
                if e.isAnnounce { announced += 1 }
                if e.refusedRail == .activeCap { capped += 1 }
            }
        }
        #expect(announced == 100)
        #expect(capped == 9_900)
        #expect(book.active.count == 100)
        // The refusal history stays bounded.
        #expect(book.refusals.count == book.policy.maximumRefusals)
    }

    @Test func rateCapPerRollingMinuteThenRecovers() {
        var book = MitigationBook(policy: F.policy { $0.maximumNewPerMinute = 5 })
        var events: [MitigationEvent] = []
        for i in 0..<8 { events += Self.rtbh("203.0.113.\(i + 1)/32", &book, now: F.t0 + Int64(i) * 1000) }
        #expect(events.filter(\.isAnnounce).count == 5)
        #expect(events.compactMap(\.refusedRail) == [.rateCap, .rateCap, .rateCap])
        // Still within the minute of the first announcement.
        #expect(Self.rtbh("203.0.113.20/32", &book, now: F.t0 + 59_999).first?.refusedRail == .rateCap)
        // The first announcement has left the window: one slot is free again.
        #expect(Self.rtbh("203.0.113.20/32", &book, now: F.t0 + 60_000).first?.isAnnounce == true)
        #expect(Self.rtbh("203.0.113.21/32", &book, now: F.t0 + 60_000).first?.refusedRail == .rateCap)
        // A minute after the last one, all five slots are free.
        var later: [MitigationEvent] = []
        for i in 0..<5 { later += Self.rtbh("203.0.113.\(30 + i)/32", &book, now: F.t0 + 121_000) }
        #expect(later.filter(\.isAnnounce).count == 5)
    }

    // MARK: Modes

    @Test func modesOffDryRunManualApprovalAutomatic() throws {
        let finding = F.inbound(victim: "203.0.113.7", flows: F.plainFlood(to: "203.0.113.7"))
        var off = MitigationBook(policy: F.policy { $0.triggers[.inboundFlood]?.mode = .off })
        #expect(F.submit(finding, to: &off).isEmpty)

        var dry = MitigationBook(policy: F.policy { $0.triggers[.inboundFlood]?.mode = .dryRun })
        let dryEvents = F.submit(finding, to: &dry)
        #expect(dryEvents.map(\.isDryRun) == [true])
        #expect(dry.active.isEmpty)
        #expect(dry.dryRuns.count == 1)

        var manual = MitigationBook(policy: F.policy { $0.triggers[.inboundFlood]?.mode = .manualApproval })
        let pending = F.submit(finding, to: &manual)
        #expect(pending.map(\.isPending) == [true])
        #expect(manual.active.isEmpty)
        let id = try #require(pending.first?.rule.id)
        let approved = manual.approve(ruleID: id, operator: "alice", now: F.t0 + 1000)
        #expect(approved.map(\.isAnnounce) == [true])
        #expect(approved.first?.audit.approver == "alice")
        #expect(manual.active[id] != nil && manual.pending.isEmpty)

        var rejecting = MitigationBook(policy: manual.policy)
        let id2 = try #require(F.submit(finding, to: &rejecting).first?.rule.id)
        let rejected = rejecting.reject(ruleID: id2, operator: "bob", reason: "false positive", now: F.t0 + 1000)
        #expect(rejected.map(\.refusedRail) == [.rejected])
        #expect(rejecting.pending.isEmpty && rejecting.active.isEmpty)
        #expect(rejecting.approve(ruleID: id2, operator: "alice", now: F.t0 + 2000).isEmpty)

        var auto = MitigationBook(policy: F.policy())
        let announced = F.submit(finding, to: &auto)
        #expect(announced.map(\.isAnnounce) == [true])
        let audit = try #require(announced.first?.audit)
        #expect(audit.approver == "automatic by policy inbound_flood")
        #expect(audit.findingID == finding.id)
        #expect(audit.legalBasis == .legitimateBusinessAct)
        #expect(audit.expiresAt == F.t0 + 10 * F.minute)
    }

    @Test func pendingRulesLapseWithTheirTimeToLive() throws {
        var book = MitigationBook(policy: F.policy { $0.triggers[.inboundFlood]?.mode = .manualApproval })
        let finding = F.inbound(victim: "203.0.113.7", flows: F.plainFlood(to: "203.0.113.7"))
        let id = try #require(F.submit(finding, to: &book).first?.rule.id)
        // Seen again while pending: the expiry moves, silently.
        #expect(F.submit(finding, to: &book, now: F.t0 + 5 * F.minute).isEmpty)
        #expect(book.pending[id]?.rule.expiresAt == F.t0 + 15 * F.minute)
        #expect(book.approve(ruleID: id, operator: "alice", now: F.t0 + 15 * F.minute).isEmpty)
        #expect(book.pending.isEmpty && book.active.isEmpty)
    }

    @Test func pendingListIsBounded() {
        var book = MitigationBook(
            policy: F.policy {
                $0.triggers[.inboundFlood]?.mode = .manualApproval
                $0.maximumPending = 3
            })
        var events: [MitigationEvent] = []
        for i in 0..<5 {
            let victim = "203.0.113.\(i + 1)"
            events += F.submit(F.inbound(victim: victim, flows: F.plainFlood(to: victim)), to: &book)
        }
        #expect(events.filter(\.isPending).count == 3)
        #expect(events.compactMap(\.refusedRail) == [.pendingCap, .pendingCap])
        #expect(book.pending.count == 3)
    }

    // MARK: Kill switch

    @Test func killSwitchWithdrawsEverythingUntilReleased() throws {
        var book = MitigationBook(policy: F.policy { $0.triggers[.scanning]?.mode = .manualApproval })
        for i in 0..<3 { _ = Self.rtbh("203.0.113.\(i + 1)/32", &book) }
        let pendingID = try #require(F.submit(F.scan(host: "100.64.1.3"), to: &book).first?.rule.id)
        #expect(book.active.count == 3)

        let killed = book.engageKillSwitch(operator: "carol", reason: "route leak", now: F.t0 + 1000)
        #expect(killed.map(\.withdrawReason) == [.killSwitch, .killSwitch, .killSwitch])
        #expect(killed.allSatisfy { $0.audit.approver == "carol" })
        #expect(book.active.isEmpty)
        #expect(book.killSwitch?.engagedBy == "carol")

        // While engaged nothing is announced: planned, manual or approved.
        let finding = F.inbound(victim: "203.0.113.50", flows: F.ntpReflection(to: "203.0.113.50"))
        #expect(F.submit(finding, to: &book, now: F.t0 + 2000).map(\.refusedRail) == [.killSwitch])
        #expect(Self.rtbh("203.0.113.51/32", &book, now: F.t0 + 2000).map(\.refusedRail) == [.killSwitch])
        #expect(book.approve(ruleID: pendingID, operator: "alice", now: F.t0 + 2000).map(\.refusedRail) == [.killSwitch])
        #expect(book.active.isEmpty)
        // Engaging again changes nothing.
        #expect(book.engageKillSwitch(operator: "dave", reason: "again", now: F.t0 + 2500).isEmpty)
        #expect(book.killSwitch?.engagedBy == "carol")

        #expect(book.releaseKillSwitch(operator: "carol", now: F.t0 + 3000).isEmpty)
        #expect(book.active.isEmpty) // nothing comes back by itself
        #expect(F.submit(finding, to: &book, now: F.t0 + 4000).map(\.isAnnounce) == [true])
        #expect(book.approve(ruleID: pendingID, operator: "alice", now: F.t0 + 4000).map(\.isAnnounce) == [true])
    }

    // MARK: Time to live

    @Test func sameAttackExtendsWithoutCountingAsNew() throws {
        var book = MitigationBook(policy: F.policy { $0.maximumNewPerMinute = 1 })
        let finding = F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7"))
        let first = F.submit(finding, to: &book)
        #expect(first.map(\.isAnnounce) == [true])
        let id = try #require(first.first?.rule.id)
        #expect(first.first?.rule.expiresAt == F.t0 + 10 * F.minute)

        let seen = F.t0 + 30_000
        let again = F.submit(finding, to: &book, now: seen)
        #expect(again.map(\.isExtended) == [true])
        #expect(again.first?.rule.id == id)
        #expect(again.first?.rule.expiresAt == seen + 10 * F.minute)
        #expect(again.first?.audit.expiresAt == seen + 10 * F.minute)
        #expect(again.first?.rule.createdAt == F.t0)
        // One slot a minute: had the extension counted, the minute after it would still be full.
        let other = F.inbound(victim: "203.0.113.8", flows: F.ntpReflection(to: "203.0.113.8"))
        #expect(F.submit(other, to: &book, now: F.t0 + 60_000).map(\.isAnnounce) == [true])
        #expect(book.active.count == 2)

        #expect(book.expire(now: seen + 10 * F.minute - 1).isEmpty)
        let expired = book.expire(now: seen + 10 * F.minute)
        #expect(expired.map(\.withdrawReason) == [.expired])
        #expect(expired.first?.rule.id == id)
        #expect(book.active.count == 1)
    }

    @Test func extensionStopsAtTheLongestLifetime() {
        var book = MitigationBook(policy: F.policy { $0.maximumLifetimeMilliseconds = 30 * F.minute })
        let finding = F.inbound(victim: "203.0.113.7", flows: F.plainFlood(to: "203.0.113.7"))
        _ = F.submit(finding, to: &book)
        let late = F.submit(finding, to: &book, now: F.t0 + 25 * F.minute)
        #expect(late.first?.rule.expiresAt == F.t0 + 30 * F.minute)
        #expect(book.expire(now: F.t0 + 30 * F.minute).map(\.withdrawReason) == [.expired])
    }

    @Test func attackEndWithdrawsItsRules() {
        var book = MitigationBook(policy: F.policy())
        let a = F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7"))
        let b = F.inbound(victim: "203.0.113.8", flows: F.plainFlood(to: "203.0.113.8"))
        _ = F.submit(a, to: &book)
        _ = F.submit(b, to: &book)
        let ended = book.attackEnded(findingID: a.id, now: F.t0 + F.minute)
        #expect(ended.map(\.withdrawReason) == [.attackEnded])
        #expect(ended.first?.audit.findingID == a.id)
        #expect(book.active.count == 1)
        #expect(book.active.values.first?.rule.findingID == b.id)
    }

    @Test func operatorWithdrawsOneRule() throws {
        var book = MitigationBook(policy: F.policy())
        let id = try #require(Self.rtbh("203.0.113.1/32", &book).first?.rule.id)
        _ = Self.rtbh("203.0.113.2/32", &book)
        let w = book.withdraw(ruleID: id, operator: "bob", now: F.t0 + 1)
        #expect(w.map(\.withdrawReason) == [.manual])
        #expect(w.first?.audit.approver == "bob")
        #expect(book.active.count == 1)
        #expect(book.withdraw(ruleID: id, operator: "bob", now: F.t0 + 2).isEmpty)
    }

    // MARK: Shutdown

    @Test func shutdownPolicy() {
        var withdraw = MitigationBook(policy: F.policy { $0.shutdown = .withdrawAll })
        var leave = MitigationBook(policy: F.policy { $0.shutdown = .leave })
        for i in 0..<2 {
            _ = Self.rtbh("203.0.113.\(i + 1)/32", &withdraw)
            _ = Self.rtbh("203.0.113.\(i + 1)/32", &leave)
        }
        #expect(withdraw.shutdown(now: F.t0 + 1).map(\.withdrawReason) == [.shutdown, .shutdown])
        #expect(withdraw.active.isEmpty)
        #expect(leave.shutdown(now: F.t0 + 1).isEmpty)
        #expect(leave.active.count == 2)
    }

    // MARK: Lawful

    @Test func outboundNeedsTheEnginesApproval() throws {
        let finding = F.device(host: "100.64.1.2", target: "192.0.2.50")
        var permitted = MitigationBook(policy: F.policy())
        let ok = F.submit(finding, to: &permitted, engine: F.permissive)
        #expect(ok.map(\.isAnnounce) == [true])
        let decision = try #require(ok.first?.audit.decision)
        #expect(decision.action == .mitigateAttack)
        #expect(decision.basis == .legitimateBusinessAct)
        #expect(decision.subscriber == "s:00000000000000aa")

        var refused = MitigationBook(policy: F.policy())
        let no = F.submit(finding, to: &refused, engine: F.strict)
        #expect(no.map(\.refusedRail) == [.lawful])
        #expect(no.first?.audit.decision?.permitted == false)
        #expect(refused.active.isEmpty)

        // Without an attributed subscriber there is no one whose terms could allow it.
        var unknown = MitigationBook(policy: F.policy())
        let anonymous = F.device(host: "100.64.1.2", target: "192.0.2.50", subscriber: nil)
        #expect(F.submit(anonymous, to: &unknown, engine: F.permissive).map(\.refusedRail) == [.lawful])
    }

    @Test func scanFilterNeedsTheEnginesApprovalToo() {
        var permitted = MitigationBook(policy: F.policy())
        #expect(F.submit(F.scan(host: "100.64.1.3"), to: &permitted, engine: F.permissive).map(\.isAnnounce) == [true])
        var refused = MitigationBook(policy: F.policy())
        #expect(F.submit(F.scan(host: "100.64.1.3"), to: &refused, engine: F.strict).map(\.refusedRail) == [.lawful])
    }

    @Test func inboundProtectionIsALegitimateBusinessActWhateverTheTerms() {
        var book = MitigationBook(policy: F.policy())
        let events = F.submit(F.inbound(victim: "203.0.113.7", flows: F.ntpReflection(to: "203.0.113.7")), to: &book, engine: F.strict)
        #expect(events.map(\.isAnnounce) == [true])
        #expect(events.first?.audit.legalBasis == .legitimateBusinessAct)
        #expect(events.first?.audit.approver == "automatic by policy inbound_reflection")
    }
}
