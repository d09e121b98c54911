import Accounts
import Foundation
import Hummingbird
import MamoriCore
import Metrics
import NIOCore
import RPZ

/// The DNS sinkhole over HTTP (`mamori rpz` speaks it). Every change is audited by the service.
///
/// - `GET /api/v1/sinkhole`: the zones' serials, the entry count, the exemptions' count.
/// - `GET /api/v1/sinkhole/entries?limit=N`: the entries, sorted by trigger.
/// - `GET /api/v1/sinkhole/entry?trigger=T`: one entry (a name, or an address or prefix).
/// - `POST /api/v1/sinkhole/entries` with `{"trigger", "action", "reason", "days"}`: adds or renews one.
/// - `DELETE /api/v1/sinkhole/entry?trigger=T`: removes one.
struct SinkholeAPI: Sendable, JSONAPI {
    let sinkhole: SinkholeService
    let invalidRequests: Counter
    let clock: any WallClock

    func register(on routes: Routes) {
        routes.get("/api/v1/sinkhole", .permission(.readFindings)) { _, _ in json(.ok, sinkhole.status) }
        routes.get("/api/v1/sinkhole/entries", .permission(.readFindings)) { request, _ in list(request) }
        routes.get("/api/v1/sinkhole/entry", .permission(.readFindings)) { request, _ in show(request) }
        routes.post("/api/v1/sinkhole/entries", .permission(.changeSinkhole)) { request, _ in try await add(request) }
        routes.delete("/api/v1/sinkhole/entry", .permission(.changeSinkhole)) { request, _ in try await remove(request) }
    }

    func list(_ request: Request) -> Response {
        var limit = 1000
        if let l = request.uri.queryParameters["limit"] {
            guard let n = Int(String(l)), (1...100_000).contains(n) else { return bad("limit must be a whole number from 1 to 100000") }
            limit = n
        }
        let all = sinkhole.entries
        struct Page: Encodable {
            var total: Int
            var entries: [SavedEntry]
        }
        return json(.ok, Page(total: all.count, entries: all.prefix(limit).map(SavedEntry.init)))
    }

    enum Parsed {
        case trigger(SinkholeTrigger)
        case refused(Response)
    }

    func trigger(_ request: Request) -> Parsed {
        guard let text = request.uri.queryParameters["trigger"].map(String.init), let t = SavedEntry.trigger(text) else {
            return .refused(bad("trigger must be a DNS name (c2.example) or an address or prefix (192.0.2.7, 2001:db8::/48)"))
        }
        return .trigger(t)
    }

    func show(_ request: Request) -> Response {
        switch trigger(request) {
        case .refused(let r): return r
        case .trigger(let t):
            guard let e = sinkhole.entry(t) else { return json(.notFound, ["error": "no entry for \(SavedEntry.text(t))"]) }
            return json(.ok, SavedEntry(e))
        }
    }

    struct AddBody: Decodable {
        var trigger: String
        var action: String?
        var reason: String
        var days: Int?
    }

    func add(_ request: Request) async throws -> Response {
        let bytes = try await request.body.collect(upTo: 16 * 1024)
        guard let body = try? JSONDecoder().decode(AddBody.self, from: Data(bytes.readableBytesView)) else {
            return bad(
                "the body must be JSON {\"trigger\": \"c2.example\", \"reason\": \"why\", \"action\": \"sinkhole|nxdomain|passthru\", \"days\": 30}"
            )
        }
        guard let trigger = SavedEntry.trigger(body.trigger) else {
            return bad("trigger must be a DNS name (c2.example) or an address or prefix (192.0.2.7, 2001:db8::/48)")
        }
        let action: SinkholeAction
        switch body.action ?? "sinkhole" {
        case "sinkhole": action = .sinkhole
        case "nxdomain": action = .nxdomain
        case "passthru": action = .passthru
        default: return bad("action must be sinkhole, nxdomain or passthru")
        }
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 300, !reason.contains(where: \.isNewline) else {
            return bad("reason must be one line of 1 to 300 characters: it goes into the audit log")
        }
        let days = body.days ?? sinkhole.settings.entryDays
        guard (0...3650).contains(days) else { return bad("days must be from 0 (never expires) to 3650") }
        let analyst = RequestCredentials.current.operatorName
        let now = clock.milliseconds / 1000
        let entry = SinkholeEntry(
            trigger: trigger, action: action, source: .analyst(operator: analyst), reason: reason, addedAt: now,
            expiresAt: days == 0 ? nil : now + Int64(days) * 86_400, ttl: UInt32(sinkhole.settings.ttl))
        let changes: [SinkholeChange]
        do {
            changes = try await sinkhole.change([.add(entry)], actor: "analyst:\(analyst)")
        } catch {
            return json(.serviceUnavailable, ["error": "\(error)"])
        }
        return answer(changes.first)
    }

    func remove(_ request: Request) async throws -> Response {
        switch trigger(request) {
        case .refused(let r): return r
        case .trigger(let t):
            let analyst = RequestCredentials.current.operatorName
            do {
                return answer(try await sinkhole.change([.remove(t)], actor: "analyst:\(analyst)").first)
            } catch {
                return json(.serviceUnavailable, ["error": "\(error)"])
            }
        }
    }

    struct ChangeAnswer: Encodable {
        var change: String
        var entry: SavedEntry?
        var refusal: String?
    }

    func answer(_ change: SinkholeChange?) -> Response {
        guard let change else { return json(.internalServerError, ["error": "no change"]) }
        switch change {
        case .added(let e): return json(.created, ChangeAnswer(change: "added", entry: SavedEntry(e)))
        case .extended(_, let e): return json(.ok, ChangeAnswer(change: "renewed", entry: SavedEntry(e)))
        case .replaced(_, let e): return json(.ok, ChangeAnswer(change: "replaced", entry: SavedEntry(e)))
        case .removed(let e), .expired(let e): return json(.ok, ChangeAnswer(change: "removed", entry: SavedEntry(e)))
        case .notFound(let t): return json(.notFound, ["error": "no entry for \(SavedEntry.text(t))"])
        case .refused(let e, let why):
            invalidRequests.increment()
            let status: HTTPResponse.Status =
                if case .full = why { .init(code: 507, reasonPhrase: "Insufficient Storage") } else { .unprocessableContent }
            return json(status, ChangeAnswer(change: "refused", entry: SavedEntry(e), refusal: why.description))
        }
    }
}
