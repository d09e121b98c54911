import Accounts
import Detection
import FlowCodec
import Foundation
import Hummingbird
import HummingbirdCore
import MamoriCore
import Metrics
import NIOCore

/// `GET /api/v1/findings`, `GET /api/v1/findings/{id}`, `POST /api/v1/findings/{id}/verdict`.
///
/// Every bad request is answered with 400 and a JSON `{"error": "..."}` that says what to fix,
/// and counted in `mamori_api_invalid_requests_total`.
struct FindingsAPI: Sendable, JSONAPI {
    let detection: DetectionService
    let invalidRequests: Counter
    let clock: any WallClock

    /// The encoder of every JSON answer of the API: snake_case keys (``APIJSON``).
    static let encoder: JSONEncoder = APIJSON.encoder()

    func register(on routes: Routes) {
        routes.get("/api/v1/findings", .permission(.readFindings)) { request, _ in try await self.list(request) }
        routes.get("/api/v1/findings/:id", .permission(.readFindings)) { _, context in
            try await self.show(context.parameters.get("id") ?? "")
        }
        routes.post("/api/v1/findings/:id/verdict", .permission(.recordVerdict)) { request, context in
            try await self.verdict(context.parameters.get("id") ?? "", request)
        }
    }

    func list(_ request: Request) async throws -> Response {
        let query: FindingQuery
        switch Self.query(request.uri.queryParameters) {
        case .success(let q): query = q
        case .failure(let e): return bad(e.reason)
        }
        struct Page: Encodable {
            var count: Int
            var findings: [Finding]
        }
        let found = try await detection.store.findings(matching: query)
        return json(.ok, Page(count: found.count, findings: found))
    }

    func show(_ id: String) async throws -> Response {
        guard let f = try await detection.store.finding(id: id) else { return notFound(id) }
        return json(.ok, f)
    }

    func verdict(_ id: String, _ request: Request) async throws -> Response {
        struct Body: Decodable {
            var verdict: String
            /// Ignored: the verdict records the authenticated operator.
            var analyst: String?
            var note: String?
        }
        let bytes = try await request.body.collect(upTo: 64 * 1024)
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        } catch {
            return bad(
                "the body must be JSON {\"verdict\": \"true-positive\" | \"false-positive\", \"note\": \"optional\"}"
            )
        }
        guard let kind = Verdict.Kind(rawValue: body.verdict) else { return bad("verdict must be \"true-positive\" or \"false-positive\"") }
        let analyst = RequestCredentials.current.operatorName
        let v = Verdict(verdict: kind, analyst: analyst, note: body.note, at: clock.milliseconds)
        guard let f = try await detection.record(v, forFinding: id) else { return notFound(id) }
        return json(.ok, f)
    }

    /// Why a query string is not a findings query, in words for the caller.
    struct QueryError: Error { let reason: String }

    /// `GET /api/v1/findings`'s parameters as a query: kind, since, until, min_score, limit. Pure,
    /// so the fuzz target (`FuzzTargets`) reaches the same code as a request.
    static func query(_ q: FlatDictionary<Substring, Substring>) -> Result<FindingQuery, QueryError> {
        var query = FindingQuery()
        if let k = q["kind"] {
            guard let kind = FindingKind(rawValue: String(k)) else {
                return .failure(QueryError(reason: "kind must be one of \(FindingKind.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            query.kind = kind
        }
        for (name, keyPath) in [("since", \FindingQuery.since), ("until", \FindingQuery.until)] {
            if let v = q[name[...]] {
                guard let t = Self.time(String(v)) else {
                    return .failure(
                        QueryError(
                            reason:
                                "\(name) must be a time from 1970 to 2100: milliseconds since the epoch or RFC 3339 (2026-11-23T10:00:00Z)")
                    )
                }
                query[keyPath: keyPath] = t
            }
        }
        if let v = q["min_score"] {
            guard let s = Double(String(v)), (0...1).contains(s) else {
                return .failure(QueryError(reason: "min_score must be a number from 0 to 1"))
            }
            query.minimumScore = s
        }
        if let v = q["limit"] {
            guard let n = Int(String(v)), (1...10_000).contains(n) else {
                return .failure(QueryError(reason: "limit must be a whole number from 1 to 10000"))
            }
            query.limit = n
        }
        return .success(query)
    }

    ///
    /// Only times from 1970 to 2100 (``FlowTimeWindow``) are times: anything else a caller sends
    /// (`9223372036854775807`, year 9999) is `nil`, so the handlers answer 400 and nothing after
    /// them computes with it.
    static func time(_ text: String) -> Int64? {
        let ms: Int64?
        if let n = Int64(text) {
            ms = n
        } else {
            let f = ISO8601DateFormatter()
            var d = f.date(from: text)
            if d == nil {
                f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                d = f.date(from: text)
            }
            ms = d.flatMap { Int64(exactly: ($0.timeIntervalSince1970 * 1000).rounded(.down)) }
        }
        guard let ms, FlowTimeWindow.isSane(ms) else { return nil }
        return ms
    }

    private func notFound(_ id: String) -> Response {
        json(.notFound, ["error": "no finding with id '\(id)'"])
    }
}
