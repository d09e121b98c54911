import BGPSpeaker
import BGPWire
import FlowCodec
import Foundation
import Lawful
import Logging
import MamoriCore
import Metrics
import Mitigation
import NIOConcurrencyHelpers
import ServiceLifecycle

/// BGP mitigation inside `mamori serve`: attack findings → planned rules (``MitigationPlanner``)
/// → the safety rails, the legal-basis engine and each trigger's mode (``MitigationBook``) → the
/// BGP speaker's announcements; and the operators' side (manual rules, approvals, the kill
/// switch) through `/api/v1/bgp` and `mamori bgp`.
///
/// - Every announcement, withdrawal, refusal, rule held for approval or dry run, and every use
///   of the kill switch is an audit entry (`mitigation_change`) naming the finding, the legal
///   basis, the approver and the expiry. An announcement the audit log cannot record is not
///   made. A refusal repeated while the same attack goes on is audited once per
///   ``refusalAuditInterval`` and counted every time.
/// - Rules live as long as their trigger's time to live, extended while the detectors keep
///   reporting the attack, and are withdrawn by a one-second timer when it runs out.
/// - The announced and waiting rules and the kill switch are kept in
///   `<data_directory>/mitigations.json` (prefixes and finding ids; no subscriber data) and
///   announced again after a restart while their time is not up.
/// - On graceful shutdown the rules are withdrawn (`on_shutdown: withdraw_all`) before the
///   sessions close with a Cease, or left at the routers (`on_shutdown: leave`): the sessions
///   close without a NOTIFICATION and the routers keep the rules by graceful restart until
///   Mamori is back and has announced them again.
///
/// Metrics: `mamori_bgp_rules{state}` (active, pending, dry_run), `mamori_bgp_rules_active{kind}`,
/// `mamori_bgp_rules_announced_total{kind}`, `mamori_bgp_rules_withdrawn_total{reason}`,
/// `mamori_bgp_rules_refused_total{rail}`, `mamori_bgp_kill_switch` (1 while engaged), and the
/// speaker's per neighbour (`mamori_bgp_session_state{neighbor}` …).
public final class MitigationService: Service, Sendable {
    public let settings: BGPSettings
    public let speaker: BGPSpeaker
    private let book: NIOLockedValueBox<MitigationBook>
    private let planner: MitigationPlanner
    private let lawful: LawfulService
    private let clock: any WallClock
    private let logger: Logger
    private let stateFile: String?
    /// When each (rule, rail) refusal was last audited.
    private let refusalsAudited = NIOLockedValueBox([String: Int64]())
    static let refusalAuditInterval: Int64 = 10 * 60_000
    private let metrics: Metrics
    private let running = NIOLockedValueBox(false)
    /// When the detectors last reported each finding that has rules (wall clock, ms).
    private let lastReported = NIOLockedValueBox([String: Int64]())

    private struct Metrics: Sendable {
        let rules: [String: Gauge]
        let active: [MitigationRule.Kind: Gauge]
        let announced: [MitigationRule.Kind: Counter]
        let withdrawn: [MitigationWithdrawReason: Counter]
        let refused: [MitigationRail: Counter]
        let killSwitch: Gauge
        let auditFailures: Counter
    }

    public init(
        settings: BGPSettings, stateFile: String?, lawful: LawfulService, clock: any WallClock, logger: Logger,
        metricsFactory: any MetricsFactory
    ) throws {
        guard BGPSpeakerConfiguration.routerID(settings.routerID).map({ $0 != 0 }) == true else {
            throw ConfigurationError(line: nil, "bgp.router_id: '\(settings.routerID)' is not an IPv4 address other than 0.0.0.0")
        }
        for (key, text, v6) in [
            ("next_hop_ipv4", settings.blackholeNextHopIPv4, false), ("next_hop_ipv6", settings.blackholeNextHopIPv6, true),
        ] {
            guard let a = IPAddress(text), a.isIPv6 == v6 else {
                throw ConfigurationError(line: nil, "bgp.blackhole.\(key): '\(text)' is not an IPv\(v6 ? 6 : 4) address")
            }
        }
        self.settings = settings
        self.lawful = lawful
        self.clock = clock
        self.logger = logger
        self.stateFile = stateFile
        let policy = settings.effectivePolicy
        planner = MitigationPlanner(policy: policy)
        book = NIOLockedValueBox(MitigationBook(policy: policy))
        var speakerLogger = logger
        speakerLogger[metadataKey: "component"] = "bgp"
        speaker = BGPSpeaker(configuration: try settings.speakerConfiguration(), logger: speakerLogger, metricsFactory: metricsFactory)
        // Said now, not at shutdown: a cancelled service stops its speaker at once.
        if settings.policy.shutdown == .leave { speaker.leaveRoutesWhenStopping() }
        func gauge(_ label: String, _ d: [(String, String)]) -> Gauge { Gauge(label: label, dimensions: d, factory: metricsFactory) }
        func counter(_ label: String, _ d: [(String, String)]) -> Counter { Counter(label: label, dimensions: d, factory: metricsFactory) }
        let kinds: [MitigationRule.Kind] = [.blackhole, .flowSpec]
        let reasons: [MitigationWithdrawReason] = [.expired, .attackEnded, .manual, .killSwitch, .shutdown]
        metrics = Metrics(
            rules: Dictionary(
                uniqueKeysWithValues: ["active", "pending", "dry_run"].map { ($0, gauge("mamori_bgp_rules", [("state", $0)])) }),
            active: Dictionary(uniqueKeysWithValues: kinds.map { ($0, gauge("mamori_bgp_rules_active", [("kind", $0.rawValue)])) }),
            announced: Dictionary(
                uniqueKeysWithValues: kinds.map { ($0, counter("mamori_bgp_rules_announced_total", [("kind", $0.rawValue)])) }),
            withdrawn: Dictionary(
                uniqueKeysWithValues: reasons.map { ($0, counter("mamori_bgp_rules_withdrawn_total", [("reason", $0.rawValue)])) }),
            refused: Dictionary(
                uniqueKeysWithValues: MitigationRail.allCases.map {
                    ($0, counter("mamori_bgp_rules_refused_total", [("rail", $0.rawValue)]))
                }
            ),
            killSwitch: gauge("mamori_bgp_kill_switch", []),
            auditFailures: counter("mamori_bgp_audit_failures_total", []))
        restore()
    }

    // MARK: Running

    /// Runs the speaker and the expiry timer; on graceful shutdown (or cancellation) applies the
    /// shutdown policy, waits up to two seconds for the withdrawals to reach every established
    /// session, then closes the sessions.
    public func run() async throws {
        // One speaker per process: a second run (a test harness running the services again) only
        // waits, so two sessions never compete for one neighbour.
        guard
            running.withLockedValue({ r in
                defer { r = true }
                return !r
            })
        else {
            logger.debug("mitigation service already running; this run only waits")
            await Self.untilStopped()
            return
        }
        defer { running.withLockedValue { $0 = false } }
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.speaker.runUntilCancelled() }
            tasks.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    self.expire()
                }
            }
            await Self.untilStopped()
            await self.shutdown()
            tasks.cancelAll()
        }
    }

    /// Returns on graceful shutdown or cancellation, whichever comes first (outside a service
    /// group there is no graceful shutdown: cancellation alone ends it).
    private static func untilStopped() async {
        let (stop, stopped) = AsyncStream<Void>.makeStream()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await _ in stop {}
            } onGracefulShutdown: {
                stopped.finish()
            }
        } onCancel: {
            stopped.finish()
        }
    }

    /// The timer's work: rules whose time is up, then rules whose attack is over (not reported
    /// for ``BGPSettings/quietMinutes``).
    func expire() {
        change(actor: "mamori") { book, now in book.expire(now: now) }
        let quiet = Int64(settings.quietMinutes) * 60_000
        change(actor: "mamori") { book, now in
            let findings = Set(book.active.values.compactMap(\.rule.findingID) + book.pending.values.compactMap(\.rule.findingID))
            let over = lastReported.withLockedValue { last -> [String] in
                for id in last.keys where !findings.contains(id) { last[id] = nil }
                var ended: [String] = []
                for id in findings {
                    guard let seen = last[id] else {
                        last[id] = now // restored after a restart: the quiet period starts now
                        continue
                    }
                    if now - seen >= quiet { ended.append(id) }
                }
                for id in ended { last[id] = nil }
                return ended.sorted()
            }
            return over.flatMap { book.attackEnded(findingID: $0, now: now) }
        }
    }

    private func shutdown() async {
        let events = change(actor: "mamori") { book, now in book.shutdown(now: now) }
        guard events.contains(where: { if case .withdraw = $0 { true } else { false } }) else { return }
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline,
            speaker.status().contains(where: { $0.state == "established" && $0.routesAdvertised > 0 })
        {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: Findings

    /// Plans rules for new and changed attack findings and puts them through the book.
    public func handle(_ findings: [Finding]) {
        let now = clock.milliseconds
        var proposals: [(MitigationProposal, ConsentState)] = []
        for f in findings {
            for p in planner.plan(f, now: now) {
                var consent = ConsentState.none
                if let s = p.subscriber, let c = try? lawful.consentState(of: s, at: now) { consent = c }
                proposals.append((p, consent))
            }
        }
        guard !proposals.isEmpty else { return }
        lastReported.withLockedValue { last in
            for (p, _) in proposals { if let id = p.rule.findingID { last[id] = now } }
        }
        let engine = lawful.engine
        change(actor: "mamori") { book, now in
            proposals.flatMap { book.submit($0.0, engine: engine, consent: $0.1, now: now) }
        }
    }

    // MARK: Operators

    /// The outcome of an operator's request, for the API.
    public enum Outcome: Sendable {
        case done([MitigationEvent])
        case notFound(String)
        case refused(rail: MitigationRail, reason: String)
    }

    public func announce(
        kind: MitigationRule.Kind, match: FlowSpecMatch, action: FlowSpecAction, reason: String, ttlMilliseconds: Int64,
        operator name: String
    ) -> Outcome {
        outcome(
            change(actor: name) { book, now in
                book.announce(
                    kind: kind, match: match, action: action, reason: reason, ttlMilliseconds: ttlMilliseconds, operator: name, now: now)
            })
    }

    public func withdraw(ruleID: String, operator name: String) -> Outcome {
        let events = change(actor: name) { book, now in book.withdraw(ruleID: ruleID, operator: name, now: now) }
        return events.isEmpty ? .notFound("no announced rule \(ruleID)") : .done(events)
    }

    public func approve(ruleID: String, operator name: String) -> Outcome {
        guard book.withLockedValue({ $0.pending[ruleID] }) != nil else { return .notFound("no rule \(ruleID) waits for approval") }
        let events = change(actor: name) { book, now in book.approve(ruleID: ruleID, operator: name, now: now) }
        return events.isEmpty ? .notFound("rule \(ruleID) waited past its expiry") : outcome(events)
    }

    public func reject(ruleID: String, operator name: String, reason: String) -> Outcome {
        let events = change(actor: name) { book, now in book.reject(ruleID: ruleID, operator: name, reason: reason, now: now) }
        return events.isEmpty ? .notFound("no rule \(ruleID) waits for approval") : .done(events)
    }

    /// Withdraws everything now and announces nothing until released. Engaged again while
    /// engaged: the first reason stays, nothing more is audited.
    public func engageKillSwitch(operator name: String, reason: String) -> [MitigationEvent] {
        let engaged = book.withLockedValue { $0.killSwitch != nil }
        if !engaged { auditKillSwitch("engaged", actor: name, reason: reason, now: clock.milliseconds) }
        return change(actor: name, save: true) { book, now in book.engageKillSwitch(operator: name, reason: reason, now: now) }
    }

    /// Lets rules be announced again; false (and nothing audited) when it was not engaged.
    @discardableResult
    public func releaseKillSwitch(operator name: String) -> Bool {
        guard book.withLockedValue({ $0.killSwitch != nil }) else { return false }
        auditKillSwitch("released", actor: name, reason: "", now: clock.milliseconds)
        change(actor: name, save: true) { book, now in book.releaseKillSwitch(operator: name, now: now) }
        return true
    }

    private func outcome(_ events: [MitigationEvent]) -> Outcome {
        for e in events { if case .refused(_, let rail, let reason, _) = e { return .refused(rail: rail, reason: reason) } }
        return .done(events)
    }

    // MARK: What is there

    /// The book as it stands (rules announced, waiting, dry runs, refusals, the kill switch).
    public var snapshot: MitigationBook { book.withLockedValue { $0 } }

    // MARK: Changes

    /// Runs one change of the book under its lock and carries out its events in order (audit,
    /// then the speaker), saves the state and updates the gauges.
    @discardableResult
    private func change(
        actor: String, save alwaysSave: Bool = false, _ body: (inout MitigationBook, Int64) -> [MitigationEvent]
    ) -> [MitigationEvent] {
        book.withLockedValue { book in
            let now = clock.milliseconds
            var events = body(&book, now)
            guard !events.isEmpty else {
                if alwaysSave { save(book) }
                publish(book)
                return []
            }
            var kept: [MitigationEvent] = []
            // Refusals by a cap come in storms (a findings flood): one audit entry per rail and
            // change, naming the rules, rather than one per rule.
            var capped: [MitigationRail: [(rule: MitigationRule, reason: String)]] = [:]
            for event in events {
                switch event {
                case .announce(let rule, _):
                    if carryOut(event, actor: actor, now: now) {
                        kept.append(event)
                    } else {
                        // Not recorded, not announced: the rule leaves the book again.
                        _ = book.withdraw(ruleID: rule.id, operator: "mamori", now: now)
                    }
                case .refused(let rule, let rail, let reason, _) where Self.capRails.contains(rail):
                    metrics.refused[rail]?.increment()
                    if refusalDue(rule, rail, now: now) { capped[rail, default: []].append((rule, reason)) }
                    kept.append(event)
                default:
                    _ = carryOut(event, actor: actor, now: now)
                    kept.append(event)
                }
            }
            for (rail, refused) in capped.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let ids = refused.prefix(100).map(\.rule.id)
                lawful.audit.appendOrDefer(
                    at: now, kind: .mitigationChange, actor: actor, subject: rail.rawValue,
                    summary: String(
                        "refused \(refused.count) rule(s) (\(rail.rawValue): \(refused[0].reason)): \(ids.prefix(5).joined(separator: ", "))"
                            .prefix(500)),
                    detail: CapRefusal(
                        event: "refused", rail: rail.rawValue, count: refused.count, reason: refused[0].reason, rules: Array(ids)))
                logger.warning(
                    "mitigations refused by a cap",
                    metadata: ["rail": "\(rail.rawValue)", "rules": "\(refused.count)", "reason": "\(refused[0].reason)"])
            }
            events = kept
            if alwaysSave || events.contains(where: { if case .extended = $0 { false } else { true } }) { save(book) }
            publish(book)
            return events
        }
    }

    /// One event: its audit entry and its BGP update. False when an announcement could not be
    /// audited (and so was not made).
    private func carryOut(_ event: MitigationEvent, actor: String, now: Int64) -> Bool {
        switch event {
        case .announce(let rule, let audit):
            do {
                try lawful.audit.append(
                    at: now, kind: .mitigationChange, actor: actor, subject: rule.id, summary: Self.summary("announced", rule, audit),
                    detail: AuditDetail(event: "announced", rule: rule, audit: audit))
            } catch {
                metrics.auditFailures.increment()
                logger.error(
                    "mitigation not announced: the audit log cannot record it", metadata: ["rule": "\(rule.id)", "error": "\(error)"])
                return false
            }
            guard let route = Self.route(for: rule, settings: settings) else {
                logger.error("mitigation has no BGP form", metadata: ["rule": "\(rule.id)", "match": "\(rule.match)"])
                return true
            }
            speaker.announce(route)
            metrics.announced[rule.kind]?.increment()
            logger.notice(
                "mitigation announced",
                metadata: ["rule": "\(rule.id)", "match": "\(rule.match)", "action": "\(rule.action)", "approver": "\(audit.approver)"])
        case .withdraw(let rule, let reason, let audit):
            // Withdrawn first, whatever the audit log says: taking a filter away is always safe.
            if let route = Self.route(for: rule, settings: settings) { speaker.withdraw(route.nlri) }
            metrics.withdrawn[reason]?.increment()
            lawful.audit.appendOrDefer(
                at: now, kind: .mitigationChange, actor: actor, subject: rule.id,
                summary: Self.summary("withdrawn (\(reason.rawValue))", rule, audit),
                detail: AuditDetail(event: "withdrawn", rule: rule, audit: audit, reason: reason.rawValue))
            logger.notice("mitigation withdrawn", metadata: ["rule": "\(rule.id)", "reason": "\(reason.rawValue)"])
        case .refused(let rule, let rail, let reason, let audit):
            metrics.refused[rail]?.increment()
            let due = refusalDue(rule, rail, now: now)
            guard due else { return true }
            lawful.audit.appendOrDefer(
                at: now, kind: .mitigationChange, actor: actor, subject: rule.id,
                summary: Self.summary("refused (\(rail.rawValue): \(reason))", rule, audit),
                detail: AuditDetail(event: "refused", rule: rule, audit: audit, reason: reason, rail: rail.rawValue))
            logger.warning("mitigation refused", metadata: ["rule": "\(rule.id)", "rail": "\(rail.rawValue)", "reason": "\(reason)"])
        case .pending(let rule, let audit):
            lawful.audit.appendOrDefer(
                at: now, kind: .mitigationChange, actor: actor, subject: rule.id, summary: Self.summary("awaiting approval", rule, audit),
                detail: AuditDetail(event: "pending", rule: rule, audit: audit))
            logger.notice("mitigation awaits approval", metadata: ["rule": "\(rule.id)", "match": "\(rule.match)"])
        case .dryRun(let rule, let audit):
            lawful.audit.appendOrDefer(
                at: now, kind: .mitigationChange, actor: actor, subject: rule.id, summary: Self.summary("dry run", rule, audit),
                detail: AuditDetail(event: "dry_run", rule: rule, audit: audit))
            logger.info("mitigation dry run (not announced)", metadata: ["rule": "\(rule.id)", "match": "\(rule.match)"])
        case .extended:
            break
        }
        return true
    }

    /// The rails that refuse for the state of the book, not the rule's shape.
    static let capRails: Set<MitigationRail> = [.activeCap, .rateCap, .pendingCap, .killSwitch]

    /// Whether this refusal is due an audit entry: once per rule and rail per
    /// ``refusalAuditInterval`` (the memory of it bounded).
    private func refusalDue(_ rule: MitigationRule, _ rail: MitigationRail, now: Int64) -> Bool {
        let key = rule.id + "/" + rail.rawValue
        return refusalsAudited.withLockedValue { seen -> Bool in
            if let last = seen[key], now - last < Self.refusalAuditInterval { return false }
            if seen.count >= 10_000 { seen = seen.filter { now - $0.value < Self.refusalAuditInterval } }
            if seen.count >= 10_000 { return false }
            seen[key] = now
            return true
        }
    }

    struct CapRefusal: Encodable {
        var event: String
        var rail: String
        var count: Int
        var reason: String
        var rules: [String]
    }

    private func auditKillSwitch(_ verb: String, actor: String, reason: String, now: Int64) {
        lawful.audit.appendOrDefer(
            at: now, kind: .mitigationChange, actor: actor, subject: "kill_switch",
            summary: "kill switch \(verb)" + (reason.isEmpty ? "" : ": \(reason)"),
            detail: ["event": "kill_switch_\(verb)", "reason": reason])
        logger.warning("BGP kill switch \(verb)", metadata: ["operator": "\(actor)", "reason": "\(reason)"])
    }

    struct AuditDetail: Encodable {
        var event: String
        var rule: MitigationRule
        var audit: MitigationAudit
        var reason: String?
        var rail: String?
    }

    static func summary(_ verb: String, _ rule: MitigationRule, _ audit: MitigationAudit) -> String {
        var s = "\(rule.kind.rawValue) \(verb): \(rule.match) \(rule.action)"
        if let f = audit.findingID { s += "; finding \(f)" }
        if let basis = audit.legalBasis { s += "; basis \(basis.rawValue)" }
        s += "; approver \(audit.approver); expires \(Self.iso(audit.expiresAt))"
        return String(s.prefix(500))
    }

    static func iso(_ ms: Int64) -> String {
        Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601)
    }

    // MARK: Rules as routes

    /// The BGP route of a rule: a black hole is the victim's host route with BLACKHOLE, NO_EXPORT
    /// (as configured) and the carrier's communities, to the configured discard next hop; a
    /// FlowSpec rule is its match with a traffic-rate action (0 = discard).
    static func route(for rule: MitigationRule, settings: BGPSettings) -> BGPRoute? {
        switch rule.kind {
        case .blackhole:
            guard let d = rule.match.destination else { return nil }
            var communities = [BGPCommunity.blackhole] + settings.blackholeCommunities
            if settings.blackholeNoExport { communities.append(.noExport) }
            let nextHop = IPAddress(d.isIPv4 ? settings.blackholeNextHopIPv4 : settings.blackholeNextHopIPv6)
            return BGPRoute(
                nlri: .prefix(d), nextHop: nextHop, communities: Array(Set(communities)),
                largeCommunities: settings.blackholeLargeCommunities)
        case .flowSpec:
            guard let spec = flowSpec(rule.match) else { return nil }
            let rate: Float =
                switch rule.action {
                case .discard: 0
                case .rateLimit(let r): max(0, r)
                }
            return BGPRoute(
                nlri: .flowSpec(spec), communities: settings.flowSpecCommunities,
                extendedCommunities: [.trafficRate(bytesPerSecond: rate)])
        }
    }

    /// A match as RFC 8955 components: each list of values or ranges is an OR of terms.
    static func flowSpec(_ m: FlowSpecMatch) -> FlowSpec? {
        guard let family = m.destination ?? m.source else { return nil }
        func terms(_ ranges: [ValueRange]) -> [FlowSpecNumericTerm] {
            ranges.flatMap { r -> [FlowSpecNumericTerm] in
                r.first == r.last
                    ? [.equals(UInt64(r.first))]
                    : [
                        .init(greaterThan: true, equal: true, value: UInt64(r.first)),
                        .init(and: true, lessThan: true, equal: true, value: UInt64(r.last)),
                    ]
            }
        }
        var c: [FlowSpecComponent] = []
        if let d = m.destination { c.append(.prefix(.destinationPrefix, d)) }
        if let s = m.source { c.append(.prefix(.sourcePrefix, s)) }
        if !m.protocols.isEmpty { c.append(.numeric(.ipProtocol, m.protocols.map { .equals(UInt64($0)) })) }
        if !m.destinationPorts.isEmpty { c.append(.numeric(.destinationPort, terms(m.destinationPorts))) }
        if !m.sourcePorts.isEmpty { c.append(.numeric(.sourcePort, terms(m.sourcePorts))) }
        if let l = m.packetLength { c.append(.numeric(.packetLength, terms([l]))) }
        return FlowSpec(ipv6: !family.isIPv4, c)
    }

    // MARK: State

    private func publish(_ book: MitigationBook) {
        metrics.rules["active"]?.record(book.active.count)
        metrics.rules["pending"]?.record(book.pending.count)
        metrics.rules["dry_run"]?.record(book.dryRuns.count)
        metrics.active[.blackhole]?.record(book.active.values.filter { $0.rule.kind == .blackhole }.count)
        metrics.active[.flowSpec]?.record(book.active.values.filter { $0.rule.kind == .flowSpec }.count)
        metrics.killSwitch.record(book.killSwitch == nil ? 0 : 1)
    }

    private func save(_ book: MitigationBook) {
        guard let stateFile else { return }
        do {
            let data = try JSONEncoder().encode(book.saved)
            let temporary = stateFile + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]),
                rename(temporary, stateFile) == 0
            else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            logger.error("mitigation state not saved", metadata: ["file": "\(stateFile)", "error": "\(error)"])
        }
    }

    private func restore() {
        guard let stateFile, FileManager.default.fileExists(atPath: stateFile) else { return }
        let saved: MitigationBook.Saved
        do {
            saved = try JSONDecoder().decode(MitigationBook.Saved.self, from: Data(contentsOf: URL(fileURLWithPath: stateFile)))
        } catch {
            let aside = stateFile + ".damaged"
            _ = rename(stateFile, aside)
            logger.error(
                "mitigation state unreadable; set aside, starting with no rules", metadata: ["file": "\(aside)", "error": "\(error)"])
            return
        }
        let events = change(actor: "mamori") { book, now in book.restore(saved, now: now) }
        logger.info(
            "mitigations restored", metadata: ["announced": "\(events.filter { if case .announce = $0 { true } else { false } }.count)"])
    }
}
