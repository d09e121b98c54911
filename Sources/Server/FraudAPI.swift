import Accounts
import Foundation
import FraudDetection
import HTTPTypes
import Hummingbird
import MamoriCore
import Metrics
import NIOCore
import Telephony

/// IP-phone fraud over HTTP (`mamori fraud` speaks it).
///
/// - `GET /api/v1/fraud` (`read_findings`): the feeds, lines followed, open findings, rules in
///   force and waiting, the softswitch's last publication.
/// - `GET /api/v1/fraud/rules` (`read_findings`): rules in force, waiting and in dry run, and the
///   history (newest first) with the figures each stood on.
/// - `POST /api/v1/fraud/rules/{id}/approve`, `POST /api/v1/fraud/rules/{id}/lift` with
///   `{"reason"}` (`control_mitigation`): decide a waiting rule, lift one in force (audited).
/// - `GET /api/v1/fraud/findings?limit=N` (`reveal_identity`): hijacked lines, with their account.
/// - `GET /api/v1/fraud/report?account=A&since=T&until=T&format=csv|json` (`reveal_identity`):
///   the calls classed fraudulent, for the billing system; every download is audited.
/// - `POST /api/v1/fraud/cdrs?format=kamailio|asterisk|FEED` (`submit_reports`): a file of call
///   records (a feed's name reads it with that feed's format).
struct FraudAPI: Sendable, JSONAPI {
    let fraud: FraudService
    let invalidRequests: Counter
    /// Largest upload of call records taken whole.
    static let maximumUploadBytes = 256 << 20

    func register(on routes: Routes) {
        routes.get("/api/v1/fraud", .permission(.readFindings)) { _, _ in json(.ok, fraud.status) }
        routes.get("/api/v1/fraud/rules", .permission(.readFindings)) { _, _ in try rules() }
        routes.post("/api/v1/fraud/rules/:id/approve", .permission(.controlMitigation)) { _, context in
            decided(fraud.approve(context.parameters.get("id") ?? "", by: RequestCredentials.current.operatorName))
        }
        routes.post("/api/v1/fraud/rules/:id/lift", .permission(.controlMitigation)) { request, context in
            try await lift(context.parameters.get("id") ?? "", request)
        }
        routes.get("/api/v1/fraud/findings", .permission(.revealIdentity)) { request, _ in try findings(request) }
        routes.get("/api/v1/fraud/report", .permission(.revealIdentity)) { request, _ in try report(request) }
        routes.post("/api/v1/fraud/cdrs", .permission(.submitReports)) { request, _ in try await upload(request) }
    }

    /// The same routes on a server without `telephony:`: a clear 404.
    static func registerUnconfigured(on routes: Routes) {
        let answer: Routes.Handler<Response> = { _, _ in
            let body = Data(#"{"error":"IP-phone fraud detection is not configured on this server (no telephony: section)"}"#.utf8 + [10])
            return Response(
                status: .notFound, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        routes.get("/api/v1/fraud", .permission(.readFindings), use: answer)
        routes.get("/api/v1/fraud/rules", .permission(.readFindings), use: answer)
        routes.post("/api/v1/fraud/rules/:id/approve", .permission(.controlMitigation), use: answer)
        routes.post("/api/v1/fraud/rules/:id/lift", .permission(.controlMitigation), use: answer)
        routes.get("/api/v1/fraud/findings", .permission(.revealIdentity), use: answer)
        routes.get("/api/v1/fraud/report", .permission(.revealIdentity), use: answer)
        routes.post("/api/v1/fraud/cdrs", .permission(.submitReports), use: answer)
    }

    struct Rules: Encodable {
        var active: [BlockRule]
        var pending: [BlockRule]
        var dryRun: [BlockRule]
        var history: [BlockRule]
    }

    func rules() throws -> Response {
        let book = fraud.book
        func sorted(_ d: [String: BlockRule]) -> [BlockRule] { d.values.sorted { $0.proposedAt < $1.proposedAt } }
        return json(
            .ok,
            Rules(
                active: sorted(book.active), pending: sorted(book.pending), dryRun: sorted(book.dryRuns),
                history: try fraud.rules(limit: 500).filter { $0.state == .ended }))
    }

    struct Decision: Encodable {
        var change: String
        var rule: BlockRule
        var reason: String?
    }

    func decided(_ outcome: FraudService.OperatorOutcome) -> Response {
        switch outcome {
        case .notFound: return json(.notFound, ["error": "no rule waiting or in force has that id"])
        case .done(let change):
            switch change {
            case .refused(let r, let reason): return json(.conflict, Decision(change: "refused", rule: r, reason: reason))
            case .applied(let r): return json(.ok, Decision(change: "applied", rule: r))
            default: return json(.ok, Decision(change: "lifted", rule: change.rule))
            }
        }
    }

    struct LiftRequest: Decodable { var reason: String }

    func lift(_ id: String, _ request: Request) async throws -> Response {
        guard let body = try? await request.body.collect(upTo: 4096),
            let r = try? JSONDecoder().decode(LiftRequest.self, from: Data(body.readableBytesView)),
            !r.reason.trimmingCharacters(in: .whitespaces).isEmpty, r.reason.count <= 300, !r.reason.contains(where: \.isNewline)
        else { return bad(#"send {"reason": "why"}: one line, at most 300 characters"#) }
        return decided(fraud.lift(id, by: RequestCredentials.current.operatorName, reason: r.reason))
    }

    func limit(_ request: Request, default d: Int, maximum: Int) -> Int? {
        guard let text = request.uri.queryParameters["limit"] else { return d }
        guard let n = Int(text), (1...maximum).contains(n) else { return nil }
        return n
    }

    func findings(_ request: Request) throws -> Response {
        guard let n = limit(request, default: 100, maximum: 10_000) else { return bad("limit must be 1 to 10000") }
        return json(.ok, try fraud.findings(limit: n))
    }

    func time(_ request: Request, _ key: String) -> Int64?? {
        guard let text = request.uri.queryParameters[Substring(key)].map(String.init) else { return .some(nil) }
        guard let t = TimeText.parse(String(text)) else { return nil }
        return .some(t)
    }

    func report(_ request: Request) throws -> Response {
        guard let since = time(request, "since"), let until = time(request, "until") else {
            return bad("since and until must be times like 2026-12-01T00:00:00Z")
        }
        let account = request.uri.queryParameters["account"].map(String.init)
        if let account, account.isEmpty || account.utf8.count > 128 { return bad("account must be 1 to 128 characters") }
        let format = request.uri.queryParameters["format"].map(String.init) ?? "json"
        guard format == "json" || format == "csv" else { return bad("format must be csv or json") }
        let from = since ?? 0
        let to = until ?? Int64.max
        let calls = try fraud.fraudulentCalls(account: account, since: from, until: to, limit: 1_000_000)
        try fraud.auditReport(by: RequestCredentials.current.operatorName, account: account, since: from, until: to, calls: calls.count)
        guard format == "csv" else { return json(.ok, calls) }
        var text = "account,call_id,start,dialled,number,country,destination,billed_seconds,outcome,refused_by_block,finding,in_progress\n"
        for c in calls {
            let fields = [
                c.account, c.callID, MitigationService.iso(c.start), c.dialled, "+" + c.number, c.country, c.destination,
                "\(c.billedSeconds)",
                c.outcome.rawValue, c.refusedByBlock ? "yes" : "no", c.findingID, c.inProgress == true ? "yes" : "no",
            ]
            text += fields.map(Self.csvField).joined(separator: ",") + "\n"
        }
        return Response(
            status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// RFC 4180: quoted when it holds a comma, a quote or a line break; a leading `=`, `+`, `-`
    /// or `@` gets a `'` so a spreadsheet does not run it as a formula.
    static func csvField(_ s: String) -> String {
        var v = s
        if let f = v.first, "=+-@".contains(f), !(f == "+" && v.dropFirst().allSatisfy(\.isNumber)) { v = "'" + v }
        guard v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func upload(_ request: Request) async throws -> Response {
        guard let name = request.uri.queryParameters["format"].map(String.init) else {
            return bad("say how to read it: ?format=kamailio, asterisk, or the name of a configured csv feed")
        }
        let format: CDRReader.Format
        switch name {
        case "kamailio": format = .kamailio(KamailioAccFormat())
        case "asterisk": format = .asterisk(AsteriskCDRFormat())
        default:
            guard let feed = fraud.settings.feeds.first(where: { $0.name == name }) else {
                return bad("format must be kamailio, asterisk, or the name of a configured feed; no feed is named '\(name)'")
            }
            format = feed.format
        }
        guard let body = try? await request.body.collect(upTo: Self.maximumUploadBytes) else {
            return json(.contentTooLarge, ["error": "at most \(Self.maximumUploadBytes >> 20) MiB of call records at once"])
        }
        let summary = fraud.ingestFile(Array(buffer: body), format: format, name: name)
        return json(summary.error == nil ? .ok : .unprocessableContent, summary)
    }
}
