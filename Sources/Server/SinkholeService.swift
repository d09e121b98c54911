import DNSWire
import FlowCodec
import Foundation
import Lawful
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import RPZ
import ServiceLifecycle
import ZoneTransfer

/// The DNS sinkhole inside `mamori serve`: the policy (`RPZ.SinkholePolicy`), the two RPZ zones
/// published from it with their serials and IXFR journal, and the zone transfer server the
/// carrier's resolvers follow, told of every change by NOTIFY.
///
/// What goes in:
/// - a C&C finding at or above `sinkhole.confirm_score`, or one an analyst marks a true positive:
///   its address, as an `rpz-ip` trigger (any name resolving to it is rewritten), for
///   `sinkhole.entry_days` (renewed while the finding is reported again); a false-positive verdict
///   takes it out again;
/// - names and addresses an operator adds or removes (API, `mamori rpz`);
/// - the opt-outs: every subscriber whose consent events say the sinkhole is not allowed for them
///   (the legal-basis engine decides, as for every action) is exempted by the addresses and
///   prefixes they hold now (attribution), refreshed every `sinkhole.exemption_refresh_seconds`.
///
/// Every change — entry added, renewed, removed, expired or refused, exemption set or ended — is
/// an audit entry (`sinkhole_change`), written before the zone is served: a change the audit log
/// cannot record is undone and refused. The entries and serials are kept in
/// `<data_directory>/sinkhole.json` (C&C names and addresses only); the exemptions are not stored,
/// they are computed again at start.
///
/// Metrics: `mamori_rpz_entries`, `mamori_rpz_exempted_prefixes`, `mamori_rpz_serial{zone}`,
/// `mamori_rpz_policy_changes_total{change}`, and the transfer server's and NOTIFY sender's
/// (`mamori_rpz_transfers_total`, `mamori_rpz_last_transfer_timestamp_seconds{secondary}`,
/// `mamori_rpz_notify_failed_total` …).
public final class SinkholeService: Service, Sendable {
    struct State {
        var policy: SinkholePolicy
        var publication: RPZPublication
        var responder: ZoneTransferResponder
    }

    /// One NOTIFY target and the key its NOTIFYs are signed with.
    struct NotifyTarget: Sendable {
        var secondary: NotifySender.Secondary
        var key: TSIGKey?
    }

    public let settings: SinkholeSettings
    private let state: NIOLockedValueBox<State>
    private let lawful: LawfulService
    private let attribution: AttributionService?
    private let clock: any WallClock
    private let logger: Logger
    private let stateFile: String?
    private let server: ZoneTransferServer
    private let notifier: NotifySender
    private let notifyTargets: [NotifyTarget]
    private let entriesGauge: Gauge
    private let exemptedGauge: Gauge
    private let serialGauges: (sinkhole: Gauge, exemptions: Gauge)
    private let changeCounters: [String: Counter]
    private let notifyID = NIOLockedValueBox(UInt16.random(in: 1...UInt16.max))
    /// Serialises changes so that audit entries, zone versions and NOTIFYs keep one order.
    private let changeLock = NIOLock()

    /// Reads the keys and the saved state, and renders the zones; throws on a configuration
    /// problem (a bad name, an unreadable key file, a damaged state file is set aside instead).
    public init(
        settings: SinkholeSettings, stateFile: String?, lawful: LawfulService, attribution: AttributionService?,
        protectedPrefixes: [IPPrefix] = [], clock: any WallClock, logger: Logger, metricsFactory: any MetricsFactory
    ) throws {
        self.settings = settings
        self.lawful = lawful
        self.attribution = attribution
        self.clock = clock
        self.logger = logger
        self.stateFile = stateFile
        func name(_ text: String, _ key: String) throws -> DNSName {
            do { return try DNSName(text) } catch { throw ConfigurationError(line: nil, "sinkhole.\(key): '\(text)' is not a DNS name") }
        }
        let apex = try name(settings.zone, "zone")
        let exemptionApex = try name(settings.exemptionApex, "exemption_zone")
        let sinkholeName = try name(settings.sinkholeName, "sinkhole_name")
        var protectedNames = Set<DNSName>()
        for n in SinkholeSettings.builtInProtectedNames + settings.protectedNames { protectedNames.insert(try name(n, "protected_names")) }
        let policyConfiguration = SinkholePolicy.Configuration(
            zoneApex: apex, exemptionApex: exemptionApex, sinkholeName: sinkholeName, maximumEntries: settings.maximumEntries,
            protectedNames: protectedNames,
            protectedPrefixes: settings.protectedPrefixes + protectedPrefixes + settings.secondaries.map(\.address))
        let zoneConfiguration = RPZZoneConfiguration(
            apex: apex, exemptionApex: exemptionApex, sinkholeName: sinkholeName,
            primaryName: try name(settings.primaryName, "primary_name"),
            responsibleName: try name(settings.responsibleName, "responsible_name"), ttl: UInt32(settings.ttl),
            exemptionTTL: UInt32(settings.exemptionTTL))
        var policy = SinkholePolicy(configuration: policyConfiguration)
        let nowSeconds = clock.milliseconds / 1000
        var serial = DNSSerial(UInt32(truncatingIfNeeded: nowSeconds))
        if let stateFile, let saved = Self.load(stateFile, logger: logger) {
            for entry in saved.entries.compactMap({ $0.entry }) { _ = policy.add(entry, now: nowSeconds) }
            // Never go back: a secondary holding a later serial would ignore the zone.
            let last = DNSSerial(max(saved.sinkholeSerial, saved.exemptionSerial))
            if !(serial > last) { serial = last.next }
            logger.info("sinkhole entries restored", metadata: ["entries": "\(policy.count)", "file": "\(stateFile)"])
        }
        let publication = RPZPublication(policy: policy, configuration: zoneConfiguration, initialSerial: serial)
        var secondaries: [SecondaryPolicy] = []
        var targets: [NotifyTarget] = []
        for s in settings.secondaries {
            var key: TSIGKey?
            if let keyName = s.tsigKeyName, let file = s.tsigSecretFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ConfigurationError(line: nil, "sinkhole.secondaries: cannot read tsig_secret_file \(file)")
                }
                do {
                    key = try TSIGKey(
                        name: try name(keyName, "tsig_key_name"), secretBase64: text.trimmingCharacters(in: .whitespacesAndNewlines))
                } catch {
                    throw ConfigurationError(line: nil, "sinkhole.secondaries: \(file) does not hold a base64 TSIG secret")
                }
            }
            secondaries.append(SecondaryPolicy(prefix: s.address, tsigKey: key))
            if let n = s.notify { targets.append(NotifyTarget(secondary: .init(host: n.host, port: n.port), key: key)) }
        }
        notifyTargets = targets
        state = NIOLockedValueBox(
            State(
                policy: policy, publication: publication,
                responder: ZoneTransferResponder(zones: publication.zones, secondaries: secondaries))
        )
        var serverConfiguration = ZoneTransferServer.Configuration()
        serverConfiguration.host = settings.listen.host
        serverConfiguration.port = settings.listen.port
        var notifyConfiguration = NotifySender.Configuration()
        notifyConfiguration.bindHost =
            settings.listen.host.contains(":") ? "::" : settings.listen.host == "0.0.0.0" ? "0.0.0.0" : settings.listen.host
        notifier = NotifySender(configuration: notifyConfiguration, logger: logger, metricsFactory: metricsFactory)
        entriesGauge = Gauge(label: "mamori_rpz_entries", factory: metricsFactory)
        exemptedGauge = Gauge(label: "mamori_rpz_exempted_prefixes", factory: metricsFactory)
        serialGauges = (
            Gauge(label: "mamori_rpz_serial", dimensions: [("zone", "sinkhole")], factory: metricsFactory),
            Gauge(label: "mamori_rpz_serial", dimensions: [("zone", "exemptions")], factory: metricsFactory)
        )
        var counters: [String: Counter] = [:]
        for c in ["added", "extended", "replaced", "removed", "expired", "not_found", "refused", "exemption_set", "exemption_ended"] {
            counters[c] = Counter(label: "mamori_rpz_policy_changes_total", dimensions: [("change", c)], factory: metricsFactory)
        }
        changeCounters = counters
        // The server asks `respond`, which reads `state`; set up last.
        let box = state
        server = ZoneTransferServer(configuration: serverConfiguration, logger: logger, metricsFactory: metricsFactory) {
            request, client, reply in
            let responder = box.withLockedValue { $0.responder }
            let outcome = responder.respond(
                to: request, from: client.address, now: clock.milliseconds / 1000, overTCP: client.transport == .tcp)
            for message in outcome.messages { try await reply.send(message) }
        }
        publishGauges()
    }

    // MARK: - Reading

    /// The entries, sorted by trigger.
    public var entries: [SinkholeEntry] {
        state.withLockedValue { $0.policy.entries.values.sorted { $0.trigger.description < $1.trigger.description } }
    }

    /// The entry of `trigger`, if any.
    public func entry(_ trigger: SinkholeTrigger) -> SinkholeEntry? { state.withLockedValue { $0.policy.entries[trigger] } }

    /// What the console and `GET /api/v1/sinkhole` show.
    public struct Status: Sendable, Codable {
        public var entries: Int
        public var maximumEntries: Int
        public var exemptedSubscribers: Int
        public var exemptedPrefixes: Int
        public var zone: String
        public var exemptionZone: String
        public var serial: UInt32
        public var exemptionSerial: UInt32
        public var refusedFull: Int
        public var transferPort: Int?
    }

    public var status: Status {
        state.withLockedValue { s in
            Status(
                entries: s.policy.count, maximumEntries: s.policy.configuration.maximumEntries,
                exemptedSubscribers: s.policy.exemptions.count,
                exemptedPrefixes: s.policy.exemptedPrefixes.count, zone: settings.zone, exemptionZone: settings.exemptionApex,
                serial: s.publication.sinkhole.zone.serial.rawValue, exemptionSerial: s.publication.exemptions.zone.serial.rawValue,
                refusedFull: s.policy.fullRefusals, transferPort: server.boundTCPPort)
        }
    }

    /// The TCP port of the zone transfer server, once it listens.
    public var transferPort: Int? { server.boundTCPPort }

    /// Waits until the zone transfer server listens.
    public func waitUntilReady() async { await server.waitUntilReady() }

    // MARK: - Matching the resolvers' answers

    /// Whether a resolver's answer for `name` (lower-case, no final dot) was the sinkhole's: a
    /// name entry covers the name or one of its parents (entries cover subdomains), or an answer
    /// address is the sinkhole's own or in an address entry.
    public func covers(name: String, answers: [IPAddress]) -> Bool {
        if answers.contains(where: settings.addresses.contains) { return true }
        return state.withLockedValue { s in
            if answers.contains(where: { Self.hostEntry($0, in: s.policy) != nil }) { return true }
            var labels = name.split(separator: ".")
            while labels.count >= 2 {
                if let n = try? DNSName(labels.joined(separator: ".") + "."), s.policy.entries[.name(n)]?.action == .sinkhole {
                    return true
                }
                labels.removeFirst()
            }
            return false
        }
    }

    /// The address entry for exactly `address` (a /32 or /128), if any.
    public func addressEntry(_ address: IPAddress) -> SinkholeEntry? {
        state.withLockedValue { Self.hostEntry(address, in: $0.policy) }
    }

    static func hostEntry(_ a: IPAddress, in policy: SinkholePolicy) -> SinkholeEntry? {
        guard let p = IPPrefix(address: a, length: a.isIPv6 ? 128 : 32) else { return nil }
        return policy.entries[.address(p)]
    }

    /// Adds names seen resolving to C&C addresses in the policy (`learn_names`), each tied to
    /// the finding of the address's entry; the guards apply as to any entry.
    public func learn(_ names: [(name: String, address: IPAddress)]) async {
        guard settings.learnNames, !names.isEmpty else { return }
        let now = clock.milliseconds / 1000
        var operations: [SinkholePolicy.Operation] = []
        var seen = Set<String>()
        for (name, address) in names where seen.insert(name).inserted {
            guard let entry = addressEntry(address), let n = try? DNSName(name + "."), self.entry(.name(n)) == nil else { continue }
            let findingID: String =
                switch entry.source {
                case .finding(let id), .learnedName(let id): id
                case .analyst(let who): "analyst:\(who)"
                case .indicator(let feed): "indicator:\(feed)"
                }
            operations.append(
                .add(
                    SinkholeEntry(
                        trigger: .name(n), source: .learnedName(findingID: findingID),
                        reason: "resolved to the sinkholed C&C address \(address) in the resolvers' log", addedAt: now,
                        expiresAt: entry.expiresAt, ttl: entry.ttl)))
        }
        guard !operations.isEmpty else { return }
        _ = try? await change(operations, actor: "mamori")
    }

    // MARK: - Changing

    /// A change refused because the audit log could not record it.
    public struct NotRecorded: Error, CustomStringConvertible {
        public var description: String
    }

    /// Applies `operations` as one batch by `actor`: audited, published as one zone version,
    /// announced to the secondaries. Returns what each operation did.
    @discardableResult
    public func change(_ operations: [SinkholePolicy.Operation], actor: String) async throws -> [SinkholeChange] {
        let now = clock.milliseconds / 1000
        let (changes, notifies) = try changeLock.withLock { () throws -> ([SinkholeChange], [(NotifyTarget, [UInt8])]) in
            let changes = state.withLockedValue { $0.policy.apply(operations, now: now) }
            do {
                for c in changes { try audit(c, actor: actor, at: now * 1000) }
            } catch {
                state.withLockedValue { s in Self.undo(changes, in: &s.policy, now: now) }
                logger.error("sinkhole change not made: the audit log refused it", metadata: ["problem": "\(error)"])
                throw NotRecorded(description: "the audit log could not record the change, so it was not made: \(error)")
            }
            for c in changes { changeCounters[Self.counterName(c)]?.increment() }
            guard changes.contains(where: \.altersZone) else { return (changes, []) }
            return (changes, publish(now: now))
        }
        save()
        await send(notifies)
        return changes
    }

    /// C&C findings at or above the confirmation score enter the policy (or are renewed).
    public func consider(_ findings: [Finding]) async {
        // The detectors report a finding again at every change; an entry it made is renewed only
        // once half its life has passed, so that the audit log is not written at every evaluation.
        let now = clock.milliseconds / 1000
        let halfLife = Int64(settings.entryDays) * 86_400 / 2
        let confirmed = findings.filter { f in
            guard f.kind == .commandAndControl, f.score >= settings.confirmScore else { return false }
            guard let trigger = Self.trigger(of: f), let existing = entry(trigger), existing.source == .finding(id: f.id) else {
                return true
            }
            return (existing.expiresAt ?? .max) - now <= halfLife
        }
        guard !confirmed.isEmpty else { return }
        let operations = confirmed.compactMap { f in
            entry(for: f, reason: "C&C finding, score \(String(format: "%.2f", f.score)) ≥ \(settings.confirmScore): \(f.summary)")
                .map { SinkholePolicy.Operation.add($0) }
        }
        do {
            try await change(operations, actor: "mamori")
        } catch {
            // Logged by change(); the finding is reported again while it lasts.
        }
    }

    /// A name a sharing source offers for the sinkhole (a `domain-name` indicator).
    public struct IndicatorName: Sendable, Hashable {
        public var name: DNSName
        /// Seconds since 1970 (the indicator's `valid_until`), or nil: `sinkhole.entry_days`.
        public var expiresAt: Int64?
        /// For the audit record and the console: the indicator's name, confidence, TLP.
        public var reason: String

        public init(name: DNSName, expiresAt: Int64?, reason: String) {
            self.name = name
            self.expiresAt = expiresAt
            self.reason = reason
        }
    }

    /// Names refused for a feed (a popular or protected name, a full policy), so that each pull
    /// does not refuse and audit them again; forgotten at restart, or when the feed drops them.
    private let refusedIndicatorNames = NIOLockedValueBox([String: Set<DNSName>]())

    /// Makes the policy's entries of `feed` (source `indicator`) the names given, as one batch:
    /// names new to the policy are added (the guards apply as to every entry: a popular or
    /// protected name is refused, audited once), renewed once half their life has passed, and
    /// entries of this feed that it no longer offers (revoked, expired, gone) are removed. A name
    /// the policy holds from another source (a finding, an analyst, another feed) is left as it is.
    @discardableResult
    public func replaceIndicatorNames(feed: String, with names: [IndicatorName]) async -> [SinkholeChange] {
        let now = clock.milliseconds / 1000
        let halfLife = Int64(settings.entryDays) * 86_400 / 2
        let offered = Dictionary(names.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let refused = refusedIndicatorNames.withLockedValue { all in
            all[feed] = all[feed]?.intersection(offered.keys)
            return all[feed] ?? []
        }
        var operations: [SinkholePolicy.Operation] = []
        let current = state.withLockedValue { $0.policy.entries }
        for (trigger, e) in current.sorted(by: { $0.key.description < $1.key.description }) where e.source == .indicator(feed: feed) {
            if case .name(let n) = trigger, offered[n] != nil { continue }
            operations.append(.remove(trigger))
        }
        for (name, offer) in offered.sorted(by: { $0.key.description < $1.key.description }) where !refused.contains(name) {
            let expiresAt = offer.expiresAt ?? now + Int64(settings.entryDays) * 86_400
            if let e = current[.name(name)] {
                // Held from another source: left alone. Held from this feed: renewed when a newer
                // version's valid_until is later, or half the default life has passed.
                guard e.source == .indicator(feed: feed), let old = e.expiresAt, expiresAt > old,
                    offer.expiresAt != nil || old - now <= halfLife
                else { continue }
            }
            operations.append(
                .add(
                    SinkholeEntry(
                        trigger: .name(name), source: .indicator(feed: feed), reason: String(offer.reason.prefix(300)), addedAt: now,
                        expiresAt: expiresAt, ttl: UInt32(settings.ttl))))
        }
        guard !operations.isEmpty else { return [] }
        do {
            let changes = try await change(operations, actor: "sharing:\(feed)")
            let newlyRefused = changes.compactMap { c -> DNSName? in
                guard case .refused(let e, _) = c, case .name(let n) = e.trigger else { return nil }
                return n
            }
            if !newlyRefused.isEmpty { refusedIndicatorNames.withLockedValue { $0[feed, default: []].formUnion(newlyRefused) } }
            return changes
        } catch {
            return [] // Logged by change(); the next pull tries again.
        }
    }

    /// An analyst's verdict: a true positive puts the C&C in, a false positive takes out the
    /// entry that finding made.
    public func verdict(_ finding: Finding, _ verdict: Verdict) async {
        guard finding.kind == .commandAndControl, let trigger = Self.trigger(of: finding) else { return }
        let actor = "analyst:\(verdict.analyst)"
        do {
            switch verdict.verdict {
            case .truePositive:
                if let e = entry(
                    for: finding, reason: "C&C finding confirmed by \(verdict.analyst)" + (verdict.note.map { ": \($0)" } ?? ""))
                {
                    try await change([.add(e)], actor: actor)
                }
            case .falsePositive:
                if let e = entry(trigger), e.source == .finding(id: finding.id) { try await change([.remove(trigger)], actor: actor) }
            }
        } catch {
            // Logged by change().
        }
    }

    func entry(for finding: Finding, reason: String) -> SinkholeEntry? {
        guard let trigger = Self.trigger(of: finding) else { return nil }
        let now = clock.milliseconds / 1000
        return SinkholeEntry(
            trigger: trigger, source: .finding(id: finding.id), reason: String(reason.prefix(300)), addedAt: now,
            expiresAt: now + Int64(settings.entryDays) * 86_400, ttl: UInt32(settings.ttl))
    }

    /// A C&C finding's address as a host trigger.
    static func trigger(of finding: Finding) -> SinkholeTrigger? {
        guard finding.subject.type == .endpoint || finding.subject.type == .address, let a = IPAddress(finding.subject.address),
            let p = IPPrefix(address: a, length: a.isIPv6 ? 128 : 32)
        else { return nil }
        return .address(p)
    }

    /// Looks up who has opted out of the sinkhole now and where they are, and exempts exactly
    /// those addresses. Returns the subscribers whose exemption changed.
    @discardableResult
    public func refreshExemptions() async -> Int {
        let now = clock.milliseconds
        let candidates: [String]
        do {
            candidates = try lawful.consent.subscribers(withEventsFor: .sinkholeDNS, limit: 1_000_000)
        } catch {
            logger.error("sinkhole exemptions not refreshed: the consent registry cannot be read", metadata: ["problem": "\(error)"])
            return 0
        }
        var refused: [String: LegalDecision] = [:]
        for subscriber in candidates {
            guard let consent = try? lawful.consentState(of: subscriber, at: now) else { continue }
            let decision = lawful.engine.decide(.sinkholeDNS(subscriber: subscriber, consent: consent), at: now)
            if !decision.permitted { refused[subscriber] = decision }
        }
        let held = attribution?.heldPrefixes(ofPseudonyms: Set(refused.keys), at: now) ?? [:]
        let notifies = changeLock.withLock { () -> [(NotifyTarget, [UInt8])] in
            let previous = state.withLockedValue { Set($0.policy.exemptions.keys) }
            var changes: [(SinkholePolicy.ExemptionChange, LegalDecision?)] = []
            for pseudonym in Set(refused.keys).union(previous) {
                let prefixes = refused[pseudonym] == nil ? [] : held[pseudonym] ?? []
                let change = state.withLockedValue { $0.policy.setExemption(pseudonym: pseudonym, prefixes: prefixes) }
                if !change.isEmpty { changes.append((change, refused[pseudonym])) }
            }
            guard !changes.isEmpty else { return [] }
            for (change, decision) in changes {
                let ended = decision == nil
                changeCounters[ended ? "exemption_ended" : "exemption_set"]?.increment()
                let summary =
                    ended
                    ? "exemption ended: the sinkhole is allowed again for this subscriber"
                    : "exempted from the sinkhole (\(decision?.summary ?? "not permitted")): \(change.added.count) prefixes added, \(change.removed.count) removed"
                do {
                    try lawful.audit.append(
                        at: now, kind: .sinkholeChange, actor: "mamori", subject: change.pseudonym, summary: summary,
                        detail: ExemptionRecord(
                            added: change.added.map(\.description), removed: change.removed.map(\.description),
                            reasons: decision?.reasons ?? []))
                } catch {
                    // An exemption protects the subscriber: it is served even when the log cannot
                    // take its record (which is kept waiting by the audit trail where it can).
                    logger.error("sinkhole exemption not audited", metadata: ["problem": "\(error)"])
                }
            }
            return publish(now: now / 1000)
        }
        await send(notifies)
        return notifies.isEmpty ? 0 : 1
    }

    struct ExemptionRecord: Encodable {
        var added: [String]
        var removed: [String]
        var reasons: [String]
    }

    // MARK: - Running

    /// Serves zone transfers; every minute expires old entries, and every
    /// `exemption_refresh_seconds` refreshes the exemptions.
    public func run() async throws {
        await refreshExemptions()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.server.run() }
            group.addTask {
                var lastRefresh = ContinuousClock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    if Task.isCancelled { break }
                    let now = self.clock.milliseconds / 1000
                    let expiring = self.state.withLockedValue { s in s.policy.entries.values.contains { $0.isExpired(at: now) } }
                    if expiring { _ = try? await self.change([.expire], actor: "mamori") }
                    if ContinuousClock.now - lastRefresh >= .seconds(self.settings.exemptionRefreshSeconds) {
                        lastRefresh = ContinuousClock.now
                        await self.refreshExemptions()
                    }
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
        save()
    }

    // MARK: - Internals

    /// Publishes the policy as new zone versions, hands them to the responder and returns the
    /// NOTIFYs to send. Called with `changeLock` held.
    private func publish(now: Int64) -> [(NotifyTarget, [UInt8])] {
        let zones = state.withLockedValue { s -> [RPZZone] in
            let steps = s.publication.publish(s.policy)
            s.responder.update(s.publication.sinkhole)
            s.responder.update(s.publication.exemptions)
            return [steps.sinkhole.map { _ in s.publication.sinkhole.zone }, steps.exemptions.map { _ in s.publication.exemptions.zone }]
                .compactMap { $0 }
        }
        publishGauges()
        var out: [(NotifyTarget, [UInt8])] = []
        for zone in zones {
            for target in notifyTargets {
                let id = notifyID.withLockedValue { id -> UInt16 in
                    id = id &+ 1
                    return id
                }
                if let request = try? ZoneTransferResponder.notify(zone: zone, id: id, key: target.key, now: now) {
                    out.append((target, request.bytes))
                }
            }
        }
        return out
    }

    private func send(_ notifies: [(NotifyTarget, [UInt8])]) async {
        guard !notifies.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for (target, bytes) in notifies {
                group.addTask { _ = await self.notifier.send(bytes, to: [target.secondary]) }
            }
        }
    }

    private func publishGauges() {
        let (count, exempted, serials) = state.withLockedValue { s in
            (
                s.policy.count, s.policy.exemptedPrefixes.count,
                (s.publication.sinkhole.zone.serial.rawValue, s.publication.exemptions.zone.serial.rawValue)
            )
        }
        entriesGauge.record(count)
        exemptedGauge.record(exempted)
        serialGauges.sinkhole.record(Int(serials.0))
        serialGauges.exemptions.record(Int(serials.1))
    }

    private func audit(_ change: SinkholeChange, actor: String, at: Int64) throws {
        let (verb, entry): (String, SinkholeEntry?) =
            switch change {
            case .added(let e): ("added", e)
            case .extended(_, let e): ("renewed", e)
            case .replaced(_, let e): ("replaced", e)
            case .removed(let e): ("removed", e)
            case .expired(let e): ("expired", e)
            case .notFound: ("not found", nil)
            case .refused(let e, _): ("refused", e)
            }
        var summary = "\(verb): \(Self.triggerText(change))"
        if case .refused(_, let why) = change { summary += " (\(why))" }
        if let entry, verb != "removed" && verb != "expired" { summary += " — \(entry.reason)" }
        try lawful.audit.append(
            at: at, kind: .sinkholeChange, actor: actor, subject: Self.triggerText(change), summary: String(summary.prefix(500)),
            detail: entry.map(SavedEntry.init) ?? SavedEntry.empty)
    }

    static func triggerText(_ change: SinkholeChange) -> String {
        switch change {
        case .added(let e), .extended(_, let e), .replaced(_, let e), .removed(let e), .expired(let e), .refused(let e, _):
            SavedEntry.text(e.trigger)
        case .notFound(let t): SavedEntry.text(t)
        }
    }

    static func counterName(_ change: SinkholeChange) -> String {
        switch change {
        case .added: "added"
        case .extended: "extended"
        case .replaced: "replaced"
        case .removed: "removed"
        case .expired: "expired"
        case .notFound: "not_found"
        case .refused: "refused"
        }
    }

    /// Puts the policy back as it was before `changes` (the audit log refused them).
    static func undo(_ changes: [SinkholeChange], in policy: inout SinkholePolicy, now: Int64) {
        for c in changes.reversed() {
            switch c {
            case .added(let e): _ = policy.remove(trigger: e.trigger, now: now)
            case .extended(let previous, _), .replaced(let previous, _):
                _ = policy.remove(trigger: previous.trigger, now: now)
                _ = policy.add(previous, now: now)
            case .removed(let e): _ = policy.add(e, now: now)
            case .expired, .notFound, .refused: break
            }
        }
    }

    // MARK: - The state file

    struct SavedState: Codable {
        var sinkholeSerial: UInt32
        var exemptionSerial: UInt32
        var entries: [SavedEntry]
    }

    private func save() {
        guard let stateFile else { return }
        let saved = state.withLockedValue { s in
            SavedState(
                sinkholeSerial: s.publication.sinkhole.zone.serial.rawValue, exemptionSerial: s.publication.exemptions.zone.serial.rawValue,
                entries: s.policy.entries.values.map(SavedEntry.init).sorted { $0.trigger < $1.trigger })
        }
        do {
            let data = try JSONEncoder().encode(saved)
            let temporary = stateFile + ".tmp"
            _ = FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
            _ = rename(temporary, stateFile)
        } catch {
            logger.error("sinkhole state not saved", metadata: ["file": "\(stateFile)", "problem": "\(error)"])
        }
    }

    static func load(_ path: String, logger: Logger) -> SavedState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(SavedState.self, from: data)
        } catch {
            let aside = path + ".damaged"
            try? FileManager.default.removeItem(atPath: aside)
            try? FileManager.default.moveItem(atPath: path, toPath: aside)
            logger.error("sinkhole state unreadable, starting empty", metadata: ["file": "\(path)", "kept_as": "\(aside)"])
            return nil
        }
    }
}

/// An entry as JSON: in the state file, the audit log and the API.
public struct SavedEntry: Codable, Sendable, Hashable {
    /// `name evil.example.` or `address 192.0.2.7/32`.
    public var trigger: String
    public var action: String
    /// `finding`, `analyst`, `indicator` or `learned_name`, and what it names.
    public var source: String
    public var sourceID: String
    public var reason: String
    public var addedAt: Int64
    public var expiresAt: Int64?
    public var ttl: UInt32

    static let empty = SavedEntry(trigger: "", action: "", source: "", sourceID: "", reason: "", addedAt: 0, expiresAt: nil, ttl: 0)

    init(trigger: String, action: String, source: String, sourceID: String, reason: String, addedAt: Int64, expiresAt: Int64?, ttl: UInt32)
    {
        self.trigger = trigger
        self.action = action
        self.source = source
        self.sourceID = sourceID
        self.reason = reason
        self.addedAt = addedAt
        self.expiresAt = expiresAt
        self.ttl = ttl
    }

    public init(_ e: SinkholeEntry) {
        let (source, id): (String, String) =
            switch e.source {
            case .finding(let id): ("finding", id)
            case .analyst(let who): ("analyst", who)
            case .indicator(let feed): ("indicator", feed)
            case .learnedName(let id): ("learned_name", id)
            }
        self.init(
            trigger: Self.text(e.trigger), action: e.action.description, source: source, sourceID: id, reason: e.reason, addedAt: e.addedAt,
            expiresAt: e.expiresAt, ttl: e.ttl)
    }

    static func text(_ t: SinkholeTrigger) -> String {
        switch t {
        case .name(let n): "\(n)"
        case .address(let p): "\(p)"
        }
    }

    /// Parses what ``text(_:)`` writes, and what an operator types: a name (with or without its
    /// final dot) or an address or prefix.
    public static func trigger(_ text: String) -> SinkholeTrigger? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let p = IPPrefix(t) { return .address(p) }
        if let a = IPAddress(t), let p = IPPrefix(address: a, length: a.isIPv6 ? 128 : 32) { return .address(p) }
        guard let name = hostName(t), let n = try? DNSName(name) else { return nil }
        return .name(n)
    }

    /// `text` as a host name, lower-case with its final dot, or nil unless every label is 1–63
    /// letters, digits, `-` or `_` and the whole fits 254 octets (configuration names use it too).
    static func hostName(_ text: String) -> String? {
        let name = (text.hasSuffix(".") ? text : text + ".").lowercased()
        let labels = name.utf8.dropLast().split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard name.utf8.count <= 254, !labels.isEmpty, labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 && $0.allSatisfy(hostnameOctet) })
        else { return nil }
        return name
    }

    /// Letters, digits, `-` and `_` (which real C&C names use): what a name trigger may hold.
    static func hostnameOctet(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-")
            || c == UInt8(ascii: "_")
    }

    /// The entry back, or nil when a field does not parse.
    var entry: SinkholeEntry? {
        guard let trigger = Self.trigger(trigger) else { return nil }
        let a: SinkholeAction? =
            switch action {
            case "sinkhole": .sinkhole
            case "nxdomain": .nxdomain
            case "passthru": .passthru
            default: nil
            }
        let s: SinkholeSource? =
            switch source {
            case "finding": .finding(id: sourceID)
            case "analyst": .analyst(operator: sourceID)
            case "indicator": .indicator(feed: sourceID)
            case "learned_name": .learnedName(findingID: sourceID)
            default: nil
            }
        guard let a, let s else { return nil }
        return SinkholeEntry(trigger: trigger, action: a, source: s, reason: reason, addedAt: addedAt, expiresAt: expiresAt, ttl: ttl)
    }
}
