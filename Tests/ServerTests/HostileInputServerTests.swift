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

/// The two inputs that stopped `mamori serve` (issue 16), and their relatives, against the whole
/// application: an IPFIX record with `flowEndMilliseconds` 2^64−1 on the collector's UDP port, and
/// an attribution question at 9223372036854775807. After each, the server still answers, counts
/// what it refused, and analyses good traffic.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct HostileInputServerTests {
    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Records from a subscriber of the demo network (198.18.0.0/15) to outside, with `start`/`end`.
    static func records(_ times: [(Int64, Int64)], base: UInt32 = 0) -> [FlowRecord] {
        times.enumerated().map { i, t in
            FlowRecord(
                sourceAddress: .v4(0xC612_0109 + base + UInt32(i)), destinationAddress: .v4(0xCB00_7105), sourcePort: 40_000,
                destinationPort: 443,
                ipProtocol: 6, tcpFlags: 0x1B, bytes: 600, packets: 6, startMilliseconds: t.0, endMilliseconds: t.1)
        }
    }

    @Test(
        "flow records with extreme times (0, −1 = 2^64−1, 2^63−1, 1970, 2262, ahead, stale) are refused by reason and counted; the server keeps collecting and detecting"
    )
    func extremeFlowTimes() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: ServerTests.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
        let auth = try await services.operatorHeaders()
        try await app.test(.router) { client in
            try await withTimeLimit(.seconds(60), "collector binding") { await services.collector.waitUntilReady() }
            let port = try #require(services.collector.boundAddresses.values.first?.port)
            let now = Self.now
            let hostile: [(Int64, Int64)] = [
                (now - 1000, -1), // flowEndMilliseconds = 2^64−1: the crash
                (0, -1), (-1, -1), (.max, .max), (.min, .max), // out of 1970–2100 (2^63 and up read as negative)
                (9_214_646_400_000, 9_214_646_400_000), // 2262
                (1, 2), // 1970: too old
                (now - 2 * 86_400_000, now - 2 * 86_400_000), // two days old
                (now, now + 3_600_000), // an hour ahead of this clock
            ]
            let good = Self.records([(now - 5000, now - 4000), (now - 3000, now - 2000), (now - 2000, now + 60_000)], base: 100)
            var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 1)
            try UDPTestSender().send(ipfix.encode(Self.records(hostile) + good, exportTimeMilliseconds: now), toPort: port, ipv6: false)
            // The good records reach the sinks and the detectors; the others are counted.
            #expect(try await waitUntil { services.statistics.total.records == good.count })
            #expect(try await waitUntil { services.detection.statistics.records == good.count })
            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                let text = String(buffer: response.body)
                #expect(
                    text.contains(#"mamori_collector_rejected_records_total{exporter="127.0.0.1",reason="time_out_of_range"} 6"#), "\(text)"
                )
                #expect(text.contains(#"mamori_collector_rejected_records_total{exporter="127.0.0.1",reason="too_old"} 2"#))
                #expect(text.contains(#"mamori_collector_rejected_records_total{exporter="127.0.0.1",reason="ahead_of_clock"} 1"#))
                #expect(text.contains(#"mamori_collector_flow_records_total{exporter="127.0.0.1"} \#(hostile.count + good.count)"#))
            }
            // Still up, and still analysing: a second good datagram is counted and analysed too.
            try UDPTestSender().send(
                ipfix.encode(Self.records([(now - 1000, now)], base: 200), exportTimeMilliseconds: now), toPort: port, ipv6: false)
            #expect(try await waitUntil { services.detection.statistics.records == good.count + 1 })
            try await client.execute(uri: "/healthz", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""flow_records":\#(good.count + 1)"#))
            }
            // The detectors publish how full their tables are.
            await services.detection.evaluate()
            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                #expect(String(buffer: response.body).contains(#"mamori_detection_table_entries{table="pairs"}"#))
            }
        }
    }

    @Test("GET /api/v1/attribution?at=9223372036854775807 for an address with a claim: 400, and the server still answers the good question")
    func attributionAtExtremeTimes() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: ServerTests.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
        let auth = try await services.operatorHeaders()
        let t0 = AttributionServiceTests.t0
        services.attribution.accounting(
            AttributionServiceTests.start("alice", "203.0.113.5", at: t0), from: IPAddress("198.19.252.1")!, receivedAt: t0)
        try await app.test(.router) { client in
            let extremes = [
                "9223372036854775807", "-9223372036854775808", "-1", "9214646400000", "4102444800001", "99999999999999999999",
                "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
            ]
            for at in extremes {
                try await client.execute(uri: "/api/v1/attribution?addr=203.0.113.5&port=1500&at=\(at)", method: .get, headers: auth) {
                    response in
                    #expect(response.status == .badRequest, "at=\(at)")
                    #expect(String(buffer: response.body).contains("1970 to 2100"))
                }
                let body =
                    "{\"queries\": [{\"addr\": \"203.0.113.5\", \"at\": \"\(at)\"}, {\"addr\": \"203.0.113.5\", \"at\": \(t0 + 1000)}]}"
                try await client.execute(uri: "/api/v1/attribution/batch", method: .post, headers: auth, body: ByteBuffer(string: body)) {
                    response in
                    #expect(response.status == .ok, "batch with at=\(at)")
                    let json = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                    let answers = try #require(json["answers"] as? [[String: Any]])
                    #expect(answers.count == 2)
                    #expect(answers.first?["error"] is String, "the extreme question is answered with its error in place")
                    #expect(answers.last?["outcome"] as? String == "attributed")
                }
            }
            for path in [
                "/api/v1/findings?since=9223372036854775807", "/api/v1/findings?until=-9223372036854775808",
                "/api/v1/findings?limit=9223372036854775807",
            ] {
                try await client.execute(uri: path, method: .get, headers: auth) { response in
                    #expect(response.status == .badRequest, "\(path)")
                }
            }
            try await client.execute(uri: "/api/v1/attribution?addr=203.0.113.5&at=\(t0 + 1000)", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("attributed"))
            }
        }
    }

    @Test("identity data with extreme times reaching a running server is refused and counted, and changes no answer")
    func extremeIdentityTimes() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: ServerTests.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
        let auth = try await services.operatorHeaders()
        let t0 = AttributionServiceTests.t0
        let nas = IPAddress("198.19.252.1")!
        services.attribution.accounting(AttributionServiceTests.start("alice", "203.0.113.5", at: t0), from: nas, receivedAt: t0)
        for t in [Int64.max, .min, -1, 9_214_646_400] {
            var r = AttributionServiceTests.start("mallory", "203.0.113.5", at: 0)
            r.eventTime = t
            services.attribution.accounting(r, from: nas, receivedAt: t0)
            services.attribution.portBlock(
                NATPortBlockEvent(
                    kind: .allocate, timeMilliseconds: t, host: "cgnat1", insideAddress: IPAddress("100.64.0.5")!,
                    outsideAddress: IPAddress("198.18.0.1")!, firstPort: 1024, lastPort: 2047, allocatedAt: 0))
        }
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                let text = String(buffer: response.body)
                #expect(
                    text.contains(#"mamori_attribution_records_total{change="rejected",source="radius"} 4"#)
                        || text.contains(#"mamori_attribution_records_total{source="radius",change="rejected"} 4"#), "\(text)")
            }
            try await client.execute(uri: "/api/v1/attribution?addr=203.0.113.5&at=\(t0 + 1000)", method: .get, headers: auth) { response in
                let json = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect((json["answer"] as? [String: Any])?["outcome"] as? String == "attributed")
            }
        }
    }
}
