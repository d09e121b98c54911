import Detection
import Evaluation
import FlowCodec
import MamoriCore
import MamoriTesting
import Simulator
import Testing

/// The detectors over a simulated ISP, scored against its ground truth.
@Suite(.heavyWork) struct SimulatedISPTests {
    /// 3,000 lines for 40 simulated minutes, beacon periods short enough to be seen in that time.
    static func world(seed: UInt64, sampling: UInt32 = 1) -> ISPModel.Configuration {
        var c = ISPModel.Configuration(seed: seed, subscribers: 3000)
        c.durationMilliseconds = 2_400_000
        c.samplingInterval = sampling
        c.botnets.beaconPeriodSeconds = 30...240
        c.botnets.dgaRotationSeconds = 1200
        return c
    }

    static func analyse(_ c: ISPModel.Configuration, tune: (inout DetectionConfiguration) -> Void = { _ in }) throws -> (
        LabelEvaluation, [Finding], Labels
    ) {
        var simulation = try Simulation(configuration: c)
        let labels = simulation.labels
        let layout = try #require(LabelEvaluation.networkLayout(labels))
        var detection = DetectionConfiguration(network: layout, pseudonymKey: [1, 2, 3])
        tune(&detection)
        var analyzer = FlowAnalyzer(configuration: detection)
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        var c2Contacts = CommandAndControlContacts(labels: labels, layout: layout)
        while let window = simulation.nextWindow() {
            for d in window {
                records.removeAll(keepingCapacity: true)
                _ = d.payload.withUnsafeBytes {
                    decoder.decode($0, from: d.exporter, receivedAtMilliseconds: d.timeMilliseconds, into: &records)
                }
                for r in records {
                    analyzer.ingest(r, receivedAt: d.timeMilliseconds)
                    c2Contacts.observe(r)
                }
            }
            _ = analyzer.evaluate(now: simulation.now)
        }
        _ = analyzer.finish()
        let findings = analyzer.currentFindings
        return (LabelEvaluation(labels: labels, layout: layout, findings: findings, c2Contacts: c2Contacts.counts), findings, labels)
    }

    @Test("unsampled: every finding kind is precise, bots are found, no decoy is flagged")
    func unsampledWorld() throws {
        let (evaluation, findings, labels) = try Self.analyse(Self.world(seed: 11))
        print(evaluation.table)
        for k in evaluation.kinds { print(k.kind, "missed", k.missed) }
        #expect(evaluation.decoysFlagged.isEmpty)
        for k in evaluation.kinds {
            if let p = k.precision { #expect(p >= 0.99, "\(k.kind): precision \(p), false positives \(k.falsePositives)") }
        }
        func kind(_ name: String) -> LabelEvaluation.KindResult? { evaluation.kinds.first { $0.kind == name } }
        #expect((kind("scanning")?.recall ?? 0) >= 0.95)
        // Every Mirai-like and HTTPS-beacon bot active long enough for 8 contacts with its C&C is
        // found. The DGA family (a new address every rotation, a handful of contacts per
        // address) is not yet: see EVALUATION.md.
        let layout = try #require(LabelEvaluation.networkLayout(labels))
        let missed = Set(kind("infected-device")?.missed ?? [])
        let missedObservable = labels.infectedDevices.filter { d in
            let active = min(labels.end, d.cleanedAt ?? labels.end) - max(labels.start, d.infectedAt)
            return d.family != .dgaRotating && active >= 8 * d.contactPeriod
                && missed.contains(FindingSubject.host(layout.host(IPAddress(d.publicAddress)!, port: d.portBlock?.first ?? 0)).description)
        }
        #expect(
            missedObservable.isEmpty,
            "missed bots: \(missedObservable.map { "\($0.family) \($0.publicAddress) period \($0.contactPeriod / 1000) s" })")
        #expect((kind("infected-device")?.recall ?? 0) >= 0.7)
        #expect(kind("outbound-ddos")?.recall == 1)
        #expect(kind("inbound-ddos")?.recall == 1)
        // Every C&C server with ten or more bots is found.
        #expect(kind("c2-server (≥ 10 bots)")?.missed == [])
        // Evidence never names a third party: C&C findings list the cohort as pseudonyms only.
        for f in findings where f.kind == .commandAndControl {
            #expect(f.evidence.cohort.allSatisfy { $0.hasPrefix("h:") })
            #expect(f.evidence.flows.allSatisfy { !$0.source.hasPrefix("198.18.") && !$0.destination.hasPrefix("198.18.") })
            // The heartbeat behind it, for the analyst's timeline: bounded, pseudonymous, in order,
            // inside the finding's window, and each listed host in the cohort.
            if let contacts = f.evidence.contacts {
                #expect(!contacts.isEmpty && contacts.count <= ContactTimes.maximumHosts)
                for c in contacts {
                    #expect(c.host.hasPrefix("h:") && (f.evidence.cohort.contains(c.host) || f.evidence.cohortSize > 64))
                    #expect(c.times.count >= 2 && c.times.count <= ContactTimes.maximumTimes)
                    #expect(c.times == c.times.sorted())
                    #expect(c.times.allSatisfy { $0 >= f.firstSeen && $0 <= f.lastSeen }, "\(f.id)")
                }
            }
        }
        let beacons = findings.filter { $0.kind == .commandAndControl && $0.evidence.features.contains { $0.name == .periodicity } }
        #expect(
            beacons.filter { $0.evidence.contacts != nil }.count * 10 >= beacons.count * 9,
            "beacon findings carry their contact times (those found only through peer-to-peer series have none)")
    }

    /// The world of the notice demo: 400 lines for 10 minutes. Its camera cloud (eight addresses,
    /// a heartbeat every 60 s) has fewer than 20 cameras per address, so each address alone looks
    /// rare; counted as one service it is popular.
    @Test("a small ISP (400 lines): the camera cloud's eight addresses count as one service, no decoy is flagged")
    func smallWorld() throws {
        var c = ISPModel.Configuration(seed: 11, subscribers: 400)
        c.durationMilliseconds = 600_000
        let (evaluation, findings, _) = try Self.analyse(c)
        #expect(evaluation.decoysFlagged.isEmpty, "\(evaluation.decoysFlagged)")
        for k in evaluation.kinds {
            if let p = k.precision { #expect(p >= 0.99, "\(k.kind): precision \(p), false positives \(k.falsePositives)") }
        }
        #expect(findings.contains { $0.kind == .commandAndControl }, "the C&C servers are still found")
        // Its outbound attack is a SYN flood by two bots, below the total thresholds.
        #expect(evaluation.kinds.first { $0.kind == "outbound-ddos" }?.recall == 1)
        // Without pools (each address its own /32) the cloud is flagged: the guard is what spares it.
        let (unpooled, _, _) = try Self.analyse(c) { $0.popularity.servicePoolLengthV4 = 32 }
        let cloud = Set(ServiceCatalog.cameraCloud.addresses.map { "\($0):8883/tcp" })
        #expect(unpooled.decoysFlagged.contains { cloud.contains($0) }, "\(unpooled.decoysFlagged)")
    }

    @Test("1:1000 sampling: attacks are still found and nothing benign is flagged")
    func sampledWorld() throws {
        let (evaluation, _, labels) = try Self.analyse(Self.world(seed: 12, sampling: 1000))
        print(evaluation.table)
        #expect(evaluation.decoysFlagged.isEmpty)
        for k in evaluation.kinds {
            if let p = k.precision { #expect(p >= 0.99, "\(k.kind): precision \(p), false positives \(k.falsePositives)") }
        }
        #expect(evaluation.kinds.first { $0.kind == "inbound-ddos" }?.recall == 1)
        // Every outbound flood of several bots is found. Two of the real-traffic lessons are not
        // seen at 1:1000 (EVALUATION.md): one bot's 70 SYNs/s leave about 0.7 sampled SYNs per
        // 10 s, and the ICMP flood (~2,500 packets/s in all) stays under the 5,000 packets/s total.
        let missed = Set(evaluation.kinds.first { $0.kind == "outbound-ddos" }?.missed ?? [])
        let observable = labels.attacks.filter { $0.direction == "outbound" && $0.participants.count >= 2 && $0.kind != .icmpFlood }
        #expect(!observable.isEmpty)
        for a in observable { #expect(!missed.contains(a.victimAddress), "missed \(a.kind) against \(a.victimAddress)") }
    }
}
