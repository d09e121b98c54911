import Attribution
import Crypto
import Foundation
import Lawful
import Logging
import MamoriCore
import NIOConcurrencyHelpers
import ServiceLifecycle
import Storage

/// The lawful-action core of the server: the carrier's policy and the legal-basis engine, the
/// consent registry, and the audit log every decision, consent change, identity reveal and
/// configuration load is written to. Runs the audit retention sweep hourly.
public final class LawfulService: Service, Sendable {
    public let policy: LawfulPolicy
    public let engine: LegalBasisEngine
    public let audit: any AuditTrail
    public let consent: any ConsentRegistry
    private let pseudonymizer: SubscriberPseudonymizer
    private let auditRetentionDays: Int
    private let logger: Logger
    /// The time of the start, sweeps and requests that do not name one.
    public let clock: any WallClock
    private let sweepers = NIOLockedValueBox<[@Sendable () async -> Void]>([])

    private let consentListeners = NIOLockedValueBox<[@Sendable () async -> Void]>([])

    /// Calls `listener` (in a task of its own) after consent events are recorded or imported: the
    /// DNS sinkhole looks up its exemptions again at once instead of at its next refresh.
    public func onConsentChange(_ listener: @escaping @Sendable () async -> Void) {
        consentListeners.withLockedValue { $0.append(listener) }
    }

    private func consentChanged() {
        let listeners = consentListeners.withLockedValue { $0 }
        guard !listeners.isEmpty else { return }
        Task { for l in listeners { await l() } }
    }

    /// Adds work to the hourly retention sweep (the case store's).
    public func onSweep(_ sweeper: @escaping @Sendable () async -> Void) {
        sweepers.withLockedValue { $0.append(sweeper) }
    }

    /// Opens the audit log and the consent registry in the data directory, then starts as
    /// ``init(configuration:audit:consent:pseudonymKey:logger:clock:)`` does.
    public convenience init(
        configuration: MamoriConfiguration, pseudonymKey: [UInt8], logger: Logger, clock: any WallClock = SystemClock(),
        storage: any StorageObserver = NoStorageObserver()
    ) throws {
        let key = try AuditKey.loadOrCreate(path: configuration.auditKeyFile)
        let audit = try AuditLog(
            directory: configuration.auditDirectory, key: key, segmentEntries: configuration.lawful.auditSegmentEntries, observer: storage,
            now: clock.milliseconds)
        for r in audit.repairs {
            logger.warning("audit log repaired at start", metadata: ["file": "\(r.file)", "repair": "\(r.what)"])
        }
        let consent = try SQLiteConsentRegistry(path: configuration.consentDatabase, observer: storage)
        self.init(configuration: configuration, audit: audit, consent: consent, pseudonymKey: pseudonymKey, logger: logger, clock: clock)
    }

    /// Starts on the given stores (in-memory ones in tests) and records the start and the ground
    /// for the analysis in the audit trail.
    ///
    /// Both are recorded with ``AuditTrail/appendOrDefer(at:kind:actor:subject:summary:detail:)``:
    /// a full disk does not stop the start (collection and detection go on); the entries are
    /// written as soon as the log can be, before any later one.
    public init(
        configuration: MamoriConfiguration, audit: any AuditTrail, consent: any ConsentRegistry, pseudonymKey: [UInt8], logger: Logger,
        clock: any WallClock = SystemClock()
    ) {
        self.clock = clock
        let now = clock.milliseconds
        policy = configuration.lawful.policy
        engine = LegalBasisEngine(policy: policy)
        self.audit = audit
        self.consent = consent
        pseudonymizer = SubscriberPseudonymizer(key: pseudonymKey)
        auditRetentionDays = configuration.lawful.auditRetentionDays
        self.logger = logger

        // What this run was started with: the policy (by digest) and its terms versions.
        struct Started: Encodable {
            var policyFile: String?
            var policySHA256: String?
            var terms: [String]
            var dataDirectory: String
            var revealEnabled: Bool
        }
        let digest = configuration.lawful.policyFile.flatMap { FileManager.default.contents(atPath: $0) }
            .map { SHA256.hash(data: $0).hexEncoded }
        audit.appendOrDefer(
            at: now, kind: .configurationChange, actor: "mamori", subject: configuration.lawful.policyFile ?? "built-in policy",
            summary:
                "mamori serve started with \(configuration.lawful.policyFile.map { "policy \($0)" } ?? "the built-in policy (no terms disclose any action)")",
            detail: Started(
                policyFile: configuration.lawful.policyFile, policySHA256: digest, terms: policy.terms.map(\.version),
                dataDirectory: configuration.dataDirectory, revealEnabled: configuration.attribution.revealEnabled))

        // The ground for the analysis this server is about to run, decided and recorded like any other.
        let practice = AnalysisPractice(
            mechanical: true, persistsRawFlows: false, evidenceRetentionDays: configuration.detection.retentionDays)
        let decision = engine.decide(.analyseFlows(practice), at: now)
        audit.appendOrDefer(
            at: now, kind: .decision, actor: "mamori", subject: LawfulAction.analyseFlows.rawValue,
            summary: "\(LawfulAction.analyseFlows.rawValue): \(decision.permitted ? "permitted" : "not permitted") — \(decision.summary)",
            detail: decision)
        if audit.deferredCount > 0 {
            logger.error(
                "the audit log cannot be written at start; the start is recorded as soon as it can be",
                metadata: ["waiting": "\(audit.deferredCount)"])
        }
        if !decision.permitted {
            logger.warning(
                "flow analysis has no legal basis under this configuration",
                metadata: ["reasons": "\(decision.reasons.joined(separator: "; "))"])
        }
    }

    /// Decides and records the decision in the audit log before returning it.
    @discardableResult
    public func decide(_ request: ActionRequest, at: Int64, actor: String = "mamori", subject: String? = nil) throws -> LegalDecision {
        let decision = engine.decide(request, at: at)
        try audit.append(
            at: at, kind: .decision, actor: actor, subject: subject ?? request.subscriber ?? request.action.rawValue,
            summary: "\(request.action.rawValue): \(decision.permitted ? "permitted" : "not permitted") — \(decision.summary)",
            detail: decision)
        return decision
    }

    /// The consent state of `subscriber` at `at`, from the registry.
    public func consentState(of subscriber: String, at: Int64) throws -> ConsentState {
        try consent.state(of: subscriber, at: at)
    }

    /// Records consent events (each audited) on behalf of `actor`.
    ///
    /// The audit entries are written first: a change the log cannot record is not made (the caller
    /// gets the error). If the registry then refuses the write, that is recorded too (as soon as
    /// the log can take it) and the error thrown: the log says the change was not kept.
    public func recordConsent(_ events: [ConsentEvent], actor: String, at: Int64) throws {
        for e in events {
            if let problem = e.problem { throw LawfulRequestError(problem) }
        }
        for e in events {
            try audit.append(
                at: at, kind: .consentChange, actor: actor, subject: e.subscriber,
                summary:
                    "\(e.kind.rawValue)\(e.action.map { " \($0.rawValue)" } ?? "")\(e.termsVersion.map { " terms \($0)" } ?? "") effective \(e.at) (\(e.method))",
                detail: e)
        }
        do {
            try consent.record(events, recordedAt: at)
        } catch {
            for e in events {
                audit.appendOrDefer(
                    at: at, kind: .consentChange, actor: "mamori", subject: e.subscriber,
                    summary: "\(e.kind.rawValue) NOT recorded: the consent registry refused the write (\(StorageErrorText.of(error)))",
                    detail: e)
            }
            throw error
        }
        consentChanged()
    }

    /// Imports the carrier's customer export (accounts are pseudonymised here and never kept).
    public func importCustomers(_ text: String, source: String, actor: String, at: Int64) throws -> ConsentImportSummary {
        let file: CustomerConsentFile
        do {
            file = try CustomerConsentFile.parse(text)
        } catch {
            throw LawfulRequestError(error.description)
        }
        // The intent first: an import the log cannot record is not made. The outcome follows, as
        // soon as the log can take it (the import has happened by then).
        struct Starting: Encodable {
            var lines: Int
            var sha256: String
        }
        try audit.append(
            at: at, kind: .consentChange, actor: actor, subject: source,
            summary: "importing \(file.rows.count + file.rejected.count) lines from \(source)",
            detail: Starting(lines: file.rows.count + file.rejected.count, sha256: SHA256.hash(data: Data(text.utf8)).hexEncoded))
        let summary: ConsentImportSummary
        do {
            summary = try consent.importCustomers(file, pseudonym: pseudonymizer.pseudonym, at: at, source: source)
        } catch {
            audit.appendOrDefer(
                at: at, kind: .consentChange, actor: actor, subject: source,
                summary: "import from \(source) failed, nothing imported: \(StorageErrorText.of(error))", detail: "{}")
            throw error
        }
        audit.appendOrDefer(
            at: at, kind: .consentChange, actor: actor, subject: source,
            summary:
                "imported \(summary.subscribers) subscribers from \(source): \(summary.events) consent events, \(summary.contacts) contacts, \(summary.rejected.count) lines refused",
            detail: summary)
        for r in summary.rejected.prefix(20) {
            logger.warning("customer export line refused", metadata: ["source": "\(source)", "line": "\(r.line)", "reason": "\(r.reason)"])
        }
        consentChanged()
        return summary
    }

    /// Removes audit segments past retention (recording the removal in the chain).
    @discardableResult
    public func sweep(now: Int64? = nil) -> [String] {
        let now = now ?? clock.milliseconds
        do {
            let removed = try audit.prune(before: now - Int64(auditRetentionDays) * 86_400_000, now: now)
            if !removed.isEmpty {
                logger.info("audit segments past retention removed", metadata: ["segments": "\(removed.joined(separator: ","))"])
            }
            return removed
        } catch {
            logger.error("audit retention sweep failed", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Every 5 s writes the audit entries waiting for a disk that refused them; hourly, the retention sweeps.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var nextSweep = ContinuousClock.now
            while !Task.isCancelled {
                self.audit.flushDeferred()
                if ContinuousClock.now >= nextSweep {
                    nextSweep = ContinuousClock.now + .seconds(3600)
                    self.sweep()
                    for sweeper in self.sweepers.withLockedValue({ $0 }) { await sweeper() }
                }
                try? await Task.sleep(for: .seconds(5))
            }
        }
        audit.flushDeferred()
    }
}

/// A lawful-action request was refused (bad input); the message says why.
public struct LawfulRequestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Identity reveals recorded in the hash-chained audit log.
struct AuditLogRevealAudit: IdentityRevealAudit {
    let audit: any AuditTrail

    func record(_ reveal: IdentityReveal) throws {
        let question = "\(reveal.address)\(reveal.port.map { ":\($0)" } ?? "") at \(reveal.time)"
        try audit.append(
            at: reveal.at, kind: .identityReveal, actor: "analyst:\(reveal.analyst)", subject: reveal.pseudonyms.joined(separator: ","),
            summary: "revealed who held \(question): \(reveal.outcome) — \(reveal.reason)", detail: reveal)
    }
}
