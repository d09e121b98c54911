import Attribution
import Collector
import Detection
import FlowCodec
import Foundation
import IdentityCodec
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The attribution index inside `mamori serve`: fed by the identity sources (RADIUS accounting,
/// Kea lease files, CGNAT syslog, and — as a collector sink — IPFIX NAT events), asked by the
/// detection service and the API. Subscriber identifiers leave it only as pseudonyms.
///
/// Metrics: `mamori_attribution_records_total{source,change}` for every record applied,
/// `mamori_attribution_records_dropped_total{source="nat-event",reason="unlisted_exporter"}`,
/// `mamori_attribution_lookups_total{outcome}`, `mamori_attribution_claims` (gauge),
/// `mamori_log_throttle_evictions_total{component="attribution"}`.
///
/// NAT events decide who gets a notice, and anyone who can send a UDP datagram to the collector
/// could forge one: they are taken only from ``natEventExporters`` (the CGNATs' exporter addresses
/// or prefixes). When none are configured that is loopback only (127.0.0.0/8, ::1) — enough for a
/// CGNAT exporting on the same machine and for the demo, never open to the network; a carrier lists
/// its CGNATs (`attribution.nat_event_exporters`). NAT events from anyone else are dropped, counted
/// and logged at most once per exporter every 10 minutes; their flow records still go to detection.
///
/// As a service it keeps the index across restarts: loaded from `snapshotPath` at start, written
/// back (to a temporary file, then renamed; mode 0600) every `snapshotInterval` and at shutdown.
public final class AttributionService: FlowSink, Service, Sendable {
    private let index: NIOLockedValueBox<AttributionIndex>
    private let pseudonymizer: SubscriberPseudonymizer
    private let logger: Logger
    private let records: [String: Counter]
    private let lookups: [Attribution.Outcome: Counter]
    private let claims: Gauge
    private let unlistedExporter: Counter
    private let logEvictions: Counter
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 1024))
    /// Who may send NAT events.
    public let natEventExporters: PrefixSet
    /// Whether ``natEventExporters`` was configured (false: the loopback default).
    public let natEventExportersConfigured: Bool
    /// The exporters heard when none are configured.
    public static let loopback = [IPPrefix("127.0.0.0/8")!, IPPrefix("::1/128")!]
    /// Identity data older than this (ended before now − retention) is forgotten.
    public let retentionMilliseconds: Int64
    /// Where the index is kept across restarts (nil: memory only).
    public let snapshotPath: String?
    /// The time of reveals and of the log throttle.
    public let clock: any WallClock
    private let snapshotInterval: Duration

    public init(
        configuration: AttributionIndex.Configuration, pseudonymKey: [UInt8], retentionDays: Int, logger: Logger,
        metricsFactory: any MetricsFactory,
        snapshotPath: String? = nil, snapshotInterval: Duration = .seconds(300), natEventExporters: [IPPrefix]? = nil,
        clock: any WallClock = SystemClock()
    ) {
        self.clock = clock
        var restored = AttributionIndex(configuration: configuration)
        if let snapshotPath, let data = FileManager.default.contents(atPath: snapshotPath) {
            do {
                restored = try AttributionIndex(snapshot: [UInt8](data), configuration: configuration)
                logger.info("attribution records restored", metadata: ["claims": "\(restored.count)", "file": "\(snapshotPath)"])
            } catch {
                // Keep the damaged file for inspection; start from what the sources send next.
                let aside = snapshotPath + ".damaged"
                try? FileManager.default.removeItem(atPath: aside)
                try? FileManager.default.moveItem(atPath: snapshotPath, toPath: aside)
                logger.error(
                    "attribution snapshot unreadable, starting empty",
                    metadata: ["file": "\(snapshotPath)", "problem": "\(error)", "kept_as": "\(aside)"])
            }
        }
        index = NIOLockedValueBox(restored)
        self.snapshotPath = snapshotPath
        self.snapshotInterval = snapshotInterval
        pseudonymizer = SubscriberPseudonymizer(key: pseudonymKey)
        self.logger = logger
        retentionMilliseconds = Int64(retentionDays) * 86_400_000
        var r: [String: Counter] = [:]
        for s in AttributionSource.allCases {
            for c in AttributionIndex.Change.allCases {
                r["\(s)|\(c.rawValue)"] = Counter(
                    label: "mamori_attribution_records_total", dimensions: [("source", "\(s)"), ("change", c.rawValue)],
                    factory: metricsFactory)
            }
        }
        records = r
        var l: [Attribution.Outcome: Counter] = [:]
        for o in [Attribution.Outcome.attributed, .ambiguous, .unknown] {
            l[o] = Counter(label: "mamori_attribution_lookups_total", dimensions: [("outcome", o.rawValue)], factory: metricsFactory)
        }
        lookups = l
        claims = Gauge(label: "mamori_attribution_claims", factory: metricsFactory)
        unlistedExporter = Counter(
            label: "mamori_attribution_records_dropped_total",
            dimensions: [("source", "\(AttributionSource.natEvent)"), ("reason", "unlisted_exporter")],
            factory: metricsFactory)
        logEvictions = Counter(
            label: "mamori_log_throttle_evictions_total", dimensions: [("component", "attribution")], factory: metricsFactory)
        self.natEventExporters = PrefixSet(natEventExporters ?? Self.loopback)
        natEventExportersConfigured = natEventExporters != nil
    }

    // MARK: - Lifecycle

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.snapshotInterval)
                if Task.isCancelled { break }
                self.saveSnapshot()
            }
        }
        saveSnapshot()
    }

    /// Writes the index to ``snapshotPath`` (temporary file, then rename, mode 0600).
    @discardableResult
    public func saveSnapshot() -> Bool {
        guard let snapshotPath else { return false }
        let bytes = index.withLockedValue { $0.snapshot() }
        let temporary = snapshotPath + ".tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            logger.error("cannot write the attribution snapshot", metadata: ["file": "\(temporary)"])
            return false
        }
        if rename(temporary, snapshotPath) != 0 {
            logger.error("cannot replace the attribution snapshot", metadata: ["file": "\(snapshotPath)"])
            return false
        }
        return true
    }

    // MARK: - Identity sources

    /// A RADIUS accounting record accepted from `nas`.
    public func accounting(_ record: AccountingRecord, from nas: IPAddress, receivedAt: Int64) {
        count(.radius, index.withLockedValue { $0.apply(record, from: nas, receivedAt: receivedAt) })
    }

    public func lease4(_ lease: KeaLeaseFile.Lease4) {
        count(.dhcp, index.withLockedValue { $0.apply(lease) })
    }

    public func lease6(_ lease: KeaLeaseFile.Lease6) {
        count(.dhcp, index.withLockedValue { $0.apply(lease) })
    }

    public func portBlock(_ event: NATPortBlockEvent) {
        count(.natSyslog, index.withLockedValue { $0.apply(event) })
    }

    public func add(_ assignments: [StaticAssignment]) {
        index.withLockedValue { i in for a in assignments { i.add(a) } }
        for _ in assignments { count(.staticAssignment, .added) }
    }

    /// The collector's records: NAT events (records with NAT fields) go into the index.
    public func consume(_ batch: FlowBatch) async {
        // Most batches hold flows only; the receive path says so, and they are not read at all.
        guard batch.mayContainNAT else { return }
        var changes: [AttributionIndex.Change] = []
        var refused: [IPAddress: Int] = [:]
        // Borrowed, not copied: the batch's records (160 bytes each) are scanned for the NAT
        // events among them. A batch is mostly one exporter's: its verdict is kept for the next record.
        batch.records.withUnsafeBufferPointer { records in
            guard let first = records.indices.first(where: { records[$0].hasNAT }) else { return }
            var last: (exporter: IPAddress, allowed: Bool)?
            index.withLockedValue { i in
                for k in first..<records.count where records[k].hasNAT {
                    let exporter = records[k].exporter
                    let allowed: Bool
                    if let last, last.exporter == exporter {
                        allowed = last.allowed
                    } else {
                        allowed = natEventExporters.contains(exporter)
                        last = (exporter, allowed)
                    }
                    if allowed { changes.append(i.apply(natEvent: records[k])) } else { refused[exporter, default: 0] += 1 }
                }
            }
        }
        for c in changes { count(.natEvent, c) }
        for (exporter, n) in refused { refuse(natEvents: n, from: exporter) }
    }

    private func refuse(natEvents n: Int, from exporter: IPAddress) {
        unlistedExporter.increment(by: Int64(n))
        let (log, evicted) = throttle.withLockedValue { t in
            let before = t.evictions
            return (t.shouldLog("\(exporter)", now: clock.milliseconds), t.evictions - before)
        }
        if evicted > 0 { logEvictions.increment(by: Int64(evicted)) }
        if log {
            logger.info(
                "NAT events from an exporter not in attribution.nat_event_exporters dropped (logged once per exporter every 10 minutes; counted in mamori_attribution_records_dropped_total)",
                metadata: ["exporter": "\(exporter)", "records": "\(n)"])
        }
    }

    private func count(_ source: AttributionSource, _ change: AttributionIndex.Change) {
        records["\(source)|\(change.rawValue)"]?.increment()
    }

    // MARK: - Questions

    /// Who held `address` (and `port`) at `time`, with every identifier pseudonymised.
    public func lookup(_ address: IPAddress, port: UInt16?, at time: Int64) -> AttributionAnswer {
        let a = index.withLockedValue { $0.lookup(address, port: port, at: time) }
        lookups[a.outcome]?.increment()
        return AttributionAnswer(a, pseudonymizer: pseudonymizer)
    }

    /// One answer of ``resolve(_:)``: no evidence, the subscriber as a pseudonym.
    public struct Resolution: Sendable, Hashable {
        public var outcome: Attribution.Outcome
        public var pseudonym: String?
        public var confidence: Double
    }

    /// Many questions at once (an abuse desk's list of complaints), answered through the index's
    /// batch path (``AttributionIndex/resolve(_:into:)``) under one lock: the outcome, the
    /// subscriber's pseudonym and the confidence of each, in order, without the evidence.
    public func resolve(_ queries: [AttributionQuery]) -> [Resolution] {
        var answers: [AttributionIndex.Resolution] = []
        index.withLockedValue { $0.resolve(queries, into: &answers) }
        return answers.map { a in
            lookups[a.outcome]?.increment()
            return Resolution(outcome: a.outcome, pseudonym: a.subscriber.map(pseudonymizer.pseudonym), confidence: a.confidence)
        }
    }

    /// An identity reveal: the answer with the real identifiers behind its pseudonyms, shown only
    /// after `audit` has recorded who asked and why. Throws (and reveals nothing) if it cannot.
    public func reveal(
        _ address: IPAddress, port: UInt16?, at time: Int64, analyst: String, reason: String,
        audit: any IdentityRevealAudit
    ) throws -> (answer: AttributionAnswer, identifiers: [String: String]) {
        let a = index.withLockedValue { $0.lookup(address, port: port, at: time) }
        lookups[a.outcome]?.increment()
        let answer = AttributionAnswer(a, pseudonymizer: pseudonymizer)
        var identifiers: [String: String] = [:]
        for who in a.evidence.compactMap(\.subscriber) { identifiers[pseudonymizer.pseudonym(who)] = who }
        try audit.record(
            IdentityReveal(
                at: clock.milliseconds, analyst: analyst, reason: reason, address: "\(address)", port: port,
                time: time, outcome: a.outcome.rawValue, pseudonyms: identifiers.keys.sorted()))
        logger.notice(
            "identity revealed", metadata: ["analyst": "\(analyst)", "address": "\(address)", "pseudonyms": "\(identifiers.keys.sorted())"])
        return (answer, identifiers)
    }

    /// The subscriber behind a host finding (its address, the first port of its CGNAT block), asked
    /// at the finding's first and last activity: if those disagree, the finding spans a handover
    /// and the answer is ambiguous. Nil for findings about external endpoints and addresses.
    public func subscriber(of finding: Finding) -> FindingSubscriber? {
        guard finding.subject.type == .host else { return nil }
        let text = finding.subject.address.split(separator: "/").first.map(String.init) ?? finding.subject.address
        guard var address = IPAddress(text) else { return nil }
        if address.isIPv6 { address = .v6(high: address.high, low: 1) } // a host subject is its /64
        let port = finding.subject.ports?.first
        let times = finding.firstSeen == finding.lastSeen ? [finding.firstSeen] : [finding.firstSeen, finding.lastSeen]
        let answers = index.withLockedValue { i in times.map { i.lookup(address, port: port, at: $0) } }
        for a in answers { lookups[a.outcome]?.increment() }
        let named = Set(answers.compactMap(\.subscriber))
        let sources = answers.compactMap { $0.evidence.first?.source.description }
        if answers.allSatisfy({ $0.outcome == .attributed }), named.count == 1, let who = named.first {
            return FindingSubscriber(
                outcome: .attributed, pseudonym: pseudonymizer.pseudonym(who), candidates: [],
                confidence: answers.map(\.confidence).min() ?? 0, source: sources.first, reason: answers[0].reason, at: times)
        }
        let candidates = Array(Set(answers.flatMap(\.candidates))).map(pseudonymizer.pseudonym).sorted()
        if candidates.count > 1 || answers.contains(where: { $0.outcome == .ambiguous }) {
            let reason =
                named.count > 1
                ? "the address changed hands during the finding: \(named.count) subscribers held it between its first and last activity"
                : answers.first { $0.outcome == .ambiguous }?.reason ?? "ambiguous"
            return FindingSubscriber(
                outcome: .ambiguous, pseudonym: nil, candidates: candidates, confidence: 0, source: sources.first, reason: reason, at: times
            )
        }
        if let a = answers.first(where: { $0.outcome == .attributed }), let who = a.subscriber {
            // Known at one end of the finding only (the identity data starts or stops inside it).
            return FindingSubscriber(
                outcome: .attributed, pseudonym: pseudonymizer.pseudonym(who), candidates: [],
                confidence: a.confidence * 0.8, source: a.evidence.first?.source.description,
                reason: a.reason + "; at the finding's other end no claim covers the address", at: times)
        }
        return FindingSubscriber(
            outcome: .unknown, pseudonym: nil, candidates: [], confidence: 0, source: nil, reason: answers[0].reason, at: times)
    }

    /// The addresses and prefixes the subscribers behind `pseudonyms` hold at `time`, by
    /// pseudonym (for the DNS sinkhole's opt-out exemptions; see
    /// `AttributionIndex.heldPrefixes(at:of:)`). Computes every subscriber's pseudonym once per call.
    public func heldPrefixes(ofPseudonyms pseudonyms: Set<String>, at time: Int64) -> [String: Set<IPPrefix>] {
        guard !pseudonyms.isEmpty else { return [:] }
        let held = index.withLockedValue { i in i.heldPrefixes(at: time) { pseudonyms.contains(pseudonymizer.pseudonym($0)) } }
        var out: [String: Set<IPPrefix>] = [:]
        for (subscriber, prefixes) in held { out[pseudonymizer.pseudonym(subscriber), default: []].formUnion(prefixes) }
        return out
    }

    /// Forgets identity data that ended more than the retention before `now`.
    @discardableResult
    public func sweep(now: Int64) -> Int {
        let (dropped, left) = index.withLockedValue { i in (i.forget(endedBefore: now - retentionMilliseconds), i.count) }
        claims.record(Double(left))
        if dropped > 0 { logger.info("retention: forgot expired attribution records", metadata: ["count": "\(dropped)"]) }
        return dropped
    }

    /// Claims held (for /metrics and tests).
    public var claimCount: Int {
        let n = index.withLockedValue { $0.count }
        claims.record(Double(n))
        return n
    }
}
