import Attribution
import FlowCodec
import IdentityCodec
import MamoriCore
import Simulator
import Testing

/// Everything a simulated ISP's identity systems emit over a run — RADIUS accounting with
/// reconnects, Kea v4 leases and v6 delegations, CGNAT port blocks as syslog and as IPFIX NAT
/// events — goes into the index; every subscriber's addresses are then looked up at several times
/// and must name exactly that subscriber's account (or, in a reconnect's gap, nobody).
@Suite struct SimulatedIdentityTests {
    struct Run {
        var model: ISPModel
        var plan: IdentityPlan
        var window: IdentityPlan.Window
    }

    static func run(seed: UInt64, subscribers: Int, minutes: Int64) throws -> Run {
        var c = ISPModel.Configuration(seed: seed, subscribers: subscribers)
        c.durationMilliseconds = minutes * 60_000
        let model = try ISPModel(configuration: c)
        var pc = IdentityPlan.Configuration()
        pc.interimIntervalSeconds = 300
        pc.leaseLifetimeSeconds = 1200
        let plan = IdentityPlan(model: model, configuration: pc)
        var all = IdentityPlan.Window()
        var t = c.startMilliseconds
        while t < c.endMilliseconds {
            let w = plan.events(from: t, to: t + c.windowMilliseconds)
            all.accounting += w.accounting
            all.leases4 += w.leases4
            all.leases6 += w.leases6
            all.portBlocks += w.portBlocks
            t += c.windowMilliseconds
        }
        return Run(model: model, plan: plan, window: all)
    }

    /// Feeds a run's identity data in time order; `ipfix` sends the port blocks as IPFIX NAT events
    /// (as `mamori simulate --nat-events` does) instead of syslog lines.
    static func index(_ run: Run, ipfix: Bool) -> AttributionIndex {
        var index = AttributionIndex()
        enum Event {
            case accounting(IdentityPlan.Accounting)
            case lease4(KeaLeaseFile.Lease4)
            case lease6(KeaLeaseFile.Lease6)
            case block(NATPortBlockEvent)
        }
        var events: [(Int64, Int, Event)] = []
        for a in run.window.accounting { events.append((a.time, 0, .accounting(a))) }
        for l in run.window.leases4 { events.append((l.clientLastTransmission * 1000, 1, .lease4(l))) }
        for l in run.window.leases6 { events.append((l.clientLastTransmission * 1000, 1, .lease6(l))) }
        for b in run.window.portBlocks { events.append((b.timeMilliseconds, 2, .block(b))) }
        events.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (_, _, e) in events {
            switch e {
            case .accounting(let a): index.apply(a.record, from: a.nas, receivedAt: a.time)
            case .lease4(let l): index.apply(l)
            case .lease6(let l): index.apply(l)
            case .block(let b):
                if ipfix {
                    for r in IdentityPlan.natEventRecords([b]) { index.apply(natEvent: r) }
                } else {
                    index.apply(b)
                }
            }
        }
        return index
    }

    @Test("every subscriber's address, port and prefix names its account, by syslog and by IPFIX NAT events", arguments: [false, true])
    func everySubscriberAttributed(ipfix: Bool) throws {
        let run = try Self.run(seed: 11, subscribers: 2000, minutes: 45)
        let index = Self.index(run, ipfix: ipfix)
        let c = run.model.configuration
        var checked = 0
        var cgnat = 0
        var inGap = 0
        var v6 = 0
        for s in run.model.subscribers {
            let account = run.plan.identity(of: s).account
            let reconnect = run.plan.reconnect(of: s)
            for t in [c.startMilliseconds + 30_000, c.startMilliseconds + c.durationMilliseconds / 2 + 7_000, c.endMilliseconds - 30_000] {
                // Between Stop and the next Start (± the 2 s skew allowance) nobody holds the line.
                let gap = reconnect.map { t > $0.stop + 2_000 && t < $0.restart - 2_000 } ?? false
                let port = s.portBlock.map { $0.first + 17 }
                let a = index.lookup(s.publicAddress, port: port, at: t)
                if gap {
                    #expect(a.outcome == .unknown, "subscriber \(s.id) in its reconnect gap: \(a.reason)")
                    inGap += 1
                    continue
                }
                #expect(a.outcome == .attributed && a.subscriber == account, "subscriber \(s.id) at \(t): \(a.outcome) \(a.reason)")
                if s.isBehindCGNAT {
                    #expect(a.evidence.first?.insideAddress == s.insideAddress)
                    #expect(a.evidence.first?.source == (ipfix ? .natEvent : .natSyslog))
                    // Without the port: ambiguous, never a guess.
                    #expect(index.lookup(s.publicAddress, at: t).outcome == .ambiguous)
                    cgnat += 1
                }
                if let text = s.ipv6PrefixText, let p = IPPrefix(text) {
                    let inside = IPAddress.v6(high: p.network.high | (p.length <= 56 ? 0xAB : 0), low: 0x1234)
                    let b = index.lookup(inside, at: t)
                    #expect(b.subscriber == account, "subscriber \(s.id) IPv6 \(inside): \(b.reason)")
                    v6 += 1
                }
                checked += 1
            }
        }
        #expect(checked > 5000)
        #expect(cgnat > 500)
        #expect(v6 > 500)
        #expect(inGap > 0, "the run has no lookup inside a reconnect gap; the case is not exercised")
        // An address nobody in the ISP uses.
        #expect(index.lookup(IPAddress("192.0.2.77")!, at: c.startMilliseconds + 60_000).outcome == .unknown)
    }

    @Test("the index the server keeps stays bounded: claims forgotten after the run leave it empty")
    func retentionEmptiesTheIndex() throws {
        let run = try Self.run(seed: 5, subscribers: 300, minutes: 20)
        var index = Self.index(run, ipfix: false)
        let before = index.count
        #expect(before > 300)
        // Nothing ended before the run started (RADIUS sessions, leases and blocks all span it).
        #expect(index.forget(endedBefore: run.model.configuration.startMilliseconds) == 0)
        // Two days on, sessions (a day after their last Interim-Update) and leases are gone; the
        // port blocks, never released, count for 30 days after their allocation.
        let blocks = run.model.subscribers.filter(\.isBehindCGNAT).count
        #expect(index.forget(endedBefore: run.model.configuration.endMilliseconds + 2 * 86_400_000) == before - blocks)
        #expect(index.count == blocks)
        let later = run.model.configuration.endMilliseconds + 31 * 86_400_000
        #expect(index.forget(endedBefore: later) == blocks)
        #expect(index.count == 0)
        #expect(index.subscriberCount == 0)
        #expect(index.openSessionCount == 0)
    }
}

/// The snapshot `mamori serve` writes to keep its identity data across a restart.
@Suite struct SnapshotTests {
    @Test("a snapshot restores an index that answers every lookup the same")
    func roundTrip() throws {
        let run = try SimulatedIdentityTests.run(seed: 21, subscribers: 600, minutes: 35)
        var index = SimulatedIdentityTests.index(run, ipfix: false)
        index.add(StaticAssignment(prefix: IPPrefix("192.0.2.0/28")!, subscriber: "biz-1"))
        let bytes = index.snapshot()
        let restored = try AttributionIndex(snapshot: bytes)
        #expect(restored.count == index.count)
        #expect(restored.subscriberCount == index.subscriberCount)
        #expect(restored.openSessionCount == index.openSessionCount)
        let c = run.model.configuration
        var compared = 0
        for s in run.model.subscribers {
            for t in [c.startMilliseconds + 10_000, c.endMilliseconds - 10_000] {
                let port = s.portBlock.map { $0.first + 3 }
                #expect(restored.lookup(s.publicAddress, port: port, at: t) == index.lookup(s.publicAddress, port: port, at: t))
                if let text = s.ipv6PrefixText, let p = IPPrefix(text) {
                    #expect(restored.lookup(p.network, at: t) == index.lookup(p.network, at: t))
                }
                compared += 1
            }
        }
        #expect(compared == 1200)
        #expect(restored.lookup(IPAddress("192.0.2.3")!, at: 0).subscriber == "biz-1")
        // The restored index keeps working: a Stop for a session open at the snapshot closes it.
        var live = restored
        let open = try #require(run.window.accounting.last { $0.record.status == .interimUpdate })
        var stop = open.record
        stop.status = .stop
        stop.eventTime = (c.endMilliseconds + 60_000) / 1000
        #expect(live.apply(stop, from: open.nas, receivedAt: c.endMilliseconds + 60_000) == .closed)
        #expect(live.snapshot() != bytes)
    }

    @Test("damaged snapshots are refused with an error: truncated, flipped, foreign — never a crash or a hang")
    func damaged() throws {
        let run = try SimulatedIdentityTests.run(seed: 3, subscribers: 120, minutes: 10)
        let bytes = SimulatedIdentityTests.index(run, ipfix: true).snapshot()
        #expect(throws: AttributionIndex.SnapshotError.self) { try AttributionIndex(snapshot: Array("not a snapshot at all".utf8)) }
        #expect(throws: AttributionIndex.SnapshotError.self) { try AttributionIndex(snapshot: []) }
        var version = bytes
        version[18] = 99
        #expect(throws: AttributionIndex.SnapshotError.self) { try AttributionIndex(snapshot: version) }
        // Seeded, so a failure replays. An unseeded run in CI once flipped a translation chain to
        // point at a session claim (the lookup trapped), and 6,000 flips with seed 2 a count past
        // Int.max (the loader trapped); the loader refuses both now, and seeds 2 and 3 ran 6,000
        // flips each clean.
        var rng = MamoriCore.SplitMix64(seed: 1)
        for _ in 0..<200 {
            let cut = Int.random(in: 0..<bytes.count, using: &rng)
            #expect(throws: AttributionIndex.SnapshotError.self) { try AttributionIndex(snapshot: Array(bytes[..<cut])) }
        }
        var accepted = 0
        for _ in 0..<1500 {
            var b = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                b[Int.random(in: 22..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            }
            // A flip may land in a time or a name and still be a valid index; then it must answer.
            if let index = try? AttributionIndex(snapshot: b) {
                accepted += 1
                for s in run.model.subscribers.prefix(20) {
                    _ = index.lookup(s.publicAddress, port: s.portBlock?.first, at: run.model.configuration.startMilliseconds)
                }
            }
        }
        #expect(accepted < 1500, "no flip was ever detected")
    }
}
