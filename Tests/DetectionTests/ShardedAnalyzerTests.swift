import Detection
import Evaluation
import FlowCodec
import Foundation
import MamoriCore
import MamoriTesting
import Simulator
import Testing

/// The subscriber base split over shards finds what one analyzer finds: the same findings, to
/// the byte, in the pinned world and in a larger one with sampling.
@Suite struct ShardedAnalyzerTests {
    /// A world analysed by one ``FlowAnalyzer`` and by a ``ShardedFlowAnalyzer`` of each of
    /// `shardCounts`, from the same records in the same batches; their findings, and the
    /// sharded analyzers' statistics.
    static func analyse(_ c: ISPModel.Configuration, shardCounts: [Int], indicators: Bool = false) throws -> (
        single: [Finding], sharded: [Int: [Finding]], statistics: [Int: AnalyzerStatistics], singleStatistics: AnalyzerStatistics
    ) {
        var simulation = try Simulation(configuration: c)
        let layout = try #require(LabelEvaluation.networkLayout(simulation.labels))
        var detection = DetectionConfiguration(network: layout, pseudonymKey: [1, 2, 3])
        if indicators {
            // Every other labelled C&C address as a known indicator: contacts from hosts in
            // every shard add up to one finding per address.
            let text = simulation.labels.commandAndControl.enumerated().filter { $0.offset % 2 == 0 }
                .map { "\($0.element.address) \($0.element.family.rawValue)" }.joined(separator: "\n")
            detection.indicators = EndpointList.parse(text).0
            #expect(detection.indicators.count > 2)
        }
        var single = FlowAnalyzer(configuration: detection)
        var sharded = shardCounts.map { ShardedFlowAnalyzer(configuration: detection, shards: $0) }
        var decoder = FlowDecoder()
        var records: [FlowRecord] = []
        var reported: [Int: Int] = [:]
        while let window = simulation.nextWindow() {
            for d in window {
                records.removeAll(keepingCapacity: true)
                _ = d.payload.withUnsafeBytes {
                    decoder.decode($0, from: d.exporter, receivedAtMilliseconds: d.timeMilliseconds, into: &records)
                }
                for r in records { single.ingest(r, receivedAt: d.timeMilliseconds) }
                let batch = records.map { (record: $0, receivedAt: d.timeMilliseconds) }
                for i in sharded.indices { sharded[i].ingest(batch) }
            }
            let expected = single.evaluate(now: simulation.now).map(\.id)
            for i in sharded.indices {
                let got = sharded[i].evaluate(now: simulation.now).map(\.id)
                // The same findings reported at the same evaluation.
                if got != expected { reported[shardCounts[i], default: 0] += 1 }
            }
        }
        _ = single.finish()
        for i in sharded.indices { _ = sharded[i].finish() }
        #expect(reported.isEmpty, "evaluations that reported other findings, by shard count: \(reported)")
        return (
            single.currentFindings, Dictionary(uniqueKeysWithValues: zip(shardCounts, sharded.map(\.currentFindings))),
            Dictionary(uniqueKeysWithValues: zip(shardCounts, sharded.map(\.statistics))), single.statistics
        )
    }

    @Test("the pinned world: one, two and three shards find exactly what one analyzer finds")
    func pinnedWorld() async throws {
        let result = try await offThePool { try Self.analyse(PinnedFindingsTests.world(), shardCounts: [1, 2, 3]) }
        let expected = try PinnedFindingsTests.fingerprint(result.single)
        #expect(result.single.count == 36)
        for (n, findings) in result.sharded.sorted(by: { $0.key < $1.key }) {
            #expect(findings.count == result.single.count, "\(n) shards")
            #expect(try PinnedFindingsTests.fingerprint(findings) == expected, "\(n) shards")
            for (a, b) in zip(findings, result.single) where a != b {
                Issue.record("\(n) shards: \(a.id) differs:\n\(PinnedFindingsTests.digest([a]))\n\(PinnedFindingsTests.digest([b]))")
            }
            let s = try #require(result.statistics[n])
            #expect(s.records == result.singleStatistics.records)
            #expect(s.outbound == result.singleStatistics.outbound)
            #expect(s.trackedPairs == result.singleStatistics.trackedPairs, "\(n) shards")
        }
    }

    @Test("a sampled world of 3,000 lines: two and four shards find exactly what one analyzer finds")
    func sampledWorld() async throws {
        var world = SimulatedISPTests.world(seed: 7, sampling: 10)
        world.durationMilliseconds = 1_200_000
        let c = world
        let result = try await offThePool { try Self.analyse(c, shardCounts: [2, 4]) }
        #expect(!result.single.isEmpty)
        let expected = try PinnedFindingsTests.fingerprint(result.single)
        for (n, findings) in result.sharded.sorted(by: { $0.key < $1.key }) {
            #expect(findings.map(\.id) == result.single.map(\.id), "\(n) shards")
            #expect(try PinnedFindingsTests.fingerprint(findings) == expected, "\(n) shards")
        }
    }

    @Test("known indicators: contacts counted in every shard make the findings one analyzer makes")
    func indicatorWorld() async throws {
        let result = try await offThePool { try Self.analyse(PinnedFindingsTests.world(), shardCounts: [3], indicators: true) }
        let indicatorFindings = result.single.filter { $0.kind == .knownIndicator }
        #expect(indicatorFindings.count > 2)
        #expect(indicatorFindings.contains { $0.evidence.cohortSize > 1 }, "an indicator contacted by several hosts")
        let sharded = try #require(result.sharded[3])
        #expect(sharded.map(\.id) == result.single.map(\.id))
        #expect(try PinnedFindingsTests.fingerprint(sharded) == PinnedFindingsTests.fingerprint(result.single))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (a, b) in zip(sharded, result.single) where try encoder.encode(a) != encoder.encode(b) {
            Issue.record(
                "3 shards: \(a.id) differs:\n\(String(decoding: try encoder.encode(a), as: UTF8.self))\n\(String(decoding: try encoder.encode(b), as: UTF8.self))"
            )
        }
    }

    @Test("max_pairs bounds the shards' pairs together: one busy host's pairs are not cut to a shard's share")
    func pairBoundIsSharedByTheShards() {
        // One subscriber host (so one shard holds every pair) contacts 5,000 distinct addresses
        // once each, under a bound of 1,000 pairs. One analyzer keeps between nine tenths of the
        // bound and the bound; two shards must keep as many (a fixed half per shard kept 500).
        let layout = NetworkLayout(subscriberPrefixes: [IPPrefix("100.64.0.0/10")!], laboratoryInternet: [])
        var configuration = DetectionConfiguration(network: layout, pseudonymKey: [7])
        configuration.maximumPairs = 1_000
        var single = FlowAnalyzer(configuration: configuration)
        var sharded = ShardedFlowAnalyzer(configuration: configuration, shards: 2)
        let start: Int64 = 1_795_000_000_000
        var batch: [(record: FlowRecord, receivedAt: Int64)] = []
        for i in 0..<5_000 {
            let t = start + Int64(i) * 100
            let r = FlowRecord(
                sourceAddress: IPAddress("100.64.0.7")!, destinationAddress: .v4(0xCB00_0000 + UInt32(i)),
                sourcePort: UInt16(20_000 + i % 30_000),
                destinationPort: 443, ipProtocol: 6, tcpFlags: 0x1B, bytes: 900, packets: 8, startMilliseconds: t, endMilliseconds: t + 50)
            single.ingest(r, receivedAt: t + 50)
            batch.append((r, t + 50))
            if batch.count == 250 {
                sharded.ingest(batch)
                batch.removeAll()
                _ = single.evaluate(now: t + 50)
                _ = sharded.evaluate(now: t + 50)
                #expect(sharded.statistics.trackedPairs <= 1_000, "after record \(i)")
            }
        }
        _ = single.finish()
        _ = sharded.finish()
        let one = single.statistics
        let two = sharded.statistics
        #expect((900...1_000).contains(one.trackedPairs), "one analyzer: \(one.trackedPairs)")
        #expect((900...1_000).contains(two.trackedPairs), "two shards: \(two.trackedPairs)")
        #expect(one.pairsEvicted == 5_000 - one.trackedPairs)
        #expect(two.pairsEvicted == 5_000 - two.trackedPairs)
    }
}
