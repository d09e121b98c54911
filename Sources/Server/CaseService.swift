import CaseWorkflow
import Crypto
import Detection
import Foundation
import Lawful
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import Notify
import ServiceLifecycle
import Storage

/// Sends a notice e-mail; the SMTP client in production, anything in tests of the workflow.
public protocol NoticeMailer: Sendable {
    /// Hands the message over; returns the server's answer (queue id).
    func send(_ message: MailMessage) async throws -> String
}

/// The carrier's relay, through ``SMTPClient``.
public struct SMTPNoticeMailer: NoticeMailer {
    let client: SMTPClient

    public init(settings: SMTPSettings, logger: Logger) throws {
        var credentials: SMTPClient.Credentials?
        if let user = settings.username, let file = settings.passwordFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw LawfulRequestError("lawful.smtp.password_file: cannot read \(file)")
            }
            if let mode = PrivateFiles.mode(of: file) {
                do { try KeyFile.checkPrivate(path: file, mode: mode, what: "SMTP password file") } catch {
                    throw LawfulRequestError("lawful.smtp.password_file: \(error)")
                }
            }
            credentials = .init(username: user, password: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines))
        }
        let mode: SMTPClient.TLSMode =
            switch settings.tls {
            case "starttls_required": .startTLSRequired
            case "none": .none
            default: .startTLSIfOffered
            }
        if credentials != nil && mode != .startTLSRequired {
            throw LawfulRequestError("lawful.smtp: with username and password_file, tls must be starttls_required")
        }
        client = SMTPClient(
            configuration: .init(
                host: settings.host, port: settings.port, tlsMode: mode, trustedCACertificatePath: settings.caFile,
                credentials: credentials), logger: logger)
    }

    public func send(_ message: MailMessage) async throws -> String {
        let delivery = try await client.send(message)
        return "\(delivery.finalReply.code) \(delivery.finalReply.text)\(delivery.usedTLS ? " (TLS)" : "")"
    }
}

/// The case workflow: an attributed infected-device finding opens or updates the subscriber's
/// case; the legal-basis engine decides whether a warning is permitted (with the consent registry's
/// state at that moment); a permitted warning is sent by e-mail in the subscriber's language with
/// a link to the notice page; everything is recorded on the case and in the audit log.
///
/// Findings arrive through ``submit(_:)`` into a bounded inbox that ``run()`` works off, so the
/// detection loop never waits for a slow mail relay (SMTP allows minutes per reply).
public actor CaseService: Service {
    public let cases: any CaseStore
    private nonisolated let inbox: AsyncStream<[Finding]>
    private nonisolated let inboxContinuation: AsyncStream<[Finding]>.Continuation
    private nonisolated let droppedBatches: Counter
    /// Batches the inbox held at most before the oldest was dropped.
    public static let inboxCapacity = 256
    private let lawful: LawfulService
    private let workflow: CaseWorkflow
    private let mailer: (any NoticeMailer)?
    private let from: String
    private let baseURL: String
    private let retentionDays: Int
    private let logger: Logger
    private let clock: any WallClock
    /// The CSRF tokens of the notice page's forms.
    public nonisolated let formTokens: NoticeFormTokens
    /// Cases whose last save the store refused (disk full), by id: used in place of the stored
    /// version and saved again before each batch, so that a notice recorded as sent in memory is
    /// not sent again while the disk is full. Lost if the process dies before the store takes them.
    private var unsaved: [String: LawfulCase] = [:]

    /// Cases changed in memory that the store has not taken yet.
    public var unsavedCount: Int { unsaved.count }

    public init(
        lawful: LawfulService, cases: any CaseStore, mailer: (any NoticeMailer)?, from: String, baseURL: String,
        retentionDays: Int, logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory,
        clock: any WallClock = SystemClock(), formTokens: NoticeFormTokens = NoticeFormTokens()
    ) {
        self.formTokens = formTokens
        (inbox, inboxContinuation) = AsyncStream.makeStream(of: [Finding].self, bufferingPolicy: .bufferingNewest(Self.inboxCapacity))
        droppedBatches = Counter(label: "mamori_case_inbox_dropped_total", factory: metricsFactory)
        self.lawful = lawful
        workflow = CaseWorkflow(policy: lawful.policy)
        self.cases = cases
        self.mailer = mailer
        self.from = from
        self.baseURL = baseURL
        self.retentionDays = retentionDays
        self.logger = logger
        self.clock = clock
    }

    /// Queues the attributed infected-device findings of a batch for the case workflow; returns at
    /// once. When the inbox is full the oldest batch is dropped and counted
    /// (`mamori_case_inbox_dropped_total`): the detectors report a finding again at every
    /// evaluation while it lasts, so a dropped batch delays its cases, it does not lose them.
    public nonisolated func submit(_ findings: [Finding]) {
        let relevant = findings.filter { CaseWorkflow.subscriber(of: $0) != nil }
        guard !relevant.isEmpty else { return }
        if case .dropped = inboxContinuation.yield(relevant) {
            droppedBatches.increment()
            let first = droppedLogged.withLockedValue { logged in
                defer { logged = true }
                return !logged
            }
            if first {
                logger.warning(
                    "the case workflow falls behind the detectors (is the mail relay slow?); the oldest findings batch was dropped and will be taken up when it is reported again",
                    metadata: ["inbox": "\(Self.inboxCapacity)"])
            }
        }
    }
    private nonisolated let droppedLogged = NIOLockedValueBox(false)

    /// Works off the inbox until graceful shutdown, then finishes what is queued.
    public func run() async throws {
        await withGracefulShutdownHandler {
            for await batch in inbox { await handle(batch) }
        } onGracefulShutdown: { [inboxContinuation] in
            inboxContinuation.finish()
        }
    }

    /// Takes the infected-device findings attributed to one subscriber into their cases.
    public func handle(_ findings: [Finding]) async {
        saveUnsaved()
        for f in findings {
            guard let subscriber = CaseWorkflow.subscriber(of: f) else { continue }
            do {
                try await handle(f, subscriber: subscriber)
            } catch {
                logger.error("case workflow failed", metadata: ["finding": "\(f.id)", "error": "\(error)"])
            }
        }
    }

    private func handle(_ f: Finding, subscriber: String) async throws {
        let now = clock.milliseconds
        let latest = try latest(subscriber: subscriber, kind: .infection)
        let consent = try lawful.consentState(of: subscriber, at: now)
        let step = workflow.take(f, subscriber: subscriber, latest: latest, consent: consent, newID: Self.newID(), at: now)
        try await perform(step.actions)
    }

    /// What ``take(reports:)`` did.
    public struct ReportCaseOutcome: Sendable, Hashable {
        public var opened = 0
        public var merged = 0
        public var failed = 0
    }

    /// Takes reports from outside, each attributed to one subscriber, into their cases: one case
    /// per subscriber and problem (vulnerable device or abuse report), merged across reports and
    /// days, decided, and noticed as infected-device cases are.
    public func take(reports: [(sighting: ReportSighting, subscriber: String)]) async -> ReportCaseOutcome {
        saveUnsaved()
        var outcome = ReportCaseOutcome()
        for (sighting, subscriber) in reports {
            do {
                let now = clock.milliseconds
                let latest = try latestReportCase(subscriber: subscriber, problem: sighting.problem)
                let consent = try lawful.consentState(of: subscriber, at: now)
                let step = workflow.take(sighting, subscriber: subscriber, latest: latest, consent: consent, newID: Self.newID(), at: now)
                if let latest, latest.id == step.case?.id { outcome.merged += 1 } else { outcome.opened += 1 }
                try await perform(step.actions)
            } catch {
                outcome.failed += 1
                logger.error("case workflow failed for a report", metadata: ["report": "\(sighting.id)", "error": "\(error)"])
            }
        }
        return outcome
    }

    /// A daily report of `reportType` for `day` arrived, naming the subscribers in `present`:
    /// every open report case of that type whose subscriber is not among them is one day nearer
    /// remediated (after `remediateAfter` such days). Returns the cases remediated.
    public func reportAbsent(reportType: String, day: String, present: Set<String>, remediateAfter: Int) async -> Int {
        saveUnsaved()
        var remediated = 0
        let open: [CaseState] = [.attributed, .basisDecided, .notified, .acknowledged, .held]
        for state in open {
            let listed = (try? cases.list(state: state, limit: 100_000)) ?? []
            for stored in listed where stored.kind != .infection && !present.contains(stored.subscriber) {
                let c = unsaved[stored.id] ?? stored
                guard
                    let step = workflow.reportAbsent(
                        c, day: day, reportType: reportType, remediateAfter: remediateAfter, at: clock.milliseconds)
                else { continue }
                do {
                    try await perform(step.actions)
                    if step.case?.state == .remediated { remediated += 1 }
                } catch {
                    logger.error("case workflow failed on an absent report", metadata: ["case": "\(c.reference)", "error": "\(error)"])
                }
            }
        }
        return remediated
    }

    /// The subscriber's newest report case about `problem` (an unsaved one first).
    private func latestReportCase(subscriber: String, problem: ReportedProblem) throws -> LawfulCase? {
        func same(_ c: LawfulCase) -> Bool {
            c.subscriber == subscriber && c.kind == problem.kind && c.report?.problem.problem == problem.problem
        }
        if let pending = unsaved.values.filter(same).max(by: { $0.updated < $1.updated }) { return pending }
        return try cases.cases(subscriber: subscriber, kind: problem.kind, limit: 50).first(where: same)
    }

    /// Carries out a step's actions in order. An audit entry that cannot be written stops the
    /// rest (thrown), unless it may wait for the log; a save the store refuses keeps the case in
    /// memory until it can be saved (``unsavedCount``).
    private func perform(_ actions: [CaseAction]) async throws {
        for action in actions {
            switch action {
            case .audit(let entry):
                try write(entry)
            case .save(let c):
                save(c)
            case .sendNotice(let c, let now):
                try await notify(c, at: now)
            }
        }
    }

    /// Writes an audit entry the workflow asked for; a deferrable one waits for the log instead of throwing.
    private func write(_ entry: AuditRequest) throws {
        func append(_ detail: some Encodable) throws {
            if entry.deferrable {
                _ = lawful.audit.appendOrDefer(
                    at: entry.at, kind: entry.kind, actor: entry.actor, subject: entry.subject, summary: entry.summary, detail: detail)
            } else {
                _ = try lawful.audit.append(
                    at: entry.at, kind: entry.kind, actor: entry.actor, subject: entry.subject, summary: entry.summary, detail: detail)
            }
        }
        switch entry.detail {
        case .none: try append(Empty())
        case .transition(let t): try append(t)
        case .decision(let d): try append(d)
        case .notice(let n): try append(n)
        }
    }

    /// What an audit entry without detail holds: `{}`.
    private struct Empty: Encodable {}

    /// Saves `c`, or keeps it in memory until the store takes it.
    private func save(_ c: LawfulCase) {
        do {
            try cases.save(c)
            unsaved[c.id] = nil
        } catch {
            unsaved[c.id] = c
        }
    }

    /// Saves the cases the store refused before, oldest change first; stops at the first refusal.
    private func saveUnsaved() {
        for c in unsaved.values.sorted(by: { $0.updated < $1.updated }) {
            do {
                try cases.save(c)
                unsaved[c.id] = nil
            } catch {
                return
            }
        }
    }

    /// The newest case of `kind` for `subscriber`: an unsaved one first (it is newer than any stored).
    private func latest(subscriber: String, kind: NoticeContent.Kind) throws -> LawfulCase? {
        if let pending = unsaved.values.filter({ $0.subscriber == subscriber && $0.kind == kind }).max(by: { $0.updated < $1.updated }) {
            return pending
        }
        return try cases.latest(subscriber: subscriber, kind: kind)
    }

    /// The case `id`, unsaved version first.
    private func get(_ id: String) throws -> LawfulCase? {
        if let pending = unsaved[id] { return pending }
        return try cases.get(id)
    }

    /// Sends the notice for `c` (or records why it cannot be e-mailed).
    private func notify(_ c: LawfulCase, at now: Int64) async throws {
        let policy = lawful.policy
        let contact = try lawful.consent.contact(of: c.subscriber)
        let language =
            contact?.language.flatMap { policy.notices.languages.contains($0) ? $0 : nil } ?? policy.notices.languages.first ?? "ja"
        let token = Self.token()
        let digest = Self.digest(token)
        let expires = now + Int64(policy.notices.linkValidDays) * 86_400_000
        let content = NoticeContent(
            language: language, kind: c.kind, caseReference: c.reference, observedFrom: c.evidence.from, observedTo: c.evidence.to,
            behaviours: c.behaviours, noticePageURL: "\(baseURL)/notice/\(token)", linkExpires: expires,
            support: policy.notices.support,
            optOutAvailable: true, reminder: c.deliveredNotices)
        var record = CaseNotice(
            at: now, channel: "email", language: language, tokenDigest: digest, expires: expires, outcome: "", delivered: false)
        // The case and the link's token are stored before the mail leaves, so the link works when it arrives.
        try cases.save(c)
        unsaved[c.id] = nil
        try cases.addToken(digest: digest, caseID: c.id, language: language, expires: expires)
        if let email = contact?.email, let mailer {
            let rendered = NoticeRenderer.email(content)
            let message = MailMessage(
                from: Self.mailAddress(from), to: [MailAddress(email)], subject: rendered.subject, textBody: rendered.text,
                htmlBody: rendered.html,
                extraHeaders: [("X-Mamori-Case", c.reference), ("Auto-Submitted", "auto-generated")])
            do {
                record.outcome = try await mailer.send(message)
                record.delivered = true
            } catch {
                record.outcome = "not sent: \(error)"
                logger.warning("notice not sent", metadata: ["case": "\(c.reference)", "error": "\(error)"])
            }
        } else {
            record.channel = "csv"
            record.outcome =
                contact?.email == nil
                ? "no e-mail address on file: in the call-centre export" : "no SMTP relay configured: in the call-centre export"
        }
        try await perform(workflow.noticeAttempted(c, notice: record, reminder: content.reminder).actions)
    }

    // MARK: The notice page

    /// What the notice page shows for `token`: status and HTML.
    public func page(token: String, language: String?) throws -> (status: Int, html: String) {
        guard let (c, tokenLanguage, expires) = try open(token) else {
            return (404, Self.plainPage("このリンクは無効です。 / This link is not valid."))
        }
        guard clock.milliseconds <= expires else {
            return (410, Self.plainPage("このリンクは有効期限が切れています。サポートへご連絡ください。 / This link has expired; please contact support."))
        }
        let state =
            c.state == .acknowledged
            ? "acknowledged"
            : (try lawful.consentState(of: c.subscriber, at: clock.milliseconds).optOuts[.warnInfection] != nil ? "opted_out" : "open")
        let lang = language.flatMap { ["ja", "en"].contains($0) ? $0 : nil } ?? tokenLanguage
        let content = NoticeContent(
            language: lang, kind: c.kind, caseReference: c.reference, observedFrom: c.evidence.from, observedTo: c.evidence.to,
            behaviours: c.behaviours, noticePageURL: "\(baseURL)/notice/\(token)", linkExpires: expires,
            support: lawful.policy.notices.support,
            optOutAvailable: true, reminder: max(0, c.deliveredNotices - 1))
        return (
            200,
            NoticeRenderer.page(
                content, acknowledgeAction: "/notice/\(token)/acknowledge", optOutAction: "/notice/\(token)/opt-out", state: state,
                formToken: formTokens.token(for: token))
        )
    }

    /// The page that refuses a notice form posted without its `csrf` field or with a wrong one, in
    /// the notice's language, with a link back to the page; nil when `token` opens no notice
    /// (there is nothing to protect, and the form's route answers 404 as for any unknown token).
    public func refusedFormPage(token: String) throws -> String? {
        guard let (_, language, _) = try open(token) else { return nil }
        let en = language.lowercased().hasPrefix("en")
        let text =
            en
            ? "This form could not be accepted: nothing was recorded. Please open the notice page again and use its buttons."
            : "このフォームは受け付けられませんでした（何も記録されていません）。お知らせのページを開き直して、ページのボタンからお手続きください。"
        let link = en ? "Open the notice page" : "お知らせのページを開く"
        return
            "<!DOCTYPE html><html lang=\"\(en ? "en" : "ja")\"><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\"><title>Mamori</title></head><body><p>\(text)</p><p><a href=\"/notice/\(token)\">\(link)</a></p></body></html>"
    }

    /// The subscriber acknowledged on the notice page.
    public func acknowledge(token: String) throws -> Bool {
        guard let (c, _, expires) = try open(token), clock.milliseconds <= expires else { return false }
        guard let step = workflow.acknowledge(c, at: clock.milliseconds) else { return c.state == .acknowledged }
        try performNow(step.actions)
        return true
    }

    /// Carries out an operator's or subscriber's step at once: a save the store refuses is an
    /// error for the caller (the change is not made), and so is an audit entry the log refuses.
    private func performNow(_ actions: [CaseAction]) throws {
        for action in actions {
            switch action {
            case .save(let c):
                try cases.save(c)
                unsaved[c.id] = nil
            case .audit(let entry):
                try write(entry)
            case .sendNotice:
                preconditionFailure("operator steps send no notice")
            }
        }
    }

    /// The subscriber opted out of warnings on the notice page.
    public func optOut(token: String) throws -> Bool {
        guard let (c, _, expires) = try open(token), clock.milliseconds <= expires else { return false }
        let now = clock.milliseconds
        try lawful.recordConsent(
            [
                ConsentEvent(
                    subscriber: c.subscriber, kind: .optedOut, action: .warnInfection, at: now,
                    method: "notice page (case \(c.reference))", recordedBy: "subscriber")
            ], actor: "subscriber", at: now)
        return true
    }

    private func open(_ token: String) throws -> (LawfulCase, String, Int64)? {
        guard token.count >= 32, token.count <= 64, token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            return nil
        }
        guard let t = try cases.token(digest: Self.digest(token)), let c = try get(t.caseID) else { return nil }
        return (c, t.language, t.expires)
    }

    // MARK: Analyst actions and retention

    /// An analyst closes a case or marks it a false positive.
    public func close(_ id: String, as state: CaseState, analyst: String, reason: String) throws -> LawfulCase? {
        guard let c = try get(id), let step = workflow.close(c, as: state, analyst: analyst, reason: reason, at: clock.milliseconds) else {
            return nil
        }
        try performNow(step.actions)
        return step.case
    }

    /// Deletes finished cases past retention.
    @discardableResult
    public func sweep() -> Int {
        let now = clock.milliseconds
        do {
            let removed = try cases.sweep(finishedBefore: now - Int64(retentionDays) * 86_400_000, now: now)
            if removed > 0 {
                try lawful.audit.append(
                    at: now, kind: .retention, actor: "mamori", subject: "cases",
                    summary: "deleted \(removed) finished case(s) past retention", detail: "{}")
            }
            return removed
        } catch {
            logger.error("case retention sweep failed", metadata: ["error": "\(error)"])
            return 0
        }
    }

    // MARK: Helpers

    /// `Name <address>` or a bare address.
    static func mailAddress(_ text: String) -> MailAddress {
        guard let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close else {
            return MailAddress(text.trimmingCharacters(in: .whitespaces))
        }
        let name = text[..<open].trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"")))
        return MailAddress(String(text[text.index(after: open)..<close]), name: name.isEmpty ? nil : name)
    }

    static func newID() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }.hexEncoded
    }

    /// 32 random bytes, base64url without padding: unguessable.
    static func token() -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).hexEncoded
    }

    static func plainPage(_ message: String) -> String {
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>Mamori</title></head><body><p>\(message)</p></body></html>"
    }
}
