import Attribution
import Collector
import Detection
import FlowCodec
import FlowEncoding
import Foundation
import Hummingbird
import HummingbirdTesting
import IdentityCodec
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import Server
import Testing

/// Whole-pipeline fuzzing with a fixed budget: mutated and extreme-valued datagrams and records
/// through decode → attribution → detection → findings store → cases, as one running
/// application's services see them, and extreme questions to the attribution service. The
/// decoders are fuzzed on their own (RobustnessTests, `Fuzz/`); this is what comes after them.
///
/// The budget is a count, bounded in time too; the seed is printed on failure. Afterwards good
/// traffic must still be analysed: a flood among the noise is found and attributed.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PipelineFuzzTests {
    static let seed: UInt64 = 0x16_2026_1204
    /// Mutated datagrams, extreme records and questions: a few seconds in a debug build.
    static let datagrams = 60_000
    static let records = 40_000
    static let questions = 20_000
    static let timeBudget: Duration = .seconds(60)

    /// Well-formed datagrams of every protocol to mutate, with the current time: a v5, v9 and IPFIX
    /// export of subscriber traffic (v9/IPFIX with their templates), IPFIX NAT events.
    static func corpus(now: Int64, addresses: [IPAddress]) -> [[UInt8]] {
        let flows = (0..<24).map { i -> FlowRecord in
            FlowRecord(
                sourceAddress: addresses[i % addresses.count], destinationAddress: .v4(0xCB00_7100 + UInt32(i)),
                sourcePort: UInt16(40_000 + i), destinationPort: [23, 443, 53, 6667][i % 4],
                ipProtocol: i % 3 == 0 ? 17 : 6, tcpFlags: i % 2 == 0 ? 0x02 : 0x1B, bytes: UInt64(100 + i), packets: UInt64(1 + i % 5),
                startMilliseconds: now - 10_000 + Int64(i) * 100, endMilliseconds: now - 9_000 + Int64(i) * 100)
        }
        var out: [[UInt8]] = []
        for p in [ExportProtocol.netflowV5, .netflowV9, .ipfix] {
            var e = FlowExportEncoder(protocol: p, observationDomain: 3, recordsPerDatagram: 8, bootMilliseconds: now - 86_400_000)
            out += e.encode(flows, exportTimeMilliseconds: now)
        }
        var nat = FlowExportEncoder(protocol: .ipfix, observationDomain: 4)
        let events = (0..<8).map { i -> FlowRecord in
            var n = NATFields()
            n.event = i % 2 == 0 ? NATFields.portBlockAllocation : NATFields.nat44SessionCreate
            n.postSourceAddress = .v4(0xC612_0001)
            n.postSourcePort = UInt16(1024 + i)
            n.portRangeStart = UInt16(1024 + 1008 * i)
            n.portRangeEnd = UInt16(1024 + 1008 * i + 1007)
            return FlowRecord(
                sourceAddress: .v4(0x6440_0000 + UInt32(i)), startMilliseconds: now - 5000, endMilliseconds: now - 5000, nat: n)
        }
        out += nat.encode(events, exportTimeMilliseconds: now)
        return out
    }

    @Test(
        "mutated datagrams, extreme records and extreme questions through the whole pipeline: no trap, everything counted, and good traffic is still analysed after"
    )
    func wholePipeline() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: ServerTests.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let auth = try await services.operatorHeaders()
        // The noise is stamped an hour ago (±20 minutes, besides the extremes), so that the good
        // traffic after it, stamped now, is what moves the detectors' clock on. (A record stamped
        // ahead moves it at most a minute past this machine's clock: DetectionService.)
        let wall = Int64(Date().timeIntervalSince1970 * 1000)
        let now = wall - 3_600_000
        let spread: Int64 = 1_200_000
        let nas = IPAddress("198.19.252.1")!
        // Subscribers of the demo network with RADIUS sessions, so findings about them are
        // attributed and go on to cases.
        // Outside the demo CGNAT pool (198.18.0.0/17): one subscriber per address.
        let subscribers = (0..<8).map { IPAddress.v4(0xC612_C809 + UInt32($0)) }
        for (i, a) in subscribers.enumerated() {
            var r = AccountingRecord(status: .start, sessionID: "fuzz-\(i)", eventTime: (now - 3_600_000) / 1000)
            r.userName = "subscriber-\(i)"
            r.framedIPAddress = a
            services.attribution.accounting(r, from: nas, receivedAt: now - 3_600_000)
        }
        let corpus = Self.corpus(now: now, addresses: subscribers)
        let (decoded, refused, errors, fed) = try await app.test(.router) { client in
            var m = HostileMutator(seed: Self.seed)
            var decoder = FlowDecoder(configuration: FlowCollector.Configuration.defaultDecoder)
            let started = ContinuousClock.now
            var decoded = 0
            var refused = 0
            var errors = 0
            var fed = 0
            func withinBudget() -> Bool { ContinuousClock.now - started < Self.timeBudget }
            // 1. Mutated datagrams, decoded as the collector decodes them, handed to the sinks.
            var batch: [FlowRecord] = []
            for i in 0..<Self.datagrams where withinBudget() {
                let input = m.mutate(corpus[m.below(corpus.count)], other: corpus[m.below(corpus.count)])
                let exporter: IPAddress =
                    m.below(4) == 0 ? .v4(UInt32(truncatingIfNeeded: m.next())) : .v4(0xC613_FE01 + UInt32(m.below(3)))
                // The collector stamps datagrams with this machine's clock: within the noise's
                // hour here. (Extreme receive times are the decoder's own test: FlowTimeWindowTests.)
                let receivedAt = now + Int64(m.below(Int(2 * spread))) - spread
                let report = input.withUnsafeBytes { decoder.decode($0, from: exporter, receivedAtMilliseconds: receivedAt, into: &batch) }
                decoded += report.flowRecords
                refused += report.rejectedTimes
                if report.error != nil { errors += 1 }
                if batch.count >= 256 || i == Self.datagrams - 1 {
                    fed += batch.count
                    await services.attribution.consume(FlowBatch(records: batch))
                    await services.detection.consume(FlowBatch(records: batch))
                    batch.removeAll(keepingCapacity: true)
                    await services.detection.evaluate()
                }
            }
            // 2. Extreme records straight into the sinks, as a file reader or another caller
            //    might hand them on unscreened.
            for _ in 0..<(Self.records / 200) where withinBudget() {
                let records = (0..<200).map { _ in
                    var r = m.record(near: now, spread: spread, addresses: subscribers)
                    // Sane times past the noise's hour (2099-12-31 is sane) would move the
                    // detectors' clock a minute past this machine's (DetectionService.maximumClockLead),
                    // and the good traffic below would wait that minute to be evaluated.
                    if FlowTimeWindow.isSane(r.endMilliseconds), r.endMilliseconds > now + spread { r.endMilliseconds = now }
                    if FlowTimeWindow.isSane(r.startMilliseconds), r.startMilliseconds > now + spread { r.startMilliseconds = now }
                    return r
                }
                await services.attribution.consume(FlowBatch(records: records))
                await services.detection.consume(FlowBatch(records: records))
                await services.detection.evaluate()
            }
            // 3. Extreme questions, to the service and over HTTP.
            for _ in 0..<Self.questions where withinBudget() {
                let address = m.below(2) == 0 ? subscribers[m.below(subscribers.count)] : .v4(UInt32(truncatingIfNeeded: m.next()))
                let port: UInt16? = m.below(3) == 0 ? nil : UInt16(truncatingIfNeeded: m.next())
                _ = services.attribution.lookup(address, port: port, at: m.time(near: now, spread: spread))
                _ = services.attribution.resolve([AttributionQuery(address, port: port, at: m.time(near: now, spread: spread))])
            }
            for _ in 0..<200 where withinBudget() {
                let at = m.time(near: now, spread: spread)
                try await client.execute(
                    uri: "/api/v1/attribution?addr=\(subscribers[m.below(subscribers.count)])&port=\(m.next() % 70_000)&at=\(at)",
                    method: .get, headers: auth
                ) { response in
                    #expect(response.status == .ok || response.status == .badRequest, "at=\(at): \(response.status)")
                    if !FlowTimeWindow.isSane(at) { #expect(response.status == .badRequest, "at=\(at)") }
                }
            }

            // 4. Good traffic after all that: 30 reflectors flood one subscriber for a second.
            let victim = subscribers[0]
            let flood = (0..<30).map { i in
                FlowRecord(
                    exporter: .v4(0xC613_FE01), sourceAddress: .v4(0xF200_0001 + UInt32(i)), destinationAddress: victim, sourcePort: 123,
                    destinationPort: 40_000,
                    ipProtocol: 17, bytes: 468_000, packets: 1_000, startMilliseconds: wall + 1_000, endMilliseconds: wall + 1_999)
            }
            // …and another subscriber probes 300 addresses on telnet: a scanner, an infected
            // device, attributed by its RADIUS session, so a case is opened.
            let scanner = subscribers[1]
            let probes = (0..<300).map { i in
                FlowRecord(
                    exporter: .v4(0xC613_FE01), sourceAddress: scanner, destinationAddress: .v4(0xF300_0000 + UInt32(i) * 7),
                    sourcePort: UInt16(30_000 + i), destinationPort: 23,
                    ipProtocol: 6, tcpFlags: 0x02, bytes: 44, packets: 1, startMilliseconds: wall + Int64(i) * 10,
                    endMilliseconds: wall + Int64(i) * 10)
            }
            await services.attribution.consume(FlowBatch(records: probes))
            // In time order, as a collector receives them: the detectors evaluate as the flows'
            // clock passes each evaluation, and a record behind an evaluation counts as late.
            await services.detection.consume(FlowBatch(records: (flood + probes).sorted { $0.endMilliseconds < $1.endMilliseconds }))
            await services.detection.evaluate()
            await services.detection.evaluate()
            try await client.execute(uri: "/api/v1/findings?kind=inbound-ddos", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(
                    String(buffer: response.body).contains("\"\(victim)\""),
                    "the flood against \(victim) was not found after the fuzzing (seed \(Self.seed))")
            }
            try await client.execute(uri: "/api/v1/findings?kind=scanning", method: .get, headers: auth) { response in
                #expect(
                    String(buffer: response.body).contains("\"\(scanner)\""),
                    "the scanner \(scanner) was not found after the fuzzing (seed \(Self.seed))")
            }
            // The case workflow runs behind its own queue: wait for it (at most 20 s).
            var opened = false
            for _ in 0..<100 where !opened {
                opened = try await client.execute(uri: "/api/v1/cases", method: .get, headers: auth) {
                    String(buffer: $0.body).contains("\(scanner)")
                }
                if !opened { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(opened, "no case was opened for the scanner's subscriber after the fuzzing")
            // Cases answer with snake_case keys too (issue 19), while cases.sqlite keeps its form.
            try await client.execute(uri: "/api/v1/cases", method: .get, headers: auth) { response in
                let cases = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
                #expect(FindingsAPITests.keys(cases).filter { $0.contains(where: \.isUppercase) } == [], "camelCase keys in the cases")
                #expect(String(buffer: response.body).contains("\"last_evidence\""))
            }
            try await client.execute(uri: "/healthz", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
            }
            return (decoded, refused, errors, fed)
        }
        let stats = services.detection.statistics
        #expect(decoded > 1_000, "the mutations left too few decodable records to exercise the sinks: \(decoded)")
        #expect(refused > 0, "no mutation produced a time the screen refuses")
        #expect(errors > 0, "no mutation produced a decode error")
        #expect(stats.rejectedTimes > 0, "the unscreened extreme records reached the detectors' own check")
        #expect(stats.records >= fed)
        print(
            "pipeline fuzz (seed \(Self.seed)): \(decoded) records decoded, \(refused) refused for their times, \(errors) datagrams with a decode error, detectors: \(stats.records) records, \(stats.rejectedTimes) refused, \(stats.clampedCounters) clamped, \(stats.trackedPairs) pairs"
        )
    }
}
