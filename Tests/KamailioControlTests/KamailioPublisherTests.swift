import Foundation
import KamailioControl
import Logging
import MamoriTesting
import MetricsTestKit
import Telephony
import Testing

/// The publisher against a real Kamailio 5.6 (Fixtures/kamailio.cfg, the configuration
/// docs/kamailio.md gives carriers) with SIPp placing and answering calls, all on 127.0.0.1:
/// what Mamori publishes is what Kamailio loads and what it does to calls, and Kamailio's
/// accounting log reads back through Telephony's reader.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct KamailioPublisherTests {
    typealias Block = SoftswitchBlocklist.Block
    typealias Exemption = SoftswitchBlocklist.Exemption

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let expect200 = fixtures + "/scenarios/uac.xml"
    static let expect403 = fixtures + "/scenarios/uac_expect403.xml"

    /// The list most tests publish: two fraud ranges, a row that would cover 110, 118 and 119,
    /// a subscriber who opted out (`pbx:12`, sent as `pbx%3A12` in the From URI) and a business
    /// line with trade ties to 88213.
    static let fraudList = SoftswitchBlocklist(
        blocks: [
            Block(prefix: "88213", ruleID: "irsf-17", reason: "suspected fraud: Cuba | wholesale"),
            Block(prefix: "4415", ruleID: "irsf-18", reason: "premium rate"),
            Block(prefix: "11", ruleID: "overlap-1", reason: "covers emergency codes"),
        ],
        exemptions: [Exemption(account: "pbx:12"), Exemption(account: "trader-7", prefix: "88213")])

    @Test func blocksWithTheRuleInTheAnswerAndLetsEmergencyExemptAndOtherCallsThrough() async throws {
        try await Softswitch.with { s in
            let report = try await s.publisher.publish(Self.fraudList)
            #expect(report.matches, "\(report)")
            #expect(report.blocks == 3 && report.exemptions == 2 && report.loadedBlocks == 3 && report.loadedExemptions == 2)
            let tree = try await s.kamailio.rpc("mtree.list", ["mamori_blocked"])
            #expect(tree.contains(#""tprefix":"88213","tvalue":["88213|irsf-17|suspected fraud Cuba wholesale"]"#), "\(tree)")
            #expect(tree.contains(#""tprefix":"4415""#) && tree.contains(#""tprefix":"11""#), "\(tree)")

            // Refused: the blocked ranges however dialled, and the trade-tie line to another range.
            let refused = try await s.sipp.call(
                [("1001", "8821312345"), ("1002", "+8821312345"), ("1003", "00441511112222"), ("trader-7", "441511112222")],
                scenario: Self.expect403, target: s.target, name: "refused")
            #expect(refused.succeeded, "\(refused)")
            let refusals = refused.log.split(separator: "\n").filter { $0.contains("REFUSED") }
            #expect(refusals.count == 4, "\(refused)")
            #expect(
                refusals[0].contains(
                    #"status=SIP/2.0 403 Destination blocked: suspected fraud Cuba wholesale (rule irsf-17) reason=Destination blocked: suspected fraud Cuba wholesale (rule irsf-17) warning=399 mamori "Destination blocked: suspected fraud Cuba wholesale (rule irsf-17)""#
                ), "\(refusals[0])")
            #expect(refusals[2].contains("status=SIP/2.0 403 Destination blocked: premium rate (rule irsf-18)"), "\(refusals[2])")
            #expect(refusals[3].contains("(rule irsf-18)"), "\(refusals[3])")

            // The same blocked call with a scenario that wants 200 fails: the check can fail.
            let control = try await s.sipp.call([("1001", "8821312345")], scenario: Self.expect200, target: s.target, name: "control")
            #expect(control.status == 1, "\(control)")

            // Through: emergency codes under the "11" row, another country, the opted-out
            // subscriber, the trade-tie line to its own range.
            let through = try await s.sipp.call(
                [
                    ("1001", "110"), ("1001", "118"), ("1001", "119"), ("1002", "441632960000"), ("pbx%3A12", "8821312345"),
                    ("trader-7", "+8821312345"),
                ], scenario: Self.expect200, target: s.target, name: "through", holdMilliseconds: 1000)
            #expect(through.succeeded, "\(through)")
            for number in ["110", "118", "119", "441632960000", "8821312345"] {
                #expect(s.uas.log.contains("ruser=\(number) "), "UAS never got \(number):\n\(s.uas.log)")
            }

            // Everything lifted.
            let empty = try await s.publisher.publish(.empty)
            #expect(empty.matches && empty.loadedBlocks == 0 && empty.loadedExemptions == 0, "\(empty)")
            #expect(try await s.kamailio.rpc("mtree.list", ["mamori_blocked"]).contains(#""result":[]"#))
            let lifted = try await s.sipp.call(
                [("1001", "8821312345"), ("1003", "00441511112222")], scenario: Self.expect200, target: s.target, name: "lifted",
                holdMilliseconds: 1000)
            #expect(lifted.succeeded, "\(lifted)")

            // Kamailio's accounting log, read as Mamori reads it.
            let records = try await s.callRecords(answered: 8, refused: 5)
            let answered = records.filter { !$0.refusedByBlock }
            let refusedRecords = records.filter(\.refusedByBlock)
            #expect(answered.count == 8 && refusedRecords.count == 5, "\(records)")
            for r in answered {
                #expect(r.outcome == .answered && r.billedSeconds >= 1 && r.billedSeconds <= 10, "\(r)")
                #expect(r.feed == "kamailio" && r.callID.contains("@127.0.0.1"))
            }
            #expect(answered.contains { $0.account == "pbx:12" && $0.dialled == "8821312345" })
            #expect(answered.contains { $0.account == "trader-7" && $0.dialled == "+8821312345" })
            #expect(answered.contains { $0.account == "1001" && $0.dialled == "110" })
            #expect(answered.filter { $0.dialled == "00441511112222" }.count == 1)
            #expect(refusedRecords.allSatisfy { $0.outcome == .failed && $0.billedSeconds == 0 && $0.answered == nil })
            #expect(refusedRecords.contains { $0.account == "trader-7" && $0.dialled == "441511112222" })
            #expect(refusedRecords.filter { $0.account == "1001" && $0.dialled == "8821312345" }.count == 2)
            #expect(s.kamailio.log.contains("block_reason=Destination blocked: premium rate (rule irsf-18)"))

            #expect(s.metrics.counterTotal("mamori_kamailio_publishes_total", ["outcome": "published"]) == 2)
            #expect(try s.metrics.expectGauge("mamori_kamailio_published_entries", [("table", "blocks")]).lastValue == 0)
            #expect(try s.metrics.expectGauge("mamori_kamailio_publish_duration_seconds").lastValue ?? -1 > 0)
        }
    }

    /// db_text sees a rewritten table only if its modification time is newer in whole seconds:
    /// publishes in quick succession each take effect.
    @Test func publishesInQuickSuccessionEachTakeEffect() async throws {
        try await Softswitch.with { s in
            let lists = [
                SoftswitchBlocklist(blocks: [Block(prefix: "4415", ruleID: "a", reason: "first")]),
                SoftswitchBlocklist(blocks: [Block(prefix: "88213", ruleID: "b", reason: "second")]),
                SoftswitchBlocklist(
                    blocks: [Block(prefix: "88213", ruleID: "c", reason: "third")],
                    exemptions: [Exemption(account: "1003", prefix: "88213")]),
            ]
            let started = ContinuousClock.now
            var reports: [PublishReport] = []
            var modified: [Int] = []
            for list in lists {
                reports.append(try await s.publisher.publish(list))
                let date = try FileManager.default.attributesOfItem(atPath: s.tables + "/mamori_blocked")[.modificationDate] as? Date
                modified.append(Int(date?.timeIntervalSince1970 ?? 0))
            }
            let took = ContinuousClock.now - started
            for r in reports { #expect(r.matches, "\(r)") }
            // Each file a second newer than the one before, however quickly they came.
            #expect(zip(modified, modified.dropFirst()).allSatisfy { $0 + 1 <= $1 }, "\(modified) in \(took)")
            let tree = try await s.kamailio.rpc("mtree.list", ["mamori_blocked"])
            #expect(tree.contains("88213|c|third") && !tree.contains("4415"), "\(tree) after \(took)")
            let calls = try await s.sipp.call(
                [("1001", "8821312345"), ("1002", "8821312345")], scenario: Self.expect403, target: s.target, name: "third")
            #expect(calls.succeeded && calls.log.contains("(rule c)"), "\(calls)")
            let tie = try await s.sipp.call(
                [("1003", "8821312345"), ("1001", "441511112222")], scenario: Self.expect200, target: s.target, name: "tie")
            #expect(tie.succeeded, "\(tie)")
        }
    }

    /// The largest list allowed (100,000 blocks) loads, is read back (its size and a sample), and
    /// screens. Kamailio needs more than its default private memory for it (the fixture's peer
    /// runs with `-M 64`; with `-M 16` the worker reloading the tree crashed).
    @Test func theLargestListAllowedLoadsAndReadsBack() async throws {
        try await Softswitch.with { s in
            let blocks = (0..<100_000).map { Block(prefix: "\(7_000_000 + $0)", ruleID: "bulk-\($0 % 97)", reason: "bulk test") }
            let exemptions = (0..<1000).map { Exemption(account: "line-\($0)", prefix: $0 % 2 == 0 ? nil : "7000001") }
            let started = ContinuousClock.now
            let report = try await s.publisher.publish(SoftswitchBlocklist(blocks: blocks, exemptions: exemptions))
            let took = ContinuousClock.now - started
            #expect(report.matches && report.loadedBlocks == 100_000 && report.loadedExemptions == 1000, "\(report)")
            // The tree is too large to list: its size and 64 of its rows are compared.
            #expect(report.checkedEntries == 64 + 1000, "\(report)")
            print("published 100,000 blocks and 1,000 exemptions, read back, in \(took)")
            let calls = try await s.sipp.call(
                [("1001", "70999991234"), ("line-1", "70999991234")], scenario: Self.expect403, target: s.target, name: "bulk")
            #expect(calls.succeeded && calls.log.contains("(rule bulk-"), "\(calls)")
            let through = try await s.sipp.call(
                [("line-0", "70999991234"), ("line-1", "70000011234")], scenario: Self.expect200, target: s.target, name: "bulk-through")
            #expect(through.succeeded, "\(through)")
        }
    }

    /// Kamailio refuses a reload (here: a tree it does not have): the publish throws with
    /// Kamailio's answer, the list in force stays (calls are still refused), and the tables on
    /// disk are the ones in force again.
    @Test func aRefusedPublishThrowsAndThePreviousListStays() async throws {
        try await Softswitch.with { s in
            let first = SoftswitchBlocklist(
                blocks: [Block(prefix: "88213", ruleID: "irsf-17", reason: "fraud")], exemptions: [Exemption(account: "pbx-1")])
            #expect(try await s.publisher.publish(first).matches)
            let onDisk = try String(contentsOfFile: s.tables + "/mamori_blocked", encoding: .utf8)

            var c = s.publisher.configuration
            c.blockTree = "no_such_tree"
            let misconfigured = KamailioPublisher(configuration: c, logger: Logger(label: "test.kamailio"), metricsFactory: s.metrics)
            let error = await #expect(throws: KamailioControlError(.refused)) {
                try await misconfigured.publish(SoftswitchBlocklist(blocks: [Block(prefix: "4415", ruleID: "x", reason: "new")]))
            }
            #expect(
                error?.reason.contains("mtree.reload answered error 500 'Can not find specified Mtree'") == true,
                "\(String(describing: error))")
            #expect(error?.reason.contains("exemptions reloaded from them") == true, "\(String(describing: error))")
            #expect(s.metrics.counterTotal("mamori_kamailio_publishes_total", ["outcome": "refused"]) == 1)

            // Refused at the first reload (the exemptions): nothing was reloaded, the files go back.
            var d = s.publisher.configuration
            d.exemptionHTable = "no_such_htable"
            let other = KamailioPublisher(configuration: d, logger: Logger(label: "test.kamailio"), metricsFactory: s.metrics)
            let atExemptions = await #expect(throws: KamailioControlError(.refused)) {
                try await other.publish(SoftswitchBlocklist(exemptions: [Exemption(account: "someone-else")]))
            }
            #expect(
                atExemptions?.reason.contains("htable.reload answered error 500 'No such htable'") == true,
                "\(String(describing: atExemptions))")
            #expect(atExemptions?.reason.contains("reloaded from them") == false, "\(String(describing: atExemptions))")
            #expect(s.metrics.counterTotal("mamori_kamailio_publishes_total", ["outcome": "refused"]) == 2)

            #expect(try String(contentsOfFile: s.tables + "/mamori_blocked", encoding: .utf8) == onDisk)
            let tree = try await s.kamailio.rpc("mtree.list", ["mamori_blocked"])
            #expect(tree.contains("88213|irsf-17|fraud") && !tree.contains("4415"), "\(tree)")
            let exempt = try await s.kamailio.rpc("htable.dump", ["mamori_exempt"])
            #expect(exempt.contains(#""name":"pbx-1|*""#) && !exempt.contains("someone-else"), "\(exempt)")
            #expect(try String(contentsOfFile: s.tables + "/mamori_exempt", encoding: .utf8).hasSuffix("\npbx-1|*:0:0:opt-out\n"))
            let still = try await s.sipp.call([("1001", "8821312345")], scenario: Self.expect403, target: s.target, name: "still")
            #expect(still.succeeded, "\(still)")
            let open = try await s.sipp.call([("1001", "441511112222")], scenario: Self.expect200, target: s.target, name: "open")
            #expect(open.succeeded, "\(open)")
        }
    }

    /// A call up before its destination is blocked goes on to its end; the next one is refused.
    @Test func aCallInProgressSurvivesAPublish() async throws {
        try await Softswitch.with { s in
            #expect(try await s.publisher.publish(.empty).matches)
            let sipp = s.sipp
            let target = s.target
            let long = Task {
                try await sipp.call(
                    [("1004", "8821399999")], scenario: Self.expect200, target: target, name: "long", holdMilliseconds: 8000,
                    timeout: .seconds(40))
            }
            let up = try await waitUntil(timeout: .seconds(20)) { (try? s.dialogs()) == 1 }
            #expect(up, "the long call never came up:\n\(s.kamailio.log.suffix(2000))")
            let report = try await s.publisher.publish(
                SoftswitchBlocklist(blocks: [Block(prefix: "88213", ruleID: "irsf-17", reason: "fraud")]))
            #expect(report.matches, "\(report)")
            #expect(try s.dialogs() == 1, "the long call ended before the publish: the test needs a longer call")
            let refused = try await s.sipp.call([("1001", "8821312345")], scenario: Self.expect403, target: s.target, name: "next")
            #expect(refused.succeeded, "\(refused)")
            let run = try await long.value
            #expect(run.succeeded && run.log.contains("BYE-OK"), "\(run)")
            let records = try await s.callRecords(answered: 1, refused: 1)
            let call = try #require(records.first { !$0.refusedByBlock })
            #expect(call.account == "1004" && call.dialled == "8821399999" && call.billedSeconds >= 7, "\(call)")
        }
    }

    /// A restarted Kamailio loads the tables last published.
    @Test func aRestartedKamailioReadsTheLastPublishedTables() async throws {
        try await Softswitch.with { s in
            #expect(try await s.publisher.publish(Self.fraudList).matches)
            s.kamailio.stop()
            #expect(!s.kamailio.isRunning)
            let again = try await KamailioPeer(
                configFile: Self.fixtures + "/kamailio.cfg", tablesDirectory: s.tables, uasPort: s.uas.port,
                logPath: s.directory.path + "/kamailio-2.log")
            defer { again.stop() }
            let tree = try await again.rpc("mtree.list", ["mamori_blocked"])
            #expect(tree.contains("88213|irsf-17|suspected fraud Cuba wholesale") && tree.contains("4415|irsf-18"), "\(tree)")
            let exempt = try await again.rpc("htable.dump", ["mamori_exempt"])
            #expect(exempt.contains(#""name":"pbx:12|*""#) && exempt.contains(#""name":"trader-7|88213""#), "\(exempt)")
            let target = "127.0.0.1:\(again.sipPort)"
            let refused = try await s.sipp.call([("1001", "8821312345")], scenario: Self.expect403, target: target, name: "after-restart")
            #expect(refused.succeeded, "\(refused)")
            let through = try await s.sipp.call(
                [("trader-7", "8821312345")], scenario: Self.expect200, target: target, name: "tie-after-restart")
            #expect(through.succeeded, "\(through)")
            let publisher = KamailioPublisher(
                configuration: .init(tablesDirectory: s.tables, rpcURL: again.rpcURL), logger: Logger(label: "test.kamailio"),
                metricsFactory: TestMetrics())
            #expect(try await publisher.publish(.empty).matches)
        }
    }
}

/// One Kamailio with Mamori's tables, a SIPp UAS behind it, a SIPp runner and a publisher, in a
/// temporary directory; everything stopped when the test ends, failed or not.
struct Softswitch {
    let directory: TemporaryDirectory
    let tables: String
    let uas: SIPpUAS
    let kamailio: KamailioPeer
    let sipp: SIPpRunner
    let publisher: KamailioPublisher
    let metrics: TestMetrics

    var target: String { "127.0.0.1:\(kamailio.sipPort)" }

    static func with(_ body: (Softswitch) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        let tables = directory.path + "/tables"
        let sipp = try SIPpRunner(directory: directory.path)
        let metrics = TestMetrics()
        // Empty tables for Kamailio's start; the publisher points at its RPC port once known.
        try KamailioPublisher(
            configuration: .init(tablesDirectory: tables, rpcURL: "http://127.0.0.1:1/RPC"), logger: Logger(label: "test.kamailio"),
            metricsFactory: metrics
        ).prepare()
        let uas = try await sipp.startUAS(scenario: KamailioPublisherTests.fixtures + "/scenarios/uas.xml")
        defer { uas.stop() }
        let kamailio = try await KamailioPeer(
            configFile: KamailioPublisherTests.fixtures + "/kamailio.cfg", tablesDirectory: tables, uasPort: uas.port)
        defer { kamailio.stop() }
        var logger = Logger(label: "test.kamailio")
        logger.logLevel = .debug
        let publisher = KamailioPublisher(
            configuration: .init(tablesDirectory: tables, rpcURL: kamailio.rpcURL, timeout: .seconds(30)), logger: logger,
            metricsFactory: metrics)
        try await body(
            Softswitch(
                directory: directory, tables: tables, uas: uas, kamailio: kamailio, sipp: sipp, publisher: publisher, metrics: metrics))
    }

    func dialogs() throws -> Int {
        // Synchronous for waitUntil's condition: a blocking curl run, bounded by 15 s.
        let answer = try ExternalPeer.require("curl", debianPackage: "curl").run(
            ["-sS", "-m", "5", "--data-binary", #"{"jsonrpc":"2.0","method":"dlg.stats_active","id":1}"#, kamailio.rpcURL],
            timeout: .seconds(15))
        guard let json = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any],
            let result = json["result"] as? [String: Any], let all = result["all"] as? Int
        else { throw PeerError("unexpected dlg.stats_active answer: \(answer)") }
        return all
    }

    /// The call records in Kamailio's log, read by `CDRReader` with the Kamailio format, once it
    /// holds at least `answered` CDRs and `refused` refusals (waiting at most 20 s for the last
    /// BYEs to be logged); every record must read without a rejection.
    /// The CDRs and refused calls of Kamailio's log; each answered CDR must have had its answer
    /// (`ACC: transaction answered`, a call in progress) logged before it, with the same Call-ID.
    func callRecords(answered: Int, refused: Int) async throws -> [CallRecord] {
        var records: [CallRecord] = []
        var answers: [String: CallRecord] = [:]
        var rejected: [String] = []
        let deadline = ContinuousClock.now + .seconds(20)
        repeat {
            records = []
            answers = [:]
            rejected = []
            var reader = CDRReader(format: .kamailio(KamailioAccFormat()))
            let emit: (CDRLine) -> Void = { line in
                switch line.result {
                case .success(let r) where r.inProgress: answers[r.callID] = r
                case .success(let r): records.append(r)
                case .failure(let why): rejected.append("line \(line.line): \(why)")
                }
            }
            reader.feed(Array(kamailio.log.utf8), emit)
            reader.finish(emit)
            if records.filter({ !$0.refusedByBlock }).count >= answered && records.filter(\.refusedByBlock).count >= refused { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        #expect(rejected.isEmpty, "\(rejected)")
        for r in records where r.outcome == .answered {
            let answer = answers[r.callID]
            #expect(
                answer.map { $0.account == r.account && $0.dialled == r.dialled && $0.billedSeconds == 0 && abs($0.start - r.start) < 2000 }
                    == true, "no answer logged for \(r): \(answers.keys.sorted())")
        }
        return records
    }
}
