import Foundation
import KamailioControl
import Logging
import MamoriTesting
import MetricsTestKit
import Testing

/// The db_text tables a block list makes, and the lists refused, without Kamailio.
@Suite struct KamailioTablesTests {
    typealias Block = SoftswitchBlocklist.Block
    typealias Exemption = SoftswitchBlocklist.Exemption

    @Test func rendersSortedTablesWithTheirHeaders() throws {
        let tables = try KamailioTables(
            SoftswitchBlocklist(
                blocks: [
                    Block(prefix: "88213", ruleID: "irsf-17", reason: "suspected fraud"),
                    Block(prefix: "4415", ruleID: "r.2", reason: "premium rate"),
                ],
                exemptions: [Exemption(account: "trader-7", prefix: "88213"), Exemption(account: "pbx-12")]))
        #expect(
            tables.blockFile == """
                tprefix(string) tvalue(string)
                4415:4415|r.2|premium rate
                88213:88213|irsf-17|suspected fraud

                """)
        #expect(
            tables.exemptionFile == """
                key_name(string) key_type(int) value_type(int) key_value(string)
                pbx-12|*:0:0:opt-out
                trader-7|88213:0:0:trade-tie

                """)
        #expect(tables.merged == 0)
        #expect(tables.expectedTree == ["4415": "4415|r.2|premium rate", "88213": "88213|irsf-17|suspected fraud"])
        #expect(tables.expectedExemptions == ["pbx-12|*": "opt-out", "trader-7|88213": "trade-tie"])
    }

    @Test func theEmptyListIsTheHeadersOnly() throws {
        let tables = try KamailioTables(.empty)
        #expect(tables.blockFile == "tprefix(string) tvalue(string)\n")
        #expect(tables.exemptionFile == "key_name(string) key_type(int) value_type(int) key_value(string)\n")
        #expect(
            KamailioTables.versionFile(blockTable: "mamori_blocked", exemptionTable: "mamori_exempt")
                == "table_name(string) table_version(int)\nmamori_blocked:1\nmamori_exempt:2\n")
    }

    /// Accounts are any printable text: db_text's `\` and `:` are escaped, `|` needs nothing (the
    /// key's last `|` is Mamori's), and the same rows in another order make the same bytes.
    @Test func escapesAccountsForDbText() throws {
        let exemptions = [
            Exemption(account: #"back\slash"#), Exemption(account: "acct:7|x", prefix: "4415"), Exemption(account: "山田 太郎"),
        ]
        let a = try KamailioTables(SoftswitchBlocklist(exemptions: exemptions))
        let b = try KamailioTables(SoftswitchBlocklist(exemptions: exemptions.reversed()))
        #expect(a.exemptionFile == b.exemptionFile)
        let rows = a.exemptionFile.split(separator: "\n").dropFirst()
        #expect(rows == [#"acct\:7|x|4415:0:0:trade-tie"#, #"back\\slash|*:0:0:opt-out"#, "山田 太郎|*:0:0:opt-out"])
        #expect(a.expectedExemptions["acct:7|x|4415"] == "trade-tie")
    }

    /// A reason reaches the caller's 403, two headers and the accounting log: what would break
    /// one of them becomes a space, and it is cut.
    @Test func sanitisesReasons() throws {
        let tables = try KamailioTables(
            SoftswitchBlocklist(blocks: [
                Block(prefix: "1", ruleID: "a", reason: "fraud: \"Cuba\" | wholesale;\nnight\\shift"),
                Block(prefix: "2", ruleID: "b", reason: "  \t "),
                Block(prefix: "3", ruleID: "c", reason: String(repeating: "long reason ", count: 20)),
                Block(prefix: "4", ruleID: "d", reason: "不正 (IRSF) 100% sure!"),
            ]))
        let reasons = tables.blocks.map(\.reason)
        #expect(reasons[0] == "fraud Cuba wholesale night shift")
        #expect(reasons[1] == "blocked")
        #expect(reasons[2].count <= 64 && reasons[2].hasPrefix("long reason long") && !reasons[2].hasSuffix(" "))
        #expect(reasons[3] == "(IRSF) 100% sure!")
        for r in reasons { #expect(!r.contains { ":|;\"\\\n\r\t".contains($0) }) }
    }

    @Test func mergesDuplicates() throws {
        let tables = try KamailioTables(
            SoftswitchBlocklist(
                blocks: [
                    Block(prefix: "88213", ruleID: "irsf-17", reason: "first"), Block(prefix: "88213", ruleID: "irsf-18", reason: "second"),
                    Block(prefix: "88213", ruleID: "irsf-17", reason: "again"),
                ],
                exemptions: [
                    Exemption(account: "a", prefix: "88213"), Exemption(account: "a", prefix: "88213"),
                    Exemption(account: "b", prefix: "88213"),
                    Exemption(account: "b"),
                ]))
        #expect(tables.blocks.count == 1)
        #expect(tables.blocks[0].value == "88213|irsf-17,irsf-18|first")
        // b's trade tie is in its opt-out already.
        #expect(tables.exemptions.map(\.key) == ["a|88213", "b|*"])
        #expect(tables.merged == 4)
    }

    @Test(arguments: ["+4415", "", "1234567890123456", "44 15", "４４", "4415a"])
    func refusesPrefixesThatAreNotDigits(prefix: String) {
        let error = #expect(throws: KamailioControlError(.invalidList)) {
            try KamailioTables(
                SoftswitchBlocklist(blocks: [Block(prefix: "1", ruleID: "ok", reason: ""), Block(prefix: prefix, ruleID: "r", reason: "")]))
        }
        #expect(error?.reason == "block 2: prefix '\(prefix)' is not 1–15 digits (E.164 without +)", "\(String(describing: error))")
    }

    @Test func refusesBadRuleIDsAccountsAndExemptionPrefixes() {
        for list in [
            SoftswitchBlocklist(blocks: [Block(prefix: "1", ruleID: "", reason: "")]),
            SoftswitchBlocklist(blocks: [Block(prefix: "1", ruleID: "a|b", reason: "")]),
            SoftswitchBlocklist(blocks: [Block(prefix: "1", ruleID: "a,b", reason: "")]),
            SoftswitchBlocklist(blocks: [Block(prefix: "1", ruleID: String(repeating: "r", count: 65), reason: "")]),
            SoftswitchBlocklist(exemptions: [Exemption(account: "")]),
            SoftswitchBlocklist(exemptions: [Exemption(account: "line\nbreak")]),
            SoftswitchBlocklist(exemptions: [Exemption(account: "tab\there")]),
            SoftswitchBlocklist(exemptions: [Exemption(account: String(repeating: "a", count: 65))]),
            SoftswitchBlocklist(exemptions: [Exemption(account: "a", prefix: "+1")]),
        ] {
            #expect(throws: KamailioControlError(.invalidList), "\(list)") { try KamailioTables(list) }
        }
        #expect(throws: Never.self) {
            try KamailioTables(SoftswitchBlocklist(exemptions: [Exemption(account: String(repeating: "字", count: 64))]))
        }
    }

    @Test func refusesListsPastTheBound() {
        let limits = KamailioTables.Limits(maximumBlocks: 3, maximumExemptions: 2)
        let blocks = (1...4).map { Block(prefix: "\($0)", ruleID: "r", reason: "") }
        let error = #expect(throws: KamailioControlError(.invalidList)) {
            try KamailioTables(SoftswitchBlocklist(blocks: blocks), limits: limits)
        }
        #expect(error?.reason == "4 blocks, more than the 3 allowed")
        #expect(throws: KamailioControlError(.invalidList)) {
            try KamailioTables(SoftswitchBlocklist(exemptions: (1...3).map { Exemption(account: "a\($0)") }), limits: limits)
        }
        #expect(throws: Never.self) { try KamailioTables(SoftswitchBlocklist(blocks: Array(blocks.prefix(3))), limits: limits) }
    }

    /// Without Kamailio: an invalid list writes nothing, and when the JSON-RPC does not answer the
    /// tables on disk are put back as they were — what a restarted Kamailio would load.
    @Test func aPublishThatFailsLeavesTheTablesAsTheyWere() async throws {
        let directory = try TemporaryDirectory()
        let tables = directory.path + "/tables"
        let metrics = TestMetrics()
        let logs = LogStore()
        let closedPort = try freeTCPPort()
        let publisher = KamailioPublisher(
            configuration: .init(tablesDirectory: tables, rpcURL: "http://127.0.0.1:\(closedPort)/RPC", timeout: .seconds(5)),
            logger: logs.logger(label: "test.kamailio"), metricsFactory: metrics)
        try publisher.prepare()
        let blockPath = tables + "/mamori_blocked"
        let before = try String(contentsOfFile: blockPath, encoding: .utf8)
        #expect(before == "tprefix(string) tvalue(string)\n")
        #expect(try String(contentsOfFile: tables + "/version", encoding: .utf8).contains("mamori_exempt:2"))

        await #expect(throws: KamailioControlError(.invalidList)) {
            try await publisher.publish(SoftswitchBlocklist(blocks: [Block(prefix: "+1", ruleID: "r", reason: "")]))
        }
        #expect(try String(contentsOfFile: blockPath, encoding: .utf8) == before)

        let error = await #expect(throws: KamailioControlError(.unreachable)) {
            try await publisher.publish(SoftswitchBlocklist(blocks: [Block(prefix: "88213", ruleID: "irsf-17", reason: "fraud")]))
        }
        #expect(error?.reason.contains("htable.reload") == true, "\(String(describing: error))")
        #expect(error?.reason.contains("the tables on disk were put back") == true, "\(String(describing: error))")
        #expect(try String(contentsOfFile: blockPath, encoding: .utf8) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tables).sorted() == ["mamori_blocked", "mamori_exempt", "version"])
        #expect(metrics.counterTotal("mamori_kamailio_publishes_total", ["outcome": "invalid_list"]) == 1)
        #expect(metrics.counterTotal("mamori_kamailio_publishes_total", ["outcome": "unreachable"]) == 1)
        #expect(metrics.counterTotal("mamori_kamailio_publishes_total", ["outcome": "published"]) == 0)

        // Once per kind of failure: a second unreachable publish is counted, not logged again.
        _ = try? await publisher.publish(.empty)
        #expect(metrics.counterTotal("mamori_kamailio_publishes_total", ["outcome": "unreachable"]) == 2)
        let logged = logs.entries.map(\.message)
        #expect(logged.filter { $0.contains("unreachable") }.count == 1, "\(logged)")
        #expect(logged.filter { $0.contains("invalid_list") }.count == 1, "\(logged)")
    }

    /// db_text re-reads a table only when its modification time is newer in whole seconds: every
    /// write moves it on by at least a second, however close together they come.
    @Test func everyWriteMovesTheModificationTimeOn() async throws {
        let directory = try TemporaryDirectory()
        let publisher = KamailioPublisher(
            configuration: .init(
                tablesDirectory: directory.path, rpcURL: "http://127.0.0.1:\(try freeTCPPort())/RPC", timeout: .seconds(2)),
            logger: Logger(label: "test.kamailio"), metricsFactory: TestMetrics())
        try publisher.prepare()
        let path = directory.path + "/mamori_exempt"
        func mtime() throws -> Int {
            ((try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970).map { Int($0) }
                ?? 0
        }
        var last = try mtime()
        for _ in 0..<3 {
            // Fails at the RPC, and then puts the old table back: two writes each.
            _ = try? await publisher.publish(SoftswitchBlocklist(exemptions: [Exemption(account: "a")]))
            let now = try mtime()
            #expect(now >= last + 2, "\(now) after \(last)")
            last = now
        }
    }
}
