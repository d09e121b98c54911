import Foundation
import MamoriCore
import MamoriTesting
import Telephony
import Testing

@testable import Simulator

/// A week of 1,500 lines: about 60,000 calls, every kind of line and episode in it.
func telephonyConfiguration(seed: UInt64 = 11, feed: TelephonyFeed = .asterisk) -> TelephonyWorld.Configuration {
    var c = TelephonyWorld.Configuration(seed: seed, lines: 1500, days: 7)
    c.feed = feed
    c.episodes = 16
    return c
}

/// The world's calls, generated once per configuration for the whole suite.
private let weekCalls: [SimulatedCall] = Array(try! TelephonyWorld(configuration: telephonyConfiguration()).calls())
private let weekWorld = try! TelephonyWorld(configuration: telephonyConfiguration())
private let classifier = CallClassifier(rules: .japan, plan: .shipped)

/// Hour (0–23) and weekday (0 Sunday … 6 Saturday) in Japan.
private func japan(_ ms: Int64) -> (hour: Int, weekday: Int) {
    let local = ms / 1000 + 9 * 3600
    let days = local / 86_400
    return (Int(local % 86_400 / 3600), Int((days + 4) % 7))
}

/// The shipped table's row of a number given as digits.
private func tableRow(_ digits: String) throws -> Destination {
    let number = try #require(E164Number(digits: digits))
    return try #require(NumberPlan.shipped.lookup(number))
}

private func digest(_ calls: some Sequence<SimulatedCall>) -> (count: Int, hash: UInt64) {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    var n = 0
    func mix(_ v: UInt64) { h = (h ^ v) &* 0x100_0000_01B3 }
    for c in calls {
        n += 1
        let r = c.record
        for s in [r.callID, r.account, r.caller, r.dialled, r.outcome.rawValue] { for b in s.utf8 { mix(UInt64(b)) } }
        mix(UInt64(bitPattern: r.start))
        mix(UInt64(bitPattern: r.answered ?? -1))
        mix(UInt64(r.billedSeconds))
        mix(UInt64(bitPattern: c.hangUp))
        mix(UInt64(bitPattern: Int64(c.episode ?? -1)))
    }
    return (n, h)
}

@Suite(.heavyWork) struct TelephonyWorldTests {
    @Test func sameSeedSameRecordsAndLabelsOtherSeedOtherWorld() throws {
        var c = telephonyConfiguration()
        c.days = 2
        let a = try TelephonyWorld(configuration: c)
        let b = try TelephonyWorld(configuration: c)
        var other = c
        other.seed = 12
        let d = try TelephonyWorld(configuration: other)
        let da = digest(a.calls())
        #expect(da.count > 5000)
        #expect(da == digest(b.calls()))
        #expect(a.labels == b.labels)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(a.labels) == encoder.encode(b.labels))
        #expect(da != digest(d.calls()))
        #expect(a.labels != d.labels)
        // The labels survive JSON.
        #expect(try JSONDecoder().decode(TelephonyLabels.self, from: encoder.encode(a.labels)) == a.labels)
    }

    @Test func recordsComeInTheOrderOfTheirEndAndIdsAreUnique() {
        var ids = Set<String>()
        var last = Int64.min
        for c in weekCalls {
            #expect(c.hangUp >= last)
            last = c.hangUp
            #expect(c.hangUp >= c.record.end)
            ids.insert(c.record.callID)
        }
        #expect(ids.count == weekCalls.count)
        #expect(weekCalls.count > 40_000)
    }

    @Test func labelsAgreeWithTheRecords() throws {
        let labels = weekWorld.labels
        var byID: [String: SimulatedCall] = [:]
        for c in weekCalls { byID[c.record.callID] = c }
        let fraudIDs = labels.fraudulentCallIDs
        #expect(!fraudIDs.isEmpty)
        #expect(fraudIDs == Set(weekCalls.filter { $0.episode != nil }.map(\.record.callID)))
        let ranges = Set(labels.fraudRanges.map(\.range))
        let hijacked = Dictionary(uniqueKeysWithValues: labels.hijackedLines.map { ($0.account, $0) })
        for e in labels.episodes {
            #expect(e.calls == e.callIDs.count)
            #expect(e.start <= e.pumpingStart && e.pumpingStart < e.end)
            let windows = try #require(hijacked[e.account]).episodes
            #expect(windows.contains { $0.episode == e.id && $0.start == e.start && $0.end == e.end })
            for id in e.callIDs {
                let call = try #require(byID[id])
                #expect(call.episode == e.id)
                #expect(call.record.account == e.account)
                #expect(call.record.start >= e.start / 1000 * 1000 && call.hangUp <= e.end)
                let classified = classifier.classify(call.record)
                let range = try #require(classified.range).digits
                #expect(e.ranges.contains(range))
                #expect(classified.isInternational)
            }
        }
        // The ranges carry fraud only: no legitimate call of the world goes there.
        var legitimateInRanges = 0
        for c in weekCalls where c.episode == nil {
            if let r = classifier.classify(c.record).range, ranges.contains(r.digits) { legitimateInRanges += 1 }
        }
        #expect(legitimateInRanges == 0)
        // Each range's fraud-only hours cover its calls.
        for range in labels.fraudRanges {
            let hours = Set(range.fraudOnlyHours)
            #expect(range.calls > 0 && !hours.isEmpty)
            for e in labels.episodes where range.episodes.contains(e.id) {
                #expect(hours.contains(e.start / 3_600_000 * 3_600_000))
            }
            let destination = try tableRow(range.range + "000")
            #expect(destination.prefix == range.tablePrefix)
            #expect(destination.country == range.country)
        }
        // Hijacked lines are never hard negatives; a line's episodes never overlap.
        #expect(labels.hijackedLines.allSatisfy { !$0.kind.isHardNegative })
        for line in labels.hijackedLines {
            #expect(zip(line.episodes, line.episodes.dropFirst()).allSatisfy { $0.end < $1.start })
        }
        // Now and then a line is hijacked again (its PBX was never fixed).
        let again = try (1...20).contains { seed in
            try TelephonyWorld(configuration: telephonyConfiguration(seed: seed)).labels.hijackedLines.contains { $0.episodes.count > 1 }
        }
        #expect(again)
    }

    @Test func episodesAreVaried() throws {
        let labels = weekWorld.labels
        #expect(labels.episodes.count == 16)
        #expect(Set(labels.episodes.map(\.style)) == Set(TelephonyEpisodeStyle.allCases))
        #expect(labels.episodes.contains { $0.testCalls > 0 })
        // Several lines of different customers pump the same range in the same hours.
        let byCampaign = Dictionary(grouping: labels.episodes, by: \.campaign)
        let shared = byCampaign.values.contains { es in
            Set(es.map(\.account)).count >= 2 && es.allSatisfy { $0.ranges == es[0].ranges }
                && es.dropFirst().contains { $0.start < es[0].end && es[0].start < $0.end }
        }
        #expect(shared)
        // Loud: many calls up at once; low and slow: never more than a few an hour.
        func mostAtOnce(_ e: TelephonyLabels.Episode) -> Int {
            let calls = weekCalls.filter { $0.episode == e.id && $0.record.outcome == .answered }
            var events: [(Int64, Int)] = []
            for c in calls { events += [(c.record.answered!, 1), (c.hangUp, -1)] }
            var up = 0
            var most = 0
            for (_, d) in events.sorted(by: { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }) {
                up += d
                most = max(most, up)
            }
            return most
        }
        let loud = try #require(labels.episodes.first { $0.style == .loud && $0.channels >= 10 })
        #expect(mostAtOnce(loud) >= 8)
        for e in labels.episodes where e.style == .lowAndSlow {
            let hours = Dictionary(grouping: weekCalls.filter { $0.episode == e.id }) { $0.record.start / 3_600_000 }
            #expect(hours.values.allSatisfy { $0.count <= 12 })
            #expect(e.end - e.start > 24 * 3_600_000 || e.end >= labels.end)
        }
        // Most episodes start at night or at a weekend (JST), as hijackers prefer.
        let quiet = labels.episodes.filter { e in
            let t = japan(e.pumpingStart)
            return t.hour >= 19 || t.hour < 7 || t.weekday == 0 || t.weekday == 6
        }
        #expect(quiet.count * 2 >= labels.episodes.count)
    }

    @Test func normalLinesCallAsHomesAndOfficesDo() {
        let legitimate = weekCalls.filter { $0.episode == nil }
        let business = legitimate.filter { $0.lineKind == .business }
        let inOfficeHours = business.filter { c in
            let t = japan(c.record.start)
            return (1...5).contains(t.weekday) && (8..<19).contains(t.hour)
        }
        #expect(business.count > 10_000)
        #expect(Double(inOfficeHours.count) / Double(business.count) > 0.9)
        let homes = legitimate.filter { $0.lineKind == .residential }
        let domestic = homes.filter { c in
            let call = classifier.classify(c.record)
            return !call.isInternational
        }
        #expect(homes.count > 10_000)
        #expect(Double(domestic.count) / Double(homes.count) > 0.9)
        #expect(domestic.count < homes.count) // some family abroad
        // Homes call in the evening and at weekends more than in office hours.
        let evenings = homes.filter { c in
            let t = japan(c.record.start)
            return t.weekday == 0 || t.weekday == 6 || t.hour >= 18
        }
        #expect(Double(evenings.count) / Double(homes.count) > 0.45)
        // Homes and offices call nothing high-cost (only the hard negatives do); emergency calls are there.
        #expect(legitimate.filter { !$0.lineKind.isHardNegative && classifier.classify($0.record).isHighCost }.count == 0)
        #expect(legitimate.contains { classifier.classify($0.record).isEmergency })
        // Records are as Japanese subscribers dial: 0…, 010…, short codes.
        #expect(legitimate.contains { $0.record.dialled.hasPrefix("010") })
        #expect(legitimate.contains { $0.record.dialled.hasPrefix("09") })
        #expect(legitimate.contains { $0.record.dialled == "110" || $0.record.dialled == "119" })
        // Durations: many short calls, a long tail.
        let answered = legitimate.filter { $0.record.outcome == .answered }.map(\.record.billedSeconds).sorted()
        #expect(answered[answered.count / 2] > 30 && answered[answered.count / 2] < 240)
        #expect(answered.last! > 1800)
        #expect(legitimate.contains { $0.record.outcome == .noAnswer } && legitimate.contains { $0.record.outcome == .busy })
    }

    @Test func hardNegativesArePresentAndLegitimate() throws {
        let labels = weekWorld.labels
        #expect(labels.hardNegatives.count == 4)
        let byAccount = Dictionary(grouping: weekCalls, by: \.record.account)
        for negative in labels.hardNegatives {
            let calls = try #require(byAccount[negative.account])
            #expect(calls.allSatisfy { $0.episode == nil && $0.lineKind == negative.kind })
            let abroad = calls.map { classifier.classify($0.record) }.filter(\.isInternational)
            switch negative.kind {
            case .callCentre:
                // Hundreds of numbers in one country in a weekday, several calls up at once.
                #expect(Set(abroad.compactMap(\.destination?.country)) == Set(negative.countries))
                #expect(Set(abroad.compactMap(\.number)).count > 1000)
            case .satelliteFleet:
                #expect(abroad.count > 20 && abroad.allSatisfy { $0.isHighCost && $0.destination?.category == .satellite })
                #expect(Set(abroad.compactMap(\.number?.digits)).isSubset(of: negative.numbers))
            case .islandTrade:
                #expect(abroad.count > 10)
                #expect(Set(abroad.compactMap(\.destination?.country)).isSubset(of: ["PW", "KI"]))
            case .residential, .business: Issue.record("not a hard negative: \(negative.kind)")
            }
        }
    }

    @Test(arguments: TelephonyFeed.allCases)
    func writtenLinesReadBackAsTheRecords(feed: TelephonyFeed) throws {
        var c = telephonyConfiguration(feed: feed)
        c.days = 3
        c.maximumRecords = 20_000
        let calls = Array(try TelephonyWorld(configuration: c).calls())
        #expect(calls.count == 20_000)
        #expect(calls.contains { $0.episode != nil } && calls.contains { $0.record.outcome != .answered })
        let writer = TelephonyCDRWriter(feed: feed)
        var bytes: [UInt8] = []
        for call in calls { writer.append(call, to: &bytes) }
        let format: CDRReader.Format =
            feed == .asterisk ? .asterisk(AsteriskCDRFormat(offsetMinutes: 540)) : .kamailio(KamailioAccFormat())
        var reader = CDRReader(format: format)
        var read: [CallRecord] = []
        var refused: [CDRLine] = []
        let collect = { (line: CDRLine) in
            switch line.result {
            case .success(let r): read.append(r)
            case .failure: refused.append(line)
            }
        }
        // In pieces, as a followed file arrives.
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + 65_537)
            reader.feed(bytes[offset..<end], collect)
            offset = end
        }
        reader.finish(collect)
        #expect(refused.isEmpty)
        #expect(read.count == calls.count)
        for (a, b) in zip(read, calls.map(\.record)) where a != b {
            Issue.record("read back \(a), wrote \(b)")
            break
        }
        #expect(read == calls.map(\.record))
    }

    @Test func theStreamHoldsOnlyCallsInProgress() throws {
        // Three times the days, three times the records, the same calls held at once: an hour's
        // calls and those still up, never the run's.
        func run(days: Int) throws -> (records: Int, mostPending: Int) {
            var c = telephonyConfiguration()
            c.lines = 5000
            c.days = days
            var stream = try TelephonyWorld(configuration: c).calls()
            var n = 0
            while stream.next() != nil { n += 1 }
            #expect(n == stream.delivered)
            return (n, stream.mostPending)
        }
        let short = try run(days: 2)
        let long = try run(days: 6)
        #expect(long.records > 5 * short.records / 2)
        #expect(long.mostPending < 3 * short.mostPending / 2)
        #expect(long.mostPending < long.records / 30)
        var limited = telephonyConfiguration()
        limited.maximumRecords = 1234
        #expect(Array(try TelephonyWorld(configuration: limited).calls()).count == 1234)
    }

    @Test func configurationIsChecked() {
        var c = TelephonyWorld.Configuration(seed: 1, lines: 10, days: 1)
        #expect(throws: SimulationConfigurationError.self) { try TelephonyWorld(configuration: c) }
        c.lines = 100
        c.days = 0
        #expect(throws: SimulationConfigurationError.self) { try TelephonyWorld(configuration: c) }
        c.days = 1
        c.episodes = 60
        #expect(throws: SimulationConfigurationError.self) { try TelephonyWorld(configuration: c) }
        c.episodes = 3
        #expect(throws: Never.self) { try TelephonyWorld(configuration: c) }
    }

    /// The callers' numbers are where the table says; the fraud's are the table's own rows.
    @Test func numbersComeFromTheShippedTable() throws {
        let plan = NumberPlan.shipped
        func destinations(_ t: NumberTemplate) throws -> [Destination] {
            var r = SplitMix64(seed: t.prefix)
            return try (0..<50).map { _ in try tableRow(String(t.draw(&r))) }
        }
        for t in TelephonyNumbers.domesticFixed + TelephonyNumbers.domesticMobile + [
            TelephonyNumbers.ipPhone, TelephonyNumbers.freephone, TelephonyNumbers.naviDial,
        ] {
            #expect(try destinations(t).allSatisfy { $0.country == "JP" && !$0.isHighCost })
        }
        for country in TelephonyNumbers.familyCountries + TelephonyNumbers.tradeCountries + TelephonyNumbers.islandPartners
            + [TelephonyNumbers.philippines]
        {
            for t in country.templates {
                #expect(try destinations(t).allSatisfy { $0.country == country.code && !$0.isHighCost }, "\(t)")
            }
        }
        for t in [TelephonyNumbers.inmarsat, TelephonyNumbers.iridium] {
            #expect(try destinations(t).allSatisfy { $0.category == .satellite })
        }
        for t in TelephonyNumbers.fraudDestinations {
            var r = SplitMix64(seed: t.prefix)
            let (_, d) = try #require(FraudPlan.drawBlock(t, plan: plan, taken: [], &r), "\(t)")
            #expect(d.prefix == String(t.prefix))
        }
        let world = try TelephonyWorld(configuration: telephonyConfiguration())
        for range in world.labels.fraudRanges {
            #expect(
                ["satellite", "international-network", "premium"].contains(range.category)
                    || ["CU", "TO", "NR", "CK", "TV", "KI", "SB", "SL", "GN", "SO", "GD", "LC", "DM", "JM", "AG", "TC", "MS"].contains(
                        range.country)
            )
        }
        for negative in world.labels.hardNegatives where negative.kind != .callCentre {
            for n in negative.numbers {
                let d = try tableRow(n)
                #expect(negative.countries.contains(d.country))
            }
        }
    }
}
