import Foundation
import FraudDetection
import KamailioControl
import Logging
import MamoriCore
import MamoriTesting
import MetricsTestKit
import Server
import Testing

/// Issue 24 end to end, with a real Kamailio 5.6 and SIPp on 127.0.0.1 (the configuration
/// docs/kamailio.md gives carriers): SIPp places ordinary calls and a fraud burst through
/// Kamailio; Mamori follows Kamailio's accounting log, finds the hijacked line and blocks the
/// satellite range it pumps; Kamailio then refuses a call to that range with the 403 and the rule,
/// while an emergency call and a call to another country go through; once the burst has stopped
/// for the quiet time the block is lifted and the range can be called again.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct FraudKamailioServeTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("KamailioControlTests/Fixtures").path

    /// Asks `ask` every 200 ms until `until` holds of its answer or `seconds` pass; the last answer.
    static func until<T: Sendable>(seconds: Int, _ ask: () async throws -> T, until: (T) -> Bool) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var answer = try await ask()
        while !until(answer), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            answer = try await ask()
        }
        return answer
    }

    @Test(
        "SIPp through Kamailio → the accounting log → a finding and a block in Kamailio → 403 for the range, 110 and abroad still pass → lifted when quiet"
    )
    func fraudBurstBlockedAtTheSoftswitchAndLifted() async throws {
        let dir = try TemporaryDirectory()
        let tables = dir.path + "/tables"
        let sipp = try SIPpRunner(directory: dir.path)
        try KamailioPublisher(
            configuration: .init(tablesDirectory: tables, rpcURL: "http://127.0.0.1:1/RPC"), logger: Logger(label: "test"),
            metricsFactory: TestMetrics()
        ).prepare()
        let uas = try await sipp.startUAS(scenario: Self.fixtures + "/scenarios/uas.xml")
        defer { uas.stop() }
        let kamailio = try await KamailioPeer(configFile: Self.fixtures + "/kamailio.cfg", tablesDirectory: tables, uasPort: uas.port)
        defer { kamailio.stop() }
        let target = "127.0.0.1:\(kamailio.sipPort)"
        let expect200 = Self.fixtures + "/scenarios/uac.xml"
        let expect403 = Self.fixtures + "/scenarios/uac_expect403.xml"

        var configuration = ServerTests.configuration(dataDirectory: dir.path + "/data")
        configuration.telephony = try FraudServiceTests.telephony(
            """
            feeds:
              - {name: softswitch, format: kamailio, path: \(kamailio.logPath)}
            read_feeds_from_start: true
            blocking:
              quiet_minutes: 1
            kamailio:
              rpc_url: \(kamailio.rpcURL)
              table_directory: \(tables)
            """)
        let (_, services) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
        let fraud = try #require(services.fraud)

        // Ordinary calls, then line 1002 pumps 20 consecutive numbers of an Iridium block.
        let ordinary = try await sipp.call(
            [("1001", "0312345678"), ("1003", "+441632960000")], scenario: expect200, target: target, name: "ordinary",
            holdMilliseconds: 500)
        #expect(ordinary.succeeded, "\(ordinary)")
        let pump = (0..<20).map { (account: "1002", dialled: "+881631231\(String(format: "%03d", $0))") }
        let burst = try await sipp.call(pump, scenario: expect200, target: target, name: "burst", holdMilliseconds: 1000, rate: 10)
        #expect(burst.succeeded, "\(burst)")

        // Mamori reads the CDRs as Kamailio writes them, and blocks the range in Kamailio.
        let blocked = try await Self.until(seconds: 60) { () async -> Bool in
            fraud.pollFeeds()
            fraud.tick()
            return !fraud.book.active.isEmpty
        } until: {
            $0
        }
        #expect(blocked, "no block: \(fraud.status)\n\(kamailio.log.suffix(2000))")
        let rule = try #require(fraud.book.active.values.first)
        #expect(rule.prefix == "881631231" && rule.scope == .range && rule.figures.accounts == 1)
        let findings = try fraud.findings(limit: 10)
        #expect(findings.map(\.account) == ["1002"], "\(findings)")
        let loaded = try await Self.until(seconds: 30) {
            try await kamailio.rpc("mtree.list", ["mamori_blocked"])
        } until: {
            $0.contains(#""tprefix":"881631231""#)
        }
        #expect(loaded.contains(#""tprefix":"881631231""#), "Kamailio's blocklist: \(loaded)")

        // The range is refused with the rule's id; 110 and another country still go through.
        let refused = try await sipp.call([("1002", "010881631231777")], scenario: expect403, target: target, name: "refused")
        #expect(refused.succeeded && refused.log.contains("(rule \(rule.id))"), "\(refused)")
        let through = try await sipp.call(
            [("1004", "110"), ("1004", "010441632960001")], scenario: expect200, target: target, name: "through", holdMilliseconds: 500)
        #expect(through.succeeded, "\(through)")
        #expect(uas.log.contains("ruser=110 ") && uas.log.contains("ruser=441632960001 "), "\(uas.log.suffix(2000))")

        // The burst has stopped: a minute without a fraudulent call (the refused attempt counts as
        // one) and the block is lifted, in Mamori and in Kamailio.
        let lifted = try await Self.until(seconds: 150) { () async -> Bool in
            fraud.pollFeeds()
            fraud.tick()
            return fraud.book.active.isEmpty
        } until: {
            $0
        }
        #expect(lifted, "\(fraud.book.active.values.map(\.summary))")
        #expect(fraud.book.history.last?.endReason?.hasPrefix("fraud subsided") == true, "\(String(describing: fraud.book.history.last))")
        let emptied = try await Self.until(seconds: 30) {
            try await kamailio.rpc("mtree.list", ["mamori_blocked"])
        } until: {
            $0.contains(#""result":[]"#)
        }
        #expect(emptied.contains(#""result":[]"#), "Kamailio's blocklist: \(emptied)")
        let again = try await sipp.call(
            [("1001", "+881631231500")], scenario: expect200, target: target, name: "again", holdMilliseconds: 500)
        #expect(again.succeeded, "\(again)")
    }
}
