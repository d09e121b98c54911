import Accounts
import Attribution
import FlowCodec
import Foundation
import Hummingbird
import MamoriCore
import Metrics
import NIOCore

/// `GET /api/v1/attribution?addr=ADDRESS&port=PORT&at=TIME`: who held the address (and, behind a
/// CGNAT, the source port) at that time — outcome, subscriber pseudonym, confidence, reason and
/// every claim behind the answer. `at` is RFC 3339 or ms since the epoch (default: now).
///
/// `POST /api/v1/attribution/batch` with `{"queries": [{"addr", "port", "at"}, …]}` (up to
/// ``batchLimit``): for each question in order, the outcome, subscriber pseudonym and
/// confidence — no evidence (ask the single lookup for that). A malformed question gets an
/// `error` in its place and the others are still answered.
///
/// `POST /api/v1/attribution/reveal` with `{"addr", "port", "at", "reason"}` (the operator is the authenticated one): the same
/// answer plus the real identifiers behind its pseudonyms — only when `attribution.reveal` is
/// enabled, and only after the reveal is recorded in the audit (403 / 500 otherwise).
struct AttributionAPI: Sendable, JSONAPI {
    let attribution: AttributionService
    let invalidRequests: Counter
    let clock: any WallClock
    /// Nil: reveals are disabled.
    let revealAudit: (any IdentityRevealAudit)?

    func register(on routes: Routes) {
        // Lookups answer pseudonyms only; the reveal names the subscriber and is audited.
        routes.get("/api/v1/attribution", .permission(.readFindings)) { request, _ in self.lookup(request) }
        routes.post("/api/v1/attribution/reveal", .permission(.revealIdentity)) { request, _ in try await self.reveal(request) }
        routes.post("/api/v1/attribution/batch", .permission(.readFindings)) { request, _ in try await self.batch(request) }
    }

    /// Most questions in one batch request.
    static let batchLimit = 10_000

    /// One question as a request states it — address, port and time as given — checked the same
    /// way for every endpoint: the query, or why it is not one. No `at` means now.
    static func question(addr: String?, port: String?, at: String?, now: Int64) -> Result<AttributionQuery, QuestionError> {
        guard let addr, let address = IPAddress(addr) else { return .failure(.badAddress) }
        var number: UInt16?
        if let port {
            guard let n = UInt16(port) else { return .failure(.badPort) }
            number = n
        }
        var time = now
        if let at {
            guard let ms = FindingsAPI.time(at) else { return .failure(.badTime) }
            time = ms
        }
        return .success(AttributionQuery(address, port: number, at: time))
    }

    struct QuestionError: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }

        static let badAddress = QuestionError("addr must be an IPv4 or IPv6 address")
        static let badPort = QuestionError("port must be a whole number from 0 to 65535")
        static let badTime = QuestionError(
            "at must be a time from 1970 to 2100: milliseconds since the epoch or RFC 3339 (2026-11-23T10:00:00Z)")
    }

    /// One question of a batch as sent. Decoded leniently, so that one question of the wrong
    /// shape (a port given as `true`, a question that is not an object) is answered with its
    /// error in its place instead of failing the whole request: a port or time may be a number
    /// or a string of digits.
    struct BatchQuestion: Decodable {
        var addr: String?
        var port: String?
        var at: String?
        /// Why the question could not be read, if it could not.
        var shapeError: QuestionError?

        private enum Key: String, CodingKey { case addr, port, at }

        init(from decoder: any Decoder) throws {
            guard let c = try? decoder.container(keyedBy: Key.self) else {
                shapeError = QuestionError("each question must be an object {\"addr\", \"port\", \"at\"}")
                return
            }
            func text(_ key: Key, numeric: Bool) -> String?? {
                if let s = try? c.decodeIfPresent(String.self, forKey: key) { return .some(s) }
                if numeric, let n = try? c.decodeIfPresent(Int64.self, forKey: key) { return .some(String(n)) }
                if (try? c.decodeNil(forKey: key)) ?? true { return .some(nil) } // absent or null
                return nil
            }
            // Each field read as far as it can be, so that an answer with an error still echoes the
            // address it is about.
            guard let addr = text(.addr, numeric: false) else {
                shapeError = QuestionError("addr must be a string")
                return
            }
            self.addr = addr
            guard let port = text(.port, numeric: true) else {
                shapeError = .badPort
                return
            }
            self.port = port
            guard let at = text(.at, numeric: true) else {
                shapeError = .badTime
                return
            }
            self.at = at
        }
    }

    func batch(_ request: Request) async throws -> Response {
        struct Body: Decodable { var queries: [BatchQuestion] }
        let example = "{\"queries\": [{\"addr\": \"198.18.0.7\", \"port\": 40123, \"at\": \"2026-11-23T10:00:00Z\"}]}"
        let bytes: ByteBuffer
        do {
            bytes = try await request.body.collect(upTo: Self.batchLimit * 200)
        } catch {
            return bad("the body is too large: at most \(Self.batchLimit) questions")
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        } catch {
            return bad("the body must be JSON \(example) (`at` as RFC 3339 or milliseconds since the epoch)")
        }
        guard body.queries.count <= Self.batchLimit else {
            return bad("at most \(Self.batchLimit) questions per request; got \(body.queries.count)")
        }
        // Check every question first; the valid ones go to the index together.
        let now = clock.milliseconds
        let checked = body.queries.map { q in
            q.shapeError.map { .failure($0) } ?? Self.question(addr: q.addr, port: q.port, at: q.at, now: now)
        }
        let queries = checked.compactMap { try? $0.get() }
        let invalid = checked.count - queries.count
        if invalid > 0 { invalidRequests.increment() }
        struct Answer: Encodable {
            var addr: String?
            var port: Int?
            var at: Int64?
            var outcome: String?
            var subscriber: String?
            var confidence: Double?
            var error: String?
        }
        // Answers of the valid questions, in order, merged back between the errors.
        var resolved = attribution.resolve(queries).makeIterator()
        let answers = zip(body.queries, checked).map { q, check -> Answer in
            switch check {
            case .failure(let e):
                return Answer(addr: q.addr, port: q.port.flatMap { Int($0) }, error: e.reason)
            case .success(let query):
                let r = resolved.next()! // one resolution per valid question
                return Answer(
                    addr: "\(query.address)", port: query.port.map(Int.init), at: query.time, outcome: r.outcome.rawValue,
                    subscriber: r.pseudonym, confidence: r.confidence)
            }
        }
        struct Reply: Encodable {
            var count: Int
            var invalid: Int
            var answers: [Answer]
        }
        return json(.ok, Reply(count: answers.count, invalid: invalid, answers: answers))
    }

    func reveal(_ request: Request) async throws -> Response {
        guard let revealAudit else {
            return json(.forbidden, ["error": "identity reveal is disabled; set attribution.reveal: true (every reveal is audited)"])
        }
        struct Body: Decodable {
            var addr: String
            var port: UInt16?
            var at: String?
            /// Ignored: the reveal records the authenticated operator (kept so older clients still parse).
            var analyst: String?
            var reason: String
        }
        let bytes = try await request.body.collect(upTo: 64 * 1024)
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        } catch {
            return bad(
                "the body must be JSON {\"addr\": \"198.18.0.7\", \"port\": 40123, \"at\": \"2026-11-23T10:00:00Z\", \"reason\": \"why\"}"
            )
        }
        let query: AttributionQuery
        switch Self.question(addr: body.addr, port: body.port.map(String.init), at: body.at, now: clock.milliseconds) {
        case .success(let q): query = q
        case .failure(let e): return bad(e.reason)
        }
        guard body.reason.trimmingCharacters(in: .whitespaces).count >= 10 else {
            return bad("reason must say why the identity is needed (at least 10 characters)")
        }
        let (address, at) = (query.address, query.time)
        struct Revealed: Encodable {
            var address: String
            var port: UInt16?
            var at: Int64
            var answer: AttributionAnswer
            var identifiers: [String: String]
        }
        do {
            let (answer, identifiers) = try attribution.reveal(
                address, port: body.port, at: at, analyst: RequestCredentials.current.operatorName, reason: body.reason, audit: revealAudit)
            return json(.ok, Revealed(address: "\(address)", port: body.port, at: at, answer: answer, identifiers: identifiers))
        } catch {
            return json(.internalServerError, ["error": "the reveal could not be recorded in the audit, so nothing is revealed"])
        }
    }

    func lookup(_ request: Request) -> Response {
        let q = request.uri.queryParameters
        let query: AttributionQuery
        switch Self.question(
            addr: q["addr"].map(String.init), port: q["port"].map(String.init), at: q["at"].map(String.init), now: clock.milliseconds)
        {
        case .success(let parsed): query = parsed
        case .failure(let e):
            return bad(e.reason + (q["addr"] == nil ? ", e.g. /api/v1/attribution?addr=198.18.0.7&port=40123&at=2026-11-23T10:00:00Z" : ""))
        }
        let (address, port, at) = (query.address, query.port, query.time)
        struct Body: Encodable {
            var address: String
            var port: UInt16?
            var at: Int64
            var answer: AttributionAnswer
        }
        return json(.ok, Body(address: "\(address)", port: port, at: at, answer: attribution.lookup(address, port: port, at: at)))
    }

}
