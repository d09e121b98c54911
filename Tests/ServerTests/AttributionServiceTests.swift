import Accounts
import Attribution
import Collector
import Detection
import FlowCodec
import Foundation
import Hummingbird
import HummingbirdTesting
import IdentityCodec
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import NIOCore
import Server
import Storage
import Testing

/// Attribution inside `mamori serve`: the API, NAT events from the collector, findings that carry
/// the subscriber's pseudonym — also when the identity data arrives after the flows.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct AttributionServiceTests {
    static let t0: Int64 = 1_767_225_600_000

    static func start(_ user: String, _ address: String, at ms: Int64) -> AccountingRecord {
        var r = AccountingRecord(status: .start, sessionID: "S-\(user)", eventTime: ms / 1000)
        r.userName = user
        r.framedIPAddress = IPAddress(address)
        return r
    }

    @Test("GET /api/v1/attribution and POST …/batch: pseudonym only, CGNAT via IPFIX NAT events from the collector, clear 400s")
    func api() async throws {
        let dir = try TemporaryDirectory()
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.attribution.natEventExporters = [IPPrefix("198.19.253.1")!] // the CGNAT below
        let (app, services) = try buildApplication(
            configuration: configuration,
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning))
        )
        let auth = try await services.operatorHeaders()
        let nas = IPAddress("198.19.252.1")!
        services.attribution.accounting(Self.start("alice", "203.0.113.5", at: Self.t0), from: nas, receivedAt: Self.t0)
        services.attribution.accounting(Self.start("bob", "100.64.0.9", at: Self.t0), from: nas, receivedAt: Self.t0)
        // A port block allocation as the collector hands it over (an IPFIX NAT event record).
        var nat = NATFields()
        nat.event = NATFields.portBlockAllocation
        nat.postSourceAddress = IPAddress("198.18.0.1")
        nat.portRangeStart = 2032
        nat.portRangeEnd = 3039
        await services.attribution.consume(
            FlowBatch(records: [
                FlowRecord(
                    exporter: IPAddress("198.19.253.1")!, sourceAddress: IPAddress("100.64.0.9")!, startMilliseconds: Self.t0,
                    endMilliseconds: Self.t0, nat: nat)
            ]))
        let key = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.path + "/pseudonym.key")))
        let names = SubscriberPseudonymizer(key: key)
        try await app.test(.router) { client in
            func get(_ uri: String, status: HTTPResponse.Status = .ok) async throws -> (String, [String: Any]) {
                try await client.execute(uri: uri, method: .get, headers: auth) { response in
                    let text = String(buffer: response.body)
                    #expect(response.status == status, "\(uri): \(text)")
                    return (text, try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]))
                }
            }
            let (text, body) = try await get("/api/v1/attribution?addr=203.0.113.5&at=2026-01-01T00:10:00Z")
            let answer = try #require(body["answer"] as? [String: Any])
            #expect(answer["outcome"] as? String == "attributed")
            #expect(answer["subscriber"] as? String == names.pseudonym("alice"))
            #expect(!text.contains("alice"), "the real identifier must not leave the server: \(text)")
            let evidence = try #require((answer["evidence"] as? [[String: Any]])?.first)
            #expect(evidence["source"] as? String == "radius")
            #expect(evidence["held_from"] as? Int64 == Self.t0)

            let (cgnatText, cgnat) = try await get("/api/v1/attribution?addr=198.18.0.1&port=2100&at=\(Self.t0 + 5000)")
            let c = try #require(cgnat["answer"] as? [String: Any])
            #expect(c["outcome"] as? String == "attributed")
            #expect(c["subscriber"] as? String == names.pseudonym("bob"))
            #expect((c["evidence"] as? [[String: Any]])?.first?["inside_address"] as? String == "100.64.0.9")
            #expect(!cgnatText.contains("bob"))
            #expect(
                (try await get("/api/v1/attribution?addr=198.18.0.1&at=\(Self.t0 + 5000)").1["answer"] as? [String: Any])?["outcome"]
                    as? String == "ambiguous")
            #expect(
                (try await get("/api/v1/attribution?addr=192.0.2.1&at=\(Self.t0)").1["answer"] as? [String: Any])?["outcome"] as? String
                    == "unknown")

            for bad in [
                "/api/v1/attribution", "/api/v1/attribution?addr=300.1.1.1", "/api/v1/attribution?addr=192.0.2.1&port=70000",
                "/api/v1/attribution?addr=192.0.2.1&at=yesterday",
            ] {
                #expect(try await get(bad, status: .badRequest).1["error"] is String)
            }

            // The batch: answers in order, malformed questions answered with an error in place.
            func post(_ body: String, status: HTTPResponse.Status = .ok) async throws -> (String, [String: Any]) {
                try await client.execute(uri: "/api/v1/attribution/batch", method: .post, headers: auth, body: ByteBuffer(string: body)) {
                    response in
                    let text = String(buffer: response.body)
                    #expect(response.status == status, "\(text)")
                    return (text, try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]))
                }
            }
            let (batchText, batch) = try await post(
                """
                {"queries": [
                  {"addr": "203.0.113.5", "at": "2026-01-01T00:10:00Z"},
                  {"addr": "198.18.0.1", "port": 2100, "at": "\(Self.t0 + 5000)"},
                  {"addr": "300.1.1.1", "at": "\(Self.t0)"},
                  {"addr": "198.18.0.1", "at": "\(Self.t0 + 5000)"},
                  {"addr": "192.0.2.1", "port": 70000},
                  {"addr": "192.0.2.1", "at": "\(Self.t0)"},
                  {"addr": "198.18.0.1", "port": "2100", "at": \(Self.t0 + 5000)},
                  {"addr": "198.18.0.1", "port": true, "at": "\(Self.t0)"},
                  "198.18.0.1",
                  {"addr": 198, "at": "\(Self.t0)"}
                ]}
                """)
            #expect(batch["count"] as? Int == 10)
            #expect(batch["invalid"] as? Int == 5)
            let answers = try #require(batch["answers"] as? [[String: Any]])
            #expect(
                answers.map { $0["outcome"] as? String ?? "error" } == [
                    "attributed", "attributed", "error", "ambiguous", "error", "unknown",
                    "attributed", "error", "error", "error",
                ])
            // Port and time as a string and a number, the other way round from the second question.
            #expect(answers[6]["subscriber"] as? String == names.pseudonym("bob"))
            #expect(answers[6]["port"] as? Int == 2100 && answers[6]["at"] as? Int64 == Self.t0 + 5000)
            // Questions of the wrong shape are answered in their place, not the whole request refused.
            #expect((answers[7]["error"] as? String)?.hasPrefix("port must be") == true, "\(answers[7])")
            #expect(answers[7]["addr"] as? String == "198.18.0.1")
            #expect((answers[8]["error"] as? String)?.contains("must be an object") == true, "\(answers[8])")
            #expect(answers[9]["error"] as? String == "addr must be a string")
            #expect(answers[0]["subscriber"] as? String == names.pseudonym("alice"))
            #expect(answers[1]["subscriber"] as? String == names.pseudonym("bob"))
            #expect(answers[2]["error"] as? String == "addr must be an IPv4 or IPv6 address")
            #expect((answers[4]["error"] as? String)?.contains("port") == true)
            #expect(answers[3]["subscriber"] == nil && answers[5]["subscriber"] == nil)
            #expect(
                !batchText.contains("alice") && !batchText.contains("bob"), "the real identifiers must not leave the server: \(batchText)")
            #expect(try await post("not json", status: .badRequest).1["error"] is String)
            let tooMany = "{\"queries\": [" + Array(repeating: "{\"addr\": \"192.0.2.1\"}", count: 10_001).joined(separator: ",") + "]}"
            #expect((try await post(tooMany, status: .badRequest).1["error"] as? String)?.contains("at most") == true)
        }
    }

    @Test("identity reveal: refused unless enabled, recorded in the audit before anything is shown, nothing shown if it cannot be")
    func reveal() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path
        for enabled in [false, true] {
            var configuration = ServerTests.configuration(dataDirectory: path)
            configuration.attribution.revealEnabled = enabled
            let (app, services) = try buildApplication(
                configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
            let auth = try await services.operatorHeaders(role: .analyst, name: "hana")
            let viewer = try await services.operatorHeaders(role: .viewer, name: "vera")
            services.attribution.accounting(
                Self.start("alice", "203.0.113.5", at: Self.t0), from: IPAddress("198.19.252.1")!, receivedAt: Self.t0)
            try await app.test(.router) { client in
                func post(_ body: String, status: HTTPResponse.Status) async throws -> String {
                    try await client.execute(
                        uri: "/api/v1/attribution/reveal", method: .post, headers: auth, body: ByteBuffer(string: body)
                    ) { response in
                        let text = String(buffer: response.body)
                        #expect(response.status == status, "\(body): \(text)")
                        return text
                    }
                }
                let good =
                    "{\"addr\":\"203.0.113.5\",\"at\":\"\(Self.t0 + 1000)\",\"analyst\":\"someone-else\",\"reason\":\"case 42: notice returned undeliverable\"}"
                guard enabled else {
                    #expect(try await post(good, status: .forbidden).contains("disabled"))
                    return
                }
                for bad in [
                    "nope", "{\"addr\":\"x\",\"analyst\":\"a\",\"reason\":\"long enough reason\"}",
                    "{\"addr\":\"203.0.113.5\",\"analyst\":\"a\",\"reason\":\"why\"}",
                ] {
                    #expect(try await post(bad, status: .badRequest).contains("error"))
                }
                func reveals() throws -> [AuditEntry] {
                    let lines = try String(contentsOfFile: path + "/audit/000001.jsonl", encoding: .utf8).split(separator: "\n")
                    return try lines.map { try JSONDecoder().decode(AuditEntry.self, from: Data($0.utf8)) }.filter {
                        $0.kind == .identityReveal
                    }
                }
                // A viewer may look up pseudonyms but not reveal who is behind them.
                try await client.execute(uri: "/api/v1/attribution/reveal", method: .post, headers: viewer, body: ByteBuffer(string: good))
                {
                    response in
                    #expect(response.status == .forbidden)
                }
                #expect(try reveals().isEmpty, "a refused request must not be audited as a reveal")
                let text = try await post(good, status: .ok)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                let pseudonym = try #require((body["answer"] as? [String: Any])?["subscriber"] as? String)
                #expect((body["identifiers"] as? [String: String])?[pseudonym] == "alice")
                let recorded = try reveals()
                #expect(recorded.count == 1)
                let entry = try #require(recorded.first)
                #expect(
                    entry.actor == "analyst:hana" && !entry.actor.contains("someone-else") && entry.summary.contains("case 42")
                        && entry.subject == pseudonym)
                let audit = try String(contentsOfFile: path + "/audit/000001.jsonl", encoding: .utf8)
                #expect(!audit.contains("alice"), "the audit names the pseudonym, not the identifier")
                let attributes = try FileManager.default.attributesOfItem(atPath: path + "/audit/000001.jsonl")
                #expect((attributes[.posixPermissions] as? Int) == 0o600)
                let key = try AuditKey.load(path: path + "/audit.key")
                #expect(try AuditLog.verify(directory: path + "/audit", key: key).isSound)
            }
        }
        // An audit that cannot be written: nothing is revealed.
        struct BrokenAudit: IdentityRevealAudit {
            func record(_ reveal: IdentityReveal) throws { throw CocoaError(.fileWriteUnknown) }
        }
        let key: [UInt8] = [1, 2, 3]
        let service = AttributionService(
            configuration: .init(), pseudonymKey: key, retentionDays: 1, logger: LogStore().logger(level: .critical),
            metricsFactory: TestMetrics())
        service.accounting(Self.start("alice", "203.0.113.5", at: Self.t0), from: IPAddress("198.19.252.1")!, receivedAt: Self.t0)
        #expect(throws: CocoaError.self) {
            _ = try service.reveal(
                IPAddress("203.0.113.5")!, port: nil, at: Self.t0 + 1, analyst: "hana", reason: "a reason here", audit: BrokenAudit())
        }
    }

    @Test("the index survives a restart through its snapshot; a damaged snapshot is set aside and the server starts empty")
    func restart() async throws {
        let dir = try TemporaryDirectory()
        let configuration = ServerTests.configuration(dataDirectory: dir.path)
        do {
            let (_, services) = try buildApplication(
                configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
            services.attribution.accounting(
                Self.start("erin", "100.64.0.5", at: Self.t0), from: IPAddress("198.19.252.1")!, receivedAt: Self.t0)
            services.attribution.portBlock(
                NATPortBlockEvent(
                    kind: .allocate, timeMilliseconds: Self.t0, host: "cgnat1", insideAddress: IPAddress("100.64.0.5")!,
                    outsideAddress: IPAddress("198.18.0.9")!, firstPort: 1024, lastPort: 2031, allocatedAt: Self.t0 / 1000))
            #expect(services.attribution.saveSnapshot())
        }
        let file = dir.path + "/attribution.snapshot"
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let (_, again) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
        #expect(again.attribution.claimCount == 2)
        let a = again.attribution.lookup(IPAddress("198.18.0.9")!, port: 1500, at: Self.t0 + 60_000)
        #expect(a.outcome == "attributed")
        #expect(a.evidence.first?.insideAddress == "100.64.0.5")
        // Damage it: the next start refuses it, keeps it aside, and answers "unknown".
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes.removeLast(7)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let logs = LogStore()
        let (_, third) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: logs.logger(level: .warning)))
        #expect(third.attribution.claimCount == 0)
        #expect(FileManager.default.fileExists(atPath: file + ".damaged"))
        #expect(logs.entries.contains { $0.message.contains("attribution snapshot unreadable") })
        #expect(third.attribution.lookup(IPAddress("198.18.0.9")!, port: 1500, at: Self.t0 + 60_000).outcome == "unknown")
    }

    @Test("a scanning finding carries its subscriber's pseudonym, also when the RADIUS Start arrives after the flows")
    func findingsAttributedLate() async throws {
        let metrics = TestMetrics()
        let layout = NetworkLayout(
            subscriberPrefixes: [IPPrefix("203.0.113.0/24")!], laboratoryInternet: DetectionSettings.simulatorInternet)
        let key: [UInt8] = Array("test-key".utf8)
        let attribution = AttributionService(
            configuration: .init(), pseudonymKey: key, retentionDays: 30, logger: LogStore().logger(level: .critical),
            metricsFactory: metrics)
        let store = try SQLiteFindingStore(path: ":memory:")
        let service = DetectionService(
            configuration: DetectionConfiguration(network: layout, pseudonymKey: key), store: store, retentionDays: 30,
            logger: LogStore().logger(level: .critical), metricsFactory: metrics, attribution: attribution,
            attributionRetryInterval: .milliseconds(50))
        // Two scanners: telnet SYNs to 300 addresses each, unanswered, over 40 s.
        func scan(from source: String) -> [FlowRecord] {
            (0..<300).map { i in
                let t = Self.t0 + Int64(i) * 133
                return FlowRecord(
                    sourceAddress: IPAddress(source)!, destinationAddress: .v4(0x0B00_0000 + UInt32(i) * 7919),
                    sourcePort: UInt16(40_000 + i),
                    destinationPort: 23, ipProtocol: 6, tcpFlags: 0x02, bytes: 60, packets: 1, startMilliseconds: t, endMilliseconds: t)
            }
        }
        attribution.accounting(
            Self.start("carol", "203.0.113.7", at: Self.t0 - 60_000), from: IPAddress("198.19.252.1")!, receivedAt: Self.t0)
        // The two scans at once, their records in time order as a collector receives them.
        let both = (scan(from: "203.0.113.7") + scan(from: "203.0.113.8")).enumerated().sorted {
            ($0.element.endMilliseconds, $0.offset % 300) < ($1.element.endMilliseconds, $1.offset % 300)
        }.map(\.element)
        await service.consume(FlowBatch(records: both))
        await service.evaluate()
        let found = try await store.findings(matching: FindingQuery(kind: .scanning))
        #expect(found.count == 2)
        let names = SubscriberPseudonymizer(key: key)
        let carol = try #require(found.first { $0.subject.address == "203.0.113.7" })
        #expect(carol.subscriber?.outcome == .attributed)
        #expect(carol.subscriber?.pseudonym == names.pseudonym("carol"))
        #expect(carol.subscriber?.source == "radius")
        let late = try #require(found.first { $0.subject.address == "203.0.113.8" })
        #expect(late.subscriber?.outcome == .unknown)
        // Dave's Start (for a session that began before the scan) reaches Mamori only now.
        attribution.accounting(
            Self.start("dave", "203.0.113.8", at: Self.t0 - 30_000), from: IPAddress("198.19.252.1")!, receivedAt: Self.t0 + 120_000)
        var attributed: Finding?
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(60))
            await service.evaluate()
            attributed = try await store.finding(id: late.id)
            if attributed?.subscriber?.outcome == .attributed { break }
        }
        #expect(attributed?.subscriber?.pseudonym == names.pseudonym("dave"))
        #expect(attributed?.subscriber?.confidence == 1.0)
        // The evidence that was stored does not name anyone.
        let json = String(decoding: try JSONEncoder().encode(try #require(attributed)), as: UTF8.self)
        #expect(!json.contains("dave") && !json.contains("carol"))
    }
}
