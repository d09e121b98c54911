import ArgumentParser
import Benchmarking
import Evaluation
import Foundation
import FraudDetection
import Simulator
import Telephony

/// `mamori fraud evaluate`: the IRSF detectors and block rules scored on a simulated telephony
/// world, offline (EVALUATION.md's telephony figures).
struct FraudEvaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score the IRSF detectors and block rules on a simulated telephony world (offline).",
        discussion: """
            Simulates a Japanese carrier's lines for --days days (homes, businesses' PBXs, call \
            centres, a satellite fleet, island traders, and hijacked lines pumping premium, \
            satellite and small-country ranges; `mamori simulate telephony --help` says more), \
            passes every call through a softswitch emulated as docs/kamailio.md configures \
            Kamailio (emergency numbers first, the blocks Mamori has in force refused) and through \
            the fraud engine as `mamori serve` runs it, then compares with the world's labels: \
            hijacked lines found (precision, recall), episodes detected and how fast, ranges \
            blocked (precision, recall) and how fast, calls blocked that were not fraud, and the \
            calls classed fraudulent for the billing system.

            Example:  mamori fraud evaluate --seed 101 --lines 20000 --days 7
            """
    )

    @Option(help: "The world's seed (the evaluation's seeds are held back from tuning: 101–105).") var seed: UInt64 = 101
    @Option(help: "Subscriber lines.") var lines: Int = 20_000
    @Option(help: "Simulated days.") var days: Int = 7
    @Option(help: "IRSF episodes (default: two a day).") var episodes: Int?
    @Flag(
        help:
            "The softswitch writes records only when calls end (as Asterisk's Master.csv does); by default it also reports each answer, as Kamailio's accounting does."
    )
    var recordsOnly = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        var c = TelephonyWorld.Configuration(seed: seed, lines: lines, days: days)
        c.episodes = episodes
        c.feed = .kamailio
        let world: TelephonyWorld
        do { world = try TelephonyWorld(configuration: c) } catch { throw ValidationError("\(error)") }
        let score = TelephonyEvaluation(answers: !recordsOnly).run(world) { done in
            FileHandle.standardError.write(Data("  \(done) calls\n".utf8))
        }
        if json {
            let e = JSONEncoder()
            e.keyEncodingStrategy = .convertToSnakeCase
            e.outputFormatting = [.sortedKeys]
            print(String(decoding: try e.encode(score), as: UTF8.self))
            return
        }
        func pct(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
        func median(_ v: [Double]) -> String { v.isEmpty ? "—" : String(format: "%.0f s", v[v.count / 2]) }
        func p90(_ v: [Double]) -> String { v.isEmpty ? "—" : String(format: "%.0f s", v[min(v.count - 1, v.count * 9 / 10)]) }
        print(
            """
            world: seed \(score.seed), \(score.lines) lines, \(score.days) days, \(score.calls) calls (\(score.internationalCalls) international)
            hijacked lines: \(score.linesFlaggedHijacked) of \(score.hijackedLines) found; \(score.linesFlagged) flagged — precision \(pct(score.linePrecision)), recall \(pct(score.lineRecall))
            episodes: \(score.episodesDetected) of \(score.episodes) detected; time to detect from the first call (test calls included) median \(median(score.secondsToDetect)), p90 \(p90(score.secondsToDetect)); from the pumping's start median \(median(score.secondsToDetectFromPumping)), p90 \(p90(score.secondsToDetectFromPumping))
            \(score.episodesByStyle.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value.detected) of \($0.value.episodes); median from the first call \(median($0.value.secondsToDetect)), from the pumping \(median($0.value.secondsToDetectFromPumping))" }.joined(separator: "\n"))
            hard negatives flagged: \(score.hardNegativesFlagged.isEmpty ? "none" : score.hardNegativesFlagged.joined(separator: ", "))
            signals of findings on hijacked lines: \(score.truePositiveSignals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            signals of findings on other lines: \(score.falsePositiveSignals.isEmpty ? "none" : score.falsePositiveSignals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            ranges: \(score.rangesBlockedFraud) of \(score.fraudRanges) fraud ranges blocked; \(score.rangesBlocked) blocked — precision \(pct(score.rangePrecision)), recall \(pct(score.rangeRecall)); time to block median \(median(score.secondsToBlock)), p90 \(p90(score.secondsToBlock))
            destinations proposed for approval: \(score.destinationsProposed.isEmpty ? "none" : score.destinationsProposed.map { "+" + $0 }.joined(separator: ", "))
            calls refused by the blocks: \(score.blockedFraudulentCalls) fraudulent, \(score.blockedLegitimateCalls) legitimate (of \(score.legitimateInternationalCalls) legitimate international calls while a block was in force), \(score.blockedEmergencyCalls) emergency
            fraudulent minutes billed: \(score.fraudulentBilledSeconds / 60) of \(score.fraudulentBilledSecondsLabelled / 60) the fraud would have run up
            billing report: \(score.classedFraudulent) calls classed fraudulent — precision \(pct(score.billingPrecision)), recall \(pct(score.billingRecall)) of \(score.fraudulentCalls)
            """)
    }
}

/// `mamori bench fraud`: call records read, classified and judged per CPU second.
struct BenchFraud: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fraud",
        abstract: "IP-phone fraud: call records read and analysed per CPU second, with a million CDR lines.",
        discussion: """
            Writes --records call records of a simulated world (--lines lines) as Kamailio's \
            accounting log lines in memory, then on one thread (a) reads them with the CDR reader \
            and (b) reads, classifies (dialling rules, number plan) and judges them with the fraud \
            engine, as `mamori serve` does with a followed log. Rates are records per CPU-second of \
            that thread; memory is the process's peak resident set.

            Example:  swift build -c release && .build/release/mamori bench fraud --records 1000000
            """
    )

    @Option(help: "CDR lines.") var records: Int = 1_000_000
    @Option(help: "Subscriber lines of the world (25,000 give about a million calls a week).") var lines: Int = 25_000

    func run() async throws {
        Bench.warnIfDebugBuild()
        var c = TelephonyWorld.Configuration(seed: 7, lines: lines, days: 8)
        c.feed = .kamailio
        c.maximumRecords = records
        let world: TelephonyWorld
        do { world = try TelephonyWorld(configuration: c) } catch { throw ValidationError("\(error)") }
        let writer = TelephonyCDRWriter(feed: .kamailio)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records * 240)
        var written = 0
        for call in world.calls() {
            writer.append(call, to: &bytes)
            written += 1
        }
        FileHandle.standardError.write(Data("wrote \(written) CDR lines (\(bytes.count >> 20) MiB)\n".utf8))
        let chunk = 1 << 20
        func feed(_ take: (CDRLine) -> Void) {
            var reader = CDRReader(format: .kamailio(KamailioAccFormat()))
            var i = 0
            while i < bytes.count {
                reader.feed(bytes[i..<min(i + chunk, bytes.count)], take)
                i += chunk
            }
            reader.finish(take)
        }
        var read = 0
        let t0 = BenchMeasure.threadCPUSeconds()
        feed { if case .success = $0.result { read += 1 } }
        let readSeconds = BenchMeasure.threadCPUSeconds() - t0
        let classifier = CallClassifier(rules: .japan, plan: .shipped)
        var engine = FraudEngine()
        var analysed = 0
        var findings = 0
        var changes = 0
        var lastTick: Int64 = 0
        let t1 = BenchMeasure.threadCPUSeconds()
        feed { line in
            guard case .success(let record) = line.result else { return }
            let out = engine.take(classifier.classify(record))
            analysed += 1
            findings += out.events.reduce(0) { if case .finding = $1 { $0 + 1 } else { $0 } }
            changes += out.changes.count
            if record.end - lastTick >= 60_000 {
                changes += engine.tick(now: record.end).changes.count
                lastTick = record.end
            }
        }
        let analyseSeconds = BenchMeasure.threadCPUSeconds() - t1
        print(
            """
            records:                \(written) Kamailio CDR lines, \(read) read
            read:                   \(Int(Double(read) / readSeconds)) records per CPU-second (\(String(format: "%.2f", readSeconds)) s)
            read + classify + judge: \(Int(Double(analysed) / analyseSeconds)) records per CPU-second (\(String(format: "%.2f", analyseSeconds)) s)
            lines followed:         \(engine.detector.linesFollowed); finding updates \(findings); rule changes \(changes)
            peak resident:          \(BenchMeasure.peakResidentBytes() >> 20) MiB (the \(bytes.count >> 20) MiB of lines in memory included)
            """)
    }
}
