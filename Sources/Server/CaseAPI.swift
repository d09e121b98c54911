import Accounts
import Foundation
import Hummingbird
import Lawful
import MamoriCore
import Metrics
import NIOCore
import Storage

/// Cases over HTTP for analysts, the call-centre export, and the subscriber's notice page.
///
/// - `GET /api/v1/cases[?state=STATE]`, `GET /api/v1/cases/{id}`: cases with their decision,
///   notices (outcomes, never tokens) and history.
/// - `POST /api/v1/cases/{id}/close` with `{"state": "closed"|"false_positive"|"remediated",
///   "reason"}` (the operator is the authenticated one).
/// - `GET /api/v1/notices/export.csv`: cases whose notice could not be e-mailed, for the call
///   centre and postal letters (pseudonym, reference, language, why).
/// - `GET /notice/{token}[?lang=ja|en]`, `POST /notice/{token}/acknowledge`, `POST /notice/{token}/opt-out`:
///   the notice page a subscriber opens from the e-mail (``registerNoticePages(on:)``: on the
///   listener of `http.public` when there is one). Each form carries the hidden field `csrf`
///   (``NoticeFormTokens``); a POST without it or with a wrong one gets 403 and changes nothing.
struct CaseAPI: Sendable, JSONAPI {
    let cases: CaseService
    let invalidRequests: Counter

    func register(on routes: Routes) {
        routes.get("/api/v1/cases", .permission(.readCases)) { request, _ in try await self.list(request) }
        routes.get("/api/v1/cases/:id", .permission(.readCases)) { _, context in try await self.show(context) }
        routes.post("/api/v1/cases/:id/close", .permission(.actOnCase)) { request, context in try await self.close(request, context) }
        routes.get("/api/v1/notices/export.csv", .permission(.actOnCase)) { _, _ in try await self.export() }
    }

    /// The subscriber's pages: public, and reached only with the notice's own token.
    func registerNoticePages(on routes: Routes) {
        routes.get("/notice/:token", .open) { request, context in try await self.page(request, context) }
        routes.post("/notice/:token/acknowledge", .open) { request, context in try await self.acknowledge(request, context) }
        routes.post("/notice/:token/opt-out", .open) { request, context in try await self.optOut(request, context) }
    }

    func list(_ request: Request) async throws -> Response {
        var state: CaseState?
        if let s = request.uri.queryParameters["state"] {
            guard let parsed = CaseState(rawValue: String(s)) else {
                return bad("state must be one of \(CaseState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = parsed
        }
        return json(.ok, try cases.cases.list(state: state))
    }

    func show(_ context: MamoriRequestContext) async throws -> Response {
        guard let id = context.parameters.get("id"), let c = try cases.cases.get(id) else {
            return json(.notFound, ["error": "no such case"])
        }
        return json(.ok, c)
    }

    func close(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        struct Body: Decodable {
            var state: String
            /// Ignored: the case records the authenticated operator.
            var analyst: String?
            var reason: String
        }
        let bytes = try await request.body.collect(upTo: 64 * 1024)
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView)) else {
            return bad("the body must be JSON {\"state\": \"false_positive\", \"reason\": \"why\"}")
        }
        guard let state = CaseState(rawValue: body.state), [.closed, .falsePositive, .remediated].contains(state) else {
            return bad("state must be closed, false_positive or remediated")
        }
        guard body.reason.count >= 5 else { return bad("a reason (at least 5 characters) is required") }
        guard let id = context.parameters.get("id"),
            let c = try await cases.close(id, as: state, analyst: RequestCredentials.current.operatorName, reason: body.reason)
        else {
            return json(.notFound, ["error": "no such case"])
        }
        return json(.ok, c)
    }

    func export() async throws -> Response {
        var csv = CSV.record(["reference", "case", "subscriber", "state", "language", "noticed_at", "outcome"])
        for c in try cases.cases.list(limit: 100_000) where !c.state.isFinal {
            guard let last = c.notices.last, !last.delivered else { continue }
            let fields = [c.reference, c.id, c.subscriber, c.state.rawValue, last.language, String(last.at), last.outcome]
            csv += CSV.record(fields)
        }
        return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: csv)))
    }

    func page(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        let lang = request.uri.queryParameters["lang"].map(String.init)
        let (status, html) = try await cases.page(token: token, language: lang)
        return Response(
            status: .init(code: status), headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func acknowledge(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        if let refusal = try await formRefusal(request, token: token) { return refusal }
        guard try await cases.acknowledge(token: token) else { return json(.notFound, ["error": "this link is not valid or has expired"]) }
        return Response(status: .seeOther, headers: [.location: "/notice/\(token)"])
    }

    func optOut(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        if let refusal = try await formRefusal(request, token: token) { return refusal }
        guard try await cases.optOut(token: token) else { return json(.notFound, ["error": "this link is not valid or has expired"]) }
        return Response(status: .seeOther, headers: [.location: "/notice/\(token)"])
    }

    /// 403 and a short page in the notice's language when the form's `csrf` field is missing or
    /// wrong for a notice that exists; nil to go on (an unknown token then gets its 404).
    func formRefusal(_ request: Request, token: String) async throws -> Response? {
        let body = try await request.body.collect(upTo: 4096)
        let presented = Self.formField(NoticeFormTokens.fieldName, in: String(buffer: body))
        guard !cases.formTokens.accepts(presented, for: token), let page = try await cases.refusedFormPage(token: token) else {
            return nil
        }
        invalidRequests.increment()
        return Response(
            status: .forbidden, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    /// The value of `name` in an `application/x-www-form-urlencoded` body (the first one).
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}
