import Evaluation
import FlowCodec
import Foundation
import MamoriCore
import Testing

@testable import Detection

@Suite struct DetectorUnitTests {
    @Test func prefixesMatchTheirOwnFamilyOnly() throws {
        let v4 = try #require(IPPrefix("100.64.0.0/10"))
        #expect(v4.contains(IPAddress("100.127.255.255")!))
        #expect(!v4.contains(IPAddress("100.128.0.0")!))
        #expect(!v4.contains(IPAddress("::ffff:0:0")!) || v4.contains(IPAddress("100.64.0.1")!))
        let v6 = try #require(IPPrefix("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!v6.contains(IPAddress("198.18.0.1")!))
        #expect(IPPrefix("10.0.0.0/33") == nil)
        #expect(IPPrefix("10.0.0.1/8")?.description == "10.0.0.0/8")
        #expect(IPPrefix("0.0.0.0/0")?.contains(IPAddress("2001:db8::1")!) == false)
    }

    @Test func distinctCounterIsExactWhenSmallAndCloseWhenLarge() {
        var c = DistinctCounter()
        for i in 0..<10 { c.insert(UInt64(i) &* 0x9E37_79B9_7F4A_7C15) }
        for i in 0..<10 { c.insert(UInt64(i) &* 0x9E37_79B9_7F4A_7C15) }
        #expect(c.count == 10)
        var big = DistinctCounter(precision: 12)
        var r = SplitMix64(seed: 3)
        for _ in 0..<50_000 { big.insert(r.next()) }
        #expect(abs(big.count - 50_000) < 2_500, "estimate \(big.count)")
    }

    @Test func distinctCountersUniteExactlyWhenSmallAndAsSketches() {
        func counter(_ values: [UInt64], limit: Int = 4) -> DistinctCounter {
            var c = DistinctCounter(precision: 8, exactLimit: limit)
            for v in values { c.insert(v &* 0x9E37_79B9_7F4A_7C15) }
            return c
        }
        // One value (held inline), a few, a repeat of the inline one, and past the exact limit.
        #expect(counter([7]).count == 1)
        #expect(counter([7, 7, 8, 7]).count == 2)
        var u = counter([1])
        u.formUnion(counter([1, 2, 3]))
        #expect(u.count == 3)
        var v = counter([1, 2, 3])
        v.formUnion(counter([4]))
        #expect(v.count == 4)
        v.formUnion(counter([5, 6]))
        #expect(v.count == 6, "past the exact limit of 4: a sketch of six values")
        var w = counter([9])
        w.formUnion(counter(Array(100..<140)))
        #expect(abs(w.count - 41) <= 6, "the exact value joined the other's sketch: \(w.count)")
        #expect(DistinctCounter(precision: 8, exactLimit: 0).count == 0)
        var none = DistinctCounter(precision: 8, exactLimit: 0)
        none.insert(42)
        #expect(none.count == 1)
    }

    @Test func pairStatisticsAreThoseOfByteStatistics() {
        // The pair keeps Welford's moments without the count (``Moments``): the same arithmetic,
        // so the same bits as ``ByteStatistics``.
        var r = SplitMix64(seed: 5)
        var reference = ByteStatistics()
        var moments = Moments()
        for n in 1...1_000 {
            let x = Double(r.next() % 100_000) / 7
            reference.add(x)
            moments.add(x, count: Int32(n))
        }
        let rebuilt = ByteStatistics(count: 1_000, moments)
        #expect(rebuilt == reference)
        #expect(rebuilt.standardDeviation == reference.standardDeviation)
    }

    @Test func selectionFindsWhatSortingFinds() {
        // The tables' trims take their cut by selection: it must be the sorted order's k-th,
        // whatever the order, runs of equal ages and sizes.
        var r = SplitMix64(seed: 17)
        for size in [1, 2, 3, 10, 1_000, 20_000] {
            for spread in [1, 5, 1_000_000] {
                let values = (0..<size).map { _ in Int64(r.next() % UInt64(spread)) }
                let sorted = values.sorted()
                for k in Set([0, size / 10, size / 2, size - 1]) {
                    var copy = values
                    #expect(kthSmallest(&copy, k) == sorted[k], "size \(size), spread \(spread), k \(k)")
                }
            }
        }
        var ascending = (0..<50_000).map { Int64($0) }
        #expect(kthSmallest(&ascending, 4_999) == 4_999)
        var descending = (0..<50_000).reversed().map { Int64($0) }
        #expect(kthSmallest(&descending, 45_000) == 45_000)
    }

    @Test func pairStateFitsItsBudget() {
        // Millions of pairs are followed: the bytes per pair are a figure of BENCHMARKS.md
        // (issue 26). A field added in the wrong place pads the struct; this says so.
        #expect(MemoryLayout<PairState>.size <= 136, "PairState is \(MemoryLayout<PairState>.size) bytes")
        #expect(MemoryLayout<ConnectionSlots>.size <= 33)
        // The pair table's entry, key (43 bytes, padded to 48) and state: 224 bytes before.
        #expect(MemoryLayout<FlatTable<PairKey, PairState>.Entry>.stride <= 184)
        #expect(MemoryLayout<DistinctCounter>.stride <= 32)
    }

    @Test func connectionSlotsKeepEndsBehindTheLatestExactly() {
        // Four connections, their ends as distances behind the latest: every end read back as
        // given, the latest recomputed when the slot holding it is dropped.
        var slots = ConnectionSlots(port: 1, end: 1_000_000)
        slots.add(port: 2, end: 400_000)
        let kept = slots.extend(port: 2, to: 300_000)
        #expect(kept && slots.end(of: 2) == 400_000, "an earlier end does not shorten a connection")
        let extended = slots.extend(port: 2, to: 2_000_000)
        #expect(extended)
        #expect(slots.latestEnd == 2_000_000 && slots.end(of: 1) == 1_000_000 && slots.end(of: 2) == 2_000_000)
        slots.add(port: 3, end: 500)
        slots.add(port: 4, end: 600)
        let unknown = slots.extend(port: 5, to: 1)
        #expect(!unknown)
        slots.add(port: 5, end: 700) // drops port 1 (the oldest)
        #expect(slots.end(of: 1) == nil && slots.end(of: 3) == 500 && slots.latestEnd == 2_000_000)
        slots.add(port: 6, end: 800) // drops port 2, which held the latest end
        #expect(slots.end(of: 2) == nil && slots.latestEnd == 800 && slots.end(of: 3) == 500 && slots.end(of: 6) == 800)
        // Hostile ends: no trap; an end 49 days or more behind reads as 2^32 − 1 ms behind.
        slots.add(port: 7, end: Int64.max)
        #expect(slots.latestEnd == Int64.max && slots.end(of: 7) == Int64.max)
        #expect(slots.end(of: 6) == Int64.max - Int64(UInt32.max))
        slots.add(port: 8, end: Int64.min)
        #expect(slots.end(of: 8) == Int64.max - Int64(UInt32.max))
    }

    @Test func beaconScoreSeparatesTimersFromPeople() throws {
        var regular = ByteStatistics()
        var times: [Int64] = []
        var r = SplitMix64(seed: 9)
        for k in 0..<20 {
            times.append(Int64(k) * 60_000 + Int64(r.next() % 1_000))
            regular.add(1_212 + Double(r.next() % 16))
        }
        let bot = try #require(BeaconScore(times: times, bytes: regular))
        #expect(bot.combined > 0.9)
        #expect(abs(bot.medianInterval - 60_000) < 1_000)

        var human = ByteStatistics()
        var t: Int64 = 0
        var humanTimes: [Int64] = []
        for _ in 0..<20 {
            t += Int64(-log(Double(r.next() % 10_000 + 1) / 10_001) * 60_000) // Poisson arrivals
            humanTimes.append(t)
            human.add(Double(r.next() % 60_000 + 200))
        }
        let person = try #require(BeaconScore(times: humanTimes, bytes: human))
        #expect(person.combined < 0.7, "Poisson arrivals scored \(person.combined)")
        #expect(BeaconScore(times: [0, 1, 2], bytes: regular) == nil)
    }

    @Test func endpointListReadsAddressesPrefixesAndServices() {
        let (list, errors) = EndpointList.parse(
            """
            # indicators
            192.0.2.23        mirai
            198.51.100.0/24   beacon family
            203.0.113.7:443/tcp dga
            [2001:db8::1]:8443/tcp v6
            not-an-address
            """)
        #expect(list.count == 4)
        #expect(errors.map(\.line) == [6])
        #expect(list.match(Endpoint(address: IPAddress("192.0.2.23")!, port: 1, ipProtocol: 17))?.note == "mirai")
        #expect(list.match(Endpoint(address: IPAddress("198.51.100.9")!, port: 443, ipProtocol: 6))?.note == "beacon family")
        #expect(list.match(Endpoint(address: IPAddress("203.0.113.7")!, port: 443, ipProtocol: 6))?.note == "dga")
        #expect(list.match(Endpoint(address: IPAddress("203.0.113.7")!, port: 80, ipProtocol: 6)) == nil)
        #expect(list.match(Endpoint(address: IPAddress("2001:db8::1")!, port: 8443, ipProtocol: 6))?.note == "v6")
    }

    static let layout = NetworkLayout(
        subscriberPrefixes: [IPPrefix("198.18.0.0/15")!], infrastructurePrefixes: [IPPrefix("198.19.255.0/24")!],
        cgnatPools: [CGNATPool(prefix: IPPrefix("198.18.0.0/24")!, firstPort: 1024, portsPerBlock: 1008)],
        laboratoryInternet: LabelEvaluation.simulatorInternet)

    @Test func cgnatBlocksSplitASharedAddress() {
        let a = IPAddress("198.18.0.5")!
        let h1 = Self.layout.host(a, port: 1024)
        let h2 = Self.layout.host(a, port: 2031)
        let h3 = Self.layout.host(a, port: 2032)
        #expect(h1 == h2)
        #expect(h1 != h3)
        #expect(h3.description == "198.18.0.5:2032-3039")
        #expect(Self.layout.host(IPAddress("198.18.1.5")!, port: 40_000).description == "198.18.1.5")
    }

    func flow(
        _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, proto: UInt8 = 6, flags: UInt8 = 0x1B, packets: UInt64,
        bytes: UInt64, start: Int64, duration: Int64 = 0, sampling: UInt32 = 1
    ) -> FlowRecord {
        var r = FlowRecord(
            exporter: .v4(1), sourceAddress: IPAddress(src)!, destinationAddress: IPAddress(dst)!, sourcePort: sport,
            destinationPort: dport, ipProtocol: proto, tcpFlags: flags, bytes: bytes, packets: packets, startMilliseconds: start,
            endMilliseconds: start + duration)
        r.samplingInterval = sampling
        return r
    }

    @Test func inboundFloodIsReportedWithinASecondOfItsRecords() throws {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        let onset: Int64 = 1_000_000_000
        // Quiet background first: a few small downloads.
        for s in 0..<120 {
            analyzer.ingest(
                flow(
                    "240.0.0.1", 443, "198.18.1.9", 50_000, packets: 40, bytes: 40_000, start: onset - 130_000 + Int64(s) * 1000,
                    duration: 900), receivedAt: onset - 129_000 + Int64(s) * 1000)
        }
        #expect(analyzer.evaluate(now: onset).isEmpty)
        // 30 reflectors × 1,000 packets/s for one second, exported one second later.
        for i in 0..<30 {
            analyzer.ingest(
                flow("242.0.0.\(i + 1)", 123, "198.18.1.9", 40_000, proto: 17, packets: 1_000, bytes: 468_000, start: onset, duration: 999),
                receivedAt: onset + 1_000)
        }
        let found = analyzer.evaluate(now: onset + 1_000)
        let f = try #require(found.first { $0.kind == .inboundDDoS })
        #expect(f.subject.address == "198.18.1.9")
        #expect(f.firstSeen == onset)
        #expect(f.detectedAt - onset <= 5_000)
    }

    @Test func scanningUnderSamplingNeedsEnoughObservedProbes() {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        // One sampled SYN at 1:1000 "stands for" 1,000 probes, but one packet proves nothing.
        analyzer.ingest(
            flow("198.18.1.9", 40_000, "240.128.0.1", 23, flags: 0x02, packets: 1_000, bytes: 40_000, start: 0, sampling: 1_000),
            receivedAt: 1_000)
        #expect(analyzer.finish().isEmpty)
        var scanner = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        for i in 0..<6 {
            scanner.ingest(
                flow(
                    "198.18.1.9", 40_000 + UInt16(i), "240.128.0.\(i + 1)", 23, flags: 0x02, packets: 1_000, bytes: 40_000,
                    start: Int64(i) * 1000, sampling: 1_000), receivedAt: Int64(i) * 1000 + 500)
        }
        let found = scanner.finish()
        #expect(found.contains { $0.kind == .scanning && $0.subject.address == "198.18.1.9" })
        #expect(found.contains { $0.kind == .infectedDevice && $0.subject.address == "198.18.1.9" })
    }

    @Test func knownIndicatorMarksItsContactsInfected() {
        var c = DetectionConfiguration(network: Self.layout, pseudonymKey: [7])
        c.indicators = EndpointList.parse("192.0.2.99 testfamily").0
        var analyzer = FlowAnalyzer(configuration: c)
        for k in 0..<3 {
            analyzer.ingest(
                flow("198.18.0.5", 1100, "192.0.2.99", 8080, packets: 5, bytes: 500, start: Int64(k) * 120_000),
                receivedAt: Int64(k) * 120_000 + 100)
        }
        let found = analyzer.finish()
        let indicator = found.first { $0.kind == .knownIndicator }
        #expect(indicator?.family == "testfamily")
        #expect(indicator?.evidence.cohortSize == 1)
        let device = found.first { $0.kind == .infectedDevice }
        #expect(device?.subject.description == "198.18.0.5:1024-2031")
        #expect(device?.family == "testfamily")
    }

    /// Indicators shared by a peer: matched with their source and confidence, not after their
    /// `valid_until`, and forgotten (contacts and finding) when the source revokes them.
    @Test func sharedIndicatorsMatchUntilTheyExpireOrAreRevoked() {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        func contacts(_ destination: String, from start: Int64, source: String = "198.18.0.5") {
            for k in 0..<3 {
                let t = start + Int64(k) * 120_000
                analyzer.ingest(flow(source, 1100, destination, 8080, packets: 5, bytes: 500, start: t), receivedAt: t + 100)
            }
        }
        let dropped = analyzer.replaceIndicators(
            source: "isac",
            with: [
                EndpointList.Entry(prefix: IPPrefix("192.0.2.99/32")!, note: "emotet", confidence: 0.8),
                EndpointList.Entry(prefix: IPPrefix("192.0.2.50/32")!, note: "old", validUntil: 50_000),
            ])
        #expect(dropped == 0)
        contacts("192.0.2.99", from: 0)
        contacts("192.0.2.50", from: 60_000, source: "198.18.1.7")
        let found = analyzer.evaluate(now: 400_000)
        let indicator = try? #require(found.first { $0.kind == .knownIndicator })
        #expect(indicator?.subject.address == "192.0.2.99" && indicator?.score == 0.8)
        #expect(indicator?.evidence.reasons.first?.contains("shared by isac (emotet), confidence 80 %") == true, "\(found)")
        // Every contact with 192.0.2.50 came after its valid_until: no finding about it or its host.
        #expect(!found.contains { $0.subject.address == "192.0.2.50" || $0.subject.address == "198.18.1.7" }, "\(found)")
        let device = found.first { $0.kind == .infectedDevice }
        #expect(device?.subject.description == "198.18.0.5:1024-2031" && device?.family == "emotet")
        // The file's indicators and other sources' stay when one source's list is replaced.
        analyzer.replaceIndicators(source: "other-isac", with: [EndpointList.Entry(prefix: IPPrefix("192.0.2.1/32")!)])
        #expect(analyzer.configuration.indicators.count == 3)
        // Revoked by its source: it stops matching and its finding leaves the analyzer.
        analyzer.replaceIndicators(source: "isac", with: [])
        #expect(analyzer.configuration.indicators.entries.map(\.source) == ["other-isac"])
        #expect(!analyzer.currentFindings.contains { $0.kind == .knownIndicator }, "\(analyzer.currentFindings.map(\.summary))")
        contacts("192.0.2.99", from: 500_000)
        #expect(!analyzer.evaluate(now: 900_000).contains { $0.kind == .knownIndicator })
    }

    @Test func sharedIndicatorsAreCapped() {
        var c = DetectionConfiguration(network: Self.layout, pseudonymKey: [7])
        c.indicators = EndpointList.parse("192.0.2.99 file").0
        c.maximumIndicators = 3
        var analyzer = FlowAnalyzer(configuration: c)
        let many = (1...5).map { EndpointList.Entry(prefix: IPPrefix("203.0.113.\($0)/32")!) }
        #expect(analyzer.replaceIndicators(source: "feed", with: many) == 3)
        #expect(analyzer.configuration.indicators.count == 3)
        #expect(analyzer.configuration.indicators.entries.first?.note == "file")
    }

    @Test func quietFindingsLeaveTheAnalyzerAfterADay() {
        var c = DetectionConfiguration(network: Self.layout, pseudonymKey: [7])
        c.indicators = EndpointList.parse("192.0.2.99 testfamily").0
        var analyzer = FlowAnalyzer(configuration: c)
        for k in 0..<3 {
            analyzer.ingest(
                flow("198.18.0.5", 1100, "192.0.2.99", 8080, packets: 5, bytes: 500, start: Int64(k) * 120_000),
                receivedAt: Int64(k) * 120_000 + 100)
        }
        #expect(analyzer.evaluate(now: 400_000).contains { $0.kind == .infectedDevice })
        // A quiet day and a half later (the indicator contacts aged out after 3 h), memory is freed.
        _ = analyzer.evaluate(now: 4 * 3_600_000)
        _ = analyzer.evaluate(now: 30 * 3_600_000)
        _ = analyzer.evaluate(now: 56 * 3_600_000)
        #expect(analyzer.currentFindings.isEmpty, "\(analyzer.currentFindings.map(\.summary))")
    }

    @Test func allowlistedEndpointIsNeverReported() {
        var c = DetectionConfiguration(network: Self.layout, pseudonymKey: [7])
        c.allowlist = EndpointList.parse("240.5.0.1:8883/tcp camera cloud").0
        var analyzer = FlowAnalyzer(configuration: c)
        for k in 0..<30 {
            let t = Int64(k) * 60_000
            analyzer.ingest(flow("198.18.0.5", 1100 + UInt16(k), "240.5.0.1", 8883, packets: 2, bytes: 140, start: t), receivedAt: t + 100)
            _ = analyzer.evaluate(now: t + 100)
        }
        #expect(analyzer.finish().isEmpty)
        #expect(analyzer.statistics.suppressedAllowlisted > 0)
    }

    /// 24 cameras heartbeat every 60 s to a vendor cloud of eight round-robin addresses (three
    /// cameras per address, each address below the popularity floor of 20 hosts); three bots beacon
    /// every 5 min to a C&C in the same /24 on the same port.
    func cameraCloudAndNeighbour(cloudAddresses: Int) -> FlowAnalyzer {
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
        var records: [(FlowRecord, Int64)] = []
        for camera in 0..<(3 * cloudAddresses) {
            let server = "240.5.0.\(1 + camera % cloudAddresses)"
            for k in 0..<40 {
                let t = Int64(k) * 60_000 + Int64(camera) * 1_700 + Int64((k * 7 + camera * 13) % 11) * 30
                records.append(
                    (
                        flow("198.18.1.\(10 + camera)", UInt16(20_000 + k), server, 8883, packets: 2, bytes: 140, start: t, duration: 80),
                        t + 100
                    ))
            }
        }
        for bot in 0..<3 {
            for k in 0..<8 {
                let t = Int64(k) * 300_000 + Int64(bot) * 9_000 + Int64((k * 5 + bot) % 7) * 40
                records.append(
                    (
                        flow(
                            "198.18.2.\(10 + bot)", UInt16(30_000 + k), "240.5.0.200", 8883, packets: 2, bytes: 120, start: t, duration: 50),
                        t + 100
                    ))
            }
        }
        records.sort { $0.1 < $1.1 }
        for (r, t) in records {
            analyzer.ingest(r, receivedAt: t)
            _ = analyzer.evaluate(now: t)
        }
        return analyzer
    }

    @Test func aServiceSpreadOverSiblingAddressesIsAsPopularAsAllOfThem() {
        var pooled = cameraCloudAndNeighbour(cloudAddresses: 8)
        _ = pooled.finish()
        let found = pooled.currentFindings.filter { $0.kind == .commandAndControl }.map { $0.subject.description }
        #expect(!found.contains { $0.hasPrefix("240.5.0.") && !$0.hasPrefix("240.5.0.200") }, "camera cloud flagged: \(found)")
        #expect(pooled.statistics.suppressedServicePool > 0)
        // The C&C beside it beacons at another period: not part of the pool, still reported.
        #expect(found.contains("240.5.0.200:8883/tcp"), "\(found)")

        // The guard is what spares the cloud: one address of it alone, three cameras, is reported.
        var single = cameraCloudAndNeighbour(cloudAddresses: 1)
        _ = single.finish()
        let alone = single.currentFindings.filter { $0.kind == .commandAndControl }.map { $0.subject.description }
        #expect(alone.contains("240.5.0.1:8883/tcp"), "\(alone)")
    }

    /// Two bots SYN-flood one target at 1,000 packets/s each: 2,000 packets/s in all, below the
    /// total thresholds, yet no line sends a service that many unanswered connection attempts.
    @Test func aSmallSynFloodIsAnAttackByItsPerHostRate() {
        func run(packetsPerRecord: UInt64) -> [Finding] {
            var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: Self.layout, pseudonymKey: [7]))
            for k in 0..<120 { // 30 s, four records a second per bot, each 0.9 s long
                let t = Int64(k) * 250
                for bot in ["198.18.1.20", "198.18.1.21"] {
                    analyzer.ingest(
                        flow(
                            bot, UInt16(20_000 + k), "203.0.113.80", 443, flags: 0x02, packets: packetsPerRecord,
                            bytes: packetsPerRecord * 40, start: t, duration: 900), receivedAt: t + 1_000)
                }
                _ = analyzer.evaluate(now: t + 1_000)
            }
            _ = analyzer.finish()
            return analyzer.currentFindings
        }
        let flood = run(packetsPerRecord: 250)
        let attack = flood.first { $0.kind == .outboundDDoS }
        #expect(attack?.subject.address == "203.0.113.80")
        #expect(attack?.evidence.cohortSize == 2)
        #expect(flood.filter { $0.kind == .infectedDevice }.count == 2)
        // 300 unanswered SYNs a second from each bot is still a flood (the one-host rule: 20/s) …
        #expect(run(packetsPerRecord: 75).contains { $0.kind == .outboundDDoS })
        // … 16 a second (a client retrying, however stubbornly) is not.
        #expect(!run(packetsPerRecord: 4).contains { $0.kind == .outboundDDoS })
    }

    @Test func loadShedderKeepsWholePairsScaledAndRecovers() {
        var shedder = LoadShedder(capacity: 100, key: 0x5EC2E7)
        shedder.adjust(backlog: 50)
        #expect(shedder.interval == 1)
        shedder.adjust(backlog: 101)
        shedder.adjust(backlog: 500)
        #expect(shedder.interval == 4)
        var kept = 0
        var keptPairs = Set<String>()
        var shedPairs = Set<String>()
        // 400 address pairs, 10 records each.
        for i in 0..<4_000 {
            let a = "198.18.\(i % 16).1"
            let b = "240.0.\(i % 25).1"
            var r = flow(a, 1100, b, 443, packets: 10, bytes: 1_000, start: Int64(i))
            var back = flow(b, 443, a, 1100, packets: 10, bytes: 1_000, start: Int64(i))
            let forward = shedder.admit(&r)
            #expect(forward == shedder.admit(&back), "both directions of a conversation share one fate")
            if forward {
                kept += 1
                keptPairs.insert(a + b)
                #expect(r.packets == 40 && r.bytes == 4_000 && r.samplingInterval == 4)
            } else {
                shedPairs.insert(a + b)
            }
        }
        #expect(keptPairs.isDisjoint(with: shedPairs), "a pair is kept or shed as a whole")
        #expect((700...1_300).contains(kept), "kept \(kept) of 4000 at 1 in 4")
        // The secret decides which pairs survive: another key keeps other pairs.
        var other = LoadShedder(capacity: 100, key: 0xC0FFEE)
        other.adjust(backlog: 101)
        other.adjust(backlog: 500)
        var otherKept = Set<String>()
        for i in 0..<400 {
            let a = "198.18.\(i % 16).1"
            let b = "240.0.\(i % 25).1"
            var r = flow(a, 1100, b, 443, packets: 10, bytes: 1_000, start: Int64(i))
            if other.admit(&r) { otherKept.insert(a + b) }
        }
        #expect(otherKept != keptPairs, "the pairs kept do not depend on the key")
        shedder.adjust(backlog: 5)
        shedder.adjust(backlog: 5)
        #expect(shedder.interval == 1)
    }

    @Test func findingIdsAreStable() {
        let s = FindingSubject.endpoint(Endpoint(address: IPAddress("192.0.2.23")!, port: 23, ipProtocol: 6))
        #expect(Finding.id(kind: .commandAndControl, subject: s) == Finding.id(kind: .commandAndControl, subject: s))
        #expect(Finding.id(kind: .commandAndControl, subject: s) != Finding.id(kind: .knownIndicator, subject: s))
        #expect(Finding.id(kind: .commandAndControl, subject: s).hasPrefix("c2-server:"))
    }
}
