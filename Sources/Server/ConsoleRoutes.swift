import Accounts
import Console
import FlowCodec
import Foundation
import HTTPTypes
import Hummingbird
import Lawful
import Logging
import MamoriCore
import NIOCore
import Storage

/// The analysts' console: server-rendered pages under `/console`, the sign-in page at `/login`,
/// and the stylesheet and script under `/static`.
///
/// Every page and form goes through ``Routes`` with its ``Access`` rule, like the JSON API; a
/// refusal is a page (the sign-in form with 401, a message with 403) instead of JSON. Forms post
/// `application/x-www-form-urlencoded` with the session's CSRF token in a `csrf` field, checked
/// here once the body is read. What a form changes goes through the same services as the API
/// (verdicts, case closing, the audited identity reveal), recording the signed-in operator.
struct ConsoleRoutes: Sendable {
    let renderer: ConsoleRenderer
    let detection: DetectionService
    let cases: CaseService
    let lawful: LawfulService
    let attribution: AttributionService
    let revealAudit: (any IdentityRevealAudit)?
    let accounts: AccountService
    let history: ConsoleHistory
    /// The DNS sinkhole, when configured (its page says it is off otherwise).
    var sinkhole: SinkholeService? = nil
    /// BGP mitigation, when configured (its page says it is off otherwise).
    var mitigation: MitigationService? = nil
    /// Indicators from sharing peers and imported files.
    var sharing: SharingService? = nil
    /// Reports from outside.
    var reports: ReportService? = nil
    var fraud: FraudService? = nil
    let health: @Sendable () -> String
    let settings: String
    let clock: any WallClock
    let logger: Logger

    /// Largest form body (a reason or a note is at most 500 characters).
    static let formLimit = 16 * 1024

    func register(on routes: Routes) {
        let page: Routes.Refuser = { request, refusal in self.refusalPage(request, refusal) }
        routes.get("/", .open) { _, _ in Response(status: .seeOther, headers: [.location: "/console"]) }
        routes.get("/static/:file", .open) { _, context in self.staticFile(context.parameters.get("file") ?? "") }
        routes.get("/login", .open) { request, _ in self.loginPage(request) }
        routes.post("/login", .open) { request, context in try await self.login(request, context) }
        routes.add(.post, "/logout", .signedIn, csrf: .formField, refuser: page) { request, _ in try await self.logout(request) }
        routes.add(.post, "/console/language", .signedIn, csrf: .formField, refuser: page) { request, _ in
            try await self.setLanguage(request)
        }
        routes.add(.get, "/console", .permission(.readFindings), refuser: page) { request, _ in try await self.overview(request) }
        routes.add(.get, "/console/findings", .permission(.readFindings), refuser: page) { request, _ in try await self.findings(request) }
        routes.add(.get, "/console/findings/:id", .permission(.readFindings), refuser: page) { request, context in
            try await self.finding(request, id: context.parameters.get("id") ?? "", flash: nil)
        }
        routes.add(.post, "/console/findings/:id/verdict", .permission(.recordVerdict), csrf: .formField, refuser: page) {
            request, context in
            try await self.verdict(request, id: context.parameters.get("id") ?? "")
        }
        routes.add(.get, "/console/cases", .permission(.readCases), refuser: page) { request, _ in try self.caseList(request) }
        routes.add(.get, "/console/cases/:id", .permission(.readCases), refuser: page) { request, context in
            try self.casePage(request, id: context.parameters.get("id") ?? "", revealed: nil, flash: nil)
        }
        routes.add(.post, "/console/cases/:id/reveal", .permission(.revealIdentity), csrf: .formField, refuser: page) {
            request, context in
            try await self.reveal(request, id: context.parameters.get("id") ?? "")
        }
        routes.add(.post, "/console/cases/:id/close", .permission(.actOnCase), csrf: .formField, refuser: page) { request, context in
            try await self.close(request, id: context.parameters.get("id") ?? "")
        }
        routes.add(.get, "/console/subscribers", .permission(.readCases), refuser: page) { request, _ in try self.subscribers(request) }
        routes.add(.get, "/console/subscribers/lookup", .permission(.readCases), refuser: page) { request, _ in
            let p = request.uri.queryParameters["pseudonym"].map(String.init) ?? ""
            return Response(status: .seeOther, headers: [.location: "/console/subscribers/\(Self.pathEscaped(p))"])
        }
        routes.add(.get, "/console/subscribers/:pseudonym", .permission(.readCases), refuser: page) { request, context in
            try self.subscriber(request, pseudonym: context.parameters.get("pseudonym") ?? "")
        }
        routes.add(.get, "/console/audit", .permission(.readAudit), refuser: page) { request, _ in try self.audit(request) }
        routes.add(.get, "/console/sinkhole", .permission(.readFindings), refuser: page) { request, _ in
            self.sinkholePage(request, flash: nil)
        }
        routes.add(.post, "/console/sinkhole", .permission(.changeSinkhole), csrf: .formField, refuser: page) { request, _ in
            try await self.addSinkholeEntry(request)
        }
        routes.add(.post, "/console/sinkhole/remove", .permission(.changeSinkhole), csrf: .formField, refuser: page) { request, _ in
            try await self.removeSinkholeEntry(request)
        }
        routes.add(.get, "/console/sharing", .permission(.readFindings), refuser: page) { request, _ in
            self.sharingPage(request, flash: nil)
        }
        routes.add(.post, "/console/sharing/pull", .permission(.manageSharing), csrf: .formField, refuser: page) { request, _ in
            try await self.pullSharingPeer(request)
        }
        routes.add(.get, "/console/reports", .permission(.readCases), refuser: page) { request, _ in await self.reportsPage(request) }
        routes.add(.get, "/console/bgp", .permission(.readFindings), refuser: page) { request, _ in self.bgpPage(request, flash: nil) }
        for change in ["approve", "reject", "withdraw", "kill", "release"] {
            routes.add(.post, "/console/bgp/\(change)", .permission(.controlMitigation), csrf: .formField, refuser: page) { request, _ in
                try await self.bgpChange(request, change)
            }
        }
        routes.add(.get, "/console/fraud", .permission(.readFindings), refuser: page) { request, _ in self.fraudPage(request, flash: nil) }
        for change in ["approve", "lift"] {
            routes.add(.post, "/console/fraud/\(change)", .permission(.controlMitigation), csrf: .formField, refuser: page) { request, _ in
                try await self.fraudChange(request, change)
            }
        }
        routes.add(.get, "/console/accounts", .permission(.manageAccounts), refuser: page) { request, _ in
            try await self.accountsPage(request)
        }
        routes.add(.post, "/console/accounts", .permission(.manageAccounts), csrf: .formField, refuser: page) { request, _ in
            try await self.addAccount(request)
        }
        routes.add(.post, "/console/accounts/:name", .permission(.manageAccounts), csrf: .formField, refuser: page) {
            request, context in
            try await self.changeAccount(request, name: context.parameters.get("name") ?? "")
        }
        routes.add(.post, "/console/passwords", .permission(.manageAccounts), csrf: .formField, refuser: page) { request, _ in
            try await self.setPassword(request)
        }
        routes.add(.post, "/console/tokens", .permission(.manageTokens), csrf: .formField, refuser: page) { request, _ in
            try await self.createToken(request)
        }
        routes.add(.post, "/console/tokens/:id/revoke", .permission(.manageTokens), csrf: .formField, refuser: page) {
            request, context in
            try await self.revokeToken(request, id: context.parameters.get("id") ?? "")
        }
        routes.add(.get, "/console/settings", .permission(.viewConfiguration), refuser: page) { request, _ in
            self.html(.ok, self.page("settings", "settings", SettingsView(text: self.settings), request))
        }
    }

    // MARK: - Pages

    func overview(_ request: Request) async throws -> Response {
        let now = clock.milliseconds
        var q = FindingQuery()
        q.since = now - 86_400_000
        q.limit = 10_000
        let recent = try await detection.store.findings(matching: q)
        let all = try cases.cases.list(state: nil, limit: 10_000)
        let view = OverviewView(
            history: history.snapshot, findings: recent, cases: all, health: health(), now: now, language: viewer(request).language)
        return html(.ok, page("overview", "overview", view, request))
    }

    func findings(_ request: Request) async throws -> Response {
        let query = FindingListQuery(Self.parameters(request))
        var q = FindingQuery()
        q.kind = query.kind
        q.minimumScore = query.minimumScore
        q.limit = 10_000
        let found = try await detection.store.findings(matching: q)
        let view = FindingListView(findings: found, query: query, language: viewer(request).language)
        return html(.ok, page("findings", "findings", view, request))
    }

    func finding(_ request: Request, id: String, flash: String?) async throws -> Response {
        guard let f = try await detection.store.finding(id: id) else { return notFound(request) }
        var related: [Finding] = []
        for r in f.evidence.related.prefix(20) {
            if let other = try await detection.store.finding(id: r) { related.append(other) }
        }
        let view = FindingView(finding: f, related: related, viewer: viewer(request))
        var p = page("finding", "findings", view, request, flash: flash)
        p.title = "\(f.kind.rawValue) \(f.subject.description)"
        return html(.ok, p)
    }

    func verdict(_ request: Request, id: String) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        let choice = form["verdict"] ?? ""
        guard let kind = choice == "allowlist" ? .falsePositive : Verdict.Kind(rawValue: choice) else {
            return message(request, .badRequest, "\(text("badRequest", request)): verdict")
        }
        let analyst = RequestCredentials.current.operatorName
        let note = form["note"].map { String($0.prefix(500)) }.flatMap { $0.isEmpty ? nil : $0 }
        let v = Verdict(verdict: kind, analyst: analyst, note: note, at: clock.milliseconds)
        // As the API does: a C&C called a false positive stops being reported; "allowlist" does
        // the same for any finding about an endpoint.
        guard try await detection.record(v, forFinding: id, allowlist: choice == "allowlist") != nil else { return notFound(request) }
        return try await finding(request, id: id, flash: choice == "allowlist" ? "allowlisted" : "verdictSaved")
    }

    func caseList(_ request: Request) throws -> Response {
        let state = request.uri.queryParameters["state"].flatMap { CaseState(rawValue: String($0)) }
        let all = try cases.cases.list(state: nil, limit: 10_000)
        return html(.ok, page("cases", "cases", CaseListView(cases: all, state: state, language: viewer(request).language), request))
    }

    func casePage(_ request: Request, id: String, revealed: [String: String]?, flash: String?) throws -> Response {
        guard let c = try cases.cases.get(id) else { return notFound(request) }
        let events = try lawful.consent.history(of: c.subscriber)
        let view = CaseView(case: c, consent: events, viewer: viewer(request), revealEnabled: revealAudit != nil, revealed: revealed)
        var p = page("case", "cases", view, request, flash: flash)
        p.title = c.reference
        return html(.ok, p)
    }

    /// The identity behind a case, shown in this one answer and never stored: the reveal is
    /// recorded in the audit log first (with the operator and the reason), or nothing is shown.
    func reveal(_ request: Request, id: String) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let revealAudit else { return message(request, .forbidden, text("revealDisabled", request)) }
        guard let c = try cases.cases.get(id) else { return notFound(request) }
        let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard reason.count >= 10, reason.count <= 500 else {
            return message(request, .badRequest, "\(text("badRequest", request)): \(text("revealReason", request))")
        }
        guard let device = Self.deviceAddress(c.device) else {
            return try casePage(request, id: id, revealed: [:], flash: nil)
        }
        do {
            let (_, identifiers) = try attribution.reveal(
                device.address, port: device.port, at: c.evidence.to, analyst: RequestCredentials.current.operatorName, reason: reason,
                audit: revealAudit)
            var response = try casePage(request, id: id, revealed: identifiers, flash: nil)
            response.headers[.cacheControl] = "no-store"
            return response
        } catch {
            logger.error("identity reveal not recorded in the audit log; nothing shown", metadata: ["case": "\(c.reference)"])
            return message(request, .internalServerError, "the reveal could not be recorded in the audit, so nothing is revealed")
        }
    }

    func close(_ request: Request, id: String) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let state = form["state"].flatMap(CaseState.init(rawValue:)), [.closed, .falsePositive, .remediated].contains(state),
            reason.count >= 5, reason.count <= 500
        else {
            return message(request, .badRequest, "\(text("badRequest", request)): \(text("closeReason", request))")
        }
        guard try await cases.close(id, as: state, analyst: RequestCredentials.current.operatorName, reason: reason) != nil else {
            return notFound(request)
        }
        return Response(status: .seeOther, headers: [.location: "/console/cases/\(Self.pathEscaped(id))"])
    }

    func subscribers(_ request: Request) throws -> Response {
        let all = try cases.cases.list(state: nil, limit: 10_000)
        return html(.ok, page("subscribers", "subscribers", SubscriberListView(cases: all), request))
    }

    func subscriber(_ request: Request, pseudonym: String) throws -> Response {
        guard !pseudonym.isEmpty, pseudonym.utf8.count <= 128 else { return notFound(request) }
        let events = try lawful.consent.history(of: pseudonym)
        let theirs = try cases.cases.list(state: nil, limit: 10_000).filter { $0.subscriber == pseudonym }
        let contact = try lawful.consent.contact(of: pseudonym)
        let view = SubscriberView(pseudonym: pseudonym, events: events, cases: theirs, hasContact: contact != nil)
        var p = page("subscriber", "subscribers", view, request)
        p.title = pseudonym
        return html(.ok, p)
    }

    func audit(_ request: Request) throws -> Response {
        let q = Self.parameters(request)
        let kind = q["kind"].flatMap(AuditKind.init(rawValue:))
        let actor = q["actor"].map { String($0.prefix(64)) }.flatMap { $0.isEmpty ? nil : $0 }
        let entries = try lawful.audit.recent(limit: 500) { r in
            (kind == nil || r.kind == kind) && (actor == nil || r.actor.localizedCaseInsensitiveContains(actor!))
        }
        var verification: (entries: Int, segments: Int, problems: [String])?
        if q["verify"] == "1", let log = lawful.audit as? AuditLog {
            let v = try log.verify()
            verification = (v.entries, v.segments, v.problems.map(\.description))
        }
        return html(.ok, page("audit", "audit", AuditView(entries: entries, kind: kind, actor: actor, verification: verification), request))
    }

    /// The flashes a change's redirect may ask the accounts page for (`?done=`), and no other text.
    static let accountFlashes: Set<String> = ["accountAdded", "accountChanged", "passwordSet", "tokenRevoked"]

    func accountsPage(_ request: Request, issued: (token: MachineToken, secret: String)? = nil) async throws -> Response {
        let view = AccountsView(
            accounts: try await accounts.store.accounts(), tokens: try await accounts.store.tokens(), now: clock.milliseconds,
            language: viewer(request).language, issued: issued)
        let done = request.uri.queryParameters["done"].map(String.init).flatMap { Self.accountFlashes.contains($0) ? $0 : nil }
        return html(.ok, page("accounts", "accounts", view, request, flash: done))
    }

    // MARK: - Accounts and tokens (admin)

    // What the forms change goes through ``AccountAdministration``, as the JSON API's changes do:
    // the same workflow refuses (role, last admin, password policy, scope) and audits first.

    var administration: AccountAdministration { AccountAdministration(accounts: accounts) }

    func addAccount(_ request: Request) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let name = form["name"], let role = form["role"].flatMap(Role.init(rawValue:)), let password = form["password"],
            let language = OperatorAccount.Language(rawValue: form["language"] ?? "ja")
        else { return message(request, .badRequest, "\(text("badRequest", request)): name, role, password, language") }
        return answer(request, try await administration.addUser(name: name, role: role, password: password, language: language)) { _ in
            Self.backToAccounts("accountAdded")
        }
    }

    func changeAccount(_ request: Request, name: String) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        let change: AccountAdministration.Change
        switch form["change"] ?? "" {
        case "role":
            guard let role = form["role"].flatMap(Role.init(rawValue:)) else {
                return message(request, .badRequest, "\(text("badRequest", request)): role")
            }
            change = .role(role)
        case "disable": change = .disable
        case "enable": change = .enable
        case "unlock": change = .unlock
        default: return message(request, .badRequest, "\(text("badRequest", request)): change")
        }
        return answer(request, try await administration.change(change, name: name)) { _ in Self.backToAccounts("accountChanged") }
    }

    func setPassword(_ request: Request) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let name = form["name"], let password = form["password"] else {
            return message(request, .badRequest, "\(text("badRequest", request)): name, password")
        }
        return answer(request, try await administration.change(.password(password), name: name)) { _ in
            Self.backToAccounts("passwordSet")
        }
    }

    /// A new token: the page again, with the secret in this one answer (never stored, never cached).
    func createToken(_ request: Request) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        let permissions = Set(Permission.allCases.filter { form["scope.\($0.rawValue)"] != nil })
        guard let name = form["name"], let days = form["days"].flatMap({ Int($0) }), (1...366).contains(days) else {
            return message(request, .badRequest, "\(text("badRequest", request)): name, days (1–366)")
        }
        guard !permissions.isEmpty else {
            return message(request, .badRequest, "\(text("badRequest", request)): \(text("noScope", request))")
        }
        switch try await administration.createToken(name: name, permissions: permissions, days: days) {
        case .success(let made):
            var response = try await accountsPage(request, issued: (made.token.token, made.token.presented.revealed))
            response.headers[.cacheControl] = "no-store"
            return response
        case .failure(let refusal):
            return refused(request, refusal)
        }
    }

    func revokeToken(_ request: Request, id: String) async throws -> Response {
        switch try await self.form(request) {
        case .success: break
        case .failure(let refused): return refused.response
        }
        return answer(request, try await administration.revokeToken(id: id)) { _ in Self.backToAccounts("tokenRevoked") }
    }

    static func backToAccounts(_ flash: String) -> Response {
        Response(status: .seeOther, headers: [.location: "/console/accounts?done=\(flash)"])
    }

    /// What a change led to: `made` when it was made, else a page saying why not (the workflow's
    /// own sentence, with the status the API would answer).
    func answer<V>(_ request: Request, _ result: Result<V, AccountAdministration.Refusal>, made: (V) -> Response) -> Response {
        switch result {
        case .success(let v): made(v)
        case .failure(let refusal): refused(request, refusal)
        }
    }

    func refused(_ request: Request, _ refusal: AccountAdministration.Refusal) -> Response {
        let (status, reason) = refusal.answer
        return message(request, status, status == .notFound ? text("notFound", request) : reason, back: "/console/accounts")
    }

    // MARK: - Signing in and out

    func loginPage(_ request: Request) -> Response {
        if RequestCredentials.current.session != nil {
            return Response(status: .seeOther, headers: [.location: "/console"])
        }
        let next = request.uri.queryParameters["next"].map(String.init) ?? "/console"
        return html(.ok, loginView(request, error: nil, next: next))
    }

    func login(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        let bytes = try await request.body.collect(upTo: Self.formLimit)
        let form = Self.decodeForm(bytes)
        let next = LoginView.safeNext(form["next"] ?? "/console")
        guard let name = form["name"], let password = form["password"], !name.isEmpty, !password.isEmpty else {
            return html(.badRequest, loginView(request, error: "wrongLogin", next: next))
        }
        let previous = request.cookies[AccountService.cookieName]?.value
        switch try await accounts.login(name: name, password: password, client: context.clientAddress, previousSessionID: previous) {
        case .success(let s):
            var response = Response(status: .seeOther, headers: [.location: next])
            response.setCookie(accounts.cookie(for: s))
            return response
        case .failure(.throttled):
            var r = html(.tooManyRequests, loginView(request, error: "tooMany", next: next))
            r.headers[.retryAfter] = "60"
            return r
        case .failure(.peerAccount):
            return html(.forbidden, loginView(request, error: "peerLogin", next: next))
        case .failure:
            return html(.unauthorized, loginView(request, error: "wrongLogin", next: next))
        }
    }

    func logout(_ request: Request) async throws -> Response {
        switch try await form(request) {
        case .success: break
        case .failure(let refused): return refused.response
        }
        if let session = RequestCredentials.current.session { try await accounts.logout(session) }
        var response = Response(status: .seeOther, headers: [.location: "/login"])
        response.setCookie(accounts.expiredCookie)
        return response
    }

    func setLanguage(_ request: Request) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let language = form["language"].flatMap(OperatorAccount.Language.init(rawValue:)),
            let principal = RequestCredentials.current.principal, var account = try await accounts.store.account(id: principal.accountID)
        else {
            return message(request, .badRequest, text("badRequest", request))
        }
        account.language = language
        try await accounts.store.save(account)
        let next = LoginView.safeNext(form["next"] ?? "/console")
        return Response(status: .seeOther, headers: [.location: next])
    }

    // MARK: - Parts

    /// The form of a POST, once its CSRF token is checked (a session must send its own; a
    /// machine token has no ambient authority, so it needs none). A refusal is a page.
    func form(_ request: Request) async throws -> Result<[String: String], FormRefusal> {
        let bytes = try await request.body.collect(upTo: Self.formLimit)
        let form = Self.decodeForm(bytes)
        if let session = RequestCredentials.current.session {
            guard let presented = form["csrf"], session.acceptsCSRF(presented) else {
                return .failure(FormRefusal(response: message(request, .forbidden, text("csrf", request))))
            }
        }
        return .success(form)
    }

    struct FormRefusal: Error { let response: Response }

    /// `application/x-www-form-urlencoded` as a dictionary (the last of repeated names wins;
    /// malformed pairs are skipped). At most 64 fields.
    static func decodeForm(_ bytes: ByteBuffer) -> [String: String] {
        var result: [String: String] = [:]
        let text = String(buffer: bytes)
        for pair in text.split(separator: "&", omittingEmptySubsequences: true).prefix(64) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.formDecoded(parts[0]), !name.isEmpty else { continue }
            result[name] = parts.count > 1 ? Self.formDecoded(parts[1]) ?? "" : ""
        }
        return result
    }

    static func formDecoded(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }

    static func parameters(_ request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { result[String(k)] = String(v) }
        return result
    }

    static func pathEscaped(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A case's device as an address to ask the attribution index about: `198.51.100.7`, or a
    /// CGNAT `203.0.113.5:1024-2047` (its first port).
    static func deviceAddress(_ device: String) -> (address: IPAddress, port: UInt16?)? {
        if let a = IPAddress(device) { return (a, nil) }
        guard let colon = device.lastIndex(of: ":"), let a = IPAddress(String(device[..<colon])) else { return nil }
        let ports = device[device.index(after: colon)...]
        return (a, ports.split(separator: "-").first.flatMap { UInt16($0) })
    }

    func viewer(_ request: Request) -> ConsoleViewer {
        let credentials = RequestCredentials.current
        guard let p = credentials.principal else {
            return ConsoleViewer(language: Self.preferredLanguage(request))
        }
        return ConsoleViewer(
            language: ConsoleLanguage(rawValue: p.language.rawValue) ?? .ja, operatorName: p.name, role: p.role,
            csrf: credentials.session?.csrfToken)
    }

    /// Before sign-in: the browser's first choice of ja or en (`Accept-Language`), else Japanese.
    static func preferredLanguage(_ request: Request) -> ConsoleLanguage {
        let header = request.headers[.acceptLanguage]?.lowercased() ?? ""
        for item in header.split(separator: ",").prefix(10) {
            let tag = item.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? ""
            if tag.hasPrefix("ja") { return .ja }
            if tag.hasPrefix("en") { return .en }
        }
        return .ja
    }

    func text(_ key: String, _ request: Request) -> String { viewer(request).language.texts[key] ?? key }

    func page(_ template: String, _ section: String, _ content: Any, _ request: Request, flash: String? = nil) -> ConsolePage {
        ConsolePage(
            template: template, title: section, section: section, viewer: viewer(request), content: content, path: request.uri.path,
            flash: flash)
    }

    func loginView(_ request: Request, error: String?, next: String) -> ConsolePage {
        let v = viewer(request)
        let signedOut = ConsoleViewer(language: v.language)
        return ConsolePage(
            template: "login", title: "signInTitle", section: "", viewer: signedOut,
            content: LoginView(error: error.map { v.language.texts[$0] ?? $0 }, next: next), path: "/login")
    }

    func message(_ request: Request, _ status: HTTPResponse.Status, _ text: String, back: String = "/console") -> Response {
        let p = ConsolePage(
            template: "message", title: status == .forbidden ? "forbidden" : status == .notFound ? "notFound" : "badRequest",
            section: "", viewer: viewer(request), content: MessageView(message: text, back: back), path: request.uri.path)
        return html(status, p)
    }

    func notFound(_ request: Request) -> Response { message(request, .notFound, text("notFound", request)) }

    /// A refusal from ``Routes`` as a page: 401 is the sign-in form (coming back here after),
    /// 403 says the role does not allow it (or the form's CSRF token was wrong).
    func refusalPage(_ request: Request, _ refusal: Routes.Refusal) -> Response {
        if refusal.status == .unauthorized {
            let next = Routes.isSafe(request.method) ? request.uri.path + (request.uri.query.map { "?" + $0 } ?? "") : "/console"
            var r = html(.unauthorized, loginView(request, error: "needSignIn", next: next))
            r.headers[.wwwAuthenticate] = "Bearer realm=\"mamori\""
            return r
        }
        return message(request, refusal.status, text(refusal.csrf ? "csrf" : "forbidden", request))
    }

    func html(_ status: HTTPResponse.Status, _ page: ConsolePage) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: renderer.render(page))))
    }

    func staticFile(_ name: String) -> Response {
        guard let file = renderer.staticFile(name) else {
            return Response(
                status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "not found\n")))
        }
        return Response(
            status: .ok, headers: [.contentType: file.contentType, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: ByteBuffer(bytes: file.data)))
    }
}
