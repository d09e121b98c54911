import Attribution
import FlowCodec
import Foundation
import Hummingbird
import Metrics
import NIOCore

/// `GET /api/v1/attribution?addr=ADDRESS&port=PORT&at=TIME`: who held the address (and, behind a
/// CGNAT, the source port) at that time — outcome, subscriber pseudonym, confidence, reason and
/// every claim behind the answer. `at` is RFC 3339 or ms since the epoch (default: now).
///
/// `POST /api/v1/attribution/reveal` with `{"addr", "port", "at", "analyst", "reason"}`: the same
/// answer plus the real identifiers behind its pseudonyms — only when `attribution.reveal` is
/// enabled, and only after the reveal is recorded in the audit (403 / 500 otherwise).
struct AttributionAPI: Sendable, JSONAPI {
    let attribution: AttributionService
    let invalidRequests: Counter
    /// Nil: reveals are disabled.
    let revealAudit: (any IdentityRevealAudit)?

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/v1/attribution") { request, _ in self.lookup(request) }
        router.post("/api/v1/attribution/reveal") { request, _ in try await self.reveal(request) }
    }

    func reveal(_ request: Request) async throws -> Response {
        guard let revealAudit else {
            return json(.forbidden, ["error": "identity reveal is disabled; set attribution.reveal: true (every reveal is audited)"])
        }
        struct Body: Decodable { var addr: String; var port: UInt16?; var at: String?; var analyst: String; var reason: String }
        let bytes = try await request.body.collect(upTo: 64 * 1024)
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        } catch {
            return bad("the body must be JSON {\"addr\": \"198.18.0.7\", \"port\": 40123, \"at\": \"2026-11-23T10:00:00Z\", \"analyst\": \"name\", \"reason\": \"why\"}")
        }
        guard let address = IPAddress(body.addr) else { return bad("addr must be an IPv4 or IPv6 address") }
        guard !body.analyst.trimmingCharacters(in: .whitespaces).isEmpty else { return bad("analyst must name who asks") }
        guard body.reason.trimmingCharacters(in: .whitespaces).count >= 10 else { return bad("reason must say why the identity is needed (at least 10 characters)") }
        var at = DetectionService.milliseconds()
        if let t = body.at {
            guard let ms = FindingsAPI.time(t) else { return bad("at must be a time: milliseconds since the epoch or RFC 3339") }
            at = ms
        }
        struct Revealed: Encodable {
            var address: String
            var port: UInt16?
            var at: Int64
            var answer: AttributionAnswer
            var identifiers: [String: String]
        }
        do {
            let (answer, identifiers) = try attribution.reveal(address, port: body.port, at: at, analyst: body.analyst, reason: body.reason, audit: revealAudit)
            return json(.ok, Revealed(address: "\(address)", port: body.port, at: at, answer: answer, identifiers: identifiers))
        } catch {
            return json(.internalServerError, ["error": "the reveal could not be recorded in the audit, so nothing is revealed"])
        }
    }

    func lookup(_ request: Request) -> Response {
        let q = request.uri.queryParameters
        guard let text = q["addr"].map(String.init), let address = IPAddress(text) else {
            return bad("addr must be an IPv4 or IPv6 address, e.g. /api/v1/attribution?addr=198.18.0.7&port=40123&at=2026-11-23T10:00:00Z")
        }
        var port: UInt16?
        if let p = q["port"] {
            guard let n = UInt16(String(p)) else { return bad("port must be a whole number from 0 to 65535") }
            port = n
        }
        var at = DetectionService.milliseconds()
        if let t = q["at"] {
            guard let ms = FindingsAPI.time(String(t)) else { return bad("at must be a time: milliseconds since the epoch or RFC 3339 (2026-11-23T10:00:00Z)") }
            at = ms
        }
        struct Body: Encodable {
            var address: String
            var port: UInt16?
            var at: Int64
            var answer: AttributionAnswer
        }
        return json(.ok, Body(address: "\(address)", port: port, at: at, answer: attribution.lookup(address, port: port, at: at)))
    }


}
