import Collector
import Detection
import FlowCodec
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOCore
import Server
import Storage
import Testing

/// The findings API of `mamori serve` and the SQLite store behind it.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct FindingsAPITests {
    static func finding(_ kind: FindingKind, _ subject: FindingSubject, score: Double, lastSeen: Int64) -> Finding {
        var e = Evidence()
        e.reasons = ["test"]
        e.cohortSize = 1
        e.cohort = ["h:0011223344556677"]
        return Finding(
            id: Finding.id(kind: kind, subject: subject), kind: kind, subject: subject, score: score, firstSeen: lastSeen - 60_000,
            lastSeen: lastSeen, detectedAt: lastSeen, updatedAt: lastSeen, family: nil, summary: "\(kind.rawValue) \(subject)", evidence: e)
    }

    static let c2 = finding(
        .commandAndControl, .endpoint(Endpoint(address: IPAddress("192.0.2.23")!, port: 23, ipProtocol: 6)), score: 0.95,
        lastSeen: 2_000_000)
    static let device = finding(
        .infectedDevice, .host(InternalHost(address: IPAddress("198.18.0.5")!, block: 0, ports: 1024...2031)), score: 0.9,
        lastSeen: 3_000_000)
    static let scan = finding(
        .scanning, .host(InternalHost(address: IPAddress("198.18.0.5")!, block: 0, ports: 1024...2031)), score: 0.7, lastSeen: 1_000_000)

    /// Every key of a JSON value, at any depth.
    static func keys(_ value: Any) -> [String] {
        switch value {
        case let object as [String: Any]: object.keys.sorted() + object.values.flatMap(keys)
        case let array as [Any]: array.flatMap(keys)
        default: []
        }
    }

    @Test("list with kind, time and score filters; details; verdicts; clear 400s and 404s")
    func api() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: ServerTests.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning))
        )
        let auth = try await services.operatorHeaders()
        try await services.detection.store.upsert([Self.c2, Self.device, Self.scan])
        #expect(FileManager.default.fileExists(atPath: dir.path + "/findings.sqlite"))
        try await app.test(.router) { client in
            func json(_ uri: String, method: HTTPRequest.Method = .get, body: String? = nil, status: HTTPResponse.Status = .ok) async throws
                -> [String: Any]
            {
                try await client.execute(uri: uri, method: method, headers: auth, body: body.map { ByteBuffer(string: $0) }) { response in
                    #expect(response.status == status, "\(uri): \(String(buffer: response.body))")
                    return try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                }
            }
            func ids(_ page: [String: Any]) -> [String] {
                ((page["findings"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
            }

            #expect(Set(ids(try await json("/api/v1/findings"))) == [Self.c2.id, Self.device.id, Self.scan.id])
            #expect(ids(try await json("/api/v1/findings?kind=c2-server")) == [Self.c2.id])
            #expect(Set(ids(try await json("/api/v1/findings?min_score=0.9"))) == [Self.c2.id, Self.device.id])
            #expect(ids(try await json("/api/v1/findings?since=2500000")) == [Self.device.id])
            #expect(Set(ids(try await json("/api/v1/findings?until=1970-01-01T00:40:00Z"))) == [Self.c2.id, Self.scan.id])
            #expect(ids(try await json("/api/v1/findings?limit=1")) == [Self.c2.id])

            let detail = try await json("/api/v1/findings/\(Self.device.id)")
            #expect(detail["kind"] as? String == "infected-device")
            #expect((detail["subject"] as? [String: Any])?["address"] as? String == "198.18.0.5")
            #expect((detail["evidence"] as? [String: Any])?["reasons"] as? [String] == ["test"])
            // One naming convention across the API (issue 19): snake_case keys all the way down,
            // and the answer reads back into the finding the store holds (kept camelCase there).
            #expect(Self.keys(detail).filter { $0.contains(where: \.isUppercase) } == [], "camelCase keys in \(detail)")
            #expect(detail["detected_at"] as? Int == 3_000_000 && detail["first_seen"] as? Int == 2_940_000)
            #expect((detail["evidence"] as? [String: Any])?["cohort_size"] as? Int == 1)
            try await client.execute(uri: "/api/v1/findings/\(Self.device.id)", method: .get, headers: auth) { response in
                let decoded = try APIJSON.decoder().decode(Finding.self, from: Data(response.body.readableBytesView))
                #expect(decoded == Self.device)
            }

            for bad in [
                "/api/v1/findings?kind=botnet", "/api/v1/findings?min_score=2", "/api/v1/findings?since=yesterday",
                "/api/v1/findings?limit=0",
            ] {
                #expect(try await json(bad, status: .badRequest)["error"] is String)
            }
            #expect(try await json("/api/v1/findings/c2-server:0000000000000000", status: .notFound)["error"] is String)

            let verdict = "/api/v1/findings/\(Self.c2.id)/verdict"
            #expect(
                try await json(verdict, method: .post, body: "{\"verdict\":\"maybe\",\"analyst\":\"a\"}", status: .badRequest)["error"]
                    is String)
            #expect(try await json(verdict, method: .post, body: "not json", status: .badRequest)["error"] is String)
            #expect(
                try await json(
                    "/api/v1/findings/nope/verdict", method: .post, body: "{\"verdict\":\"true-positive\",\"analyst\":\"a\"}",
                    status: .notFound)["error"] is String)
            let judged = try await json(
                verdict, method: .post, body: "{\"verdict\":\"false-positive\",\"analyst\":\"alice\",\"note\":\"a CDN\"}")
            let v = try #require(judged["verdict"] as? [String: Any])
            #expect(v["verdict"] as? String == "false-positive")
            #expect(v["analyst"] as? String == "test-admin", "the authenticated operator, not the body's \"alice\"")
            // The verdict survives an update of the finding by the detectors.
            var updated = Self.c2
            updated.score = 0.97
            try await services.detection.store.upsert([updated])
            let again = try await json("/api/v1/findings/\(Self.c2.id)")
            #expect(again["score"] as? Double == 0.97)
            #expect((again["verdict"] as? [String: Any])?["analyst"] as? String == "test-admin")

            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                #expect(String(buffer: response.body).contains("mamori_api_invalid_requests_total 6"))
            }
        }
        #expect(try await services.detection.store.falsePositiveEndpoints().map(\.description) == ["192.0.2.23:23/tcp"])
    }

    @Test("SQLite store: findings survive a reopen; retention deletes old findings and their verdicts")
    func storePersistsAndExpires() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/f.sqlite"
        do {
            let store = try SQLiteFindingStore(path: path)
            try await store.upsert([Self.c2, Self.device, Self.scan])
            _ = try await store.record(Verdict(verdict: .truePositive, analyst: "bob", at: 5), forFinding: Self.scan.id)
        }
        let store = try SQLiteFindingStore(path: path)
        #expect(try await store.count() == 3)
        #expect(try await store.finding(id: Self.scan.id)?.verdict?.analyst == "bob")
        #expect(try await store.finding(id: Self.device.id) == Self.device)
        #expect(try await store.deleteFindings(lastSeenBefore: 2_500_000) == 2)
        #expect(try await store.count() == 1)
        #expect(try await store.finding(id: Self.scan.id) == nil)
        #expect(try await store.finding(id: Self.device.id) != nil)
    }
}

/// The detection service behind `mamori serve`: when the collector's queue backs up, it sheds
/// whole address pairs, counted, instead of falling behind silently.
@Suite struct DetectionServiceTests {
    @Test("a backlog past the threshold sheds address pairs, counts them, and analysis continues; a drained queue ends the shedding")
    func backlogIsShedAndCounted() async throws {
        let metrics = TestMetrics()
        let layout = NetworkLayout(
            subscriberPrefixes: [IPPrefix("198.18.0.0/15")!], laboratoryInternet: DetectionSettings.simulatorInternet)
        let service = DetectionService(
            configuration: DetectionConfiguration(network: layout, pseudonymKey: [1]), store: try SQLiteFindingStore(path: ":memory:"),
            retentionDays: 1, logger: LogStore().logger(level: .critical), metricsFactory: metrics, sheddingThreshold: 16)
        func batch(_ n: Int, offset: Int, queuedBehind: Int) -> FlowBatch {
            var b = FlowBatch(
                records: (0..<n).map { i in
                    FlowRecord(
                        sourceAddress: .v4(0xC612_0000 + UInt32((i + offset) % 500)), destinationAddress: .v4(0xF000_0000 + UInt32(i % 77)),
                        sourcePort: 40_000, destinationPort: 443, ipProtocol: 6, tcpFlags: 0x1B, bytes: 500, packets: 5,
                        startMilliseconds: 1_000_000 + Int64(i), endMilliseconds: 1_000_100 + Int64(i))
                })
            b.queuedBehind = queuedBehind
            return b
        }
        // The first batch finds an empty queue: all of it is analysed.
        await service.consume(batch(800, offset: 0, queuedBehind: 0))
        #expect(service.sheddingRatio == 1)
        #expect(service.statistics.records == 800)
        // The queue behind grows past the threshold: shedding deepens with each batch.
        for k in 1..<6 { await service.consume(batch(800, offset: k * 800, queuedBehind: 100)) }
        #expect(service.sheddingRatio == 32)
        let shed = metrics.counterTotal("mamori_detection_shed_records_total")
        #expect(shed > 0)
        let analysed = service.statistics.records
        #expect(Int64(analysed) + shed == 6 * 800, "every record is either analysed or counted as shed")
        #expect(try metrics.expectGauge("mamori_detection_sampling_interval").lastValue == 32)
        // Drained: the next batches bring the interval back down.
        for _ in 0..<12 { await service.consume(batch(10, offset: 0, queuedBehind: 0)) }
        #expect(service.sheddingRatio == 1)
        #expect(Int64(service.statistics.records) + metrics.counterTotal("mamori_detection_shed_records_total") == 6 * 800 + 120)
    }

    @Test("with two workers: the load says what was analysed and shed, and how many address pairs were shed in the last minute")
    func loadIsReported() async throws {
        let metrics = TestMetrics()
        let clock = TestClock()
        let layout = NetworkLayout(
            subscriberPrefixes: [IPPrefix("198.18.0.0/15")!], laboratoryInternet: DetectionSettings.simulatorInternet)
        let service = DetectionService(
            configuration: DetectionConfiguration(network: layout, pseudonymKey: [1]), store: try SQLiteFindingStore(path: ":memory:"),
            retentionDays: 1, logger: LogStore().logger(level: .critical), metricsFactory: metrics, workers: 2, sheddingThreshold: 16,
            clock: clock)
        // 600 records over 300 address pairs (two records each).
        var b = FlowBatch(
            records: (0..<600).map { i in
                FlowRecord(
                    sourceAddress: .v4(0xC612_0000 + UInt32(i % 300)), destinationAddress: .v4(0xF000_0000 + UInt32(i % 300)),
                    sourcePort: 40_000, destinationPort: 443, ipProtocol: 6, tcpFlags: 0x1B, bytes: 500, packets: 5,
                    startMilliseconds: 1_000_000 + Int64(i), endMilliseconds: 1_000_100 + Int64(i))
            })
        await service.consume(b)
        let first = service.currentLoad
        #expect(first.workers == 2 && first.analysedRecords == 600 && first.shedRecords == 0 && first.samplingInterval == 1)
        b.queuedBehind = 100
        for _ in 0..<4 { await service.consume(b) }
        let load = service.currentLoad
        #expect(load.samplingInterval == 16)
        #expect(load.analysedRecords + load.shedRecords == 5 * 600)
        #expect(load.shedRecords > 0 && load.analysedRecords > 600)
        #expect(Int64(load.analysedRecords) == metrics.counterTotal("mamori_detection_analysed_records_total"))
        #expect(load.analysedRecords == service.statistics.records, "the two shards analysed every admitted record")
        #expect(load.shedPairsLastMinute == 0, "the minute is not over")
        clock.advance(by: 60_000)
        let shedPairs = service.currentLoad.shedPairsLastMinute
        // At 1 in 16 about 15 in 16 of the 300 pairs are shed, and every pair shed at a lower
        // interval is among them.
        #expect((240...300).contains(shedPairs), "\(shedPairs) pairs shed, \(load.shedRecords) records")
        #expect(try metrics.expectGauge("mamori_detection_workers").lastValue == 2)
        clock.advance(by: 60_000)
        #expect(service.currentLoad.shedPairsLastMinute == 0, "a minute without shedding")
    }
}
