import FileTail
import Foundation
import FraudDetection
import Lawful
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle
import Storage
import Telephony

/// Where the rules in force go: the softswitch that refuses the calls (Kamailio).
public protocol BlockPublisher: Sendable {
    /// Replaces what the softswitch blocks with `rules` (all in force), minus the exemptions.
    func publish(_ rules: [BlockRule], optOuts: Set<String>, tradeTies: [String: [String]]) async throws
}

/// IP-phone fraud in `mamori serve` (`telephony:`): the call-record feeds followed as they grow,
/// each line read, classified and judged by the ``FraudEngine``; hijacked lines and the calls
/// classed fraudulent kept for the billing system; block rules audited (`fraud_block_change`)
/// and published to the softswitch whenever the rules in force change.
///
/// A bad line is counted by reason (`mamori_cdr_lines_total{feed,result}`) and logged once per
/// feed and reason; the good lines around it are kept.
public final class FraudService: Service, Sendable {
    public let settings: TelephonySettings
    public let classifier: CallClassifier
    private let state: NIOLockedValueBox<State>
    private let store: SQLiteFraudStore
    private let audit: any AuditTrail
    private let publisher: (any BlockPublisher)?
    private let tail: FileTail?
    private let clock: any WallClock
    private let logger: Logger
    private let metrics: Metrics
    private let publishing = NIOLockedValueBox(PublishState())

    struct State: Sendable {
        var engine: FraudEngine
        var readers: [String: CDRReader] = [:]
        /// Each followed feed's clock against ours.
        var clocks: [String: SourceClock] = [:]
        var warned: Set<String> = []
        var lines: [String: [String: Int]] = [:]
        var lastPublished: [BlockRule]?
        var publishError: String?
        var published = 0
    }

    struct PublishState: Sendable {
        var running = false
        var again = false
    }

    struct Metrics: Sendable {
        let factory: any MetricsFactory
        let findings: Counter
        let fraudulentCalls: Counter
        let rulesActive: Gauge
        let rulesPending: Gauge
        let linesFollowed: Gauge
        let publishOK: Counter
        let publishFailed: Counter
        func lines(_ feed: String, _ result: String) -> Counter {
            Counter(label: "mamori_cdr_lines_total", dimensions: [("feed", feed), ("result", result)], factory: factory)
        }
        func change(_ name: String) -> Counter {
            Counter(label: "mamori_fraud_block_changes_total", dimensions: [("change", name)], factory: factory)
        }
    }

    public init(
        settings: TelephonySettings, store: SQLiteFraudStore, audit: any AuditTrail, publisher: (any BlockPublisher)?,
        positionsFile: String?,
        clock: any WallClock, logger: Logger, metricsFactory: any MetricsFactory
    ) throws {
        self.settings = settings
        var tables: [(name: String, text: String)] = []
        for path in settings.numberPlanFiles {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(line: nil, "telephony.number_plan_files: cannot read \(path)")
            }
            tables.append((name: path, text: text))
        }
        let plan = NumberPlan.withCarrierTables(tables)
        for issue in plan.report.errors.prefix(20) { logger.warning("number plan: \(issue)") }
        classifier = CallClassifier(rules: try settings.dialingRules, plan: plan, emergencyNumbers: settings.emergencyNumbers)
        let engine = FraudEngine(
            detector: FraudDetector(settings: settings.detector, businessAccounts: settings.businessLines),
            book: BlockRuleBook(policy: settings.blocking))
        state = NIOLockedValueBox(State(engine: engine))
        self.store = store
        self.audit = audit
        self.publisher = publisher
        self.clock = clock
        self.logger = logger
        tail =
            settings.feeds.isEmpty
            ? nil
            : FileTail(
                files: settings.feeds.map { FileTail.File(path: $0.path, name: $0.name) }, startAtEnd: !settings.readFeedsFromStart,
                positionsFile: positionsFile)
        func gauge(_ l: String) -> Gauge { Gauge(label: l, factory: metricsFactory) }
        metrics = Metrics(
            factory: metricsFactory, findings: Counter(label: "mamori_fraud_findings_total", factory: metricsFactory),
            fraudulentCalls: Counter(label: "mamori_fraud_calls_total", factory: metricsFactory),
            rulesActive: gauge("mamori_fraud_rules_active"),
            rulesPending: gauge("mamori_fraud_rules_pending"), linesFollowed: gauge("mamori_fraud_lines_followed"),
            publishOK: Counter(label: "mamori_fraud_publish_total", dimensions: [("outcome", "ok")], factory: metricsFactory),
            publishFailed: Counter(label: "mamori_fraud_publish_total", dimensions: [("outcome", "failed")], factory: metricsFactory))
        try restore()
    }

    // MARK: Running

    /// Follows the feeds every `poll_seconds` and moves the clock on every second.
    public func run() async throws {
        // The softswitch gets the rules in force at start (an empty list clears what was left).
        publishSoon()
        await cancelWhenGracefulShutdown {
            var polled: Int64?
            while !Task.isCancelled {
                let now = self.clock.milliseconds
                if polled.map({ now - $0 >= Int64(self.settings.pollSeconds) * 1000 }) ?? true {
                    self.pollFeeds()
                    polled = now
                }
                self.tick()
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Reads what the followed feeds gained.
    public func pollFeeds() {
        tail?.poll { file, chunk in
            switch chunk {
            case .restart: state.withLockedValue { $0.readers[file.name] = nil }
            case .bytes(let b): ingest(feed: file.name, bytes: b)
            }
        }
    }

    /// Moves the clock on: quiet episodes end, rules lift, expire or renew.
    public func tick() {
        let now = clock.milliseconds
        let out = state.withLockedValue { $0.engine.tick(now: now) }
        handle(out, actor: "mamori")
    }

    // MARK: Call records

    public struct IngestSummary: Sendable, Hashable, Codable {
        public var read = 0
        public var rejected: [String: Int] = [:]
        public var findings = 0
        public var fraudulentCalls = 0
        public var ruleChanges = 0
        public var error: String?
    }

    /// Reads `bytes` of the feed `feed` (a configured feed's name), continuing its last line.
    @discardableResult
    public func ingest(feed: String, bytes: [UInt8], final: Bool = false) -> IngestSummary {
        guard let format = settings.feeds.first(where: { $0.name == feed })?.format else {
            return IngestSummary(error: "no feed is named '\(feed)'")
        }
        return ingest(key: feed, format: format, bytes: bytes, final: final)
    }

    /// Reads a whole file of call records in `format` (an upload, `mamori fraud import`).
    public func ingestFile(_ bytes: [UInt8], format: CDRReader.Format, name: String) -> IngestSummary {
        ingest(key: "upload:\(name):\(clock.milliseconds)", format: format, bytes: bytes, final: true)
    }

    private func ingest(key: String, format: CDRReader.Format, bytes: [UInt8], final: Bool) -> IngestSummary {
        let readAt = clock.milliseconds
        let notAfter = readAt + Int64(settings.clockSkewSeconds) * 1000
        let upload = key.hasPrefix("upload:")
        let feedName = upload ? "upload" : key
        var summary = IngestSummary()
        var outcome = FraudEngine.Outcome()
        var firstProblems: [CDRRejection: Int] = [:]
        state.withLockedValue { s in
            var reader = s.readers[key] ?? CDRReader(format: format)
            // A followed feed's records are first put in our time (its clock may run ahead), then
            // bounded; an upload is history, bounded as it is.
            reader.notAfter = upload ? notAfter : nil
            var sourceClock = s.clocks[key] ?? SourceClock(toleranceMilliseconds: Int64(settings.clockSkewSeconds) * 1000)
            let before = (ahead: sourceClock.runsAhead, behind: sourceClock.runsBehind)
            func take(_ line: CDRLine) {
                switch line.result {
                case .success(var record):
                    if !upload {
                        sourceClock.observe(end: record.end, readAt: readAt)
                        record = sourceClock.correct(record)
                        guard record.start <= notAfter else { return take(CDRLine(line: line.line, result: .failure(.future))) }
                    }
                    summary.read += 1
                    let o = s.engine.take(classifier.classify(record))
                    outcome.events += o.events
                    outcome.changes += o.changes
                case .failure(let reason):
                    summary.rejected[reason.rawValue, default: 0] += 1
                    if firstProblems[reason] == nil { firstProblems[reason] = line.line }
                }
            }
            reader.feed(bytes, take)
            if final { reader.finish(take) }
            if !upload {
                sourceClock.endBatch()
                s.clocks[key] = sourceClock
                let offset = "\((sourceClock.offset ?? 0) / 1000) s"
                if sourceClock.runsAhead && !before.ahead {
                    logger.warning(
                        "a call-record feed's clock runs ahead of ours: its records are moved back by the estimate",
                        metadata: ["feed": "\(feedName)", "offset": "\(offset)"])
                } else if sourceClock.runsBehind && !before.behind {
                    logger.warning(
                        "a call-record feed's records arrive late: its clock runs behind, or it is written late",
                        metadata: ["feed": "\(feedName)", "late_by": "\(offset.dropFirst())"])
                }
            }
            if let failure = reader.failure { summary.error = failure.description }
            if final || reader.failure != nil { s.readers[key] = nil } else { s.readers[key] = reader }
            for (reason, line) in firstProblems where s.warned.insert("\(feedName)/\(reason.rawValue)").inserted {
                logger.warning(
                    "call records refused (counted in mamori_cdr_lines_total; logged once per feed and reason)",
                    metadata: ["feed": "\(feedName)", "reason": "\(reason.description)", "first_line": "\(line)"])
            }
            metrics.linesFollowed.record(s.engine.detector.linesFollowed)
        }
        if summary.read > 0 { metrics.lines(feedName, "read").increment(by: Int64(summary.read)) }
        for (reason, n) in summary.rejected { metrics.lines(feedName, reason).increment(by: Int64(n)) }
        summary.findings = outcome.events.reduce(0) { if case .finding = $1 { $0 + 1 } else { $0 } }
        summary.fraudulentCalls = outcome.events.reduce(0) { if case .fraudulentCall = $1 { $0 + 1 } else { $0 } }
        summary.ruleChanges = outcome.changes.count
        handle(outcome, actor: "mamori")
        return summary
    }

    // MARK: What the engine decided

    private func handle(_ out: FraudEngine.Outcome, actor: String) {
        guard !out.isEmpty else { return }
        let now = clock.milliseconds
        let encoder = JSONEncoder()
        var calls: [SQLiteFraudStore.Row] = []
        var completed = 0
        var findings: [String: FraudFinding] = [:]
        for e in out.events {
            switch e {
            case .finding(let f), .ended(let f): findings[f.id] = f
            case .fraudulentCall(let c):
                // One row per call: the record of a call reported while it was up replaces that row.
                let key = c.callID.isEmpty ? "\(c.account)||\(c.start)|\(c.number)" : "\(c.account)|\(c.callID)"
                if let body = try? encoder.encode(c) { calls.append(.init(key: key, account: c.account, time: c.start, body: body)) }
                if c.inProgress != true { completed += 1 }
            }
        }
        do {
            try store.saveCalls(calls)
            // Counted once, when the call is over (a call up is counted by the row that ends it).
            metrics.fraudulentCalls.increment(by: Int64(completed))
            for f in findings.values {
                if let body = try? encoder.encode(f) { try store.saveFinding(.init(key: f.id, account: f.account, time: now, body: body)) }
            }
        } catch {
            logger.error("fraud store: \(error)")
        }
        let newFindings = out.events.reduce(into: Set<String>()) { if case .finding(let f) = $1, f.calls == 0 { $0.insert(f.id) } }
        if !newFindings.isEmpty { metrics.findings.increment(by: Int64(newFindings.count)) }
        for case .finding(let f) in out.events where newFindings.contains(f.id) {
            logger.notice(
                "hijacked line suspected",
                metadata: ["finding": "\(f.id)", "signals": "\(f.signals.keys.sorted().map(\.rawValue).joined(separator: ","))"])
        }
        record(out.changes, actor: actor, now: now)
    }

    /// Audits and saves rule changes, and publishes when the rules in force changed.
    private func record(_ changes: [BlockChange], actor: String, now: Int64) {
        guard !changes.isEmpty else { return }
        let encoder = JSONEncoder()
        var rows: [SQLiteFraudStore.Row] = []
        for change in changes {
            let (name, rules): (String, [BlockRule]) =
                switch change {
                case .proposed(let r): ("proposed", [r])
                case .dryRun(let r): ("dry_run", [r])
                case .applied(let r): ("applied", [r])
                case .renewed(let old, let new): ("renewed", [old, new])
                case .lifted(let r): ("lifted", [r])
                case .refused(let r, _): ("refused", [r])
                }
            metrics.change(name).increment()
            let rule = change.rule
            var summary = "\(name) block \(rule.summary)"
            if case .refused(_, let reason) = change { summary += "; refused: \(reason)" }
            if let reason = rule.endReason, name == "lifted" { summary += "; \(reason)" }
            if name == "applied" || name == "renewed" {
                summary += "; until \(MitigationService.iso(rule.expiresAt)); basis \(rule.legalBasis)"
            }
            do {
                try audit.append(
                    at: now, kind: .fraudBlockChange,
                    actor: rule.approvedBy.map { $0 == "automatic" ? "mamori" : "operator:\($0)" } ?? actor,
                    subject: rule.id, summary: String(summary.prefix(500)), detail: rule)
            } catch {
                logger.error("audit log refused a fraud block change: \(error)", metadata: ["rule": "\(rule.id)"])
            }
            logger.notice("\(summary)")
            for r in rules {
                if let body = try? encoder.encode(r) { rows.append(.init(key: r.id, account: r.state.rawValue, time: now, body: body)) }
            }
        }
        do { try store.saveRules(rows) } catch { logger.error("fraud store: \(error)") }
        let (active, pending) = state.withLockedValue { ($0.engine.book.active.count, $0.engine.book.pending.count) }
        metrics.rulesActive.record(active)
        metrics.rulesPending.record(pending)
        publishSoon()
    }

    // MARK: Publishing

    /// Publishes the rules in force unless the softswitch already has them; one publication at a
    /// time, the latest state wins.
    func publishSoon() {
        guard publisher != nil else { return }
        let start = publishing.withLockedValue { p -> Bool in
            if p.running {
                p.again = true
                return false
            }
            p.running = true
            return true
        }
        guard start else { return }
        Task { await self.publishLoop() }
    }

    private func publishLoop() async {
        guard let publisher else { return }
        while true {
            let (rules, last) = state.withLockedValue { s in
                (s.engine.book.active.values.sorted { $0.id < $1.id }, s.lastPublished)
            }
            if rules != last {
                do {
                    try await publisher.publish(rules, optOuts: settings.optOuts, tradeTies: settings.tradeTies)
                    state.withLockedValue {
                        $0.lastPublished = rules
                        $0.publishError = nil
                        $0.published += 1
                    }
                    metrics.publishOK.increment()
                } catch {
                    metrics.publishFailed.increment()
                    let first = state.withLockedValue { s -> Bool in
                        defer { s.publishError = "\(error)" }
                        return s.publishError == nil
                    }
                    if first { logger.error("the softswitch refused the block rules; retrying every second: \(error)") }
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
            }
            let done = publishing.withLockedValue { p -> Bool in
                if p.again {
                    p.again = false
                    return false
                }
                p.running = false
                return true
            }
            if done { return }
        }
    }

    // MARK: Operators

    public enum OperatorOutcome: Sendable {
        case done(BlockChange)
        case notFound
    }

    public func approve(_ id: String, by op: String) -> OperatorOutcome {
        let now = clock.milliseconds
        guard let change = state.withLockedValue({ $0.engine.book.approve(id, by: op, now: now) }) else { return .notFound }
        record([change], actor: "operator:\(op)", now: now)
        return .done(change)
    }

    /// Lifts a rule in force, rejects one waiting, or ends a dry run.
    public func lift(_ id: String, by op: String, reason: String) -> OperatorOutcome {
        let now = clock.milliseconds
        guard let change = state.withLockedValue({ $0.engine.book.end(id, by: op, reason: reason, now: now) }) else { return .notFound }
        record([change], actor: "operator:\(op)", now: now)
        return .done(change)
    }

    // MARK: Reading

    public var book: BlockRuleBook { state.withLockedValue { $0.engine.book } }

    public struct Status: Sendable, Codable {
        public var feeds: [String]
        public var linesFollowed: Int
        public var linesNotFollowed: Int
        public var openFindings: Int
        public var rulesActive: Int
        public var rulesPending: Int
        public var callsTaken: Int
        public var publishedTo: String?
        public var publications: Int
        public var publishError: String?
        /// Each followed feed's clock against Mamori's.
        public var clocks: [FeedClock]
    }

    public struct FeedClock: Sendable, Codable, Hashable {
        public var feed: String
        /// The source's clock minus Mamori's (s); nil until estimated (five reads with records).
        public var offsetSeconds: Double?
        public var state: SourceClock.Standing
        public var recordsCorrected: Int
    }

    public var status: Status {
        state.withLockedValue { s in
            Status(
                feeds: settings.feeds.map(\.name), linesFollowed: s.engine.detector.linesFollowed,
                linesNotFollowed: s.engine.detector.linesNotFollowed, openFindings: s.engine.detector.openFindings,
                rulesActive: s.engine.book.active.count, rulesPending: s.engine.book.pending.count,
                callsTaken: s.engine.detector.callsTaken,
                publishedTo: settings.kamailioRPC, publications: s.published, publishError: s.publishError,
                clocks: settings.feeds.map { feed in
                    let c = s.clocks[feed.name]
                    return FeedClock(
                        feed: feed.name, offsetSeconds: c?.offset.map { Double($0) / 1000 }, state: c?.standing ?? .unknown,
                        recordsCorrected: c?.corrected ?? 0)
                })
        }
    }

    public func findings(limit: Int) throws -> [FraudFinding] {
        let decoder = JSONDecoder()
        return try store.findings(limit: limit).map { try decoder.decode(FraudFinding.self, from: $0) }
    }

    /// The calls classed fraudulent, for the billing system.
    public func fraudulentCalls(account: String?, since: Int64, until: Int64, limit: Int) throws -> [FraudulentCall] {
        let decoder = JSONDecoder()
        return try store.calls(account: account, since: since, until: until, limit: limit).map {
            try decoder.decode(FraudulentCall.self, from: $0)
        }
    }

    /// Rule history, newest first.
    public func rules(limit: Int) throws -> [BlockRule] {
        let decoder = JSONDecoder()
        return try store.rules(states: [], limit: limit).map { try decoder.decode(BlockRule.self, from: $0) }
    }

    /// Records a download of the billing report in the audit log (it names accounts and the
    /// numbers they called); a report the log cannot record is not given.
    public func auditReport(by op: String, account: String?, since: Int64, until: Int64, calls: Int) throws {
        try audit.append(
            at: clock.milliseconds, kind: .identityReveal, actor: "operator:\(op)", subject: account ?? "all accounts",
            summary:
                "fraudulent-call report for \(account ?? "all accounts"): \(calls) calls from \(MitigationService.iso(since)) to \(until == Int64.max ? "now" : MitigationService.iso(until))"
        )
    }

    /// Deletes what is past `telephony.retention_days`.
    @discardableResult
    public func sweep() -> Int {
        let cutoff = clock.milliseconds - Int64(settings.retentionDays) * 86_400_000
        return (try? store.sweep(before: cutoff)) ?? 0
    }

    /// Rules in force or waiting survive a restart.
    private func restore() throws {
        let decoder = JSONDecoder()
        var unreadable = 0
        let saved = try store.rules(states: ["active", "pending", "dry_run"], limit: 100_000).compactMap { body -> BlockRule? in
            do {
                return try decoder.decode(BlockRule.self, from: body)
            } catch {
                unreadable += 1
                return nil
            }
        }
        if unreadable > 0 {
            logger.error("block rules in fraud.sqlite that cannot be read were not restored", metadata: ["rules": "\(unreadable)"])
        }
        guard !saved.isEmpty else { return }
        state.withLockedValue { s in
            s.engine.book = BlockRuleBook(policy: settings.blocking, restoring: saved, history: [])
        }
        logger.info("block rules restored", metadata: ["rules": "\(saved.count)"])
    }
}
